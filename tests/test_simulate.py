"""Simulators against the models' closed forms: moments, the likelihood's score, P(alive) calibration."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.models import bgnbd
from clvmodels.simulate import simulate_summary, simulate_transactions

THETA = (0.25, 4.0, 0.8, 2.5)


def _z(sample, expected_mean):
    """z statistic of a sample mean against its expectation (sample standard error)."""
    sample = np.asarray(sample, float)
    return (sample.mean() - expected_mean) / (sample.std(ddof=1) / np.sqrt(sample.size))


def test_summary_is_reproducible():
    T = np.linspace(1, 52, 1000)
    a = simulate_summary(1000, *THETA, T, holdout=10.0, seed=42)
    b = simulate_summary(1000, *THETA, T, holdout=10.0, seed=42)
    c = simulate_summary(1000, *THETA, T, holdout=10.0, seed=43)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert list(a.columns) == ["frequency", "recency", "T", "frequency_holdout"]
    assert a.index.name == "customer_id" and a["frequency"].dtype == np.int64


def test_summary_is_valid_data():
    s = simulate_summary(50_000, *THETA, 30.0, seed=1)
    assert np.all(s["recency"] <= s["T"]) and np.all(s["recency"] >= 0)
    assert np.all((s["frequency"] == 0) == (s["recency"] == 0))
    with pytest.raises(ValueError):
        simulate_summary(10, *THETA, 0.0)
    with pytest.raises(ValueError):
        simulate_summary(10, -1.0, 4.0, 0.8, 2.5, 10.0)


def test_mean_frequency_is_eq9():
    n = 200_000
    rng = np.random.default_rng(2)
    T = rng.uniform(1, 104, n)
    s = simulate_summary(n, *THETA, T, seed=3)
    expected = bgnbd.expected_purchases_new(*THETA, T).mean()
    assert abs(_z(s["frequency"], expected)) < 4
    # P(X(T) = 0) from eq. 8, averaged over the T values
    p0 = np.mean([bgnbd.purchases_pmf_new(*THETA, t, 0)[0] for t in T[:2000]])
    assert abs(_z(s["frequency"].to_numpy()[:2000] == 0, p0)) < 4


def test_likelihood_score_has_mean_zero():
    """The score of FHL eq. 6 at the true parameters averages to zero over data drawn from the
    simulator: a check of the joint distribution of (x, t_x) given T, recency included."""
    n = 100_000
    rng = np.random.default_rng(4)
    T = rng.uniform(1, 60, n)
    s = simulate_summary(n, *THETA, T, seed=5)
    x, tx = s["frequency"].to_numpy(float), s["recency"].to_numpy()
    theta = np.array(THETA)
    score = np.empty((n, 4))
    for i in range(4):
        h = 1e-5 * theta[i]
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        score[:, i] = (bgnbd.log_likelihood(*up, x, tx, T) - bgnbd.log_likelihood(*dn, x, tx, T)) / (2 * h)
    m = score.mean(0)
    cov = np.cov(score, rowvar=False) / n
    stat = m @ np.linalg.solve(cov, m)
    assert stats.chi2.sf(stat, 4) > 1e-3


def test_p_alive_and_holdout_are_calibrated():
    n = 100_000
    rng = np.random.default_rng(6)
    s = simulate_summary(n, *THETA, rng.uniform(1, 52, n), holdout=26.0, seed=7, return_latent=True)
    x, tx, T = s["frequency"], s["recency"], s["T"]
    pa = bgnbd.p_alive(*THETA, x, tx, T)
    # the latent alive flag against P(alive): the sum of Bernoulli(pa) has variance sum pa (1 - pa)
    assert abs(s["alive"].sum() - pa.sum()) < 4 * np.sqrt(np.sum(pa * (1 - pa)))
    # alive at the end of the holdout against future_p_alive
    pf = bgnbd.future_p_alive(*THETA, x, tx, T, 26.0)
    assert abs(s["alive_holdout_end"].sum() - pf.sum()) < 4 * np.sqrt(np.sum(pf * (1 - pf)))
    # holdout purchases against eq. 10, customers grouped by calibration frequency (the CDNOW table's view)
    e = bgnbd.conditional_expected_purchases(*THETA, x, tx, T, 26.0)
    for lo, hi in [(0, 0), (1, 1), (2, 3), (4, 1000)]:
        sel = (x >= lo) & (x <= hi)
        d = s.loc[sel, "frequency_holdout"].to_numpy() - e[sel]
        assert abs(d.mean()) < 4 * d.std(ddof=1) / np.sqrt(sel.sum()), (lo, hi)


def test_holdout_zero_length():
    s = simulate_summary(1000, *THETA, 20.0, holdout=0.0, seed=1)
    assert np.all(s["frequency_holdout"] == 0)


@pytest.mark.slow
def test_ten_million_customers():
    t0 = time.perf_counter()
    s = simulate_summary(10_000_000, *THETA, 52.0, holdout=52.0, seed=8)
    assert len(s) == 10_000_000
    assert time.perf_counter() - t0 < 60.0  # about 5 s on two shared cores
    assert abs(_z(s["frequency"], float(bgnbd.expected_purchases_new(*THETA, 52.0)))) < 4


# -- transaction logs ---------------------------------------------------------------------------------
def test_transactions_reproducible_and_well_formed():
    kw = dict(acquisition_days=60, start="2021-03-01", observation_end="2022-03-01", seed=9)
    a = simulate_transactions(2000, *THETA, 6.0, 3.7, 15.0, **kw)
    b = simulate_transactions(2000, *THETA, 6.0, 3.7, 15.0, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["customer_id", "date", "amount"]
    assert a["customer_id"].min() == 1 and a["customer_id"].nunique() == 2000
    assert a["date"].min() >= pd.Timestamp("2021-03-01") and a["date"].max() <= pd.Timestamp("2022-03-01")
    assert np.all(a["date"] == a["date"].dt.normalize())  # day resolution
    first = a.groupby("customer_id")["date"].min()
    assert first.max() < pd.Timestamp("2021-03-01") + pd.Timedelta(days=60)
    assert a.equals(a.sort_values(["customer_id", "date"], kind="stable"))
    assert np.all(a["amount"] > 0)
    no_spend = simulate_transactions(100, *THETA, seed=1)
    assert "amount" not in no_spend.columns
    with pytest.raises(ValueError):
        simulate_transactions(10, *THETA, p=2.0, seed=1)  # p without q, v


def test_transactions_follow_the_story():
    n = 40_000
    log, cust = simulate_transactions(n, *THETA, 6.0, 3.7, 15.0, acquisition_days=180, start="2020-01-01",
                                      observation_end="2021-12-31", time_unit="W", seed=10, return_latent=True)
    # one first purchase plus n_repeat repeat purchases per customer (before any same-day merging)
    counts = log.groupby("customer_id").size()
    np.testing.assert_array_equal(counts.to_numpy(), 1 + cust["n_repeat"].to_numpy())
    # repeat purchases against eq. 9 at each customer's observation time (in weeks)
    T = (pd.Timestamp("2021-12-31") - cust["first_purchase"]) / pd.Timedelta(days=7)
    assert abs(_z(cust["n_repeat"], bgnbd.expected_purchases_new(*THETA, T.to_numpy()).mean())) < 4
    # mean spend per transaction: p v / (q - 1) on average over customers (nu varies by customer)
    per_cust = log.groupby("customer_id")["amount"].mean()
    assert per_cust.mean() == pytest.approx(6.0 * 15.0 / 2.7, rel=0.03)
    # the same story in days: alpha scales with the unit
    log_d = simulate_transactions(n, 0.25, 28.0, 0.8, 2.5, acquisition_days=180, start="2020-01-01",
                                  observation_end="2021-12-31", time_unit="D", seed=11)
    assert abs(_z(log_d.groupby("customer_id").size() - 1, bgnbd.expected_purchases_new(*THETA, T.to_numpy()).mean())) < 4
