"""Holdout accuracy and calibration on CDNOW (39 weeks calibration, 39 weeks holdout), the `clv validate`
JSON, and parameter recovery on simulated data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from clvmodels.validation import pit_uniformity_pvalue, validate_purchases


@pytest.fixture(scope="module")
def metrics(cdnow_bgnbd, cdnow_split):
    return validate_purchases(cdnow_bgnbd, cdnow_split, seed=11)


def test_holdout_accuracy(metrics):
    assert metrics["n_customers"] == 2357
    assert metrics["holdout_actual_total"] == 1882  # distinct purchase days in the holdout
    # the published point forecast sums to about 1,653; the posterior mean is close to it
    assert 1550 < metrics["holdout_predicted_total"] < 1700
    assert metrics["mae"] == pytest.approx(0.785, abs=0.02)
    assert metrics["rmse"] == pytest.approx(1.61, abs=0.05)


def test_predictive_intervals_are_calibrated(metrics):
    assert metrics["interval_expected_coverage"] > 0.9  # discrete counts: at least the nominal mass
    assert abs(metrics["interval_coverage"] - metrics["interval_expected_coverage"]) < 0.03
    assert metrics["pit_pvalue"] > 0.01


def test_too_narrow_intervals_are_caught(cdnow_bgnbd, cdnow_split):
    """The plug-in interval of the *expected* purchases is not a predictive interval of the count."""
    e = cdnow_bgnbd.expected_purchases(cdnow_split, "39W")
    actual = cdnow_split["frequency_holdout"]
    inside = ((actual >= e["expected_purchases_lower"]) & (actual <= e["expected_purchases_upper"])).mean()
    assert inside < 0.3


def test_pit_test_rejects_miscalibration():
    rng = np.random.default_rng(0)
    assert pit_uniformity_pvalue(rng.uniform(size=2000)) > 0.01
    assert pit_uniformity_pvalue(rng.beta(2, 2, size=2000)) < 1e-6   # intervals too wide
    assert pit_uniformity_pvalue(rng.beta(0.5, 0.5, size=2000)) < 1e-6  # intervals too narrow


def test_validate_command_writes_the_metrics(tmp_path):
    from clvmodels.cli import main
    from clvmodels.datasets import cdnow_sample_path

    out = tmp_path / "v.json"
    rc = main(["validate", str(cdnow_sample_path()), "--calibration-end", "1997-09-30", "--observation-end",
               "1998-06-30", "--time-unit", "W", "--json", str(out), "--method", "map", "--seed", "1", "--quiet"])
    assert rc == 0
    m = json.loads(out.read_text())
    for k in ("n_customers", "holdout_actual_total", "holdout_predicted_total", "mae", "rmse", "interval",
              "interval_coverage", "interval_expected_coverage", "pit_pvalue", "spend_holdout_actual_total",
              "spend_holdout_predicted_total", "spend_interval_coverage"):
        assert k in m, k
    assert set(m["params"]) == {"r", "alpha", "a", "b"}
    assert all(set(v) == {"mean", "lower", "upper"} for v in m["params"].values())
    assert m["params"]["r"]["lower"] < m["params"]["r"]["mean"] < m["params"]["r"]["upper"]
    assert m["holdout_actual_total"] == 1882
    # spend: predicted holdout spend is close to the actual total, and the predictive intervals cover
    assert m["spend_holdout_predicted_total"] == pytest.approx(m["spend_holdout_actual_total"], rel=0.25)
    assert 0.85 < m["spend_interval_coverage"] <= 1.0


@pytest.mark.slow
def test_parameter_recovery_coverage():
    """On data simulated from known parameters, 90% posterior intervals contain the truth at about the
    nominal rate over repeated simulations."""
    from clvmodels import BetaGeoModel
    from clvmodels.simulate import simulate_summary

    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    hits, total = 0, 0
    for rep in range(12):
        rng = np.random.default_rng(100 + rep)
        T = rng.uniform(20, 60, 1500)
        data = simulate_summary(1500, T=T, seed=200 + rep, **truth)
        m = BetaGeoModel(chains=2, draws=400, tune=400, seed=rep, progressbar=False).fit(data, time_unit="W")
        s = m.summary(0.9)
        for p, v in truth.items():
            hits += int(s.loc[p, "lower"] <= v <= s.loc[p, "upper"])
            total += 1
    rate = hits / total
    # 48 intervals at 90%: a binomial 95% range is roughly [0.79, 0.98]
    assert 0.75 <= rate <= 0.99, rate
