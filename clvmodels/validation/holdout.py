"""Holdout validation: does the model predict the purchases (and spend) it did not see, and are its
intervals calibrated?

Accuracy: total predicted versus actual holdout purchases, per-customer MAE and RMSE of the conditional
expectation. Calibration: the share of customers whose actual holdout count lies inside their central
predictive interval (``interval_coverage``) against the share the model itself expects
(``interval_expected_coverage``: the mean predictive mass inside each interval, above the nominal level
because counts are discrete), and the probability integral transform (PIT) of the actual counts, uniform
when the predictive distributions are right. The PIT is the non-randomized one of Czado, Gneiting & Held
(2009) (:mod:`clvmodels.validation.pit`): ``pit_histogram`` (bin masses, ten bins), ``pit_chi2`` and
``pit_chi2_pvalue`` (conservative chi-square with 9 degrees of freedom), the same numbers for the same
data whatever the seed. ``pit_pvalue`` is the older test of a *randomized* PIT (one uniform draw per
customer from ``seed``): it changes with the seed and is kept for comparison with earlier runs.
Intervals too narrow and intervals too wide both show up here.

Score: the holdout log predictive score ``holdout_log_score = sum_i log P(Y_i = y_i | calibration
data)``, with ``P`` the posterior predictive distribution of customer i's holdout count (the mixture
over posterior draws of the model's conditional count distribution, the same mixture as the intervals
and the PIT) and ``y_i`` the actual count; ``holdout_log_score_mean`` is its mean per customer. It is a
strictly proper scoring rule (higher is better): the number ``clv compare`` ranks models by.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._renamed import renamed_keywords
from ..errors import FitError, InputError
from ..draws import DEFAULT_CHUNK_BYTES, DEFAULT_SCORING_DRAWS, chunk_rows
from .pit import PIT_BINS, log_scores, pit_bin_masses, pit_chi2

#: below this predictive probability the log score is recomputed from the pmf itself instead of as
#: F(y) - F(y-1): the CDFs are cumulative sums (absolute error about 1e-14), so their difference
#: keeps a relative accuracy of 1e-8 or better above it
_EXACT_BELOW = 1e-6


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
    """Chi-square p-value of (randomized or continuous) PIT values against the uniform distribution over
    ``bins`` equal bins. For counts, prefer the seed-free :func:`clvmodels.validation.pit.pit_chi2`."""
    counts, _ = np.histogram(np.clip(pit, 0, 1), bins=bins, range=(0.0, 1.0))
    return float(stats.chisquare(counts).pvalue)


def holdout_log_scores(model, summary: pd.DataFrame, t: float, cdf_below, cdf_at, *,
                       max_draws: int | None = DEFAULT_SCORING_DRAWS,
                       budget_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """``log P(Y_i(t) = y_i | x_i, t_x,i, T_i)`` per customer of ``summary`` (``y`` its
    ``frequency_holdout``): the log of the posterior predictive pmf, the mixture over ``max_draws``
    evenly thinned posterior draws of the model's conditional count distribution.

    ``cdf_below``/``cdf_at`` are that mixture's CDF below and at ``y`` (from
    :meth:`~clvmodels.models.transaction.TransactionModel.purchases_interval` with the same draws);
    the score is ``log(cdf_at - cdf_below)`` where that difference is at least 1e-6, and is computed
    from the pmf at ``y`` itself below (where the difference of two sums loses digits, or a count lies
    beyond the range the CDF was summed over). Raises :class:`~clvmodels.errors.FitError` when a
    count's predictive probability underflows to 0 (the score would be minus infinity)."""
    if getattr(model, "has_covariates", False):  # each cell of customers with its own model (covariates)
        cell_of, models = model.cell_models(summary)
        out = np.empty(len(summary))
        lo, hi = np.asarray(cdf_below, float), np.asarray(cdf_at, float)
        for c, m in enumerate(models):
            rows = np.flatnonzero(cell_of == c)
            if len(rows):
                out[rows] = holdout_log_scores(m, summary.iloc[rows], t, lo[rows], hi[rows], max_draws=max_draws,
                                               budget_bytes=budget_bytes)
        return out
    y = summary["frequency_holdout"].to_numpy(float)
    scores = log_scores(cdf_below, cdf_at)
    redo = np.flatnonzero(~(np.exp(scores) >= _EXACT_BELOW))
    if len(redo):
        sc = model.scorer(max_draws)
        x = summary["frequency"].to_numpy(float)[redo]
        tx = summary["recency"].to_numpy(float)[redo]
        T = summary["T"].to_numpy(float)[redo]
        k = y[redo].astype(np.int64)
        order = np.argsort(k, kind="stable")  # similar counts together: each block's pmf stays short
        step = chunk_rows(sc.n_draws, int(k.max()) + 1, budget_bytes)
        for s0 in range(0, len(order), step):
            sub = order[s0:s0 + step]
            kmax = int(k[sub].max())
            pmf = sc.purchases_pmf(x[sub], tx[sub], T[sub], t, kmax)          # (S, rows, kmax + 1)
            p = pmf[:, np.arange(len(sub)), k[sub]].mean(axis=0)
            with np.errstate(divide="ignore"):
                scores[redo[sub]] = np.log(p)
    bad = ~np.isfinite(scores)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FitError(
            f"{int(bad.sum())} customers' actual holdout counts have predictive probability 0 (below the "
            f"smallest float) under the {getattr(model, 'label', '') or type(model).__name__} model, e.g. "
            f"frequency {summary['frequency'].iloc[i]:g}, recency {summary['recency'].iloc[i]:g}, T "
            f"{summary['T'].iloc[i]:g} with {y[i]:g} holdout purchases: the log score is minus infinity; "
            "check the holdout columns (and the fit)")
    return scores


