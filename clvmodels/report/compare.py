"""The HTML report of a model comparison (``clv compare ... --report OUT.html``): one self-contained
file (figures embedded as PNG data URIs, CSS inline), the models side by side.

Sections: the ranking (criterion, scores with the difference to the best and its standard error);
every metric side by side; each model's parameters and diagnostics; tracking plots (when the
transaction log is given), conditional expectations and non-randomized PIT histograms, one per
model, in ranking order. Built from a :class:`clvmodels.validation.compare.ModelComparison`
(:func:`clvmodels.validation.compare.run_comparison`) with the forecast report's helpers
(:mod:`clvmodels.report.render`).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..plotting._common import PLOT_DRAWS, duration_text
from .render import _CSS, _e, _Figures, _kv, _model_block, _table

__all__ = ["render_comparison_report", "write_comparison_report", "ranking_table", "metrics_table"]

#: the scalar metrics of the side-by-side table, in order, with their row labels
METRIC_ROWS: list[tuple[str, str]] = [
    ("holdout_log_score", "holdout log predictive score (higher is better)"),
    ("holdout_log_score_diff", "  difference to the best"),
    ("holdout_log_score_diff_se", "  its standard error"),
    ("holdout_log_score_mean", "log score per customer"),
    ("elpd_loo", "PSIS-LOO elpd, calibration (higher is better)"),
    ("elpd_loo_se", "  its standard error"),
    ("elpd_loo_diff", "  difference to the best"),
    ("elpd_loo_diff_se", "  standard error of the difference"),
    ("p_loo", "p_loo (effective number of parameters)"),
    ("loo_pareto_k_max", "largest Pareto k"),
    ("loo_n_customers_high_k", "customers with Pareto k above 0.7"),
    ("holdout_actual_total", "actual holdout purchases"),
    ("holdout_predicted_total", "predicted holdout purchases"),
    ("mae", "per-customer MAE"),
    ("rmse", "per-customer RMSE"),
    ("interval_coverage", "customers inside their predictive interval"),
    ("interval_expected_coverage", "expected share inside (the model's own)"),
    ("pit_chi2", "PIT chi-square (non-randomized, 9 df)"),
    ("pit_chi2_pvalue", "PIT chi-square p-value (conservative)"),
    ("pit_pvalue", "randomized PIT p-value (depends on the seed)"),
    ("spend_holdout_actual_total", "actual holdout spend"),
    ("spend_holdout_predicted_total", "predicted holdout spend"),
    ("spend_interval_coverage", "customers inside their spend interval"),
    ("spend_mae", "per-customer spend MAE"),
]


def _labels(result: dict[str, Any]) -> list[str]:
    return [result["models"][n].get("label", n) for n in result["ranking"]]


def ranking_table(result: dict[str, Any]) -> pd.DataFrame:
    """One row per model, best first: the scores the ranking rests on."""
    rows = []
    for rank, name in enumerate(result["ranking"], start=1):
        m = result["models"][name]
        rows.append({"rank": rank, "model": m.get("label", name),
                     "holdout log score": m.get("holdout_log_score"),
                     "difference to best": m.get("holdout_log_score_diff"),
                     "SE of difference": m.get("holdout_log_score_diff_se"),
                     "elpd_loo": m.get("elpd_loo"), "elpd_loo SE": m.get("elpd_loo_se"),
                     "largest Pareto k": m.get("loo_pareto_k_max"),
                     "PIT p (chi-square)": m.get("pit_chi2_pvalue")})
    df = pd.DataFrame(rows).set_index("rank")
    return df.dropna(axis=1, how="all")


def metrics_table(result: dict[str, Any]) -> pd.DataFrame:
    """Every scalar metric (rows) of every model (columns, best first)."""
    names = result["ranking"]
    rows = {}
    for key, label in METRIC_ROWS:
        values = [result["models"][n].get(key) for n in names]
        if any(v is not None for v in values):
            rows[label] = [np.nan if v is None else v for v in values]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=_labels(result)).astype(object)
    df.index.name = "metric"
    return df


def _figure_grid(fig: _Figures, comparison, make, caption: str, alt: str) -> str:
    parts = []
    for name in comparison.result["ranking"]:
        model = comparison.models[name]
        label = comparison.result["models"][name].get("label", name)
        parts.append(f"<div><h3>{_e(label)}</h3>"
                     + fig(lambda model=model, name=name: make(name, model), f"{label}: {caption}", f"{alt}, {label}")
                     + "</div>")
    return '<div class="grid">' + "".join(parts) + "</div>"


def render_comparison_report(comparison, *, transactions: pd.DataFrame | None = None, title: str | None = None,
                             max_draws: int | None = PLOT_DRAWS, dpi: int = 90, figures: bool = True) -> str:
    """The comparison report as one self-contained HTML string.

    ``comparison``: a :class:`~clvmodels.validation.compare.ModelComparison`. ``transactions``: the
    transaction log (``customer_id``, ``date``) for the tracking plots (left out without it).
    ``max_draws``: posterior draws behind the figures. ``figures=False``: tables only."""
    import matplotlib

    from .. import plotting as P

    result = comparison.result
    summary = comparison.summary
    interval = float(result.get("settings", {}).get("interval", 0.9) or 0.9)
    fig = _Figures(dpi=dpi, enabled=figures)
    cal_end, obs_end = result.get("calibration_end"), result.get("observation_end")
    best = result["models"][result["best"]]
    body = ["<h2 id=\"ranking\">Ranking</h2>",
            f"<p class=\"meta\">Best: <b>{_e(best.get('label', result['best']))}</b>. Criterion: "
            f"{_e(result['criterion'])}. Differences are the best model's score minus each model's, with the "
            "standard error of that paired difference over customers: a difference within about two standard "
            "errors is no clear preference.</p>",
            _table(ranking_table(result))]
    for name, e in (result.get("covariates_effect") or {}).items():  # clv compare --covariates: do they help?
        d, se = e.get("holdout_log_score_diff"), e.get("holdout_log_score_diff_se")
        if d is None:
            continue
        verdict = ("they help" if e.get("helps") else "they hurt" if e.get("hurts")
                   else "no clear difference (within two standard errors)")
        body.append(f'<p class="note">Covariates in {_e(result["models"][name].get("label", name))}: holdout log score '
                    f"{d:+.2f} (standard error {se:.2f}) with them than without: {verdict}.</p>")
    flagged = [m.get("label", n) for n, m in result["models"].items() if m.get("loo_warning")]
    if flagged:
        body.append(f'<p class="note">PSIS-LOO is unreliable for {_e(", ".join(flagged))}: some customers have Pareto k '
                    "above 0.7 (their leave-one-out terms cannot be trusted; the holdout score is unaffected).</p>")
    pairs: list[tuple[str, Any]] = [("customers", result.get("n_customers"))]
    if cal_end:
        pairs.append(("calibration end (models fitted up to)", cal_end))
    if obs_end:
        pairs.append(("observation end", obs_end))
    if result.get("holdout_length") is not None and result.get("time_unit"):
        pairs.append(("holdout length", duration_text(float(result["holdout_length"]), result["time_unit"])))
    settings = result.get("settings", {})
    pairs += [(k.replace("_", " "), v) for k, v in settings.items() if v is not None]
    body += ["<h2 id=\"metrics\">Metrics side by side</h2>", _kv(pairs), _table(metrics_table(result))]
    body.append("<h2 id=\"fit\">Parameters and diagnostics</h2>")
    for name in result["ranking"]:
        body.append(_model_block(result["models"][name].get("label", name), comparison.models[name], interval))
    has_holdout = summary is not None and "frequency_holdout" in summary.columns
    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        if transactions is not None and cal_end:
            body += ["<h2 id=\"tracking\">Tracking</h2>",
                     "<p class=\"meta\">Repeat transactions of the calibration cohort, cumulative and per period: "
                     "actual against each model's expectation, across calibration and holdout.</p>",
                     _figure_grid(fig, comparison, lambda n, m: P.plot_tracking(
                         m, transactions, calibration_end=cal_end, observation_end=obs_end, kind="both",
                         interval=interval, max_draws=max_draws, summary=summary),
                         "repeat transactions, actual and expected.",
                         "Tracking plot")]
        if has_holdout:
            body += ["<h2 id=\"conditional\">Conditional expectations</h2>",
                     "<p class=\"meta\">Mean holdout purchases by calibration frequency: actual and model with "
                     "credible interval.</p>",
                     _figure_grid(fig, comparison, lambda n, m: P.plot_conditional_expectations(
                         m, summary, interval=interval, max_draws=max_draws),
                         "mean holdout purchases by calibration frequency.", "Conditional expectations")]
        if comparison.validations:
            body += ["<h2 id=\"pit\">PIT histograms</h2>",
                     "<p class=\"meta\">Non-randomized probability integral transform of the actual holdout counts "
                     "(Czado, Gneiting &amp; Held 2009): flat when the predictive distributions are calibrated, "
                     "U-shaped when too narrow, hump-shaped when too wide.</p>",
                     _figure_grid(fig, comparison, lambda n, m: P.plot_pit(comparison.validations[n]),
                                  "PIT of the actual holdout counts.", "PIT histogram")]
    title = title or "Transaction model comparison"
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    refs = "; ".join(f"{m.get('label', n)}: {getattr(comparison.models[n], 'reference', '')}"
                     for n, m in result["models"].items() if getattr(comparison.models[n], "reference", ""))
    fails = ""
    if fig.failures:
        fails = ('<div class="note"><b>Parts of this report could not be produced:</b><ul>'
                 + "".join(f"<li>{_e(f)}</li>" for f in fig.failures) + "</ul></div>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><p class=\"meta\">Created {_e(now)} by clvmodels {_e(__version__)} &middot; "
        f"{_e(', '.join(_labels(result)))}</p>{fails}"
        + "".join(body)
        + f"<footer>{_e(refs + '. ' if refs else '')}PIT: Czado, Gneiting &amp; Held (2009), Biometrics 65(4). "
          "PSIS-LOO: Vehtari, Gelman &amp; Gabry (2017), Statistics and Computing 27(5).</footer>"
          "</main></body></html>\n")


def write_comparison_report(comparison, path, **kwargs):
    """Write :func:`render_comparison_report` to ``path`` (UTF-8) atomically (inside
    :func:`clvmodels.io.staged_outputs`, together with the run's other outputs). Returns the path."""
    from pathlib import Path

    from ..io.atomic import atomic_path

    text = render_comparison_report(comparison, **kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
