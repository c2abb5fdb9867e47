"""Static covariates in the purchase models (clvmodels.models.covariates and the transaction models' cells).

Every number is checked against an independent computation: the likelihood over cells against the
model's per-customer formula (math.log_likelihood) at each customer's own parameters, summed; its
gradient against central differences of that sum; the predictions against the model's math at each
customer's own parameters; the fitted effects against the effects the data were simulated with.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels import BetaGeoModel
from clvmodels.errors import InputError
from clvmodels.models.bgnbd import math as bg_math
from clvmodels.models.bgnbd.simulate import simulate_summary as bg_simulate
from clvmodels.models.covariates import CovariateDesign, cell_likelihood_graph, model_links
from clvmodels.models.mbgnbd import ModifiedBetaGeoModel
from clvmodels.models.mbgnbd import math as mbg_math
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.models.pareto_nbd import math as pnbd_math

from ..conftest import check_value_and_gradient

TRUE = {"r": 0.8, "alpha": 8.0, "a": 0.8, "b": 3.0}
EFFECTS = {"purchase_coefficient_alpha": {"channel=paid": 0.5, "basket": 0.25},
           "dropout_coefficient_a": {"channel=paid": 0.6}, "dropout_coefficient_b": {"channel=paid": -0.3}}


def _covariates(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"channel": rng.choice(["organic", "paid"], n, p=[0.6, 0.4]),
                         "basket": rng.integers(1, 6, n).astype(float)})


def _summary(n=3000, seed=1, coefficients=EFFECTS):
    cov = _covariates(n, seed)
    T = np.random.default_rng(seed + 100).uniform(20, 52, n).round()
    df = bg_simulate(n, **TRUE, T=T, seed=seed, covariates=cov, coefficients=coefficients)
    df["recency"] = df["recency"].round(2)
    df.attrs["clvmodels"] = {"time_unit": "W"}
    return df


@pytest.fixture(scope="module")
def data():
    return _summary()


@pytest.fixture(scope="module")
def fitted(data):
    return BetaGeoModel(purchase_covariates=["channel", "basket"], dropout_covariates=["channel"],
                        method="map", seed=0).fit(data)


# -- the design ----------------------------------------------------------------------------------------
def test_design_reference_level_standardisation_and_cells():
    df = pd.DataFrame({"channel": ["b", "a", "b", "c", "a"], "size": [1.0, 2.0, 3.0, 4.0, 5.0],
                       "flag": [True, False, False, True, True]})
    d = CovariateDesign.fit(df, {"purchase": ["channel", "size"], "dropout": ["flag"]})
    ch = d.covariates["channel"]
    assert ch.kind == "categorical" and ch.levels == ["a", "b", "c"]
    assert ch.reference == "a"  # a and b twice each: the tie goes to the first in sorted order
    assert d.covariates["flag"].reference == "True"  # the most frequent
    assert d.columns("purchase") == ["channel=b", "channel=c", "size"]
    assert d.covariates["size"].mean == 3.0 and d.covariates["size"].sd == pytest.approx(np.sqrt(2.0))
    z = d.matrix(df, "purchase")
    np.testing.assert_allclose(z[:, 2], (df["size"] - 3.0) / np.sqrt(2.0))
    np.testing.assert_array_equal(z[:, :2], [[1, 0], [0, 0], [1, 0], [0, 1], [0, 0]])
    cell_of, zc = d.cells(df)
    assert len(np.unique(cell_of)) == 5  # every row distinct here
    np.testing.assert_allclose(zc["purchase"][cell_of], z)
    # the same covariate row -> the same cell
    two = pd.concat([df, df])
    c2, _ = d.cells(two)
    np.testing.assert_array_equal(c2[:5], c2[5:])
    assert CovariateDesign.from_dict(d.to_dict()).to_dict() == d.to_dict()


def test_bad_covariates_name_column_and_customers(data, fitted):
    bad = data.copy()
    bad.loc[[3, 17], "basket"] = np.nan
    with pytest.raises(InputError) as e:
        BetaGeoModel(purchase_covariates=["basket", "nope"], method="map").fit(bad)
    msg = str(e.value)
    assert "'basket'" in msg and "2 rows" in msg and "'nope'" in msg and "missing" in msg
    # a level not seen in the fit, at scoring: named with its customers, before any work
    new = data.head(6).copy()
    new.loc[[1, 4], "channel"] = "affiliate"
    with pytest.raises(InputError) as e:
        fitted.p_alive(new)
    msg = str(e.value)
    assert "'channel'" in msg and "'affiliate'" in msg and "2 rows" in msg
    first_rows = msg.split("first offending rows:")[1]
    assert " 1 " in first_rows and " 4 " in first_rows  # the customers' ids
    with pytest.raises(InputError, match="'channel'"):
        fitted.predict(new, "10W")
    with pytest.raises(ValueError, match="no single scorer"):
        fitted.scorer()


# -- the likelihood over cells -------------------------------------------------------------------------
@pytest.mark.parametrize("model_cls, math, names", [
    (BetaGeoModel, bg_math, ("r", "alpha", "a", "b")),
    (ModifiedBetaGeoModel, mbg_math, ("r", "alpha", "a", "b")),
    (ParetoNBDModel, pnbd_math, ("r", "alpha", "s", "beta")),
])
def test_cell_likelihood_equals_per_customer_sum(data, model_cls, math, names):
    """The fused likelihood over cells, value and gradient, against the model's own per-customer formula
    at each customer's own parameters, summed (value to 1e-10 relative; gradient against central
    differences of that sum)."""
    import pytensor
    import pytensor.tensor as pt

    from clvmodels.models.transaction import t0_mask

    model = model_cls(purchase_covariates=["channel", "basket"], dropout_covariates=["channel", "basket"])
    df = data[~t0_mask(data)].head(800)
    roles = model._covariate_roles()
    design = CovariateDesign.fit(df, roles)
    links = model_links(design, model.covariate_links)
    cell_of, z = design.cells(df)
    cells = [(c, model._triplets(df[cell_of == c])) for c in range(cell_of.max() + 1)]
    rv = {p: pt.dscalar(p) for p in names}
    coef_names = [n for ln in links for n in ln.names]
    coef = {n: pt.dscalar(n) for n in coef_names}
    total = cell_likelihood_graph(model._log_likelihood_graph, cells, rv, coef, links, z)
    inputs = [*rv.values(), *coef.values()]
    f = pytensor.function(inputs, [total, *pt.grad(total, inputs)])
    base = dict(zip(names, (0.9, 7.0, 0.7, 2.5)))
    rng = np.random.default_rng(3)
    gam = dict(zip(coef_names, rng.normal(0, 0.4, len(coef_names))))

    def reference(values):
        per = {p: np.full(len(df), values[p]) for p in names}
        for ln in links:
            eta = sum(values[n] * design.matrix(df, ln.role)[:, j] for j, n in enumerate(ln.names))
            per[ln.param] = per[ln.param] * np.exp(ln.sign * eta)
        ll = math.log_likelihood(*(per[p] for p in names), df["frequency"].to_numpy(float),
                                 df["recency"].to_numpy(float), df["T"].to_numpy(float))
        return float(np.sum(ll))

    point = {**base, **gam}
    check_value_and_gradient(f(*(point[k] for k in [*names, *coef_names])), reference, point, [*names, *coef_names])


# -- predictions -----------------------------------------------------------------------------------------
def test_predictions_at_a_draw_equal_the_math_with_each_customers_parameters(data, fitted):
    """method='mode': one draw; P(alive) and expected purchases of each customer against the BG/NBD math
    at her own parameters (alpha exp(-gamma . (z - mean)), ...), computed here from the summary columns."""
    m = BetaGeoModel(purchase_covariates=["channel", "basket"], dropout_covariates=["channel"],
                     method="mode").fit(data)
    p = m.params_
    df = data.sample(300, random_state=1)
    paid = (df["channel"] == "paid").to_numpy(float)
    mean_basket = float(data.loc[data["T"] > 0, "basket"].mean())
    alpha = p["alpha"] * np.exp(-(p["purchase_coefficient_alpha[channel=paid]"] * paid
                                  + p["purchase_coefficient_alpha[basket]"] * (df["basket"].to_numpy() - mean_basket)))
    a = p["a"] * np.exp(p["dropout_coefficient_a[channel=paid]"] * paid)
    b = p["b"] * np.exp(p["dropout_coefficient_b[channel=paid]"] * paid)
    x, tx, T = (df[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    pa = bg_math.p_alive(p["r"], alpha, a, b, x, tx, T)
    ep = bg_math.conditional_expected_purchases(p["r"], alpha, a, b, x, tx, T, 10.0)
    np.testing.assert_allclose(m.p_alive(df)["p_alive"].to_numpy(), pa, rtol=1e-10)
    np.testing.assert_allclose(m.expected_purchases(df, "10W")["expected_purchases"].to_numpy(), ep, rtol=1e-10)
    pred = m.predict(df, "10W")
    assert list(pred.index) == list(df.index)
    np.testing.assert_allclose(pred["p_alive"].to_numpy(), pa, rtol=1e-8)
    np.testing.assert_allclose(pred["expected_purchases"].to_numpy(), ep, rtol=1e-6)
    ll = bg_math.log_likelihood(p["r"], alpha, a, b, x, tx, T)
    assert m.log_likelihood(df) == pytest.approx(float(ll.sum()), rel=1e-10)
    # the draws of the fitted MAP model, per customer, in the customers' order
    dr = fitted.p_alive(df, draws=True, max_draws=50)
    assert dr.shape == (1, 50, len(df)) and list(dr["customer_id"].values) == list(df.index)


def test_save_and_load_keep_the_covariates(tmp_path, data, fitted):
    from clvmodels.models.base import BayesianModel

    fitted.save(tmp_path / "m.clv")
    back = BayesianModel.load(tmp_path / "m.clv")
    assert back.has_covariates and back.param_names == fitted.param_names
    df = data.head(40)
    pd.testing.assert_frame_equal(back.p_alive(df), fitted.p_alive(df))
    pd.testing.assert_frame_equal(back.coefficients(), fitted.coefficients())


# -- fits --------------------------------------------------------------------------------------------------
def test_recovers_the_simulated_effects(fitted):
    """3,000 customers simulated with a binary and a numeric effect on the purchase rate and binary
    effects on a and b: each 90% interval contains the true effect (one seed here; the coverage rate
    over seeds: benchmarks/covariates_recovery.py)."""
    co = fitted.coefficients(0.9)
    truth = {"purchase_coefficient_alpha[channel=paid]": 0.5, "purchase_coefficient_alpha[basket]": 0.25,
             "dropout_coefficient_a[channel=paid]": 0.6, "dropout_coefficient_b[channel=paid]": -0.3}
    for name, v in truth.items():
        assert co.loc[name, "lower"] < v < co.loc[name, "upper"], (name, co.loc[name].to_dict())
    # the purchase effects are pinned down: intervals narrower than 0.4
    assert (co.loc[list(truth)[:2], "upper"] - co.loc[list(truth)[:2], "lower"] < 0.4).all()
    assert co.loc["purchase_coefficient_alpha[channel=paid]", "multiplier"] == pytest.approx(
        np.exp(-co.loc["purchase_coefficient_alpha[channel=paid]", "mean"]))


def test_constant_covariate_is_the_model_without():
    """A constant covariate: its coefficient stays at its prior (interval contains 0) and the other
    parameters and the predictions equal the model without covariates (MAP: the same optimum)."""
    df = _summary(n=2000, seed=5, coefficients=None)
    df["region"] = 3.0
    with pytest.warns(UserWarning, match="'region' is constant"):
        with_c = BetaGeoModel(purchase_covariates=["region"], dropout_covariates=["region"], method="map",
                              seed=1).fit(df)
    without = BetaGeoModel(method="map", seed=1).fit(df)
    co = with_c.coefficients()
    assert ((co["lower"] < 0) & (co["upper"] > 0)).all()
    for p in ("r", "alpha", "a", "b"):
        assert with_c.params_[p] == pytest.approx(without.params_[p], rel=1e-4)
    head = df.head(200)
    np.testing.assert_allclose(with_c.predict(head, "20W")["expected_purchases"],
                               without.predict(head, "20W")["expected_purchases"], rtol=2e-2)


# -- scoring: the forecast table ---------------------------------------------------------------------------
def test_forecast_table_by_cells_keeps_covariates_and_sums_totals_across_cells(data, fitted):
    """clvmodels.score and forecast() with a covariate purchase model: the table's purchase columns are
    the model's own predictions (the same draws), the covariate columns are kept, and the per-draw CLV
    totals of the segments are summed over cells before the quantiles (their mean equals the sum of
    the customers' mean CLV; their interval is narrower than the sum of the bounds)."""
    from clvmodels import GammaGammaModel, forecast
    from clvmodels.scoring import score

    df = data.iloc[:1500].copy()
    rng = np.random.default_rng(0)
    df["monetary_value"] = np.where(df["frequency"] > 0, rng.gamma(4.0, 10.0, len(df)).round(2), 0.0)
    gg = GammaGammaModel(method="map", seed=0).fit(df)
    table = score(df, fitted, gg, "20W", segment_summary=True)
    assert list(table.columns[-2:]) == ["channel", "basket"]
    assert (table["channel"].to_numpy() == df["channel"].to_numpy()).all()
    pred = fitted.predict(df, "20W")
    np.testing.assert_allclose(table["p_alive"], pred["p_alive"], rtol=1e-12)
    np.testing.assert_allclose(table["expected_purchases"], pred["expected_purchases"], rtol=1e-12)
    np.testing.assert_array_equal(table["purchases_upper"], pred["purchases_upper"])
    seg = table.attrs["clvmodels_segments"]
    assert seg["all"]["clv_total"] == pytest.approx(table["clv"].sum(), rel=1e-9)
    assert seg["all"]["clv_total_upper"] < table["clv_upper"].sum()
    # forecast() end to end with a covariate estimator (fitted on this summary)
    res = forecast(summary=df, purchase_model=BetaGeoModel(purchase_covariates=["channel", "basket"],
                                                           dropout_covariates=["channel"], method="map", seed=0),
                   spend_model=GammaGammaModel(method="map", seed=0), horizon="20W", progress=False)
    assert {"channel", "basket"} <= set(res.table.columns)
    np.testing.assert_allclose(res.table["p_alive"], res.purchase_model.predict(df, "20W")["p_alive"], rtol=1e-12)
    assert "reference customer" in res.metadata["new_customer"]["note"]


# -- the Gamma-Gamma's spend scale ----------------------------------------------------------------------
def _spend_summary(n=3000, seed=2):
    """Repeat customers' mean spend from the Gamma-Gamma story with v_i = v exp(0.4 [segment = b] +
    0.3 size): nu_i ~ Gamma(q, rate v_i); the mean of x amounts Gamma(p, rate nu_i) is Gamma(p x, rate x nu_i)."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(["a", "b"], n, p=[0.7, 0.3])
    size = rng.integers(0, 4, n).astype(float)
    x = rng.integers(1, 8, n).astype(float)
    p, q, v = 6.0, 4.0, 15.0
    vi = v * np.exp(0.4 * (seg == "b") + 0.3 * size)
    nu = rng.gamma(q, 1.0 / vi)
    zbar = rng.gamma(p * x, 1.0 / (x * nu))
    df = pd.DataFrame({"frequency": x, "monetary_value": zbar.round(4), "segment": seg, "size": size})
    df.attrs["clvmodels"] = {"time_unit": "W"}
    return df


def test_gamma_gamma_spend_covariates_likelihood_recovery_and_scoring(data, fitted):
    from clvmodels import GammaGammaModel
    from clvmodels.models.gamma_gamma import math as gg_math
    from clvmodels.scoring import score

    df = _spend_summary()
    gg = GammaGammaModel(spend_covariates=["segment", "size"], method="map", seed=0).fit(df)
    co = gg.coefficients()
    assert co.loc["spend_coefficient_v[segment=b]", "lower"] < 0.4 < co.loc["spend_coefficient_v[segment=b]", "upper"]
    assert co.loc["spend_coefficient_v[size]", "lower"] < 0.3 < co.loc["spend_coefficient_v[size]", "upper"]
    # the model's total log-likelihood at the mode against the formula at each customer's own v
    pm_ = gg.params_
    vi = pm_["v"] * np.exp(pm_["spend_coefficient_v[segment=b]"] * (df["segment"] == "b")
                           + pm_["spend_coefficient_v[size]"] * (df["size"] - df["size"].mean()))
    ref = gg_math.log_likelihood(pm_["p"], pm_["q"], vi.to_numpy(), df["frequency"].to_numpy(),
                                 df["monetary_value"].to_numpy()).sum()
    assert gg.log_likelihood(df) == pytest.approx(ref, rel=1e-10)
    # expected spend per customer: the conditional expectation p (v_i + x zbar)/(p x + q - 1) at each draw
    es = gg.expected_spend(df.head(50), max_draws=1)
    x, m = df["frequency"].to_numpy()[:50], df["monetary_value"].to_numpy()[:50]
    np.testing.assert_allclose(es["expected_spend"], pm_["p"] * (vi.to_numpy()[:50] + x * m) / (pm_["p"] * x + pm_["q"] - 1),
                               rtol=1e-10)
    # scored with a covariate purchase model: cells of both (purchase cell x spend cell)
    s = data.head(400).copy()
    rng = np.random.default_rng(1)
    s["monetary_value"] = np.where(s["frequency"] > 0, rng.gamma(4.0, 10.0, len(s)), 0.0)
    s["segment"] = rng.choice(["a", "b"], len(s))
    s["size"] = rng.integers(0, 4, len(s)).astype(float)
    table = score(s, fitted, gg, "20W")
    np.testing.assert_allclose(table["expected_spend"], gg.expected_spend(s)["expected_spend"], rtol=1e-9)
    np.testing.assert_allclose(table["p_alive"], fitted.predict(s, "20W")["p_alive"], rtol=1e-12)
    assert {"channel", "basket", "segment", "size"} <= set(table.columns)


def test_covariates_that_matter_beat_the_model_without_on_a_holdout():
    """Simulated with strong effects (channel=paid buys 2.7 times as often; a larger basket more often):
    fitted on the calibration period, the model with the covariates predicts each customer's holdout
    purchases better (RMSE of the expected purchases and the holdout log predictive of the counts) than
    the model without; the histories are short (T 2 to 12 weeks), where what is known about a customer
    adds most to her few purchases."""
    n = 3000
    cov = _covariates(n, 7)
    T = np.random.default_rng(8).uniform(2, 12, n).round()  # short histories: what covariates add most to
    df = bg_simulate(n, **TRUE, T=T, seed=7, holdout=26.0, covariates=cov,
                     coefficients={"purchase_coefficient_alpha": {"channel=paid": 1.0, "basket": 0.3}})
    df.attrs["clvmodels"] = {"time_unit": "W"}
    kw = dict(method="map", seed=0)
    with_c = BetaGeoModel(purchase_covariates=["channel", "basket"], **kw).fit(df)
    without = BetaGeoModel(**kw).fit(df)
    y = df["frequency_holdout"].to_numpy()
    # RMSE: the expected purchases are means, which the squared error rewards (the absolute error rewards
    # medians, and the count distributions here are skewed)
    rmse = {k: float(np.sqrt(((m.expected_purchases(df, "26W")["expected_purchases"].to_numpy() - y) ** 2).mean()))
            for k, m in (("with", with_c), ("without", without))}

    def log_pred(m):
        pmf = m.purchases_distribution(df, "26W", max_draws=100)
        k = np.minimum(y, pmf.shape[1] - 2)
        return float(np.log(np.clip(pmf.to_numpy()[np.arange(n), k], 1e-300, None)).sum())

    lp = {"with": log_pred(with_c), "without": log_pred(without)}
    assert rmse["with"] < rmse["without"], rmse
    assert lp["with"] > lp["without"] + 20, lp
    # the holdout validation with covariates: its log score is the mixture pmf at each actual count (the same
    # 1,000 draws of the Laplace approximation), its RMSE the one above
    from clvmodels.validation import validate_purchases

    sub = df.iloc[:500].copy()  # a part of the customers keeps the test short
    sub["duration_holdout"] = 26.0
    v = validate_purchases(with_c, sub)
    pmf = with_c.purchases_distribution(sub, "26W", max_draws=1000).drop(columns="tail").to_numpy()
    ys = sub["frequency_holdout"].to_numpy().astype(int)
    np.testing.assert_allclose(v["table"]["log_score"].to_numpy(), np.log(pmf[np.arange(len(sub)), ys]),
                               rtol=1e-6, atol=1e-9)
    e = with_c.expected_purchases(sub, "26W")["expected_purchases"].to_numpy() - ys
    assert v["rmse"] == pytest.approx(float(np.sqrt((e ** 2).mean())), rel=1e-12)


# -- pooled groups -------------------------------------------------------------------------------------------
def test_pooled_groups_shrink_a_small_group_and_still_cover():
    """Eight countries, seven of 500 customers and one of 20, their log purchase rates spread as the
    hierarchical prior assumes (sd 0.4 around the population). The pooled model (group='country': log
    alpha_g = log alpha + effect_g, effect_g ~ Normal(0, sd), non-centred) pulls the small country's
    effect toward the population, closer than the unpooled fit (the country as a plain categorical
    covariate) puts it, and its 90% interval of the small country's contrast with a large one still
    contains the true contrast."""
    levels = list("ABCDEFGH")
    eff = dict(zip(levels, [0.1, 0.4, -0.3, 0.2, -0.5, 0.0, 0.3, -0.6]))  # log alpha_g - log alpha
    g = np.concatenate([[k] * n for k, n in zip(levels, [500] * 7 + [20])])
    n = len(g)
    T = np.random.default_rng(3).uniform(20, 52, n).round()
    df = bg_simulate(n, **TRUE, T=T, seed=3, covariates=pd.DataFrame({"country": g}),
                     coefficients={"purchase_coefficient_alpha": {f"country={k}": -v for k, v in eff.items()}})
    df.attrs["clvmodels"] = {"time_unit": "W"}
    pooled = BetaGeoModel(group="country", chains=2, draws=300, tune=300, seed=1, progressbar=False,
                          target_accept=0.95).fit(df)
    assert pooled.diagnostics_.divergences == 0
    post = {k: np.asarray(pooled.posterior_[f"group_effect_alpha[country={k}]"]).ravel() for k in levels}
    unpooled = BetaGeoModel(purchase_covariates=["country"], method="map", seed=1).fit(df)
    assert unpooled.covariates_.covariates["country"].reference == "A"
    fixed = {k: 0.0 if k == "A" else -unpooled.params_[f"purchase_coefficient_alpha[country={k}]"] for k in levels}
    # deviation of the small country from the mean of the countries' log alpha
    dev_pooled = abs(post["H"].mean() - np.mean([post[k].mean() for k in levels]))
    dev_fixed = abs(fixed["H"] - np.mean(list(fixed.values())))
    assert dev_pooled < 0.8 * dev_fixed, (dev_pooled, dev_fixed)
    contrast = post["H"] - post["A"]
    lo, hi = np.quantile(contrast, [0.05, 0.95])
    assert lo < eff["H"] - eff["A"] < hi, (lo, hi)
    # each group's parameters are in the summary, with their R-hat
    s = pooled.summary()
    assert {"group_sd_alpha", "group_effect_alpha[country=H]", "group_effect_b[country=A]"} <= set(s.index)
    assert s.loc["group_effect_alpha[country=H]", "r_hat"] < 1.05
    # predictions for the small country's customers use its own alpha: alpha exp(effect_H)
    h = df[df["country"] == "H"].head(5)
    m_h = pooled.cell_models(h)[1][0]
    np.testing.assert_allclose(np.asarray(m_h.posterior_["alpha"]),
                               np.asarray(pooled.posterior_["alpha"]) * np.exp(post["H"].reshape(2, -1)), rtol=1e-12)


@pytest.mark.parametrize("model_cls, math, links", [
    (ModifiedBetaGeoModel, mbg_math, {"alpha": -1, "a": 1, "b": 1}),
    (ParetoNBDModel, pnbd_math, {"alpha": -1, "beta": -1}),
])
def test_other_models_predict_with_each_customers_parameters(data, model_cls, math, links):
    """The MBG/NBD and the Pareto/NBD with a purchase and a drop-out covariate, at the posterior mode:
    P(alive) and expected purchases against each model's math at each customer's own parameters."""
    m = model_cls(purchase_covariates=["channel"], dropout_covariates=["basket"], method="mode").fit(data)
    p = m.params_
    df = data.sample(200, random_state=2)
    paid = (df["channel"] == "paid").to_numpy(float)
    dz = df["basket"].to_numpy() - float(data.loc[data["T"] > 0, "basket"].mean())
    own = {k: np.full(len(df), p[k]) for k in type(m).param_names}
    for param, sign in links.items():
        if param == "alpha":
            own[param] = own[param] * np.exp(sign * p["purchase_coefficient_alpha[channel=paid]"] * paid)
        else:
            own[param] = own[param] * np.exp(sign * p[f"dropout_coefficient_{param}[basket]"] * dz)
    args = [own[k] for k in type(m).param_names]
    x, tx, T = (df[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(m.p_alive(df)["p_alive"], math.p_alive(*args, x, tx, T), rtol=1e-10)
    np.testing.assert_allclose(m.expected_purchases(df, "10W")["expected_purchases"],
                               math.conditional_expected_purchases(*args, x, tx, T, 10.0), rtol=1e-10)


def test_period_transactions_and_matrices_of_a_covariate_model_add_up_their_cells(data, fitted):
    """The period-transactions plot of a covariate model: actual and expected counts per bin are the sums
    of its cells' (each cell model on its own customers), and the simulated interval brackets the
    expected; the frequency/recency matrices are the cells' matrices weighted by their share of the
    customers; both differ from the reference customer's alone (the covariates matter here)."""
    from clvmodels.errors import InputError
    from clvmodels.plotting import frequency_recency_matrix, period_transactions_data

    sub = data.iloc[:800]
    got = period_transactions_data(fitted, sub, max_draws=40)
    cell_of, models = fitted.cell_models(sub)
    parts = [period_transactions_data(m, sub[cell_of == c], max_draws=40) for c, m in enumerate(models)]
    assert len(parts) == 10
    np.testing.assert_array_equal(got["actual"], sum(p["actual"].reindex(got.index, fill_value=0) for p in parts))
    np.testing.assert_allclose(got["expected"], sum(p["expected"].reindex(got.index, fill_value=0.0) for p in parts),
                               rtol=1e-10)
    assert (got["predicted_lower"] <= got["expected"]).all() and (got["expected"] <= got["predicted_upper"]).all()
    ref = period_transactions_data(fitted.reference_model(), sub, max_draws=40)
    assert np.abs(ref["expected"] - got["expected"]).max() > 5  # customers, in one bin at least

    for q in ("p_alive", "expected_purchases"):
        m = frequency_recency_matrix(fitted, q, data=sub, max_draws=40, max_frequency=6, n_recency=8)
        share = np.bincount(cell_of) / len(cell_of)
        want = sum(w * frequency_recency_matrix(mc, q, T=m.attrs["clvmodels"]["T"], max_draws=40, max_frequency=6,
                                                n_recency=8).to_numpy() for mc, w in zip(models, share))
        np.testing.assert_allclose(m.to_numpy(), want, rtol=1e-12, equal_nan=True)
        assert m.attrs["clvmodels"]["cells"] == 10
        alone = frequency_recency_matrix(fitted.reference_model(), q, data=sub, max_draws=40, max_frequency=6,
                                         n_recency=8)
        rel = np.abs(alone.to_numpy() - m.to_numpy()) / np.maximum(m.to_numpy(), 1e-3)
        assert np.nanmax(rel) > 0.05  # measured: 0.34 for both quantities
    with pytest.raises(InputError, match="give data="):
        frequency_recency_matrix(fitted, "p_alive", T=30.0, max_frequency=3)
