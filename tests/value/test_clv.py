"""Forward-looking CLV against independent computations (telescoping sums and simulation)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import InputError, UnitError
from clvmodels.models import bgnbd, gamma_gamma
from clvmodels.value import customer_lifetime_value, value_segments


@pytest.fixture(scope="module")
def sub(cdnow_split):
    return cdnow_split.iloc[::60]  # 40 varied customers


def test_undiscounted_clv_is_purchases_times_spend_per_draw(cdnow_bgnbd, cdnow_gamma_gamma, sub):
    clv = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", draws=True, max_draws=None)
    pb, pg = cdnow_bgnbd.draws_(4000), cdnow_gamma_gamma.draws_(4000)
    x, tx, T = (sub[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    mv = np.where(x > 0, sub["monetary_value"].to_numpy(float), 0.0)
    ey = bgnbd.conditional_expected_purchases(pb["r"][:, None], pb["alpha"][:, None], pb["a"][:, None], pb["b"][:, None], x, tx, T, 52.0)
    ez = gamma_gamma.conditional_expected_spend(pg["p"][:, None], pg["q"][:, None], pg["v"][:, None], x, mv)
    np.testing.assert_allclose(clv.values[0], ey * ez, rtol=1e-9)


def test_discounted_purchases_match_simulation(cdnow_bgnbd, cdnow_gamma_gamma, cdnow_split):
    """Simulate future purchase times from the posterior story for one customer and discount each
    purchase at the end of its week: the mean must equal the closed-form discounted purchases."""
    cust = cdnow_split.loc[[1516]]
    annual = 0.3
    res = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, cust, "52W", discount_rate=annual)
    d = 1 / (1 + ((1 + annual) ** (7 / 365.25) - 1))
    p = cdnow_bgnbd.draws_(4000)
    rng = np.random.default_rng(1)
    x, tx, T = 26.0, float(cust["recency"].iloc[0]), float(cust["T"].iloc[0])
    n_sims = 200_000
    idx = rng.integers(0, len(p["r"]), n_sims)
    r, alpha, a, b = (p[k][idx] for k in ("r", "alpha", "a", "b"))
    alive = rng.uniform(size=n_sims) < bgnbd.p_alive(r, alpha, a, b, x, tx, T)
    lam = rng.gamma(r + x, 1 / (alpha + T))
    drop = rng.beta(a, b + x)
    t = np.zeros(n_sims)
    active = alive.copy()
    pv = np.zeros(n_sims)
    while active.any():
        t[active] += rng.exponential(1 / lam[active])
        buy = active & (t <= 52)
        pv[buy] += d ** np.ceil(t[buy])
        active = buy & (rng.uniform(size=n_sims) >= drop)
    assert res["discounted_purchases"].iloc[0] == pytest.approx(pv.mean(), rel=0.01)


def test_interval_carries_spend_uncertainty(cdnow_bgnbd, cdnow_gamma_gamma, sub):
    """On the same joint draws, CLV with the spend draws is wider than CLV with the posterior-mean spend
    plugged in (pymc-marketing's way, which loses the spend uncertainty)."""
    joint = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", draws=True, max_draws=None).values[0]
    spend_draws = cdnow_gamma_gamma.expected_spend(sub, draws=True, max_draws=None).values[0]
    plug = joint / spend_draws * spend_draws.mean(axis=0)
    width = lambda v: np.quantile(v, 0.95, axis=0) - np.quantile(v, 0.05, axis=0)
    ratio = width(joint) / width(plug)
    assert np.median(ratio) > 1.0
    summary = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W")
    assert (summary["clv_lower"] <= summary["clv"]).all() and (summary["clv"] <= summary["clv_upper"]).all()


def test_margin_costs_discount_and_cac(cdnow_bgnbd, cdnow_gamma_gamma, sub):
    base = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W")
    half = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", margin=0.5)
    np.testing.assert_allclose(half["clv"], 0.5 * base["clv"], rtol=1e-12)
    disc = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", discount_rate=0.2)
    assert (disc["clv"] < base["clv"]).all()
    costly = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", cost_to_serve=0.1)
    assert (costly["clv"] < base["clv"]).all()
    # a customer certainly alive pays the cost every week: at most 52 x 0.1 less
    assert ((base["clv"] - costly["clv"]) <= 5.2 + 1e-9).all()
    cac = pd.Series(10.0, index=sub.index)
    with_cac = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", acquisition_cost=cac)
    np.testing.assert_allclose(with_cac["clv_minus_cac"], base["clv"] - 10.0)
    np.testing.assert_allclose(with_cac["clv_cac_ratio"], base["clv"] / 10.0)


def test_window_values_add_up(cdnow_bgnbd, cdnow_gamma_gamma, sub):
    whole = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "156W", discount_rate=0.1)
    y1 = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", discount_rate=0.1)
    y23 = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "156W", start="52W", discount_rate=0.1)
    np.testing.assert_allclose(y1["clv"] + y23["clv"], whole["clv"], rtol=1e-9)


def test_bounded_chunks_give_identical_results(cdnow_bgnbd, cdnow_gamma_gamma, sub):
    a = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W")
    b = customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", budget_bytes=4000 * 8 * 4 * 3)
    pd.testing.assert_frame_equal(a, b)


def test_clv_input_errors(cdnow_bgnbd, cdnow_gamma_gamma, sub):
    with pytest.raises(UnitError):
        customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "12M")
    with pytest.raises(InputError, match="margin"):
        customer_lifetime_value(cdnow_bgnbd, cdnow_gamma_gamma, sub, "52W", margin="no_such_column")


def test_segments():
    t = pd.DataFrame({"clv": np.arange(10.0), "p_alive": [0.9] * 8 + [0.2, 0.9],
                      "historical_clv": [100.0] + [1.0] * 9})
    seg = value_segments(t)
    assert seg.iloc[9] == "high value" and seg.iloc[8] == "at risk"
    assert (seg == "high value").sum() == 1  # customer 8 would be high value but is at risk
    assert seg.iloc[0] == "low value"  # high past value but alive: not at risk
    t.loc[0, "p_alive"] = 0.1
    assert value_segments(t).iloc[0] == "at risk"
