"""Customer value plots from the forecast table (:func:`clvmodels.scoring.score`,
:func:`clvmodels.forecast`): the CLV distribution across customers, the top customers with their
intervals, and historical against predicted CLV.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ._common import attach_data, duration_text, new_axes

__all__ = ["plot_clv_distribution", "plot_top_customers", "plot_historical_vs_predicted", "value_concentration",
           "value_periods"]

SEGMENT_COLORS = {"at risk": "C3", "high value": "C2", "medium value": "C0", "low value": "0.6"}


def _table(table: pd.DataFrame, needed: tuple[str, ...]) -> pd.DataFrame:
    """The forecast table indexed by customer id (a ``customer_id`` column becomes the index)."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected the forecast table (a DataFrame), got {type(table).__name__}")
    t = table.set_index("customer_id") if "customer_id" in table.columns else table
    missing = [c for c in needed if c not in t.columns]
    if missing:
        raise InputError(f"the forecast table has no column {missing[0]!r}; build it with clvmodels.scoring.score "
                         "or clvmodels.forecast")
    if len(t) == 0:
        raise InputError("the forecast table is empty")
    return t


def value_periods(table: pd.DataFrame) -> tuple[str, str]:
    """The axis labels of historical and predicted value, saying the periods each covers (from the
    forecast table's metadata, ``table.attrs``): historical value is all spend from each customer's
    first purchase to the observation end (the oldest customer's history, max ``T``, is the longest),
    predicted CLV the value over the next horizon. The two are totals over different periods, so a
    chart that puts them side by side must say which; a table without the metadata gets generic labels.
    """
    summary = dict(table.attrs.get("clvmodels", {}))
    clv = dict(table.attrs.get("clvmodels_clv", {}))
    unit = summary.get("time_unit")
    # a calibration/holdout summary's history (T, historical_clv) ends at the calibration end
    end = summary.get("calibration_end") or summary.get("observation_end")
    hist = "historical value: spend"
    if unit and "T" in table.columns and np.isfinite(table["T"]).any():
        # the oldest customer's age: the longest history any customer has (newer customers, less)
        hist += f" over up to {duration_text(round(float(np.nanmax(table['T'])), 0), unit)}"
    hist += f" to {end}" if end else " to the observation end"
    pred = "predicted CLV"
    try:
        from ..units import Duration

        h = Duration.parse(clv["horizon"])
        pred += f": next {duration_text(h.value, h.unit)}"
    except Exception:  # noqa: BLE001 - no horizon in the metadata: say it generically
        pred += " over the forecast horizon"
    rate = clv.get("discount_rate_annual")
    if rate:
        pred += f", discounted {float(rate):.0%}/year"
    return hist, pred


def value_concentration(values, shares=(0.01, 0.05, 0.1, 0.2, 0.5)) -> pd.Series:
    """Share of the total held by the top ``share`` of customers, for each share (e.g. the top 20% of
    customers hold 70% of the predicted value)."""
    v = np.sort(np.clip(np.asarray(values, float), 0, None))[::-1]
    total = v.sum()
    out = {}
    for s in shares:
        k = max(1, int(round(s * len(v))))
        out[s] = float(v[:k].sum() / total) if total > 0 else np.nan
    return pd.Series(out, name="share_of_value")


