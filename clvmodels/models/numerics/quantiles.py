"""Quantiles by selection, for kernels that reduce S posterior draws per row inside a numba loop.

:func:`_interval` gives numpy's default ('linear') quantiles of a per-thread buffer of S values by
Hoare's selection (:func:`_select`), in place and without sorting, so a row's interval costs O(S) and
no draws x rows array is ever held. The scoring computation (:mod:`clvmodels.scoring.arrays`) takes the central
intervals of every per-customer quantity with it.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, error_model="numpy", inline="always")
def _select(buf, lo, hi, k):
    """k-th smallest of buf[lo..hi] (Hoare's selection, in place: afterwards buf[lo..k-1] <= buf[k] <=
    buf[k+1..hi], so further selections above k can work on buf[k+1..hi])."""
    while hi > lo:
        mid = (lo + hi) >> 1
        x0, x1, x2 = buf[lo], buf[mid], buf[hi]
        if x0 > x1:
            x0, x1 = x1, x0
        if x1 > x2:
            x1 = x2
        if x0 > x1:
            x1 = x0
        pivot = x1
        i, j = lo, hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return buf[k]
    return buf[k]


@njit(cache=True, error_model="numpy")
def _interval(buf, S, q_lo, q_hi):
    """numpy's default ('linear') quantiles q_lo < q_hi of buf[:S]; reorders buf."""
    p_lo = q_lo * (S - 1)
    p_hi = q_hi * (S - 1)
    k_lo = int(math.floor(p_lo))
    k_hi = int(math.floor(p_hi))
    v0 = _select(buf, 0, S - 1, k_lo)
    v1 = _select(buf, k_lo + 1, S - 1, k_lo + 1) if k_lo + 1 < S else v0
    lower = v0 + (p_lo - k_lo) * (v1 - v0) if p_lo > k_lo else v0
    if k_hi == k_lo:
        w0 = v0
        w1 = v1
    else:
        w0 = _select(buf, k_lo + 1, S - 1, k_hi)
        w1 = _select(buf, k_hi + 1, S - 1, k_hi + 1) if k_hi + 1 < S else w0
    upper = w0 + (p_hi - k_hi) * (w1 - w0) if p_hi > k_hi else w0
    return lower, upper


@njit(cache=True, error_model="numpy", parallel=True)
def _mixture_interval(PA, rows, xt_local, pmf, q_lo, q_hi, out):
    """Predictive interval of a count for rows ``rows`` (PA row indices): the mixture over draws of
    P(alive) P(k | alive) + (1 - P(alive)) [k = 0], from pmf[j, s, k] = P(k | alive, draw s) of the row's
    level j = xt_local[i], truncated at a K above the upper quantile. out[i] = lower, upper (smallest k
    with CDF >= q), mass inside [lower, upper]. Any transaction model whose dead customers buy nothing
    can take its count intervals here."""
    S = PA.shape[1]
    K1 = pmf.shape[2]
    for ii in prange(rows.size):
        i = rows[ii]
        j = xt_local[ii]
        mix = np.zeros(K1)
        dead = 0.0
        for s in range(S):
            pa = PA[i, s]
            dead += 1.0 - pa
            for k in range(K1):
                mix[k] += pa * pmf[j, s, k]
        mix[0] += dead
        cdf = 0.0
        lower = -1
        upper = -1
        for k in range(K1):
            mix[k] /= S
            cdf += mix[k]
            if lower < 0 and cdf >= q_lo - 1e-12:
                lower = k
            if upper < 0 and cdf >= q_hi - 1e-12:
                upper = k
        if lower < 0:
            lower = K1 - 1
        if upper < 0:
            upper = K1 - 1
        inside = 0.0
        for k in range(lower, upper + 1):
            inside += mix[k]
        out[ii, 0] = lower
        out[ii, 1] = upper
        out[ii, 2] = inside


