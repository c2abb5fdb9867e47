r"""BG/NBD scoring: what the scoring computation (:mod:`clvmodels.scoring.arrays`) needs of this model, per
(distinct triplet, posterior draw), in the factorised form of the transaction-model protocol
(:class:`clvmodels.models.protocol.TripletScores`).

Given the data and that she is alive at T, a customer's future is that of a new customer with
lambda ~ Gamma(r + x, rate alpha + T) and p ~ Beta(a, b + x) (see :mod:`.math`). So every conditional
quantity is P(alive | x, t_x, T) -- one exponential per (draw, triplet) -- times a quantity that depends
on the *level* (x, T) only: the expected purchases in the next h periods, the discounted sums behind
the CLV, the count distribution. The expensive terms (Gauss hypergeometric functions, count
distributions) are computed per (draw, distinct (x, T)), of which there are 10 to 20 times fewer than
distinct triplets.

For fixed (draw, x) the expected purchases E(t) of a customer alive now depend on (T, t) only through
w = log(1 + t/(alpha + T)) (they are a function of z = t/(alpha + T + t) = 1 - exp(-w)). As a function
of w, E is analytic in the strip |Im w| < pi (its only singularities come from 2F1's branch cut
z >= 1, i.e. w = u +- i pi), so a Chebyshev interpolant in w on [0, W] converges geometrically fast
(about 5^-n): 16 to 32 evaluations of the exact closed form per (draw, x) give E at every (T, period)
to about 1e-12 relative, checked per (draw, x) from the size of the last coefficients (when the check
fails, E is evaluated exactly instead, never silently approximated). The same holds for the
probability of still being alive after t more periods. With one interval [0, W] per draw, the
discounted sum over the H periods of the CLV is taken once per (draw, T) on the Chebyshev polynomials
themselves, and each (draw, x, T) costs one dot product of its coefficients with those sums, instead of
H hypergeometric functions. With many distinct T (a hand-built summary with continuous T: one per
customer) those per-T sums would cost H basis evaluations per customer and draw; above 64 distinct T
the discounted sums of each (draw, x) are instead Chebyshev series in log(alpha + T), fitted at a few
nodes (:func:`_xt_kernel`). The direct formulas of :mod:`.math` are the tests' reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..numerics.chebyshev import _cheb_basis, _cheb_coef, _cheb_eval
from ..numerics.quantiles import count_intervals
from ..numerics.special import _NO_CONVERGENCE, _hyp2f1_1, _report
from ..protocol import TripletScores
from ..scorer import DrawsScorer
from . import math as _math
from .math import _alive_expected1

#: Chebyshev degree bounds (a series has converged when its last coefficients are below 1e-13 of its
#: largest value: numerics.chebyshev.CHEB_TOL)
_CHEB_N0 = 16
_CHEB_NMAX = 128
#: distinct T levels in a block above which the CLV's discounted sums (PV, APV) are interpolated over T
#: (below, each T level's basis sums are taken exactly: H basis evaluations per level and draw), and the
#: node counts of that interpolation (doubled from the first until converged, else exact per row)
_T_INTERP_MIN = 64
_T_N0 = 16
_T_NMAX = 128


# -- quantities of a customer alive now, as functions of w = log(1 + t/A0) -----------------------------
@njit(cache=True, error_model="numpy")
def _alive_survival1(R, a, B, t):
    """P(no drop-out in the next t | alive), lambda ~ Gamma(R, rate 1), p ~ Beta(a, B):
    (1 + t)^-a 2F1(a, a + B - R; a + B; t/(1 + t)) (see ``bgnbd._alive_survival``)."""
    if t == 0.0:
        return 1.0, 0
    v, ls, st = _hyp2f1_1(a, a + B - R, a + B, t / (1.0 + t), 1.0 / (1.0 + t))
    return v * math.exp(-a * math.log1p(t) + ls), st


@njit(cache=True, error_model="numpy")
def _exact(kind, R, A0, a, B, t):
    if kind == 0:
        return _alive_expected1(R, A0, a, B, t)
    return _alive_survival1(R, a, B, t / A0)


@njit(cache=True, error_model="numpy")
def _cheb_fit(kind, R, a, B, W, coef, vals):
    """Chebyshev coefficients (into ``coef``) of f(w) on [0, W], f = E (kind 0) or the survival
    (kind 1) of a customer alive now, at first-kind Chebyshev nodes. Doubles the degree from 16 until the
    last three coefficients are below 1e-13 of max |f|; returns (n, status), n = 0 if never converged."""
    n = _CHEB_N0
    st = 0
    while n <= coef.size:
        fmax = 0.0
        for j in range(n):
            xj = math.cos(math.pi * (j + 0.5) / n)
            v, s1 = _exact(kind, R, 1.0, a, B, math.expm1(0.5 * W * (1.0 + xj)))
            vals[j] = v
            st = max(st, s1)
            fmax = max(fmax, abs(v))
        if _cheb_coef(vals, n, coef, fmax):
            return n, st
        n *= 2
    return 0, st


@njit(cache=True, error_model="numpy", inline="always")
def _period_sums(A0, W, nmax, k0, H, disc, prev, cur, DP, DA):
    """The CLV's sums over periods on the Chebyshev basis, at one A0 = alpha + T:
    DP[m] = sum_{k=k0+1}^{H} disc[k] (T_m(u_k) - T_m(u_(k-1))) and DA[m] = sum_k disc[k] T_m(u_(k-1)),
    u_k = 2 log(1 + k/A0)/W - 1 (the image of w in [-1, 1]), m < nmax: H basis evaluations."""
    for m in range(nmax):
        DP[m] = 0.0
        DA[m] = 0.0
    _cheb_basis(-1.0, nmax, prev)  # w = 0
    if k0 > 0:
        _cheb_basis(2.0 * math.log1p(k0 / A0) / W - 1.0, nmax, prev)
    for k in range(k0 + 1, H + 1):
        _cheb_basis(2.0 * math.log1p(k / A0) / W - 1.0, nmax, cur)
        dk = disc[k]
        for m in range(nmax):
            DP[m] += dk * (cur[m] - prev[m])
            DA[m] += dk * prev[m]
            prev[m] = cur[m]


@njit(cache=True, error_model="numpy", inline="always")
def _dot(c, D, n):
    acc = 0.0
    for m in range(n):
        acc += c[m] * D[m]
    return acc


@njit(cache=True, error_model="numpy", inline="always")
def _level_series(c, D, n, nn, fv, out):
    """A frequency level's sums as a series in v: its values at the nn nodes (each row of ``D`` dotted with
    the level's first ``n`` coefficients ``c``) into Chebyshev coefficients ``out``; True when converged."""
    fmax = 0.0
    for j in range(nn):
        fv[j] = _dot(c, D[j], n)
        fmax = max(fmax, abs(fv[j]))
    return _cheb_coef(fv, nn, out, fmax)


