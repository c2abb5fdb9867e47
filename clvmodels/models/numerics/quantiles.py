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
