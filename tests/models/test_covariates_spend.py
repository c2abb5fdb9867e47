"""Covariates and pooled groups in every spend model (GammaGammaModel and GammaGammaFrequencyModel).

Every number is checked against an independent computation: the likelihood over cells against the
Gamma-Gamma's per-customer formula (math.log_likelihood) at each customer's own scale v_i, summed, and
its gradient against central differences of that sum; the model with a constant covariate or a group of
one level against the model without; the fitted coefficients, gamma and group contrasts against the
values the spends were simulated with (clvmodels.models.gamma_gamma.simulate with covariates).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels import GammaGammaModel
from clvmodels.models.covariates import CovariateDesign, cell_likelihood_graph, model_links
from clvmodels.models.gamma_gamma import GammaGammaFrequencyModel
from clvmodels.models.gamma_gamma import math as gg_math
from clvmodels.models.gamma_gamma.simulate import simulate_spend_summary

from ..conftest import check_value_and_gradient


def _summary(n=3000, seed=2, gamma=0.0, coefficients=None, q=4.0):
    """Repeat customers (x = 1..7) with a categorical segment (a: 70%), a numeric size and a country
    (A..D); spends from the Gamma-Gamma story with v_i = v exp(coefficients . raw covariates)."""
    rng = np.random.default_rng(seed)
    cov = pd.DataFrame({"segment": rng.choice(["a", "b"], n, p=[0.7, 0.3]),
                        "size": rng.integers(0, 4, n).astype(float),
                        "country": rng.choice(list("ABCD"), n)})
    x = rng.integers(1, 8, n)
    df = simulate_spend_summary(x, 6.0, q, 15.0, gamma, rng=seed + 1, covariates=cov, coefficients=coefficients)
    df["frequency"] = df["frequency"].astype(float)
    df = df.drop(columns=["nu"])
    df.attrs["clvmodels"] = {"time_unit": "W"}
    return df


EFFECTS = {"spend_coefficient_v": {"segment=b": 0.4, "size": 0.3, "country=B": 0.3, "country=C": -0.3}}


@pytest.fixture(scope="module")
def data():
    return _summary(coefficients=EFFECTS)


# -- the likelihood over cells -------------------------------------------------------------------------
@pytest.mark.parametrize("model_cls", [GammaGammaModel, GammaGammaFrequencyModel])
def test_cell_likelihood_equals_per_customer_sum(data, model_cls):
    """The model's likelihood over cells (its own fused Op per cell, spend covariates and a pooled group)
    against the Gamma-Gamma formula at each customer's own scale v_i = v (x_i + 1)^gamma exp(gamma_spend .
    z_i + effect_g), summed: value to 1e-10 relative, gradient against central differences."""
    import pytensor
    import pytensor.tensor as pt

    model = model_cls(spend_covariates=["segment", "size"], group="country")
    df = data.head(700)
    design = CovariateDesign.fit(df, model._covariate_roles())
    links = model_links(design, model.covariate_links)
    assert [ln.role for ln in links] == ["spend", "group"]
    cell_of, z = design.cells(df)
    x, m = df["frequency"].to_numpy(float), df["monetary_value"].to_numpy(float)
    cells = []
    for c in range(cell_of.max() + 1):
        sel = cell_of == c
        cells.append((c, model._likelihood_rows(x[sel], m[sel], np.ones(int(sel.sum())))))
    names = list(type(model).param_names)
    rv = {p: pt.dscalar(p) for p in names}
    coef_names = [n for ln in links for n in ln.names]
    coef = {n: pt.dscalar(n) for n in coef_names}
    total = cell_likelihood_graph(model._cell_loglike, cells, rv, coef, links, z)
    assert len(total.owner.inputs) == len(names) + len(total.owner.op.data_names) + 1  # one node for all cells
    inputs = [*rv.values(), *coef.values()]
    f = pytensor.function(inputs, [total, *pt.grad(total, inputs)])
    base = dict(zip(names, (5.0, 3.5, 14.0, 0.25)))
    gam = dict(zip(coef_names, np.random.default_rng(3).normal(0, 0.4, len(coef_names))))

    def reference(values):
        v = np.full(len(df), values["v"]) * (x + 1.0) ** values.get("gamma", 0.0)
        for ln in links:
            v = v * np.exp(design.matrix(df, ln.role) @ np.array([values[n] for n in ln.names]))
        return float(np.sum(gg_math.log_likelihood(values["p"], values["q"], v, x, m)))

    point = {**base, **gam}
    check_value_and_gradient(f(*(point[k] for k in [*names, *coef_names])), reference, point, [*names, *coef_names])


# -- nothing to fit: the model without -----------------------------------------------------------------------
@pytest.mark.parametrize("model_cls", [GammaGammaModel, GammaGammaFrequencyModel])
def test_constant_covariate_and_one_group_are_the_model_without(model_cls):
    """A constant covariate (z = 0 for everybody) and a group of one level (its level the reference:
    nothing to pool) each give the model without them: the same posterior mode (1e-4) and the same
    expected spend; both say so with a warning."""
    df = _summary(n=1500, seed=4, gamma=0.2 if model_cls is GammaGammaFrequencyModel else 0.0)
    df["region"] = 3.0
    df["country"] = "FR"
    without = model_cls(method="map", seed=1).fit(df)
    with pytest.warns(UserWarning, match="'region' is constant"):
        const = model_cls(spend_covariates=["region"], method="map", seed=1).fit(df)
    with pytest.warns(UserWarning, match="group 'country' has one level"):
        one = model_cls(group="country", method="map", seed=1).fit(df)
    assert one.has_covariates and one.coefficients().empty and "group_sd_v" not in one.param_names
    co = const.coefficients()
    assert (co["lower"] < 0).all() and (co["upper"] > 0).all()  # at its prior
    head = df.head(100)
    for m in (const, one):
        for p in type(without).param_names:
            assert m.params_[p] == pytest.approx(without.params_[p], rel=1e-4), p
        # at the mode (the Laplace draws after it differ: the extra dimensions change the random stream)
        np.testing.assert_allclose(m.expected_spend(head, max_draws=1)["expected_spend"],
                                   without.expected_spend(head, max_draws=1)["expected_spend"], rtol=1e-4)


# -- pooled groups: shrinkage -------------------------------------------------------------------------------
def test_pooled_spend_groups_shrink_a_small_group_and_still_cover():
    """Eight countries, seven of 400 repeat customers and one (H) of 20, their log spend scales spread as
    the hierarchical prior assumes (around the population). The pooled model (group='country': log v_g =
    log v + effect_g, effect_g = group_sd_v x offset, non-centred) pulls H's effect toward the mean of the
    countries', closer than the unpooled fit (country as a plain categorical covariate) puts it, and the
    90% interval of H's contrast with a large country still contains the true contrast."""
    levels = list("ABCDEFGH")
    eff = dict(zip(levels, [0.1, 0.3, -0.2, 0.15, -0.3, 0.0, 0.2, 0.6]))  # log v_g - log v
    g = np.concatenate([[k] * n for k, n in zip(levels, [400] * 7 + [20])])
    rng = np.random.default_rng(11)
    x = rng.integers(1, 6, g.size)
    df = simulate_spend_summary(x, 3.0, 2.5, 10.0, rng=12, covariates=pd.DataFrame({"country": g}),
                                coefficients={"spend_coefficient_v": {f"country={k}": v for k, v in eff.items()}})
    df["frequency"] = df["frequency"].astype(float)
    pooled = GammaGammaModel(group="country", chains=2, draws=300, tune=300, seed=1, progressbar=False,
                             target_accept=0.95).fit(df)
    assert pooled.diagnostics_.divergences == 0
    post = {k: np.asarray(pooled.posterior_[f"group_effect_v[country={k}]"]).ravel() for k in levels}
    unpooled = GammaGammaModel(spend_covariates=["country"], method="map", seed=1).fit(df)
    ref = unpooled.covariates_.covariates["country"].reference
    fixed = {k: 0.0 if k == ref else unpooled.params_[f"spend_coefficient_v[country={k}]"] for k in levels}
    dev_pooled = abs(post["H"].mean() - np.mean([post[k].mean() for k in levels]))
    dev_fixed = abs(fixed["H"] - np.mean(list(fixed.values())))
    print(f"H's deviation: pooled {dev_pooled:.3f}, unpooled {dev_fixed:.3f}")
    assert dev_pooled < 0.85 * dev_fixed, (dev_pooled, dev_fixed)
    contrast = post["H"] - post["B"]
    lo, hi = np.quantile(contrast, [0.05, 0.95])
    print(f"H - B: true {eff['H'] - eff['B']:.2f}, 90% interval ({lo:.3f}, {hi:.3f})")
    assert lo < eff["H"] - eff["B"] < hi, (lo, hi)
    # the sd and the effects: in the summary and coefficients(), with the effects' own R-hat and ESS
    s = pooled.summary()
    assert {"group_sd_v", "group_effect_v[country=H]"} <= set(s.index)
    assert s.loc["group_effect_v[country=H]", "r_hat"] < 1.05 and pooled.diagnostics_.ess_bulk["group_effect_v[country=H]"] > 50
    # the diagnostics (R-hat, ESS and the problems they raise) are the effects', not the sampled offsets'
    assert not any(k.endswith("_offset") for k in pooled.diagnostics_.r_hat)
    assert not any("_offset" in p for p in pooled.diagnostics_.problems)
    co = pooled.coefficients()
    assert list(co.index[:2]) == ["group_sd_v", "group_effect_v[country=A]"]
    assert co.loc["group_sd_v", "mean"] == pytest.approx(float(pooled.posterior_["group_sd_v"].mean()))
    # H's customers are scored at H's scale v exp(effect_H)
    h = df[df["country"] == "H"].head(3)
    m_h = pooled.cell_models(h)[1][0]
    np.testing.assert_allclose(np.asarray(m_h.posterior_["v"]),
                               np.asarray(pooled.posterior_["v"]) * np.exp(post["H"].reshape(2, -1)), rtol=1e-12)


