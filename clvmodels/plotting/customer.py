"""One customer's purchase history with the path of the probability that she is still alive.

Up to ``observation_end`` the path is P(alive at t | the purchases up to t) (FHL 2005 eq. 11 evaluated
day by day): it jumps to 1 at each repeat purchase and decays while she is silent, faster the more often
she used to buy. After ``observation_end`` it continues as the forecast P(alive at T + t | data at T),
which also falls because every future purchase is another chance to drop out. Purchases after
``observation_end`` (e.g. a holdout) are drawn for comparison but not used.

The path is computed by :func:`clvmodels.p_alive_paths`'s machinery on a daily grid;
:func:`plot_p_alive_paths` draws the paths of many customers (lines with bands, or a heat map).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..draws import DEFAULT_CHUNK_BYTES
from ._common import (PLOT_DRAWS, as_day, attach_data, day_dates, model_unit, new_axes, pct, purchase_days,
                      unit_days, unit_label)
from .paths import _Log, _paths_core

__all__ = ["customer_history_data", "plot_customer_history", "plot_p_alive_paths"]

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
    # one customer's path is the many-customer computation on a daily grid (one implementation): the
    # state (x, t_x, T) as of each observed day, the state at observation_end plus the lead after it
    log = _Log(np.array([customer], dtype=object), days.astype(np.int64), np.array([0, len(days)]))
    out, _ = _paths_core(model, log, grid, obs_end, interval=interval, max_draws=max_draws,
                         budget_bytes=budget_bytes, progress=False)
    x_T, tx_T, T_T = float(len(used) - 1), (used[-1] - first) / ud, (obs_end - first) / ud
    path = pd.DataFrame({"date": day_dates(grid), "t": (grid - first) / ud,
                         "frequency": out["frequency"][0].astype(float), "recency": out["recency"][0],
                         "p_alive": out["p_alive"][0], "p_alive_lower": out["p_alive_lower"][0],
                         "p_alive_upper": out["p_alive_upper"][0],
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


def plot_p_alive_paths(paths, customers=None, *, kind: str = "lines", max_customers: int = 200, ax=None):
    """P(alive) paths of many customers, from :func:`clvmodels.p_alive_paths` (its Dataset).

    ``kind="lines"`` (default): one line per customer with its credible band, for a few customers
    (``customers``: their ids; default the first 5 of ``paths``); ``kind="heatmap"``: customers (rows, in
    the order given, at most ``max_customers``) x dates, coloured by P(alive), blank before a customer's
    first purchase -- a segment at a glance. The numbers drawn are kept as ``fig.clvmodels_data['paths']``
    (a long DataFrame of the active cells drawn). Draws into ``ax`` when given; returns the Figure.
    """
    import xarray as xr

    if not isinstance(paths, xr.Dataset) or "p_alive" not in paths or "active" not in paths:
        raise InputError("plot_p_alive_paths takes the Dataset of clvmodels.p_alive_paths (long=False)")
    if kind not in ("lines", "heatmap"):
        raise InputError(f"kind must be 'lines' or 'heatmap', got {kind!r}")
    ids = paths["customer"].to_numpy()
    if customers is None:
        chosen = ids[:5] if kind == "lines" else ids[:max_customers]
    else:
        chosen = np.asarray([customers] if np.isscalar(customers) else list(customers))
        known = set(ids.tolist())
        missing = [c for c in chosen.tolist() if c not in known]
        if missing:
            raise InputError(f"customers: {len(missing)} not in the paths, e.g. {missing[:5]}")
        if kind == "heatmap" and len(chosen) > max_customers:
            raise InputError(f"customers: {len(chosen)} given, the heat map shows at most max_customers="
                             f"{max_customers}")
    sub = paths.sel(customer=chosen)
    interval = paths.attrs.get("interval", 0.9)
    fig, ax = new_axes(ax, figsize=(8.0, 4.0) if kind == "lines" else (8.0, 0.5 + 0.04 * len(chosen) + 3.0))
    dates = pd.DatetimeIndex(sub["date"].to_numpy())
    if kind == "lines":
        for i, c in enumerate(chosen):
            a = sub["active"].sel(customer=c).to_numpy()
            color = f"C{i % 10}"
            ax.fill_between(dates[a], sub["p_alive_lower"].sel(customer=c).to_numpy()[a],
                            sub["p_alive_upper"].sel(customer=c).to_numpy()[a], color=color, alpha=0.2, linewidth=0)
            ax.plot(dates[a], sub["p_alive"].sel(customer=c).to_numpy()[a], color=color, marker=".",
                    label=f"customer {c}")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("probability alive")
        ax.legend(loc="lower left", fontsize=8, frameon=False)
        ax.set_title(f"P(alive) through time, with {pct(interval)} credible bands", fontsize=10)
    else:
        import matplotlib.dates as mdates

        values = np.where(sub["active"].to_numpy(), sub["p_alive"].to_numpy(), np.nan)
        x0, x1 = mdates.date2num(dates[0]), mdates.date2num(dates[-1])
        half = (x1 - x0) / max(1, len(dates) - 1) / 2
        im = ax.imshow(np.ma.masked_invalid(values), aspect="auto", interpolation="nearest", vmin=0, vmax=1,
                       cmap="viridis", extent=(x0 - half, x1 + half, len(chosen) - 0.5, -0.5))
        ax.xaxis_date()
        ax.set_ylabel(f"customers ({len(chosen)})")
        if len(chosen) <= 30:
            ax.set_yticks(range(len(chosen)), [str(c) for c in chosen], fontsize=7)
        fig.colorbar(im, ax=ax, label="P(alive), posterior mean")
        ax.set_title("P(alive) through time (blank: before the first purchase)", fontsize=10)
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # no overlapping full dates
    ax.set_xlabel("date")
    a = sub["active"].to_numpy()
    ci, ki = np.nonzero(a)
    attach_data(fig, "paths", pd.DataFrame({
        "customer_id": np.asarray(chosen)[ci], "date": dates[ki], "p_alive": sub["p_alive"].to_numpy()[a],
        "p_alive_lower": sub["p_alive_lower"].to_numpy()[a], "p_alive_upper": sub["p_alive_upper"].to_numpy()[a]}))
    return fig
