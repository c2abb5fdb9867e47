"""The models on production-shaped summaries: customers first seen on the last day (T = 0), repeat
purchases worth nothing, flat priors on a small base, MAP on a tiny log, summaries in another time
unit, and model files that lie. Every prediction is checked against an independent computation
(closed forms evaluated with mpmath or scipy, the distribution of the count summed from FHL eq. 8)."""
from __future__ import annotations

import io
import json
import warnings
import zipfile

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels.models.bgnbd.scoring import BetaGeoDraws, xt_paths
from clvmodels.models.gamma_gamma.scoring import GammaGammaDraws
from scipy import special as sc

from clvmodels import BetaGeoModel, GammaGammaModel, engine, summarize
from clvmodels.data import ExcludedCustomersWarning
from clvmodels.errors import FitError, InputError, ModelFileError, UnitError
from clvmodels.scoring import score
from clvmodels.value import customer_lifetime_value

N_NEW = 3


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_new(cdnow_split):
    """The CDNOW calibration summary plus three customers first seen on the calibration end (T = 0)."""
    new = cdnow_split.iloc[:N_NEW].copy()
    new.index = pd.Index([90001, 90002, 90003], name="customer_id")
    for c in ("frequency", "recency", "T", "monetary_value", "historical_clv", "frequency_holdout",
              "monetary_value_holdout", "spend_holdout"):
        if c in new.columns:
            new[c] = 0
    new["n_transactions"] = 1
    out = pd.concat([cdnow_split, new])
    out.attrs = dict(cdnow_split.attrs)
    return out


@pytest.fixture(scope="module")
def bg_new(with_new):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = BetaGeoModel(priors="flat", method="map", seed=5, progressbar=False).fit(with_new)
    m.fit_warnings = [x for x in w if issubclass(x.category, ExcludedCustomersWarning)]
    return m


@pytest.fixture(scope="module")
def gg_map(cdnow_split):
    return GammaGammaModel(priors="flat", method="map", seed=5, progressbar=False).fit(cdnow_split)


def _eq9_mpmath(r, alpha, a, b, t):
    """FHL eq. 9 at 30 digits: (a + b - 1)/(a - 1) [1 - (alpha/(alpha + t))^r 2F1(r, b; a + b - 1; t/(alpha + t))]."""
    with mp.workdps(30):
        r, alpha, a, b, t = (mp.mpf(float(v)) for v in (r, alpha, a, b, t))
        z = t / (alpha + t)
        return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * mp.hyp2f1(r, b, a + b - 1, z)))


def _eq8_pmf(r, alpha, a, b, t, K):
    """P(X(t) = k), k = 0..K, of a new customer, term by term from FHL eq. 8 (log-gamma and beta
    functions, the Poisson-gamma sum of the second term summed directly)."""
    k = np.arange(K + 1.0)
    q = alpha / (alpha + t)
    lnb = sc.gammaln(r + k) - sc.gammaln(r) - sc.gammaln(k + 1) + r * np.log(q) + k * np.log1p(-q)
    nb = np.exp(lnb)
    first = np.exp(sc.betaln(a, b + k) - sc.betaln(a, b)) * nb
    cdf_before = np.concatenate(([0.0], np.cumsum(nb)[:-1]))  # sum_{j < k} NB(j)
    second = np.where(k > 0, np.exp(sc.betaln(a + 1, b + np.maximum(k, 1) - 1) - sc.betaln(a, b)) * (1 - cdf_before), 0.0)
    return first + second


# -- 1. customers first seen on the last day ---------------------------------------------------------
def test_t0_rows_are_valid_but_repeat_purchases_at_t0_are_not():
    from clvmodels.models.bgnbd.model import check_bgnbd_data

    ok = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 3.0], "T": [0.0, 5.0]})
    check_bgnbd_data(ok, "data")  # no error
    bad = pd.DataFrame({"frequency": [1, 0, 0, 1], "recency": [0.0, 0.5, 0.0, 1.0], "T": [0.0, 0.0, -1.0, 2.0]},
                       index=pd.Index([11, 12, 13, 14], name="customer_id"))
    with pytest.raises(InputError) as exc:
        check_bgnbd_data(bad, "data")
    msg = str(exc.value)
    assert "customers with T = 0 (first purchase at the observation end) cannot have repeat purchases" in msg
    assert "(2 rows)" in msg and "11" in msg and "12" in msg
    assert "'T': negative values" in msg


