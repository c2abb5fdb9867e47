"""Special functions shared by the models, written for the parameter ranges customer bases produce.

The Gauss hypergeometric function
---------------------------------
``2F1(a, b; c; z) = sum_n (a)_n (b)_n / ((c)_n n!) z^n`` appears in the BG/NBD conditional expectation
(Fader, Hardie & Lee 2005, eq. 10) as ``2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))``.
With frequency x in the hundreds the parameters are large and the value is astronomically large
(about ``(1 - z)^-(r + x)``), and for short histories and long horizons z is close to 1 where the
power series converges slowly. ``scipy.special.hyp2f1`` is unreliable in exactly these regions.

:func:`hyp2f1` evaluates it for real a, b, c (c not 0, -1, -2, ...) and 0 <= z < 1, per element:

1. Euler's transformation ``2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z)`` (DLMF 15.8.1)
   is applied when ``m = c - a - b < 0``. Afterwards m >= 0, so the remaining series is bounded as
   z -> 1, and for the BG/NBD terms its upper parameters no longer grow with x: the huge factor is the
   explicit power ``(1 - z)^(c - a - b)``, kept as a logarithm. (The transformation is skipped when it
   would create an upper parameter below -4 that the original lacks: such terms change sign many
   times and cancel.)
2. The power series is summed until its estimated remaining tail is below double precision, with
   rescaling so that it cannot overflow. It converges geometrically for z away from 1 and, since
   m >= 0, algebraically like ``n^-(m + 1)`` at any z: with m >= 10 a few dozen terms suffice even at
   z = 1.
3. Only where z > 0.8 *and* m < 10 (short history, long horizon, small frequency) is the series too
   slow. There the function is continued from z = 0.5 towards 1 by Taylor steps of its differential
   equation ``z(1 - z) F'' + [c - (a + b + 1) z] F' - a b F = 0`` (DLMF 15.10.1), each step at most
   half-way to the singular point z = 1 (so each Taylor series converges like 2^-k) and short enough
   that the equation's other solution cannot amplify rounding errors. Unlike the connection formulas in
   1 - z (DLMF 15.8.4), whose two halves cancel catastrophically near integer c - a - b, this needs no
   special case there.

Accuracy: against mpmath at 40 digits, relative error below about 2e-13 on a grid of BG/NBD arguments
(x up to 1,000, T up to 10,000 periods, z up to 1 - 1e-7) and on random parameters with upper
parameters above -1. Upper parameters far below zero (under about -4 in both forms) can lose digits to
cancellation; the series reports that with a RuntimeWarning. :func:`log_hyp2f1` returns the logarithm,
finite where the value itself would overflow.

``one_minus_z`` may be passed when 1 - z is known more accurately than ``1 - z`` can be computed
(e.g. ``(alpha + T) / (alpha + T + t)``); near z = 1 this keeps the relative accuracy of 1 - z.

The per-element kernels are compiled with numba (a dependency of PyTensor, so always present; compiled
once and cached on disk): summing a series with its own stopping rule per element is a scalar loop,
which numpy could only run as masked array passes many times slower.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit, prange
from scipy import special as sc

__all__ = ["hyp2f1", "log_hyp2f1", "hyp2f1_scaled", "hyp2f1_series", "lbeta", "log1mexp", "softplus"]

#: relative tolerance of the series and Taylor sums (one unit in the last place)
_TOL = 2.0 ** -53
#: above this z (and with c - a - b below _M_SERIES) the ODE continuation is used
_Z_STEP = 0.8
#: c - a - b from which the series converges fast enough at any z < 1
_M_SERIES = 10.0
#: where the ODE continuation starts (the series converges like 2^-n there)
_Z_START = 0.5
#: upper parameters below this make the terms change sign often enough to cancel
_NEG = -4.0
#: running sums are rescaled past this magnitude so that they cannot overflow
_BIG = 1e200
_LOG_BIG = math.log(_BIG)
_MAX_TERMS = 200_000
_MAX_STEPS = 20_000
#: status codes of the kernels
_OK, _NO_CONVERGENCE, _CANCELLATION = 0, 1, 2


# -- small log-space helpers ------------------------------------------------------------------------
def lbeta(a, b):
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), accurate for large arguments."""
    return sc.betaln(a, b)


