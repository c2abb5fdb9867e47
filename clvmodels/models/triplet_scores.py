"""The per-triplet half of every forecast, for any transaction model of the protocol
(:mod:`clvmodels.models.protocol`): distinct (frequency, recency, T) triplets, in chunks whose
draws x rows blocks stay under a memory budget, scored by the model's scorer and reduced over the draws
to the posterior mean and central interval of P(alive) and of the expected purchases, with the
predictive interval of the purchase count.

A model's ``predict`` runs :func:`predict_triplets`; the scoring computation (:mod:`clvmodels.scoring.arrays`)
runs :func:`triplet_blocks` and adds, per block, the customer half (spend and CLV).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from numba import njit, prange

from ..draws import DEFAULT_CHUNK_BYTES, _progress, distinct, interval_bounds
from .compile_notice import announce_compile
from .numerics.quantiles import _interval
from .protocol import TripletScores


@njit(cache=True, error_model="numpy", parallel=True)
def _summary_kernel(PA, level_of, EH, ANY, any_of, any_given_alive, q_lo, q_hi, out):
    """out[i] = mean, lower, upper of P(alive) PA[i, s], of the expected purchases PA[i, s] EH[level, s]
    and of P(at least one purchase in the horizon): PA[i, s] ANY[any_of[i], s] when ANY is given alive
    (per level), else ANY[any_of[i], s] itself (per triplet)."""
    S = PA.shape[1]
    for i in prange(PA.shape[0]):
        buf = np.empty(S)
        buf2 = np.empty(S)
        buf3 = np.empty(S)
        j = level_of[i]
        k = any_of[i]
        m1 = 0.0
        m2 = 0.0
        m3 = 0.0
        for s in range(S):
            pa = PA[i, s]
            buf[s] = pa
            buf2[s] = pa * EH[j, s]
            buf3[s] = pa * ANY[k, s] if any_given_alive else ANY[k, s]
            m1 += pa
            m2 += buf2[s]
            m3 += buf3[s]
        out[i, 0] = m1 / S
        out[i, 1], out[i, 2] = _interval(buf, S, q_lo, q_hi)
        out[i, 3] = m2 / S
        out[i, 4], out[i, 5] = _interval(buf2, S, q_lo, q_hi)
        out[i, 6] = m3 / S
        out[i, 7], out[i, 8] = _interval(buf3, S, q_lo, q_hi)


def any_purchase_scores(purchases, sc: TripletScores, xs, txs, Ts, h: float):
    """(ANY, any_of, given_alive) for :func:`_summary_kernel`: the scorer's per-level
    P(any purchase | alive) when it gives one, else 1 - P(X(h) = 0 | data) per triplet from its
    ``purchases_pmf`` (max_count 0), as (triplets, S)."""
    n = len(xs)
    if sc.any_purchase is not None:
        return np.ascontiguousarray(sc.any_purchase, dtype=float), sc.level_of, True
    if h <= 0:
        return np.zeros((n, purchases.n_draws)), np.arange(n, dtype=np.int64), False
    p0 = np.asarray(purchases.purchases_pmf(xs, txs, Ts, h, 0), dtype=float)[..., 0]  # (S, n)
    return np.ascontiguousarray(1.0 - p0.T), np.arange(n, dtype=np.int64), False


def triplet_blocks(purchases, xs, txs, Ts, *, h: float, k0: int = 0, H: int = 0, disc=None, want_pv: bool = False,
                   want_alive: bool = False, counts: bool = True, q_lo: float = 0.05, q_hi: float = 0.95,
                   budget_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False
                   ) -> Iterator[tuple[int, int, TripletScores, np.ndarray]]:
    """For distinct triplets sorted by (x, T, t_x), chunk by chunk: ``(t0, t1, scores, summary)`` with the
    scorer's :class:`TripletScores` of triplets t0..t1-1 and their summary rows (mean, lower, upper of
    P(alive), then of the expected purchases in the next h, then of P(at least one purchase in the next
    h): :data:`PREDICT_COLUMNS` [:6] and :data:`ANY_PURCHASE_COLUMNS`). ``h`` is the purchase horizon; ``k0``, ``H``
    (whole periods) and ``disc`` (the discount factor of each period k = 0..H) the CLV horizon, used only
    with ``want_pv`` (see :func:`clvmodels.scoring.arrays.score_arrays`)."""
    S = purchases.n_draws
    nt = len(xs)
    step = max(1, int(budget_bytes // (8 * S)))
    starts = range(0, nt, step)
    for t0 in _progress(starts, progress, "scoring", total=len(starts)):
        t1 = min(nt, t0 + step)
        sc = purchases.score_triplets(xs[t0:t1], txs[t0:t1], Ts[t0:t1], h=h, k0=k0, H=H, disc=disc, want_pv=want_pv,
                                      want_alive=want_alive, counts=counts, q_lo=q_lo, q_hi=q_hi,
                                      budget_bytes=budget_bytes)
        summary = np.empty((t1 - t0, 9))
        ANY, any_of, given_alive = any_purchase_scores(purchases, sc, xs[t0:t1], txs[t0:t1], Ts[t0:t1], h)
        _summary_kernel(sc.alive, sc.level_of, sc.expected, ANY, any_of, given_alive, q_lo, q_hi, summary)
        del ANY
        yield t0, t1, sc, summary
        del sc, summary  # before the next block is scored: one block's draws x rows arrays alive at a time


#: the per-customer columns of :func:`predict_triplets`, in order
PREDICT_COLUMNS = ["p_alive", "p_alive_lower", "p_alive_upper", "expected_purchases", "expected_purchases_lower",
                   "expected_purchases_upper", "purchases_lower", "purchases_upper", "expected_coverage"]
#: P(at least one purchase in the next h | data) = 1 - P(X(h) = 0 | data): mean, lower, upper over draws
ANY_PURCHASE_COLUMNS = ["p_any_purchase", "p_any_purchase_lower", "p_any_purchase_upper"]


def predict_triplets(purchases, frequency, recency, T, *, h: float, interval: float = 0.9, counts: bool = True,
                     budget_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False,
                     any_purchase: bool = False) -> dict[str, np.ndarray]:
    """Per customer: P(alive), the expected purchases in the next ``h`` (each with its central interval)
    and, with ``counts``, the predictive interval of the count and the mass inside it, from the draws of
    a transaction model's scorer (the columns of :data:`PREDICT_COLUMNS`; with ``any_purchase`` also
    those of :data:`ANY_PURCHASE_COLUMNS`)."""
    lo_q, hi_q = interval_bounds(interval)
    announce_compile(purchases, modules=(__name__,), progress=progress)  # a machine's first run compiles for seconds
    x, tx, TT = (np.asarray(v, float) for v in (frequency, recency, T))
    trip = distinct(x, TT, tx)                      # sorted by (x, T, t_x)
    xs, Ts, txs = trip.keys
    triplet_rows = np.empty((len(xs), 9))
    count_rows = np.empty((len(xs), 3))
    for t0, t1, sc, summary in triplet_blocks(purchases, xs, txs, Ts, h=h, counts=counts, q_lo=lo_q, q_hi=hi_q,
                                              budget_bytes=budget_bytes, progress=progress):
        triplet_rows[t0:t1] = summary
        if counts:
            count_rows[t0:t1] = sc.counts
        del sc
    inv = trip.inverse
    out = {name: triplet_rows[inv, k] for k, name in enumerate(PREDICT_COLUMNS[:6])}
    if counts:
        out.update({name: count_rows[inv, k] for k, name in enumerate(PREDICT_COLUMNS[6:])})
    if any_purchase:
        out.update({name: triplet_rows[inv, 6 + k] for k, name in enumerate(ANY_PURCHASE_COLUMNS)})
    return out