def test_fit_leaves_t0_customers_out_of_the_likelihood(bg_new, with_new, cdnow_split):
    ref = BetaGeoModel(priors="flat", method="map", seed=5, progressbar=False).fit(cdnow_split)
    np.testing.assert_allclose(bg_new.params_.values, ref.params_.values, rtol=1e-6)
    info = bg_new.fit_info_
    assert info["n_excluded_t0"] == N_NEW
    assert info["n_customers"] == len(with_new) and info["n_customers_fitted"] == len(cdnow_split)
    assert len(bg_new.fit_warnings) == 1
    assert "3 customers first seen at the end of the period (T = 0)" in str(bg_new.fit_warnings[0].message)
    # the log-likelihood is unchanged by them (each has likelihood 1 whatever the parameters)
    assert bg_new.log_likelihood(with_new) == pytest.approx(bg_new.log_likelihood(cdnow_split), abs=1e-9)


def test_t0_exclusion_is_weighted_by_n_customers_and_all_t0_is_a_fit_error(cdnow_split):
    trip = cdnow_split.groupby(["frequency", "recency", "T"]).size().rename("n_customers").reset_index()
    trip = pd.concat([trip, pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0], "n_customers": [7]})],
                     ignore_index=True)
    with pytest.warns(ExcludedCustomersWarning, match="7 customers first seen"):
        m = BetaGeoModel(priors="flat", method="map", progressbar=False).fit(trip, time_unit="W")
    assert m.fit_info_["n_excluded_t0"] == 7
    assert m.fit_info_["n_customers"] == len(cdnow_split) + 7
    assert m.fit_info_["n_customers_fitted"] == len(cdnow_split)
    only_new = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [0.0, 0.0]})
    with pytest.raises(FitError, match="no customer has T > 0"):
        BetaGeoModel(method="map", progressbar=False).fit(only_new, time_unit="W")


def test_t0_customers_are_scored_as_new_customers(bg_new, with_new):
    new = with_new.loc[[90001, 90002, 90003]]
    sub = pd.concat([with_new.iloc[:40], new])
    draws = bg_new.draws_()
    pa = bg_new.p_alive(new)
    assert (pa.to_numpy() == 1.0).all()
    # expected purchases: the new-customer expectation (eq. 9) draw by draw
    arr = bg_new.expected_purchases(new, "39W", draws=True).values.reshape(-1, N_NEW)
    ref = bg_new.expected_purchases_new("39W")
    np.testing.assert_allclose(arr[:, 0], arr[:, 2], rtol=0)
    assert arr[:, 0].mean() == pytest.approx(ref["expected_purchases"], rel=1e-12)
    for s in (0, 17, 401):  # against FHL eq. 9 evaluated with mpmath
        p = [draws[k][s] for k in ("r", "alpha", "a", "b")]
        assert arr[s, 0] == pytest.approx(_eq9_mpmath(*p, 39.0), rel=1e-10)
    ep = bg_new.expected_purchases(new, "39W")
    np.testing.assert_allclose(ep["expected_purchases_lower"], ref["lower"], rtol=1e-12)
    # the predictive interval of the count: quantiles of the mixture over draws of eq. 8
    S = 200
    d = bg_new.draws_(S)
    K = 1000
    mix = np.mean([_eq8_pmf(d["r"][s], d["alpha"][s], d["a"][s], d["b"][s], 39.0, K) for s in range(S)], axis=0)
    cdf = np.cumsum(mix)
    lo, hi = int(np.argmax(cdf >= 0.05 - 1e-12)), int(np.argmax(cdf >= 0.95 - 1e-12))
    assert cdf[-1] > 1 - 1e-9 and hi > lo
    pi = bg_new.purchases_interval(new, "39W", max_draws=S)
    assert (pi["purchases_lower"] == lo).all() and (pi["purchases_upper"] == hi).all()
    np.testing.assert_allclose(pi["purchases_mean"], (mix * np.arange(K + 1)).sum(), rtol=1e-9)
    dist = bg_new.purchases_distribution(new, "39W", max_count=K, max_draws=S)
    np.testing.assert_allclose(dist.loc[90001, list(range(K + 1))].to_numpy(float), mix, rtol=1e-9, atol=1e-15)
    # predict() (the scoring engine) gives the same numbers for them, next to customers with a history
    got = bg_new.predict(sub, "39W", max_draws=S)
    assert got.notna().all().all() and np.isfinite(got.to_numpy()).all()
    g = got.loc[new.index]
    assert (g[["p_alive", "p_alive_lower", "p_alive_upper"]] == 1.0).all().all()
    eq9 = np.mean([_eq9_mpmath(d["r"][s], d["alpha"][s], d["a"][s], d["b"][s], 39.0) for s in range(S)])
    np.testing.assert_allclose(g["expected_purchases"], eq9, rtol=1e-9)
    assert (g["purchases_lower"] == lo).all() and (g["purchases_upper"] == hi).all()


