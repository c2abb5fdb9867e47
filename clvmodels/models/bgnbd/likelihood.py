r"""The BG/NBD's fused log-likelihood + gradient Op, for NUTS and MAP (the machinery it shares with the
other models' Ops is in :mod:`clvmodels.models.numerics.fused_op`).

:func:`bgnbd_loglike` puts one :class:`BetaGeoLogLike` node into a PyMC model: the total weighted
log-likelihood of the triplets and its gradient in (r, alpha, a, b) from one numba loop
(:func:`_bgnbd_kernel`) over the constant arrays :func:`bgnbd_data` prepares once.

Where the time goes per triplet: two gathers from per-level tables, one exp and one log1p (the
softplus of d and its derivative, the sigmoid), two divisions and a few multiply-adds. libm's exp and
log1p alone would cost more per triplet than the whole vectorised loop; ``_exp_nonpos`` and
``_log1p_unit`` (in ``fused_op``) are polynomial versions that LLVM vectorises, so the triplets are
processed in blocks: gathers, then the vectorised softplus/sigmoid, then the block's sums. The cost
per triplet for value and gradient is in benchmarks/README.md, section "BG/NBD fit".

Accuracy. The formulas are those of the reference graph (``_pt_log_likelihood_graph`` in
:mod:`clvmodels.models.bgnbd.math`) term for term, with ``math.lgamma`` and ``fused_op.digamma``: value
and gradient agree with that graph and PyTensor's automatic gradient to about 1e-12 relative or
better (tests/models/test_likelihood_ops.py).

This module registers the Op's numba implementation (for nutpie and the numba linker) when imported.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..numerics.fused_op import _JIT, _FusedLogLike, _exp_nonpos, _log1p_unit, cache_version, digamma

__all__ = ["BetaGeoLogLike", "bgnbd_loglike", "bgnbd_data"]


# -- the kernel and its data -------------------------------------------------------------------------
_BLOCK = 256  # triplets per block: the block's buffers stay in the L1 cache


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _softplus_block(c, rx, delta, w, start, n, wsp, wsig):
    """wsp[j] = w softplus(d), wsig[j] = w sigmoid(d) for d = c + rx delta[j], w = w[start + j].
    Branch-free and vectorised (contract: a * b + c may be one fused multiply-add)."""
    for j in range(n):
        d = c + rx * delta[j]
        e = _exp_nonpos(-abs(d))
        lg = _log1p_unit(e)
        inv = 1.0 / (1.0 + e)
        wj = w[start + j]
        if d > 0.0:
            wsp[j] = wj * (d + lg)
            wsig[j] = wj * inv
        else:
            wsp[j] = wj * lg
            wsig[j] = wj * (e * inv)


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _block_sums(wsp, wsig, delta, dinv, n):
    """sum wsp, sum wsig, sum wsig delta, sum wsig dinv over the block (reassoc: summed in vector lanes)."""
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    for j in range(n):
        s1 += wsp[j]
        s2 += wsig[j]
        s3 += wsig[j] * delta[j]
        s4 += wsig[j] * dinv[j]
    return s1, s2, s3, s4


@njit(**_JIT)
def _bgnbd_kernel(r, alpha, a, b, xl, Wx, seg, Tl, WT, XT, rl, tidx, ridx, w):
    """Total weighted BG/NBD log-likelihood and its gradient in (r, alpha, a, b).

    The decomposition of :func:`clvmodels.models.bgnbd.pt_log_likelihood`:
        sum_x W_x [lgamma(r + x) + lgamma(b + x) - lgamma(a + b + x)]
        + N [-lgamma(r) + r log alpha - lgamma(b) + lgamma(a + b)]
        - sum_T (r W_T + X_T) log(alpha + T) + sum_{i: x_i > 0} w_i softplus(d_i),
        d_i = log a - log(b + x_i - 1) + (r + x_i) (log(alpha + T_i) - log(alpha + t_x,i)).
    With s_i = sigmoid(d_i) = d softplus(d_i)/d d_i, the softplus part adds
        d/dr: sum w s delta,  d/dalpha: sum w s (r + x) (1/(alpha + T) - 1/(alpha + t_x)),
        d/da: sum w s / a,    d/db: -sum w s / (b + x - 1),
    with delta = log(alpha + T) - log(alpha + t_x). The triplets with x > 0 come grouped by frequency
    level (``seg[k]:seg[k+1]`` holds level k), so per triplet there remain gathers from the per-level
    tables, one exp, one log1p, two divisions and a few multiply-adds, done in blocks of ``_BLOCK``
    triplets so that the exp/log1p/sum loops run in vector lanes.
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
            psi_abx = digamma(a + b + x)
            val += W * (math.lgamma(r + x) + math.lgamma(b + x) - math.lgamma(a + b + x))
            gr += W * digamma(r + x)
            ga -= W * psi_abx
            gb += W * (digamma(b + x) - psi_abx)
        lo = seg[k]
        hi = seg[k + 1]
        if hi > lo:
            rx = r + x
            bx1 = b + x - 1.0
            c = log_a - math.log(bx1)
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
                gb -= ss / bx1
    log_alpha = math.log(alpha)
    psi_ab = digamma(a + b)
    val += n_tot * (-math.lgamma(r) + r * log_alpha - math.lgamma(b) + math.lgamma(a + b))
    gr += n_tot * (log_alpha - digamma(r))
    gal += n_tot * r / alpha
    ga += n_tot * psi_ab
    gb += n_tot * (psi_ab - digamma(b))
    return val, gr, gal, ga, gb


