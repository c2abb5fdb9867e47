"""The scoring engine (clvmodels.engine) against direct evaluation of the same quantities.

The engine factorises the work (P(alive) per triplet times (x, T) terms, Chebyshev interpolation in
w = log(1 + t/(alpha + T)) for the many CLV periods, selection for quantiles); every number it returns
is compared here with the plain formulas of clvmodels.models.bgnbd / gamma_gamma and numpy's quantiles.
"""
import numpy as np
import pytest

from clvmodels import engine
from clvmodels.models import bgnbd, gamma_gamma
from clvmodels.models.bgnbd_model import predictive_count_summary
from clvmodels.models.bgnbd.scoring import BetaGeoDraws, xt_paths
from clvmodels.models.gamma_gamma.scoring import GammaGammaDraws
from clvmodels.draws import distinct


def _draws(S, seed=0):
    rng = np.random.default_rng(seed)
    bg = dict(r=rng.uniform(0.2, 0.3, S), alpha=rng.uniform(3, 6, S), a=rng.uniform(0.6, 1.4, S),
              b=rng.uniform(2, 3, S))
    bg["a"][:3] = [1.0, 1.0005, 0.9999]  # the removable singularity of E at a = 1
    gg = dict(p=rng.uniform(5, 7, S), q=rng.uniform(3, 4.5, S), v=rng.uniform(12, 18, S))
    return bg, gg


def _customers(n, seed=1):
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(0.5, 80, n), 1)
    x = rng.poisson(2.0, n).astype(float)
    x[rng.uniform(size=n) < 0.4] = 0
    tx = np.where(x > 0, np.round(T * rng.uniform(size=n), 1), 0.0)
    mv = np.where(x > 0, np.round(rng.gamma(4, 10, n), 2), 0.0)
    # duplicates, and the extremes the issue names (x up to 1,000, T up to 10,000 periods)
    x[:20], tx[:20], T[:20], mv[:20] = x[20:40], tx[20:40], T[20:40], mv[20:40]
    x[-3:], tx[-3:], T[-3:], mv[-3:] = [200, 1000, 1], [9000, 9999, 10000], [10000, 10000, 10000], [5, 7, 9]
    return x, tx, T, mv


def test_xt_paths_match_the_exact_closed_forms():
    bg, _ = _draws(40)
    xs = np.array([0, 0, 1, 1, 1, 2, 5, 5, 30, 200, 1000.0])
    Ts = np.array([1, 50, 0.5, 3, 40, 10, 10, 80, 100, 10000, 10000.0])
    H, k0, h, d = 52, 4, 39.0, 0.998
    disc = d ** np.arange(H + 1)
    EH, PV, APV = xt_paths(bg, xs, Ts, h, k0, H, disc, want_pv=True, want_alive=True)
    p = {k: v[:, None] for k, v in bg.items()}
    R, A0, B = p["r"] + xs, p["alpha"] + Ts, p["b"] + xs
    np.testing.assert_allclose(EH.T, bgnbd._alive_expected(R, A0, p["a"], B, h), rtol=1e-11)
    ks = np.arange(k0, H + 1.0)
    cum = bgnbd._alive_expected(R[..., None], A0[..., None], p["a"][..., None], B[..., None], ks)
    np.testing.assert_allclose(PV.T, np.diff(cum, axis=2) @ disc[k0 + 1:], rtol=1e-10)
    surv = bgnbd._alive_survival(R[..., None], A0[..., None], p["a"][..., None], B[..., None], ks[:-1])
    np.testing.assert_allclose(APV.T, surv @ disc[k0 + 1:], rtol=1e-11)


def test_xt_paths_need_sorted_rows():
    bg, _ = _draws(3)
    with pytest.raises(ValueError, match="sorted"):
        xt_paths(bg, np.array([1.0, 0.0]), np.array([5.0, 5.0]), 10.0)