def plot_clv_distribution(table: pd.DataFrame, *, column: str = "clv", bins: int = 50, log: bool | None = None,
                          floor: float = 0.01, ax=None):
    """Histogram of predicted CLV (posterior means) across customers, with the mean and median marked
    and the share of value held by the top 20% of customers.

    ``log``: logarithmic value axis (default: when most customers are above ``floor`` and those values
    spread over more than two orders of magnitude, as CLV usually does). On a log axis the bins run from
    ``floor`` (currency units; default 0.01, a cent) or the smallest value above it to the largest value:
    customers at or below the floor (a CLV of 1e-13 is a customer the model thinks long gone, and zero
    or negative values have no place on a log axis) are not spread over empty decades but counted, and
    the count is written on the plot. Returns the matplotlib Figure; the counts drawn are kept as
    ``fig.clvmodels_data['histogram']`` (columns ``left``, ``right``, ``customers``) and the customers
    left off as ``fig.clvmodels_data['below_floor']``.
    """
    if not (np.isfinite(floor) and floor > 0):
        raise InputError(f"floor={floor!r}: the log axis floor must be a positive number of currency units, e.g. 0.01")
    t = _table(table, (column,))
    v = t[column].to_numpy(float)
    v = v[np.isfinite(v)]
    above = v[v > floor]
    if log is None:
        log = (len(above) > 1 and len(above) >= 0.5 * len(v)
               and above.max() / max(np.median(above), 1e-300) > 100)
    if log:
        if len(above) < 2 or above.min() == above.max():
            raise InputError(f"log=True needs values above floor={floor:g} that differ; {len(v) - len(above)} of "
                             f"{len(v)} customers have {column} <= {floor:g}")
        edges = np.geomspace(above.min(), above.max() * (1 + 1e-9), bins + 1)
        drawn = above
    else:
        edges = np.linspace(v.min(), v.max() + (1e-9 if v.max() == v.min() else 0), bins + 1)
        drawn = v
    below = len(v) - len(drawn)
    counts, edges = np.histogram(drawn, bins=edges)
    fig, ax = new_axes(ax)
    ax.stairs(counts, edges, fill=True, color="C0", alpha=0.7, label="customers")
    if log:
        ax.set_xscale("log")
        ax.set_xlim(edges[0] / 1.2, edges[-1] * 1.2)
    mean, median = float(np.mean(v)), float(np.median(v))
    for value, style, color, name in ((mean, "--", "C1", "mean"), (median, ":", "C2", "median")):
        if not log or value > floor:   # a mean or median below the floor is off the axis: named only
            ax.axvline(value, color=color, linestyle=style, label=f"{name} {value:,.2f}")
        else:
            ax.plot([], [], color=color, linestyle=style, label=f"{name} {value:,.2f} (below the axis)")
    if below:
        ax.text(0.01, 0.97, f"{below:,} customer{'s' if below != 1 else ''} with {column} at or below {floor:g} "
                "not drawn", transform=ax.transAxes, ha="left", va="top", fontsize=8, color="0.25")
    top = value_concentration(v, (0.2,)).iloc[0]
    ax.set_xlabel(f"predicted {column} (posterior mean per customer)")
    ax.set_ylabel("customers")
    ax.set_title(f"CLV across {len(v):,} customers: the top 20% hold {top:.0%} of the predicted value", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    attach_data(fig, "histogram", pd.DataFrame({"left": edges[:-1], "right": edges[1:], "customers": counts}))
    attach_data(fig, "below_floor", int(below))
    return fig


def plot_top_customers(table: pd.DataFrame, n: int = 20, *, column: str = "clv", ax=None):
    """The ``n`` customers with the highest predicted CLV, each with its credible interval
    (``clv_lower`` to ``clv_upper``) and, where the table has it, the historical value as a marker.

    Returns the matplotlib Figure; the rows drawn (highest first) are kept as ``fig.clvmodels_data['top']``.
    """
    t = _table(table, (column, f"{column}_lower", f"{column}_upper"))
    top = t.sort_values(column, ascending=False, kind="stable").head(int(n))
    fig, ax = new_axes(ax, figsize=(7.0, max(3.0, 0.28 * len(top) + 1.2)))
    ys = np.arange(len(top))[::-1]
    mid = top[column].to_numpy(float)
    err = np.vstack([mid - top[f"{column}_lower"].to_numpy(float), top[f"{column}_upper"].to_numpy(float) - mid])
    hist_label, pred_label = value_periods(t)
    if column != "clv":
        pred_label = f"predicted {column}"
    ax.errorbar(mid, ys, xerr=np.clip(err, 0, None), fmt="o", color="C0", capsize=3,
                label=f"{pred_label} (with interval)")
    if "historical_clv" in top.columns:
        ax.plot(top["historical_clv"].to_numpy(float), ys, "x", color="C3", label=hist_label)
    ax.set_yticks(ys, [str(i) for i in top.index])
    ax.set_ylabel("customer")
    # one value axis, two periods: the legend says which period each marker covers
    ax.set_xlabel("value (currency units; the periods each covers: see the legend)")
    ax.set_title(f"Top {len(top)} customers by predicted {column}", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)
    attach_data(fig, "top", top)
    return fig


def plot_historical_vs_predicted(table: pd.DataFrame, *, ax=None, log: bool = True):
    """Historical CLV (all spend up to the observation end) against predicted CLV per customer, coloured
    by value segment where the table has one, with the line y = x for reference.

    Historical value looks back over each customer's history (up to the oldest customer's age) and
    predicted value forward over the horizon, so they are totals over different periods: the axis labels
    say which (:func:`value_periods`), and the dashed line marks equal totals, not equal spending rates.
    The plot shows who the model expects to grow or to fade relative to their past. Returns the
    matplotlib Figure.
    """
    t = _table(table, ("historical_clv", "clv"))
    h = t["historical_clv"].to_numpy(float)
    c = t["clv"].to_numpy(float)
    fig, ax = new_axes(ax, figsize=(6.5, 5.5))
    if "segment" in t.columns:
        seg = t["segment"].astype(str).to_numpy()
        for s in pd.unique(seg):
            m = seg == s
            ax.scatter(h[m], c[m], s=8, alpha=0.6, color=SEGMENT_COLORS.get(s), label=f"{s} ({m.sum():,})")
    else:
        ax.scatter(h, c, s=8, alpha=0.6, color="C0", label="customers")
    if log:
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_yscale("symlog", linthresh=1.0)
    lim = [min(0.0, np.nanmin(h), np.nanmin(c)), max(np.nanmax(h), np.nanmax(c))]
    ax.plot(lim, lim, color="0.5", linestyle="--", linewidth=1, label="y = x (equal totals, different periods)")
    hist_label, pred_label = value_periods(t)
    ax.set_xlabel(hist_label)
    ax.set_ylabel(f"{pred_label} (posterior mean)")
    ax.set_title("Historical against predicted CLV", fontsize=10)
    ax.legend(fontsize=8, frameon=False, markerscale=2)
    attach_data(fig, "points", pd.DataFrame({"historical_clv": h, "clv": c}, index=t.index))
    return fig
