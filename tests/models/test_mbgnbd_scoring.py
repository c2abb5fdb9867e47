"""The MBG/NBD scorer (clvmodels.models.mbgnbd.scoring.ModifiedBetaGeoDraws) and simulator
(clvmodels.models.mbgnbd.simulate): every scorer method against an independent computation (the story
integrated with mpmath, or simulation), score_triplets and the forecast engine against the scorer's
direct formulas, and the simulator against the model's distributions."""
from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels import engine
from clvmodels.models.gamma_gamma.scoring import GammaGammaDraws
from clvmodels.models.mbgnbd import math as mbgnbd
from clvmodels.models.mbgnbd.scoring import ModifiedBetaGeoDraws
from clvmodels.models.mbgnbd.simulate import simulate_summary, simulate_transactions
from clvmodels.models.transaction import predictive_count_summary
from clvmodels.predict import distinct

from .test_mbgnbd_math import (PUBLISHED, _chi2_pvalue, mp_conditional_expectation, mp_conditional_pmf,
                               mp_future_alive, mp_log_likelihood, mp_new_expectation, mp_pmf_new, mp_posterior)


def _draws(S, seed=0):
    rng = np.random.default_rng(seed)
    mb = dict(r=rng.uniform(0.4, 0.65, S), alpha=rng.uniform(5, 7.5, S), a=rng.uniform(0.6, 1.4, S),
              b=rng.uniform(1.2, 2.2, S))
    mb["a"][:3] = [1.0, 1.0005, 0.9999]  # the removable singularity of E at a = 1
    gg = dict(p=rng.uniform(5, 7, S), q=rng.uniform(3, 4.5, S), v=rng.uniform(12, 18, S))
    return mb, gg


def _customers(n, seed=1):
    """Rows with duplicates, new customers (T = 0) and the extremes (x up to 1,000, T up to 10,000)."""
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(0.5, 80, n), 1)
    x = rng.poisson(2.0, n).astype(float)
    x[rng.uniform(size=n) < 0.4] = 0
    tx = np.where(x > 0, np.round(T * rng.uniform(size=n), 1), 0.0)
    mv = np.where(x > 0, np.round(rng.gamma(4, 10, n), 2), 0.0)
    x[:20], tx[:20], T[:20], mv[:20] = x[20:40], tx[20:40], T[20:40], mv[20:40]
    x[40:45], tx[40:45], T[40:45], mv[40:45] = 0.0, 0.0, 0.0, 0.0
    x[-3:], tx[-3:], T[-3:], mv[-3:] = [200, 1000, 1], [9000, 9999, 10000], [10000, 10000, 10000], [5, 7, 9]
    return x, tx, T, mv


ROWS = [(2, 30.43, 38.86), (0, 0.0, 38.86), (0, 0.0, 0.0), (7, 20.0, 52.0)]


# -- each method against an independent computation -------------------------------------------------
def test_scorer_methods_match_the_story_integrated():
    sc = ModifiedBetaGeoDraws.from_mapping({k: np.array([v]) for k, v in zip(("r", "alpha", "a", "b"), PUBLISHED)})
    assert sc.n_draws == 1
    x, tx, T = (np.array(c, float) for c in zip(*ROWS))
    pa = sc.p_alive(x, tx, T)
    e = sc.expected_purchases(x, tx, T, 39.0)
    w = sc.expected_purchases(x, tx, T, 39.0, start=13.0)
    fa = sc.future_p_alive(x, tx, T, 26.0)
    ll = sc.log_likelihood(x, tx, T)
    for arr in (pa, e, w, fa, ll):
        assert arr.shape == (1, len(ROWS))
    for i, (xi, ti, Ti) in enumerate(ROWS):
        assert pa[0, i] == pytest.approx(float(mp_posterior(*PUBLISHED, xi, ti, Ti, lambda p: 1)), rel=1e-12)
        assert e[0, i] == pytest.approx(float(mp_conditional_expectation(*PUBLISHED, xi, ti, Ti, 39.0)), rel=1e-10)
        assert w[0, i] == pytest.approx(float(mp_conditional_expectation(*PUBLISHED, xi, ti, Ti, 13.0, 39.0)), rel=1e-10)
        assert fa[0, i] == pytest.approx(float(mp_future_alive(*PUBLISHED, xi, ti, Ti, 26.0)), rel=1e-10)
        ref = 0.0 if Ti == 0 else float(mp_log_likelihood(*PUBLISHED, xi, ti, Ti))
        assert ll[0, i] == pytest.approx(ref, rel=1e-11, abs=1e-14)
    new = sc.expected_purchases_new(np.array([1.0, 52.0]))
    assert new.shape == (1, 2)
    np.testing.assert_allclose(new[0], [float(mp_new_expectation(*PUBLISHED, t)) for t in (1.0, 52.0)], rtol=1e-10)
    pmf_new, tail = sc.purchases_pmf_new(39.0, 6, return_tail=True)
    assert pmf_new.shape == (1, 1, 7) and tail.shape == (1, 1)  # (S, rows, K + 1), as the BG/NBD's scorer
    np.testing.assert_allclose(pmf_new[0, 0], [float(mp_pmf_new(*PUBLISHED, 39.0, k)) for k in range(7)], rtol=1e-11)
    assert pmf_new.sum() + tail.sum() == pytest.approx(1.0, abs=1e-14)
    pmf = sc.purchases_pmf(x, tx, T, 39.0, 5)
    assert pmf.shape == (1, len(ROWS), 6)
    for i in (0, 1, 3):
        np.testing.assert_allclose(pmf[0, i, [0, 1, 5]],
                                   [float(mp_conditional_pmf(*PUBLISHED, *ROWS[i], 39.0, k)) for k in (0, 1, 5)], rtol=1e-10)
    # a new customer (0, 0, 0) through the conditional methods is the new customer
    np.testing.assert_allclose(sc.purchases_pmf(0.0, 0.0, 0.0, 39.0, 6), pmf_new, rtol=1e-14)


