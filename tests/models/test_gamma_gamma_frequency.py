"""GammaGammaFrequencyModel: the Gamma-Gamma with the scale v (x + 1)^gamma.

The fused likelihood against the numpy formula, finite differences and the plain Op at gamma = 0 (also
binned); recovery of a simulated gamma (its 90% interval covers the truth; with gamma = 0 it contains
0 and the predictions agree with the plain model's within Monte Carlo error); the warning that names
it; its path through forecast(), the table, the report and a model file loaded in a fresh
interpreter; and the holdout mean-spend interval of validate_spend, which covers 90% of simulated
customers under the true parameters."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels import GammaGammaFrequencyModel, GammaGammaModel
from clvmodels.models.gamma_gamma import likelihood as L
from clvmodels.models.gamma_gamma import math as M
from clvmodels.models.gamma_gamma.model import SpendCorrelationWarning
from clvmodels.models.gamma_gamma.simulate import simulate_spend_summary

SAMPLER = dict(seed=2, progressbar=False, chains=2, draws=500, tune=500)


@pytest.fixture(scope="module")
def frequencies():
    return np.random.default_rng(5).negative_binomial(0.8, 0.25, 3000)


@pytest.mark.parametrize("compress", [False, True])
def test_fused_likelihood_value_gradient_and_gamma_zero(compress):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 8, 300).astype(float)
    z = rng.gamma(3.0, 10.0, 300)
    w = rng.integers(1, 4, 300).astype(float)
    occ = x + 1.0

    def f(th):
        return L._gamma_gamma_frequency_kernel(*th, *L.gamma_gamma_frequency_data(x, z, occ, w, compress=compress))

    th = np.array([2.5, 3.7, 12.0, 0.3])
    val, *grad = f(th)
    ref = np.sum(w * M.log_likelihood(th[0], th[1], th[2] * occ ** th[3], x, z))
    assert val == pytest.approx(ref, rel=1e-12 if not compress else 1e-9)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6 * max(1.0, abs(th[i]))
        num = (f(th + e)[0] - f(th - e)[0]) / (2 * e[i])
        assert grad[i] == pytest.approx(num, rel=1e-6)
    plain = L._gamma_gamma_kernel(2.5, 3.7, 12.0, *L.gamma_gamma_data(x, z, w, compress=compress))
    np.testing.assert_allclose(f(np.array([2.5, 3.7, 12.0, 0.0]))[:4], plain, rtol=1e-13)


def test_op_in_a_pytensor_graph_matches_its_kernel():
    import pytensor
    import pytensor.tensor as pt

    x = np.array([1.0, 2.0, 2.0, 5.0])
    z = np.array([10.0, 20.0, 35.0, 12.0])
    ps = [pt.dscalar(n) for n in ("p", "q", "v", "g")]
    ll = L.gamma_gamma_frequency_loglike(*ps, x, z, x + 1.0)
    fn = pytensor.function(ps, [ll, *pt.grad(ll, ps)])
    got = fn(3.0, 2.5, 20.0, -0.4)
    ref = L._gamma_gamma_frequency_kernel(3.0, 2.5, 20.0, -0.4, *L.gamma_gamma_frequency_data(x, z, x + 1.0))
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("first_purchase", [False, True])
def test_recovers_a_simulated_frequency_effect(frequencies, first_purchase):
    s = simulate_spend_summary(frequencies, 4.0, 3.0, 30.0, gamma=0.3, rng=7)
    m = GammaGammaFrequencyModel(first_purchase=first_purchase, **SAMPLER).fit(s, time_unit="W")
    summ = m.summary(0.9)
    for name, true in (("p", 4.0), ("q", 3.0), ("v", 30.0), ("gamma", 0.3)):
        assert summ.loc[name, "lower"] < true < summ.loc[name, "upper"], (name, summ.loc[name].to_dict())
    # measured: gamma 0.313 (0.267, 0.363) on the repeat purchases, 0.294 (0.267, 0.323) on all occasions
    assert summ.loc["gamma", "upper"] - summ.loc["gamma", "lower"] < 0.12


def test_without_a_frequency_effect_gamma_is_near_zero_and_predictions_agree(frequencies):
    s = simulate_spend_summary(frequencies, 4.0, 3.0, 30.0, gamma=0.0, rng=7)
    m = GammaGammaFrequencyModel(**SAMPLER).fit(s, time_unit="W")
    lo, hi = m.summary(0.9).loc["gamma", ["lower", "upper"]]
    assert lo < 0.0 < hi  # measured (-0.035, 0.060)
    plain = GammaGammaModel(**SAMPLER).fit(s, time_unit="W")
    a, b = m.expected_spend(s), plain.expected_spend(s)
    sd = (b["expected_spend_upper"] - b["expected_spend_lower"]) / 3.29  # a 90% interval is about 3.29 sd
    # each customer's posterior mean within one posterior sd (measured 0.66 at most), the mean within 1%
    assert float((abs(a["expected_spend"] - b["expected_spend"]) / sd).max()) < 1.0
    assert a["expected_spend"].mean() == pytest.approx(b["expected_spend"].mean(), rel=0.01)


def test_expected_spend_closed_form_and_new_customer():
    s = pd.DataFrame({"frequency": [0, 1, 4], "monetary_value": [0.0, 20.0, 50.0],
                      "first_purchase_value": [80.0, 10.0, 30.0]})
    p, q, v, g = 5.0, 3.0, 40.0, 0.5
    for fp in (False, True):
        m = GammaGammaFrequencyModel.from_params({"p": p, "q": q, "v": v, "gamma": g}, first_purchase=fp)
        x = s["frequency"].to_numpy(float)
        n = x + 1 if fp else x
        zbar = ((s["first_purchase_value"] + x * s["monetary_value"]) / (x + 1)).to_numpy() if fp else \
            s["monetary_value"].to_numpy()
        vi = v * (x + 1) ** g
        np.testing.assert_allclose(m.expected_spend(s)["expected_spend"], p * (vi + n * zbar) / (p * n + q - 1),
                                   rtol=1e-13)
        assert m.expected_spend_new()["expected_spend"] == pytest.approx(p * v / (q - 1), rel=1e-13)
    # gamma may be negative (frequent buyers spend less per transaction); it must be finite and in range
    assert GammaGammaFrequencyModel.from_params({"p": p, "q": q, "v": v, "gamma": -0.7}).params_["gamma"] == -0.7
    with pytest.raises(ValueError, match="gamma"):
        GammaGammaFrequencyModel.from_params({"p": p, "q": q, "v": v, "gamma": 80.0})


def test_correlation_warning_names_the_frequency_model(frequencies):
    s = simulate_spend_summary(frequencies, 4.0, 3.0, 30.0, gamma=1.5, rng=7)
    with pytest.warns(SpendCorrelationWarning, match="GammaGammaFrequencyModel.*--spend-model gamma_gamma_frequency"):
        GammaGammaModel(method="map", seed=1, progressbar=False).fit(s, time_unit="W")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpendCorrelationWarning)  # the model that handles it does not warn
        GammaGammaFrequencyModel(method="map", seed=1, progressbar=False).fit(s, time_unit="W")


def test_forecast_report_and_model_file_in_a_fresh_interpreter(tmp_path, cdnow_split, cdnow_bgnbd):
    from clvmodels import forecast
    from clvmodels.report import write_report

    gg = GammaGammaFrequencyModel(method="map", seed=1, progressbar=False).fit(cdnow_split)
    res = forecast(summary=cdnow_split, purchase_model=cdnow_bgnbd, spend_model=gg, fit=False, horizon="52W",
                   max_draws=200)
    t = res.table.set_index("customer_id")
    assert np.isfinite(t.select_dtypes("number").to_numpy()).all()
    ref = gg.expected_spend(cdnow_split, max_draws=200)
    np.testing.assert_allclose(t["expected_spend"], ref["expected_spend"].loc[t.index], rtol=1e-10)
    meta = res.metadata["models"]["gamma_gamma"]
    assert meta["model"] == "GammaGammaFrequencyModel" and meta["frequency_effect"] is True
    assert "gamma" in meta["params"]
    html = tmp_path / "r.html"
    write_report(res, html)
    assert "frequency effect" in html.read_text()
    path = tmp_path / "ggf.clvm"
    gg.save(path)
    csv = tmp_path / "s.csv"
    cdnow_split[["frequency", "monetary_value"]].to_csv(csv)
    code = ("import sys, pandas as pd; from clvmodels.models.base import BayesianModel; "
            "m = BayesianModel.load(sys.argv[1]); s = pd.read_csv(sys.argv[2], index_col=0); "
            "print(type(m).__name__, m.expected_spend(s, max_draws=200)['expected_spend'].sum())")
    out = subprocess.run([sys.executable, "-c", code, str(path), str(csv)], capture_output=True, text=True, check=True)
    name, total = out.stdout.split()
    assert name == "GammaGammaFrequencyModel"
    assert float(total) == pytest.approx(float(ref["expected_spend"].sum()), rel=1e-9)


@pytest.mark.parametrize("first_purchase", [False, True])
def test_holdout_mean_spend_interval_covers_ninety_percent_under_the_true_model(first_purchase):
    """validate_spend's interval of each holdout buyer's mean spend, at the true parameters (1,000
    identical draws), covers about 90% of a simulated log's actual holdout means."""
    from clvmodels import BetaGeoModel, summarize
    from clvmodels.simulate import simulate_transactions
    from clvmodels.validation.spend import validate_spend

    bgp = dict(r=0.4, alpha=4.0, a=0.5, b=2.5)
    log = simulate_transactions(4000, *bgp.values(), 5.0, 3.0, 40.0, start="2020-01-01", acquisition_days=60,
                                observation_end="2020-12-31", seed=3)
    s = summarize(log, observation_end="2020-12-31", calibration_end="2020-06-30", time_unit="W")
    S = 1000
    bg = BetaGeoModel.from_params({k: np.full(S, v) for k, v in bgp.items()}, time_unit="W")
    gg = GammaGammaModel.from_params({"p": np.full(S, 5.0), "q": np.full(S, 3.0), "v": np.full(S, 40.0)},
                                     first_purchase=first_purchase)
    r = validate_spend(bg, gg, s, seed=1, max_draws=None)["mean_spend_holdout"]
    assert r["customers"] > 1000
    assert r["coverage"] == pytest.approx(0.9, abs=0.03), r
    assert r["one_time"]["coverage"] == pytest.approx(0.9, abs=0.05), r
