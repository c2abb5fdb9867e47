"""The Pareto/NBD scorer (clvmodels.models.pareto_nbd.scoring.ParetoNBDDraws): every method against an
independent computation (mpmath integrals of the story, or simulation), score_triplets and the scoring
computation (clvmodels.scoring.arrays.score_arrays, the old clvmodels.engine) against the scorer's direct
formulas."""
from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from clvmodels.models.gamma_gamma.scoring import GammaGammaDraws
from clvmodels.models.pareto_nbd import math as pnbd
from clvmodels.models.pareto_nbd.scoring import ParetoNBDDraws, alive_any_purchase
from clvmodels.models.transaction import predictive_count_summary
from clvmodels.predict import distinct
from clvmodels.scoring import arrays as engine

from .test_pareto_nbd_math import (PUBLISHED, _chi2_pvalue, mp_alive_expected, mp_alive_pmf, mp_gamma_mean,
                                   mp_log_likelihood, mp_p_alive)

NAMES = ("r", "alpha", "s", "beta")


def _draws(S, seed=0):
    rng = np.random.default_rng(seed)
    pn = dict(r=rng.uniform(0.4, 0.7, S), alpha=rng.uniform(8, 13, S), s=rng.uniform(0.4, 2.0, S),
              beta=rng.uniform(6, 70, S))
    pn["s"][:3] = [1.0, 1.0 + 1e-9, 0.999]  # s = 1: the expectation's removable singularity
    pn["beta"][3:5] = [2.0, 200.0]          # beta far from alpha: the split quadrature of the tail integrals
    gg = dict(p=rng.uniform(5, 7, S), q=rng.uniform(3, 4.5, S), v=rng.uniform(12, 18, S))
    return pn, gg


def _customers(n, seed=1):
    """Rows with duplicates, new customers (T = 0), recency = T and the extremes (x up to 1,000, T up to
    10,000)."""
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(0.5, 80, n), 1)
    x = rng.poisson(2.0, n).astype(float)
    x[rng.uniform(size=n) < 0.4] = 0
    tx = np.where(x > 0, np.round(T * rng.uniform(size=n), 1), 0.0)
    mv = np.where(x > 0, np.round(rng.gamma(4, 10, n), 2), 0.0)
    x[:20], tx[:20], T[:20], mv[:20] = x[20:40], tx[20:40], T[20:40], mv[20:40]
    x[40:45], tx[40:45], T[40:45], mv[40:45] = 0.0, 0.0, 0.0, 0.0
    x[45:48], tx[45:48], mv[45:48] = 3.0, T[45:48], 20.0
    x[-3:], tx[-3:], T[-3:], mv[-3:] = [200, 1000, 1], [9000, 9999, 10000], [10000, 10000, 10000], [5, 7, 9]
    return x, tx, T, mv


ROWS = [(2, 30.43, 38.86), (0, 0.0, 38.86), (0, 0.0, 0.0), (7, 20.0, 52.0), (26, 30.86, 31.0)]


# -- each method against an independent computation -------------------------------------------------
def test_scorer_methods_match_the_story_integrated():
    sc = ParetoNBDDraws.from_mapping({k: np.array([v]) for k, v in zip(NAMES, PUBLISHED)})
    assert sc.n_draws == 1 and list(sc.as_dict()) == list(NAMES)
    x, tx, T = (np.array(c, float) for c in zip(*ROWS))
    pa, ll = sc.p_alive(x, tx, T), sc.log_likelihood(x, tx, T)
    e, w = sc.expected_purchases(x, tx, T, 39.0), sc.expected_purchases(x, tx, T, 39.0, start=13.0)
    fa = sc.future_p_alive(x, tx, T, 26.0)
    pmf = sc.purchases_pmf(x, tx, T, 39.0, 12)
    assert pa.shape == ll.shape == e.shape == w.shape == fa.shape == (1, 5) and pmf.shape == (1, 5, 13)
    r, alpha, s, beta = PUBLISHED
    for i, (xi, ti, Ti) in enumerate(ROWS):
        p_ref = float(mp_p_alive(*PUBLISHED, xi, ti, Ti)) if Ti > 0 else 1.0
        assert pa[0, i] == pytest.approx(p_ref, rel=1e-12)
        assert ll[0, i] == pytest.approx(float(mp_log_likelihood(*PUBLISHED, xi, ti, Ti)) if Ti > 0 else 0.0, abs=1e-11)
        R, A0, B0 = r + xi, alpha + Ti, beta + Ti
        assert e[0, i] == pytest.approx(p_ref * float(mp_alive_expected(R, A0, s, B0, 39.0)), rel=1e-11)
        assert w[0, i] == pytest.approx(p_ref * float(mp_alive_expected(R, A0, s, B0, 13.0, 39.0)), rel=1e-11)
        assert fa[0, i] == pytest.approx(p_ref * float(mp_gamma_mean(s, B0, lambda m: mp.exp(-26 * m))), rel=1e-11)
        ks = np.array([0, 1, 3, 12])
        ref = p_ref * mp_alive_pmf(R, A0, s, B0, 39.0, ks) + (1 - p_ref) * (ks == 0)
        np.testing.assert_allclose(pmf[0, i, ks], ref, rtol=1e-11, atol=1e-15)
    new = sc.expected_purchases_new(52.0)
    assert new.shape == (1, 1) and new[0, 0] == pytest.approx(float(mp_alive_expected(r, alpha, s, beta, 52.0)), rel=1e-11)
    pn, tail = sc.purchases_pmf_new(39.0, 8, return_tail=True)
    assert pn.shape == (1, 1, 9) and tail.shape == (1, 1)
    np.testing.assert_allclose(pn[0, 0], mp_alive_pmf(r, alpha, s, beta, 39.0, range(9)), rtol=1e-11)
    assert tail[0, 0] == pytest.approx(1 - pn.sum(), abs=1e-14)


