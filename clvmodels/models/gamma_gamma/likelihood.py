r"""The Gamma-Gamma model's fused log-likelihood + gradient Op, for NUTS and MAP (the machinery it shares
with the other models' Ops is in :mod:`clvmodels.models.numerics.fused_op`).

:func:`gamma_gamma_loglike` puts one :class:`GammaGammaLogLike` node into a PyMC model: the total
weighted log-likelihood of the repeat customers' mean spends and its gradient in (p, q, v) from one
numba loop (:func:`_gamma_gamma_kernel`) over the constant arrays :func:`gamma_gamma_data` prepares
once. The Op can also take spends binned per frequency level (:func:`bin_spend`), an approximation
with a stated error bound (see :func:`clvmodels.models.gamma_gamma.math.pt_log_likelihood`).

Accuracy. The formulas are those of the reference graph (``_pt_log_likelihood_graph`` in
:mod:`clvmodels.models.gamma_gamma.math`) term for term, with ``math.lgamma`` and
``fused_op.digamma``: value and gradient agree with that graph and PyTensor's automatic gradient to
about 1e-12 relative or better (tests/models/test_likelihood_ops.py).

This module registers the Op's numba implementation (for nutpie and the numba linker) when imported.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..numerics.fused_op import _JIT, _FusedLogLike, cache_version, digamma

__all__ = ["GammaGammaLogLike", "gamma_gamma_loglike", "gamma_gamma_data", "bin_spend",
           "GammaGammaFrequencyLogLike", "gamma_gamma_frequency_loglike"]


# -- the kernel and its data -------------------------------------------------------------------------
@njit(**_JIT)
def _gamma_gamma_kernel(p, q, v, xl, Wx, seg, s, w, m2, m3, m4, consts):
    """Total weighted Gamma-Gamma log-likelihood and its gradient in (p, q, v).

    Per customer (x repeat purchases of mean zbar, s = x zbar her total repeat spend):
        log f = lgamma(p x + q) - lgamma(p x) - lgamma(q) + q log v + p x log s - log zbar
                - (p x + q) log(v + s),
    so with W_x the weight of frequency level x, N the total weight, C1 = sum w x log s and
    C0 = sum w log zbar (``consts``) and L_x = sum_{i in level x} w_i log(v + s_i):
        sum w log f = sum_x W_x [lgamma(p x + q) - lgamma(p x)] + N (q log v - lgamma(q)) + p C1 - C0
                      - sum_x (p x + q) L_x.
    The log-gamma terms are evaluated once per frequency level; per row only log(v + s) and
    1/(v + s) (for d/dv: R_x = sum w / (v + s)).

    Rows ``seg[k]:seg[k+1]`` belong to level k. With binned rows (``m2``, ``m3``, ``m4`` not empty:
    row = bin of weight n, mean spend s_bar and central moments M2, M3, M4), L_x and R_x use the
    expansion about s_bar (the first-order term vanishes),
        sum_bin w_i log(v + s_i) ~ n log u - M2 / (2 u^2) + M3 / (3 u^3) - M4 / (4 u^4),  u = v + s_bar,
    and its derivative in v, n / u + M2 / u^3 - M3 / u^4 + M4 / u^5.
    """
    binned = m2.size > 0
    val = 0.0
    gp = 0.0
    gq = 0.0
    gv = 0.0
    n_tot = 0.0
    for k in range(xl.size):
        x = xl[k]
        W = Wx[k]
        n_tot += W
        px = p * x
        pq = px + q
        psi_pq = digamma(pq)
        val += W * (math.lgamma(pq) - math.lgamma(px))
        gp += W * x * (psi_pq - digamma(px))
        gq += W * psi_pq
        L = 0.0
        R = 0.0
        if binned:
            for i in range(seg[k], seg[k + 1]):
                iu = 1.0 / (v + s[i])
                iu2 = iu * iu
                L += w[i] * math.log(v + s[i]) - iu2 * (0.5 * m2[i] - iu * (m3[i] / 3.0 - 0.25 * m4[i] * iu))
                R += (w[i] + (m2[i] - iu * (m3[i] - m4[i] * iu)) * iu2) * iu
        else:
            for i in range(seg[k], seg[k + 1]):
                u = v + s[i]
                L += w[i] * math.log(u)
                R += w[i] / u
        val -= pq * L
        gp -= x * L
        gq -= L
        gv -= pq * R
    log_v = math.log(v)
    c1 = consts[0]
    c0 = consts[1]
    val += n_tot * (q * log_v - math.lgamma(q)) + p * c1 - c0
    gp += c1
    gq += n_tot * (log_v - digamma(q))
    gv += n_tot * q / v
    return val, gp, gq, gv


@njit(**_JIT)
def _gamma_gamma_frequency_kernel(p, q, v, gamma, xl, lz, Wx, seg, s, w, m2, m3, m4, consts):
    """As :func:`_gamma_gamma_kernel` with a scale per frequency level, u_k = v exp(gamma lz_k) (lz_k the
    level's log number of purchase occasions), and the gradient in (p, q, v, gamma).

    With L_k(u) = sum_{i in level k} w_i log(u + s_i) and R_k = dL_k/du (as in the plain kernel),
        sum w log f = sum_k W_k [lgamma(p x_k + q) - lgamma(p x_k) + q log u_k] - N lgamma(q) + p C1 - C0
                      - sum_k (p x_k + q) L_k(u_k),
    so d/dv = sum_k [W_k q - (p x_k + q) R_k u_k] / v and d/dgamma = sum_k lz_k [W_k q - (p x_k + q) R_k u_k]
    (du_k/dv = u_k/v, du_k/dgamma = lz_k u_k). One exp per level; gamma = 0 is the plain kernel.
    """
    binned = m2.size > 0
    val = 0.0
    gp = 0.0
    gq = 0.0
    gv = 0.0
    gg = 0.0
    n_tot = 0.0
    log_v = math.log(v)
    for k in range(xl.size):
        x = xl[k]
        W = Wx[k]
        n_tot += W
        px = p * x
        pq = px + q
        log_u = log_v + gamma * lz[k]
        u = math.exp(log_u)
        psi_pq = digamma(pq)
        val += W * (math.lgamma(pq) - math.lgamma(px) + q * log_u)
        gp += W * x * (psi_pq - digamma(px))
        gq += W * (psi_pq + log_u)
        L = 0.0
        R = 0.0
        if binned:
            for i in range(seg[k], seg[k + 1]):
                iu = 1.0 / (u + s[i])
                iu2 = iu * iu
                L += w[i] * math.log(u + s[i]) - iu2 * (0.5 * m2[i] - iu * (m3[i] / 3.0 - 0.25 * m4[i] * iu))
                R += (w[i] + (m2[i] - iu * (m3[i] - m4[i] * iu)) * iu2) * iu
        else:
            for i in range(seg[k], seg[k + 1]):
                su = u + s[i]
                L += w[i] * math.log(su)
                R += w[i] / su
        val -= pq * L
        gp -= x * L
        gq -= L
        d_log_u = W * q - pq * R * u  # d/d log(u_k)
        gv += d_log_u
        gg += d_log_u * lz[k]
    c1 = consts[0]
    c0 = consts[1]
    val += -n_tot * math.lgamma(q) + p * c1 - c0
    gp += c1
    gq -= n_tot * digamma(q)
    return val, gp, gq, gv / v, gg


def bin_spend(level, s, w, h: float = 0.01):
    """Bin each frequency level's total repeat spends s on a grid of width h in log s.

    ``level`` (int codes), ``s`` (> 0) and ``w`` are aligned per row. Returns (level, n, s_bar, M2,
    M3, M4, inverse): per non-empty (level, bin), sorted by level then bin, the bin's weight, weighted
    mean and weighted central moments M_k = sum w (s - s_bar)^k, k = 2, 3, 4 (two passes: deviations
    from the bin's mean, so nothing cancels), and each row's bin. A bin spans [e^(j h), e^((j + 1) h)),
    so every s in it is within a factor e^h of every other.
    """
    level = np.asarray(level, dtype=np.int64)
    s = np.asarray(s, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if not h > 0:
        raise ValueError(f"the bin width h must be positive, got {h!r}")
    if np.any(~(s > 0)):
        raise ValueError("bin_spend: spends must be positive")
    j = np.floor(np.log(s) / h).astype(np.int64)
    if j.size:
        j -= j.min()
    width = int(j.max()) + 1 if j.size else 1
    uniq, inv = np.unique(level * width + j, return_inverse=True)
    inv = inv.ravel()
    nb = uniq.size
    n = np.bincount(inv, weights=w, minlength=nb)
    nz = n > 0
    sbar = np.bincount(inv, weights=w * s, minlength=nb) / np.where(nz, n, 1.0)
    if not nz.all():  # a bin whose weights are all 0 contributes nothing; any point in it will do
        sbar = np.where(nz, sbar, np.bincount(inv, weights=s, minlength=nb) / np.bincount(inv, minlength=nb))
    dev = s - sbar[inv]
    dev2 = dev * dev
    m2 = np.bincount(inv, weights=w * dev2, minlength=nb)
    m3 = np.bincount(inv, weights=w * dev2 * dev, minlength=nb)
    m4 = np.bincount(inv, weights=w * dev2 * dev2, minlength=nb)
    return uniq // width, n, sbar, m2, m3, m4, inv


#: above this many distinct (frequency, monetary_value) rows, compress="auto" bins the spends
GG_COMPRESS_ROWS = 50_000
#: default bin width in log spend
GG_BIN_WIDTH = 0.01


def gamma_gamma_data(frequency, monetary_value, weight=None, *, compress="auto",
                     h: float = GG_BIN_WIDTH) -> tuple[np.ndarray, ...]:
    """The constant arrays :class:`GammaGammaLogLike` takes after (p, q, v): (x_levels, W_x, seg, s,
    w, M2, M3, M4, consts), rows grouped by frequency level (``seg``: offsets), s = x * zbar per row
    (or the bin's mean), consts = (sum w x log s, sum w log zbar), both over the original rows.
    M2, M3 and M4 are empty unless the rows are binned: ``compress=True`` bins (:func:`bin_spend`,
    width ``h``), ``False`` does not, ``"auto"`` bins above ``GG_COMPRESS_ROWS`` rows (see
    :func:`clvmodels.models.gamma_gamma.pt_log_likelihood` for the error bound)."""
    x = np.asarray(frequency, dtype=np.float64).ravel()
    z = np.asarray(monetary_value, dtype=np.float64).ravel()
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    if not (x.shape == z.shape == w.shape):
        raise ValueError("frequency, monetary_value and weight must have the same length")
    if compress not in ("auto", True, False):
        raise ValueError(f"compress must be 'auto', True or False, got {compress!r}")
    if np.any(~(x > 0)) or np.any(~(z > 0)):
        raise ValueError("gamma_gamma_data: frequency and monetary_value must be positive")
    s = x * z
    log_z = np.log(z)
    consts = np.array([float(np.dot(w * x, np.log(s))), float(np.dot(w, log_z))])
    level, xl = _factorize(x)
    nx = xl.size
    Wx = np.bincount(level, weights=w, minlength=nx).astype(np.float64)
    use_bins = (x.size > GG_COMPRESS_ROWS) if compress == "auto" else bool(compress)
    if use_bins:
        level, w, s, m2, m3, m4, _ = bin_spend(level, s, w, h)
    else:
        order = np.lexsort((s, level))
        level, w, s = level[order], w[order], s[order]
        m2 = m3 = m4 = np.zeros(0)
    seg = np.zeros(nx + 1, dtype=np.int64)
    np.cumsum(np.bincount(level, minlength=nx), out=seg[1:])
    return (xl, Wx, seg, np.ascontiguousarray(s), np.ascontiguousarray(w), np.ascontiguousarray(m2),
            np.ascontiguousarray(m3), np.ascontiguousarray(m4), consts)


def gamma_gamma_frequency_data(frequency, monetary_value, occasions, weight=None, *, compress="auto",
                               h: float = GG_BIN_WIDTH) -> tuple[np.ndarray, ...]:
    """The constant arrays :class:`GammaGammaFrequencyLogLike` takes after (p, q, v, gamma): those of
    :func:`gamma_gamma_data` with ``lz`` (log of the purchase occasions per frequency level) after
    ``x_levels``. ``occasions`` (per row, >= 1) must be the same for every row of a level (it is a
    function of the level: x + 1 repeat purchases, or x occasions when the first purchase counts)."""
    xl, Wx, seg, s, w, m2, m3, m4, consts = gamma_gamma_data(frequency, monetary_value, weight,
                                                             compress=compress, h=h)
    x = np.asarray(frequency, dtype=np.float64).ravel()
    occ = np.asarray(occasions, dtype=np.float64).ravel()
    if occ.shape != x.shape or np.any(~(occ >= 1)):
        raise ValueError("occasions must be >= 1 and aligned with frequency")
    level = np.searchsorted(xl, x)
    lz = np.log(occ)
    per_level = np.full(xl.size, np.nan)
    per_level[level] = lz
    if not np.array_equal(per_level[level], lz):
        raise ValueError("occasions must be the same for every row of a frequency level")
    return (xl, per_level, Wx, seg, s, w, m2, m3, m4, consts)


def _factorize(values):
    """(codes, sorted distinct values) of a float array."""
    uniq, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64).ravel(), uniq.astype(np.float64)


# -- the Op -----------------------------------------------------------------------------------------
class GammaGammaLogLike(_FusedLogLike):
    """Total weighted Gamma-Gamma log-likelihood and its gradient (see :func:`gamma_gamma_loglike`)."""

    param_names = ("p", "q", "v")
    data_names = ("x_levels", "W_x", "seg", "s", "w", "M2", "M3", "M4", "consts")
    _kernel = staticmethod(_gamma_gamma_kernel)


def gamma_gamma_loglike(p, q, v, frequency, monetary_value, weight=None, *, compress="auto",
                        h: float = GG_BIN_WIDTH):
    """sum_i w_i log f(zbar_i | p, q, v, x_i) of the Gamma-Gamma model as a PyTensor scalar computed
    by :class:`GammaGammaLogLike` (value and gradient in one pass). See
    :func:`clvmodels.models.gamma_gamma.pt_log_likelihood` for ``compress`` and ``h``."""
    return GammaGammaLogLike.total(p, q, v, data=gamma_gamma_data(frequency, monetary_value, weight,
                                                                  compress=compress, h=h))


class GammaGammaFrequencyLogLike(_FusedLogLike):
    """The Gamma-Gamma log-likelihood with the scale v (x + 1)^gamma and its gradient (see
    :func:`gamma_gamma_frequency_loglike`)."""

    param_names = ("p", "q", "v", "gamma")
    data_names = ("x_levels", "lz", "W_x", "seg", "s", "w", "M2", "M3", "M4", "consts")
    _kernel = staticmethod(_gamma_gamma_frequency_kernel)


def gamma_gamma_frequency_loglike(p, q, v, gamma, frequency, monetary_value, occasions, weight=None, *,
                                  compress="auto", h: float = GG_BIN_WIDTH):
    """sum_i w_i log f(zbar_i | p, q, v_i, x_i), v_i = v occasions_i^gamma, as a PyTensor scalar
    computed by :class:`GammaGammaFrequencyLogLike` (value and gradient in one pass; the cost is that of
    the plain Op plus one exp per frequency level)."""
    return GammaGammaFrequencyLogLike.total(p, q, v, gamma, data=gamma_gamma_frequency_data(
        frequency, monetary_value, occasions, weight, compress=compress, h=h))


# -- numba backend (nutpie; PyTensor's default FAST_RUN mode) ----------------------------------------
#: folded into PyTensor's cache key of the compiled node, so an edited kernel is never taken from the
#: on-disk cache of an older one
_CACHE_VERSION = cache_version(__file__)


def _register_numba():
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(GammaGammaLogLike)
    def _numba_gamma_gamma(op, node=None, **kwargs):
        kernel = _gamma_gamma_kernel

        @numba_njit
        def gamma_gamma_loglike(p, q, v, xl, Wx, seg, s, w, m2, m3, m4, consts):
            val, g1, g2, g3 = kernel(p.item(), q.item(), v.item(), xl, Wx, seg, s, w, m2, m3, m4, consts)
            return np.array(val), np.array(g1), np.array(g2), np.array(g3)

        return gamma_gamma_loglike, _CACHE_VERSION

    @register_funcify_default_op_cache_key(GammaGammaFrequencyLogLike)
    def _numba_gamma_gamma_frequency(op, node=None, **kwargs):
        kernel = _gamma_gamma_frequency_kernel

        @numba_njit
        def gamma_gamma_frequency_loglike(p, q, v, gamma, xl, lz, Wx, seg, s, w, m2, m3, m4, consts):
            val, g1, g2, g3, g4 = kernel(p.item(), q.item(), v.item(), gamma.item(), xl, lz, Wx, seg, s, w, m2, m3,
                                         m4, consts)
            return np.array(val), np.array(g1), np.array(g2), np.array(g3), np.array(g4)

        return gamma_gamma_frequency_loglike, _CACHE_VERSION


_register_numba()