@njit(cache=True, error_model="numpy", parallel=True)
def _xt_kernel(r, alpha, a, b, lev_x, lev_start, xt_T, T_lev, xt_Tidx, h, k0, H, disc, want_pv, want_alive,
               EH, PV, APV, status, nsums):
    """Per (distinct (x, T) row j, draw s), for a customer alive at T:
    EH[j, s] = E[purchases in (T, T + h]], PV[j, s] = sum_{k=k0+1}^{H} disc[k] (E(k) - E(k-1)) and
    APV[j, s] = sum_{k=k0+1}^{H} disc[k] P(alive at T + k - 1). Rows lev_start[g]..lev_start[g+1]-1 have
    frequency lev_x[g]; row j's T is T_lev[xt_Tidx[j]]. nsums[s]: how many times the period sums
    (:func:`_period_sums`, H basis evaluations each) were taken for draw s.

    Per draw, E and the survival of each frequency level are Chebyshev series in w on one interval
    [0, W] (W = log(1 + max horizon/(alpha + smallest T))), so the sums over periods are taken on the
    basis polynomials (D_m = sum_k disc[k] (T_m(u_k) - T_m(u_(k-1))), u the image of w in [-1, 1]) and
    each (x, T) row costs a dot product of its level's coefficients with D. With at most
    ``_T_INTERP_MIN`` distinct T, D is taken at every T level. With more (arbitrary continuous T: one
    level per customer, H basis evaluations each), PV and APV of each frequency level are themselves
    Chebyshev series in v = log(alpha + T) on [log(alpha + T_min), log(alpha + T_max)], fitted from D
    at 16, 32, ... 128 nodes until their last coefficients are below 1e-13 of their largest value
    (both are analytic in v for |Im v| < pi: their singularities are at alpha + T <= 0), so D is taken
    at a fixed number of nodes per draw whatever the number of distinct T; a level whose series does
    not converge is summed exactly at each of its rows."""
    S = r.size
    G = lev_x.size
    nT = T_lev.size
    Hmax = max(float(H), h)
    Tmin = T_lev.min()
    Tmax = T_lev.max()
    sums = want_pv or want_alive
    interp = sums and nT > _T_INTERP_MIN
    for s in prange(S):
        W = math.log1p(Hmax / (alpha[s] + Tmin))
        if W == 0.0:
            W = 1.0
        coefE = np.empty((G, _CHEB_NMAX))
        coefS = np.empty((G, _CHEB_NMAX))
        nE = np.zeros(G, dtype=np.int64)
        nS = np.zeros(G, dtype=np.int64)
        vals = np.empty(_CHEB_NMAX)
        st = 0
        nmax = 1
        ns_s = 0
        for g in range(G):
            R = r[s] + lev_x[g]
            B = b[s] + lev_x[g]
            nE[g], s1 = _cheb_fit(0, R, a[s], B, W, coefE[g], vals)
            st = max(st, s1)
            nmax = max(nmax, nE[g])
            if want_alive:
                nS[g], s1 = _cheb_fit(1, R, a[s], B, W, coefS[g], vals)
                st = max(st, s1)
                nmax = max(nmax, nS[g])
        cur = np.empty(nmax)
        prev = np.empty(nmax)
        # the horizon h: one basis evaluation per T level
        DH = np.empty((nT, nmax))
        for it in range(nT):
            A0 = alpha[s] + T_lev[it]
            _cheb_basis(-1.0, nmax, prev)  # w = 0
            _cheb_basis(2.0 * math.log1p(h / A0) / W - 1.0, nmax, cur)
            for m in range(nmax):
                DH[it, m] = cur[m] - prev[m]
        # the CLV's period sums: exactly per T level, or (interp) PV and APV as series in v per frequency level
        DP = np.zeros((0 if interp else nT, nmax))
        DA = np.zeros((0 if interp else nT, nmax))
        if sums and not interp:
            for it in range(nT):
                _period_sums(alpha[s] + T_lev[it], W, nmax, k0, H, disc, prev, cur, DP[it], DA[it])
            ns_s += nT
        cP = np.empty((G if interp else 0, _T_NMAX))
        cA = np.empty((G if interp else 0, _T_NMAX))
        nP = np.zeros(G, dtype=np.int64)
        nA = np.zeros(G, dtype=np.int64)
        v0 = math.log(alpha[s] + Tmin)
        vh = 0.5 * (math.log(alpha[s] + Tmax) - v0)
        if interp:
            nn = _T_N0
            DPn = np.empty((_T_NMAX, nmax))
            DAn = np.empty((_T_NMAX, nmax))
            fv = np.empty(_T_NMAX)
            while nn <= _T_NMAX:
                todo = False
                for g in range(G):
                    if (want_pv and nE[g] > 0 and nP[g] == 0) or (want_alive and nS[g] > 0 and nA[g] == 0):
                        todo = True
                if not todo:
                    break
                for j in range(nn):
                    vj = v0 + vh * (1.0 + math.cos(math.pi * (j + 0.5) / nn))
                    _period_sums(math.exp(vj), W, nmax, k0, H, disc, prev, cur, DPn[j], DAn[j])
                ns_s += nn
                for g in range(G):  # discounted purchases (PV) and alive periods (APV) alike
                    if want_pv and nE[g] > 0 and nP[g] == 0 and _level_series(coefE[g], DPn, nE[g], nn, fv, cP[g]):
                        nP[g] = nn
                    if want_alive and nS[g] > 0 and nA[g] == 0 and _level_series(coefS[g], DAn, nS[g], nn, fv,
                                                                                 cA[g]):
                        nA[g] = nn
                nn *= 2
        Dp1 = np.empty(nmax)  # a row's own period sums, where its level's series in v did not converge
        Da1 = np.empty(nmax)
        for g in range(G):
            R = r[s] + lev_x[g]
            B = b[s] + lev_x[g]
            ng = nE[g]
            ns = nS[g]
            for j in range(lev_start[g], lev_start[g + 1]):
                it = xt_Tidx[j]
                A0 = alpha[s] + xt_T[j]
                uv = (math.log(A0) - v0) / vh - 1.0 if interp else 0.0
                own = interp and ((want_pv and ng > 0 and nP[g] == 0) or (want_alive and ns > 0 and nA[g] == 0))
                if own:
                    _period_sums(A0, W, nmax, k0, H, disc, prev, cur, Dp1, Da1)
                    ns_s += 1
                if ng > 0:
                    EH[j, s] = _dot(coefE[g], DH[it], ng)
                    if want_pv:
                        if not interp:
                            PV[j, s] = _dot(coefE[g], DP[it], ng)
                        elif nP[g] > 0:
                            PV[j, s] = _cheb_eval(cP[g], nP[g], uv)
                        else:
                            PV[j, s] = _dot(coefE[g], Dp1, ng)
                else:  # no convergent interpolant: the exact closed form at every period
                    EH[j, s], s1 = _exact(0, R, A0, a[s], B, h)
                    st = max(st, s1)
                    if want_pv:
                        acc = 0.0
                        fprev = 0.0
                        if k0 > 0:
                            fprev, s1 = _exact(0, R, A0, a[s], B, float(k0))
                        for k in range(k0 + 1, H + 1):
                            fk, s1 = _exact(0, R, A0, a[s], B, float(k))
                            st = max(st, s1)
                            acc += disc[k] * (fk - fprev)
                            fprev = fk
                        PV[j, s] = acc
                if want_alive:
                    if ns > 0:
                        if not interp:
                            APV[j, s] = _dot(coefS[g], DA[it], ns)
                        elif nA[g] > 0:
                            APV[j, s] = _cheb_eval(cA[g], nA[g], uv)
                        else:
                            APV[j, s] = _dot(coefS[g], Da1, ns)
                    else:
                        acc = 0.0
                        for k in range(k0 + 1, H + 1):
                            fk, s1 = _exact(1, R, A0, a[s], B, float(k - 1))
                            st = max(st, s1)
                            acc += disc[k] * fk
                        APV[j, s] = acc
        status[s] = st
        nsums[s] = ns_s


