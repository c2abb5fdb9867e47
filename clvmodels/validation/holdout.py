"""Holdout validation: does the model predict the purchases (and spend) it did not see, and are its
intervals calibrated?

Accuracy: total predicted versus actual holdout purchases, per-customer MAE and RMSE of the conditional
expectation. Calibration: the share of customers whose actual holdout count lies inside their central
predictive interval (``interval_coverage``) against the share the model itself expects
(``interval_expected_coverage``: the mean predictive mass inside each interval, above the nominal level
because counts are discrete), and a randomized probability integral transform (PIT) of the actual
counts, which is uniform when the predictive distributions are right (chi-square over ten bins,
``pit_pvalue``). Intervals too narrow and intervals too wide both show up here.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..draws import DEFAULT_SCORING_DRAWS

PIT_BINS = 10


def _holdout_length(summary: pd.DataFrame) -> float:
    if "duration_holdout" not in summary.columns or "frequency_holdout" not in summary.columns:
        raise InputError(
            "holdout validation needs 'frequency_holdout' and 'duration_holdout': build the summary with "
            "clvmodels.summarize(..., calibration_end=...)")
    lengths = np.unique(summary["duration_holdout"].to_numpy(float))
    if len(lengths) != 1:
        raise InputError(f"holdout lengths differ between customers ({lengths[:5]}...); validate one split at a time")
    return float(lengths[0])


def pit_uniformity_pvalue(pit: np.ndarray, bins: int = PIT_BINS) -> float:
    """Chi-square p-value of the PIT values against the uniform distribution over ``bins`` equal bins."""
    counts, _ = np.histogram(np.clip(pit, 0, 1), bins=bins, range=(0.0, 1.0))
    return float(stats.chisquare(counts).pvalue)


def validate_purchases(bgnbd, summary: pd.DataFrame, *, interval: float = 0.9, seed: int = 0,
                       max_draws: int | None = DEFAULT_SCORING_DRAWS) -> dict[str, Any]:
    """Holdout accuracy and calibration of a fitted :class:`BetaGeoModel` (fitted on the calibration
    columns of ``summary``). Returns a JSON-ready dict; per-customer results are in ``["table"]``.
    ``max_draws``: posterior draws behind every number (evenly thinned; default
    :data:`~clvmodels.predict.DEFAULT_SCORING_DRAWS`, as every forecast; None = all)."""
    h = _holdout_length(summary)
    horizon = (h, bgnbd.time_unit_)
    actual = summary["frequency_holdout"].to_numpy(float)
    exp = bgnbd.expected_purchases(summary, horizon, interval=interval, max_draws=max_draws)
    pred = exp["expected_purchases"].to_numpy()
    counts = bgnbd.purchases_interval(summary, horizon, interval=interval, observed=actual, seed=seed,
                                      max_draws=min(max_draws or DEFAULT_SCORING_DRAWS, DEFAULT_SCORING_DRAWS))
    inside = (actual >= counts["purchases_lower"].to_numpy()) & (actual <= counts["purchases_upper"].to_numpy())
    err = pred - actual
    table = pd.concat([summary[["frequency", "recency", "T", "frequency_holdout"]], exp,
                       counts[["purchases_lower", "purchases_upper", "expected_coverage", "pit"]]], axis=1)
    summ = bgnbd.summary(interval)
    return {
        "n_customers": int(len(summary)),
        "holdout_length": h,
        "time_unit": bgnbd.time_unit_,
        "holdout_actual_total": float(actual.sum()),
        "holdout_predicted_total": float(pred.sum()),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err ** 2))),
        "interval": float(interval),
        "interval_coverage": float(inside.mean()),
        "interval_expected_coverage": float(counts["expected_coverage"].mean()),
        "pit_pvalue": pit_uniformity_pvalue(counts["pit"].to_numpy()),
        "params": {p: {"mean": float(summ.loc[p, "mean"]), "lower": float(summ.loc[p, "lower"]),
                       "upper": float(summ.loc[p, "upper"])} for p in summ.index},
        "diagnostics": bgnbd.diagnostics_.to_dict(),
        "table": table,
    }
