"""P(alive) paths of many customers: the probability that each customer is still alive at each date of a
grid, as her purchases arrive, with its credible interval, in bounded memory.

At a grid date ``g`` a customer first seen on day ``f <= g`` is in the state (x, t_x, T) a summary with
``observation_end = g`` would give her (continuous time: day differences / days per unit): x the
purchase days in (f, g], t_x the time from f to the last of them, T = g - f. Her P(alive) at g is the
model's P(alive at T | x, t_x, T), averaged over posterior draws (the path jumps up at a purchase and
decays while she is silent). Grid dates after ``observation_end`` (with ``end``) continue it as the
forecast P(alive at g | the purchases up to observation_end).

Why it is cheap: the work grows with what is distinct, not with customers x dates. Many (customer, date)
cells share a state (every customer without repeat purchases and of the same age; everyone at the same
point of the same history), so the states are collected block by block of customers as exact integer
keys (x, t_x in days, T in days, forecast lead in days), deduplicated, each distinct state is evaluated
once per draw (chunks of states x draws under ``budget_bytes``, :func:`clvmodels.draws.reduce_over_draws`),
and the per-state means and bounds are mapped back to the cells, block by block again. No array of
draws x customers x dates is ever held: the memory is the output (customers x dates) plus
``budget_bytes``-sized blocks plus the distinct states.

The model is used only through its scorer's ``p_alive`` and ``future_p_alive``
(:mod:`clvmodels.models.scorer`), so every transaction model works.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..draws import DEFAULT_CHUNK_BYTES, interval_bounds, reduce_over_draws, require_finite
from ..errors import InputError
from ..units import DAYS_PER_UNIT, Duration
from ._common import PLOT_DRAWS, as_day, day_dates, model_unit, purchase_days, unit_days

__all__ = ["p_alive_paths"]


def grid_days(first_day: int, obs_end: int, end: int, freq) -> np.ndarray:
    """Grid day numbers: every ``freq`` step back from ``obs_end`` (which is always on the grid) to the
    first step on or after ``first_day``, and forward from it up to ``end`` (inclusive)."""
    spec = freq
    if isinstance(spec, str) and spec.strip().isalpha():
        spec = "1" + spec.strip()
    try:
        d = Duration.parse(spec)
    except Exception as e:  # UnitError: say which option
        raise InputError(f"freq: {e} (the grid step, e.g. 'W', '2W', '7D' or 'M')") from None
    step = d.value * DAYS_PER_UNIT[d.unit]
    if not step >= 1:
        raise InputError(f"freq: the grid step must be at least one day, got {freq!r}")
    back = np.round(obs_end - np.arange(0, (obs_end - first_day) / step + 1) * step).astype(np.int64)
    fwd = np.round(obs_end + np.arange(1, (end - obs_end) / step + 1) * step).astype(np.int64)
    g = np.unique(np.concatenate([back, fwd]))
    return g[(g >= first_day) & (g <= end)]


class _Log:
    """A cohort's purchase days in CSR form: customer i's distinct purchase days (sorted) are
    ``days[offsets[i]:offsets[i + 1]]``; ``first[i]`` is her first day."""

    def __init__(self, ids, days, offsets):
        self.ids = ids
        self.days = days
        self.offsets = offsets
        self.first = days[offsets[:-1]]

    def __len__(self):
        return len(self.ids)


def _cohort_log(pdays: pd.DataFrame, customers, obs_end: int) -> _Log:
    """The purchase days of the chosen customers, in their order (default: every customer first seen
    on or before ``obs_end``, by id); InputError naming unknown ids and ids first seen after the end."""
    first = pdays.loc[pdays["is_first"], ["customer_id", "day"]]
    if customers is None:
        cohort = pd.Index(first.loc[first["day"] <= obs_end, "customer_id"])
        if len(cohort) == 0:
            raise InputError("no customer made a first purchase on or before observation_end")
    else:
        listed = [customers] if np.isscalar(customers) else list(customers)
        if len(listed) == 0:
            raise InputError("customers: the list is empty")
        cohort = pd.Index(pd.unique(pd.Series(listed)))
        first_day = first.set_index("customer_id")["day"].reindex(cohort)
        unknown = cohort[first_day.isna().to_numpy()]
        late = list(cohort[(first_day > obs_end).to_numpy()])
        msgs = []
        if len(unknown):
            msgs.append(f"{len(unknown)} have no transactions in the log, e.g. {list(unknown[:5])}")
        if late:
            msgs.append(f"{len(late)} made their first purchase after observation_end, e.g. {late[:5]}")
        if msgs:
            raise InputError(f"customers: {len(cohort)} given, of which " + "; ".join(msgs))
    pos = cohort.get_indexer(pdays["customer_id"])
    keep = pos >= 0
    pos = pos[keep]
    days = pdays["day"].to_numpy()[keep]
    order = np.argsort(pos, kind="stable")  # the log is sorted by day within a customer: stable keeps it
    pos, days = pos[order], days[order]
    offsets = np.searchsorted(pos, np.arange(len(cohort) + 1))
    return _Log(cohort.to_numpy(), np.ascontiguousarray(days, dtype=np.int64), offsets)


def _block_states(log: _Log, c0: int, c1: int, grid: np.ndarray, obs_end: int):
    """Per cell (customer c0..c1-1, grid date) of a block: active (on or after the first purchase), x,
    t_x and T in days as of min(date, obs_end), and the forecast lead in days (date - obs_end, or 0)."""
    K = len(grid)
    nb = c1 - c0
    g_eff = np.minimum(grid, obs_end)                               # the data stop at observation_end
    lo, hi = log.offsets[c0], log.offsets[c1]
    days = log.days[lo:hi]
    owner = np.repeat(np.arange(nb), np.diff(log.offsets[c0:c1 + 1]))
    k = np.searchsorted(g_eff, days, side="left")                   # first grid date counting each purchase
    n = np.bincount(owner * (K + 1) + k, minlength=nb * (K + 1)).reshape(nb, K + 1)[:, :K]
    n = np.cumsum(n, axis=1)                                         # purchase days up to each date
    active = n > 0
    first = log.first[c0:c1, None]
    last_idx = log.offsets[c0:c1, None] + np.maximum(n - 1, 0)      # the last purchase so far
    x = np.maximum(n - 1, 0)
    tx_d = np.where(active, log.days[last_idx] - first, 0)
    T_d = np.where(active, g_eff[None, :] - first, 0)
    h_d = np.broadcast_to(grid - g_eff, (nb, K))
    return active, x, tx_d, T_d, h_d


def _pack(x, tx_d, T_d, h_d, R: int, Hn: int):
    """One exact int64 key per state (mixed radix; the caller checked that it cannot overflow)."""
    return ((x.astype(np.int64) * R + tx_d) * R + T_d) * Hn + h_d


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values by sorting (numpy's hash-based unique is slow on these keys)."""
    a = np.sort(a)
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if a.size else a