def log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurate near 0 and for large negative x (Maechler 2012)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def softplus(x):
    """log(1 + exp(x)) without overflow."""
    return np.logaddexp(0.0, x)


# -- scalar kernels (numba) -------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _series1(a, b, c, z, n0, t0, m, deriv):
    """Sum of t_n for n >= n0, t_{n0} = t0, t_{n+1} = t_n (a + n)(b + n) z / ((c + n)(n + 1)).

    Returns (s, ds, log_scale, status): the sum is s * exp(log_scale) and, if ``deriv``,
    ds * exp(log_scale) = sum_n n t_n / z. ``m`` is the exponent of the terms' algebraic decay
    (c - a - b for the 2F1 series), used to bound the tail near z = 1.
    """
    t = t0
    s = t0
    d = n0 * t0
    ls = 0.0
    tmax = abs(t0)
    n_min = max(max(-a, -b), 0.0)  # the tail is bounded only past every sign change of (a + n)(b + n)
    m_pos = max(m, 1e-3)
    n = float(n0)
    status = _OK
    if t0 == 0.0:
        return 0.0, 0.0, 0.0, status
    ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z  # t_{n+1} / t_n
    while True:
        t *= ratio
        n += 1.0
        s += t
        if deriv:
            d += n * t
        at = abs(t)
        if at > tmax:
            tmax = at
        if abs(s) > _BIG:
            s /= _BIG
            t /= _BIG
            d /= _BIG
            tmax /= _BIG
            ls += _LOG_BIG
            at = abs(t)
        if t == 0.0:
            break
        if not math.isfinite(s):
            status = _NO_CONVERGENCE
            break
        ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z
        rho = abs(ratio)
        if rho < 1.0 and n > n_min:
            # remaining tail / current term: geometric while the ratios decrease; once they increase
            # towards z the tail is at most z/(1 - z) terms, and about n/m terms for algebraic decay
            if rho >= z:
                fac = rho / (1.0 - rho)
            else:
                fac = min(z / (1.0 - z), (n + 1.0) / m_pos)
            if at * fac <= _TOL * abs(s):
                if not deriv or n * at * fac * (1.0 + 1.0 / n) * (1.0 + 1.0 / m_pos) <= _TOL * abs(d):
                    break
        if n - n0 > _MAX_TERMS:
            status = _NO_CONVERGENCE
            break
    if status == _OK and tmax > 1e8 * abs(s):
        status = _CANCELLATION
    ds = 0.0
    if deriv:
        ds = d / z if z > 0.0 else a * b / c * math.exp(-ls)
    return s, ds, ls, status