def test_present_values_match_the_story_integrated():
    """sum_k d^k E[purchases in period k] and sum_k d^k P(alive at T + k - 1), k = k0+1..H, per draw and row,
    against the same sums of mpmath integrals."""
    sc = ModifiedBetaGeoDraws.from_mapping({k: np.array([v]) for k, v in zip(("r", "alpha", "a", "b"), PUBLISHED)})
    k0, H, d = 2, 8, 0.99
    x, tx, T = (np.array(c, float) for c in zip(*ROWS[:3]))
    pv, apv = sc.present_values(x, tx, T, k0, H, d)
    assert pv.shape == apv.shape == (1, 3)
    for i, (xi, ti, Ti) in enumerate(ROWS[:3]):
        ref_pv = sum(d ** k * mp_conditional_expectation(*PUBLISHED, xi, ti, Ti, k - 1.0, float(k)) for k in range(k0 + 1, H + 1))
        ref_apv = sum(d ** k * mp_future_alive(*PUBLISHED, xi, ti, Ti, k - 1.0) for k in range(k0 + 1, H + 1))
        assert pv[0, i] == pytest.approx(float(ref_pv), rel=1e-10)
        assert apv[0, i] == pytest.approx(float(ref_apv), rel=1e-10)
    pv2, zero = sc.present_values(x, tx, T, k0, H, d, with_alive=False)
    np.testing.assert_array_equal(pv2, pv)
    assert np.all(zero == 0)


def test_draw_shapes_and_each_draw_is_the_scalar_computation():
    mb, _ = _draws(7)
    flat = ModifiedBetaGeoDraws.from_mapping(mb)
    col = ModifiedBetaGeoDraws.from_mapping({k: v[:, None] for k, v in mb.items()})  # as reduce_over_draws hands them
    x, tx, T, _ = _customers(60)
    for name, args in [("p_alive", (x, tx, T)), ("expected_purchases", (x, tx, T, 26.0)),
                       ("future_p_alive", (x, tx, T, 26.0)), ("log_likelihood", (x, tx, T)),
                       ("count_upper_bound", (x, tx, T, 26.0))]:
        a, b = getattr(flat, name)(*args), getattr(col, name)(*args)
        assert a.shape == (7, 60), name
        np.testing.assert_array_equal(a, b, err_msg=name)
    e = flat.expected_purchases(x, tx, T, 26.0)
    for s in (0, 1, 6):
        ref = mbgnbd.conditional_expected_purchases(*(mb[k][s] for k in ("r", "alpha", "a", "b")), x, tx, T, 26.0)
        np.testing.assert_allclose(e[s], ref, rtol=1e-15)
    assert flat.purchases_pmf(x, tx, T, 26.0, 10).shape == (7, 60, 11)
    assert flat.expected_purchases_new(26.0).shape == (7, 1)
    assert flat.as_dict().keys() == {"r", "alpha", "a", "b"}


