r"""Pareto/NBD scoring: what the scoring computation (:mod:`clvmodels.engine`) needs of this model, per
(distinct triplet, posterior draw), in the factorised form of the transaction-model protocol
(:class:`clvmodels.models.protocol.TripletScores`).

Given the data and that she is alive at T, a customer's future is that of a new customer with
lambda ~ Gamma(r + x, rate alpha + T) and mu ~ Gamma(s, rate beta + T) (see :mod:`.math`). So every
conditional quantity is P(alive | x, t_x, T) times a quantity of the *level* (x, T), and for the
Pareto/NBD those level quantities are closed forms (no hypergeometric function, unlike the BG/NBD):

- expected purchases in (T, T + h]: (r + x)/(alpha + T) times the expected time alive,
  int_0^h (B0/(B0 + u))^s du, B0 = beta + T;
- the discounted sums of the CLV: (r + x)/(alpha + T) times D(T) = sum_k disc[k] int_{k-1}^{k}
  (B0/(B0 + u))^s du, and sum_k disc[k] (B0/(B0 + k - 1))^s, both per (draw, distinct T) only; each
  period's integral is (B0/(B0 + k - 1))^s times the expected time alive of a customer alive at k - 1
  (no difference of two cumulative integrals); above 64 distinct T (continuous T, one per customer) as
  Chebyshev series in log(beta + T) per draw, fitted at a few nodes (:func:`_T_kernel_interp`);
- the count distribution of a customer alive at T (the mixture over the death time,
  :func:`.math._alive_pmf_row`), per (draw, level), for the count intervals, and its P(no purchase)
  for the probability of at least one purchase (``TripletScores.any_purchase``; for a frequency with
  more than 64 levels, a Chebyshev series in log(T + min(alpha, beta)), :func:`_any_kernel_interp`).

P(alive) needs the two tail integrals of the likelihood (:func:`.likelihood._tail`): the one at T once
per (draw, level), the one at t_x per (draw, triplet). The direct formulas of :mod:`.math` are the
tests' reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..numerics.chebyshev import _cheb_coef, _cheb_eval, _cheb_node
from ..numerics.quantiles import count_intervals
from ..protocol import TripletScores
from ..scorer import DrawsScorer
from . import math as _math
from .likelihood import _tail
from .math import _alive_any1, _alive_pmf_row

#: the parameters in the order of the scorer's fields
PARAMS = ("r", "alpha", "s", "beta")
#: distinct T levels in a block above which the CLV's discounted sums are interpolated over T (below,
#: each T level's H periods are summed exactly), and the node counts of that interpolation
_T_INTERP_MIN = 64
_T_N0 = 16
_T_NMAX = 128


# -- P(alive) per triplet -------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def _level_terms(r, alpha, s, beta, lx, lT, U2, LB):
    """Per level (x, T) and draw: U2 = log((r + x) J(r + x + 1, s; T)) and LB = log of the survivor's
    term (alpha + T)^-(r+x) (beta + T)^-s."""
    S = r.size
    for j in prange(lx.size):
        x = lx[j]
        T = lT[j]
        for d in range(S):
            rx = r[d] + x
            U2[j, d] = math.log(rx) + _tail(rx + 1.0, s[d], alpha[d], beta[d], T, False)[0]
            LB[j, d] = -rx * math.log(alpha[d] + T) - s[d] * math.log(beta[d] + T)


@njit(cache=True, error_model="numpy", parallel=True)
def _alive_kernel(r, alpha, s, beta, x, tx, T, level_of, U2, LB, PA):
    """PA[i, d] = P(alive at T | triplet i, draw d) = exp(LB - log(s J(r + x, s + 1; t_x) + exp(U2)))
    (:func:`.math.p_alive`); 1 where T = 0 (a new customer)."""
    S = r.size
    for i in prange(x.size):
        j = level_of[i]
        for d in range(S):
            if T[i] == 0.0:
                PA[i, d] = 1.0
                continue
            u1 = math.log(s[d]) + _tail(r[d] + x[i], s[d] + 1.0, alpha[d], beta[d], tx[i], False)[0]
            u2 = U2[j, d]
            m = max(u1, u2)
            PA[i, d] = min(1.0, math.exp(LB[j, d] - m - math.log1p(math.exp(-abs(u1 - u2)))))


# -- the level quantities of a customer alive at T ------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _time_alive(s, B0, t):
    """int_0^t (B0/(B0 + u))^s du = B0 L exprel((1 - s) L), L = log(1 + t/B0)."""
    if t <= 0.0:
        return 0.0
    L = math.log1p(t / B0)
    z = (1.0 - s) * L
    ex = math.expm1(z) / z if z != 0.0 else 1.0
    return B0 * L * ex


@njit(cache=True, error_model="numpy", inline="always")
def _period_sums(sd, B0, k0, H, disc, want_pv):
    """At one B0 = beta + T and draw: (sum_{k=k0+1}^{H} disc[k] int_{k-1}^{k} (B0/(B0 + u))^s du,
    sum_k disc[k] (B0/(B0 + k - 1))^s), H periods (the first 0 unless ``want_pv``)."""
    acc_p = 0.0
    acc_a = 0.0
    for k in range(k0 + 1, H + 1):
        Bk = B0 + (k - 1.0)
        surv = math.exp(-sd * math.log1p((k - 1.0) / B0))  # alive at T + k - 1
        if want_pv:
            acc_p += disc[k] * surv * _time_alive(sd, Bk, 1.0)
        acc_a += disc[k] * surv
    return acc_p, acc_a


@njit(cache=True, error_model="numpy", parallel=True)
def _T_kernel(s, beta, Tl, h, k0, H, disc, want_pv, want_alive, TA, D, APV):
    """Per distinct T and draw d (B0 = beta + T): TA = expected time alive in (T, T + h];
    D = sum_{k=k0+1}^{H} disc[k] int_{k-1}^{k} (B0/(B0 + u))^s du; APV = sum_k disc[k] (B0/(B0 + k - 1))^s."""
    S = s.size
    for j in prange(Tl.size):
        for d in range(S):
            sd = s[d]
            B0 = beta[d] + Tl[j]
            TA[j, d] = _time_alive(sd, B0, h)
            if want_pv or want_alive:
                acc_p, acc_a = _period_sums(sd, B0, k0, H, disc, want_pv)
                if want_pv:
                    D[j, d] = acc_p
                if want_alive:
                    APV[j, d] = acc_a


@njit(cache=True, error_model="numpy", parallel=True)
def _T_kernel_interp(s, beta, Tl, k0, H, disc, want_pv, want_alive, D, APV, nsums):
    """D and APV of :func:`_T_kernel` at many distinct T (arbitrary continuous T: one level per customer,
    H periods each): per draw, both are Chebyshev series in v = log(beta + T) on [log(beta + T_min),
    log(beta + T_max)] (analytic for |Im v| < pi: their singularities are at beta + T <= 0), fitted from
    their exact values at 16, 32, ... 128 nodes until the last coefficients are below 1e-13 of the
    largest value, then evaluated at each T; a draw whose series does not converge is summed exactly at
    every T. nsums[d]: the number of exact sums taken for draw d (nodes, plus every T without a series)."""
    S = s.size
    nT = Tl.size
    Tmin = Tl.min()
    Tmax = Tl.max()
    for d in prange(S):
        sd = s[d]
        v0 = math.log(beta[d] + Tmin)
        vh = 0.5 * (math.log(beta[d] + Tmax) - v0)
        fP = np.empty(_T_NMAX)
        fA = np.empty(_T_NMAX)
        cP = np.empty(_T_NMAX)
        cA = np.empty(_T_NMAX)
        nP = 0
        nA = 0
        cnt = 0
        nn = _T_N0
        while nn <= _T_NMAX and ((want_pv and nP == 0) or (want_alive and nA == 0)):
            mP = 0.0
            mA = 0.0
            for j in range(nn):
                B0 = math.exp(v0 + vh * (1.0 + _cheb_node(j, nn)))
                fP[j], fA[j] = _period_sums(sd, B0, k0, H, disc, want_pv)
                mP = max(mP, abs(fP[j]))
                mA = max(mA, abs(fA[j]))
            cnt += nn
            if want_pv and nP == 0 and _cheb_coef(fP, nn, cP, mP):
                nP = nn
            if want_alive and nA == 0 and _cheb_coef(fA, nn, cA, mA):
                nA = nn
            nn *= 2
        exact = (want_pv and nP == 0) or (want_alive and nA == 0)
        for j in range(nT):
            B0 = beta[d] + Tl[j]
            u = (math.log(B0) - v0) / vh - 1.0
            acc_p = 0.0
            acc_a = 0.0
            if exact:
                acc_p, acc_a = _period_sums(sd, B0, k0, H, disc, want_pv)
                cnt += 1
            if want_pv:
                D[j, d] = _cheb_eval(cP, nP, u) if nP > 0 else acc_p
            if want_alive:
                APV[j, d] = _cheb_eval(cA, nA, u) if nA > 0 else acc_a
        nsums[d] = cnt


def level_paths(draws, xs, Ts, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
                want_alive: bool = False):
    """For (x, T) levels and S draws: (EH, PV, APV), each (levels, S): the expected purchases in
    (T, T + h], the discounted purchases and the discounted alive periods of a customer alive at T
    (:class:`~clvmodels.models.protocol.TripletScores`). Times in the model's unit; ``disc[k]`` the
    discount factor of period k (k = 0..H)."""
    return _level_paths(draws, xs, Ts, h, k0, H, disc, want_pv, want_alive)[:3]


def _level_paths(draws, xs, Ts, h, k0=0, H=0, disc=None, want_pv=False, want_alive=False):
    """:func:`level_paths` and, last, the number of exact discounted sums (H periods each) taken per draw
    (S,): the distinct T levels, or with more than ``_T_INTERP_MIN`` of them the interpolation nodes of
    :func:`_T_kernel_interp` (the work that must not grow with the number of distinct T)."""
    r, alpha, s, beta = (np.ascontiguousarray(np.ravel(draws[k]), dtype=float) for k in PARAMS)
    xs = np.asarray(xs, float)
    Ts = np.asarray(Ts, float)
    T_lev, T_idx = np.unique(Ts, return_inverse=True)
    S = r.size
    disc = np.zeros(H + 1) if disc is None else np.ascontiguousarray(disc, dtype=float)
    TA = np.empty((T_lev.size, S))
    D = np.empty((T_lev.size, S)) if want_pv else np.empty((0, 0))
    APV_T = np.empty((T_lev.size, S)) if want_alive else np.empty((0, 0))
    sums = bool(want_pv or want_alive)
    interp = sums and T_lev.size > _T_INTERP_MIN
    _T_kernel(s, beta, T_lev, float(h), int(k0), int(H), disc, bool(want_pv) and not interp,
              bool(want_alive) and not interp, TA, D, APV_T)
    nsums = np.full(S, T_lev.size if sums else 0, dtype=np.int64)
    if interp:
        _T_kernel_interp(s, beta, T_lev, int(k0), int(H), disc, bool(want_pv), bool(want_alive), D, APV_T, nsums)
    rate = (r[None, :] + xs[:, None]) / (alpha[None, :] + Ts[:, None])  # E[lambda | alive at T]
    EH = rate * TA[T_idx]
    PV = rate * D[T_idx] if want_pv else np.empty((0, 0))
    APV = APV_T[T_idx] if want_alive else np.empty((0, 0))
    return EH, PV, APV, nsums


# -- count intervals ------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def _alive_pmf_block(r, alpha, s, beta, bx, bT, h, pmf):
    """pmf[j, d, k] = P(k purchases in (T, T + h] | alive at T, draw d) for the levels (bx[j], bT[j])."""
    nb = bx.size
    S = r.size
    for q in prange(nb * S):
        j = q // S
        d = q % S
        _alive_pmf_row(r[d] + bx[j], alpha[d] + bT[j], s[d], beta[d] + bT[j], h, pmf[j, d])


@njit(cache=True, error_model="numpy", parallel=True)
def _any_kernel(r, alpha, s, beta, lx, lT, h, ANY):
    """ANY[j, d] = P(at least one purchase in (T, T + h] | alive at T) at level (lx[j], lT[j]), draw d."""
    S = r.size
    for j in prange(lx.size):
        for d in range(S):
            ANY[j, d] = _alive_any1(r[d] + lx[j], alpha[d] + lT[j], s[d], beta[d] + lT[j], h)


@njit(cache=True, error_model="numpy", parallel=True)
def _any_kernel_interp(r, alpha, s, beta, lx, lT, run_start, h, ANY, nevals):
    """ANY of :func:`_any_kernel` for levels in runs of equal frequency (run g: rows
    run_start[g]..run_start[g+1]-1). A run of more than ``_T_INTERP_MIN`` levels (arbitrary
    continuous T: one level per customer) is, per draw, a Chebyshev series in v = log(T + c),
    c = min(alpha, beta), on the run's range of T (analytic for |Im v| < pi: P(0 | alive) is singular only
    where alpha + T or beta + T is at most 0), fitted from the exact values at 16, 32, ... 128 nodes
    until its last coefficients are below 1e-13 of its largest value; shorter runs, and a run whose
    series does not converge, are evaluated exactly at each level. nevals[d]: the exact evaluations
    (mixtures over the death time) taken for draw d."""
    S = r.size
    G = run_start.size - 1
    for d in prange(S):
        c = min(alpha[d], beta[d])
        f = np.empty(_T_NMAX)
        coef = np.empty(_T_NMAX)
        cnt = 0
        for g in range(G):
            j0 = run_start[g]
            j1 = run_start[g + 1]
            R = r[d] + lx[j0]
            nn = 0
            Tmin = lT[j0]
            Tmax = lT[j0]
            for j in range(j0, j1):
                Tmin = min(Tmin, lT[j])
                Tmax = max(Tmax, lT[j])
            v0 = math.log(Tmin + c)
            vh = 0.5 * (math.log(Tmax + c) - v0)
            m = _T_N0 if (j1 - j0 > _T_INTERP_MIN and vh > 0.0) else 2 * _T_NMAX
            while m <= _T_NMAX and nn == 0:
                fmax = 0.0
                for k in range(m):
                    Tk = math.exp(v0 + vh * (1.0 + _cheb_node(k, m))) - c
                    f[k] = _alive_any1(R, alpha[d] + Tk, s[d], beta[d] + Tk, h)
                    fmax = max(fmax, abs(f[k]))
                cnt += m
                if _cheb_coef(f, m, coef, fmax):
                    nn = m
                m *= 2
            for j in range(j0, j1):
                if nn > 0:
                    ANY[j, d] = _cheb_eval(coef, nn, (math.log(lT[j] + c) - v0) / vh - 1.0)
                else:
                    ANY[j, d] = _alive_any1(R, alpha[d] + lT[j], s[d], beta[d] + lT[j], h)
                    cnt += 1
        nevals[d] = cnt


def alive_any_purchase(draws, lx, lT, h: float) -> np.ndarray:
    """(levels, S) P(at least one purchase in (T, T + h] | alive at T) per level (x, T) and draw: one
    minus the count distribution's P(0 | alive) (:func:`.math._alive_any1`); levels with many distinct T
    at one frequency through its Chebyshev series in log(T + min(alpha, beta)) (:func:`_any_kernel_interp`)."""
    return _alive_any_purchase(draws, lx, lT, h)[0]


def _alive_any_purchase(draws, lx, lT, h):
    """:func:`alive_any_purchase` and the exact evaluations taken per draw (S,)."""
    r, alpha, s, beta = (np.ascontiguousarray(np.ravel(draws[k]), dtype=float) for k in PARAMS)
    lx, lT = np.ascontiguousarray(lx, dtype=float), np.ascontiguousarray(lT, dtype=float)
    out = np.empty((lx.size, r.size))
    nevals = np.full(r.size, lx.size, dtype=np.int64)
    run_start = np.flatnonzero(np.r_[True, lx[1:] != lx[:-1]]) if lx.size else np.zeros(0, np.int64)
    runs = np.diff(np.r_[run_start, lx.size])
    if runs.size and runs.max() > _T_INTERP_MIN:
        _any_kernel_interp(r, alpha, s, beta, lx, lT, np.r_[run_start, lx.size].astype(np.int64), float(h), out, nevals)
    else:
        _any_kernel(r, alpha, s, beta, lx, lT, float(h), out)
    return out, nevals


def _count_block(draws, PA, rows, xs, Ts, xt_rows, h, q_lo, q_hi, budget_bytes, out):
    """Count intervals for triplets ``rows`` (indices into PA) whose (x, T) levels are ``xt_rows`` (into
    xs/Ts): :func:`clvmodels.models.numerics.quantiles.count_intervals` with the Pareto/NBD's pmf of the
    purchases of a customer alive at T (the count mixture over her remaining lifetime)."""
    r, alpha, s, beta = (np.ascontiguousarray(np.ravel(draws[k]), dtype=float) for k in PARAMS)

    def alive_pmf(blk, K):
        pmf = np.empty((len(blk), r.size, K + 1))
        _alive_pmf_block(r, alpha, s, beta, xs[blk], Ts[blk], float(h), pmf)
        return pmf

    count_intervals(r, alpha, PA, rows, xs, Ts, xt_rows, h, q_lo, q_hi, budget_bytes, out, alive_pmf)


@dataclass(frozen=True)
class ParetoNBDDraws(DrawsScorer):
    """S posterior draws of the Pareto/NBD's (r, alpha, s, beta), scored by the scoring computation through
    :meth:`score_triplets` (the transaction-model protocol)."""

    r: np.ndarray
    alpha: np.ndarray
    s: np.ndarray
    beta: np.ndarray
    math = _math  # the mathematics DrawsScorer calls (a class attribute, not a field)

    def score_triplets(self, x, tx, T, *, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
                       want_alive: bool = False, counts: bool = True, q_lo: float = 0.05, q_hi: float = 0.95,
                       budget_bytes: int) -> TripletScores:
        """Triplets (x, t_x, T) sorted by (x, T, t_x): P(alive) per (triplet, draw) and, per level (x, T),
        the quantities of a customer alive at T (see :class:`~clvmodels.models.protocol.TripletScores`).
        Rows with T = 0 are new customers (P(alive) = 1)."""
        x, tx, T = (np.ascontiguousarray(v, dtype=float) for v in (x, tx, T))
        new = np.r_[True, (x[1:] != x[:-1]) | (T[1:] != T[:-1])] if len(x) else np.zeros(0, bool)
        level_of = (np.cumsum(new) - 1).astype(np.int64)
        lx, lT = x[new], T[new]
        r, alpha, s, beta = self._flat()
        draws = dict(zip(PARAMS, (r, alpha, s, beta)))
        EH, PV, APV = level_paths(draws, lx, lT, h, k0, H, disc, want_pv=want_pv, want_alive=want_alive)
        U2 = np.empty((len(lx), r.size))
        LB = np.empty((len(lx), r.size))
        _level_terms(r, alpha, s, beta, lx, lT, U2, LB)
        PA = np.empty((len(x), r.size))
        _alive_kernel(r, alpha, s, beta, x, tx, T, level_of, U2, LB, PA)
        count = None
        if counts:
            count = np.empty((len(x), 3))
            _count_block(draws, PA, np.arange(len(x)), lx, lT, level_of, h, q_lo, q_hi, budget_bytes, count)
        return TripletScores(alive=PA, level_of=level_of, expected=EH, pv=PV, alive_pv=APV, counts=count,
                             any_purchase=alive_any_purchase(draws, lx, lT, h))

    # the mathematics at these draws (p_alive, expected_purchases, ..., present_values) is DrawsScorer's,
    # calling .math; what is this model's own beyond score_triplets is its story
    def simulate_holdout(self, x, tx, T, h: float, rng) -> np.ndarray:
        """One posterior-predictive draw of the purchases in (T, T + h] per (draw, row), from the
        generative story: alive at T with P(alive); given alive, lambda ~ Gamma(r + x, alpha + T),
        mu ~ Gamma(s, beta + T) and a remaining lifetime tau ~ Exponential(mu); the count is
        Poisson(lambda min(tau, h)). Integer array (S, rows)."""
        r, alpha, s, beta = self._cols()
        x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
        shape = np.broadcast_shapes(r.shape, x.shape)
        alive = rng.uniform(size=shape) < _math.p_alive(r, alpha, s, beta, x, tx, T)
        lam = rng.gamma(r + x, 1.0 / (alpha + T), size=shape)
        mu = rng.gamma(s * np.ones(shape), 1.0 / (beta + T))
        tau = rng.exponential(1.0, size=shape) / mu
        return np.where(alive, rng.poisson(lam * np.minimum(tau, h)), 0)