@njit(cache=True, error_model="numpy")
def _continue1(a, b, c, u, F, dF, u_target):
    """Continue the solution (F, dF/dz) of the hypergeometric equation from 1 - z = u to u_target.

    Returns (F, log_scale, status) at u_target, the value being F * exp(log_scale). Each step expands F
    in a Taylor series about z0 = 1 - u in h = z - z0 with coefficients d_k; the equation gives
        z0 u (k + 2)(k + 1) d_{k+2} = -P_k (k + 1) d_{k+1} + (k + a)(k + b) d_k,
        P_k = (1 - 2 z0) k + c - (a + b + 1) z0,
    summed here in the scaled form e_k = d_k h^k. The step h is at most u/2 (half the distance to the
    singular point z = 1, so the terms fall like 2^-k) and at most 2 / (|P_0|/(z0 u) + sqrt(|ab|/(z0 u))):
    the local growth rates of the equation's solutions are below that sum, so rounding errors fed into
    the other solution grow by at most e^2 within a step. All coefficients are written in u = 1 - z to
    keep their precision near z = 1.
    """
    ls = 0.0
    apb1 = a + b + 1.0
    steps = 0
    while u > u_target * (1.0 + 1e-15):
        z0 = 1.0 - u
        zu = z0 * u
        p0 = c - apb1 + apb1 * u  # c - (a + b + 1) z0
        stiff = abs(p0) / zu + math.sqrt(abs(a * b) / zu)
        h = min(u - u_target, 0.5 * u)
        if stiff > 0.0:
            h = min(h, 2.0 / stiff)
        e_prev = F
        e_cur = dF * h
        F1 = e_prev + e_cur
        D1 = dF
        q = 2.0 * u - 1.0  # 1 - 2 z0
        k = 0.0
        while True:
            pk = q * k + p0
            e_next = (-pk * (k + 1.0) * h * e_cur + (k + a) * (k + b) * (h * h) * e_prev) / (zu * (k + 2.0) * (k + 1.0))
            F1 += e_next
            D1 += (k + 2.0) * e_next / h
            k += 1.0
            if (abs(e_next) <= _TOL * abs(F1) and abs(e_cur) <= _TOL * abs(F1)
                    and abs((k + 1.0) * e_next) <= _TOL * abs(D1 * h)) or k > 400.0:
                break
            e_prev = e_cur
            e_cur = e_next
        F = F1
        dF = D1
        u -= h
        mag = abs(F)
        if mag > 1e100 or (0.0 < mag < 1e-100):  # keep F of order one; the scale goes to the log
            F /= mag
            dF /= mag
            ls += math.log(mag)
        if not math.isfinite(F):
            return math.nan, 0.0, _NO_CONVERGENCE
        steps += 1
        if steps > _MAX_STEPS:
            return math.nan, 0.0, _NO_CONVERGENCE
    return F, ls, _OK


@njit(cache=True, error_model="numpy")
def _hyp2f1_1(a, b, c, z, zc):
    """(value, log_scale, status) of 2F1(a, b; c; z), 0 <= z < 1, zc = 1 - z (see the module docstring)."""
    ls = 0.0
    m = c - a - b
    neg_o = min(a, b) < _NEG
    neg_e = min(c - a, c - b) < _NEG
    if m < 0.0 and not (neg_e and not neg_o):
        ls = m * math.log(zc)
        a, b = c - a, c - b
        m = -m
    poly = (a <= 0.0 and a == math.floor(a)) or (b <= 0.0 and b == math.floor(b))
    fast = m >= _M_SERIES and min(a, b) >= _NEG
    if z > _Z_STEP and not fast and not poly:
        F0, dF0, l0, st0 = _series1(a, b, c, _Z_START, 0, 1.0, m, True)
        F1, l1, st1 = _continue1(a, b, c, 1.0 - _Z_START, F0, dF0, zc)
        return F1, ls + l0 + l1, max(st0, st1)
    s, _, l, st = _series1(a, b, c, z, 0, 1.0, m, False)
    return s, ls + l, st


@njit(cache=True, error_model="numpy", parallel=True)
def _hyp2f1_many(a, b, c, z, zc, out_v, out_l, status):
    for i in prange(a.size):
        out_v[i], out_l[i], status[i] = _hyp2f1_1(a[i], b[i], c[i], z[i], zc[i])


@njit(cache=True, error_model="numpy")
def _series_many(a, b, c, z, n0, t0, m, deriv, out_s, out_d, out_l, status):
    for i in range(a.size):
        out_s[i], out_d[i], out_l[i], status[i] = _series1(a[i], b[i], c[i], z[i], n0, t0[i], m[i], deriv)


def _report(status, what):
    bad = int(np.sum(status == _NO_CONVERGENCE))
    lost = int(np.sum(status == _CANCELLATION))
    if bad:
        warnings.warn(f"{what}: no convergence for {bad} elements (extreme parameters); NaN returned there",
                      RuntimeWarning, stacklevel=3)
    if lost:
        warnings.warn(f"{what}: the series terms cancel to fewer than 8 significant digits for {lost} elements "
                      "(upper parameters far below zero); results there are inaccurate", RuntimeWarning, stacklevel=3)


def _flat(*arrays):
    """Broadcast to a common shape and flatten to contiguous float64 (for the kernels); arrays that
    already have that shape are not copied."""
    arrs = [np.asarray(v, dtype=np.float64) for v in arrays]
    shape = np.broadcast_shapes(*(v.shape for v in arrs))
    out = []
    for v in arrs:
        if v.shape != shape:
            v = np.broadcast_to(v, shape).copy()  # a real array: kernels must not see broadcast views
        out.append(np.ascontiguousarray(v).ravel())
    return shape, out