def test_t0_customers_in_clv_score_and_validation(bg_new, gg_map, with_new):
    from clvmodels.validation import validate_purchases
    from clvmodels.validation.spend import validate_spend

    new = with_new.loc[[90001, 90002, 90003]]
    free = with_new[with_new["frequency"] == 3].iloc[:1].copy()  # repeat purchases all worth 0
    free.index = pd.Index([80001], name="customer_id")
    free["monetary_value"] = 0.0
    sub = pd.concat([with_new.iloc[::100], new, free])
    sub.attrs = dict(with_new.attrs)
    # CLV of a new customer, per joint draw: spend_new x sum_k d^k (E_new(k) - E_new(k-1))
    res = customer_lifetime_value(bg_new, gg_map, sub, "26W", discount_rate=0.1, max_draws=50)
    pb, pg = bg_new.draws_(50), gg_map.draws_(50)
    d = 1 / (1 + ((1.1) ** (7 / 365.25) - 1))
    cum = np.array([[_eq9_mpmath(pb["r"][s], pb["alpha"][s], pb["a"][s], pb["b"][s], k) if k else 0.0
                     for k in range(27)] for s in range(50)])
    dp = np.diff(cum, axis=1) @ d ** np.arange(1, 27)
    spend_new = pg["p"] * pg["v"] / (pg["q"] - 1)
    assert res.loc[90001, "clv"] == pytest.approx(np.mean(spend_new * dp), rel=1e-9)
    assert res.loc[90002, "discounted_purchases"] == pytest.approx(dp.mean(), rel=1e-9)
    table = score(sub, bg_new, gg_map, "26W", discount_rate=0.1, max_draws=50).set_index("customer_id")
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()
    np.testing.assert_allclose(table.loc[new.index, "clv"], res.loc[new.index, "clv"], rtol=1e-12)
    assert (table.loc[new.index, "p_alive"] == 1).all()
    assert table.loc[80001, "expected_spend"] == pytest.approx(np.mean(pg["p"] * pg["v"] / (3 * pg["p"] + pg["q"] - 1)),
                                                               rel=1e-12)
    assert 0 < table.loc[80001, "clv"] < table.loc[80001, "expected_spend"] * 26
    # holdout validation: they are in the table, with the new-customer expectation over the holdout
    v = validate_purchases(bg_new, sub, max_draws=50)
    t = v["table"].loc[new.index]
    assert np.isfinite(t.select_dtypes("number").to_numpy()).all()
    h = v["holdout_length"]
    np.testing.assert_allclose(t["expected_purchases"], np.mean([_eq9_mpmath(pb["r"][s], pb["alpha"][s], pb["a"][s],
                                                                             pb["b"][s], h) for s in range(50)]),
                               rtol=1e-9)
    vs = validate_spend(bg_new, gg_map, sub, max_draws=50)
    ts = vs["table"].loc[[*new.index, 80001]]
    assert np.isfinite(vs["table"].to_numpy()).all() and (ts["spend_holdout_predicted"] > 0).all()


