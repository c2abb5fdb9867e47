"""GammaGammaModel(first_purchase=True): the spend model on all x + 1 purchase occasions.

Checked against independent computations: the conditional expected spend by hand and by numerical
integration (mpmath) of the posterior of nu given n purchases of mean zbar; the likelihood of a row by
direct integration over nu; recovery of (p, q, v) from a simulated log whose every purchase has a Gamma
amount; and the option's path through forecast(), the table, model files, the new-customer value and
the CLI (checked before any work)."""
from __future__ import annotations

import json
import subprocess
import sys

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels import GammaGammaModel, summarize
from clvmodels.models.gamma_gamma.model import spend_statistics

P, Q, V = 6.0, 4.0, 25.0
SUMMARY = pd.DataFrame({"frequency": [0, 0, 2, 5, 1], "monetary_value": [0.0, 0.0, 30.0, 12.5, 0.0],
                        "first_purchase_value": [500.0, 5.0, 15.0, 40.0, 8.0]},
                       index=pd.Index([1, 2, 3, 4, 5], name="customer_id"))


def _posterior_mean_spend(p, q, v, n, zbar):
    """E[p / nu | n purchases of mean zbar] by integrating nu over its prior Gamma(q, v) times the
    likelihood of the mean, Gamma(p n, rate n nu) (mpmath, 30 digits)."""
    mp.mp.dps = 30
    p, q, v, zbar = map(mp.mpf, (p, q, v, zbar))

    def post(nu):
        return nu ** (q - 1) * mp.exp(-v * nu) * (n * nu) ** (p * n) * zbar ** (p * n - 1) * mp.exp(-n * nu * zbar)

    num = mp.quad(lambda nu: (p / nu) * post(nu), [0, 1 / (zbar + v), mp.inf])
    den = mp.quad(post, [0, 1 / (zbar + v), mp.inf])
    return float(num / den)


def test_spend_statistics_mean_over_all_occasions():
    n, z = spend_statistics(SUMMARY, first_purchase=True)
    assert n.tolist() == [1, 1, 3, 6, 2]
    assert z.tolist() == [500.0, 5.0, (15 + 60) / 3, (40 + 62.5) / 6, 4.0]
    n0, z0 = spend_statistics(SUMMARY)
    assert n0.tolist() == [0, 0, 2, 5, 1] and z0.tolist() == [0.0, 0.0, 30.0, 12.5, 0.0]


def test_conditional_expected_spend_by_hand_and_by_integration():
    m = GammaGammaModel.from_params({"p": P, "q": Q, "v": V}, first_purchase=True)
    got = m.expected_spend(SUMMARY)["expected_spend"].to_numpy()
    n, z = spend_statistics(SUMMARY, first_purchase=True)
    by_hand = P * (V + n * z) / (P * n + Q - 1)  # FHL 2005 eq. 5 with x + 1 transactions
    np.testing.assert_allclose(got, by_hand, rtol=1e-13)
    # the $500 one-time buyer and the $5 one: (6 (25 + 500)) / 9 = 350 and (6 (25 + 5)) / 9 = 20
    assert got[0] == pytest.approx(350.0, rel=1e-13) and got[1] == pytest.approx(20.0, rel=1e-13)
    for i in range(len(n)):
        assert got[i] == pytest.approx(_posterior_mean_spend(P, Q, V, n[i], z[i]), rel=1e-10)
    # the convention gives both one-time buyers the population mean p v / (q - 1) = 50
    plain = GammaGammaModel.from_params({"p": P, "q": Q, "v": V}).expected_spend(SUMMARY)["expected_spend"]
    assert plain.iloc[0] == plain.iloc[1] == pytest.approx(50.0, rel=1e-13)