def count_intervals(r, alpha, PA, rows, xs, Ts, xt_rows, h, q_lo, q_hi, budget_bytes, out, alive_pmf):
    """Predictive count intervals of the triplets ``rows`` (indices into PA, P(alive) per triplet and
    draw) whose (x, T) levels are ``xt_rows`` (into xs/Ts), for any transaction model whose alive
    customer at level (x, T) buys at lambda ~ Gamma(r + x, rate alpha + T) and whose dead customers buy
    nothing. Fills out[rows] with the lower and upper bounds of the interval and the mass inside it
    (``purchases_lower``, ``purchases_upper``, ``expected_coverage``).

    The levels go in blocks whose pmf (levels x draws x (K + 1) doubles) fits ``budget_bytes``. K is a
    count beyond which every draw's mass is below (1 - q_hi)/2, so the mixture's q_hi quantile is at most
    K: the Poisson count over the window bounds the purchases, and it is stochastically largest at the
    largest r and the smallest alpha (the Chernoff bound of :func:`_count_bound_many`).
    ``alive_pmf(levels, K)`` is the model's part: the (len(levels), S, K + 1) pmf of the purchases in
    (T, T + h] of a customer alive at T, per level and draw."""
    S = len(r)
    if h <= 0:
        out[rows] = (0.0, 0.0, 1.0)
        return
    uniq = np.unique(xt_rows)
    Kj = np.empty(len(uniq), dtype=np.int64)
    _count_bound_many(np.max(r) + xs[uniq], np.min(alpha) + Ts[uniq], np.full(len(uniq), float(h)),
                      np.full(len(uniq), math.log(0.5 * (1.0 - q_hi))), Kj)
    pos = 0
    while pos < len(uniq):
        end = pos + 1
        K = int(Kj[pos])
        while end < len(uniq):  # grow the block while levels x draws x (K + 1) fits the budget
            K2 = max(K, int(Kj[end]))
            if S * (end + 1 - pos) * (K2 + 1) * 8 > budget_bytes:
                break
            K = K2
            end += 1
        blk = uniq[pos:end]
        pmf = alive_pmf(blk, K)
        sel = (xt_rows >= blk[0]) & (xt_rows <= blk[-1])
        rws = rows[sel]
        loc = np.searchsorted(blk, xt_rows[sel])
        res = np.empty((len(rws), 3))
        _mixture_interval(PA, rws, loc, pmf, q_lo, q_hi, res)
        out[rws] = res
        pos = end


# -- how far a count distribution reaches: the bound that sizes a pmf before its quantiles are taken -------
@njit(cache=True, error_model="numpy")
def _log_chernoff_nb(k, R, log_q, log_1mq, mean):
    """Chernoff bound on log P(N >= k), N ~ NB(R, q): 0 up to the mean, then
    R log(q (R + k)/R) + k log((1 - q)(R + k)/k)."""
    if k <= mean:
        return 0.0
    return R * (log_q + math.log1p(k / R)) + k * (log_1mq + math.log1p(R / k))


@njit(cache=True, error_model="numpy", parallel=True)
def _count_bound_many(R, A0, t, log_target, out):
    """out[i]: the smallest integer K (to within bisection) with the Chernoff bound on log P(N > K),
    N ~ NB(R, A0/(A0 + t)), below log_target[i]."""
    for i in prange(R.size):
        if t[i] <= 0.0 or log_target[i] >= 0.0:
            out[i] = 0
            continue
        log_q = -math.log1p(t[i] / A0[i])
        log_1mq = math.log(t[i] / (A0[i] + t[i]))
        mean = R[i] * t[i] / A0[i]
        lo = mean
        hi = max(2.0 * mean, mean + 10.0)
        while _log_chernoff_nb(hi, R[i], log_q, log_1mq, mean) > log_target[i]:
            lo = hi
            hi *= 2.0
        while hi - lo > 0.25:  # an integer answer needs no more precision
            mid = 0.5 * (lo + hi)
            if _log_chernoff_nb(mid, R[i], log_q, log_1mq, mean) <= log_target[i]:
                hi = mid
            else:
                lo = mid
        out[i] = max(int(math.ceil(hi)) - 1, 0)


def nb_count_bound(p_alive, R, A0, t, tail: float) -> np.ndarray:
    """Per element, an integer K with p_alive P(N >= K + 1) <= ``tail`` for N ~ NB(R, A0/(A0 + t)): the
    purchase-count bound of every model whose customer, while alive, buys at a Gamma(R, A0) mixed Poisson
    rate (R = r + x, A0 = alpha + T): her purchases in the next t are at most that Poisson count whatever
    the drop-out. Rigorous (a Chernoff bound), slightly conservative. Arrays broadcast together."""
    with np.errstate(divide="ignore"):
        log_target = np.log(tail) - np.log(p_alive)  # need log P(N >= K + 1) <= log(tail / P(alive))
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (R, A0, t, log_target)))
    shape = arrays[0].shape
    R, A0, tt, lt = (np.ascontiguousarray(v.ravel()) for v in arrays)
    out = np.empty(R.size, dtype=np.int64)
    _count_bound_many(R, A0, tt, lt, out)
    return out.reshape(shape)