# -- per triplet and per customer -------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def _alive_kernel(r, alpha, a, b, x, tx, T, PA):
    """PA[i, s] = P(alive at T | triplet i, draw s) (FHL 2008), in the form that neither overflows nor
    cancels: 1 / (1 + a/(b + x - 1) ((alpha + T)/(alpha + t_x))^(r + x)) for x > 0, else 1."""
    S = r.size
    for i in prange(x.size):
        xi = x[i]
        for s in range(S):
            if xi > 0.0:
                d = math.log(a[s] / (b[s] + xi - 1.0)) + (r[s] + xi) * math.log1p((T[i] - tx[i]) / (alpha[s] + tx[i]))
                if d > 0.0:
                    e = math.exp(-d)
                    pa = e / (1.0 + e)
                else:
                    pa = 1.0 / (1.0 + math.exp(d))
            else:
                pa = 1.0
            PA[i, s] = pa


@njit(cache=True, error_model="numpy", parallel=True)
def _alive_pmf_head(R, A0, a, B, t, pmf):
    """pmf[i, k] = P(k purchases in the next t | alive), k = 0..K, lambda ~ Gamma(R, rate A0),
    p ~ Beta(a, B) (the formula of ``bgnbd._alive_pmf``) in one forward pass: NB(k) by its ratio
    recurrence, P(N >= k) as 1 - sum_{j<k} NB(j). Absolute accuracy (about 1e-15), which is what a
    CDF compared with a quantile level needs; ``bgnbd._alive_pmf`` keeps small tails' relative
    accuracy at several times the cost."""
    K1 = pmf.shape[1]
    for i in prange(R.size):
        Ri, ai, Bi = R[i], a[i], B[i]
        z = t[i] / (A0[i] + t[i])            # 1 - q
        lnb = Ri * -math.log1p(t[i] / A0[i])  # log NB(0) = R log q
        nb = math.exp(lnb)
        logspace = nb < 1e-250              # q^R underflows: keep NB in logs
        cdf_n = 0.0
        br = 1.0
        for k in range(K1):
            if k > 0:
                if logspace:
                    lnb += math.log((Ri + k - 1.0) / k * z)
                    nb = math.exp(lnb)
                else:
                    nb *= (Ri + k - 1.0) / k * z
                sf = max(1.0 - cdf_n, 0.0)  # P(N >= k)
                drop = ai / (ai + Bi + k - 1.0) * br * sf
                br *= (Bi + k - 1.0) / (ai + Bi + k - 1.0)
                pmf[i, k] = br * nb + drop
            else:
                pmf[i, 0] = nb
            cdf_n += nb


