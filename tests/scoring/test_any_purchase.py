"""p_any_purchase, the probability of at least one purchase in the next h, 1 - P(X(h) = 0 | data), and the
per-draw CLV totals of groups of customers, from the scoring pass (clvmodels.scoring.arrays) against the
models' count pmf (math.conditional_purchases_pmf, computed by other code: the per-draw mixture of a
dead customer's 0 and an alive customer's NBD-with-drop-out count) and against the direct CLV formulas."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clvmodels.models.bgnbd.scoring import BetaGeoDraws, alive_any_purchase
from clvmodels.models.gamma_gamma.scoring import GammaGammaDraws
from clvmodels.models.mbgnbd.scoring import ModifiedBetaGeoDraws
from clvmodels.scoring import arrays as engine

S = 150


def _draws(seed=0):
    rng = np.random.default_rng(seed)
    bg = dict(r=rng.uniform(0.2, 0.6, S), alpha=rng.uniform(3, 7, S), a=rng.uniform(0.6, 1.4, S),
              b=rng.uniform(1.5, 3, S))
    gg = dict(p=rng.uniform(5, 7, S), q=rng.uniform(3, 4.5, S), v=rng.uniform(12, 18, S))
    return bg, gg


def _customers(n=250, seed=1):
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(0, 80, n), 1)
    x = rng.poisson(2.0, n).astype(float)
    x[rng.uniform(size=n) < 0.4] = 0
    x[T == 0] = 0
    tx = np.where(x > 0, np.round(T * rng.uniform(size=n), 1), 0.0)
    mv = np.where(x > 0, np.round(rng.gamma(4, 10, n), 2), 0.0)
    x[:3], tx[:3], T[:3], mv[:3] = 0, 0, 0, 0  # new customers
    x[3:23], tx[3:23], T[3:23], mv[3:23] = x[30:50], tx[30:50], T[30:50], mv[30:50]  # duplicates
    return x, tx, T, mv


class _WithoutAnyPurchase:
    """A scorer that does not give TripletScores.any_purchase (as a model of the protocol may not): the
    scoring pass must then use its purchases_pmf."""

    def __init__(self, inner):
        self.inner = inner
        self.n_draws = inner.n_draws

    def score_triplets(self, *args, **kwargs):
        return dataclasses.replace(self.inner.score_triplets(*args, **kwargs), any_purchase=None)

    def purchases_pmf(self, *args, **kwargs):
        return self.inner.purchases_pmf(*args, **kwargs)


@pytest.mark.parametrize("cls", [BetaGeoDraws, ModifiedBetaGeoDraws])
@pytest.mark.parametrize("h", [1.0, 39.0])
def test_p_any_purchase_against_the_count_pmf(cls, h):
    bg, gg = _draws()
    x, tx, T, mv = _customers()
    purchases, spend = cls.from_mapping(bg), GammaGammaDraws.from_mapping(gg)
    ref = 1.0 - purchases.purchases_pmf(x, tx, T, h, 0)[..., 0]          # (S, n)
    for scorer in (purchases, _WithoutAnyPurchase(purchases)):
        out = engine.score_arrays(scorer, spend, x, tx, T, mv, h=h, H=int(h), discount_factor=0.999, interval=0.8)
        np.testing.assert_allclose(out["p_any_purchase"], ref.mean(axis=0), rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(out["p_any_purchase_lower"], np.quantile(ref, 0.1, axis=0), rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(out["p_any_purchase_upper"], np.quantile(ref, 0.9, axis=0), rtol=1e-11, atol=1e-14)
        # the purchases-only pass (clv=False) gives the same numbers
        alone = engine.score_arrays(scorer, None, x, tx, T, h=h, clv=False, interval=0.8)
        np.testing.assert_allclose(alone["p_any_purchase"], out["p_any_purchase"], rtol=1e-13)
    assert (out["p_any_purchase_lower"] <= out["p_any_purchase"]).all()
    assert (out["p_any_purchase"] <= out["p_alive"] + 1e-15).all()  # buying again needs being alive


def test_alive_any_purchase_is_one_minus_the_poisson_gamma_zero():
    # alive at T, no purchase in h means no Poisson event: P = 1 - (A0/(A0 + h))^R, R = r + x, A0 = alpha + T
    r, alpha = np.array([0.25, 1.3]), np.array([4.0, 0.5])
    got = alive_any_purchase(r, alpha, np.array([0.0, 3.0]), np.array([0.0, 20.0]), 10.0)
    want = 1.0 - (np.array([[4.0, 0.5], [24.0, 20.5]]) / (np.array([[4.0, 0.5], [24.0, 20.5]]) + 10.0)) ** \
        np.array([[0.25, 1.3], [3.25, 4.3]])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # and by simulation for one draw: lambda ~ Gamma(R, rate A0), P(N(h) > 0)
    rng = np.random.default_rng(3)
    lam = rng.gamma(3.25, 1.0 / 24.0, 400_000)
    sim = np.mean(rng.poisson(lam * 10.0) > 0)
    assert abs(sim - got[1, 0]) < 4 * np.sqrt(got[1, 0] * (1 - got[1, 0]) / 400_000)


def test_one_time_buyers_fade_under_bgnbd_although_p_alive_is_one():
    bg, _ = _draws()
    purchases = BetaGeoDraws.from_mapping(bg)
    T = np.array([1.0, 10.0, 40.0, 78.0])
    out = engine.score_arrays(purchases, None, np.zeros(4), np.zeros(4), T, h=52.0, clv=False)
    assert np.all(out["p_alive"] == 1.0)
    assert np.all(np.diff(out["p_any_purchase"]) < 0)


@pytest.mark.parametrize("cost", [0.0, 0.5])
def test_group_totals_are_the_sums_of_the_customers_clv_at_each_draw(cost):
    bg, gg = _draws(4)
    x, tx, T, mv = _customers(seed=5)
    purchases, spend = BetaGeoDraws.from_mapping(bg), GammaGammaDraws.from_mapping(gg)
    H, d, margin = 26, 0.997, 0.3
    groups = np.arange(len(x)) % 3
    groups[3:23] = groups[30:50]  # duplicates in the same group, as segments put them
    out = engine.score_arrays(purchases, spend, x, tx, T, mv, h=float(H), H=H, discount_factor=d, margin=margin,
                              cost=cost, counts=False, groups=groups)
    pv, alive_pv = purchases.present_values(x, tx, T, 0, H, d)
    per_draw = margin * spend.expected_spend(x, mv) * pv - cost * alive_pv       # (S, n), the direct formulas
    want = np.stack([per_draw[:, groups == g].sum(axis=1) for g in range(3)])
    np.testing.assert_allclose(out["group_clv_draws"], want, rtol=1e-9)
    np.testing.assert_allclose(out["clv"], per_draw.mean(axis=0), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="groups"):
        engine.score_arrays(purchases, spend, x, tx, T, mv, h=1.0, H=1, groups=-groups - 1)