def bgnbd_data(triplets) -> tuple[np.ndarray, ...]:
    """The constant arrays :class:`BetaGeoLogLike` takes after (r, alpha, a, b), from a
    :class:`~clvmodels.models.triplets.Triplets`: (x_levels, W_x, seg, T_levels, W_T, X_T,
    recency_levels, T_index, recency_index, weight), the last three for the triplets with x > 0 only,
    grouped by frequency level (``seg``: (n_levels + 1,) offsets of each level's triplets)."""
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
    pos = np.flatnonzero(np.asarray(tr.frequency) > 0)
    # grouped by frequency level, then by T and recency (the Triplets order already; kept stable)
    order = pos[np.lexsort((np.asarray(tr.recency_index)[pos], T_index[pos], x_index[pos]))]
    counts = np.bincount(x_index[order], minlength=nx)
    seg = np.zeros(nx + 1, dtype=np.int64)
    np.cumsum(counts, out=seg[1:])
    itype = np.int32 if max(Tl.size, rl.size) < 2 ** 31 else np.int64
    tidx = np.ascontiguousarray(T_index[order], dtype=itype)
    ridx = np.ascontiguousarray(np.asarray(tr.recency_index)[order], dtype=itype)
    wp = np.ascontiguousarray(w[order])
    return xl, Wx, seg, Tl, WT, XT.astype(np.float64), rl, tidx, ridx, wp


# -- the Op -----------------------------------------------------------------------------------------
class BetaGeoLogLike(_FusedLogLike):
    """Total weighted BG/NBD log-likelihood and its gradient (see :func:`bgnbd_loglike`)."""

    param_names = ("r", "alpha", "a", "b")
    data_names = ("x_levels", "W_x", "seg", "T_levels", "W_T", "X_T", "recency_levels", "T_index",
                  "recency_index", "weight")
    _kernel = staticmethod(_bgnbd_kernel)


def bgnbd_loglike(r, alpha, a, b, triplets):
    """sum_i w_i log L_i of the BG/NBD (FHL eq. 6) over a :class:`~clvmodels.models.triplets.Triplets`,
    as a PyTensor scalar computed by :class:`BetaGeoLogLike` (value and gradient in one pass)."""
    return BetaGeoLogLike.total(r, alpha, a, b, data=bgnbd_data(triplets))


# -- numba backend (nutpie; PyTensor's default FAST_RUN mode) ----------------------------------------
#: folded into PyTensor's cache key of the compiled node, so an edited kernel is never taken from the
#: on-disk cache of an older one
_CACHE_VERSION = cache_version(__file__)


def _register_numba():
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(BetaGeoLogLike)
    def _numba_bgnbd(op, node=None, **kwargs):
        kernel = _bgnbd_kernel

        @numba_njit
        def bgnbd_loglike(r, alpha, a, b, xl, Wx, seg, Tl, WT, XT, rl, tidx, ridx, w):
            v, g1, g2, g3, g4 = kernel(r.item(), alpha.item(), a.item(), b.item(), xl, Wx, seg, Tl, WT, XT,
                                       rl, tidx, ridx, w)
            return np.array(v), np.array(g1), np.array(g2), np.array(g3), np.array(g4)

        return bgnbd_loglike, _CACHE_VERSION


_register_numba()