def _levels(xs: np.ndarray):
    """Frequency levels of rows sorted by frequency: values and start offsets (one past the end last)."""
    start = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    return xs[start], np.r_[start, len(xs)].astype(np.int64)


def xt_paths(bg_draws, xs, Ts, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
             want_alive: bool = False):
    """For (x, T) rows sorted by (x, T) and S draws: (EH, PV, APV), each (rows, S), see :func:`_xt_kernel`.
    Times in the model's unit; ``disc[k]`` the discount factor of period k (k = 0..H)."""
    return _xt_paths(bg_draws, xs, Ts, h, k0, H, disc, want_pv, want_alive)[:3]


def _xt_paths(bg_draws, xs, Ts, h, k0=0, H=0, disc=None, want_pv=False, want_alive=False):
    """:func:`xt_paths` and, last, the number of times per draw the period sums were taken (S,): the
    distinct T levels, or with more than ``_T_INTERP_MIN`` of them the interpolation nodes (the work that
    must not grow with the number of distinct T)."""
    r, alpha, a, b = (np.ascontiguousarray(bg_draws[k], dtype=float) for k in ("r", "alpha", "a", "b"))
    xs = np.asarray(xs, float)
    Ts = np.asarray(Ts, float)
    n, S = len(xs), len(r)
    lev_x, lev_start = _levels(xs)
    T_lev, T_idx = np.unique(Ts, return_inverse=True)
    if len(xs) > 1 and np.any((np.diff(xs) < 0) | ((np.diff(xs) == 0) & (np.diff(Ts) < 0))):
        raise ValueError("xt_paths needs rows sorted by (x, T)")
    EH = np.empty((n, S))
    PV = np.empty((n, S)) if want_pv else np.empty((0, 0))
    APV = np.empty((n, S)) if want_alive else np.empty((0, 0))
    disc = np.zeros(H + 1) if disc is None else np.ascontiguousarray(disc, dtype=float)
    status = np.zeros(S, dtype=np.int64)
    nsums = np.zeros(S, dtype=np.int64)
    _xt_kernel(r, alpha, a, b, lev_x, lev_start, Ts, T_lev, T_idx.astype(np.int64), float(h), int(k0), int(H), disc,
               bool(want_pv), bool(want_alive), EH, PV, APV, status, nsums)
    _report(status, "BG/NBD expected purchases")
    failed = status == _NO_CONVERGENCE
    if failed.any():  # a draw whose series did not converge gives NaN, never a silently wrong number
        for arr in (EH, PV, APV):
            if arr.size:
                arr[:, failed] = np.nan
    return EH, PV, APV, nsums