# -- the frequency model with covariates ---------------------------------------------------------------------
@pytest.mark.parametrize("first_purchase", [False, True])
def test_frequency_model_with_covariates_recovers_coefficient_and_gamma(first_purchase):
    """Spends simulated with v_i = 15 (x_i + 1)^0.3 exp(0.5 [segment = b]): the frequency model with the
    segment covers the true coefficient and gamma (90%, Laplace), its log-likelihood at the mode is the
    per-customer formula at each customer's own scale, and its expected spend is the conditional
    expectation p (v_i + n zbar)/(p n + q - 1) there (n, zbar: the x repeat purchases, or with
    first_purchase all x + 1 occasions)."""
    df = _summary(n=4000, seed=6, gamma=0.3, coefficients={"spend_coefficient_v": {"segment=b": 0.5}})
    m = GammaGammaFrequencyModel(spend_covariates=["segment"], first_purchase=first_purchase, method="map",
                                 seed=0).fit(df)
    assert m.covariates_.covariates["segment"].reference == "a"
    co = m.coefficients()
    assert co.loc["spend_coefficient_v[segment=b]", "lower"] < 0.5 < co.loc["spend_coefficient_v[segment=b]", "upper"]
    s = m.summary()
    assert s.loc["gamma", "lower"] < 0.3 < s.loc["gamma", "upper"] and s.loc["gamma", "upper"] - s.loc["gamma", "lower"] < 0.4
    p = m.params_
    x = df["frequency"].to_numpy()
    n, zbar = (x + 1.0, (df["first_purchase_value"].to_numpy() + x * df["monetary_value"].to_numpy()) / (x + 1.0)
               ) if first_purchase else (x, df["monetary_value"].to_numpy())
    vi = p["v"] * (x + 1.0) ** p["gamma"] * np.exp(p["spend_coefficient_v[segment=b]"] * (df["segment"] == "b").to_numpy())
    assert m.log_likelihood(df) == pytest.approx(gg_math.log_likelihood(p["p"], p["q"], vi, n, zbar).sum(), rel=1e-10)
    es = m.expected_spend(df.head(60), max_draws=1)["expected_spend"].to_numpy()
    np.testing.assert_allclose(es, (p["p"] * (vi + n * zbar) / (p["p"] * n + p["q"] - 1))[:60], rtol=1e-10)


