"""Holdout validation and ``clv compare`` with covariates, on a log simulated from two channels whose
customers buy at rates ten times apart (BG/NBD alpha 4 against 40 weeks, the same drop-out) and spend on
scales four times apart (Gamma-Gamma v 15 against 60): ``clv compare --covariates channel`` ranks the
model with the covariate first, by more than two standard errors of the paired difference;
``clv validate --covariates --spend-covariates`` validates the spend per cell, its totals those of the
per-channel cell models and of the log itself; ``clv forecast --calibration-end --covariates`` writes
the validation into the sidecar and the report; bad covariates exit 2 before any fit. MAP fits, 2 x 250
customers."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main

PERIODS = ["--observation-end", "2020-12-31", "--calibration-end", "2020-07-31", "--time-unit", "W"]
FIT = ["--method", "map", "--seed", "1"]
N = 250


def simulated_log(n: int = N) -> pd.DataFrame:
    from clvmodels.simulate import simulate_transactions

    a = simulate_transactions(n, 0.8, 4.0, 0.8, 4.0, 6.0, 4.0, 15.0, observation_end="2020-12-31", seed=0)
    b = simulate_transactions(n, 0.8, 40.0, 0.8, 4.0, 6.0, 4.0, 60.0, observation_end="2020-12-31", seed=1)
    b["customer_id"] += n
    a["channel"], b["channel"] = "ads", "organic"
    return pd.concat([a, b], ignore_index=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cov_holdout")
    log = simulated_log()
    log[["customer_id", "date", "amount"]].to_csv(d / "log.csv", index=False)
    cust = log.groupby("customer_id")["channel"].first().reset_index()
    cust.to_csv(d / "customers.csv", index=False)
    cust.iloc[:-2].to_csv(d / "short.csv", index=False)          # the last two customers have no row
    nan = cust.copy()
    nan.loc[[3, 7], "channel"] = np.nan
    nan.to_csv(d / "nan.csv", index=False)
    return d, log


@pytest.fixture(scope="module")
def compared(files, tmp_path_factory):
    d, _ = files
    out = tmp_path_factory.mktemp("compare")
    rc = main(["compare", str(d / "log.csv"), *PERIODS, "--models", "bgnbd", *FIT, "--quiet", "--json",
               str(out / "c.json"), "--report", str(out / "c.html"), "--covariates", "channel", "--customers",
               str(d / "customers.csv")])
    assert rc == 0
    return json.loads((out / "c.json").read_text()), (out / "c.html").read_text()


def test_compare_ranks_the_model_with_the_covariate_first(compared):
    result, html = compared
    assert result["ranking"] == ["bgnbd+covariates", "bgnbd"] and result["best"] == "bgnbd+covariates"
    models = result["models"]
    assert models["bgnbd+covariates"]["label"] == "BG/NBD + covariates" and models["bgnbd"]["label"] == "BG/NBD"
    assert "purchase_coefficient_alpha[channel=organic]" in models["bgnbd+covariates"]["params"]
    effect = result["covariates_effect"]["bgnbd"]
    d, se = effect["holdout_log_score_diff"], effect["holdout_log_score_diff_se"]
    # the covariate matters: clearly better on the holdout (measured: +16.1, se 4.4; PSIS-LOO +98.0, se 11.9)
    assert d > 2 * se > 0 and effect["helps"] and not effect["hurts"]
    # paired sums over the same customers: exactly the difference of the totals (with minus without)
    assert d == pytest.approx(models["bgnbd+covariates"]["holdout_log_score"] - models["bgnbd"]["holdout_log_score"],
                              rel=1e-9)
    assert d == pytest.approx(models["bgnbd"]["holdout_log_score_diff"], rel=1e-9)
    assert se == pytest.approx(models["bgnbd"]["holdout_log_score_diff_se"], rel=1e-9)
    # PSIS-LOO works per cell: the per-customer terms (matched to each customer's cell) add up to each
    # model's elpd, so the paired difference is the difference of the elpds
    e_diff = effect["elpd_loo_diff"]
    assert e_diff == pytest.approx(models["bgnbd+covariates"]["elpd_loo"] - models["bgnbd"]["elpd_loo"], rel=1e-9)
    assert e_diff > 2 * effect["elpd_loo_diff_se"] > 0
    assert result["settings"]["covariates"] == {"purchase_covariates": ["channel"], "dropout_covariates": ["channel"]}
    # the report: every figure of both models drawn (tracking, conditional expectations and PIT each)
    assert html.count("data:image/png") == 6 and "not drawn" not in html
    assert "Covariates in BG/NBD" in html and "they help" in html


def test_validate_spend_with_covariates_per_cell(files, tmp_path, capsys):
    d, log = files
    rc = main(["validate", str(d / "log.csv"), *PERIODS, *FIT, "--quiet", "--json", str(tmp_path / "v.json"),
               "--table", str(tmp_path / "v.csv"), "--covariates", "channel", "--spend-covariates", "channel",
               "--customers", str(d / "customers.csv")])
    assert rc == 0, capsys.readouterr().err
    m = json.loads((tmp_path / "v.json").read_text())
    assert "spend_coefficient_v[channel=organic]" in m["spend_params"]
    assert m["fit_info"]["gamma_gamma"]["n_cells"] == 2
    # the actual holdout spend, straight from the log: calibration customers' amounts after the split
    cal = log[log["date"] <= "2020-07-31"]
    hold = log[(log["date"] > "2020-07-31") & log["customer_id"].isin(cal["customer_id"])]
    assert m["spend_holdout_actual_total"] == pytest.approx(hold["amount"].sum(), rel=1e-12)
    table = pd.read_csv(tmp_path / "v.csv")
    assert m["spend_holdout_predicted_total"] == pytest.approx(table["spend_holdout_predicted"].sum(), rel=1e-12)
    # the total's interval is of the per-draw total, not a sum of per-customer quantiles (much wider)
    lo, hi = m["spend_holdout_total_lower"], m["spend_holdout_total_upper"]
    assert lo < m["spend_holdout_predicted_total"] < hi
    assert table["spend_holdout_lower"].sum() < lo and hi < table["spend_holdout_upper"].sum()
    # the prediction is right within its interval (the model is the simulating one)
    assert lo < m["spend_holdout_actual_total"] < hi
    # the organic channel spends 4x more per transaction (E[spend] = p v / (q - 1): 30 against 120)
    per = table.assign(channel=pd.read_csv(d / "customers.csv").set_index("customer_id")["channel"]
                       .reindex(table["customer_id"]).to_numpy()).groupby("channel")["mean_spend_holdout_predicted"].mean()
    assert 25 < per["ads"] < 40 and 90 < per["organic"] < 140


@pytest.fixture(scope="module")
def fitted(files):
    from clvmodels import summarize
    from clvmodels.models import BetaGeoModel, GammaGammaModel

    d, log = files
    s = summarize(log, customer_id="customer_id", date="date", amount="amount", time_unit="W",
                  observation_end="2020-12-31", calibration_end="2020-07-31")
    s["channel"] = log.groupby("customer_id")["channel"].first().reindex(s.index).to_numpy()
    bg = BetaGeoModel(method="map", seed=1, purchase_covariates=["channel"], dropout_covariates=["channel"]).fit(s)
    gg = GammaGammaModel(method="map", seed=1, spend_covariates=["channel"]).fit(s)
    return s, bg, gg


def test_validate_spend_equals_the_cell_models_validated_one_by_one(fitted):
    """validate_spend with covariates against the same validation of each channel's cell models (models
    without covariates: the path without cells), channel by channel: the same per-customer predictions
    (they are means over the same joint draws) and totals that add up."""
    from clvmodels.validation.spend import validate_spend

    s, bg, gg = fitted
    whole = validate_spend(bg, gg, s, max_draws=200)
    p_of, p_models = bg.cell_models(s)
    g_of, g_models = gg.cell_models(s)
    assert (p_of == g_of).all() and len(p_models) == 2   # one covariate, the same two cells in both models
    total = 0.0
    for c in range(2):
        rows = s.index[p_of == c]
        part = validate_spend(p_models[c], g_models[c], s.loc[rows], max_draws=200)
        np.testing.assert_allclose(whole["table"].loc[rows, "spend_holdout_predicted"],
                                   part["table"]["spend_holdout_predicted"], rtol=1e-12)
        np.testing.assert_allclose(whole["table"].loc[rows, "mean_spend_holdout_predicted"],
                                   part["table"]["mean_spend_holdout_predicted"], rtol=1e-12)
        total += part["spend_holdout_predicted_total"]
    assert whole["spend_holdout_predicted_total"] == pytest.approx(total, rel=1e-12)
    assert list(whole["table"].index) == list(s.index)     # back in the customers' order


def test_plots_of_a_covariate_model_add_up_their_cells(files, fitted):
    """The validation plots' numbers with covariates are the sums of each channel's cell model's numbers
    on that channel's customers (per-draw sums, so the means add up exactly)."""
    from clvmodels.plotting.conditional import conditional_expectations_data
    from clvmodels.plotting.tracking import tracking_data

    _, log = files
    s, bg, _ = fitted
    tx = log[["customer_id", "date"]]
    whole = tracking_data(bg, tx, calibration_end="2020-07-31", observation_end="2020-12-31", summary=s,
                          max_draws=100)
    cond = conditional_expectations_data(bg, s, max_draws=100)
    cell_of, models = bg.cell_models(s)
    cum = np.zeros(len(whole))
    exp_total = np.zeros(len(cond))
    for c, m in enumerate(models):
        ids = s.index[cell_of == c]
        part = tracking_data(m, tx, calibration_end="2020-07-31", observation_end="2020-12-31", customers=ids,
                             max_draws=100)
        np.testing.assert_array_equal(part["period_end"], whole["period_end"])
        cum += part["cumulative_expected"].to_numpy()
        exp_total += conditional_expectations_data(m, s.loc[ids], max_draws=100)["expected_total"].to_numpy()
    np.testing.assert_allclose(whole["cumulative_expected"], cum, rtol=1e-10)
    np.testing.assert_allclose(cond["expected_total"], exp_total, rtol=1e-10)
    # and the two channels differ: the covariate model's expectation is not the reference customer's alone
    ref = tracking_data(bg.reference_model(), tx, calibration_end="2020-07-31", observation_end="2020-12-31",
                        max_draws=100)
    assert abs(ref["cumulative_expected"].iloc[-1] / whole["cumulative_expected"].iloc[-1] - 1) > 0.2
    with pytest.raises(Exception, match="summary="):
        tracking_data(bg, tx, calibration_end="2020-07-31", observation_end="2020-12-31", max_draws=100)