def _count_block(bg_draws, PA, rows, xs, Ts, xt_rows, h, q_lo, q_hi, budget_bytes, out):
    """Count intervals for triplets ``rows`` (indices into PA) whose (x, T) rows are ``xt_rows`` (into
    xs/Ts, sorted): :func:`clvmodels.models.numerics.quantiles.count_intervals` with the BG/NBD's pmf of
    the purchases of a customer alive at T (the head of FHL eq. 8 at the updated parameters)."""
    r, alpha, a, b = (np.asarray(bg_draws[k], dtype=float) for k in ("r", "alpha", "a", "b"))
    S = len(r)

    def alive_pmf(blk, K):
        nb = len(blk)
        R = (r[None, :] + xs[blk, None]).ravel()
        A0 = (alpha[None, :] + Ts[blk, None]).ravel()
        aa = np.broadcast_to(a[None, :], (nb, S)).ravel().copy()
        B = (b[None, :] + xs[blk, None]).ravel()
        pmf = np.empty((nb * S, K + 1))
        _alive_pmf_head(R, A0, aa, B, np.full(nb * S, float(h)), pmf)
        return pmf.reshape(nb, S, K + 1)

    count_intervals(r, alpha, PA, rows, xs, Ts, xt_rows, h, q_lo, q_hi, budget_bytes, out, alive_pmf)