# -- public ------------------------------------------------------------------------------------------
def hyp2f1_series(a, b, c, z, *, n0: int = 0, t0=1.0, m=None, derivative: bool = False):
    """Sum of the hypergeometric series from term ``n0`` on, per element (broadcasting).

    The terms are ``t_n0 = t0`` and ``t_{n+1} = t_n (a + n)(b + n) z / ((c + n)(n + 1))``, so with
    ``n0 = 0, t0 = 1`` this is ``2F1(a, b; c; z)`` by its series (no transformation: use
    :func:`hyp2f1` for that); other starting terms give related sums, e.g. the regular part of the
    BG/NBD expectation near a = 1. ``m`` (default c - a - b) is the exponent of the terms' algebraic
    decay, used to bound the tail near z = 1.

    Returns ``(s, ds, log_scale)``: the sum is ``s * exp(log_scale)``; with ``derivative`` also
    ``ds * exp(log_scale) = sum_n n t_n / z`` (the z-derivative when n0 = 0), else ds is None.
    NaN where the series does not converge (with a RuntimeWarning).
    """
    if m is None:
        m = np.asarray(c, dtype=float) - np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    shape, (a, b, c, z, t0, mm) = _flat(a, b, c, z, t0, m)
    if np.any(z < 0) or np.any(z >= 1):
        raise ValueError("hyp2f1_series: z must lie in [0, 1)")
    s = np.empty(a.size)
    d = np.empty(a.size)
    ls = np.empty(a.size)
    st = np.empty(a.size, dtype=np.int64)
    _series_many(a, b, c, z, int(n0), t0, mm, bool(derivative), s, d, ls, st)
    _report(st, "hypergeometric series")
    s[st == _NO_CONVERGENCE] = np.nan
    return s.reshape(shape), (d.reshape(shape) if derivative else None), ls.reshape(shape)


def hyp2f1_scaled(a, b, c, z, *, one_minus_z=None):
    """2F1(a, b; c; z) as ``(value, log_scale)`` with the function equal to ``value * exp(log_scale)``.

    Real a, b, c (c not a non-positive integer), 0 <= z < 1, broadcasting. ``value`` is of moderate
    size, so the pair represents values far outside the double range (large frequencies).
    """
    zc_in = (1.0 - np.asarray(z, dtype=float)) if one_minus_z is None else one_minus_z
    shape, (a, b, c, z, zc) = _flat(a, b, c, z, zc_in)
    if np.any(z < 0) or np.any(z >= 1) or np.any(zc <= 0):
        raise ValueError("hyp2f1: z must lie in [0, 1)")
    v = np.empty(a.size)
    ls = np.empty(a.size)
    st = np.empty(a.size, dtype=np.int64)
    _hyp2f1_many(a, b, c, z, zc, v, ls, st)
    _report(st, "hyp2f1")
    v[st == _NO_CONVERGENCE] = np.nan
    return v.reshape(shape), ls.reshape(shape)


def hyp2f1(a, b, c, z, *, one_minus_z=None):
    """Gauss hypergeometric function 2F1(a, b; c; z) for real parameters and 0 <= z < 1.

    Broadcasts its arguments. Returns +-inf only where the true value exceeds the double range (use
    :func:`log_hyp2f1` there). See the module docstring for the method and its accuracy.
    """
    v, ls = hyp2f1_scaled(a, b, c, z, one_minus_z=one_minus_z)
    with np.errstate(over="ignore", invalid="ignore"):
        return v * np.exp(ls)


def log_hyp2f1(a, b, c, z, *, one_minus_z=None):
    """``(log|2F1(a, b; c; z)|, sign)``: finite for the very large values of large frequencies."""
    v, ls = hyp2f1_scaled(a, b, c, z, one_minus_z=one_minus_z)
    with np.errstate(divide="ignore"):
        return np.log(np.abs(v)) + ls, np.sign(v)
