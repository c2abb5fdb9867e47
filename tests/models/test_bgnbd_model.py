"""BetaGeoModel: fits that match the literature, predictions that match the mathematics, files that
round-trip, and units that cannot be mixed."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels import BetaGeoModel
from clvmodels.errors import InputError, ModelFileError, UnitError
from clvmodels.models import bgnbd
from clvmodels.models.fitting import ConvergenceWarning

from ..conftest import CDNOW_BGNBD_MLE, CDNOW_BGNBD_PUBLISHED


def sig3(x):
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def cdnow_map(cdnow_split):
    return BetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(cdnow_split)


def test_map_with_flat_priors_is_the_published_mle(cdnow_map):
    est = cdnow_map.params_
    for p, v in CDNOW_BGNBD_PUBLISHED.items():
        assert sig3(est[p]) == sig3(v), (p, est[p], v)


def test_log_likelihood_at_published_mle(cdnow_map, cdnow_split):
    ll = cdnow_map.log_likelihood(cdnow_split, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert ll == pytest.approx(-9582.4, abs=0.1)
    # the MAP (flat priors) is at least as good as the rounded published estimate
    assert cdnow_map.log_likelihood(cdnow_split) >= ll - 1e-6


def test_nuts_default_priors_cover_published_estimates(cdnow_bgnbd):
    s = cdnow_bgnbd.summary(0.9)
    for p, v in CDNOW_BGNBD_PUBLISHED.items():
        assert s.loc[p, "lower"] < v < s.loc[p, "upper"], (p, s.loc[p].to_dict())
    d = cdnow_bgnbd.diagnostics_
    assert max(d.r_hat.values()) < 1.01
    assert d.divergences == 0
    assert d.method == "nuts" and d.chains == 4 and d.draws == 1000
    # the skew of a and b puts posterior means above the MLE (expected, not a defect)
    assert s.loc["b", "mean"] > CDNOW_BGNBD_MLE["b"]


def test_posterior_concentrates_on_mle_for_400x_base(cdnow_split):
    base = cdnow_split[["frequency", "recency", "T"]]
    # the CDNOW summary repeated 400 times (942,800 customers), given as triplet counts
    trip = base.groupby(["frequency", "recency", "T"]).size().rename("n_customers").reset_index()
    trip["n_customers"] *= 400
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the sampler must be healthy here too
        m = BetaGeoModel(seed=7, progressbar=False, chains=2, draws=1000, tune=1000).fit(trip, time_unit="W")
    assert m.diagnostics_.ok, m.diagnostics_.problems
    assert m.fit_info_["n_customers"] == 400 * len(base)
    for p, v in CDNOW_BGNBD_MLE.items():
        assert m.params_[p] == pytest.approx(v, rel=0.02), p


def test_weighted_fit_equals_per_customer_fit(cdnow_split):
    """Fitting on triplet counts gives the same MAP as fitting on the customers themselves."""
    base = cdnow_split[["frequency", "recency", "T"]]
    trip = base.groupby(["frequency", "recency", "T"]).size().rename("n_customers").reset_index()
    a = BetaGeoModel(priors="flat", method="map", progressbar=False).fit(base, time_unit="W")
    b = BetaGeoModel(priors="flat", method="map", progressbar=False).fit(trip, time_unit="W")
    np.testing.assert_allclose(a.params_.values, b.params_.values, rtol=1e-5)


def test_predictions_match_closed_forms_at_each_draw(cdnow_bgnbd, cdnow_split):
    sub = cdnow_split.iloc[:50]
    arr = cdnow_bgnbd.expected_purchases(sub, "39W", draws=True)
    assert arr.dims == ("chain", "draw", "customer_id")
    assert arr.shape == (4, 1000, 50)
    post = cdnow_bgnbd.posterior_
    c, d = 2, 123
    p = {k: float(post[k].values[c, d]) for k in ("r", "alpha", "a", "b")}
    direct = bgnbd.conditional_expected_purchases(p["r"], p["alpha"], p["a"], p["b"], sub["frequency"].to_numpy(float),
                                                  sub["recency"].to_numpy(float), sub["T"].to_numpy(float), 39.0)
    np.testing.assert_allclose(arr.values[c, d], direct, rtol=1e-12)
    summ = cdnow_bgnbd.expected_purchases(sub, "39W")
    np.testing.assert_allclose(summ["expected_purchases"], arr.mean(("chain", "draw")).values, rtol=1e-10)
    np.testing.assert_allclose(summ["expected_purchases_upper"], arr.quantile(0.95, ("chain", "draw")).values, rtol=1e-10)


def test_chunked_prediction_equals_unchunked(cdnow_bgnbd, cdnow_split, monkeypatch):
    import clvmodels.predict as pr

    full = cdnow_bgnbd.p_alive(cdnow_split)
    monkeypatch.setattr(pr, "DEFAULT_CHUNK_BYTES", 4000 * 8 * 3 * 7)  # 7 rows per chunk
    small = cdnow_bgnbd.p_alive(cdnow_split)
    pd.testing.assert_frame_equal(full, small)


def test_window_expectations_add_up(cdnow_bgnbd, cdnow_split):
    sub = cdnow_split.iloc[:200]
    whole = cdnow_bgnbd.expected_purchases(sub, "52W")["expected_purchases"]
    first = cdnow_bgnbd.expected_purchases(sub, "20W")["expected_purchases"]
    rest = cdnow_bgnbd.expected_purchases(sub, "52W", start="20W")["expected_purchases"]
    np.testing.assert_allclose(first + rest, whole, rtol=1e-9)
    assert (rest > 0).all()


def test_units_cannot_be_mixed(cdnow_bgnbd, cdnow_split):
    with pytest.raises(UnitError, match="weeks"):
        cdnow_bgnbd.expected_purchases(cdnow_split, "12M")
    with pytest.raises(UnitError, match="unit"):
        cdnow_bgnbd.expected_purchases(cdnow_split, 39)
    with pytest.raises(UnitError):
        BetaGeoModel(method="map", progressbar=False).fit(cdnow_split, time_unit="D")


def test_new_customer_expectation_interval(cdnow_bgnbd):
    s = cdnow_bgnbd.expected_purchases_new("52W")
    assert s["lower"] < 1.444 < s["upper"]
    assert s["lower"] < s["expected_purchases"] < s["upper"]


def test_save_load_roundtrip(tmp_path, cdnow_bgnbd, cdnow_split):
    path = tmp_path / "bg.clvm"
    cdnow_bgnbd.save(path)
    assert path.stat().st_size < 400_000  # parameter draws only, no per-customer arrays
    loaded = BetaGeoModel.load(path)
    assert loaded.time_unit_ == "W"
    pd.testing.assert_frame_equal(loaded.p_alive(cdnow_split), cdnow_bgnbd.p_alive(cdnow_split))
    assert loaded.diagnostics_.r_hat == cdnow_bgnbd.diagnostics_.r_hat


def test_incompatible_model_file_is_a_clear_error(tmp_path, cdnow_map):
    import json
    import zipfile

    path = tmp_path / "bg.clvm"
    cdnow_map.save(path)
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("model.json"))
        post = zf.read("posterior.npz")
    header["format_version"] = 999
    bad = tmp_path / "future.clvm"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("posterior.npz", post)
    with pytest.raises(ModelFileError, match="version 999"):
        BetaGeoModel.load(bad)
    (tmp_path / "junk.clvm").write_text("not a model")
    with pytest.raises(ModelFileError, match="is not a valid clvmodels model file: it is not a zip archive"):
        BetaGeoModel.load(tmp_path / "junk.clvm")


def test_bad_summary_lists_every_problem():
    bad = pd.DataFrame({"frequency": [1, -1, 0, 2.5], "recency": [5.0, 1.0, 3.0, 1.0], "T": [4.0, 5.0, 6.0, np.nan]})
    with pytest.raises(InputError) as exc:
        BetaGeoModel(method="map", progressbar=False).fit(bad, time_unit="W")
    msg = str(exc.value)
    for text in ("'recency': recency (first to last purchase) exceeds T", "'frequency': negative values",
                 "'frequency': frequency must be a whole number", "'T': missing or non-numeric",
                 "frequency 0 must have recency 0"):
        assert text in msg, text


def test_diagnostics_warn_when_sampling_is_too_short(cdnow_split):
    from clvmodels.models import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="ESS"):
        m = BetaGeoModel(chains=2, draws=30, tune=30, seed=3, progressbar=False).fit(cdnow_split)
    assert not m.diagnostics_.ok
    assert any("ESS" in p for p in m.diagnostics_.problems)


def test_predict_equals_the_single_predictions(cdnow_bgnbd, cdnow_split):
    """predict() (the scoring engine, one pass) gives the numbers of p_alive(), expected_purchases()
    and purchases_interval() (direct formulas) for the same draws."""
    sub = cdnow_split.iloc[::7]
    got = cdnow_bgnbd.predict(sub, "39W", interval=0.8, max_draws=300)
    pa = cdnow_bgnbd.p_alive(sub, interval=0.8, max_draws=300)
    ep = cdnow_bgnbd.expected_purchases(sub, "39W", interval=0.8, max_draws=300)
    pi = cdnow_bgnbd.purchases_interval(sub, "39W", interval=0.8, max_draws=300)
    assert list(got.columns) == ["p_alive", "p_alive_lower", "p_alive_upper", "expected_purchases",
                                 "expected_purchases_lower", "expected_purchases_upper", "purchases_lower",
                                 "purchases_upper"]
    pd.testing.assert_frame_equal(got[pa.columns], pa, rtol=1e-10)
    pd.testing.assert_frame_equal(got[ep.columns], ep, rtol=1e-9)
    pd.testing.assert_frame_equal(got[["purchases_lower", "purchases_upper"]],
                                  pi[["purchases_lower", "purchases_upper"]], check_dtype=False)


def test_count_cdf_at_an_observed_count_far_in_the_tail():
    """purchases_interval runs the pmf up to where the interval needs it (every draw's mass beyond K
    under 1e-3 of the interval's upper tail) and up to the largest observed count: a count far past that
    (20 and 25 for customers whose interval needs the pmf up to 13 and 17) still gets its exact
    predictive CDF below and at it, as the full mixture pmf gives it; the bounds and mass inside are
    those of the full pmf."""
    from clvmodels.models.transaction import predictive_count_pmf
    from clvmodels.draws import distinct

    rng = np.random.default_rng(3)
    draws = {"r": rng.uniform(0.2, 0.3, 40), "alpha": rng.uniform(3, 5, 40), "a": rng.uniform(0.7, 0.9, 40),
             "b": rng.uniform(2, 3, 40)}
    m = BetaGeoModel.from_params(draws, time_unit="W")
    data = pd.DataFrame({"frequency": [0.0, 2.0, 2.0, 10.0], "recency": [0.0, 10.0, 10.0, 30.0],
                         "T": [30.0, 30.0, 30.0, 31.0]})
    observed = np.array([20.0, 25.0, 1.0, 3.0])
    pi = m.purchases_interval(data, "26W", observed=observed, max_draws=None)
    sc = m.scorer(None)
    keys = distinct(*(data[c].to_numpy(float) for c in ("frequency", "recency", "T"))).keys
    full = predictive_count_pmf(sc, keys, 26.0, max_count=200)  # every row's mass beyond 200 is negligible
    assert full.sum(axis=1).min() > 1 - 1e-12
    cdf = np.cumsum(full, axis=1)
    row = {0: 0, 1: 1, 2: 1, 3: 2}
    for i, y in enumerate(observed.astype(int)):
        c = cdf[row[i]]
        assert pi["cdf_at"].iloc[i] == pytest.approx(c[y], abs=1e-13)
        assert pi["cdf_below"].iloc[i] == pytest.approx(c[y - 1] if y > 0 else 0.0, abs=1e-13)
        lo, hi = int(np.argmax(c >= 0.05 - 1e-12)), int(np.argmax(c >= 0.95 - 1e-12))
        assert (pi["purchases_lower"].iloc[i], pi["purchases_upper"].iloc[i]) == (lo, hi)
        assert pi["expected_coverage"].iloc[i] == pytest.approx(full[row[i], lo:hi + 1].sum(), abs=1e-13)
    # the observed counts of the first two lie past the counts their intervals need: the branch is taken
    need = sc.count_upper_bound(data["frequency"].to_numpy(float)[:2], data["recency"].to_numpy(float)[:2],
                                data["T"].to_numpy(float)[:2], 26.0, tail=1e-3 * 0.05).max(axis=0)
    assert (need < observed[:2]).all()
    for i in (0, 1):  # the mass at the observed count itself: positive, as the full pmf's
        assert pi["cdf_at"].iloc[i] - pi["cdf_below"].iloc[i] == pytest.approx(full[row[i], int(observed[i])], rel=1e-6)
        assert full[row[i], int(observed[i])] > 1e-12
    np.testing.assert_allclose(pi["purchases_mean"], m.expected_purchases(data, "26W", max_draws=None)["expected_purchases"],
                               rtol=1e-12)