def test_present_values_match_the_story_integrated():
    """Discounted purchases sum_k d^k E[purchases in period k] and discounted alive periods
    sum_k d^k P(alive at T + k - 1), k = k0+1..H, against mpmath (each period's expected purchases as the
    mixture over mu of int e^(-mu u) du over the period)."""
    sc = ParetoNBDDraws.from_mapping({k: np.array([v]) for k, v in zip(NAMES, PUBLISHED)})
    k0, H, d = 2, 8, 0.97
    x, tx, T = (np.array(c, float) for c in zip(*ROWS[:3]))
    pv, apv = sc.present_values(x, tx, T, k0, H, d)
    r, alpha, s, beta = PUBLISHED
    for i, (xi, ti, Ti) in enumerate(ROWS[:3]):
        pa = float(mp_p_alive(*PUBLISHED, xi, ti, Ti)) if Ti > 0 else 1.0
        R, A0, B0 = r + xi, alpha + Ti, beta + Ti
        ref_pv = sum(d ** k * pa * float(mp_alive_expected(R, A0, s, B0, k - 1, k)) for k in range(k0 + 1, H + 1))
        ref_apv = sum(d ** k * pa * float(mp_gamma_mean(s, B0, lambda m, k=k: mp.exp(-(k - 1) * m)))
                      for k in range(k0 + 1, H + 1))
        assert pv[0, i] == pytest.approx(ref_pv, rel=1e-10)
        assert apv[0, i] == pytest.approx(ref_apv, rel=1e-10)
    pv2, zeros = sc.present_values(x, tx, T, k0, H, d, with_alive=False)
    np.testing.assert_array_equal(pv2, pv)
    assert np.all(zeros == 0)


def test_draw_shapes_and_each_draw_is_the_scalar_computation():
    pn, _ = _draws(6)
    flat = ParetoNBDDraws.from_mapping(pn)
    col = ParetoNBDDraws.from_mapping({k: v[:, None] for k, v in pn.items()})
    x, tx, T, _ = (v[::10] for v in _customers(300))
    for name, args in [("p_alive", ()), ("expected_purchases", (20.0,)), ("future_p_alive", (10.0,)),
                       ("log_likelihood", ())]:
        a = getattr(flat, name)(x, tx, T, *args)
        assert a.shape == (6, len(x)), name
        np.testing.assert_array_equal(a, getattr(col, name)(x, tx, T, *args))
        for d in (0, 5):
            one = ParetoNBDDraws.from_mapping({k: np.array([v[d]]) for k, v in pn.items()})
            np.testing.assert_array_equal(a[d], getattr(one, name)(x, tx, T, *args)[0])
    assert col.n_draws == flat.n_draws == 6
    assert flat.purchases_pmf(x, tx, T, 10.0, 4).shape == (6, len(x), 5)
    assert flat.count_upper_bound(x, tx, T, 10.0).shape == (6, len(x))
    assert flat.expected_purchases_new(5.0).shape == (6, 1)  # (draws, rows) as every scorer


def test_count_upper_bound_per_draw_and_row():
    pn, _ = _draws(8)
    sc = ParetoNBDDraws.from_mapping(pn)
    x, tx, T, _ = (v[::5] for v in _customers(200))
    K = sc.count_upper_bound(x, tx, T, 39.0, tail=1e-8)
    pmf = sc.purchases_pmf(x, tx, T, 39.0, int(K.max()))
    cdf = np.cumsum(pmf, axis=-1)
    above = 1 - np.take_along_axis(cdf, K[..., None], axis=-1)[..., 0]
    assert np.all(above <= 1e-8 * (1 + 1e-6) + 1e-13)


def test_simulate_holdout_follows_the_conditional_distribution():
    sc = ParetoNBDDraws.from_mapping({k: np.full(200_000, v) for k, v in zip(NAMES, PUBLISHED)})
    rng = np.random.default_rng(3)
    h = 26.0
    for xi, ti, Ti in [(2, 30.43, 38.86), (0, 0.0, 38.86)]:
        y = sc.simulate_holdout(np.array([xi], float), np.array([ti]), np.array([Ti]), h, rng)[:, 0]
        K = 15
        pmf, tail = pnbd.conditional_purchases_pmf(*PUBLISHED, xi, ti, Ti, h, K, return_tail=True)
        counts = np.bincount(np.minimum(y, K + 1), minlength=K + 2)
        assert _chi2_pvalue(counts, len(y) * np.append(pmf, tail)) > 1e-3, (xi, ti, Ti)


