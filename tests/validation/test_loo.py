"""PSIS-LOO per distinct (frequency, recency, T), weighted by customers: the same elpd_loo, standard error
and p_loo as ``arviz.loo`` on the per-customer (expanded) log-likelihood, for NUTS (four chains: r_eff
from the posterior's ESS) and MAP/Laplace (one chain) fits; weights from ``n_customers``; T = 0
customers; the Pareto k warning on an influential customer; plain importance sampling where k is small."""
from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import logsumexp

from clvmodels.validation.loo import PARETO_K_THRESHOLD, ParetoKWarning, loo

KEYS = ["frequency", "recency", "T"]


def expanded_arviz_loo(model, summary):
    """arviz.loo on one log-likelihood column per customer (rows repeated), the reference."""
    ds = model.pointwise_log_likelihood(summary)
    rows = pd.DataFrame({k: ds[k].values for k in KEYS}).assign(row=np.arange(ds.sizes["row"]))
    cust = summary[KEYS].reset_index(drop=True).merge(rows, on=KEYS, how="left")
    assert cust["row"].notna().all()
    ll = ds["log_likelihood"].values[:, :, cust["row"].to_numpy()]
    tree = xr.DataTree.from_dict({"posterior": model.posterior_,
                                  "log_likelihood": xr.Dataset({"y": (("chain", "draw", "customer"), ll)})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(tree, pointwise=True), cust["row"].to_numpy()


@pytest.fixture(scope="module")
def map_bgnbd(cdnow_split):
    from clvmodels import BetaGeoModel

    return BetaGeoModel(method="map", seed=3, progressbar=False).fit(cdnow_split)


@pytest.mark.parametrize("fit", ["nuts", "map"])
def test_equals_arviz_loo_on_the_expanded_data(fit, request, cdnow_split):
    model = request.getfixturevalue("cdnow_bgnbd" if fit == "nuts" else "map_bgnbd")
    ours = loo(model, cdnow_split, pointwise=True)
    ref, row_of = expanded_arviz_loo(model, cdnow_split)
    assert ours["elpd_loo"] == pytest.approx(ref.elpd, abs=1e-6)
    assert ours["elpd_loo_se"] == pytest.approx(ref.se, abs=1e-6)
    assert ours["p_loo"] == pytest.approx(ref.p, abs=1e-6)
    assert ours["n_customers"] == len(cdnow_split) == ref.n_data_points
    assert ours["n_rows"] == 1016 < len(cdnow_split)   # the point: PSIS once per distinct row
    # every customer's pointwise terms are her row's
    pw = ours["pointwise"]
    np.testing.assert_allclose(pw["elpd_loo"].to_numpy()[row_of], ref.elpd_i.values, atol=1e-9)
    np.testing.assert_allclose(pw["pareto_k"].to_numpy()[row_of], ref.pareto_k.values, atol=1e-9)
    assert ours["pareto_k_max"] == pytest.approx(float(ref.pareto_k.max()))
    assert ours["n_draws"] == model.posterior_.sizes["chain"] * model.posterior_.sizes["draw"]
    if fit == "nuts":
        assert model.posterior_.sizes["chain"] == 4 and ours["r_eff"] != 1.0
    else:
        assert ours["r_eff"] == 1.0
    # published-scale sanity: the calibration log-likelihood of CDNOW at the MLE is -9582.4 (FHL 2005);
    # elpd_loo is a little below it, by about the number of parameters
    assert -9600 < ours["elpd_loo"] < -9582.4
    assert 3 < ours["p_loo"] < 6
    assert not ours["warning"] and ours["n_customers_high_k"] == 0


def test_plain_importance_sampling_agrees_where_k_is_small(map_bgnbd, cdnow_split):
    """Independent of ArviZ: elpd_i = -log mean_s 1/p(d_i | theta_s) (raw importance sampling, VGG eq. 7)
    is close to the smoothed value where the importance ratios are tame."""
    ours = loo(map_bgnbd, cdnow_split, pointwise=True)["pointwise"]
    ll = map_bgnbd.pointwise_log_likelihood(cdnow_split)["log_likelihood"].values.reshape(-1, len(ours))
    raw = -(logsumexp(-ll, axis=0) - np.log(ll.shape[0]))
    lppd = logsumexp(ll, axis=0) - np.log(ll.shape[0])
    tame = ours["pareto_k"].to_numpy() < 0.3
    assert tame.mean() > 0.8
    np.testing.assert_allclose(ours["elpd_loo"].to_numpy()[tame], raw[tame], atol=2e-3)
    np.testing.assert_allclose(ours["p_loo"].to_numpy(), lppd - ours["elpd_loo"].to_numpy(), atol=1e-10)


def test_weights_from_n_customers_give_the_same_loo(map_bgnbd, cdnow_split):
    full = loo(map_bgnbd, cdnow_split)
    rows = cdnow_split.groupby(KEYS, as_index=False).size().rename(columns={"size": "n_customers"})
    rows.attrs = cdnow_split.attrs
    compressed = loo(map_bgnbd, rows)
    for k in ("elpd_loo", "elpd_loo_se", "p_loo", "pareto_k_max", "n_customers", "n_rows"):
        assert compressed[k] == pytest.approx(full[k], rel=1e-12, abs=1e-9), k


def test_customers_first_seen_at_the_end_add_nothing(map_bgnbd, cdnow_split):
    full = loo(map_bgnbd, cdnow_split)
    new = pd.DataFrame({"frequency": [0.0] * 5, "recency": [0.0] * 5, "T": [0.0] * 5}, index=range(10**6, 10**6 + 5))
    more = pd.concat([cdnow_split[KEYS], new])
    out = loo(map_bgnbd, more)
    assert out["elpd_loo"] == pytest.approx(full["elpd_loo"], rel=1e-12)
    assert out["p_loo"] == pytest.approx(full["p_loo"], rel=1e-12)
    assert out["n_customers"] == full["n_customers"] == len(cdnow_split)


def test_an_influential_customer_raises_the_pareto_k_warning(cdnow_split):
    """Three customers who bought 60 times in their first half week, then never again, fitted with the
    CDNOW base: leaving one out moves the posterior far, so its importance ratios have a heavy tail."""
    from clvmodels import BetaGeoModel

    odd = pd.DataFrame({"frequency": [60.0] * 3, "recency": [0.5] * 3, "T": [39.0] * 3}, index=[-1, -2, -3])
    data = pd.concat([cdnow_split[KEYS], odd])
    model = BetaGeoModel(method="map", seed=1, progressbar=False).fit(data, time_unit="W")
    with pytest.warns(ParetoKWarning, match=r"3 customers \(1 distinct .* Pareto k above 0.7 .* frequency 60"):
        out = loo(model, data)
    assert out["warning"] and out["pareto_k_max"] > PARETO_K_THRESHOLD
    assert out["n_customers_high_k"] == 3 and out["n_rows_high_k"] == 1
    assert issubclass(ParetoKWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loo(model, data, warn=False)["warning"]