# -- 2. repeat purchases worth nothing ---------------------------------------------------------------
def test_zero_spend_customers_are_left_out_of_the_fit_and_scored_at_zbar_0(cdnow_split, gg_map):
    free = pd.DataFrame({"frequency": [1, 4], "monetary_value": [0.0, 0.0]}, index=pd.Index([80001, 80002]))
    data = pd.concat([cdnow_split[["frequency", "monetary_value"]], free])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = GammaGammaModel(priors="flat", method="map", seed=5, progressbar=False).fit(data, time_unit="W")
    excl = [x for x in w if issubclass(x.category, ExcludedCustomersWarning)]
    assert len(excl) == 1 and "2 customers with repeat purchases have a mean repeat spend of 0" in str(excl[0].message)
    assert m.fit_info_["n_excluded_zero_spend"] == 2 and m.fit_info_["n_customers_fitted"] == 946
    assert m.fit_info_["n_customers"] == len(data)
    np.testing.assert_allclose(m.params_.values, gg_map.params_.values, rtol=1e-6)
    # the conditional expectation at zbar = 0, p v / (p x + q - 1), draw by draw
    e = m.expected_spend(free, draws=True).values[0]
    d = m.draws_()
    for j, x in enumerate((1.0, 4.0)):
        np.testing.assert_allclose(e[:, j], d["p"] * d["v"] / (d["p"] * x + d["q"] - 1), rtol=1e-13)
    s = m.expected_spend(free)["expected_spend"]
    assert 0 < s[80002] < s[80001] < m.expected_spend_new()["expected_spend"]
    # the scoring engine gives the same
    bg = {k: np.full(len(d["p"]), v) for k, v in (("r", 0.24), ("alpha", 4.4), ("a", 0.79), ("b", 2.4))}
    out = engine.score_arrays(BetaGeoDraws.from_mapping(bg), GammaGammaDraws.from_mapping(d), np.array([1.0, 4.0]), np.array([3.0, 20.0]), np.array([30.0, 30.0]),
                              np.array([0.0, 0.0]), h=10.0, H=10)
    np.testing.assert_allclose(out["expected_spend"], e.mean(axis=0), rtol=1e-12)
    assert (out["clv"] > 0).all()


def test_zero_spend_weighted_counts_and_too_few_to_fit():
    rows = pd.DataFrame({"frequency": [1, 2, 3, 2], "monetary_value": [10.0, 12.0, 0.0, 30.0],
                         "n_customers": [40, 30, 5, 20]})
    with pytest.warns(ExcludedCustomersWarning, match="^5 customers"):
        m = GammaGammaModel(method="map", progressbar=False).fit(rows, time_unit="W")
    assert m.fit_info_["n_excluded_zero_spend"] == 5 and m.fit_info_["n_customers_fitted"] == 90
    one = pd.DataFrame({"frequency": [1, 2, 0], "monetary_value": [10.0, 0.0, 0.0]})
    with pytest.raises(FitError) as exc:
        GammaGammaModel(method="map", progressbar=False).fit(one, time_unit="W")
    assert str(exc.value) == ("at least 2 customers with repeat purchases and positive spend are needed to fit the "
                              "Gamma-Gamma model; this summary has 1")


