r"""Fused log-likelihood + gradient PyTensor Ops for NUTS and MAP (BG/NBD and Gamma-Gamma).

Why. PyTensor differentiates a likelihood graph node by node: every gather ``v[idx]`` of a per-level
quantity becomes a scatter-add in the gradient, every elementwise step keeps its own temporary, and a
logp + gradient evaluation walks the data several times. For the BG/NBD on 340 thousand distinct
triplets that cost 30 to 50 ns per triplet and gradient (numba backend, 10 to 17 ms). Here the
total weighted log-likelihood *and* its gradient with respect to the model's parameters are computed
by one single-threaded numba loop over the data (no ``prange``: nutpie already runs the chains in
parallel threads), with the derivatives written out by hand: about 8 ns per triplet (3 ms).

Where the time goes per triplet: two gathers from per-level tables, one exp and one log1p (the
softplus of d and its derivative, the sigmoid), two divisions and a few multiply-adds. libm's exp and
log1p alone would cost about 10 ns; :func:`_exp_nonpos` and :func:`_log1p_unit` are polynomial
versions (within 2 units in the last place) that LLVM vectorises, so the triplets are processed in
blocks: gathers, then the vectorised softplus/sigmoid, then the block's sums.

How they enter a graph. Each Op takes the parameters (float64 scalars) and the data (constant arrays,
prepared once by :func:`bgnbd_data` / :func:`gamma_gamma_data`) and has ``1 + n_params`` scalar
outputs: the value and its partial derivatives. Its gradient is ``g * d_output`` for each parameter
(and disconnected for the data), so a compiled logp + dlogp function applies the node once and reads
both value and gradient from it. Second derivatives are not implemented: differentiating one of the
derivative outputs raises PyTensor's ``NullTypeGradError`` (NUTS, nutpie and L-BFGS need first
derivatives only).

Backends. ``perform`` calls the same numba kernel from Python (PyTensor's C/Python linkers,
``FAST_COMPILE``); for the numba linker (nutpie, PyMC's own sampler and PyTensor's default
``FAST_RUN`` mode in PyTensor 3) the kernel is registered with
:func:`pytensor.link.numba.dispatch.basic.register_funcify_default_op_cache_key`, so the compiled logp
function calls it natively (no object mode). The registration's cache key carries a hash of this
file, so PyTensor's on-disk cache of compiled graphs never reuses a stale kernel.

Accuracy. The formulas are those of the reference graphs (``_pt_log_likelihood_graph`` in
:mod:`clvmodels.models.bgnbd` and :mod:`clvmodels.models.gamma_gamma`) term for term, with
``math.lgamma`` and :func:`digamma` below (within 1e-14 relative of ``scipy.special.digamma``): value
and gradient agree with those graphs and PyTensor's automatic gradient to about 1e-12 relative or
better (tests/test_likelihood_ops.py). The Gamma-Gamma Op can also take spends binned per frequency
level (:func:`bin_spend`), an approximation with a stated error bound.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.type import TensorType

__all__ = ["digamma", "BetaGeoLogLike", "GammaGammaLogLike", "bgnbd_loglike", "gamma_gamma_loglike",
           "bgnbd_data", "gamma_gamma_data", "bin_spend"]

_JIT = dict(cache=True, error_model="numpy", fastmath=False)

# -- digamma ----------------------------------------------------------------------------------------
#: the positive root of digamma, as a double (hi) plus the rest (lo)
_ROOT_HI = 1.4616321449683622
_ROOT_LO = 9.549995429965697e-17  # x0 = 1.461632144968362341262659542325721328468...
#: Taylor coefficients psi^(k)(x0)/k! at the root x0, k = 1..26 (mpmath, 50 digits); they shrink like
#: 0.684^k, so within |x - x0| < 1/4 the omitted terms are below 1e-17 of the value
_ROOT_TAYLOR = np.array([
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928, -0.0015769367714301972,
    0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602, -0.0003454680251063077,
    0.00023635601564027053, -0.00016170622091974803, 0.0001106337276874741, -7.569179582195066e-05,
    5.178575795222081e-05, -3.5430070947659604e-05,
])


@njit(**_JIT)
def digamma(x):
    """psi(x) = d log Gamma(x) / dx for real x (nan at 0, -1, -2, ...).

    x >= 10: the asymptotic series log x - 1/(2x) - sum_k B_2k / (2k x^2k) through x^-14 (the first
    omitted term is below 5e-17 there); smaller x: the recurrence psi(x) = psi(x + 1) - 1/x up to 10;
    x < 0: the reflection psi(x) = psi(1 - x) - pi / tan(pi x). Within 1/4 of the positive root
    x0 = 1.4616..., where the recurrence's sum cancels, a 26-term Taylor series about x0 keeps the
    relative accuracy. Relative error against scipy.special.digamma below 1e-14 (tests/test_likelihood_ops.py).
    """
    if x != x:
        return x
    if x <= 0.0:
        if x == math.floor(x):
            return math.nan
        return digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    t = (x - _ROOT_HI) - _ROOT_LO
    if abs(t) < 0.25:
        acc = 0.0
        for k in range(_ROOT_TAYLOR.size - 1, -1, -1):
            acc = acc * t + _ROOT_TAYLOR[k]
        return acc * t
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    inv = 1.0 / x
    z = inv * inv
    series = z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (
        691.0 / 32760 - z / 12.0))))))
    return acc + math.log(x) - 0.5 * inv - series


@njit(**_JIT)
def _digamma_many(x, out):
    for i in range(x.size):
        out[i] = digamma(x[i])


# -- exp and log1p that vectorise ------------------------------------------------------------------
# numba calls libm's exp and log1p one element at a time (about 10 ns for the pair). Written out as
# polynomials with the scaling by 2^k done on the bits, LLVM runs them four lanes at a time (AVX2)
# for about a third of that. Both are within 2 units in the last place of libm on their domains.
@intrinsic
def _bits_to_float(typingctx, v):
    if not isinstance(v, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, v):
    if not isinstance(v, types.Float):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of log 2: k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2^52: (u + _ROUND) - _ROUND rounds u to the nearest integer
_BIASED = 4503599627370496.0 + 1023.0  # 2^52 + exponent bias: the low bits of k + _BIASED hold k + 1023


@njit(inline="always", **_JIT)
def _exp_nonpos(y):
    """exp(y) for y <= 0 (arguments below -708 are taken as -708: exp(-708) = 3e-308 stands in for
    anything smaller). Cody-Waite reduction y = k log 2 + r, |r| <= log(2)/2, the degree-13 Taylor
    polynomial of exp(r) (truncation below 5e-18 relative) and 2^k built from its exponent bits."""
    y = max(y, -708.0)
    k = (y * _LOG2E + _ROUND) - _ROUND
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_to_float(_float_to_bits(k + _BIASED) << 52)


@njit(inline="always", **_JIT)
def _log1p_unit(e):
    """log(1 + e) for 0 <= e <= 1: 2 atanh(s), s = e / (2 + e) <= 1/3 (no cancellation), by its
    series 2 s sum_k s^2k / (2k + 1) through k = 17 (truncation below 2e-18 relative)."""
    s = e / (2.0 + e)
    z = s * s
    p = 1.0 / 35
    p = p * z + 1.0 / 33
    p = p * z + 1.0 / 31
    p = p * z + 1.0 / 29
    p = p * z + 1.0 / 27
    p = p * z + 1.0 / 25
    p = p * z + 1.0 / 23
    p = p * z + 1.0 / 21
    p = p * z + 1.0 / 19
    p = p * z + 1.0 / 17
    p = p * z + 1.0 / 15
    p = p * z + 1.0 / 13
    p = p * z + 1.0 / 11
    p = p * z + 1.0 / 9
    p = p * z + 1.0 / 7
    p = p * z + 1.0 / 5
    p = p * z + 1.0 / 3
    return 2.0 * s + (2.0 * s) * (z * p)


@njit(**_JIT)
def _exp_log1p_many(y, out_exp, out_log1p):
    """Test hook: _exp_nonpos(y) and _log1p_unit of it, elementwise."""
    for i in range(y.size):
        e = _exp_nonpos(y[i])
        out_exp[i] = e
        out_log1p[i] = _log1p_unit(e)


# -- BG/NBD -----------------------------------------------------------------------------------------
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


# -- Gamma-Gamma ------------------------------------------------------------------------------------
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


def _factorize(values):
    """(codes, sorted distinct values) of a float array."""
    uniq, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64).ravel(), uniq.astype(np.float64)


# -- the Ops ----------------------------------------------------------------------------------------
_scalar = TensorType("float64", shape=())


class _FusedLogLike(Op):
    """Base: inputs (params..., data...), outputs (value, d value / d param for each param)."""

    __props__ = ()
    param_names: tuple[str, ...] = ()
    data_names: tuple[str, ...] = ()

    @staticmethod
    def _kernel(*args):  # pragma: no cover - set by subclasses
        raise NotImplementedError

    def make_node(self, *inputs):
        n, m = len(self.param_names), len(self.data_names)
        if len(inputs) != n + m:
            names = ", ".join(self.param_names + self.data_names)
            raise TypeError(f"{type(self).__name__} takes {n + m} inputs ({names}), got {len(inputs)}")
        params = []
        for name, v in zip(self.param_names, inputs[:n]):
            v = pt.as_tensor_variable(v)
            if v.ndim != 0:
                raise TypeError(f"{type(self).__name__}: parameter {name} must be a scalar, got ndim={v.ndim}")
            params.append(v if v.dtype == "float64" else pt.cast(v, "float64"))
        data = [pt.as_tensor_variable(d) for d in inputs[n:]]
        return Apply(self, params + data, [_scalar() for _ in range(n + 1)])

    def perform(self, node, inputs, output_storage):
        n = len(self.param_names)
        res = type(self)._kernel(*(float(v) for v in inputs[:n]), *inputs[n:])
        for store, value in zip(output_storage, res):
            store[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node, input_shapes):
        return [()] * len(node.outputs)

    def connection_pattern(self, node):
        n, k = len(self.param_names), len(node.outputs)
        return [[True] * k for _ in range(n)] + [[False] * k for _ in range(len(node.inputs) - n)]

    def pullback(self, inputs, outputs, cotangents):
        """d cost / d param = g * (d value / d param), g the cotangent of the value. The derivative
        outputs have no gradient of their own (no second derivatives): asking for one is an error."""
        n = len(self.param_names)
        g = cotangents[0]
        second = [not isinstance(c.type, DisconnectedType) for c in cotangents[1:]]
        out = []
        for i in range(n):
            if any(second):
                out.append(grad_not_implemented(
                    self, i, inputs[i], "second derivatives of the fused log-likelihood are not implemented"))
            elif isinstance(g.type, DisconnectedType):
                out.append(disconnected_type())
            else:
                out.append(g * outputs[1 + i])
        out.extend(disconnected_type() for _ in inputs[n:])
        return out


class BetaGeoLogLike(_FusedLogLike):
    """Total weighted BG/NBD log-likelihood and its gradient (see :func:`bgnbd_loglike`)."""

    param_names = ("r", "alpha", "a", "b")
    data_names = ("x_levels", "W_x", "seg", "T_levels", "W_T", "X_T", "recency_levels", "T_index",
                  "recency_index", "weight")
    _kernel = staticmethod(_bgnbd_kernel)


class GammaGammaLogLike(_FusedLogLike):
    """Total weighted Gamma-Gamma log-likelihood and its gradient (see :func:`gamma_gamma_loglike`)."""

    param_names = ("p", "q", "v")
    data_names = ("x_levels", "W_x", "seg", "s", "w", "M2", "M3", "M4", "consts")
    _kernel = staticmethod(_gamma_gamma_kernel)


def bgnbd_loglike(r, alpha, a, b, triplets):
    """sum_i w_i log L_i of the BG/NBD (FHL eq. 6) over a :class:`~clvmodels.models.triplets.Triplets`,
    as a PyTensor scalar computed by :class:`BetaGeoLogLike` (value and gradient in one pass)."""
    data = [pt.constant(d) for d in bgnbd_data(triplets)]
    return BetaGeoLogLike()(r, alpha, a, b, *data)[0]


def gamma_gamma_loglike(p, q, v, frequency, monetary_value, weight=None, *, compress="auto",
                        h: float = GG_BIN_WIDTH):
    """sum_i w_i log f(zbar_i | p, q, v, x_i) of the Gamma-Gamma model as a PyTensor scalar computed
    by :class:`GammaGammaLogLike` (value and gradient in one pass). See
    :func:`clvmodels.models.gamma_gamma.pt_log_likelihood` for ``compress`` and ``h``."""
    data = [pt.constant(d) for d in gamma_gamma_data(frequency, monetary_value, weight, compress=compress, h=h)]
    return GammaGammaLogLike()(p, q, v, *data)[0]


# -- numba backend (nutpie; PyTensor's default FAST_RUN mode) ----------------------------------------
#: folded into PyTensor's cache key of the compiled node, so an edited kernel is never taken from the
#: on-disk cache of an older one
_CACHE_VERSION = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)


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

    @register_funcify_default_op_cache_key(GammaGammaLogLike)
    def _numba_gamma_gamma(op, node=None, **kwargs):
        kernel = _gamma_gamma_kernel

        @numba_njit
        def gamma_gamma_loglike(p, q, v, xl, Wx, seg, s, w, m2, m3, m4, consts):
            val, g1, g2, g3 = kernel(p.item(), q.item(), v.item(), xl, Wx, seg, s, w, m2, m3, m4, consts)
            return np.array(val), np.array(g1), np.array(g2), np.array(g3)

        return gamma_gamma_loglike, _CACHE_VERSION


_register_numba()
