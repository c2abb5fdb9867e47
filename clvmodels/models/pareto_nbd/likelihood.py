r"""The Pareto/NBD's fused log-likelihood + gradient Op, for NUTS and MAP (the machinery it shares with
the other models' Ops is in :mod:`clvmodels.models.numerics.fused_op`).

:func:`pnbd_loglike` puts one :class:`ParetoNBDLogLike` node into a PyMC model: the total weighted
log-likelihood of the triplets and its gradient in (r, alpha, s, beta) from one numba loop
(:func:`_pnbd_kernel`) over the constant arrays :func:`pnbd_data` prepares once.

Per triplet the likelihood is (see :mod:`clvmodels.models.pareto_nbd.math`)

    log L = log C(x) + log[ s J(r + x, s + 1; t_x) + (r + x) J(r + x + 1, s; T) ],

and J, the tail integral int_t^inf (alpha + tau)^-a (beta + tau)^-b dtau, with the log-derivatives of
its value in (a, b, alpha, beta), comes from :func:`_tail`, defined here (the model's mathematics,
:mod:`clvmodels.models.pareto_nbd.math`, and its scorer import it from here): a series of decreasing
positive terms, or a split quadrature when alpha and beta differ by more than a factor of two; no
difference of hypergeometric functions, no cancellation (the method and its accuracy are in the math
module's docstring). The work is shared as far as the data allow:

- log C(x) and its derivatives (log-gamma, digamma) once per distinct frequency;
- log(alpha + t) and log(beta + t) once per distinct time t;
- J(r + x, s + 1; t_x) once per distinct (x, t_x) (the customers without repeat purchases, x = t_x = 0,
  share one);
- J(r + x + 1, s; T) once per distinct (x, T);
- where alpha and beta differ by more than a factor of two, the split quadrature's series at c = 1/2
  once per frequency level (it depends on the exponents alone);
- per triplet only two gathers, the log of a sum of two exponentials and its sigmoid weight (the exp
  and log1p are fused_op's polynomial ones, in blocks of 256 triplets so that they run in vector lanes),
  and two scatter-adds of the weights to the triplet's pairs; the gradient is then one pass over the
  pairs.

On the CDNOW sample (1,016 distinct triplets, 585 pairs (x, t_x) with x > 0, 464 pairs (x, T)) at the
published estimates the series need about a dozen terms; what an evaluation costs there and on large
simulated bases is measured by benchmarks/bench_pnbd.py.

Accuracy: the tail integrals' log-values and derivatives are within about 1e-14 of mpmath (40 digits);
the Op's value and gradient are tested against the per-row :func:`~clvmodels.models.pareto_nbd.math.log_likelihood`,
central finite differences of it and mpmath (tests/models/test_pareto_nbd_likelihood.py).

This module registers the Op's numba implementation (for nutpie and the numba linker) when imported.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..numerics.fused_op import _JIT, _FusedLogLike, _exp_nonpos, _log1p_unit, cache_version, digamma

__all__ = ["ParetoNBDLogLike", "pnbd_loglike", "pnbd_data"]

_EPS = 2.0 ** -53
#: above this c = |alpha - beta|/(max(alpha, beta) + t) the tail integral is split (see the docstring of
#: :mod:`clvmodels.models.pareto_nbd.math`)
_C_SPLIT = 0.5
#: the quadrature panels: Gauss-Legendre nodes on [0, 1], width cap (in y) and e-folds per panel
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W
_PANEL_WIDTH = 2.0
_PANEL_EFOLDS = 8.0
#: "no precomputed series" for _tail_logs
_NO_SERIES = (0.0, 0.0, 0.0, 0.0)


# -- the tail integral J(a, b; t) ------------------------------------------------------------------------
@njit(**_JIT)
def _series(eA, M, c, grad):
    """S = sum_{n>=0} t_n, t_n = (e_A)_n / (M + 1)_n c^n (2F1(e_A, 1; M + 1; c)), 0 <= c < 1, e_A > 0,
    M + 1 > e_A. With ``grad`` also sum t_n H_A(n), sum t_n H_M(n) and sum n t_n, where
    H_A(n) = sum_{k<n} 1/(e_A + k) and H_M(n) = sum_{k<n} 1/(M + 1 + k), so that
    dS/de_A = sum t_n H_A, dS/dM = -sum t_n H_M and dS/dc = sum n t_n / c.

    The ratio of consecutive terms is (e_A + n)/(M + 1 + n) c < c, so the tail after term n is below
    t_n c/(1 - c) (and the derivative sums' tails below t_n (n + 1)(1 + H_A + H_M)/(1 - c)^2): the loop
    stops when that is below one unit in the last place of S."""
    t = 1.0
    S = 1.0
    hA = 0.0
    hM = 0.0
    sA = 0.0
    sM = 0.0
    sn = 0.0
    n = 0.0
    M1 = M + 1.0
    omc2 = (1.0 - c) * (1.0 - c)
    while True:
        im = 1.0 / (M1 + n)
        if grad:
            hA += 1.0 / (eA + n)
            hM += im
        t *= (eA + n) * im * c
        n += 1.0
        S += t
        if grad:
            sA += t * hA
            sM += t * hM
            sn += n * t
            if t * (n + 1.0) * (1.0 + hA + hM) <= _EPS * omc2 * S:
                break
        elif t <= _EPS * (1.0 - c) * S:
            break
        if t == 0.0:
            break
    return S, sA, sM, sn


@njit(**_JIT, inline="always")
def _rate(y, eA, eB, delta):
    """(psi'(y), |psi'(y)| + 3 sqrt|psi''(y)|) for psi(y) = (1 - e_B) y - e_A log(e^y + delta): the slope
    of the log-integrand of the split quadrature and the local rate a panel's width is measured by."""
    ey = math.exp(y)
    sig = ey / (ey + delta)
    d1 = (1.0 - eB) - eA * sig
    return d1, abs(d1) + 3.0 * math.sqrt(eA * sig * (1.0 - sig))


@njit(**_JIT)
def _tail(a, b, alpha, beta, t, grad):
    """log J(a, b; t) and d log J / d(a, b, alpha, beta), J = int_t^inf (alpha + tau)^-a (beta + tau)^-b
    dtau (a, b > 0, a + b > 1, alpha, beta > 0, t >= 0): the series for c <= 1/2, the split quadrature
    above (module docstring of :mod:`clvmodels.models.pareto_nbd.math`). The derivatives are 0.0 unless
    ``grad``. See :func:`_tail_logs`."""
    if not (0.0 < alpha < math.inf and 0.0 < beta < math.inf and 0.0 <= t < math.inf):
        return math.nan, math.nan, math.nan, math.nan, math.nan
    return _tail_logs(a, b, alpha, beta, t, math.log(alpha + t), math.log(beta + t), grad, _NO_SERIES)


@njit(**_JIT)
def _tail_logs(a, b, alpha, beta, t, la, lb, grad, split_series):
    """:func:`_tail` given la = log(alpha + t) and lb = log(beta + t) (the likelihood kernel takes them
    once per distinct t) and, as ``split_series``, :func:`_series` at c = 1/2 for these exponents when
    the caller has it (it depends on (a, b) alone, so the kernel takes it once per frequency level;
    ``_NO_SERIES`` otherwise).

    Every sum is of positive terms, normalised by exp(psi0) = (A + t)^-e_A (B + t)^(1 - e_B), so nothing
    overflows at frequencies in the thousands; the derivative integrals are accumulated as
    int (g(tau) - g(t)) f / int f with g the log-derivative of the integrand, single-signed, and g(t)
    added at the end."""
    nan = math.nan
    if not (a > 0.0 and b > 0.0 and a + b > 1.0 and 0.0 < alpha < math.inf and 0.0 < beta < math.inf
            and 0.0 <= t < math.inf and a < math.inf and b < math.inf):
        return nan, nan, nan, nan, nan  # NaN in, or outside the domain: no loop may run on it
    at = alpha + t
    bt = beta + t
    M = a + b - 1.0
    if alpha >= beta:
        swap = False
        eA, eB, lA, lB, At, Bt, delta = a, b, la, lb, at, bt, alpha - beta
    else:
        swap = True
        eA, eB, lA, lB, At, Bt, delta = b, a, lb, la, bt, at, beta - alpha
    c = delta / At
    psi0 = -eA * lA + (1.0 - eB) * lB
    gA = gB = gAs = gBs = 0.0
    if c <= _C_SPLIT:
        S, sA, sM, sn = _series(eA, M, c, grad)
        logJ = psi0 + math.log(S / M)
        if grad:
            dlc = sn / (c * S) if c > 0.0 else eA / (M + 1.0)  # d log S / dc
            gA = -lA + (sA - sM) / S - 1.0 / M       # M = e_A + e_B - 1 moves with e_A ...
            gB = -lB - sM / S - 1.0 / M              # ... and with e_B
            gAs = -eA / At + dlc * Bt / (At * At)    # d/dA: c = 1 - (B + t)/(A + t)
            gBs = (1.0 - eB) / Bt - dlc / At         # d/dB
    else:
        # quadrature over y = log(B + tau) from log(B + t) to log(B + t_m), where c(t_m) = 1/2
        y0 = lB
        Bm = delta * (1.0 - _C_SPLIT) / _C_SPLIT    # B + t_m
        Am = delta / _C_SPLIT                        # A + t_m
        y1 = math.log(Bm)
        acc = 0.0
        nA = nB = nAs = nBs = 0.0
        invA = 1.0 / At
        invB = 1.0 / Bt
        u = y0
        stopped = False
        while y1 - u > 1e-13 * (1.0 + abs(y1)):
            # panel [u, u + width]: at most _PANEL_EFOLDS of the local rate |psi'| + 3 sqrt|psi''| at both
            # ends (psi' is monotone, and the rate grows at most like e^y, so a few shrinks settle it)
            width = min(_PANEL_WIDTH, y1 - u, _PANEL_EFOLDS / _rate(u, eA, eB, delta)[1])
            for _ in range(64):
                k1 = _rate(u + width, eA, eB, delta)[1]
                if k1 * width <= _PANEL_EFOLDS:
                    break
                width = _PANEL_EFOLDS / k1
            for j in range(_GL_X.size):
                y = u + width * _GL_X[j]
                ey = math.exp(y)                    # B + tau
                lAy = math.log(ey + delta)          # log(A + tau)
                v = _GL_W[j] * width * math.exp((1.0 - eB) * y - eA * lAy - psi0)
                acc += v
                if grad:
                    nA += v * (lA - lAy)
                    nB += v * (y0 - y)
                    nAs += v * eA * (invA - 1.0 / (ey + delta))
                    nBs += v * eB * (invB - 1.0 / ey)
            u += width
            # log-concave: beyond a point where it decreases the integrand stays below its tangent there
            slope = _rate(u, eA, eB, delta)[0]
            if slope < 0.0:
                rest = math.exp((1.0 - eB) * u - eA * math.log(math.exp(u) + delta) - psi0) / -slope
                if rest <= 1e-18 * acc:
                    stopped = True
                    break
        v = 0.0
        if not stopped:
            # the rest beyond t_m (when the integrand has not already died away: the tangent bound covers
            # it too), by the series at c = 1/2
            if split_series[0] > 0.0:
                S, sA, sM, sn = split_series
            else:
                S, sA, sM, sn = _series(eA, M, _C_SPLIT, grad)
            lAm = math.log(Am)
            v = math.exp(-eA * lAm + (1.0 - eB) * y1 - psi0) * S / M
            acc += v
        logJ = psi0 + math.log(acc)
        if grad:
            if v > 0.0:
                dlc = sn / (_C_SPLIT * S)
                # the series' d log J / d(.) at t_m, less g(.) at t (as the quadrature's are)
                nA += v * (-(lAm - lA) + (sA - sM) / S - 1.0 / M)
                nB += v * (-(y1 - y0) - sM / S - 1.0 / M)
                nAs += v * (-eA / Am + dlc * Bm / (Am * Am) + eA * invA)
                nBs += v * ((1.0 - eB) / Bm - dlc / Am + eB * invB)
            gA = -lA + nA / acc
            gB = -lB + nB / acc
            gAs = -eA * invA + nAs / acc
            gBs = -eB * invB + nBs / acc
    if swap:
        return logJ, gB, gA, gBs, gAs
    return logJ, gA, gB, gAs, gBs


_BLOCK = 256  # triplets per block: the block's buffers stay in the L1 cache


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _logaddexp_block(u1, u2, w, start, n, wf, lse):
    """lse[j] = w log(e^u1 + e^u2) and wf[j] = w sigmoid(u1 - u2) for the block's gathered u1[j], u2[j] and
    weights w[start + j]: contiguous and branch-free, so that the exp and log1p (the polynomial ones of
    fused_op) run in vector lanes."""
    for j in range(n):
        a = u1[j]
        b = u2[j]
        d = a - b
        e = _exp_nonpos(-abs(d))
        lp = _log1p_unit(e)
        inv = 1.0 / (1.0 + e)
        wi = w[start + j]
        lse[j] = wi * (max(a, b) + lp)
        wf[j] = wi * (inv if d > 0.0 else e * inv)


@njit(**_JIT)
def _pnbd_kernel(r, alpha, s, beta, xl, Wx, tl, f_x, f_ti, h_x, h_ti, f_idx, h_idx, w):
    """Total weighted Pareto/NBD log-likelihood and its gradient in (r, alpha, s, beta).

        sum_x W_x [lgamma(r + x) - lgamma(r) + r log alpha + s log beta]
        + sum_i w_i log(exp(u1_i) + exp(u2_i)),
        u1 = log s + log J(r + x, s + 1; t_x),   u2 = log(r + x) + log J(r + x + 1, s; T).

    u1 is a quantity of the triplet's (x, t_x) pair and u2 of its (x, T) pair, computed once per pair
    with their gradients (:func:`_tail`). With sigma_i = exp(u1_i) / (exp(u1_i) + exp(u2_i)), the second
    sum's gradient is sum_i w_i [sigma_i du1_i + (1 - sigma_i) du2_i]: the loop over the triplets adds each
    one's weights w sigma and w (1 - sigma) to its two pairs (in blocks, the softplus and sigmoid
    vectorised), and one pass over the pairs takes the dot products.
    """
    if not (0.0 < r < math.inf and 0.0 < alpha < math.inf and 0.0 < s < math.inf and 0.0 < beta < math.inf):
        # a sampler's proposal off the parameter space (an overflowed exp, a NaN): density zero
        return -math.inf, 0.0, 0.0, 0.0, 0.0
    val = 0.0
    gr = 0.0
    n_tot = 0.0
    for k in range(xl.size):
        W = Wx[k]
        n_tot += W
        if W != 0.0:
            val += W * math.lgamma(r + xl[k])
            gr += W * digamma(r + xl[k])
    log_alpha = math.log(alpha)
    log_beta = math.log(beta)
    val += n_tot * (-math.lgamma(r) + r * log_alpha + s * log_beta)
    gr += n_tot * (log_alpha - digamma(r))
    gal = n_tot * r / alpha
    gs = n_tot * log_beta
    gbe = n_tot * s / beta
    # the logs once per distinct t, then the tail integrals per pair: u and d u / d(r, alpha, s, beta)
    la = np.empty(tl.size)
    lb = np.empty(tl.size)
    for j in range(tl.size):
        la[j] = math.log(alpha + tl[j])
        lb[j] = math.log(beta + tl[j])
    nf = f_ti.size
    nh = h_ti.size
    U1 = np.empty(nf)
    U2 = np.empty(nh)
    GF = np.empty((nf, 4))
    GH = np.empty((nh, 4))
    log_s = math.log(s)
    inv_s = 1.0 / s
    # per frequency level (the pairs come sorted by frequency, then time), _series at the split point when
    # the level's smallest time puts its first pair past it (c falls as t grows)
    A_ab = max(alpha, beta)
    delta = abs(alpha - beta)
    ser = _NO_SERIES
    for j in range(nf):
        q = f_ti[j]
        a = r + f_x[j]
        if j == 0 or f_x[j] != f_x[j - 1]:
            ser = _NO_SERIES
            if delta / (A_ab + tl[q]) > _C_SPLIT:
                ser = _series(a if alpha >= beta else s + 1.0, a + s, _C_SPLIT, True)
        v = _tail_logs(a, s + 1.0, alpha, beta, tl[q], la[q], lb[q], True, ser)
        U1[j] = log_s + v[0]
        GF[j, 0] = v[1]
        GF[j, 1] = v[3]
        GF[j, 2] = v[2] + inv_s
        GF[j, 3] = v[4]
    ser = _NO_SERIES
    for j in range(nh):
        q = h_ti[j]
        rx = r + h_x[j]
        if j == 0 or h_x[j] != h_x[j - 1]:
            ser = _NO_SERIES
            if delta / (A_ab + tl[q]) > _C_SPLIT:
                ser = _series(rx + 1.0 if alpha >= beta else s, rx + s, _C_SPLIT, True)
        v = _tail_logs(rx + 1.0, s, alpha, beta, tl[q], la[q], lb[q], True, ser)
        U2[j] = math.log(rx) + v[0]
        GH[j, 0] = v[1] + 1.0 / rx
        GH[j, 1] = v[3]
        GH[j, 2] = v[2]
        GH[j, 3] = v[4]
    WF = np.zeros(nf)
    WH = np.zeros(nh)
    u1 = np.empty(_BLOCK)
    u2 = np.empty(_BLOCK)
    wf = np.empty(_BLOCK)
    lse = np.empty(_BLOCK)
    n = w.size
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for j in range(m):  # gathers from the per-pair tables
            u1[j] = U1[f_idx[start + j]]
            u2[j] = U2[h_idx[start + j]]
        _logaddexp_block(u1, u2, w, start, m, wf, lse)
        for j in range(m):  # the weights back to the pairs
            i = start + j
            val += lse[j]
            WF[f_idx[i]] += wf[j]
            WH[h_idx[i]] += w[i] - wf[j]
    for j in range(nf):
        c = WF[j]
        gr += c * GF[j, 0]
        gal += c * GF[j, 1]
        gs += c * GF[j, 2]
        gbe += c * GF[j, 3]
    for j in range(nh):
        c = WH[j]
        gr += c * GH[j, 0]
        gal += c * GH[j, 1]
        gs += c * GH[j, 2]
        gbe += c * GH[j, 3]
    return val, gr, gal, gs, gbe


def _pairs(codes_a: np.ndarray, values_b: np.ndarray):
    """Distinct (code, value) pairs (codes ints, values floats compared exactly) and each row's pair."""
    import pandas as pd

    key = pd.MultiIndex.from_arrays([codes_a, values_b])
    idx, uniq = pd.factorize(key, sort=True)
    la = np.asarray(uniq.get_level_values(0), dtype=np.int64)
    lb = np.asarray(uniq.get_level_values(1), dtype=np.float64)
    return idx.astype(np.int64), la, lb


def pnbd_data(triplets) -> tuple[np.ndarray, ...]:
    """The constant arrays :class:`ParetoNBDLogLike` takes after (r, alpha, s, beta), from a
    :class:`~clvmodels.models.triplets.Triplets` (rows with T > 0): (x_levels, W_x, t_levels, f_x,
    f_t_index, h_x, h_t_index, f_index, h_index, weight). The (f_x, t_levels[f_t_index]) are the distinct
    (frequency, recency) pairs and the (h_x, t_levels[h_t_index]) the distinct (frequency, T) pairs;
    t_levels the distinct times they use; the last three arrays are per triplet."""
    tr = triplets
    if np.any(np.asarray(tr.T) <= 0):
        raise ValueError("pnbd_data: rows with T = 0 carry no information and must be left out")
    w = np.ascontiguousarray(tr.weight, dtype=np.float64)
    xl = np.ascontiguousarray(tr.x_levels, dtype=np.float64)
    x_index = np.asarray(tr.x_index, dtype=np.int64)
    Wx = np.bincount(x_index, weights=w, minlength=xl.size).astype(np.float64)
    rec = np.where(np.asarray(tr.frequency) > 0, np.asarray(tr.recency, dtype=float), 0.0) + 0.0
    f_idx, f_xi, f_t = _pairs(x_index, rec)
    h_idx, h_xi, h_t = _pairs(x_index, np.asarray(tr.T, dtype=float) + 0.0)
    tl = np.unique(np.concatenate([f_t, h_t]))
    f_ti = np.searchsorted(tl, f_t).astype(np.int64)
    h_ti = np.searchsorted(tl, h_t).astype(np.int64)
    return (xl, Wx, tl, np.ascontiguousarray(xl[f_xi]), f_ti, np.ascontiguousarray(xl[h_xi]), h_ti, f_idx, h_idx, w)


class ParetoNBDLogLike(_FusedLogLike):
    """Total weighted Pareto/NBD log-likelihood and its gradient (see :func:`pnbd_loglike`)."""

    param_names = ("r", "alpha", "s", "beta")
    data_names = ("x_levels", "W_x", "t_levels", "f_x", "f_t_index", "h_x", "h_t_index", "f_index", "h_index",
                  "weight")
    _kernel = staticmethod(_pnbd_kernel)


def pnbd_loglike(r, alpha, s, beta, triplets):
    """sum_i w_i log L_i of the Pareto/NBD over a :class:`~clvmodels.models.triplets.Triplets` (T > 0),
    as a PyTensor scalar computed by :class:`ParetoNBDLogLike` (value and gradient in one pass)."""
    return ParetoNBDLogLike.total(r, alpha, s, beta, data=pnbd_data(triplets))


# -- numba backend (nutpie; PyTensor's default FAST_RUN mode) ----------------------------------------
#: folded into PyTensor's cache key of the compiled node, so an edited kernel is never taken from the
#: on-disk cache of an older one
_CACHE_VERSION = cache_version(__file__)


def _register_numba():
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(ParetoNBDLogLike)
    def _numba_pnbd(op, node=None, **kwargs):
        kernel = _pnbd_kernel

        @numba_njit
        def pnbd_loglike(r, alpha, s, beta, xl, Wx, tl, f_x, f_ti, h_x, h_ti, f_idx, h_idx, w):
            v, g1, g2, g3, g4 = kernel(r.item(), alpha.item(), s.item(), beta.item(), xl, Wx, tl, f_x, f_ti, h_x,
                                       h_ti, f_idx, h_idx, w)
            return np.array(v), np.array(g1), np.array(g2), np.array(g3), np.array(g4)

        return pnbd_loglike, _CACHE_VERSION


_register_numba()