# -- 3. flat priors on a small base --------------------------------------------------------------------
def test_flat_priors_drifting_off_are_a_fit_error_not_nan(cdnow_transactions):
    """NUTS with flat priors on the first 100 CDNOW customers: a and b drift to 1e10 and beyond (the
    posterior is improper); before, every prediction was NaN or wrong with only a warning."""
    tx = cdnow_transactions[cdnow_transactions["customer_id"] <= 100]
    s = summarize(tx, customer_id="customer_id", date="date", amount="amount", observation_end="1998-06-30")
    m = BetaGeoModel(priors="flat", chains=2, draws=200, tune=200, seed=1, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FitError) as exc:
            m.fit(s)
    msg = str(exc.value)
    assert "BetaGeoModel fit is unusable" in msg and "flat priors" in msg and "priors=None" in msg
    assert "draws at or above 1e+05" in msg
    assert not hasattr(m, "posterior_")  # no half-fitted model is left behind
    # the default priors fit the same data
    ok = BetaGeoModel(chains=2, draws=200, tune=200, seed=1, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok.fit(s)
    assert np.isfinite(ok.predict(s, "52W", max_draws=100).to_numpy()).all()


def test_flat_priors_map_at_the_boundary_is_a_fit_error():
    """Data with a homogeneous drop-out probability: the MLE of a, b is at infinity, the Laplace
    approximation spans 1e-44 to 1e45 and predictions overflowed to NaN."""
    from clvmodels.simulate import simulate_summary

    d = simulate_summary(300, 0.25, 4.0, 200.0, 800.0, T=np.random.default_rng(1).uniform(20, 60, 300), seed=1)
    with pytest.raises(FitError, match="MAP estimate and its Laplace approximation lie where"):
        BetaGeoModel(priors="flat", method="map", seed=1, progressbar=False).fit(d, time_unit="W")


def test_gamma_gamma_flat_priors_drifting_off_are_a_fit_error(cdnow_transactions):
    tx = cdnow_transactions[cdnow_transactions["customer_id"] <= 60]
    s = summarize(tx, customer_id="customer_id", date="date", amount="amount", observation_end="1998-06-30")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FitError, match=r"GammaGammaModel fit is unusable.*p: \d+ of 400 draws at or above 1e\+06"):
            GammaGammaModel(priors="flat", chains=2, draws=200, tune=200, seed=1, progressbar=False).fit(s)


def test_check_draws_refuses_non_finite_and_unconverged_draws(bg_new, with_new):
    d = {k: v[:50].copy() for k, v in bg_new.draws_().items()}
    bad = dict(d, a=np.where(np.arange(50) == 3, np.inf, d["a"]))
    with pytest.raises(FitError, match="a: 1 of 50 draws are not finite positive numbers"):
        bg_new.check_draws(bad, with_new)
    # inside every range, but a and b both tiny: the expectation's series do not converge there
    tiny = dict(d, a=np.full(50, 1e-44), b=np.full(50, 1e-44))
    with pytest.raises(FitError, match="expected purchases cannot be computed at 50 of 50 draws"):
        bg_new.check_draws(tiny, with_new)


# -- 4. MAP on a tiny log --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3])
def test_map_on_a_tiny_log_has_finite_clv(seed):
    """The first 199 transactions of the CDNOW sample (75 customers, 33 with repeat purchases). The
    Laplace approximation of the Gamma-Gamma model used to work in log q, where its tail crosses
    q = 1 and the mean spend p v/(q - 1) of every one-time buyer becomes infinite (or negative): clv
    = inf for them. q now lives in log(q - 1)."""
    import clvmodels
    from clvmodels.datasets import cdnow_sample_path

    df = pd.read_csv(cdnow_sample_path())
    s = summarize(df.iloc[:199], observation_end="1998-06-30")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = clvmodels.forecast(summary=s, horizon="52W", method="map", seed=seed, progress=False)
    t = res.table
    assert np.isfinite(t.select_dtypes("number").to_numpy()).all()
    q = res.gamma_gamma.draws_()["q"]
    assert (q > 1).all()
    one_time = t[t["frequency"] == 0]
    # one-time buyers get the population mean spend, a finite number near the repeat buyers' spend
    pg = res.gamma_gamma.draws_(1000)
    np.testing.assert_allclose(one_time["expected_spend"], np.mean(pg["p"] * pg["v"] / (pg["q"] - 1)), rtol=1e-12)
    assert 10 < one_time["expected_spend"].iloc[0] < 200
    # the MAP itself is unchanged: the mode of the same density, restricted to q > 1
    assert res.gamma_gamma.params_["q"] == pytest.approx(3.3323, rel=1e-3)


