"""One default for the posterior draws behind a forecast: every entry point (notebook API, CLI, report,
Spark scorer, validation) uses :data:`clvmodels.predict.DEFAULT_SCORING_DRAWS` unless told otherwise,
so that they give equal numbers by default."""
from __future__ import annotations

import inspect

import pytest

from clvmodels.draws import DEFAULT_SCORING_DRAWS


def _default(fn, name="max_draws"):
    return inspect.signature(fn).parameters[name].default


def test_every_entry_point_defaults_to_the_same_draws():
    import clvmodels
    from clvmodels.cli import build_parser
    from clvmodels.scoring import score
    from clvmodels.validation import validate_purchases
    from clvmodels.validation.spend import validate_spend
    from clvmodels.value.clv import customer_lifetime_value, joint_draws

    for fn in (score, clvmodels.forecast, customer_lifetime_value, joint_draws, validate_purchases,
               validate_spend, clvmodels.BetaGeoModel.predict):
        assert _default(fn) == DEFAULT_SCORING_DRAWS, fn.__qualname__
    args = build_parser().parse_args(["forecast", "log.csv", "--observation-end", "2020-01-01", "--horizon", "4",
                                      "-o", "f.csv"])
    assert args.max_draws == DEFAULT_SCORING_DRAWS


def test_the_spark_scorer_defaults_to_the_same_draws():
    pytest.importorskip("pyspark")
    from clvmodels.spark.score import score_spark

    assert _default(score_spark) == DEFAULT_SCORING_DRAWS


def test_the_report_validates_with_the_runs_draws(monkeypatch):
    """render_report's validation takes the run's scoring draws (settings.max_draws), not the figures'."""
    import clvmodels.report.render as render

    seen = {}

    def fake_section(result, holdout, transactions, fig, max_draws, interval, validation_draws, validation=None):
        seen["figures"], seen["validation"] = max_draws, validation_draws
        return ""

    class Result:
        metadata = {"settings": {"max_draws": 321}, "interval": 0.9}

    monkeypatch.setattr(render, "_holdout_summary", lambda result, holdout: object())
    monkeypatch.setattr(render, "_validation_section", fake_section)
    for name in ("_data_section", "_model_section", "_value_section", "_top_section"):
        monkeypatch.setattr(render, name, lambda *a, **k: "")
    render.render_report(Result(), figures=False)
    assert seen == {"figures": render.PLOT_DRAWS, "validation": 321}
    Result.metadata = {"interval": 0.9}  # a result without settings: the library's default
    render.render_report(Result(), figures=False)
    assert seen["validation"] == DEFAULT_SCORING_DRAWS