@pytest.mark.parametrize("S", [1, 2, 7, 100])
def test_interval_is_numpys_linear_quantile(S):
    rng = np.random.default_rng(S)
    for _ in range(20):
        v = rng.normal(size=S)
        if S > 3:
            v[: S // 3] = v[0]  # ties
        lo, hi = engine._interval(v.copy(), S, 0.05, 0.95)
        np.testing.assert_allclose([lo, hi], np.quantile(v, [0.05, 0.95]), rtol=1e-14, atol=1e-15)


def test_score_arrays_match_direct_evaluation():
    S = 60
    bg, gg = _draws(S)
    x, tx, T, mv = _customers(400)
    n = len(x)
    rng = np.random.default_rng(3)
    margin = rng.uniform(0.2, 0.4, n)
    cost = np.where(rng.uniform(size=n) < 0.5, 1.5, 0.0)
    H, h, d = 26, 26.0, 1 / 1.002
    out = engine.score_arrays(BetaGeoDraws.from_mapping(bg), GammaGammaDraws.from_mapping(gg), x, tx, T, mv, h=h, k0=0, H=H, discount_factor=d, margin=margin, cost=cost,
                              interval=0.8, budget_bytes=8 * S * 37)  # many small chunks
    p = {k: v[:, None] for k, v in bg.items()}
    q = {k: v[:, None] for k, v in gg.items()}
    pa = bgnbd.p_alive(p["r"], p["alpha"], p["a"], p["b"], x, tx, T)
    ep = bgnbd.conditional_expected_purchases(p["r"], p["alpha"], p["a"], p["b"], x, tx, T, h)
    ks = np.arange(0, H + 1.0)
    cum = bgnbd.conditional_expected_purchases(p["r"][..., None], p["alpha"][..., None], p["a"][..., None],
                                               p["b"][..., None], x[:, None], tx[:, None], T[:, None], ks)
    dp = np.diff(cum, axis=2) @ d ** np.arange(1, H + 1)
    alive = bgnbd.future_p_alive(p["r"][..., None], p["alpha"][..., None], p["a"][..., None], p["b"][..., None],
                                 x[:, None], tx[:, None], T[:, None], ks[:-1]) @ d ** np.arange(1, H + 1)
    spend = gamma_gamma.conditional_expected_spend(q["p"], q["q"], q["v"], x, mv)
    value = margin * spend * dp - cost * alive
    for name, ref, rtol in [("p_alive", pa, 1e-12), ("expected_purchases", ep, 1e-10),
                            ("expected_spend", spend, 1e-12), ("clv", value, 1e-9)]:
        np.testing.assert_allclose(out[name], ref.mean(axis=0), rtol=rtol, atol=1e-12, err_msg=name)
        qq = np.quantile(ref, [0.1, 0.9], axis=0)
        np.testing.assert_allclose(out[f"{name}_lower"], qq[0], rtol=rtol, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(out[f"{name}_upper"], qq[1], rtol=rtol, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(out["discounted_purchases"], dp.mean(axis=0), rtol=1e-9)
    # the count interval equals the direct mixture of the per-draw distributions
    ref = predictive_count_summary(bg, distinct(x, tx, T), h, 0.8)
    np.testing.assert_array_equal(out["purchases_lower"], ref["purchases_lower"])
    np.testing.assert_array_equal(out["purchases_upper"], ref["purchases_upper"])
    np.testing.assert_allclose(out["expected_coverage"], ref["expected_coverage"], rtol=1e-9)


def test_identical_customers_get_identical_rows_and_order_does_not_matter():
    bg, gg = _draws(30)
    x, tx, T, mv = _customers(300)
    kw = dict(h=10.0, H=10, discount_factor=0.99, margin=0.3)
    a = engine.score_arrays(BetaGeoDraws.from_mapping(bg), GammaGammaDraws.from_mapping(gg), x, tx, T, mv, **kw)
    perm = np.random.default_rng(0).permutation(len(x))
    b = engine.score_arrays(BetaGeoDraws.from_mapping(bg), GammaGammaDraws.from_mapping(gg), x[perm], tx[perm], T[perm], mv[perm], **kw)
    for k in a:
        np.testing.assert_array_equal(a[k][perm], b[k], err_msg=k)
    np.testing.assert_array_equal(a["clv"][:20], a["clv"][20:40])


def test_old_discount_keyword_still_works_with_a_deprecation_warning():
    bg, gg = _draws(20)
    x, tx, T, mv = _customers(50)
    args = (BetaGeoDraws.from_mapping(bg), GammaGammaDraws.from_mapping(gg), x, tx, T, mv)
    new = engine.score_arrays(*args, h=10.0, H=10, discount_factor=0.99, margin=0.3)
    with pytest.warns(DeprecationWarning, match="discount_factor"):
        old = engine.score_arrays(*args, h=10.0, H=10, discount=0.99, margin=0.3)
    for k in new:
        np.testing.assert_array_equal(old[k], new[k], err_msg=k)
