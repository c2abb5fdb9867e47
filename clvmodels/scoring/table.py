"""Scoring: the forecast table for a customer summary from fitted models.

:func:`score` is the one function the notebook API (:func:`clvmodels.forecast`), the CLI
(``clv forecast``) and the Spark scorer (per partition) call, so all three give the same numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import arrays as engine
from ..errors import InputError
from ..draws import DEFAULT_SCORING_DRAWS, joint_scorers
from ..units import Duration, discount_rate_per_period
from ..value.clv import _per_customer, _periods, add_cac_columns, check_models_and_data
from ..value.segments import value_segments

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
          max_draws: int | None = DEFAULT_SCORING_DRAWS, segment_options: dict | None = None, progress: bool = False) -> pd.DataFrame:
    """The forecast table: one row per customer of ``summary`` (indexed by customer_id) with
    :data:`FORECAST_COLUMNS` (plus CAC columns when ``acquisition_cost`` is given).

    ``horizon`` (e.g. '52W') is both the window of the purchase predictions and the CLV horizon.
    Every column comes from the same ``max_draws`` joint posterior draws (default 1,000, evenly thinned;
    None = all) in one pass of :func:`clvmodels.scoring.arrays.score_arrays`.

    Refuses (:class:`~clvmodels.errors.UnitError`) a summary whose recorded time unit
    (``summary.attrs["clvmodels"]["time_unit"]``) is not the models'; a summary without one is trusted.
    Every customer is scored: those first seen at the end of the period (T = 0) as new customers, those
    whose repeat purchases are all worth 0 with the spend expectation at a mean spend of 0. No column
    of the table ever holds NaN or inf: :class:`~clvmodels.errors.FitError` instead, naming the columns.
    """
    bg, gg = bgnbd_model, gamma_gamma_model
    check_models_and_data(bg, gg, summary, "data to score")
    if "historical_clv" in summary.columns:  # copied into the table: it must be finite too
        hist = pd.to_numeric(summary["historical_clv"], errors="coerce").to_numpy(float)
        if not np.isfinite(hist).all():
            raise InputError(f"column 'historical_clv' has {int((~np.isfinite(hist)).sum())} missing or non-finite "
                             "values (build the summary with clvmodels.summarize)", what="data to score")
    h = bg._horizon(horizon)
    k0, H = _periods(bg, horizon, None)
    i = discount_rate_per_period(discount_rate, bg.time_unit_)
    d = 1.0 / (1.0 + i)
    margins = _per_customer(margin, summary, "margin")
    costs = _per_customer(cost_to_serve, summary, "cost_to_serve")
    purchases, spend = joint_scorers(bg, gg, max_draws)
    x = summary["frequency"].to_numpy(float)
    arr = engine.score_arrays(purchases, spend, x, summary["recency"].to_numpy(float), summary["T"].to_numpy(float),
                              summary["monetary_value"].to_numpy(float), h=h, k0=k0, H=H, discount_factor=d,
                              margin=margins, cost=costs, interval=interval, progress=progress)
    base_cols = ["frequency", "recency", "T", "monetary_value"]
    if "historical_clv" in summary.columns:
        base_cols.append("historical_clv")
    table = summary[base_cols].copy()
    for c in FORECAST_COLUMNS:
        if c in arr:
            table[c] = arr[c]
    if acquisition_cost is not None:
        add_cac_columns(table, _per_customer(acquisition_cost, summary, "acquisition_cost"))
    table["segment"] = value_segments(table, **(segment_options or {}))
    table.index.name = "customer_id"
    table = table.reset_index()
    cols = [c for c in FORECAST_COLUMNS if c in table.columns]
    extra = [c for c in table.columns if c not in cols]
    out = table[cols + extra]
    engine.require_finite(out, "forecast table", skip=("customer_id",))
    out.attrs["clvmodels_clv"] = {"horizon": str(Duration.parse(horizon)), "start": None,
                                  "discount_rate_annual": discount_rate, "discount_rate_per_period": i,
                                  "interval": interval, "n_draws": purchases.n_draws}
    return out