def test_likelihood_against_direct_integration():
    m = GammaGammaModel.from_params({"p": P, "q": Q, "v": V}, first_purchase=True)
    n, z = spend_statistics(SUMMARY, first_purchase=True)
    mp.mp.dps = 30
    total = mp.mpf(0)
    for ni, zi in zip(n, z):
        # density of the mean of ni Gamma(P, nu) amounts, Gamma(P ni, rate ni nu), over nu ~ Gamma(Q, V)
        def integrand(nu, ni=ni, zi=zi):
            a = P * ni
            f_z = (ni * nu) ** a * mp.mpf(zi) ** (a - 1) * mp.exp(-ni * nu * zi) / mp.gamma(a)
            return f_z * V ** Q * nu ** (Q - 1) * mp.exp(-V * nu) / mp.gamma(Q)
        total += mp.log(mp.quad(integrand, [0, 1 / (zi + V), mp.inf]))
    assert m.log_likelihood(SUMMARY) == pytest.approx(float(total), rel=1e-11)


def test_recovers_the_parameters_of_a_simulated_log():
    from clvmodels.simulate import simulate_transactions

    p, q, v = 5.0, 3.0, 40.0
    log, latent = simulate_transactions(3000, 0.25, 4.0, 0.8, 2.5, p, q, v, start="2020-01-01",
                                        acquisition_days=90, observation_end="2020-12-31", seed=11, return_latent=True)
    s = summarize(log, observation_end="2020-12-31", time_unit="W")
    m = GammaGammaModel(first_purchase=True, seed=3, progressbar=False, chains=2, draws=500, tune=500).fit(s)
    summ = m.summary(0.9)
    for name, true in (("p", p), ("q", q), ("v", v)):
        assert summ.loc[name, "lower"] < true < summ.loc[name, "upper"], (name, summ.loc[name].to_dict())
    # every customer is fitted (all have a first purchase worth more than 0), not only the repeat buyers
    assert m.fit_info_["n_customers_fitted"] == len(s) and m.fit_info_["n_excluded_no_repeat"] == 0
    assert m.fit_info_["first_purchase"] is True
    # the mean spend of these 3,000 customers, mean(p / nu) = 102.6 (the population's p v / (q - 1) is 100),
    # inside the interval of the new customer's expected spend (101.2 to 108.1)
    new = m.expected_spend_new()
    assert new["lower"] < float(np.mean(p / latent["nu"])) < new["upper"]


def test_forecast_table_model_file_and_new_customer(tmp_path, cdnow_split, cdnow_bgnbd):
    from clvmodels import forecast
    from clvmodels.models.base import BayesianModel

    gg = GammaGammaModel(first_purchase=True, method="map", seed=1, progressbar=False).fit(cdnow_split)
    res = forecast(summary=cdnow_split, purchase_model=cdnow_bgnbd, spend_model=gg, fit=False, horizon="52W",
                   max_draws=200)
    t = res.table.set_index("customer_id")
    one = t["frequency"] == 0
    # one-time buyers' expected spend now differs between customers, ordered as their first purchases
    assert t.loc[one, "expected_spend"].nunique() > 100
    fp = cdnow_split.loc[one[one].index, "first_purchase_value"]
    assert np.corrcoef(fp, t.loc[one, "expected_spend"])[0, 1] > 0.99
    # the table's posterior mean is the model's own (the same draws: the thinned 200 of the MAP's)
    ref = gg.expected_spend(cdnow_split, max_draws=200)["expected_spend"]
    np.testing.assert_allclose(t["expected_spend"], ref.loc[t.index], rtol=1e-10)
    assert res.metadata["models"]["gamma_gamma"]["first_purchase"] is True
    # the new customer has no purchase value yet: the population mean p v / (q - 1), not a purchase worth 0
    d = gg.draws_(200)
    pop = float(np.mean(d["p"] * d["v"] / (d["q"] - 1)))
    assert res.metadata["new_customer"]["expected_spend"] == pytest.approx(pop, rel=1e-10)
    # the model file keeps the option, and a fresh interpreter predicts the same
    path = tmp_path / "gg.clvm"
    gg.save(path)
    assert BayesianModel.load(path).first_purchase is True
    code = ("import sys, pandas as pd; from clvmodels.models.base import BayesianModel; "
            "m = BayesianModel.load(sys.argv[1]); s = pd.read_csv(sys.argv[2], index_col=0); "
            "print(m.expected_spend(s, max_draws=200)['expected_spend'].sum())")
    csv = tmp_path / "s.csv"
    cdnow_split[["frequency", "monetary_value", "first_purchase_value"]].to_csv(csv)
    out = subprocess.run([sys.executable, "-c", code, str(path), str(csv)], capture_output=True, text=True, check=True)
    assert float(out.stdout) == pytest.approx(float(ref.sum()), rel=1e-9)


