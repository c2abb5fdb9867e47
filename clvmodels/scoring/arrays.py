r"""The scoring computation: every per-customer forecast quantity from joint posterior draws, in one pass,
for any transaction model and any spend model (:mod:`clvmodels.models.protocol`).

:func:`score_arrays` is what :func:`clvmodels.scoring.score` (and so the notebook API, ``clv forecast``
and the Spark scorer, per partition), :func:`clvmodels.value.customer_lifetime_value` and the models'
``predict`` run. For S joint posterior draws (transaction-model draw s paired with spend-model draw s)
it returns, per customer, the posterior mean and central interval of P(alive), of the expected purchases
in the next h periods, of the expected spend per transaction and of the discounted CLV, plus the
predictive interval of the *count* of purchases in the next h periods.

Why it is fast: the work is cut to what is distinct.

1. Customers are compressed to distinct (frequency, recency, T) triplets; the transaction model scores
   those (``scorer.score_triplets``), in the factorised form every buy-till-you-die model shares:
   P(alive) per (triplet, draw) times the quantities of a customer alive now per (level, draw), where
   a level is coarser than a triplet (for BG/NBD, the (x, T) pair: 10 to 20 times fewer). How a model
   computes its level quantities is its own business (BG/NBD: Chebyshev interpolation in log time,
   :mod:`clvmodels.models.bgnbd.scoring`).
2. Customers who share (triplet, monetary_value, margin, cost) share every number; only they are
   evaluated, and only the per-customer spend, CLV and their quantiles are per customer.

Memory: work is done in chunks of distinct triplets (sorted by frequency, T, recency) and, within a
chunk, of customer rows, so that the draws x rows blocks stay under ``budget_bytes``; quantiles are
taken per row by selection on a per-thread buffer of S values (numpy's 'linear' definition;
:mod:`clvmodels.models.numerics.quantiles`), never on a whole draws x customers array. The loops are
numba-compiled and run in parallel over rows.
"""
from __future__ import annotations

import warnings

import numpy as np
from numba import njit, prange

from ..models.compile_notice import announce_compile
from ..models.numerics.quantiles import _interval, _select  # noqa: F401 (engine._select: the old path)
from ..models.triplet_scores import ANY_PURCHASE_COLUMNS, PREDICT_COLUMNS, predict_triplets, triplet_blocks
from ..draws import DEFAULT_CHUNK_BYTES, distinct, interval_bounds, require_finite


@njit(cache=True, error_model="numpy", parallel=True)
def _customer_kernel(spend, margin, cost, trip_of, level_of, PA, PV, APV, want_alive, q_lo, q_hi, out):
    """Per customer row c, from its spend per transaction at each draw (spend[c, s]): out[c] = mean,
    lower, upper of the spend, of CLV = margin spend P(alive) PV - cost P(alive) APV, and the mean of
    the discounted expected purchases P(alive) PV."""
    S = spend.shape[1]
    for c in prange(spend.shape[0]):
        buf = np.empty(S)
        buf2 = np.empty(S)
        i = trip_of[c]
        j = level_of[i]
        ms = 0.0
        mc = 0.0
        md = 0.0
        for s in range(S):
            sp = spend[c, s]
            dp = PA[i, s] * PV[j, s]
            val = margin[c] * sp * dp
            if want_alive:
                val -= cost[c] * PA[i, s] * APV[j, s]
            buf[s] = sp
            buf2[s] = val
            ms += sp
            mc += val
            md += dp
        out[c, 0] = ms / S
        out[c, 1], out[c, 2] = _interval(buf, S, q_lo, q_hi)
        out[c, 3] = mc / S
        out[c, 4], out[c, 5] = _interval(buf2, S, q_lo, q_hi)
        out[c, 6] = md / S


@njit(cache=True, error_model="numpy", parallel=True)
def _group_kernel(spend, margin, cost, trip_of, level_of, PA, PV, APV, want_alive, weight, group, totals):
    """totals[group[c], s] += weight[c] CLV[c, s] over customer rows c (CLV as :func:`_customer_kernel`):
    per-draw CLV totals of groups of customers, parallel over draws so that no two threads add to the
    same cell."""
    S = spend.shape[1]
    for s in prange(S):
        for c in range(spend.shape[0]):
            i = trip_of[c]
            j = level_of[i]
            val = margin[c] * spend[c, s] * PA[i, s] * PV[j, s]
            if want_alive:
                val -= cost[c] * PA[i, s] * APV[j, s]
            totals[group[c], s] += weight[c] * val