def test_score_refuses_to_return_nan_or_inf(bg_new, gg_map, with_new):
    sub = with_new.iloc[:30]
    gg = GammaGammaModel.__new__(GammaGammaModel)
    gg.__dict__.update(gg_map.__dict__)
    post = gg_map.posterior_.copy(deep=True)
    post["q"][0, :5] = 0.9  # a posterior with q <= 1 (as a Laplace approximation in log q could give)
    gg.posterior_ = post
    with pytest.raises(FitError) as exc:
        score(sub, bg_new, gg, "52W")
    msg = str(exc.value)
    n0 = int((sub["frequency"] == 0).sum())
    assert 0 < n0 < 30
    assert "expected_spend, clv" in msg and f"for {n0} of 30 customers" in msg and "refusing to return it" in msg


# -- 5. scoring with models of another time unit -------------------------------------------------------
def test_summaries_in_another_unit_are_refused(bg_new, gg_map, cdnow_transactions):
    days = summarize(cdnow_transactions, customer_id="customer_id", date="date", amount="amount",
                     observation_end="1998-06-30", time_unit="D").iloc[:20]
    expected = ("the models were fitted in weeks ('W') but the summary is in days ('D'): rebuild the summary "
                "with time_unit='W' (--time-unit W) or refit")
    with pytest.raises(UnitError) as exc:
        score(days, bg_new, gg_map, "52W")
    assert str(exc.value) == expected
    with pytest.raises(UnitError, match="the models were fitted in weeks"):
        customer_lifetime_value(bg_new, gg_map, days, "52W")
    for call in (lambda: bg_new.predict(days, "52W"), lambda: bg_new.p_alive(days),
                 lambda: bg_new.expected_purchases(days, "52W"), lambda: bg_new.purchases_interval(days, "52W")):
        with pytest.raises(UnitError, match=r"the model was fitted in weeks \('W'\) but the summary is in days"):
            call()
    # without attrs the unit is unknown and trusted
    bare = days.copy()
    bare.attrs = {}
    assert np.isfinite(bg_new.p_alive(bare).to_numpy()).all()


# -- 6. model files that lie ------------------------------------------------------------------------------
def _rewrite(src, dst, header=None, arrays=None, raw_header=None):
    with zipfile.ZipFile(src) as zf:
        h = json.loads(zf.read("model.json"))
        with np.load(io.BytesIO(zf.read("posterior.npz"))) as npz:
            a = {k: npz[k] for k in npz.files}
    h = header(h) if header else h
    a = arrays(a) if arrays else a
    buf = io.BytesIO()
    np.savez(buf, **a)
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("model.json", raw_header if raw_header is not None else json.dumps(h))
        zf.writestr("posterior.npz", buf.getvalue())
    return dst


def _drop(key):
    def f(h):
        h.pop(key)
        return h
    return f


def _set(path, value):
    def f(h):
        d = h
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
        return h
    return f


def _nan_draw(a):
    a = dict(a)
    a["b"] = a["b"].copy()
    a["b"].flat[7] = np.nan
    return a