def _unpack(key, R: int, Hn: int):
    h_d = key % Hn
    key = key // Hn
    T_d = key % R
    key = key // R
    return key // R, key % R, T_d, h_d


def _paths_core(model, log: _Log, grid: np.ndarray, obs_end: int, *, interval: float, max_draws,
                budget_bytes: int, progress: bool, dedup: bool = True):
    """The cells' arrays (customers x grid dates): active, frequency, recency, T (model unit), p_alive and
    its bounds (NaN where inactive), and the numbers of cells and distinct states."""
    ud = unit_days(model_unit(model))
    K, n = len(grid), len(log)
    R = int(max(obs_end - int(log.first.min()), 0)) + 1
    Hn = int(max(int(grid[-1]) - obs_end, 0)) + 1
    if R ** 3 * Hn >= 2 ** 62:
        raise InputError("the grid spans too many days for exact state keys (over a century of daily data)")
    # customers per block: the block's int64 state arrays (about 10 of them) within the budget
    bs = max(1, int(budget_bytes // (8 * 12 * K)))
    blocks = [(c0, min(n, c0 + bs)) for c0 in range(0, n, bs)]
    # pass 1: the distinct states of every block, merged
    keys = np.zeros(0, dtype=np.int64)
    pending, n_pending, n_active = [], 0, 0
    for c0, c1 in blocks:
        active, x, tx_d, T_d, h_d = _block_states(log, c0, c1, grid, obs_end)
        k = _pack(x, tx_d, T_d, h_d, R, Hn)[active]
        n_active += k.size
        if not dedup:
            keys = np.concatenate([keys, k])
            continue
        pending.append(_sorted_unique(k))
        n_pending += pending[-1].size
        if n_pending > max(keys.size, 2**20):  # merge now and then: amortised, and the pending stay small
            keys, pending, n_pending = _sorted_unique(np.concatenate([keys, *pending])), [], 0
    if pending:
        keys = _sorted_unique(np.concatenate([keys, *pending]))
    # each distinct state once per draw: P(alive) now (lead 0) or the forecast (lead > 0)
    xs, txs, Ts, hs = (v.astype(float) for v in _unpack(keys, R, Hn))
    params = model.draws_(max_draws)
    sc_cls = model.scorer_class
    mean = np.empty(len(keys))
    lower = np.empty(len(keys))
    upper = np.empty(len(keys))
    now = hs == 0
    if now.any():
        mean[now], lower[now], upper[now] = reduce_over_draws(
            lambda p, x, tx, T: sc_cls.from_mapping(p).p_alive(x, tx, T), params,
            (xs[now], txs[now] / ud, Ts[now] / ud), interval, budget_bytes=budget_bytes, progress=progress,
            desc="P(alive) paths")
    if (~now).any():
        mean[~now], lower[~now], upper[~now] = reduce_over_draws(
            lambda p, x, tx, T, h: sc_cls.from_mapping(p).future_p_alive(x, tx, T, h), params,
            (xs[~now], txs[~now] / ud, Ts[~now] / ud, hs[~now] / ud), interval, budget_bytes=budget_bytes,
            progress=progress, desc="P(alive) forecast")
    require_finite({"p_alive": mean, "p_alive_lower": lower, "p_alive_upper": upper}, "P(alive) paths")
    # pass 2: the cells, block by block
    out = {"active": np.zeros((n, K), dtype=bool), "frequency": np.zeros((n, K), dtype=np.int32),
           "recency": np.full((n, K), np.nan), "T": np.full((n, K), np.nan),
           "p_alive": np.full((n, K), np.nan), "p_alive_lower": np.full((n, K), np.nan),
           "p_alive_upper": np.full((n, K), np.nan)}
    pos = 0
    for c0, c1 in blocks:
        active, x, tx_d, T_d, h_d = _block_states(log, c0, c1, grid, obs_end)
        if dedup:
            idx = np.searchsorted(keys, _pack(x, tx_d, T_d, h_d, R, Hn)[active])
        else:  # every active cell its own state, in the order of pass 1
            idx = np.arange(pos, pos + int(active.sum()))
            pos += idx.size
        out["active"][c0:c1] = active
        out["frequency"][c0:c1] = x
        for name, v in (("recency", tx_d / ud), ("T", T_d / ud)):
            out[name][c0:c1][active] = v[active]
        for name, v in (("p_alive", mean), ("p_alive_lower", lower), ("p_alive_upper", upper)):
            out[name][c0:c1][active] = v[idx]
    return out, {"n_cells": n * K, "n_active_cells": int(n_active), "n_states": int(len(keys))}


def p_alive_paths(model, transactions: pd.DataFrame, *, observation_end, customers=None, freq="W",
                  start=None, end=None, interval: float = 0.9, max_draws: int | None = PLOT_DRAWS,
                  customer_id: str = "customer_id", date: str = "date", date_format: str | None = None,
                  long: bool = False, budget_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False):
    """P(alive) of many customers at every date of a grid, with its credible interval (see the module
    docstring for what it is and how it is computed).

    Parameters
    ----------
    model: a fitted transaction model (BG/NBD, MBG/NBD, Pareto/NBD, ...).
    transactions: the log, one row per transaction (``customer_id`` and ``date`` columns; purchases on
        the same day merge, as in :func:`clvmodels.summarize`). Purchases after ``observation_end`` are
        not used (a holdout may stay in the log); ``attrs["n_purchase_days_after_end"]`` counts them
        (distinct purchase days of the customers followed).
    observation_end: the last day of data (inclusive; any form :func:`clvmodels.summarize` takes).
    customers: the ids to follow, in the order wanted; default every customer first seen on or before
        ``observation_end``, sorted by id. An id without transactions, or first seen after
        ``observation_end``, is an InputError naming it.
    freq: the grid step: ``'W'`` (default), ``'2W'``, ``'D'``, ``'7D'``, ``'M'`` (30.4375 days, a twelfth of
        a year) ... The grid is anchored at ``observation_end`` (always a grid date) and steps back to the
        first date on or after ``start`` (default: the first purchase of the earliest customer followed),
        and forward up to ``end`` (default ``observation_end``). Dates are calendar days, each inclusive
        (a purchase on a grid date counts at that date).
    end: a date after ``observation_end`` continues the grid as a forecast: P(alive at that date | the
        purchases up to observation_end) (``phase`` 'forecast').
    interval: the central credible interval's level; max_draws: posterior draws used (evenly thinned;
        200 by default, None = all).
    date_format: strptime format of the log's text dates and of the dates given here; default ISO 8601.
    long: False (default): an :class:`xarray.Dataset`; True: a long pandas DataFrame with one row per
        (customer, date) on or after the customer's first purchase (no NaN), columns ``customer_id``,
        ``date``, ``frequency``, ``recency``, ``T``, ``p_alive``, ``p_alive_lower``, ``p_alive_upper``,
        ``phase``, sorted by customer (in the order above), then date.
    budget_bytes: bytes of float64 work per chunk (states x draws, and a block of customers x dates);
        progress: a progress bar over the chunks of distinct states (tqdm).

    Returns
    -------
    With ``long=False`` an :class:`xarray.Dataset` with dimensions ``customer`` (coordinate: the ids;
    ``first_purchase`` per customer) and ``date`` (``phase`` per date: 'observed' or 'forecast'):

    - ``p_alive``, ``p_alive_lower``, ``p_alive_upper`` (float64, probabilities): the posterior mean and
      interval bounds. **NaN before the customer's first purchase** (she was not a customer yet), and
      only there: ``active`` says where they are defined, and ``paths.p_alive.where(paths.active)`` or
      ``long=True`` avoid the question;
    - ``frequency`` (int32): repeat purchases so far (0 before the first purchase too);
    - ``recency`` and ``T`` (float64, the model's time unit; NaN where not ``active``): t_x and T as of
      the date (of observation_end for forecast dates);
    - ``active`` (bool): the date is on or after the customer's first purchase.

    ``attrs`` hold ``time_unit``, ``interval``, ``observation_end``, ``n_draws``, ``n_cells``,
    ``n_active_cells``, ``n_states`` (distinct states evaluated) and ``n_purchase_days_after_end``.

    Cost: one evaluation per distinct state and draw (``n_states`` x draws, typically a few per cent of
    customers x dates x draws); memory: the output (about 45 bytes per customer and date) plus
    ``budget_bytes``-sized blocks and the distinct states; never draws x customers x dates.
    """
    from .tracking import _dates_in_format

    unit = model_unit(model)
    if not hasattr(model, "scorer_class") or not hasattr(model.scorer_class, "p_alive"):
        raise InputError(f"p_alive_paths needs a fitted transaction model, got {type(model).__name__}")
    interval_bounds(interval)
    if max_draws is not None and (int(max_draws) != max_draws or max_draws < 1):
        raise InputError(f"max_draws must be a positive whole number or None, got {max_draws!r}")
    if int(budget_bytes) < 1:
        raise InputError(f"budget_bytes must be positive, got {budget_bytes!r}")
    obs_end = as_day(observation_end, "observation_end", date_format)
    last = as_day(end, "end", date_format) if end is not None else obs_end
    if last < obs_end:
        raise InputError("end must not be before observation_end")
    start_day = as_day(start, "start", date_format) if start is not None else None
    if start_day is not None and start_day > obs_end:
        raise InputError("start must not be after observation_end")
    grid_days(obs_end, obs_end, obs_end, freq)  # freq checked before any work
    if date_format is not None:
        transactions = _dates_in_format(transactions, date, date_format)
    pdays = purchase_days(transactions, customer_id, date)
    log = _cohort_log(pdays, customers, obs_end)
    n_after = int((log.days > obs_end).sum())
    g0 = int(log.first.min()) if start_day is None else start_day
    grid = grid_days(g0, obs_end, last, freq)
    out, counts = _paths_core(model, log, grid, obs_end, interval=interval, max_draws=max_draws,
                              budget_bytes=int(budget_bytes), progress=progress)
    dates = day_dates(grid)
    phase = np.where(grid <= obs_end, "observed", "forecast")
    n_draws = len(next(iter(model.draws_(max_draws).values())))
    attrs = {"time_unit": unit, "interval": interval, "observation_end": str(day_dates([obs_end])[0].date()),
             "n_draws": n_draws, **counts, "n_purchase_days_after_end": n_after}
    if long:
        a = out["active"]
        ci, ki = np.nonzero(a)
        frame = pd.DataFrame({"customer_id": log.ids[ci], "date": dates[ki], "frequency": out["frequency"][a],
                              "recency": out["recency"][a], "T": out["T"][a], "p_alive": out["p_alive"][a],
                              "p_alive_lower": out["p_alive_lower"][a], "p_alive_upper": out["p_alive_upper"][a],
                              "phase": phase[ki]})
        frame.attrs["clvmodels"] = attrs
        return frame
    import xarray as xr

    dims = ("customer", "date")
    ds = xr.Dataset({name: (dims, v) for name, v in out.items()},
                    coords={"customer": log.ids, "date": dates, "phase": ("date", phase),
                            "first_purchase": ("customer", day_dates(log.first))}, attrs=attrs)
    return ds
