"""The protocol between models and everything downstream of them (the scoring computation, the table, the
CLV, Spark scoring): what a transaction (purchase) model and a spend model must offer.

Outside a model's own package nothing names the model's parameters; the forecast layer asks a model for
its posterior draws as a *scorer* (``model.scorer(max_draws)``) and calls the scorer's methods:

Transaction model scorer (e.g. :class:`clvmodels.models.bgnbd.scoring.BetaGeoDraws`)
    ``n_draws``; ``score_triplets(x, tx, T, *, h, k0, H, disc, want_pv, want_alive, counts, q_lo, q_hi,
    budget_bytes) -> TripletScores`` for distinct (frequency, recency, T) triplets sorted by (x, T, t_x).
    Every buy-till-you-die model factorises the same way: a customer's future given her data is
    P(alive | data) times the future of a customer alive now, which depends on a coarser *level* of the
    data (for BG/NBD, MBG/NBD and Pareto/NBD the (x, T) pair; with covariates, (x, T, group)). The
    scorer returns both factors, and the engine multiplies them where it needs to, so that the
    expensive per-level work is done once per level.
Spend model scorer (e.g. :class:`clvmodels.models.gamma_gamma.scoring.GammaGammaDraws`)
    ``n_draws``; ``spend(x, mv, out=None) -> (rows, S)``: the expected spend per transaction of each
    customer row (frequency x, mean repeat spend mv) at each draw, currency units, written into ``out``
    (a C-contiguous (rows, S) buffer) when given.

The transaction scorer's draws and the spend scorer's draws are paired by index (the joint posterior of
two independent fits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class TripletScores:
    """A transaction model's numbers for n distinct triplets and S draws, factorised.

    alive: (n, S) P(alive at T | triplet, draw).
    level_of: (n,) int64, each triplet's level (row of the level arrays).
    expected: (levels, S) expected purchases in (T, T + h] of a customer alive at T.
    pv: (levels, S) sum over periods k = k0+1..H of disc[k] times the expected purchases in period k,
        for a customer alive at T (empty when not asked for).
    alive_pv: (levels, S) sum over periods of disc[k] P(still alive at the start of period k | alive at T)
        (empty when not asked for).
    counts: (n, 3) predictive interval of the purchase count in (T, T + h] per triplet, the mixture over
        draws: lower, upper, mass inside (None when not asked for).
    any_purchase: (levels, S) P(at least one purchase in (T, T + h] | alive at T), so that
        P(X(h) = 0 | data) = 1 - alive + alive (1 - any_purchase) and the forecast table's
        ``p_any_purchase`` is alive * any_purchase per draw. Optional: a scorer that leaves it None is
        asked for ``purchases_pmf(x, tx, T, h, 0)`` per triplet instead (correct, slower).
    """

    alive: np.ndarray
    level_of: np.ndarray
    expected: np.ndarray
    pv: np.ndarray
    alive_pv: np.ndarray
    counts: np.ndarray | None
    any_purchase: np.ndarray | None = None


class TransactionScorer(Protocol):
    n_draws: int

    def score_triplets(self, x, tx, T, *, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
                       want_alive: bool = False, counts: bool = True, q_lo: float = 0.05, q_hi: float = 0.95,
                       budget_bytes: int) -> TripletScores: ...


class SpendScorer(Protocol):
    n_draws: int

    def spend(self, x: np.ndarray, mv: np.ndarray, out: np.ndarray | None = None) -> np.ndarray: ...