def test_needs_first_purchase_value_and_names_it():
    from clvmodels.errors import InputError

    m = GammaGammaModel(first_purchase=True, method="map")
    with pytest.raises(InputError, match="first_purchase_value"):
        m.fit(SUMMARY.drop(columns="first_purchase_value").assign(recency=1.0, T=2.0), time_unit="W")
    bad = SUMMARY.copy()
    bad.loc[2, "first_purchase_value"] = -100.0  # a mean over all occasions below 0
    with pytest.raises(InputError, match="mean over all purchase occasions"):
        m.fit(bad, time_unit="W")
    with pytest.raises(ValueError, match="first_purchase must be True or False"):
        GammaGammaModel(first_purchase="yes")


def _clv(*args, tmp_path):
    import os

    env = {**os.environ}
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env)


def test_cli_options_checked_before_work_and_recorded(tmp_path):
    from clvmodels.datasets import cdnow_sample_path

    log = str(cdnow_sample_path())
    spend = tmp_path / "spend.csv"
    pd.DataFrame({"customer_id": [1], "spend": [1.0]}).to_csv(spend, index=False)
    r = _clv("forecast", log, "--observation-end", "1998-06-30", "--horizon", "52", "-o", str(tmp_path / "f.csv"),
             "--first-purchase", "--spend-model", "gamma_gamma_frequency", "--spend", str(spend), tmp_path=tmp_path)
    assert r.returncode == 2 and "--spend-model and --first-purchase" in r.stderr and "--spend FILE" in r.stderr
    assert not (tmp_path / "f.csv").exists()
    r = _clv("validate", log, "--observation-end", "1998-06-30", "--calibration-end", "1997-09-30", "--json",
             str(tmp_path / "v.json"), "--first-purchase", "--method", "map", "--quiet", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["spend_model"] == {"model": "GammaGammaModel", "first_purchase": True, "frequency_effect": False}
    ms = v["mean_spend_holdout"]
    assert ms["customers"] == 684 and ms["one_time"]["customers"] == 193 and ms["repeat"]["customers"] == 491
    assert 0 < ms["mae"] < ms["rmse"] and 0 < ms["coverage"] <= 1
    assert v["fit_info"]["gamma_gamma"]["first_purchase"] is True


def test_cli_forecast_saves_the_chosen_spend_model_and_no_fit_scores_with_it(tmp_path):
    from clvmodels.datasets import cdnow_sample_path

    log = str(cdnow_sample_path())
    common = ["--observation-end", "1998-06-30", "--horizon", "52", "--model-dir", str(tmp_path / "m"), "--method",
              "map", "--seed", "1", "--quiet", "--max-draws", "200"]
    r = _clv("forecast", log, "-o", str(tmp_path / "f.csv"), "--first-purchase", "--spend-model",
             "gamma_gamma_frequency", *common, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    from clvmodels.io.atomic import metadata_path

    meta = json.loads(metadata_path(tmp_path / "f.csv").read_text())  # the sidecar beside the table
    gg = meta["models"]["gamma_gamma"]
    assert gg["model"] == "GammaGammaFrequencyModel" and gg["first_purchase"] is True and "gamma" in gg["params"]
    first = pd.read_csv(tmp_path / "f.csv")
    # --no-fit with a spend-model option is refused before any work; without, the saved model scores the same
    r = _clv("forecast", log, "-o", str(tmp_path / "g.csv"), "--no-fit", "--first-purchase", *common, tmp_path=tmp_path)
    assert r.returncode == 2 and "--first-purchase" in r.stderr and "--no-fit" in r.stderr
    r = _clv("forecast", log, "-o", str(tmp_path / "g.csv"), "--no-fit", *common, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    again = pd.read_csv(tmp_path / "g.csv")
    np.testing.assert_allclose(again["expected_spend"], first["expected_spend"], rtol=1e-12)
    one = first["frequency"] == 0
    assert first.loc[one, "expected_spend"].nunique() > 100  # one-time buyers scored on their first purchase