def alive_any_purchase(r, alpha, lx, lT, h: float) -> np.ndarray:
    """(levels, S) P(at least one purchase in (T, T + h] | alive at T) at level (x, T) and draw s: the
    customer alive at T buys at lambda ~ Gamma(r + x, rate alpha + T) and can drop out only right after
    a purchase, so no purchase means no Poisson event: 1 - ((alpha + T)/(alpha + T + h))^(r + x)
    (FHL 2005 eq. 8 at k = 0 for the updated parameters), as -expm1 for accuracy at small h."""
    R = np.asarray(r, float)[None, :] + np.asarray(lx, float)[:, None]
    A0 = np.asarray(alpha, float)[None, :] + np.asarray(lT, float)[:, None]
    return -np.expm1(-R * np.log1p(float(h) / A0))


@dataclass(frozen=True)
class BetaGeoDraws(DrawsScorer):
    """S posterior draws of (r, alpha, a, b), scored by the scoring computation through
    :meth:`score_triplets` (the transaction-model protocol)."""

    r: np.ndarray
    alpha: np.ndarray
    a: np.ndarray
    b: np.ndarray
    math = _math  # the mathematics DrawsScorer calls (a class attribute, not a field)

    def score_triplets(self, x, tx, T, *, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
                       want_alive: bool = False, counts: bool = True, q_lo: float = 0.05, q_hi: float = 0.95,
                       budget_bytes: int) -> TripletScores:
        """Triplets (x, t_x, T) sorted by (x, T, t_x): P(alive) per (triplet, draw) and, per level (x, T),
        the quantities of a customer alive at T (see :class:`~clvmodels.models.protocol.TripletScores`)."""
        x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
        new = np.r_[True, (x[1:] != x[:-1]) | (T[1:] != T[:-1])] if len(x) else np.zeros(0, bool)
        level_of = (np.cumsum(new) - 1).astype(np.int64)
        lx, lT = x[new], T[new]
        draws = self.as_dict()
        EH, PV, APV = xt_paths(draws, lx, lT, h, k0, H, disc, want_pv=want_pv, want_alive=want_alive)
        PA = np.empty((len(x), self.n_draws))
        _alive_kernel(self.r, self.alpha, self.a, self.b, x, tx, T, PA)
        count = None
        if counts:
            count = np.empty((len(x), 3))
            _count_block(draws, PA, np.arange(len(x)), lx, lT, level_of, h, q_lo, q_hi, budget_bytes, count)
        return TripletScores(alive=PA, level_of=level_of, expected=EH, pv=PV, alive_pv=APV, counts=count,
                             any_purchase=alive_any_purchase(self.r, self.alpha, lx, lT, h))

    # the mathematics at these draws (p_alive, expected_purchases, ..., present_values) is DrawsScorer's,
    # calling .math; what is this model's own beyond score_triplets is its story
    def simulate_holdout(self, x, tx, T, h: float, rng) -> np.ndarray:
        """One posterior-predictive draw of the purchases in (T, T + h] per (draw, row), from the
        generative story: alive at T with P(alive); given alive, lambda ~ Gamma(r + x, alpha + T) and
        p ~ Beta(a, b + x); the count is min(Poisson(lambda h), Geometric(p)) (the purchase after which
        the customer drops out still happens). Integer array (S, rows)."""
        r, alpha, a, b = self._cols()
        shape = np.broadcast_shapes(r.shape, np.shape(x))
        alive = rng.uniform(size=shape) < _math.p_alive(r, alpha, a, b, x, tx, T)
        lam = rng.gamma(r + x, 1.0 / (alpha + T), size=shape)
        drop = rng.beta(a * np.ones(shape), b + x)
        n_potential = rng.poisson(lam * h)
        n_until_drop = rng.geometric(np.clip(drop, 1e-12, 1.0))
        return np.where(alive, np.minimum(n_potential, n_until_drop), 0)