# -- score_triplets and the scoring computation against the direct formulas ------------------------------------
def test_score_triplets_factorise_the_direct_formulas():
    pn, _ = _draws(25)
    sc = ParetoNBDDraws.from_mapping(pn)
    x, tx, T, _ = _customers(300)
    trip = distinct(x, T, tx)  # sorted by (x, T, t_x), as the scoring computation hands them
    xs, Ts, txs = trip.keys
    k0, H, h, d = 3, 30, 26.0, 0.995
    disc = d ** np.arange(H + 1)
    out = sc.score_triplets(xs, txs, Ts, h=h, k0=k0, H=H, disc=disc, want_pv=True, want_alive=True, counts=True,
                            q_lo=0.1, q_hi=0.9, budget_bytes=8 * 25 * 400)
    pa = sc.p_alive(xs, txs, Ts)                                       # (S, n)
    # the same logs summed in another order: P(alive) is exp of a difference of logs of size
    # (r + x) log(alpha + T), thousands for x = 1,000, so its relative accuracy is about 1e-16 times that
    np.testing.assert_allclose(out.alive, pa.T, rtol=1e-12)
    assert np.all(out.alive[Ts == 0] == 1.0)
    lev = out.level_of
    np.testing.assert_allclose(out.alive * out.expected[lev], sc.expected_purchases(xs, txs, Ts, h).T, rtol=1e-12)
    pv, apv = sc.present_values(xs, txs, Ts, k0, H, d)
    np.testing.assert_allclose(out.alive * out.pv[lev], pv.T, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(out.alive * out.alive_pv[lev], apv.T, rtol=1e-12)
    # P(at least one purchase | alive): one minus the count pmf's P(0 | alive)
    p0 = sc.purchases_pmf(xs, txs, Ts, h, 0)[..., 0]                   # (S, n), dead customers included
    np.testing.assert_allclose(out.alive * out.any_purchase[lev], (1.0 - p0).T, rtol=1e-12, atol=1e-15)
    # the count intervals: the direct mixture of the scorer's per-draw distributions
    ref = predictive_count_summary(sc, distinct(xs, txs, Ts), h, 0.8)
    np.testing.assert_array_equal(out.counts[:, 0], ref["purchases_lower"])
    np.testing.assert_array_equal(out.counts[:, 1], ref["purchases_upper"])
    np.testing.assert_allclose(out.counts[:, 2], ref["expected_coverage"], rtol=1e-9)


def test_any_purchase_keeps_its_relative_accuracy_at_short_horizons():
    """1 - P(0 | alive) is about R h/A0 for a short horizon h: computed as one minus P(0) it would lose
    its relative accuracy; against the mixture over the death time of 1 - (A0/(A0 + U))^R in mpmath."""
    d = {k: np.array([v]) for k, v in zip(NAMES, PUBLISHED)}
    r, alpha, s, beta = PUBLISHED
    lx, lT = np.array([0.0, 5.0]), np.array([30.0, 38.0])
    for h in (1e-9, 1e-3, 39.0):
        a = alive_any_purchase(d, lx, lT, h)[:, 0]
        for j in range(2):
            with mp.workdps(30):
                R, A0, B0, hh, ss = (mp.mpf(v) for v in (r + lx[j], alpha + lT[j], beta + lT[j], h, s))
                buy = lambda u: -mp.expm1(-R * mp.log1p(u / A0))  # noqa: E731
                dens = lambda u: ss / B0 * (B0 / (B0 + u)) ** (ss + 1)  # noqa: E731
                ref = (B0 / (B0 + hh)) ** ss * buy(hh) + mp.quad(lambda u: buy(u) * dens(u), [0, hh])
            assert a[j] == pytest.approx(float(ref), rel=1e-12), (h, j)


def test_scoring_computation_equals_the_direct_formulas():
    S = 60
    pn, gg = _draws(S)
    x, tx, T, mv = _customers(400)
    n = len(x)
    rng = np.random.default_rng(3)
    margin = rng.uniform(0.2, 0.4, n)
    cost = np.where(rng.uniform(size=n) < 0.5, 1.5, 0.0)
    H, h, d = 26, 26.0, 1 / 1.002
    sc, sp = ParetoNBDDraws.from_mapping(pn), GammaGammaDraws.from_mapping(gg)
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
    # new customers (T = 0): alive, with the new customer's expectation
    new = T == 0
    np.testing.assert_allclose(out["p_alive"][new], 1.0, rtol=0)
    np.testing.assert_allclose(out["expected_purchases"][new], sc.expected_purchases_new(h).mean(), rtol=1e-12)
