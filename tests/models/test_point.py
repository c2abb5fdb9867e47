"""Point estimates: method="mode" (the posterior mode alone, predictions plugged in at it), models built
from known parameter values (``from_params``, diagnostics method "fixed"), and the Gamma-Gamma's q > 1
under every fit method.

The reference figures are those of /work/shared/REFERENCE.md (Fader, Hardie & Lee 2005 and the BTYD
walkthrough), each computed independently of this package."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from clvmodels import BetaGeoModel, GammaGammaModel, forecast
from clvmodels.errors import FitError
from clvmodels.models.base import BayesianModel
from clvmodels.models.gamma_gamma import math as gg_math
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.value.new_customer import new_customer_value

from ..conftest import CDNOW_BGNBD_MLE, CDNOW_BGNBD_PUBLISHED, CDNOW_GG_MLE

#: the BTYD walkthrough's CDNOW BG/NBD estimates, to the digits REFERENCE.md's point values use
BTYD = {"r": 0.2425982, "alpha": 4.413684, "a": 0.7929899, "b": 2.426167}
GG_PUBLISHED = {"p": 6.25, "q": 3.74, "v": 15.44}
PNBD_PUBLISHED = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}


# -- from_params: the published figures -----------------------------------------------------------
def test_bgnbd_from_the_published_estimates_reproduces_the_papers_figures(cdnow_split):
    bg = BetaGeoModel.from_params(BTYD, time_unit="W")
    # a new customer's expected purchases in 52 weeks: 1.444005 (FHL 2005 eq. 9)
    assert bg.expected_purchases_new("52W")["expected_purchases"] == pytest.approx(1.444005, abs=5e-7)
    # customer 1516 of the paper: x = 26, t_x = 30.85714, T = 31
    c = pd.DataFrame({"frequency": [26], "recency": [30.85714], "T": [31.0]})
    assert bg.expected_purchases(c, "52W")["expected_purchases"].iloc[0] == pytest.approx(25.7565, abs=5e-5)
    assert bg.p_alive(c)["p_alive"].iloc[0] == pytest.approx(0.968852, abs=5e-7)
    # the log-likelihood at the published (rounded) estimates: -9582.4 in the paper (-9582.43 refit)
    published = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W")
    assert published.log_likelihood(cdnow_split) == pytest.approx(-9582.43, abs=0.01)
    # the conditional expectations over the 39-week holdout at the MLE sum to about 1,653
    mle = BetaGeoModel.from_params(CDNOW_BGNBD_MLE, time_unit="W")
    total = mle.expected_purchases(cdnow_split, "39W")["expected_purchases"].sum()
    assert 1652.5 < total < 1653.5


def test_pareto_nbd_from_the_published_estimates_has_the_published_log_likelihood(cdnow_split):
    pn = ParetoNBDModel.from_params(PNBD_PUBLISHED, time_unit="W")
    assert pn.log_likelihood(cdnow_split) == pytest.approx(-9595.0, abs=0.05)  # FHL 2005: -9595.0


def test_gamma_gamma_from_the_cdnow_estimates_reproduces_the_expected_spend(cdnow_split):
    gg = GammaGammaModel.from_params(CDNOW_GG_MLE)
    spend = gg.expected_spend(cdnow_split.loc[range(1, 11)])["expected_spend"].round(2).tolist()
    assert spend == [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    assert gg.time_unit_ == "W"  # spend has no time dimension: the default unit only labels it
    # the published (rounded) values: log-likelihood of the zbar values -4055.92
    assert GammaGammaModel.from_params(GG_PUBLISHED).log_likelihood(cdnow_split) == pytest.approx(-4055.92, abs=0.01)


# -- from_params: what it is and what it refuses --------------------------------------------------
def test_a_point_model_is_one_draw_with_an_honest_summary_and_no_sampler_diagnostics():
    bg = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W")
    d = bg.diagnostics_
    assert (d.method, d.chains, d.draws, d.r_hat, d.ess_bulk) == ("fixed", 1, 1, {}, {})
    assert "R-hat and ESS do not apply" in d.note and d.ok
    s = bg.summary()
    assert s["mean"].to_dict() == pytest.approx(CDNOW_BGNBD_PUBLISHED)
    assert (s["lower"] == s["mean"]).all() and (s["upper"] == s["mean"]).all() and (s["sd"] == 0).all()
    assert s[["r_hat", "ess_bulk", "ess_tail"]].isna().all().all() and s.attrs["method"] == "fixed"
    assert dict(bg.params_) == pytest.approx(CDNOW_BGNBD_PUBLISHED)
    assert "fixed parameters" in repr(bg) and bg.priors_ == {} and bg.fit_info_["from_params"] is True


def test_draws_from_elsewhere_average_the_predictions_over_them():
    rng = np.random.default_rng(0)
    draws = {k: v * rng.lognormal(0.0, 0.1, 50) for k, v in CDNOW_BGNBD_PUBLISHED.items()}
    bg = BetaGeoModel.from_params(draws, time_unit="W")
    assert bg.diagnostics_.draws == 50 and bg.summary()["sd"].gt(0).all()
    data = pd.DataFrame({"frequency": [0, 2, 10], "recency": [0.0, 30.0, 20.0], "T": [38.0, 35.0, 39.0]})
    got = bg.p_alive(data, max_draws=None)["p_alive"].to_numpy()
    # independently: P(alive) = 1 / (1 + [x > 0] a/(b + x - 1) ((alpha + T)/(alpha + t_x))^(r + x)), per draw
    r, alpha, a, b = (draws[k][:, None] for k in ("r", "alpha", "a", "b"))
    x, tx, T = (data[c].to_numpy(float)[None, :] for c in ("frequency", "recency", "T"))
    odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
    np.testing.assert_allclose(got, (1 / (1 + odds)).mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("params, match", [
    ({"r": 0.243, "alpha": 4.414, "a": 0.793}, r"missing b .*exactly r, alpha, a, b"),
    ({**CDNOW_BGNBD_PUBLISHED, "s": 1.0}, r"unknown s"),
    ({**CDNOW_BGNBD_PUBLISHED, "r": 0.0}, r"r = 0 is outside the accepted range \(0, 50\)"),
    ({**CDNOW_BGNBD_PUBLISHED, "r": 60.0}, r"r = 60 is outside the accepted range \(0, 50\)"),
    ({**CDNOW_BGNBD_PUBLISHED, "a": float("nan")}, r"a = nan is outside the accepted range"),
    ({**CDNOW_BGNBD_PUBLISHED, "b": -1.0}, r"b = -1 is outside"),
    ({"r": [0.2, 0.3], "alpha": [4.0, np.inf], "a": [0.7, 0.8], "b": [2.0, 2.5]}, r"alpha: 1 of 2 draws \(inf\) are outside"),
    ({**CDNOW_BGNBD_PUBLISHED, "r": [0.2, 0.3], "a": [0.7, 0.8, 0.9]}, r"differ in length \(r 2, alpha 1, a 3"),
    ({**CDNOW_BGNBD_PUBLISHED, "r": [[0.2]]}, r"r must be a number or a non-empty 1-D array"),
    ({**CDNOW_BGNBD_PUBLISHED, "r": "x"}, r"r must be a number"),
])
def test_from_params_refuses_bad_values_naming_the_parameter_and_the_range(params, match):
    with pytest.raises(ValueError, match=match):
        BetaGeoModel.from_params(params, time_unit="W")


def test_from_params_needs_the_time_unit_of_a_transaction_model_and_q_above_1():
    with pytest.raises(ValueError, match=r"give time_unit .*'W'"):
        BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED)
    with pytest.raises(ValueError, match=r"q = 0.9 is outside the accepted range \(1, 1e\+06\).*infinite for q <= 1"):
        GammaGammaModel.from_params({"p": 6.25, "q": 0.9, "v": 15.44})
    # the unit matters: the same numbers per day mean 7 times the purchase rate per week
    daily = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="D")
    weekly = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W")
    assert daily.expected_purchases_new("7D")["expected_purchases"] == pytest.approx(
        weekly.expected_purchases_new("7W")["expected_purchases"], rel=1e-12)


def test_a_point_model_saves_and_loads_as_itself(tmp_path, cdnow_split):
    bg = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W")
    bg.save(tmp_path / "bg.clvm")
    back = BayesianModel.load(tmp_path / "bg.clvm")
    assert type(back) is BetaGeoModel and back.diagnostics_.method == "fixed" and back.time_unit_ == "W"
    assert dict(back.params_) == dict(bg.params_)
    pd.testing.assert_frame_equal(back.predict(cdnow_split.head(50), "39W"), bg.predict(cdnow_split.head(50), "39W"))


# -- the forecast with given models ------------------------------------------------------------------
def test_forecast_scores_with_given_models_without_fitting(cdnow_split, tmp_path):
    bg = BetaGeoModel.from_params(CDNOW_BGNBD_MLE, time_unit="W")
    gg = GammaGammaModel.from_params(CDNOW_GG_MLE)
    res = forecast(summary=cdnow_split, horizon="39W", purchase_model=bg, spend_model=gg, fit=False, progress=False)
    t = res.table
    assert res.purchase_model is bg and res.spend_model is gg
    # a point: every interval over the parameters collapses to the point ...
    for c in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        assert (t[f"{c}_lower"] == t[c]).all() and (t[f"{c}_upper"] == t[c]).all()
    # ... while the count interval still carries the customer's own randomness
    assert (t["purchases_upper"] > t["purchases_lower"]).mean() > 0.9
    # undiscounted CLV of a point = expected purchases x expected spend (margin 1)
    np.testing.assert_allclose(t["clv"], t["expected_purchases"] * t["expected_spend"], rtol=1e-9)
    assert 1652.5 < t["expected_purchases"].sum() < 1653.5
    m = res.metadata
    assert m["fit_methods"] == {"purchase_model": "fixed", "spend_model": "fixed"}
    assert m["settings"]["method"] == "fixed"
    assert "no parameter uncertainty" in m["parameter_uncertainty"] and "purchases_lower" in m["parameter_uncertainty"]
    assert m["models"]["bgnbd"]["diagnostics"]["method"] == "fixed"
    with pytest.raises(ValueError, match="from_params.*fit=False"):
        forecast(summary=cdnow_split, horizon="39W", purchase_model=bg, spend_model=gg, progress=False)
    with pytest.raises(ValueError, match="not a mix"):
        forecast(summary=cdnow_split, horizon="39W", purchase_model=bg, fit=False, progress=False)
    with pytest.raises(ValueError, match="spend_model is not fitted"):
        forecast(summary=cdnow_split, horizon="39W", purchase_model=bg, spend_model=GammaGammaModel(), fit=False,
                 progress=False)


# -- method="mode" --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mode_fits(cdnow_split):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoModel(priors="flat", method="mode", progressbar=False).fit(cdnow_split)
        bg_map = BetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(cdnow_split)
        gg = GammaGammaModel(priors="flat", method="mode", progressbar=False).fit(cdnow_split)
    return bg, bg_map, gg


def test_mode_is_the_maximum_likelihood_point_under_flat_priors(mode_fits, cdnow_split):
    bg, bg_map, gg = mode_fits
    assert dict(bg.params_) == pytest.approx(CDNOW_BGNBD_MLE, rel=2e-4)
    # the Gamma-Gamma likelihood is a flat ridge along p v: the point moves a little (v 15.4435 against
    # 15.4478 on the unrounded spends), its log-likelihood is at least the reference MLE's
    assert dict(gg.params_) == pytest.approx(CDNOW_GG_MLE, rel=5e-4)
    assert gg.log_likelihood(cdnow_split) >= gg.log_likelihood(cdnow_split, CDNOW_GG_MLE) - 1e-7
    assert bg.log_likelihood(cdnow_split) >= bg.log_likelihood(cdnow_split, CDNOW_BGNBD_MLE) - 1e-7
    # the same optimum as MAP's (whose first draw is the mode), without the Laplace draws
    assert dict(bg.params_) == pytest.approx(dict(bg_map.params_), rel=1e-10)
    for m in (bg, gg):
        d = m.diagnostics_
        assert (d.method, d.sampler, d.chains, d.draws, d.r_hat, d.ess_bulk, d.ess_tail) == (
            "mode", "lbfgs", 1, 1, {}, {}, {})
        assert "no parameter uncertainty" in d.note


def test_mode_plugs_in_while_map_averages_over_the_laplace_draws(mode_fits, cdnow_split):
    bg, bg_map, _ = mode_fits
    plug = bg.expected_purchases(cdnow_split, "39W")
    avg = bg_map.expected_purchases(cdnow_split, "39W")
    fixed = BetaGeoModel.from_params(dict(bg.params_), time_unit="W").expected_purchases(cdnow_split, "39W")
    pd.testing.assert_frame_equal(plug, fixed)  # mode = from_params at the mode
    assert (plug["expected_purchases_lower"] == plug["expected_purchases"]).all()
    # the Laplace average is not the plug-in (Jensen): measured 0.33% more in total on CDNOW
    ratio = avg["expected_purchases"].sum() / plug["expected_purchases"].sum()
    assert 1.001 < ratio < 1.01


def test_new_customer_value_of_point_models_has_no_interval(mode_fits):
    bg, _, gg = mode_fits
    v = new_customer_value(bg, gg, "52W")
    assert v["n_draws"] == 1 and v["clv_lower"] == v["clv"] == v["clv_upper"]
    # undiscounted: expected purchases of a new customer x her expected spend p v / (q - 1)
    p = dict(gg.params_)
    spend = p["p"] * p["v"] / (p["q"] - 1)
    assert v["clv"] == pytest.approx(bg.expected_purchases_new("52W")["expected_purchases"] * spend, rel=1e-9)


# -- Gamma-Gamma: q > 1 always --------------------------------------------------------------------------
def _heavy_tailed_spend(seed: int, q: float, n: int) -> pd.DataFrame:
    """Spend simulated from the Gamma-Gamma model with p = 4, v = 10 and the given q (a small q: a heavy
    right tail of the customers' mean spend)."""
    rng = np.random.default_rng(seed)
    x = 1 + rng.poisson(3 if n > 500 else 2, n)
    nu = rng.gamma(q, 1 / 10.0, n)
    z = rng.gamma(4.0 * x, 1 / (nu * x))
    return pd.DataFrame({"frequency": x.astype(float), "monetary_value": z})


def _unconstrained_mle(d: pd.DataFrame) -> np.ndarray:
    """The maximum-likelihood (p, q, v) with q only positive (as lifetimes without q_constraint)."""
    x, z = d["frequency"].to_numpy(float), d["monetary_value"].to_numpy(float)
    res = optimize.minimize(lambda u: -np.sum(gg_math.log_likelihood(*np.exp(u), x, z)), np.log([2.0, 2.0, 10.0]),
                            method="Nelder-Mead", options={"maxiter": 20_000, "xatol": 1e-10, "fatol": 1e-10})
    return np.exp(res.x)


def _fit(d, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GammaGammaModel(method=method, seed=3, chains=2, draws=300, tune=300, progressbar=False,
                               **kw).fit(d, time_unit="W")


def test_q_stays_above_1_where_the_unconstrained_mle_is_below_1():
    d = _heavy_tailed_spend(7, 0.8, 300)
    p, q, v = _unconstrained_mle(d)
    assert q < 0.9 and 1 < p < 10  # the data's most likely q is below 1 (an interior optimum, p finite)
    nuts = _fit(d, "nuts").draws_()["q"]
    assert (nuts > 1).all() and np.median(nuts) < 1.1  # pressed against q = 1, never across
    # the mode of q > 1 is q = 1 itself, where the mean spend is infinite: refused, not a point at 1 + 1e-12
    for method in ("mode", "map"):
        with pytest.raises(FitError, match=r"boundary q -> 1.*infinite.*method='nuts'"):
            _fit(d, method)


def test_q_stays_above_1_for_nuts_map_and_mode_where_the_mle_is_near_1():
    d = _heavy_tailed_spend(4, 1.1, 1000)
    p, q, v = _unconstrained_mle(d)
    assert 1.0 < q < 1.06  # near 1: unconstrained draws would cross it (a Laplace in log q: 19% of them)
    for method in ("nuts", "map", "mode"):
        draws = _fit(d, method).draws_()["q"]
        assert (draws > 1).all(), method
        if method != "mode":
            assert (draws < 1.02).mean() > 0.05, method  # they do reach towards the boundary


def test_compare_models_refuses_mode_before_fitting():
    from clvmodels import compare_models

    one = pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0]})  # would fail any fit: never reached
    with pytest.raises(ValueError, match="method='mode' cannot be compared.*PSIS-LOO"):
        compare_models(one, models=["bgnbd"], method="mode")
