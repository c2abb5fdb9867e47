"""CLV from a spend per purchase the user supplies (score/forecast spend=): the CLV against a direct
computation (the purchase model's draws, FHL 2005 eq. 10 with scipy's hyp2f1, discounted period by
period, x the spend x margin), the new customer's against FHL eq. 9, the expected_spend column and its
point interval, the metadata, and every refusal of a bad spend naming the customers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from clvmodels import forecast
from clvmodels.errors import InputError
from clvmodels.scoring import score
from clvmodels.units import discount_rate_per_period
from clvmodels.value import new_customer_value

HORIZON_WEEKS = 26
RATE = 0.15
MARGIN = 0.4


@pytest.fixture(scope="module")
def bgnbd_map(cdnow_split):
    from clvmodels import BetaGeoModel

    return BetaGeoModel(method="map", seed=7, progressbar=False).fit(cdnow_split)


@pytest.fixture(scope="module")
def spends(cdnow_split) -> pd.Series:
    """A made-up contract price per customer, 5 to 60, not a function of the summary."""
    rng = np.random.default_rng(3)
    return pd.Series(rng.uniform(5, 60, len(cdnow_split)).round(2), index=cdnow_split.index, name="price")


def expected_purchases_fhl(r, alpha, a, b, x, tx, T, t):
    """FHL 2005 eq. 10: E[Y(t) | x, t_x, T] at draws (arrays broadcast), written out independently."""
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                       * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
    den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return num / den


def direct_clv_draws(model, summary, spend, horizon, rate, margin, max_draws):
    """(S, customers): margin x spend x sum_k d^k (E[Y(k)] - E[Y(k-1)]), k = 1..H, at each draw."""
    p = model.draws_(max_draws)
    r, alpha, a, b = (p[k][:, None] for k in ("r", "alpha", "a", "b"))
    x, tx, T = (summary[c].to_numpy(float)[None, :] for c in ("frequency", "recency", "T"))
    d = 1.0 / (1.0 + discount_rate_per_period(rate, "W"))
    ey = [np.zeros((len(p["r"]), summary.shape[0]))]
    ey += [expected_purchases_fhl(r, alpha, a, b, x, tx, T, float(k)) for k in range(1, horizon + 1)]
    pv = sum(d ** k * (ey[k] - ey[k - 1]) for k in range(1, horizon + 1))
    return margin * spend[None, :] * pv


def test_clv_with_a_supplied_spend_matches_the_direct_computation(bgnbd_map, cdnow_split, spends):
    # 60 customers across the range of frequency and T; every draw of the MAP's Laplace posterior
    sample = cdnow_split.sort_values(["frequency", "T"]).iloc[np.linspace(0, len(cdnow_split) - 1, 60).astype(int)]
    table = score(sample, bgnbd_map, None, f"{HORIZON_WEEKS}W", discount_rate=RATE, margin=MARGIN,
                  spend=spends, max_draws=400).set_index("customer_id")
    direct = direct_clv_draws(bgnbd_map, sample, spends.loc[sample.index].to_numpy(), HORIZON_WEEKS, RATE, MARGIN, 400)
    assert direct.shape == (400, 60)
    np.testing.assert_allclose(table["clv"], direct.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(table["clv_lower"], np.quantile(direct, 0.05, axis=0), rtol=1e-9)
    np.testing.assert_allclose(table["clv_upper"], np.quantile(direct, 0.95, axis=0), rtol=1e-9)
    # the CLV interval is the purchase model's: not a point (the spend is known, the purchases are not)
    assert (table["clv_upper"] - table["clv_lower"] > 0).all()
    # the expected_spend column is the value given, and its interval is that point
    given = spends.loc[sample.index].to_numpy()
    for c in ("expected_spend", "expected_spend_lower", "expected_spend_upper"):
        np.testing.assert_array_equal(table[c].to_numpy(), given)
    assert table.attrs["clvmodels_clv"]["spend"]["source"] == "supplied"


def test_first_time_buyers_keep_their_supplied_spend(bgnbd_map, cdnow_split):
    """The Gamma-Gamma path zeroes monetary_value for frequency 0; a supplied spend is used as given."""
    one_timers = cdnow_split[cdnow_split["frequency"] == 0].head(20)
    t1 = score(one_timers, bgnbd_map, None, "26W", spend=10.0, max_draws=200).set_index("customer_id")
    t2 = score(one_timers, bgnbd_map, None, "26W", spend=30.0, max_draws=200).set_index("customer_id")
    assert (t1["expected_spend"] == 10.0).all() and (t1["clv"] > 0).all()
    # CLV is linear in the spend: three times the spend, three times the CLV, draw by draw (the bounds too)
    for c in ("clv", "clv_lower", "clv_upper"):
        np.testing.assert_allclose(t2[c], 3 * t1[c], rtol=1e-12)


def test_a_spend_column_of_the_summary_and_a_scalar_give_the_same_numbers(bgnbd_map, cdnow_split):
    data = cdnow_split.head(300).assign(price=12.5)
    by_column = score(data, bgnbd_map, None, "26W", spend="price", max_draws=200)
    by_scalar = score(data, bgnbd_map, None, "26W", spend=12.5, max_draws=200)
    pd.testing.assert_frame_equal(by_column.drop(columns="segment"), by_scalar.drop(columns="segment"))


@pytest.mark.parametrize("bad, words", [
    (np.nan, "missing"), (np.inf, "infinite"), (-1.0, "negative"),
])
def test_bad_spends_are_refused_naming_the_customers(bgnbd_map, cdnow_split, spends, bad, words):
    s = spends.copy()
    s.loc[[5, 17]] = bad
    with pytest.raises(InputError) as exc:
        score(cdnow_split, bgnbd_map, None, "26W", spend=s)
    msg = str(exc.value)
    assert words in msg and "price" in msg and "(2 rows)" in msg
    assert " 5 " in msg.replace("\n", " ") and " 17 " in msg.replace("\n", " ")


def test_customers_without_a_spend_are_named(bgnbd_map, cdnow_split, spends):
    with pytest.raises(InputError, match=r"no spend for 3 customers of the summary .*\[2355, 2356, 2357\]"):
        score(cdnow_split, bgnbd_map, None, "26W", spend=spends.iloc[:-3])
    with pytest.raises(InputError, match="names no column"):
        score(cdnow_split, bgnbd_map, None, "26W", spend="price")
    with pytest.raises(InputError, match="finite number of 0 or more"):
        score(cdnow_split, bgnbd_map, None, "26W", spend=-3)
    with pytest.raises(InputError, match="more than one spend"):
        score(cdnow_split, bgnbd_map, None, "26W", spend=pd.concat([spends, spends.iloc[:2]]))


def test_a_spend_model_and_a_spend_are_not_both_taken(bgnbd_map, cdnow_split, spends):
    with pytest.raises(ValueError, match="not both"):
        score(cdnow_split, bgnbd_map, bgnbd_map, "26W", spend=spends)


def test_the_new_customer_with_a_supplied_spend_matches_fhl_eq_9(bgnbd_map):
    nc = new_customer_value(bgnbd_map, None, "26W", discount_rate=RATE, margin=MARGIN, spend=20.0, max_draws=300,
                            return_draws=True)
    p = bgnbd_map.draws_(300)
    r, alpha, a, b = (p[k] for k in ("r", "alpha", "a", "b"))
    d = 1.0 / (1.0 + discount_rate_per_period(RATE, "W"))

    def ex(t):  # FHL eq. 9: E[X(t)] of a customer acquired at 0
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))

    direct = MARGIN * 20.0 * sum(d ** k * (ex(k) - ex(k - 1)) for k in range(1, 27))
    np.testing.assert_allclose(nc["clv_draws"], direct, rtol=1e-9)
    assert nc["expected_spend"] == 20.0 and nc["spend_source"] == "supplied"


def test_forecast_with_a_supplied_spend_fits_no_spend_model(cdnow_split, spends):
    res = forecast(summary=cdnow_split, spend=spends, horizon="26W", discount_rate=RATE, margin=MARGIN,
                   method="map", seed=7, progress=False, max_draws=300, currency="EUR")
    assert res.spend_model is None and "gamma_gamma" not in res.metadata["models"]
    meta = res.metadata
    assert meta["spend"]["source"] == "supplied" and meta["spend"]["mean"] == pytest.approx(spends.mean())
    assert "point" in meta["columns"]["expected_spend_upper"]["description"]
    assert "supplied" in meta["columns"]["clv"]["description"] and meta["columns"]["clv"]["unit"] == "EUR"
    # the new customer: valued at the customers' mean supplied spend, and the note says so
    assert meta["new_customer"]["expected_spend"] == pytest.approx(spends.mean())
    assert "mean of the supplied spends" in meta["new_customer"]["note"]
    assert res.table["segment"].notna().all() and np.isfinite(res.table["clv"]).all()
    # new_customer_spend= sets it instead
    res2 = forecast(summary=cdnow_split.head(500), spend=spends, new_customer_spend=40.0, horizon="26W",
                    method="map", seed=7, progress=False, max_draws=300)
    assert res2.metadata["new_customer"]["expected_spend"] == 40.0
    assert "as given" in res2.metadata["new_customer"]["note"]
