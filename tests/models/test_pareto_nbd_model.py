"""ParetoNBDModel: MAP with flat priors reproduces the published CDNOW maximum-likelihood estimates, NUTS
with the default priors converges (no divergences, R-hat, ESS) and covers them, fits recover the truth
of simulated bases, and the predictions are the mathematics at the draws."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import FitError
from clvmodels.models.base import BayesianModel
from clvmodels.models.fitting import ConvergenceWarning
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.models.pareto_nbd import math as pnbd
from clvmodels.models.pareto_nbd.simulate import simulate_summary

#: FHL (2005) / REFERENCE.md: the Pareto/NBD MLE on the CDNOW sample, and its log-likelihood
CDNOW_PNBD_PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
NAMES = ("r", "alpha", "s", "beta")


def sig3(x):
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def cdnow_map(cdnow_split):
    return ParetoNBDModel(priors="flat", method="map", seed=1, progressbar=False).fit(cdnow_split)


@pytest.fixture(scope="module")
def cdnow_nuts(cdnow_split):
    """NUTS with the default priors, 4 chains x 1,000 draws after 1,000 tuning (nutpie)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a failed diagnostic fails the fixture
        return ParetoNBDModel(seed=2024, progressbar=False).fit(cdnow_split)


def test_map_with_flat_priors_is_the_published_mle(cdnow_map, cdnow_split):
    est = cdnow_map.params_
    for p, v in CDNOW_PNBD_PUBLISHED.items():
        assert sig3(est[p]) == sig3(v), (p, est[p], v)
    assert cdnow_map.log_likelihood(cdnow_split) == pytest.approx(-9594.98, abs=0.01)
    # the MAP is at least as good as the rounded published estimate
    assert cdnow_map.log_likelihood(cdnow_split) >= cdnow_map.log_likelihood(cdnow_split, CDNOW_PNBD_PUBLISHED) - 1e-6
    assert cdnow_map.diagnostics_.method == "map"
    assert cdnow_map.fit_info_["n_customers"] == 2357 and cdnow_map.fit_info_["total_frequency"] == 2457


def test_nuts_default_priors_converge_and_cover_the_published_estimates(cdnow_nuts):
    d = cdnow_nuts.diagnostics_
    assert d.method == "nuts" and d.chains == 4 and d.draws == 1000
    assert d.divergences == 0
    assert max(d.r_hat.values()) < 1.01
    assert min(d.ess_bulk.values()) > 1000, d.ess_bulk
    s = cdnow_nuts.summary(0.9)
    for p, v in CDNOW_PNBD_PUBLISHED.items():
        assert s.loc[p, "lower"] < v < s.loc[p, "upper"], (p, s.loc[p].to_dict())
    # the data pin the mean drop-out rate s/beta better than s and beta apart: a ridge along s = beta m
    post = cdnow_nuts.draws_()
    assert np.corrcoef(np.log(post["s"]), np.log(post["beta"]))[0, 1] > 0.9
    assert np.std(np.log(post["s"] / post["beta"])) < 0.7 * min(np.std(np.log(post["s"])), np.std(np.log(post["beta"])))


def test_default_priors_scale_with_the_time_unit():
    m = ParetoNBDModel()
    w, d = m.default_priors("W"), m.default_priors("D")
    assert d["alpha"].params["sigma"] == pytest.approx(7 * w["alpha"].params["sigma"])
    assert d["beta"].params["sigma"] == pytest.approx(7 * w["beta"].params["sigma"])
    assert d["r"].params == w["r"].params and d["s"].params == w["s"].params
    assert m.target_accept == 0.95 and ParetoNBDModel(target_accept=0.8).target_accept == 0.8


def test_predictions_are_the_closed_forms_at_each_draw(cdnow_nuts, cdnow_split):
    sub = cdnow_split.iloc[:50]
    arr = cdnow_nuts.expected_purchases(sub, "39W", draws=True)
    assert arr.dims == ("chain", "draw", "customer_id") and arr.shape == (4, 1000, 50)
    c, k = 2, 123
    p = [float(cdnow_nuts.posterior_[n].values[c, k]) for n in NAMES]
    x, tx, T = (sub[col].to_numpy(float) for col in ("frequency", "recency", "T"))
    np.testing.assert_allclose(arr.values[c, k], pnbd.conditional_expected_purchases(*p, x, tx, T, 39.0), rtol=1e-12)
    pa = cdnow_nuts.p_alive(sub, draws=True)
    np.testing.assert_allclose(pa.values[c, k], pnbd.p_alive(*p, x, tx, T), rtol=1e-12)
    summ = cdnow_nuts.expected_purchases(sub, "39W")
    np.testing.assert_allclose(summ["expected_purchases"], arr.mean(("chain", "draw")).values, rtol=1e-10)
    # windows add up
    first = cdnow_nuts.expected_purchases(sub, "20W")["expected_purchases"]
    rest = cdnow_nuts.expected_purchases(sub, "39W", start="20W")["expected_purchases"]
    np.testing.assert_allclose(first + rest, summ["expected_purchases"], rtol=1e-9)