@pytest.mark.parametrize("case, kw, what", [
    ("nan", dict(arrays=_nan_draw), "1 draw of 'b' is NaN or infinite"),
    ("inf", dict(arrays=lambda a: {**a, "r": np.where(np.arange(a["r"].size).reshape(a["r"].shape) == 0, np.inf, a["r"])}),
     "NaN or infinite"),
    ("no time_unit", dict(header=_drop("time_unit")), "model.json has no 'time_unit'"),
    ("no shape", dict(header=_drop("shape")), "model.json has no 'shape'"),
    ("no config", dict(header=_drop("config")), "model.json has no 'config'"),
    ("wrong shape", dict(header=_set(["shape"], [2, 7])), "'shape' [2, 7] says 14"),
    ("bad shape", dict(header=_set(["shape"], [1, -3])), "'shape' must be [chains, draws]"),
    ("missing parameter", dict(arrays=lambda a: {k: v for k, v in a.items() if k != "alpha"}),
     "posterior.npz has no draws of 'alpha'"),
    ("extra parameter", dict(arrays=lambda a: {**a, "zeta": a["r"]}), "draws of 'zeta'"),
    ("unknown setting", dict(header=_set(["config", "colour"], "red")), "'config' is not a valid BetaGeoModel configuration"),
    ("bad method", dict(header=_set(["config", "method"], "foo")), "method must be 'nuts', 'map' or 'mode'"),
    ("bad unit", dict(header=_set(["time_unit"], "X")), "'time_unit': unknown time unit 'X'"),
    ("bad prior", dict(header=_set(["config", "priors"], {"r": {"dist": "NoSuchDist"}})), "'config' is not a valid"),
    ("bad diagnostics", dict(header=_set(["diagnostics"], {"method": "map"})), "'diagnostics' is not valid"),
    ("not json", dict(raw_header="{not json"), "model.json is not valid JSON"),
    ("json list", dict(raw_header="[1, 2]"), "model.json is not a JSON object"),
    ("unknown model", dict(header=_set(["model"], "ParetoNBD")), "unknown model 'ParetoNBD'"),
])
def test_model_files_that_lie_are_refused(tmp_path, bg_new, case, kw, what):
    good = tmp_path / "good.clvm"
    bg_new.save(good)
    bad = _rewrite(good, tmp_path / "bad.clvm", **kw)
    with pytest.raises(ModelFileError) as exc:
        BetaGeoModel.load(bad)
    msg = str(exc.value)
    assert msg.startswith(f"{str(bad)!r} is not a valid clvmodels model file: "), msg
    assert what in msg, msg
    assert "\n" not in msg
    with pytest.raises(ModelFileError):  # the generic loader too
        from clvmodels.models.base import BayesianModel
        BayesianModel.load(bad)


def test_non_zip_and_truncated_files_are_refused(tmp_path, bg_new):
    junk = tmp_path / "junk.clvm"
    junk.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(ModelFileError, match=r"is not a valid clvmodels model file: it is not a zip archive"):
        BetaGeoModel.load(junk)
    good = tmp_path / "good.clvm"
    bg_new.save(good)
    cut = tmp_path / "cut.clvm"
    cut.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(ModelFileError, match="is not a valid clvmodels model file"):
        BetaGeoModel.load(cut)
    with pytest.raises(ModelFileError, match="it is a directory"):
        BetaGeoModel.load(tmp_path)
    # and a good file still loads and predicts the same
    loaded = BetaGeoModel.load(good)
    data = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 5.0], "T": [0.0, 30.0]})
    pd.testing.assert_frame_equal(loaded.p_alive(data), bg_new.p_alive(data))


def test_unconverged_expectations_are_nan_and_the_engine_refuses_them():
    """Beyond the reliable range (a + b = 1e8) the expectation's series does not converge: the value is
    NaN, as the warning says (it used to be a finite number 800 times too large), and the engine
    refuses to hand such a forecast on."""
    from clvmodels.models import bgnbd

    with pytest.warns(RuntimeWarning, match="no convergence for 1 elements"):
        v = bgnbd._alive_expected(0.3, 10.0, 2e7, 8e7, 1.0)
    assert np.isnan(v)
    ok = bgnbd._alive_expected(0.3, 10.0, 2e4, 8e4, 1.0)  # inside the range: the homogeneous-p limit
    p0 = 0.2
    assert ok == pytest.approx((1 - (10 / (10 + p0)) ** 0.3) / p0, rel=1e-4)
    bg = {"r": np.array([0.3, 0.3]), "alpha": np.array([10.0, 10.0]), "a": np.array([0.8, 2e7]),
          "b": np.array([2.5, 8e7])}
    with pytest.warns(RuntimeWarning, match="no convergence"):
        EH, _, _ = xt_paths(bg, np.array([0.0]), np.array([0.0]), 1.0)
    assert np.isfinite(EH[0, 0]) and np.isnan(EH[0, 1])
    with pytest.warns(RuntimeWarning), pytest.raises(FitError, match="NaN or infinite values in expected_purchases"):
        engine.score_arrays(BetaGeoDraws.from_mapping(bg), None, np.array([0.0, 1.0]), np.array([0.0, 2.0]), np.array([0.0, 5.0]), h=1.0,
                            clv=False)