def test_count_upper_bound_per_draw_and_row():
    mb, _ = _draws(5)
    sc = ModifiedBetaGeoDraws.from_mapping(mb)
    x, tx, T, _ = _customers(60)
    K = sc.count_upper_bound(x, tx, T, 52.0, tail=1e-9)
    _, tail = mbgnbd.conditional_purchases_pmf(*(v[:, None] for v in sc._cols()), x, tx, T, 52.0, int(K.max()),
                                               return_tail=True)
    assert np.all(tail <= 1e-9)
    for s, i in [(0, 0), (3, 41), (4, 39)]:
        _, m = mbgnbd.conditional_purchases_pmf(*(mb[k][s] for k in ("r", "alpha", "a", "b")), x[i], tx[i], T[i], 52.0,
                                                int(K[s, i]), return_tail=True)
        assert m <= 1e-9


def test_simulate_holdout_follows_the_conditional_distribution():
    """Posterior-predictive holdout counts (20,000 per row at one draw) against the row's P(Y(h) = k) and
    its mean against the conditional expectation."""
    n = 20_000
    sc = ModifiedBetaGeoDraws.from_mapping({k: np.full(n, v) for k, v in zip(("r", "alpha", "a", "b"), PUBLISHED)})
    rng = np.random.default_rng(5)
    h, K = 39.0, 25
    for xi, ti, Ti in ROWS:
        y = sc.simulate_holdout(np.array([xi], float), np.array([ti]), np.array([Ti]), h, rng)
        assert y.shape == (n, 1) and y.dtype.kind == "i"
        pmf, tail = mbgnbd.conditional_purchases_pmf(*PUBLISHED, xi, ti, Ti, h, K, return_tail=True)
        counts = np.bincount(np.minimum(y[:, 0], K + 1), minlength=K + 2)
        assert _chi2_pvalue(counts, n * np.append(pmf, tail)) > 1e-3, (xi, ti, Ti)
        e = mbgnbd.conditional_expected_purchases(*PUBLISHED, xi, ti, Ti, h)
        assert abs(y.mean() - e) < 4 * y.std() / np.sqrt(n)


