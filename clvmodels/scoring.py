"""Scoring: the forecast table for a customer summary from fitted models.

:func:`score` is the one function the notebook API (:func:`clvmodels.forecast`), the CLI
(``clv forecast``) and the Spark scorer (per partition) call, so all three give the same numbers.
"""
from __future__ import annotations

import pandas as pd

from .value.clv import customer_lifetime_value
from .value.segments import value_segments

#: the fixed columns of the forecast table, in order (plain names are posterior means)
FORECAST_COLUMNS = [
    "customer_id", "frequency", "recency", "T", "monetary_value", "historical_clv",
    "p_alive", "p_alive_lower", "p_alive_upper",
    "expected_purchases", "expected_purchases_lower", "expected_purchases_upper",
    "purchases_lower", "purchases_upper",
    "expected_spend", "expected_spend_lower", "expected_spend_upper",
    "clv", "clv_lower", "clv_upper", "segment",
]


def score(summary: pd.DataFrame, bgnbd_model, gamma_gamma_model, horizon, *, discount_rate: float = 0.0,
          margin=1.0, cost_to_serve=0.0, acquisition_cost=None, interval: float = 0.9,
          max_draws: int | None = None, segment_options: dict | None = None, progress: bool = False) -> pd.DataFrame:
    """The forecast table: one row per customer of ``summary`` (indexed by customer_id) with
    :data:`FORECAST_COLUMNS` (plus CAC columns when ``acquisition_cost`` is given).

    ``horizon`` (e.g. '52W') is both the window of the purchase predictions and the CLV horizon.
    """
    bg, gg = bgnbd_model, gamma_gamma_model
    alive = bg.p_alive(summary, interval=interval, max_draws=max_draws, progress=progress)
    purchases = bg.expected_purchases(summary, horizon, interval=interval, max_draws=max_draws, progress=progress)
    counts = bg.purchases_interval(summary, horizon, interval=interval, max_draws=min(max_draws or 1000, 1000),
                                   progress=progress)
    spend = gg.expected_spend(summary, interval=interval, max_draws=max_draws)
    value = customer_lifetime_value(bg, gg, summary, horizon, discount_rate=discount_rate, margin=margin,
                                    cost_to_serve=cost_to_serve, acquisition_cost=acquisition_cost,
                                    interval=interval, max_draws=max_draws or 1000, progress=progress)
    base_cols = ["frequency", "recency", "T", "monetary_value"]
    if "historical_clv" in summary.columns:
        base_cols.append("historical_clv")
    table = pd.concat([summary[base_cols], alive, purchases, counts[["purchases_lower", "purchases_upper"]],
                       spend, value.drop(columns=["expected_spend", "discounted_purchases"])], axis=1)
    table["segment"] = value_segments(table, **(segment_options or {}))
    table.index.name = "customer_id"
    table = table.reset_index()
    cols = [c for c in FORECAST_COLUMNS if c in table.columns]
    extra = [c for c in table.columns if c not in cols]
    out = table[cols + extra]
    out.attrs["clvmodels_clv"] = value.attrs.get("clvmodels_clv", {})
    return out
