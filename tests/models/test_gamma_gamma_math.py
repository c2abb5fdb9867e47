"""Gamma-Gamma spend model against the published CDNOW figures and independent computations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from clvmodels.models import gamma_gamma as gg
from clvmodels.simulate import simulate_transactions

DATA = Path(__file__).parents[1] / "data" / "cdnow_summary.csv"
MLE = (6.2488, 3.7446, 15.4478)        # refit on the 946 repeat customers, log-likelihood -4055.92
PUBLISHED = (6.25, 3.74, 15.44)        # Fader, Hardie & Lee (2005), "RFM and CLV"


@pytest.fixture(scope="module")
def cdnow():
    d = pd.read_csv(DATA)
    return d["x"].to_numpy(float), d["zbar"].to_numpy(float)


def test_cdnow_log_likelihood_and_refit(cdnow):
    x, z = cdnow
    rep = x > 0
    assert rep.sum() == 946
    assert gg.log_likelihood(*MLE, x[rep], z[rep]).sum() == pytest.approx(-4055.92, abs=0.01)
    # customers without repeat purchases carry no spend information: they add exactly 0
    assert gg.log_likelihood(*MLE, x, z).sum() == pytest.approx(gg.log_likelihood(*MLE, x[rep], z[rep]).sum(), rel=1e-14)
    assert np.all(gg.log_likelihood(*MLE, x[~rep], z[~rep]) == 0.0)
    assert np.corrcoef(x[rep], z[rep])[0, 1] == pytest.approx(0.11, abs=0.01)
    res = optimize.minimize(lambda th: -gg.log_likelihood(*np.exp(th), x[rep], z[rep]).sum(), np.log(PUBLISHED),
                            method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})
    assert -res.fun == pytest.approx(-4055.92, abs=0.01)
    np.testing.assert_allclose(np.exp(res.x), MLE, rtol=1e-3)


def test_conditional_expected_spend_reference_values(cdnow):
    x, z = cdnow
    got = gg.conditional_expected_spend(*MLE, x[:10], z[:10])
    ref = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(got, ref, atol=0.01)
    # customers without repeat purchases get the population mean p v / (q - 1)
    assert got[2] == pytest.approx(gg.expected_spend_new(*MLE)) == pytest.approx(MLE[0] * MLE[2] / (MLE[1] - 1))


def test_log_likelihood_matches_integration_over_nu():
    """f(zbar) = int Gamma(zbar; shape p x, rate nu x) Gamma(nu; q, rate v) d nu."""
    p, q, v = MLE
    for x, z in [(1, 12.0), (2, 22.35), (7, 55.0), (40, 8.0)]:
        f = lambda nu: stats.gamma.pdf(z, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / v)
        mode = (q + p * x - 1) / (v + x * z)
        ref, _ = integrate.quad(f, 0, 50 * mode, limit=400, points=[mode], epsrel=1e-12)
        assert gg.log_likelihood(p, q, v, x, z) == pytest.approx(np.log(ref), rel=1e-8)


def test_spend_posterior_and_quantiles():
    p, q, v = MLE
    x, z = 3.0, 40.0
    shape, rate = gg.spend_posterior(p, q, v, x, z)
    assert (shape, rate) == (q + p * x, v + x * z)
    # E[p / nu | data] = p rate / (shape - 1) is the conditional expected spend
    assert p * rate / (shape - 1) == pytest.approx(gg.conditional_expected_spend(p, q, v, x, z))
    draws = gg.sample_mean_spend(p, q, v, x, z, rng=1, size=400_000)
    assert draws.mean() == pytest.approx(gg.conditional_expected_spend(p, q, v, x, z), rel=5e-3)
    probs = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(gg.mean_spend_quantile(p, q, v, x, z, probs), np.quantile(draws, probs), rtol=5e-3)


def test_edge_cases_and_broadcasting(cdnow):
    x, z = cdnow
    assert np.isinf(gg.expected_spend_new(2.0, 0.8, 10.0))  # q <= 1: infinite mean
    assert np.isfinite(gg.conditional_expected_spend(2.0, 0.8, 10.0, 1, 5.0))  # p x + q - 1 > 0
    S = 5
    draws = [np.full((S, 1), v_) * np.linspace(0.9, 1.1, S)[:, None] for v_ in MLE]
    out = gg.conditional_expected_spend(*draws, x, z)
    assert out.shape == (S, len(x))
    assert gg.log_likelihood(*draws, x, z).shape == (S, len(x))


def _pt_fn(x, z, w):
    import pytensor
    import pytensor.tensor as pt

    p, q, v = (pt.dscalar(n) for n in "pqv")
    ll = gg.pt_log_likelihood(p, q, v, x, z, weight=w)
    return pytensor.function([p, q, v], [ll, *pt.grad(ll, [p, q, v])])


def test_pt_log_likelihood(cdnow):
    x, z = cdnow
    rep = x > 0
    fn = _pt_fn(x[rep], z[rep], None)
    val, *grad = fn(*MLE)
    assert val == pytest.approx(-4055.92, abs=0.01)
    assert val == pytest.approx(gg.log_likelihood(*MLE, x[rep], z[rep]).sum(), rel=1e-13)
    assert np.all(np.abs(grad) < 0.5)  # the MLE (to its printed digits)
    # weighted distinct rows give the same value
    keys, inv, cnt = np.unique(np.stack([x[rep], z[rep]], 1), axis=0, return_inverse=True, return_counts=True)
    fw = _pt_fn(keys[:, 0], keys[:, 1], cnt.astype(float))
    theta = (4.0, 3.0, 20.0)
    np.testing.assert_allclose(fw(*theta), fn(*theta), rtol=1e-10)
    # gradient against central differences of the numpy likelihood
    total = lambda th: gg.log_likelihood(*th, x[rep], z[rep]).sum()
    fd = [(total([t_ + (1e-6 * t_ if j == i else 0) for j, t_ in enumerate(theta)])
           - total([t_ - (1e-6 * t_ if j == i else 0) for j, t_ in enumerate(theta)])) / (2e-6 * theta[i]) for i in range(3)]
    np.testing.assert_allclose(fn(*theta)[1:], fd, rtol=1e-6)
    with pytest.raises(ValueError):
        gg.pt_log_likelihood(1.0, 2.0, 3.0, x, z)  # x = 0 customers must be dropped


def test_simulated_spend_recovers_parameters():
    """Maximum likelihood on spend simulated from the Gamma-Gamma story recovers the parameters."""
    log = simulate_transactions(20_000, 0.25, 4.0, 0.8, 2.5, *MLE, acquisition_days=90, observation_end="2021-06-30",
                                seed=7)
    first = log.groupby("customer_id")["date"].transform("min")
    rep = log[log["date"] > first]  # repeat transactions (day resolution: same-day merging ignored)
    summ = rep.groupby("customer_id")["amount"].agg(["size", "mean"])
    x, z = summ["size"].to_numpy(float), summ["mean"].to_numpy()
    res = optimize.minimize(lambda th: -gg.log_likelihood(*np.exp(th), x, z).sum(), np.log([3.0, 3.0, 10.0]),
                            method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000})
    est = np.exp(res.x)
    # p v / (q - 1) (the mean spend) is well determined; p, q, v lie along a ridge
    assert est[0] * est[2] / (est[1] - 1) == pytest.approx(MLE[0] * MLE[2] / (MLE[1] - 1), rel=0.05)
    np.testing.assert_allclose(est, MLE, rtol=0.3)