# -- score_triplets and the engine against the direct formulas ---------------------------------------------
def test_score_triplets_factorise_the_direct_formulas():
    mb, _ = _draws(25)
    sc = ModifiedBetaGeoDraws.from_mapping(mb)
    x, tx, T, _ = _customers(300)
    trip = distinct(x, T, tx)  # sorted by (x, T, t_x), as the engine hands them
    xs, Ts, txs = trip.keys
    k0, H, h, d = 3, 30, 26.0, 0.995
    disc = d ** np.arange(H + 1)
    out = sc.score_triplets(xs, txs, Ts, h=h, k0=k0, H=H, disc=disc, want_pv=True, want_alive=True, counts=True,
                            q_lo=0.1, q_hi=0.9, budget_bytes=8 * 25 * 400)
    pa = sc.p_alive(xs, txs, Ts)                                       # (S, n)
    np.testing.assert_allclose(out.alive, pa.T, rtol=1e-14)
    np.testing.assert_allclose(out.alive[Ts == 0], np.broadcast_to(mb["b"] / (mb["a"] + mb["b"]), ((Ts == 0).sum(), 25)),
                               rtol=1e-14)
    lev = out.level_of
    np.testing.assert_allclose(out.alive * out.expected[lev], sc.expected_purchases(xs, txs, Ts, h).T, rtol=1e-11)
    pv, apv = sc.present_values(xs, txs, Ts, k0, H, d)
    np.testing.assert_allclose(out.alive * out.pv[lev], pv.T, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(out.alive * out.alive_pv[lev], apv.T, rtol=1e-10)
    # the count intervals: the direct mixture of the scorer's per-draw distributions
    ref = predictive_count_summary(sc, distinct(xs, txs, Ts), h, 0.8)
    np.testing.assert_array_equal(out.counts[:, 0], ref["purchases_lower"])
    np.testing.assert_array_equal(out.counts[:, 1], ref["purchases_upper"])
    np.testing.assert_allclose(out.counts[:, 2], ref["expected_coverage"], rtol=1e-9)


def test_engine_score_arrays_equal_the_direct_formulas():
    S = 60
    mb, gg = _draws(S)
    x, tx, T, mv = _customers(400)
    n = len(x)
    rng = np.random.default_rng(3)
    margin = rng.uniform(0.2, 0.4, n)
    cost = np.where(rng.uniform(size=n) < 0.5, 1.5, 0.0)
    H, h, d = 26, 26.0, 1 / 1.002
    sc, sp = ModifiedBetaGeoDraws.from_mapping(mb), GammaGammaDraws.from_mapping(gg)
    out = engine.score_arrays(sc, sp, x, tx, T, mv, h=h, k0=0, H=H, discount_factor=d, margin=margin, cost=cost,
                              interval=0.8, budget_bytes=8 * S * 37)  # many small chunks
    pa = sc.p_alive(x, tx, T)
    ep = sc.expected_purchases(x, tx, T, h)
    dp, alive = sc.present_values(x, tx, T, 0, H, d)
    spend = sp.expected_spend(x, mv)
    value = margin * spend * dp - cost * alive
    for name, ref in [("p_alive", pa), ("expected_purchases", ep), ("expected_spend", spend), ("clv", value)]:
        np.testing.assert_allclose(out[name], ref.mean(axis=0), rtol=1e-9, atol=1e-12, err_msg=name)
        qq = np.quantile(ref, [0.1, 0.9], axis=0)
        np.testing.assert_allclose(out[f"{name}_lower"], qq[0], rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(out[f"{name}_upper"], qq[1], rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(out["discounted_purchases"], dp.mean(axis=0), rtol=1e-9)
    ref = predictive_count_summary(sc, distinct(x, tx, T), h, 0.8)
    np.testing.assert_array_equal(out["purchases_lower"], ref["purchases_lower"])
    np.testing.assert_array_equal(out["purchases_upper"], ref["purchases_upper"])
    np.testing.assert_allclose(out["expected_coverage"], ref["expected_coverage"], rtol=1e-9)
    # new customers (T = 0): P(alive) = b/(a + b) and the new customer's expectation
    new = T == 0
    np.testing.assert_allclose(out["p_alive"][new], np.mean(mb["b"] / (mb["a"] + mb["b"])), rtol=1e-12)
    np.testing.assert_allclose(out["expected_purchases"][new], sc.expected_purchases_new(h).mean(), rtol=1e-10)


# -- the simulator ------------------------------------------------------------------------------------------
THETA = (0.3, 5.0, 0.8, 2.0)


def test_summary_is_reproducible_and_valid():
    T = np.linspace(1, 52, 1000)
    a = simulate_summary(1000, *THETA, T, holdout=10.0, seed=42)
    b = simulate_summary(1000, *THETA, T, holdout=10.0, seed=42)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(simulate_summary(1000, *THETA, T, holdout=10.0, seed=43))
    assert list(a.columns) == ["frequency", "recency", "T", "frequency_holdout"]
    assert a.index.name == "customer_id" and a["frequency"].dtype == np.int64
    s = simulate_summary(50_000, *THETA, 30.0, seed=1)
    assert np.all(s["recency"] <= s["T"]) and np.all(s["recency"] >= 0)
    assert np.all((s["frequency"] == 0) == (s["recency"] == 0))
    assert np.all(simulate_summary(100, *THETA, 20.0, holdout=0.0, seed=1)["frequency_holdout"] == 0)
    for bad in [dict(T=0.0), dict(T=10.0, holdout=-1.0)]:
        with pytest.raises(ValueError):
            simulate_summary(10, *THETA, **bad)
    with pytest.raises(ValueError):
        simulate_summary(10, -1.0, 5.0, 0.8, 2.0, 10.0)


def test_likelihood_score_has_mean_zero_under_the_simulator():
    """The score of the likelihood at the true parameters averages to zero over data drawn from the
    simulator: a check of the joint distribution of (x, t_x) given T, recency and the time-zero drop-out
    included (the BG/NBD's likelihood, which lacks that drop-out, fails it on the same data)."""
    from clvmodels.models import bgnbd

    n = 100_000
    rng = np.random.default_rng(4)
    T = rng.uniform(1, 60, n)
    s = simulate_summary(n, *THETA, T, seed=5)
    x, tx = s["frequency"].to_numpy(float), s["recency"].to_numpy()
    theta = np.array(THETA)

    def score_stat(loglik):
        score = np.empty((n, 4))
        for i in range(4):
            h = 1e-5 * theta[i]
            up, dn = theta.copy(), theta.copy()
            up[i] += h
            dn[i] -= h
            score[:, i] = (loglik(*up, x, tx, T) - loglik(*dn, x, tx, T)) / (2 * h)
        m = score.mean(0)
        return m @ np.linalg.solve(np.cov(score, rowvar=False) / n, m)

    assert stats.chi2.sf(score_stat(mbgnbd.log_likelihood), 4) > 1e-3
    assert stats.chi2.sf(score_stat(bgnbd.log_likelihood), 4) < 1e-10


def test_alive_flags_and_holdout_are_calibrated():
    n = 100_000
    rng = np.random.default_rng(6)
    s = simulate_summary(n, *THETA, rng.uniform(1, 52, n), holdout=26.0, seed=7, return_latent=True)
    x, tx, T = s["frequency"], s["recency"], s["T"]
    pa = mbgnbd.p_alive(*THETA, x, tx, T)
    assert abs(s["alive"].sum() - pa.sum()) < 4 * np.sqrt(np.sum(pa * (1 - pa)))
    # among customers without repeat purchases, too (where the BG/NBD would say everybody is alive)
    z = x == 0
    assert s.loc[z, "alive"].mean() < 0.9
    assert abs(s.loc[z, "alive"].sum() - pa[z].sum()) < 4 * np.sqrt(np.sum(pa[z] * (1 - pa[z])))
    pf = mbgnbd.future_p_alive(*THETA, x, tx, T, 26.0)
    assert abs(s["alive_holdout_end"].sum() - pf.sum()) < 4 * np.sqrt(np.sum(pf * (1 - pf)))
    e = mbgnbd.conditional_expected_purchases(*THETA, x, tx, T, 26.0)
    for lo, hi in [(0, 0), (1, 1), (2, 3), (4, 1000)]:
        sel = (x >= lo) & (x <= hi)
        d = s.loc[sel, "frequency_holdout"].to_numpy() - e[sel]
        assert abs(d.mean()) < 4 * d.std(ddof=1) / np.sqrt(sel.sum()), (lo, hi)
    # the latent drop-out probabilities are the prior's
    assert abs(s["p"].mean() - THETA[2] / (THETA[2] + THETA[3])) < 4 * s["p"].std() / np.sqrt(n)


def test_transactions_reproducible_well_formed_and_follow_the_story():
    kw = dict(acquisition_days=60, start="2021-03-01", observation_end="2022-03-01")
    a, _ = simulate_transactions(2000, *THETA, seed=9, **kw)
    pd.testing.assert_frame_equal(a, simulate_transactions(2000, *THETA, seed=9, **kw)[0])
    pd.testing.assert_frame_equal(a, simulate_transactions(2000, *THETA, rng=np.random.default_rng(9), **kw)[0])
    assert list(a.columns) == ["customer_id", "date"]
    assert a["customer_id"].min() == 1 and a["customer_id"].nunique() == 2000
    assert a["date"].min() >= pd.Timestamp("2021-03-01") and a["date"].max() <= pd.Timestamp("2022-03-01")
    assert np.all(a["date"] == a["date"].dt.normalize())
    assert a.equals(a.sort_values(["customer_id", "date"], kind="stable"))
    with pytest.raises(ValueError):
        simulate_transactions(10, -0.3, 5.0, 0.8, 2.0, seed=1)
    with pytest.raises(ValueError):
        simulate_transactions(10, *THETA, acquisition_days=400, seed=1)
    n = 40_000
    log, cust = simulate_transactions(n, *THETA, acquisition_days=180, start="2020-01-01", observation_end="2021-12-31",
                                      time_unit="W", seed=10)
    np.testing.assert_array_equal(log.groupby("customer_id").size().to_numpy(), 1 + cust["n_repeat"].to_numpy())
    T = ((pd.Timestamp("2021-12-31") - cust["first_purchase"]) / pd.Timedelta(days=7)).to_numpy()
    y = cust["n_repeat"].to_numpy(float)
    e = mbgnbd.expected_purchases_new(*THETA, T)
    assert abs(y.mean() - e.mean()) < 4 * y.std() / np.sqrt(n)
    # customers who never bought again: the new customer's P(X(T) = 0), drop-out at time 0 included
    p0 = np.array([mbgnbd.purchases_pmf_new(*THETA, t, 0)[0] for t in T[:4000]])
    z = (y[:4000] == 0).astype(float)
    assert abs(z.mean() - p0.mean()) < 4 * np.sqrt(np.sum(p0 * (1 - p0))) / 4000
    # alive at the observation end: a new customer's P(alive at T), the future P(alive) of (0, 0, 0)
    pT = mbgnbd.future_p_alive(*THETA, 0, 0.0, 0.0, T)
    alive = cust["alive"].to_numpy(float)
    assert abs(alive.sum() - pT.sum()) < 4 * np.sqrt(np.sum(pT * (1 - pT)))
    # the same story in days: alpha scales with the unit
    _, cust_d = simulate_transactions(n, 0.3, 35.0, 0.8, 2.0, acquisition_days=180, start="2020-01-01",
                                      observation_end="2021-12-31", time_unit="D", seed=11)
    y_d = cust_d["n_repeat"].to_numpy(float)
    assert abs(y_d.mean() - e.mean()) < 4 * np.sqrt(y.var() / n + y_d.var() / n)
