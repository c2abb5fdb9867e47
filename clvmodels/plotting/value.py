"""Customer value plots from the forecast table (:func:`clvmodels.scoring.score`,
:func:`clvmodels.forecast`): the CLV distribution across customers, the top customers with their
intervals, and historical against predicted CLV.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ._common import attach_data, new_axes

__all__ = ["plot_clv_distribution", "plot_top_customers", "plot_historical_vs_predicted", "value_concentration"]

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
                          ax=None):
    """Histogram of predicted CLV (posterior means) across customers, with the mean and median marked
    and the share of value held by the top 20% of customers.

    ``log``: logarithmic value axis (default: when the values are positive and spread over more than
    two orders of magnitude, as CLV usually is). Returns the matplotlib Figure; the counts drawn are kept
    as ``fig.clvmodels_data['histogram']`` (columns ``left``, ``right``, ``customers``).
    """
    t = _table(table, (column,))
    v = t[column].to_numpy(float)
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    if log is None:
        log = len(pos) == len(v) and len(pos) > 1 and pos.max() / max(np.median(pos), 1e-300) > 100
    if log:
        if len(pos) < len(v):
            raise InputError(f"log=True needs positive values; {len(v) - len(pos)} customers have {column} <= 0")
        edges = np.geomspace(pos.min(), pos.max() * (1 + 1e-9), bins + 1)
    else:
        edges = np.linspace(v.min(), v.max() + (1e-9 if v.max() == v.min() else 0), bins + 1)
    counts, edges = np.histogram(v, bins=edges)
    fig, ax = new_axes(ax)
    ax.stairs(counts, edges, fill=True, color="C0", alpha=0.7, label="customers")
    if log:
        ax.set_xscale("log")
    mean, median = float(np.mean(v)), float(np.median(v))
    ax.axvline(mean, color="C1", linestyle="--", label=f"mean {mean:,.2f}")
    ax.axvline(median, color="C2", linestyle=":", label=f"median {median:,.2f}")
    top = value_concentration(v, (0.2,)).iloc[0]
    ax.set_xlabel(f"predicted {column} (posterior mean per customer)")
    ax.set_ylabel("customers")
    ax.set_title(f"CLV across {len(v):,} customers: the top 20% hold {top:.0%} of the predicted value", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    attach_data(fig, "histogram", pd.DataFrame({"left": edges[:-1], "right": edges[1:], "customers": counts}))
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
    ax.errorbar(mid, ys, xerr=np.clip(err, 0, None), fmt="o", color="C0", capsize=3,
                label=f"predicted {column} with interval")
    if "historical_clv" in top.columns:
        ax.plot(top["historical_clv"].to_numpy(float), ys, "x", color="C3", label="historical CLV")
    ax.set_yticks(ys, [str(i) for i in top.index])
    ax.set_ylabel("customer")
    ax.set_xlabel(column)
    ax.set_title(f"Top {len(top)} customers by predicted {column}", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    attach_data(fig, "top", top)
    return fig


def plot_historical_vs_predicted(table: pd.DataFrame, *, ax=None, log: bool = True):
    """Historical CLV (all spend up to the observation end) against predicted CLV per customer, coloured
    by value segment where the table has one, with the line y = x for reference.

    Historical value looks back over the observation period and predicted value forward over the
    horizon, so they are not on the same time scale; the plot shows who the model expects to grow or to
    fade relative to their past. Returns the matplotlib Figure.
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
    ax.plot(lim, lim, color="0.5", linestyle="--", linewidth=1, label="y = x")
    ax.set_xlabel("historical CLV (spend to the observation end)")
    ax.set_ylabel("predicted CLV (posterior mean)")
    ax.set_title("Historical against predicted CLV", fontsize=10)
    ax.legend(fontsize=8, frameon=False, markerscale=2)
    attach_data(fig, "points", pd.DataFrame({"historical_clv": h, "clv": c}, index=t.index))
    return fig
