"""ModifiedBetaGeoModel: fits that match the literature (MAP on CDNOW: lifetimes' ModifiedBetaGeoFitter
test and BTYDplus), NUTS that covers them with healthy diagnostics, parameters recovered from simulated
data (MAP on a summary, NUTS on transaction logs), predictions that are the mathematics at each draw,
T = 0 customers, and model files."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels import summarize
from clvmodels.models.base import BayesianModel
from clvmodels.models.mbgnbd import ModifiedBetaGeoModel
from clvmodels.models.mbgnbd import math as mbgnbd
from clvmodels.models.mbgnbd.simulate import simulate_summary, simulate_transactions

#: lifetimes' test of its ModifiedBetaGeoFitter on the CDNOW sample ("params out is close to BTYDplus")
PUBLISHED = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def sig3(x):
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def cdnow_map(cdnow_split):
    return ModifiedBetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(cdnow_split)


@pytest.fixture(scope="module")
def cdnow_nuts(cdnow_split):
    """NUTS with the default priors, 4 chains x 1000 draws (about 4 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ModifiedBetaGeoModel(seed=2024, progressbar=False).fit(cdnow_split)


def test_the_fixture_is_the_cdnow_calibration_summary(cdnow_split):
    assert len(cdnow_split) == 2357 and cdnow_split["frequency"].sum() == 2457
    assert cdnow_split.attrs["clvmodels"]["time_unit"] == "W" and cdnow_split["T"].max() < 39.0


def test_map_with_flat_priors_is_the_published_estimate(cdnow_map):
    est = cdnow_map.params_
    for p, v in PUBLISHED.items():
        assert sig3(est[p]) == sig3(v), (p, est[p], v)
    assert cdnow_map.diagnostics_.method == "map"


def test_log_likelihood_at_the_estimate(cdnow_map, cdnow_split):
    ll = cdnow_map.log_likelihood(cdnow_split, PUBLISHED)
    direct = mbgnbd.log_likelihood(*PUBLISHED.values(), *(cdnow_split[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    assert ll == pytest.approx(float(direct.sum()), rel=1e-13)
    assert ll == pytest.approx(-9582.13, abs=0.02)
    assert cdnow_map.log_likelihood(cdnow_split) >= ll - 1e-6  # the MAP is at least as good as the rounded values


def test_nuts_default_priors_cover_the_published_estimate(cdnow_nuts):
    s = cdnow_nuts.summary(0.9)
    for p, v in PUBLISHED.items():
        assert s.loc[p, "lower"] < v < s.loc[p, "upper"], (p, s.loc[p].to_dict())
    d = cdnow_nuts.diagnostics_
    assert d.method == "nuts" and d.chains == 4 and d.draws == 1000
    assert max(d.r_hat.values()) < 1.01
    assert d.divergences == 0
    assert min(d.ess_bulk.values()) > 1000
    assert cdnow_nuts.fit_info_["n_customers"] == 2357 and cdnow_nuts.fit_info_["n_excluded_t0"] == 0


def test_predictions_are_the_mathematics_at_each_draw(cdnow_nuts, cdnow_split):
    sub = cdnow_split.iloc[:50]
    x, tx, T = (sub[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    arr = cdnow_nuts.expected_purchases(sub, "39W", draws=True)
    assert arr.dims == ("chain", "draw", "customer_id") and arr.shape == (4, 1000, 50)
    post = cdnow_nuts.posterior_
    c, d = 2, 123
    p = [float(post[k].values[c, d]) for k in ("r", "alpha", "a", "b")]
    np.testing.assert_allclose(arr.values[c, d], mbgnbd.conditional_expected_purchases(*p, x, tx, T, 39.0), rtol=1e-12)
    pa = cdnow_nuts.p_alive(sub, draws=True)
    np.testing.assert_allclose(pa.values[c, d], mbgnbd.p_alive(*p, x, tx, T), rtol=1e-13)
    # windows add up
    first = cdnow_nuts.expected_purchases(sub, "20W")["expected_purchases"]
    rest = cdnow_nuts.expected_purchases(sub, "39W", start="20W")["expected_purchases"]
    np.testing.assert_allclose(first + rest, arr.mean(("chain", "draw")).values, rtol=1e-9)
    # a new customer's 52 weeks: the interval covers the MLE's value
    new = cdnow_nuts.expected_purchases_new("52W")
    assert new["lower"] < float(mbgnbd.expected_purchases_new(*PUBLISHED.values(), 52.0)) < new["upper"]


def test_predict_equals_the_single_predictions(cdnow_nuts, cdnow_split):
    """predict() (the scorer's score_triplets, one pass) gives the numbers of p_alive(),
    expected_purchases() and purchases_interval() (direct formulas) for the same draws."""
    sub = cdnow_split.iloc[::7]
    got = cdnow_nuts.predict(sub, "39W", interval=0.8, max_draws=300)
    pa = cdnow_nuts.p_alive(sub, interval=0.8, max_draws=300)
    ep = cdnow_nuts.expected_purchases(sub, "39W", interval=0.8, max_draws=300)
    pi = cdnow_nuts.purchases_interval(sub, "39W", interval=0.8, max_draws=300)
    pd.testing.assert_frame_equal(got[pa.columns], pa, rtol=1e-10)
    pd.testing.assert_frame_equal(got[ep.columns], ep, rtol=1e-9)
    pd.testing.assert_frame_equal(got[["purchases_lower", "purchases_upper"]],
                                  pi[["purchases_lower", "purchases_upper"]], check_dtype=False)
    dist = cdnow_nuts.purchases_distribution(sub.iloc[:20], "39W", max_draws=300)
    np.testing.assert_allclose(dist.drop(columns="tail").to_numpy() @ np.arange(dist.shape[1] - 1),
                               ep["expected_purchases"].iloc[:20], rtol=1e-8)


def test_customers_with_T_zero_are_left_out_and_scored_as_new(cdnow_split, cdnow_map):
    from clvmodels.data import ExcludedCustomersWarning

    base = cdnow_split[["frequency", "recency", "T"]]
    extra = pd.DataFrame({"frequency": [0] * 5, "recency": [0.0] * 5, "T": [0.0] * 5}, index=range(10**6, 10**6 + 5))
    data = pd.concat([base, extra])
    data.attrs = cdnow_split.attrs
    with pytest.warns(ExcludedCustomersWarning, match="5 customers"):
        m = ModifiedBetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(data)
    assert m.fit_info_["n_excluded_t0"] == 5 and m.fit_info_["n_customers"] == 2362
    np.testing.assert_allclose(m.params_.values, cdnow_map.params_.values, rtol=1e-6)
    pred = m.predict(data.iloc[-5:], "52W", max_draws=200)
    dr = m.draws_(200)
    np.testing.assert_allclose(pred["p_alive"], np.mean(dr["b"] / (dr["a"] + dr["b"])), rtol=1e-12)
    new = mbgnbd.expected_purchases_new(dr["r"], dr["alpha"], dr["a"], dr["b"], 52.0)
    np.testing.assert_allclose(pred["expected_purchases"], new.mean(), rtol=1e-10)
    assert m.log_likelihood(extra) == 0.0


def test_pointwise_log_likelihood_adds_up(cdnow_map, cdnow_split):
    pw = cdnow_map.pointwise_log_likelihood(cdnow_split, max_draws=50)
    ll = pw["log_likelihood"].values
    assert ll.shape[-1] == pw.sizes["row"] and pw["weight"].sum() == 2357
    dr = cdnow_map.draws_(50)
    total = cdnow_map.log_likelihood(cdnow_split, {k: v[7] for k, v in dr.items()})
    assert float((ll.reshape(-1, ll.shape[-1])[7] * pw["weight"].values).sum()) == pytest.approx(total, rel=1e-12)


def test_save_load_roundtrip(tmp_path, cdnow_map, cdnow_split):
    path = tmp_path / "mbg.clvm"
    cdnow_map.save(path)
    loaded = BayesianModel.load(path)
    assert type(loaded) is ModifiedBetaGeoModel and loaded.time_unit_ == "W"
    pd.testing.assert_frame_equal(loaded.p_alive(cdnow_split), cdnow_map.p_alive(cdnow_split))


def test_map_recovers_the_parameters_of_a_simulated_base():
    """MAP (flat priors) on 20,000 simulated customers lands within 4 Laplace standard errors of the
    truth, parameter by parameter; and the BG/NBD's likelihood would not fit these data as well."""
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
    n = 20_000
    rng = np.random.default_rng(20)
    sim = simulate_summary(n, *truth.values(), T=rng.uniform(1.0, 78.0, n), seed=21)
    sim.attrs["clvmodels"] = {"time_unit": "W"}
    m = ModifiedBetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(sim, time_unit="W")
    s = m.summary()
    for p, v in truth.items():
        assert abs(m.params_[p] - v) < 4 * s.loc[p, "sd"], (p, m.params_[p], v, s.loc[p, "sd"])
        assert s.loc[p, "sd"] < 0.2 * v  # informative: the check has teeth
    from clvmodels import BetaGeoModel

    bg = BetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(sim, time_unit="W")
    assert bg.log_likelihood(sim) < m.log_likelihood(sim) - 10


def _nuts_coverage(summary, theta, seed):
    """NUTS with the default priors (4 chains x 500 draws): whether each truth is inside the 90% and the
    99.8% central intervals."""
    m = ModifiedBetaGeoModel(seed=seed, progressbar=False, chains=4, draws=500, tune=500,
                             target_accept=0.9).fit(summary, time_unit="W")
    assert m.diagnostics_.divergences == 0 and max(m.diagnostics_.r_hat.values()) < 1.02, m.diagnostics_
    s90, s998 = m.summary(0.9), m.summary(0.998)
    names = ("r", "alpha", "a", "b")
    inside90 = {p: bool(s90.loc[p, "lower"] < v < s90.loc[p, "upper"]) for p, v in zip(names, theta)}
    inside998 = {p: bool(s998.loc[p, "lower"] < v < s998.loc[p, "upper"]) for p, v in zip(names, theta)}
    return inside90, inside998, s90


TRUTHS = [(0.5, 6.0, 0.9, 1.6), (0.8, 12.0, 2.0, 3.0), (1.0, 10.0, 0.5, 0.8)]


def test_nuts_recovers_the_parameters_of_simulated_bases():
    """Three bases of 3,000 customers simulated with known parameters (first purchases spread over 120
    days of a year, continuous times) and fitted by NUTS with the default priors: the 90% intervals
    contain the truth. With 12 intervals at 90% about one miss is expected; at most two are allowed
    (P(more) = 0.11 for a calibrated posterior), and no truth may lie outside its 99.8% interval."""
    misses, far = [], []
    rng = np.random.default_rng(30)
    for i, theta in enumerate(TRUTHS):
        T = (366.0 - rng.uniform(0.0, 120.0, 3000)) / 7.0
        sim = simulate_summary(3000, *theta, T=T, seed=300 + i)
        in90, in998, s90 = _nuts_coverage(sim, theta, 400 + i)
        misses += [(i, p, s90.loc[p, ["lower", "upper"]].tolist()) for p, ok in in90.items() if not ok]
        far += [(i, p) for p, ok in in998.items() if not ok]
    assert len(misses) <= 2, misses
    assert not far, far


def test_nuts_on_a_simulated_transaction_log():
    """End to end: a transaction log of 3,000 customers simulated with known parameters, summarised in
    weeks and fitted by NUTS: every truth inside its 99.8% interval. (Dates have day resolution, so
    same-day purchases merge and times are whole days: that shrinks the fastest buyers' counts and
    pulls alpha up by a fraction of a posterior standard deviation at this size, about 1.3 at 40,000
    customers; hence the wide interval here and the 90% intervals on continuous times above.)"""
    theta = TRUTHS[0]
    log, _ = simulate_transactions(3000, *theta, start="2020-01-01", acquisition_days=120,
                                   observation_end="2021-01-01", time_unit="W", seed=100)
    log["amount"] = 1.0
    summ = summarize(log, customer_id="customer_id", date="date", amount="amount", observation_end="2020-12-31",
                     time_unit="W")
    assert len(summ) == 3000
    _, in998, s90 = _nuts_coverage(summ, theta, 200)
    assert all(in998.values()), s90