def score_arrays(purchases, spend, frequency, recency, T, monetary_value=None, *,
                 h: float, k0: int = 0, H: int = 0, discount_factor: float = 1.0, margin=1.0, cost=0.0,
                 interval: float = 0.9, counts: bool = True, clv: bool = True,
                 budget_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False,
                 discount: float | None = None, groups=None) -> dict[str, np.ndarray]:
    """Per-customer forecast arrays from S joint draws (see the module docstring).

    ``purchases``: a transaction model's scorer (``model.scorer(max_draws)``: S draws and
    ``score_triplets``); ``spend``: a spend model's scorer (its S draws paired with the purchases' by
    index), or None when ``clv`` is False (see :mod:`clvmodels.models.protocol`). Customer arrays: frequency, recency, T (model
    time unit), monetary_value (currency), margin and cost (scalars or per customer). With a supplied
    spend (:class:`clvmodels.value.spend.SuppliedSpend`), ``monetary_value`` holds each customer's spend
    per purchase, used as it is (not zeroed for customers without repeat purchases).

    Two horizons, both in the model's time unit:

    - ``h`` (float): the *purchase horizon*, the window (T, T + h] of ``expected_purchases`` and of the
      purchase-count interval (``purchases_lower``/``purchases_upper``);
    - ``k0`` and ``H`` (whole periods): the *CLV horizon*, CLV and ``discounted_purchases`` sum the
      periods k = k0+1 .. H (k0 = 0 unless a later window is asked for), each discounted at the end of
      its period by ``discount_factor``**k.

    ``discount_factor``: the per-period discount *factor* d = 1/(1 + i), i the per-period discount rate
    (1.0: no discounting); not a rate (the public functions take ``discount_rate``, annual, and convert).
    ``discount``: the old name of ``discount_factor``, deprecated (DeprecationWarning).

    ``groups``: optional integer codes 0..G-1 per customer (e.g. segments); the result then also holds
    ``group_clv_draws``, (G, S): the total CLV of each group at each joint draw, from which the
    posterior mean and interval of a group's total (or mean) CLV follow (an interval of a total is not
    the sum of its customers' bounds). Accumulated block by block: memory G x S, not customers x S.

    Returns arrays named
    like the forecast table's columns (``p_alive``, ``p_alive_lower``, ..., ``p_any_purchase`` with its
    interval: P(at least one purchase in (T, T + h] | data) = P(alive) P(any purchase | alive), per
    draw), every value finite
    (:func:`require_finite` raises :class:`~clvmodels.errors.FitError` otherwise).

    Customers first seen at the end of the period (x = t_x = T = 0) are new customers, whom the
    transaction model scores as such (BG/NBD: P(alive) = 1 and FHL eq. 9, E[X(h)]); customers with
    repeat purchases worth 0 (x > 0, monetary_value 0) get the spend model's expectation at a mean
    spend of 0 (Gamma-Gamma: p v/(p x + q - 1)).
    """
    if discount is not None:
        warnings.warn("score_arrays(discount=...) is deprecated: the keyword is now discount_factor (the "
                      "per-period factor 1/(1 + i), not a rate)", DeprecationWarning, stacklevel=2)
        discount_factor = discount
    if isinstance(purchases, dict) or isinstance(spend, dict):
        raise TypeError("score_arrays takes the models' scorers (model.scorer(max_draws)), not dicts of draws")
    lo_q, hi_q = interval_bounds(interval)
    x = np.asarray(frequency, float)
    tx = np.asarray(recency, float)
    TT = np.asarray(T, float)
    n = len(x)
    S = purchases.n_draws
    if spend is not None and spend.n_draws != S:
        raise ValueError(f"the scorers hold {S} and {spend.n_draws} draws: pair them (the same number of each)")
    if monetary_value is None:
        mv = np.zeros(n)
    elif getattr(spend, "supplied", False) or getattr(spend, "first_purchase", False):
        # a known spend per customer (value.spend), or a mean over all occasions: one-time buyers have one too
        mv = np.asarray(monetary_value, float)
    else:
        mv = np.where(x > 0, np.asarray(monetary_value, float), 0.0)
    margins = np.broadcast_to(np.asarray(margin, float), (n,))
    costs = np.broadcast_to(np.asarray(cost, float), (n,))
    want_alive = bool(clv and np.any(costs != 0))
    disc = float(discount_factor) ** np.arange(H + 1, dtype=float)

    if not clv:  # the transaction model's half alone
        out = predict_triplets(purchases, x, tx, TT, h=h, interval=interval, counts=counts, budget_bytes=budget_bytes,
                               progress=progress, any_purchase=True)
        require_finite(out)
        return out
    # a machine's first run compiles for seconds: say so (the per-triplet summary's kernels and these)
    announce_compile(purchases, spend, modules=("clvmodels.models.triplet_scores", __name__), progress=progress)
    trip = distinct(x, TT, tx)                      # sorted by (x, T, t_x)
    xs, Ts, txs = trip.keys
    nt = len(xs)
    # customers sharing (triplet, spend, margin, cost) share every number; rows sorted by triplet
    if groups is None:
        cust = distinct(trip.inverse, mv, np.ascontiguousarray(margins), np.ascontiguousarray(costs))
        c_trip, c_mv, c_margin, c_cost = cust.keys
    else:
        g = np.asarray(groups)
        if g.shape != (n,) or (n and (g.min() < 0 or not np.issubdtype(g.dtype, np.integer))):
            raise ValueError("groups must be one non-negative integer code per customer")
        n_groups = int(g.max()) + 1 if n else 0
        cust = distinct(trip.inverse, mv, np.ascontiguousarray(margins), np.ascontiguousarray(costs),
                        g.astype(np.int64))
        c_trip, c_mv, c_margin, c_cost, c_group = cust.keys
        c_group = np.ascontiguousarray(c_group, dtype=np.int64)
        c_weight = cust.counts.astype(float)
        totals = np.zeros((n_groups, S))
    c_x = xs[c_trip]
    triplet_rows = np.empty((nt, 9))
    count_rows = np.empty((nt, 3))
    customer_rows = np.empty((len(cust), 7))
    # customer rows per spend block: a quarter of the budget, in one buffer reused by every block (fresh
    # blocks of this size, freed and allocated again, fragment the heap and raise the peak RSS)
    step = max(1, int(budget_bytes // (32 * S)))
    buf = np.empty((min(step, len(cust)), S))
    for t0, t1, sc, summary in triplet_blocks(purchases, xs, txs, Ts, h=h, k0=k0, H=H, disc=disc, want_pv=True,
                                              want_alive=want_alive, counts=counts, q_lo=lo_q, q_hi=hi_q,
                                              budget_bytes=budget_bytes, progress=progress):
        triplet_rows[t0:t1] = summary
        if counts:
            count_rows[t0:t1] = sc.counts
        c0, c1 = np.searchsorted(c_trip, [t0, t1])
        for u0 in range(c0, c1, step):  # customer rows in blocks: rows x draws of spend within the budget
            u1 = min(c1, u0 + step)
            _customer_kernel(spend.spend(c_x[u0:u1], c_mv[u0:u1], out=buf[:u1 - u0]), c_margin[u0:u1], c_cost[u0:u1],
                             c_trip[u0:u1] - t0, sc.level_of, sc.alive, sc.pv, sc.alive_pv, want_alive, lo_q,
                             hi_q, customer_rows[u0:u1])
            if groups is not None:
                _group_kernel(buf[:u1 - u0], c_margin[u0:u1], c_cost[u0:u1], c_trip[u0:u1] - t0, sc.level_of, sc.alive,
                              sc.pv, sc.alive_pv, want_alive, c_weight[u0:u1], c_group[u0:u1], totals)
        del sc  # the next block's scores are made while this one would still be held
    inv = trip.inverse
    out = {name: triplet_rows[inv, k] for k, name in enumerate(PREDICT_COLUMNS[:6])}
    out.update({name: triplet_rows[inv, 6 + k] for k, name in enumerate(ANY_PURCHASE_COLUMNS)})
    if counts:
        out.update({name: count_rows[inv, k] for k, name in enumerate(PREDICT_COLUMNS[6:])})
    ci = cust.inverse
    out.update({"expected_spend": customer_rows[ci, 0], "expected_spend_lower": customer_rows[ci, 1],
                "expected_spend_upper": customer_rows[ci, 2], "clv": customer_rows[ci, 3], "clv_lower": customer_rows[ci, 4],
                "clv_upper": customer_rows[ci, 5], "discounted_purchases": customer_rows[ci, 6]})
    require_finite(out)
    if groups is not None:
        require_finite({"group_clv_draws": totals.ravel()}, "CLV totals per group")
        out["group_clv_draws"] = totals
    return out