@renamed_keywords(bgnbd="purchase_model")
def validate_purchases(purchase_model, summary: pd.DataFrame, *, interval: float = 0.9, seed: int = 0,
                       max_draws: int | None = DEFAULT_SCORING_DRAWS, bins: int = PIT_BINS) -> dict[str, Any]:
    """Holdout accuracy, calibration and score of a fitted transaction model (any of
    :mod:`clvmodels.models.registry`, fitted on the calibration columns of ``summary``). Returns a
    JSON-ready dict; per-customer results are in ``["table"]`` (with ``cdf_below``, ``cdf_at``: the
    predictive CDF below and at the actual count, ``log_score`` and the randomized ``pit``).
    ``max_draws``: posterior draws behind every number (evenly thinned; default
    :data:`~clvmodels.draws.DEFAULT_SCORING_DRAWS`, as every forecast; None = all; the count
    distributions use at most that many). ``seed`` only moves the randomized ``pit`` and
    ``pit_pvalue``; every other number is the same for every seed. ``bins``: PIT histogram bins."""
    h = _holdout_length(summary)
    horizon = (h, purchase_model.time_unit_)
    actual = summary["frequency_holdout"].to_numpy(float)
    exp = purchase_model.expected_purchases(summary, horizon, interval=interval, max_draws=max_draws)
    pred = exp["expected_purchases"].to_numpy()
    count_draws = min(max_draws or DEFAULT_SCORING_DRAWS, DEFAULT_SCORING_DRAWS)
    counts = purchase_model.purchases_interval(summary, horizon, interval=interval, observed=actual, seed=seed,
                                      max_draws=count_draws)
    if not {"cdf_below", "cdf_at"} <= set(counts.columns):
        raise TypeError(f"{type(purchase_model).__name__}.purchases_interval(observed=...) returned no 'cdf_below'/'cdf_at' "
                        "columns (the predictive CDF below and at each observed count), which the PIT and the log "
                        "score need: see clvmodels.models.transaction.TransactionModel.purchases_interval")
    lo_cdf, hi_cdf = counts["cdf_below"].to_numpy(float), counts["cdf_at"].to_numpy(float)
    score = holdout_log_scores(purchase_model, summary, h, lo_cdf, hi_cdf, max_draws=count_draws)
    inside = (actual >= counts["purchases_lower"].to_numpy()) & (actual <= counts["purchases_upper"].to_numpy())
    err = pred - actual
    chi2, chi2_p = pit_chi2(lo_cdf, hi_cdf, bins)
    table = pd.concat([summary[["frequency", "recency", "T", "frequency_holdout"]], exp,
                       counts[["purchases_lower", "purchases_upper", "expected_coverage", "cdf_below", "cdf_at",
                               "pit"]]], axis=1)
    table["log_score"] = score
    summ = purchase_model.summary(interval)
    return {
        "n_customers": int(len(summary)),
        "holdout_length": h,
        "time_unit": purchase_model.time_unit_,
        "holdout_actual_total": float(actual.sum()),
        "holdout_predicted_total": float(pred.sum()),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err ** 2))),
        "interval": float(interval),
        "interval_coverage": float(inside.mean()),
        "interval_expected_coverage": float(counts["expected_coverage"].mean()),
        "holdout_log_score": float(score.sum()),
        "holdout_log_score_mean": float(score.mean()),
        "pit_histogram": [float(v) for v in pit_bin_masses(lo_cdf, hi_cdf, bins)],
        "pit_chi2": chi2,
        "pit_chi2_pvalue": chi2_p,
        "pit_pvalue": pit_uniformity_pvalue(counts["pit"].to_numpy(), bins),
        "params": {p: {"mean": float(summ.loc[p, "mean"]), "lower": float(summ.loc[p, "lower"]),
                       "upper": float(summ.loc[p, "upper"])} for p in summ.index},
        "diagnostics": purchase_model.diagnostics_.to_dict(),
        "table": table,
    }