def test_forecast_calibration_end_with_covariates(files, tmp_path, capsys):
    d, _ = files
    out = tmp_path / "f.csv"
    rc = main(["forecast", str(d / "log.csv"), *PERIODS, *FIT, "--quiet", "--horizon", "26", "-o", str(out),
               "--report", str(tmp_path / "r.html"), "--covariates", "channel", "--spend-covariates", "channel",
               "--customers", str(d / "customers.csv")])
    assert rc == 0, capsys.readouterr().err
    v = json.loads((tmp_path / "f.csv.meta.json").read_text())["validation"]
    assert v["calibration_end"] == "2020-07-31" and v["n_customers"] == len(pd.read_csv(d / "customers.csv"))
    assert "purchase_coefficient_alpha[channel=organic]" in v["params"]
    assert "spend_coefficient_v[channel=organic]" in v["spend_params"]
    assert v["fit_info"]["bgnbd"]["n_cells"] == 2 and np.isfinite(v["holdout_log_score"])
    # the same numbers clv validate gives for the same configuration and seed
    rc = main(["validate", str(d / "log.csv"), *PERIODS, *FIT, "--quiet", "--json", str(tmp_path / "v.json"),
               "--covariates", "channel", "--spend-covariates", "channel", "--customers", str(d / "customers.csv")])
    assert rc == 0
    ref = json.loads((tmp_path / "v.json").read_text())
    for k in ("holdout_log_score", "holdout_predicted_total", "spend_holdout_predicted_total"):
        assert v[k] == pytest.approx(ref[k], rel=1e-9), k
    html = (tmp_path / "r.html").read_text()
    for alt in ("Conditional expectations", "PIT histogram", "Tracking plot"):  # the validation section's figures
        assert f'alt="{alt}"' in html, alt
    assert "validation failed" not in html


@pytest.mark.parametrize("name, needle", [("short.csv", "2 customers of the transaction log have no row"),
                                          ("nan.csv", "column 'channel'")])
def test_compare_bad_covariates_exit_2_before_any_fit(files, tmp_path, capsys, name, needle):
    d, _ = files
    rc = main(["compare", str(d / "log.csv"), *PERIODS, "--models", "bgnbd", *FIT, "--json",
               str(tmp_path / "c.json"), "--covariates", "channel", "--customers", str(d / name)])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err, err
    assert "fitting" not in err and not (tmp_path / "c.json").exists()
    if name == "short.csv":
        assert f"[{2 * N - 1}, {2 * N}]" in err      # the customers named
    else:
        assert "2 rows" in err or "customer" in err


def test_compare_takes_no_spend_covariates(files, tmp_path, capsys):
    d, _ = files
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(d / "log.csv"), *PERIODS, "--models", "bgnbd", *FIT, "--json", str(tmp_path / "c.json"),
              "--spend-covariates", "channel", "--customers", str(d / "customers.csv")])
    assert exc.value.code == 2 and "--spend-covariates" in capsys.readouterr().err
