r"""MBG/NBD scoring: what the scoring computation (:mod:`clvmodels.engine`) needs of this model, per
(distinct triplet, posterior draw), in the factorised form of the transaction-model protocol
(:class:`clvmodels.models.protocol.TripletScores`).

Given the data and that she is alive at T, an MBG/NBD customer's future is that of a BG/NBD customer
alive now with lambda ~ Gamma(r + x, rate alpha + T) and p ~ Beta(a, b + x + 1) (see :mod:`.math`). So
the per-level (x, T) half of the scores -- the Chebyshev-in-log-time expectations and discounted sums,
and the count distributions behind the intervals -- is exactly the BG/NBD's at b + 1, and this module
calls the BG/NBD's kernels (:func:`clvmodels.models.bgnbd.scoring.xt_paths`, ``_count_block``) with the
draws of b shifted by one rather than copying them. What is the MBG/NBD's own is P(alive) per
(triplet, draw) (:func:`_alive_kernel`: the odds a/(b + x) ((alpha + T)/(alpha + t_x))^(r + x) for every
x, zero included) and the direct formulas of :mod:`.math` that the other methods return.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..bgnbd.scoring import _count_block, alive_any_purchase, xt_paths
from ..protocol import TripletScores
from ..scorer import DrawsScorer
from . import math as _math


@njit(cache=True, error_model="numpy", parallel=True)
def _alive_kernel(r, alpha, a, b, x, tx, T, PA):
    """PA[i, s] = P(alive at T | triplet i, draw s) = 1 / (1 + exp(d)),
    d = log(a/(b + x)) + (r + x) log1p((T - t_x)/(alpha + t_x)), for every x (BDF 2007), in the form that
    neither overflows nor cancels."""
    S = r.size
    for i in prange(x.size):
        xi = x[i]
        for s in range(S):
            d = math.log(a[s] / (b[s] + xi)) + (r[s] + xi) * math.log1p((T[i] - tx[i]) / (alpha[s] + tx[i]))
            if d > 0.0:
                e = math.exp(-d)
                PA[i, s] = e / (1.0 + e)
            else:
                PA[i, s] = 1.0 / (1.0 + math.exp(d))


@dataclass(frozen=True)
class ModifiedBetaGeoDraws(DrawsScorer):
    """S posterior draws of the MBG/NBD's (r, alpha, a, b), scored by the scoring computation through
    :meth:`score_triplets` (the transaction-model protocol)."""

    r: np.ndarray
    alpha: np.ndarray
    a: np.ndarray
    b: np.ndarray
    math = _math  # the mathematics DrawsScorer calls (a class attribute, not a field)

    def _alive_now(self) -> dict[str, np.ndarray]:
        """The draws in the BG/NBD kernels' parametrisation of a customer alive now: (r, alpha, a, b + 1),
        to which those kernels add x to r and b and T to alpha."""
        r, alpha, a, b = self._flat()
        return {"r": r, "alpha": alpha, "a": a, "b": b + 1.0}

    def score_triplets(self, x, tx, T, *, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
                       want_alive: bool = False, counts: bool = True, q_lo: float = 0.05, q_hi: float = 0.95,
                       budget_bytes: int) -> TripletScores:
        """Triplets (x, t_x, T) sorted by (x, T, t_x): P(alive) per (triplet, draw) and, per level (x, T),
        the quantities of a customer alive at T (see :class:`~clvmodels.models.protocol.TripletScores`).
        Rows with T = 0 are new customers: P(alive) = b/(a + b) there."""
        x, tx, T = (np.ascontiguousarray(v, dtype=float) for v in (x, tx, T))
        new = np.r_[True, (x[1:] != x[:-1]) | (T[1:] != T[:-1])] if len(x) else np.zeros(0, bool)
        level_of = (np.cumsum(new) - 1).astype(np.int64)
        lx, lT = x[new], T[new]
        draws = self._alive_now()
        EH, PV, APV = xt_paths(draws, lx, lT, h, k0, H, disc, want_pv=want_pv, want_alive=want_alive)
        PA = np.empty((len(x), self.n_draws))
        _alive_kernel(*self._flat(), x, tx, T, PA)
        count = None
        if counts:
            count = np.empty((len(x), 3))
            _count_block(draws, PA, np.arange(len(x)), lx, lT, level_of, h, q_lo, q_hi, budget_bytes, count)
        # alive at T, drop-out only right after a purchase: no purchase means no Poisson event, as BG/NBD's
        return TripletScores(alive=PA, level_of=level_of, expected=EH, pv=PV, alive_pv=APV, counts=count,
                             any_purchase=alive_any_purchase(draws["r"], draws["alpha"], lx, lT, h))

    # -- the mathematics at these draws, for model-agnostic callers (plots, validation, CLV reference) --
    # Each returns (S, rows) arrays; draws held as (S,) arrays are broadcast against the rows, draws
    # already shaped (S, 1) (as reduce_over_draws hands them) are used as they are.
    def simulate_holdout(self, x, tx, T, h: float, rng) -> np.ndarray:
        """One posterior-predictive draw of the purchases in (T, T + h] per (draw, row), from the
        generative story: alive at T with P(alive); given alive, lambda ~ Gamma(r + x, alpha + T) and
        p ~ Beta(a, b + x + 1); the count is min(Poisson(lambda h), Geometric(p)) (the purchase after
        which the customer drops out still happens). Integer array (S, rows)."""
        r, alpha, a, b = self._cols()
        x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
        shape = np.broadcast_shapes(r.shape, x.shape)
        alive = rng.uniform(size=shape) < _math.p_alive(r, alpha, a, b, x, tx, T)
        lam = rng.gamma(r + x, 1.0 / (alpha + T), size=shape)
        drop = rng.beta(a * np.ones(shape), b + x + 1.0)
        n_potential = rng.poisson(lam * h)
        n_until_drop = rng.geometric(np.clip(drop, 1e-12, 1.0))
        return np.where(alive, np.minimum(n_potential, n_until_drop), 0)