def test_predict_equals_the_single_predictions(cdnow_nuts, cdnow_split):
    """predict() (one pass over the distinct triplets, per-level closed forms) gives the numbers of
    p_alive(), expected_purchases() and purchases_interval() (direct formulas) for the same draws."""
    sub = cdnow_split.iloc[::7]
    got = cdnow_nuts.predict(sub, "39W", interval=0.8, max_draws=300)
    pa = cdnow_nuts.p_alive(sub, interval=0.8, max_draws=300)
    ep = cdnow_nuts.expected_purchases(sub, "39W", interval=0.8, max_draws=300)
    pi = cdnow_nuts.purchases_interval(sub, "39W", interval=0.8, max_draws=300)
    pd.testing.assert_frame_equal(got[pa.columns], pa, rtol=1e-11)
    pd.testing.assert_frame_equal(got[ep.columns], ep, rtol=1e-9)
    pd.testing.assert_frame_equal(got[["purchases_lower", "purchases_upper"]],
                                  pi[["purchases_lower", "purchases_upper"]], check_dtype=False)


def test_holdout_predictions_track_the_cdnow_holdout(cdnow_map, cdnow_split):
    """With the MLE as a point forecast, the 39-week holdout's 1,882 repeat purchases are forecast to within
    15% in total, and the mean holdout purchases by calibration frequency to within 15% for repeat buyers;
    the one-time buyers' are under-forecast (0.14 against 0.24), the Pareto/NBD's known shortfall on
    CDNOW (FHL 2005's tracking plots)."""
    e = cdnow_map.expected_purchases(cdnow_split, "39W")["expected_purchases"].to_numpy()
    y = cdnow_split["frequency_holdout"].to_numpy(float)
    assert y.sum() == 1882
    assert 0.85 * y.sum() < e.sum() < 1.05 * y.sum()
    x = cdnow_split["frequency"].to_numpy()
    bins = [(0, 0), (1, 1), (2, 2), (3, 4), (5, 7), (8, 1000)]
    em = np.array([e[(x >= lo) & (x <= hi)].mean() for lo, hi in bins])
    ym = np.array([y[(x >= lo) & (x <= hi)].mean() for lo, hi in bins])
    assert np.all(np.diff(em) > 0) and np.all(np.diff(ym) > 0)
    assert np.all(np.abs(em[1:] - ym[1:]) < 0.15 * ym[1:]), (em, ym)
    assert 0.5 * ym[0] < em[0] < 0.7 * ym[0]


def test_pointwise_log_likelihood_is_the_per_row_likelihood(cdnow_map, cdnow_split):
    ds = cdnow_map.pointwise_log_likelihood(cdnow_split, max_draws=10)
    ll = ds["log_likelihood"].values.reshape(-1, ds.sizes["row"])
    assert ll.shape == (10, ds.sizes["row"])
    p = cdnow_map.draws_(10)
    ref = pnbd.log_likelihood(*(p[n][:, None] for n in NAMES), ds["frequency"].values, ds["recency"].values,
                              ds["T"].values)
    np.testing.assert_allclose(ll, ref, rtol=1e-13)
    assert float(ds["weight"].sum()) == 2357


def test_save_load_roundtrip(tmp_path, cdnow_map, cdnow_split):
    path = tmp_path / "pnbd.clvm"
    cdnow_map.save(path)
    loaded = BayesianModel.load(path)
    assert isinstance(loaded, ParetoNBDModel) and loaded.time_unit_ == "W"
    pd.testing.assert_frame_equal(loaded.p_alive(cdnow_split), cdnow_map.p_alive(cdnow_split))
    assert ParetoNBDModel.load(path).target_accept == cdnow_map.target_accept


