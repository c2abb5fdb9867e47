r"""MBG/NBD scoring: what the forecast engine (:mod:`clvmodels.engine`) needs of this model, per
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
class ModifiedBetaGeoDraws:
    """S posterior draws of the MBG/NBD's (r, alpha, a, b), scored by the forecast engine through
    :meth:`score_triplets` (the transaction-model protocol)."""

    r: np.ndarray
    alpha: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @classmethod
    def from_mapping(cls, params) -> "ModifiedBetaGeoDraws":
        return cls(*(np.ascontiguousarray(params[k], dtype=float) for k in ("r", "alpha", "a", "b")))

    @property
    def n_draws(self) -> int:
        return int(self.r.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def _flat(self) -> tuple[np.ndarray, ...]:
        """(r, alpha, a, b) as contiguous (S,) arrays (whether held as (S,) or (S, 1))."""
        return tuple(np.ascontiguousarray(np.ravel(v), dtype=float) for v in (self.r, self.alpha, self.a, self.b))

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
    def _cols(self, extra: int = 0):
        def col(v):
            v = np.asarray(v, dtype=float)
            return v.reshape(v.shape + (1,) * (1 + extra)) if v.ndim == 1 else v
        return col(self.r), col(self.alpha), col(self.a), col(self.b)

    def p_alive(self, x, tx, T):
        """P(alive at T | x, t_x, T)."""
        return _math.p_alive(*self._cols(), x, tx, T)

    def expected_purchases(self, x, tx, T, t, start=0.0):
        """Conditional expected purchases in (T + start, T + t]."""
        if np.all(np.asarray(start) == 0):
            return _math.conditional_expected_purchases(*self._cols(), x, tx, T, t)
        return _math.conditional_expected_purchases_window(*self._cols(), x, tx, T, start, t)

    def expected_purchases_new(self, t):
        """Expected purchases of a new customer in her first t periods."""
        return _math.expected_purchases_new(*self._cols(), t)

    def future_p_alive(self, x, tx, T, h):
        """P(still alive at T + h | x, t_x, T)."""
        return _math.future_p_alive(*self._cols(), x, tx, T, h)

    def purchases_pmf(self, x, tx, T, t, max_count: int):
        """P(Y(t) = k | x, t_x, T), k = 0..max_count: (S, rows, max_count + 1)."""
        return _math.conditional_purchases_pmf(*self._cols(), x, tx, T, t, max_count)

    def count_upper_bound(self, x, tx, T, t, tail: float = 1e-10):
        """Per (draw, row) a count above which the purchases in (T, T + t] have mass below ``tail``."""
        return _math.purchases_count_upper_bound(*self._cols(), x, tx, T, t, tail=tail)

    def purchases_pmf_new(self, T, max_count: int, return_tail: bool = False):
        """P(X(T) = k) of a new customer observed for T, k = 0..max_count (and the mass beyond)."""
        return _math.purchases_pmf_new(*self._cols(), T, max_count, return_tail=return_tail)

    def log_likelihood(self, x, tx, T):
        """Each row's log-likelihood at each draw, (S, rows); rows with T = 0 give 0."""
        return _math.log_likelihood(*self._cols(), x, tx, T)

    def present_values(self, x, tx, T, k0: int, H: int, d: float, with_alive: bool = True):
        """Per draw and row: discounted expected purchases sum_k (E[Y(k)] - E[Y(k-1)]) d^k and discounted
        alive periods sum_k P(alive at T+k-1) d^k, k = k0+1..H, by the direct formulas (the engine's
        reference). Shapes (S, rows). ``with_alive=False`` skips the second."""
        cols = self._cols(extra=1)
        ks = np.arange(k0, H + 1, dtype=float)[None, None, :]
        xx, txx, TT = (np.asarray(v, float)[None, :, None] for v in (x, tx, T))
        cum = _math.conditional_expected_purchases(*cols, xx, txx, TT, ks)
        per_period = np.diff(cum, axis=2)                        # purchases in period k
        disc = d ** np.arange(k0 + 1, H + 1, dtype=float)        # end-of-period discount factors
        purchases_pv = per_period @ disc
        if not with_alive:
            return purchases_pv, np.zeros_like(purchases_pv)
        alive = _math.future_p_alive(*cols, xx, txx, TT, ks[..., :-1])
        return purchases_pv, alive @ disc

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
