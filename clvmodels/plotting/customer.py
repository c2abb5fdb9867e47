"""One customer's purchase history with the path of the probability that she is still alive.

Up to ``observation_end`` the path is P(alive at t | the purchases up to t) (FHL 2005 eq. 11 evaluated
day by day): it jumps to 1 at each repeat purchase and decays while she is silent, faster the more often
she used to buy. After ``observation_end`` it continues as the forecast P(alive at T + t | data at T),
which also falls because every future purchase is another chance to drop out. Purchases after
``observation_end`` (e.g. a holdout) are drawn for comparison but not used.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..draws import DEFAULT_CHUNK_BYTES, reduce_over_draws
from ._common import (PLOT_DRAWS, as_day, attach_data, day_dates, model_unit, new_axes, pct, purchase_days,
                      unit_days, unit_label)

__all__ = ["customer_history_data", "plot_customer_history"]

#: at most this many points on a history's time axis (purchase days are always included)
MAX_POINTS = 3000


def customer_history_data(model, transactions: pd.DataFrame, customer, *, observation_end, end=None,
                          customer_id: str = "customer_id", date: str = "date", interval: float = 0.9,
                          max_draws: int | None = PLOT_DRAWS,
                          budget_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P(alive) over time for one customer, from her first purchase to ``end`` (default
    ``observation_end``), with its credible interval.

    Returns ``(path, purchases)``: ``path`` has one row per day (thinned for very long histories) with
    ``date``, ``t`` (time since the first purchase in the model's unit), ``frequency`` and ``recency``
    as of that day, ``p_alive``, ``p_alive_lower``, ``p_alive_upper`` and ``phase`` ('observed' up to
    ``observation_end``, 'forecast' after it); ``purchases`` has one row per purchase day with ``date``,
    ``t`` and ``used`` (False for purchases after ``observation_end``).
    """
    unit = model_unit(model)
    ud = unit_days(unit)
    pdays = purchase_days(transactions, customer_id, date)
    mine = pdays[pdays["customer_id"] == customer]
    if len(mine) == 0:
        raise InputError(f"customer {customer!r} has no transactions in the log")
    obs_end = as_day(observation_end, "observation_end")
    last = as_day(end, "end") if end is not None else obs_end
    if last < obs_end:
        raise InputError("end must not be before observation_end")
    days = mine["day"].to_numpy()
    first = int(days[0])
    if first > obs_end:
        raise InputError(f"customer {customer!r} made the first purchase after observation_end")
    used = days[days <= obs_end]
    span = last - first
    grid = np.arange(first, last + 1)
    if len(grid) > MAX_POINTS:
        grid = np.unique(np.concatenate([np.linspace(first, last, MAX_POINTS).round().astype(np.int64),
                                         used, np.maximum(used - 1, first), [obs_end]]))
    # frequency and recency as of each day of the observed part
    obs = grid[grid <= obs_end]
    k = np.searchsorted(used, obs, side="right")                  # purchase days up to and including each day
    x_obs = (k - 1).astype(float)
    tx_obs = (used[k - 1] - first) / ud
    T_obs = (obs - first) / ud
    fut = grid[grid > obs_end]
    x_T, tx_T, T_T = float(len(used) - 1), (used[-1] - first) / ud, (obs_end - first) / ud
    # rows: observed days (data as of that day, horizon 0), then forecast days (data at T, horizon > 0)
    X = np.concatenate([x_obs, np.full(len(fut), x_T)])
    TX = np.concatenate([tx_obs, np.full(len(fut), tx_T)])
    TT = np.concatenate([T_obs, np.full(len(fut), T_T)])
    H = np.concatenate([np.zeros(len(obs)), (fut - obs_end) / ud])

    def fn(p, x, tx, T, h):
        return model.scorer_class.from_mapping(p).future_p_alive(x, tx, T, h)

    # T = 0 (the first day itself): alive by definition; avoid the degenerate T = 0 evaluation
    mean, lo, hi = reduce_over_draws(fn, model.draws_(max_draws), (X, TX, np.maximum(TT, 1e-9), H),
                                     interval, budget_bytes=budget_bytes)
    path = pd.DataFrame({"date": day_dates(grid), "t": (grid - first) / ud, "frequency": X,
                         "recency": TX, "p_alive": mean, "p_alive_lower": lo, "p_alive_upper": hi,
                         "phase": np.where(grid <= obs_end, "observed", "forecast")})
    purchases = pd.DataFrame({"date": day_dates(days), "t": (days - first) / ud, "used": days <= obs_end})
    meta = {"customer": customer, "observation_end": str(day_dates([obs_end])[0].date()), "time_unit": unit,
            "interval": interval, "frequency": int(x_T), "recency": float(tx_T), "T": float(T_T), "days": int(span)}
    path.attrs["clvmodels"] = meta
    purchases.attrs["clvmodels"] = meta
    return path, purchases


def plot_customer_history(model, transactions: pd.DataFrame, customer, *, observation_end, end=None,
                          customer_id: str = "customer_id", date: str = "date", interval: float = 0.9,
                          max_draws: int | None = PLOT_DRAWS, ax=None):
    """One customer's purchases (markers: filled up to ``observation_end``, hollow after it) and her
    probability-alive path with its credible band, continued as a forecast up to ``end``.

    See :func:`customer_history_data` (numbers kept as ``fig.clvmodels_data['path']`` and
    ``['purchases']``). Returns the matplotlib Figure.
    """
    path, purchases = customer_history_data(model, transactions, customer, observation_end=observation_end,
                                            end=end, customer_id=customer_id, date=date, interval=interval,
                                            max_draws=max_draws)
    meta = path.attrs["clvmodels"]
    fig, ax = new_axes(ax, figsize=(8.0, 4.0))
    obs = path["phase"] == "observed"
    ax.fill_between(path["date"], path["p_alive_lower"], path["p_alive_upper"], color="C0", alpha=0.25,
                    linewidth=0, label=f"{pct(interval)} credible band")
    ax.plot(path.loc[obs, "date"], path.loc[obs, "p_alive"], color="C0", label="P(alive)")
    if (~obs).any():
        # join the forecast to the last observed point
        fc = path.loc[~obs | (path.index == path.index[obs][-1])]
        ax.plot(fc["date"], fc["p_alive"], color="C0", linestyle="--", label="P(alive), forecast")
    u = purchases[purchases["used"]]
    ax.plot(u["date"], np.full(len(u), 1.02), linestyle="none", marker="v", color="C3", label="purchases (used)")
    n = purchases[~purchases["used"]]
    if len(n):
        ax.plot(n["date"], np.full(len(n), 1.02), linestyle="none", marker="v", markerfacecolor="none",
                color="C3", label="purchases after observation end (not used)")
    obs_end = pd.Timestamp(meta["observation_end"])
    ax.axvline(obs_end, color="0.4", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("probability alive")
    ax.set_xlabel("date")
    ax.set_title(f"Customer {meta['customer']}: {meta['frequency']} repeat purchases by {meta['observation_end']}"
                 f" (recency {meta['recency']:.3g}, T {meta['T']:.3g} {unit_label(meta['time_unit'])})",
                 fontsize=10)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    attach_data(fig, "path", path)
    attach_data(fig, "purchases", purchases)
    return fig