def test_customers_seen_for_no_time_are_left_out_and_scored_as_new(cdnow_split):
    from clvmodels.data import ExcludedCustomersWarning

    base = cdnow_split[["frequency", "recency", "T"]]
    new = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [0.0, 0.0]}, index=[90001, 90002])
    data = pd.concat([base, new])
    data.attrs = cdnow_split.attrs
    with pytest.warns(ExcludedCustomersWarning, match="2 customers"):
        m = ParetoNBDModel(priors="flat", method="map", progressbar=False).fit(data)
    assert m.fit_info_["n_excluded_t0"] == 2 and m.fit_info_["n_customers_fitted"] == 2357
    ref = ParetoNBDModel(priors="flat", method="map", progressbar=False).fit(cdnow_split)
    np.testing.assert_allclose(m.params_.values, ref.params_.values, rtol=1e-6)
    got = m.predict(data.loc[[90001, 90002]], "52W", max_draws=200)
    np.testing.assert_allclose(got["p_alive"], 1.0)
    new_e = m.expected_purchases_new("52W")["expected_purchases"]
    np.testing.assert_allclose(got["expected_purchases"], np.mean(m.scorer(200).expected_purchases_new(52.0)),
                               rtol=1e-12)
    assert got["expected_purchases"].iloc[0] == pytest.approx(new_e, rel=0.02)


def test_weighted_fit_equals_per_customer_fit(cdnow_split):
    base = cdnow_split[["frequency", "recency", "T"]]
    trip = base.groupby(["frequency", "recency", "T"]).size().rename("n_customers").reset_index()
    a = ParetoNBDModel(priors="flat", method="map", progressbar=False).fit(base, time_unit="W")
    b = ParetoNBDModel(priors="flat", method="map", progressbar=False).fit(trip, time_unit="W")
    np.testing.assert_allclose(a.params_.values, b.params_.values, rtol=1e-5)


def test_draws_outside_the_checked_range_are_refused():
    m = ParetoNBDModel(progressbar=False)
    ok = {"r": np.full(5, 0.5), "alpha": np.full(5, 10.0), "s": np.full(5, 0.6), "beta": np.full(5, 11.0)}
    m.check_draws(ok)
    with pytest.raises(FitError, match="beta: 1 of 5 draws at or above"):
        m.check_draws({**ok, "beta": np.r_[np.full(4, 11.0), 1e9]})
    with pytest.raises(FitError, match="s: 1 of 5 draws are not finite"):
        m.check_draws({**ok, "s": np.r_[np.full(4, 0.6), np.nan]})


# -- recovering the truth of simulated bases --------------------------------------------------------------------
TRUE = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}


def _simulated(n, seed):
    rng = np.random.default_rng(seed)
    T = rng.integers(7, 365, n) / 7.0  # first purchases over a year, in weeks
    s = simulate_summary(n, *TRUE.values(), T, seed=seed + 1)
    s.attrs = {"clvmodels": {"time_unit": "W"}}
    return s


def test_map_recovers_the_truth_of_a_simulated_base():
    """20,000 simulated customers: each MLE within 3 standard errors (Laplace) of the truth."""
    m = ParetoNBDModel(priors="flat", method="map", seed=3, progressbar=False).fit(_simulated(20_000, 30))
    d = m.draws_()
    for p, v in TRUE.items():
        se = np.std(np.log(d[p]))  # the Laplace approximation is on log-parameters
        assert abs(np.log(m.params_[p]) - np.log(v)) < 3 * se, (p, m.params_[p], v, se)


def test_nuts_intervals_contain_the_truth_on_a_modest_base():
    """3,000 simulated customers, NUTS with the default priors (2 chains x 500 draws): every 90% interval
    contains the truth, the sampler healthy."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = ParetoNBDModel(chains=2, draws=500, tune=500, seed=5, progressbar=False).fit(_simulated(3000, 40))
    assert m.diagnostics_.divergences == 0
    s = m.summary(0.9)
    for p, v in TRUE.items():
        assert s.loc[p, "lower"] < v < s.loc[p, "upper"], (p, s.loc[p].to_dict())


def test_nuts_90_percent_intervals_cover_the_truth_at_about_the_nominal_rate():
    """Five simulated bases of 2,000 customers, NUTS with the default priors (2 chains x 400 draws): of the
    20 central 90% intervals about 18 should contain the truth; Binomial(20, 0.9) puts 1.1% below 15. An
    interval too narrow (an overconfident posterior) or a bias shows up as fewer. Measured: 16 of 20 (s and
    beta, strongly correlated along their ridge, missed together on two bases)."""
    inside = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for rep in range(5):
            m = ParetoNBDModel(chains=2, draws=400, tune=400, seed=100 + rep, progressbar=False).fit(
                _simulated(2000, 200 + rep))
            s = m.summary(0.9)
            inside += [bool(s.loc[p, "lower"] < v < s.loc[p, "upper"]) for p, v in TRUE.items()]
    assert sum(inside) >= 15, inside
