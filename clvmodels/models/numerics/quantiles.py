"""Quantiles by selection, for kernels that reduce S posterior draws per row inside a numba loop.

:func:`_interval` gives numpy's default ('linear') quantiles of a per-thread buffer of S values by
Hoare's selection (:func:`_select`), in place and without sorting, so a row's interval costs O(S) and
no draws x rows array is ever held. The forecast engine (:mod:`clvmodels.engine`) takes the central
intervals of every per-customer quantity with it.
"""
from __future__ import annotations

import math

from numba import njit


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
