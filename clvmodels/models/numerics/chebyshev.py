"""Chebyshev series on [-1, 1]: coefficients from values at first-kind nodes (with the convergence test
the scorers use), evaluation by Clenshaw's recurrence and the basis polynomials themselves.

The transaction models' scorers interpolate smooth functions of time with them: the BG/NBD's expected
purchases of a customer alive now in w = log(1 + t/(alpha + T)), and the discounted CLV sums of every
buy-till-you-die model in v = log(alpha + T) (or log(beta + T)) when a summary has many distinct T.
"""
from __future__ import annotations

import math

from numba import njit

#: the relative size (of max |f|) of the last three coefficients below which a series counts as converged
CHEB_TOL = 1e-13


@njit(cache=True, error_model="numpy")
def _cheb_coef(vals, n, coef, fmax):
    """Chebyshev coefficients coef[:n] of the values vals[:n] at the n first-kind nodes
    x_j = cos(pi (j + 1/2)/n) (f = sum_m coef[m] T_m); True when the last three are below
    :data:`CHEB_TOL` of ``fmax`` (max |f|), i.e. the series has converged."""
    for m in range(n):
        coef[m] = 0.0
    # c_m = 2/n sum_j f_j T_m(x_j), with T_m by its three-term recurrence
    for j in range(n):
        xj = math.cos(math.pi * (j + 0.5) / n)
        t0, t1 = 1.0, xj
        coef[0] += vals[j]
        coef[1] += vals[j] * xj
        for m in range(2, n):
            t0, t1 = t1, 2.0 * xj * t1 - t0
            coef[m] += vals[j] * t1
    for m in range(n):
        coef[m] *= 2.0 / n
    coef[0] *= 0.5
    tail = abs(coef[n - 1]) + abs(coef[n - 2]) + abs(coef[n - 3])
    return tail <= CHEB_TOL * fmax or fmax == 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _cheb_eval(coef, n, u):
    """sum_{m<n} coef[m] T_m(u) by Clenshaw's recurrence."""
    b1 = 0.0
    b2 = 0.0
    for m in range(n - 1, 0, -1):
        b1, b2 = 2.0 * u * b1 - b2 + coef[m], b1
    return u * b1 - b2 + coef[0]


@njit(cache=True, error_model="numpy", inline="always")
def _cheb_basis(u, n, out):
    """out[m] = T_m(u), m < n."""
    out[0] = 1.0
    if n > 1:
        out[1] = u
    for m in range(2, n):
        out[m] = 2.0 * u * out[m - 1] - out[m - 2]


@njit(cache=True, error_model="numpy", inline="always")
def _cheb_node(j, n):
    """The j-th of n first-kind Chebyshev nodes, cos(pi (j + 1/2)/n)."""
    return math.cos(math.pi * (j + 0.5) / n)
