"""clv forecast --covariates / --spend-covariates / --customers FILE: the covariates' columns joined from a
customer attributes file, the table keeping them, the sidecar's models with covariates; bad covariates
(a customer without a row, two rows with different values, NaN, an unseen level with --no-fit) exit 2
naming the column or the customers, before the fit."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main

END = "1997-09-30"
FIT = ["--method", "map", "--seed", "5", "--max-draws", "200", "--horizon", "26"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, cdnow_transactions):
    d = tmp_path_factory.mktemp("cov")
    log = cdnow_transactions[cdnow_transactions["date"] <= END].reset_index(drop=True)
    log.to_csv(d / "log.csv", index=False)
    ids = np.sort(log["customer_id"].unique())
    rng = np.random.default_rng(0)
    cust = pd.DataFrame({"customer_id": ids, "channel": rng.choice(["ads", "organic", "tv"], len(ids)),
                         "age": rng.integers(20, 70, len(ids)).astype(float)})
    cust.to_csv(d / "customers.csv", index=False)
    cust.iloc[:-3].to_csv(d / "short.csv", index=False)
    twice = pd.concat([cust, cust.iloc[[5]].assign(channel="zzz")])
    twice.to_csv(d / "twice.csv", index=False)
    nan = cust.copy()
    nan.loc[[2, 9], "age"] = np.nan
    nan.to_csv(d / "nan.csv", index=False)
    unseen = cust.copy()
    unseen.loc[[4], "channel"] = "radio"
    unseen.to_csv(d / "unseen.csv", index=False)
    return d


def test_forecast_with_covariates_end_to_end_and_no_fit(files, tmp_path, capsys):
    out, md = tmp_path / "f.csv", tmp_path / "models"
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(out),
               "--model-dir", str(md), "--covariates", "channel,age", "--spend-covariates", "channel",
               "--customers", str(files / "customers.csv"), "--quiet", "--report", str(tmp_path / "r.html")])
    assert rc == 0, capsys.readouterr().err
    html = (tmp_path / "r.html").read_text()
    assert html.count("Covariate effects") == 2  # the purchase model's and the spend model's
    assert "purchase_<wbr>coefficient_<wbr>alpha" in html or "purchase_coefficient_alpha[age]" in html
    # the period transactions and the P(alive) matrix, per cell of customers
    assert 'alt="Period transactions"' in html and 'alt="P(alive) matrix"' in html
    assert "averaged over the customers" in html and "Figure not drawn" not in html
    table = pd.read_csv(out)
    cust = pd.read_csv(files / "customers.csv").set_index("customer_id")
    assert {"channel", "age"} <= set(table.columns)
    assert (table.set_index("customer_id")["channel"] == cust["channel"].reindex(table["customer_id"])).all()
    from clvmodels.models.base import BayesianModel

    bg = BayesianModel.load(md / "bgnbd.clvm")
    ch = bg.covariates_.covariates["channel"]
    assert ch.kind == "categorical" and ch.levels == ["ads", "organic", "tv"]
    others = [lv for lv in ch.levels if lv != ch.reference]
    assert bg.param_names[4:] == tuple([f"purchase_coefficient_alpha[channel={lv}]" for lv in others]
                                       + ["purchase_coefficient_alpha[age]"]
                                       + [f"dropout_coefficient_{p}[{c}]" for p in "ab"
                                          for c in [f"channel={lv}" for lv in others] + ["age"]])
    from clvmodels.io.atomic import metadata_path

    meta = json.loads(metadata_path(out).read_text())
    assert "reference customer" in meta["new_customer"]["note"]
    for c in ("channel", "age"):  # described as what they are, not as an unknown column
        assert meta["columns"][c]["description"].startswith("customer covariate, as given")
        assert meta["columns"][c]["unit"] == "as given"
    # --no-fit with the saved models: the same table
    out2 = tmp_path / "g.csv"
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(out2),
               "--model-dir", str(md), "--no-fit", "--covariates", "channel,age", "--spend-covariates", "channel",
               "--customers", str(files / "customers.csv"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(out2), table)
    # a level the fit did not see: exit 2 naming it
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "h.csv"),
               "--model-dir", str(md), "--no-fit", "--covariates", "channel,age", "--spend-covariates", "channel",
               "--customers", str(files / "unseen.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "'channel'" in err and "'radio'" in err and not (tmp_path / "h.csv").exists()


@pytest.mark.parametrize("name, needle", [
    ("short.csv", "3 customers of the transaction log have no row"),
    ("twice.csv", "two or more different rows"),
    ("nan.csv", "column 'age'"),
])
def test_bad_covariates_exit_2(files, tmp_path, capsys, name, needle):
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv"),
               "--covariates", "channel,age", "--customers", str(files / name), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err, err
    assert not (tmp_path / "f.csv").exists()


def test_covariate_options_checked_before_any_work(files, tmp_path, capsys):
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv"),
               "--covariates", "channel,colour", "--customers", str(files / "customers.csv"),
               "--calibration-end", "1997-06-30"])
    err = capsys.readouterr().err
    assert rc == 2 and "'colour'" in err and "--calibration-end with covariates" not in err  # validated per cell now
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv"),
               "--covariates", "channel", "--quiet"])  # not a column of the log, and no --customers
    err = capsys.readouterr().err
    assert rc == 2 and "'channel'" in err and "--customers FILE" in err


def test_covariates_from_the_log_itself(files, tmp_path, capsys, cdnow_transactions):
    log = cdnow_transactions[cdnow_transactions["date"] <= END].reset_index(drop=True)
    cust = pd.read_csv(files / "customers.csv").set_index("customer_id")
    log["channel"] = cust["channel"].reindex(log["customer_id"]).to_numpy()
    log.to_csv(tmp_path / "log.csv", index=False)
    rc = main(["forecast", str(tmp_path / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv"),
               "--covariates", "channel", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_csv(tmp_path / "f.csv")
    assert (table["channel"].to_numpy() == cust["channel"].reindex(table["customer_id"]).to_numpy()).all()
    # a customer whose transactions carry two channels: exit 2 naming the column and the customer
    first = int(log["customer_id"].value_counts().index[0])
    rows = np.flatnonzero(log["customer_id"].to_numpy() == first)
    log.loc[rows[-1], "channel"] = "zzz"
    log.to_csv(tmp_path / "log2.csv", index=False)
    rc = main(["forecast", str(tmp_path / "log2.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "g.csv"),
               "--covariates", "channel", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "column 'channel'" in err and f"[{first}]" in err and "two or more different values" in err
    assert not (tmp_path / "g.csv").exists()


def test_forecast_with_a_pooled_group(files, tmp_path, capsys):
    out = tmp_path / "f.csv"
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, "--method", "nuts", "--chains", "2",
               "--draws", "150", "--tune", "150", "--seed", "1", "--max-draws", "100", "--horizon", "26", "-o", str(out),
               "--group", "channel", "--customers", str(files / "customers.csv"), "--quiet", "--model-dir",
               str(tmp_path / "m"), "--report", str(tmp_path / "r.html")])
    assert rc == 0, capsys.readouterr().err
    from clvmodels.models.base import BayesianModel

    bg = BayesianModel.load(tmp_path / "m" / "bgnbd.clvm")
    assert bg.group == "channel" and "group_effect_alpha[channel=tv]" in bg.param_names
    table = pd.read_csv(out)
    assert "channel" in table.columns
    # --group pools the spend model too: its scale v by channel, the effects in the file and the report
    gg = BayesianModel.load(tmp_path / "m" / "gamma_gamma.clvm")
    assert gg.group == "channel" and {"group_sd_v", "group_effect_v[channel=tv]"} <= set(gg.param_names)
    assert "group_effect_v[channel=tv]" in gg.diagnostics_.r_hat
    html = (tmp_path / "r.html").read_text()
    assert html.count("Covariate effects") == 2 and "group_effect_v[channel=ads]" in html.replace("<wbr>", "")
    assert "pooled groups" in html
    # the table's expected spend is the spend model's own, customer by customer (each channel its own v)
    summ = table.set_index("customer_id")
    df = summ[["frequency", "monetary_value", "channel"]].head(300)
    np.testing.assert_allclose(gg.expected_spend(df, max_draws=100)["expected_spend"].to_numpy(),
                               summ["expected_spend"].head(300).to_numpy(), rtol=1e-6)
    assert summ.groupby("channel")["expected_spend"].median().nunique() == 3


def test_group_pools_the_spend_model_only_when_one_is_fitted():
    from argparse import Namespace

    from clvmodels.cli.covariate_options import covariate_model_config

    assert covariate_model_config(Namespace(group="country")) == ({"group": "country"}, {"group": "country"})
    for extra in ({"no_amount": True}, {"spend": "spend.csv"}):
        assert covariate_model_config(Namespace(group="country", **extra)) == ({"group": "country"}, {})


def test_group_that_is_also_a_spend_covariate_exits_2_before_any_work(files, tmp_path, capsys):
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv"),
               "--group", "channel", "--spend-covariates", "channel", "--customers", str(files / "customers.csv"),
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "--group 'channel' is also one of --spend-covariates" in err, err
    assert not (tmp_path / "f.csv").exists()


def test_spend_covariates_with_the_frequency_spend_model(files, tmp_path, capsys):
    md = tmp_path / "m"
    rc = main(["forecast", str(files / "log.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv"),
               "--spend-model", "gamma_gamma_frequency", "--spend-covariates", "channel", "--customers",
               str(files / "customers.csv"), "--quiet", "--model-dir", str(md)])
    assert rc == 0, capsys.readouterr().err
    from clvmodels.models.base import BayesianModel
    from clvmodels.models.gamma_gamma import GammaGammaFrequencyModel

    gg = BayesianModel.load(md / "gamma_gamma.clvm")
    assert isinstance(gg, GammaGammaFrequencyModel) and gg.fit_info_["n_cells"] == 3
    ref = gg.covariates_.covariates["channel"].reference
    assert gg.param_names == ("p", "q", "v", "gamma", *[f"spend_coefficient_v[channel={lv}]"
                                                        for lv in ("ads", "organic", "tv") if lv != ref])


def test_validate_with_covariates(files, tmp_path, capsys):
    out = tmp_path / "v.json"
    rc = main(["validate", str(files / "log.csv"), "--observation-end", "1998-06-30", "--calibration-end", END,
               "--method", "map", "--seed", "5", "--json", str(out), "--covariates", "channel,age",
               "--customers", str(files / "customers.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err
    m = json.loads(out.read_text())
    # the spend too (per cell of the purchase model's covariates; the Gamma-Gamma has none here)
    assert "spend" not in m and np.isfinite(m["spend_holdout_predicted_total"])
    assert "purchase_coefficient_alpha[age]" in m["params"] and np.isfinite(m["holdout_log_score"])
    assert m["fit_info"]["bgnbd"]["n_cells"] > 1
