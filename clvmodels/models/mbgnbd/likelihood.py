r"""The MBG/NBD's fused log-likelihood + gradient Op, for NUTS and MAP (the machinery it shares with the
other models' Ops is in :mod:`clvmodels.models.numerics.fused_op`; the blocked, vectorised softplus and
sums are the BG/NBD's, imported from :mod:`clvmodels.models.bgnbd.likelihood`).

:func:`mbgnbd_loglike` puts one :class:`ModifiedBetaGeoLogLike` node into a PyMC model: the total
weighted log-likelihood of the triplets and its gradient in (r, alpha, a, b) from one numba loop
(:func:`_mbgnbd_kernel`) over the constant arrays :func:`mbgnbd_data` prepares once. It differs from
the BG/NBD's kernel in three places: the beta terms are B(a, b + x + 1)/B(a, b), the log-odds d carries
log(a/(b + x)) instead of log(a/(b + x - 1)), and every triplet, x = 0 included, has a softplus(d)
term (a customer without repeat purchases may have dropped out right after her first purchase).

Accuracy: the formulas of the reference graph (``_pt_log_likelihood_graph`` in
:mod:`clvmodels.models.mbgnbd.math`) term for term, with ``math.lgamma`` and ``fused_op.digamma``
(tests/models/test_mbgnbd_math.py checks value and gradient against that graph, mpmath and finite
differences).

This module registers the Op's numba implementation (for nutpie and the numba linker) when imported.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..bgnbd import likelihood as _bg_likelihood
from ..bgnbd.likelihood import _BLOCK, _block_sums, _softplus_block
from ..numerics.fused_op import _JIT, _FusedLogLike, cache_version, digamma

__all__ = ["ModifiedBetaGeoLogLike", "mbgnbd_loglike", "mbgnbd_data"]


@njit(**_JIT)
def _mbgnbd_kernel(r, alpha, a, b, xl, Wx, seg, Tl, WT, XT, rl, tidx, ridx, w):
    """Total weighted MBG/NBD log-likelihood and its gradient in (r, alpha, a, b).

    The decomposition of :func:`clvmodels.models.mbgnbd.math.pt_log_likelihood`:
        sum_x W_x [lgamma(r + x) + lgamma(b + x + 1) - lgamma(a + b + x + 1)]
        + N [-lgamma(r) + r log alpha - lgamma(b) + lgamma(a + b)]
        - sum_T (r W_T + X_T) log(alpha + T) + sum_i w_i softplus(d_i),
        d_i = log a - log(b + x_i) + (r + x_i) (log(alpha + T_i) - log(alpha + t_x,i)).
    With s_i = sigmoid(d_i), the softplus part adds
        d/dr: sum w s delta,  d/dalpha: sum w s (r + x) (1/(alpha + T) - 1/(alpha + t_x)),
        d/da: sum w s / a,    d/db: -sum w s / (b + x),
    delta = log(alpha + T) - log(alpha + t_x). Triplets come grouped by frequency level (``seg[k]:seg[k+1]``
    holds level k), all of them (x = 0 too), processed in blocks of ``_BLOCK`` so that the exp/log1p/sum
    loops run in vector lanes.
    """
    nT = Tl.size
    nR = rl.size
    laT = np.empty(nT)
    iaT = np.empty(nT)
    val = 0.0
    gr = 0.0
    gal = 0.0
    ga = 0.0
    gb = 0.0
    for j in range(nT):
        u = alpha + Tl[j]
        lu = math.log(u)
        laT[j] = lu
        iaT[j] = 1.0 / u
        c = r * WT[j] + XT[j]
        val -= c * lu
        gr -= WT[j] * lu
        gal -= c / u
    lar = np.empty(nR)
    iar = np.empty(nR)
    for j in range(nR):
        u = alpha + rl[j]
        lar[j] = math.log(u)
        iar[j] = 1.0 / u
    n_tot = 0.0
    log_a = math.log(a)
    delta = np.empty(_BLOCK)
    dinv = np.empty(_BLOCK)
    wsp = np.empty(_BLOCK)
    wsig = np.empty(_BLOCK)
    for k in range(xl.size):
        x = xl[k]
        W = Wx[k]
        n_tot += W
        if W != 0.0:
            psi_abx = digamma(a + b + x + 1.0)
            val += W * (math.lgamma(r + x) + math.lgamma(b + x + 1.0) - math.lgamma(a + b + x + 1.0))
            gr += W * digamma(r + x)
            ga -= W * psi_abx
            gb += W * (digamma(b + x + 1.0) - psi_abx)
        lo = seg[k]
        hi = seg[k + 1]
        if hi > lo:
            rx = r + x
            bx = b + x
            c = log_a - math.log(bx)
            for start in range(lo, hi, _BLOCK):
                n = min(_BLOCK, hi - start)
                for j in range(n):  # gathers from the per-level tables
                    t = tidx[start + j]
                    q = ridx[start + j]
                    delta[j] = laT[t] - lar[q]
                    dinv[j] = iaT[t] - iar[q]
                _softplus_block(c, rx, delta, w, start, n, wsp, wsig)
                sv, ss, sd, sa = _block_sums(wsp, wsig, delta, dinv, n)
                val += sv
                gr += sd
                gal += rx * sa
                ga += ss / a
                gb -= ss / bx
    log_alpha = math.log(alpha)
    psi_ab = digamma(a + b)
    val += n_tot * (-math.lgamma(r) + r * log_alpha - math.lgamma(b) + math.lgamma(a + b))
    gr += n_tot * (log_alpha - digamma(r))
    gal += n_tot * r / alpha
    ga += n_tot * psi_ab
    gb += n_tot * (psi_ab - digamma(b))
    return val, gr, gal, ga, gb


def mbgnbd_data(triplets) -> tuple[np.ndarray, ...]:
    """The constant arrays :class:`ModifiedBetaGeoLogLike` takes after (r, alpha, a, b), from a
    :class:`~clvmodels.models.triplets.Triplets`: (x_levels, W_x, seg, T_levels, W_T, X_T,
    recency_levels, T_index, recency_index, weight), the last three per triplet (every triplet: the
    MBG/NBD's softplus term has no x = 0 exception), grouped by frequency level (``seg``: (n_levels + 1,)
    offsets of each level's triplets)."""
    tr = triplets
    w = np.asarray(tr.weight, dtype=np.float64)
    xl = np.ascontiguousarray(tr.x_levels, dtype=np.float64)
    x_index = np.asarray(tr.x_index, dtype=np.int64)
    nx = xl.size
    Wx = np.bincount(x_index, weights=w, minlength=nx).astype(np.float64)
    Tl = np.ascontiguousarray(tr.T_levels, dtype=np.float64)
    T_index = np.asarray(tr.T_index, dtype=np.int64)
    WT = np.bincount(T_index, weights=w, minlength=Tl.size).astype(np.float64)
    XT = np.bincount(T_index, weights=w * np.asarray(tr.frequency, dtype=np.float64), minlength=Tl.size)
    rl = np.ascontiguousarray(tr.recency_levels, dtype=np.float64)
    rec_index = np.asarray(tr.recency_index, dtype=np.int64)
    # grouped by frequency level, then by T and recency (the Triplets order already; kept stable)
    order = np.lexsort((rec_index, T_index, x_index))
    counts = np.bincount(x_index[order], minlength=nx)
    seg = np.zeros(nx + 1, dtype=np.int64)
    np.cumsum(counts, out=seg[1:])
    itype = np.int32 if max(Tl.size, rl.size) < 2 ** 31 else np.int64
    tidx = np.ascontiguousarray(T_index[order], dtype=itype)
    ridx = np.ascontiguousarray(rec_index[order], dtype=itype)
    wp = np.ascontiguousarray(w[order])
    return xl, Wx, seg, Tl, WT, XT.astype(np.float64), rl, tidx, ridx, wp


class ModifiedBetaGeoLogLike(_FusedLogLike):
    """Total weighted MBG/NBD log-likelihood and its gradient (see :func:`mbgnbd_loglike`)."""

    param_names = ("r", "alpha", "a", "b")
    data_names = ("x_levels", "W_x", "seg", "T_levels", "W_T", "X_T", "recency_levels", "T_index",
                  "recency_index", "weight")
    _kernel = staticmethod(_mbgnbd_kernel)


def mbgnbd_loglike(r, alpha, a, b, triplets):
    """sum_i w_i log L_i of the MBG/NBD over a :class:`~clvmodels.models.triplets.Triplets`, as a
    PyTensor scalar computed by :class:`ModifiedBetaGeoLogLike` (value and gradient in one pass)."""
    return ModifiedBetaGeoLogLike.total(r, alpha, a, b, data=mbgnbd_data(triplets))


# -- numba backend (nutpie; PyTensor's default FAST_RUN mode) ----------------------------------------
#: folded into PyTensor's cache key of the compiled node: this file and the BG/NBD likelihood module
#: whose block helpers the kernel calls, so an edit of either is never taken from an older cache entry
_CACHE_VERSION = cache_version(__file__, _bg_likelihood.__file__)


def _register_numba():
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(ModifiedBetaGeoLogLike)
    def _numba_mbgnbd(op, node=None, **kwargs):
        kernel = _mbgnbd_kernel

        @numba_njit
        def mbgnbd_loglike(r, alpha, a, b, xl, Wx, seg, Tl, WT, XT, rl, tidx, ridx, w):
            v, g1, g2, g3, g4 = kernel(r.item(), alpha.item(), a.item(), b.item(), xl, Wx, seg, Tl, WT, XT,
                                       rl, tidx, ridx, w)
            return np.array(v), np.array(g1), np.array(g2), np.array(g3), np.array(g4)

        return mbgnbd_loglike, _CACHE_VERSION


_register_numba()
