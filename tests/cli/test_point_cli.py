"""``--method mode`` on the command line: clv forecast (table, sidecar, report, --model-dir save and
--no-fit load), clv validate, and clv compare refusing it before any work."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.datasets import cdnow_sample_path

ARGS = ["--observation-end", "1998-06-30", "--time-unit", "W", "--horizon", "52", "--method", "mode", "--quiet"]


@pytest.fixture(scope="module")
def mode_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mode")
    rc = main(["forecast", str(cdnow_sample_path()), *ARGS, "-o", str(d / "f.parquet"), "--model-dir",
               str(d / "models"), "--report", str(d / "r.html")])
    assert rc == 0
    return d


def test_forecast_with_mode_writes_a_point_forecast_and_says_so(mode_run):
    d = mode_run
    t = pd.read_parquet(d / "f.parquet")
    assert len(t) == 2357
    for c in ("p_alive", "expected_purchases", "expected_spend", "clv"):  # no parameter uncertainty
        assert (t[f"{c}_lower"] == t[c]).all() and (t[f"{c}_upper"] == t[c]).all()
    assert (t["purchases_upper"] > t["purchases_lower"]).mean() > 0.9  # the customers' own randomness
    meta = json.loads((d / "f.parquet.meta.json").read_text())
    assert meta["settings"]["method"] == "mode"
    assert meta["fit_methods"] == {"purchase_model": "mode", "spend_model": "mode"}
    assert "no parameter uncertainty" in meta["parameter_uncertainty"]
    # each bound over the parameters says the model is one point; the predictive count bounds do not
    cols = meta["columns"]
    assert "the purchase model is one point, the posterior mode alone" in cols["clv_lower"]["description"]
    assert "the spend model is one point" in cols["expected_spend_upper"]["description"]
    assert "one point" not in cols["purchases_upper"]["description"]
    diag = meta["models"]["bgnbd"]["diagnostics"]
    assert (diag["method"], diag["draws"], diag["r_hat"], diag["ess_bulk"]) == ("mode", 1, {}, {})
    assert "R-hat and ESS do not apply" in diag["note"]
    assert meta["models"]["bgnbd"]["params"]["r"]["r_hat"] is None  # JSON null, not a made-up number
    html = (d / "r.html").read_text()
    assert "the posterior mode alone" in html and "Point estimate:" in html
    fit_section = html.split('id="fit"')[1].split("<h2")[0]
    assert "no R-hat or ESS" in fit_section and "r_hat" not in fit_section and "ess_bulk" not in fit_section
    assert "posterior by chain" not in fit_section  # no trace plot of a single point


def test_no_fit_loads_the_mode_models_and_gives_the_same_table(mode_run):
    d = mode_run
    rc = main(["forecast", str(cdnow_sample_path()), *ARGS, "--no-fit", "--model-dir", str(d / "models"),
               "-o", str(d / "g.parquet")])
    assert rc == 0
    pd.testing.assert_frame_equal(pd.read_parquet(d / "f.parquet"), pd.read_parquet(d / "g.parquet"))
    meta = json.loads((d / "g.parquet.meta.json").read_text())
    assert meta["fit_methods"] == {"purchase_model": "mode", "spend_model": "mode"}
    # the settings say how the scored models were made, not the default --method nuts of this call
    assert meta["settings"]["method"] == "mode" and meta["settings"]["fit"] is False


def test_validate_with_mode_reports_the_point_forecast(tmp_path):
    out = tmp_path / "v.json"
    rc = main(["validate", str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--calibration-end",
               "1997-09-30", "--time-unit", "W", "--method", "mode", "--json", str(out), "--quiet"])
    assert rc == 0
    v = json.loads(out.read_text())
    assert v["diagnostics"]["method"] == "mode" and v["holdout_actual_total"] == 1882
    # the plug-in at the mode under the default priors: about 1,654 of the 1,882 holdout purchases
    assert 1640 < v["holdout_predicted_total"] < 1670


def test_compare_refuses_mode_before_any_work(tmp_path, capsys):
    rc = main(["compare", str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--calibration-end",
               "1997-09-30", "--method", "mode", "--json", str(tmp_path / "c.json")])
    assert rc == 2 and not (tmp_path / "c.json").exists()
    assert "--method mode" in capsys.readouterr().err