# -- model files -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_cls", [GammaGammaModel, GammaGammaFrequencyModel])
def test_save_and_load_keep_group_and_covariates(tmp_path, data, model_cls):
    from clvmodels.models.base import BayesianModel

    m = model_cls(spend_covariates=["segment"], group="country", method="map", seed=0).fit(data)
    assert "group_effect_v[country=D]" in m.param_names and m.get_params()["group"] == "country"
    m.save(tmp_path / "m.clvm")
    back = BayesianModel.load(tmp_path / "m.clvm")
    assert type(back) is model_cls and back.group == "country" and back.param_names == m.param_names
    df = data.sample(80, random_state=1)
    pd.testing.assert_frame_equal(back.expected_spend(df), m.expected_spend(df))
    pd.testing.assert_frame_equal(back.coefficients(), m.coefficients())
    assert back.fit_info_["n_cells"] == m.fit_info_["n_cells"] == 8  # 2 segments x 4 countries


def test_one_group_is_the_model_without_in_the_purchase_models_too():
    """The one-level rule lives in the shared design (CovariateDesign.fit): a BG/NBD with a group of one
    level has no group effect and the posterior mode of the model without (1e-4)."""
    from clvmodels import BetaGeoModel
    from clvmodels.models.bgnbd.simulate import simulate_summary

    T = np.random.default_rng(9).uniform(20, 52, 1500).round()
    df = simulate_summary(1500, r=0.8, alpha=8.0, a=0.8, b=3.0, T=T, seed=9)
    df["country"] = "FR"
    df.attrs["clvmodels"] = {"time_unit": "W"}
    without = BetaGeoModel(method="map", seed=1).fit(df)
    with pytest.warns(UserWarning, match="group 'country' has one level"):
        one = BetaGeoModel(group="country", method="map", seed=1).fit(df)
    assert one.param_names == without.param_names and one.covariates_.covariates["country"].reference == "FR"
    for p in ("r", "alpha", "a", "b"):
        assert one.params_[p] == pytest.approx(without.params_[p], rel=1e-4), p
