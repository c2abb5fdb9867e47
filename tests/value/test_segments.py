"""Value segments: ties are never cut, and 'at risk' uses the probability of buying again in the horizon
(p_any_purchase), so that one-time buyers who bought long ago can be at risk under BG/NBD (whose P(alive)
is 1 for them)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.value import value_segments


def test_ties_straddling_a_cut_share_the_segment():
    # 10 customers, top 20% = 2: the 2nd and 3rd have the same CLV, so both are high value
    clv = [10.0, 8.0, 8.0, 5.0, 4.0, 3.0, 3.0, 3.0, 1.0, 0.0]
    t = pd.DataFrame({"clv": clv, "p_alive": 0.9, "p_any_purchase": 0.9})
    seg = value_segments(t).astype(str).tolist()
    assert seg[:3] == ["high value"] * 3
    # top 50% = 5: customers 4 and 5 are in; the three with CLV 3 are tied at ranks 6-8, all out
    assert seg[3:5] == ["medium value"] * 2 and seg[5:] == ["low value"] * 5
    # reversing the order of the rows changes nothing (no tie is broken by position)
    rev = value_segments(t.iloc[::-1]).astype(str)
    assert rev.loc[t.index].tolist() == seg


def test_at_risk_uses_p_any_purchase():
    # customer 0: valuable by history, a one-time buyer long ago: P(alive) = 1 (BG/NBD), p_any low
    t = pd.DataFrame({"clv": [1.0, 9.0, 8.0, 2.0, 0.5], "p_alive": [1.0, 0.9, 0.9, 0.9, 0.9],
                      "p_any_purchase": [0.1, 0.8, 0.3, 0.6, 0.6], "historical_clv": [500.0, 1, 1, 1, 1]})
    seg = value_segments(t, risk_value_share=0.5).astype(str).tolist()  # valuable: top 2 by CLV or history
    assert seg[0] == "at risk"                 # by p_any_purchase, although P(alive) = 1
    assert seg[1] == "high value"
    assert seg[2] == "at risk"                 # valuable by CLV, unlikely to buy within the horizon
    assert seg[3:] == ["low value", "low value"]  # beyond the top 2.5 of 5: not valuable, not at risk
    assert value_segments(t, risk_p_any_purchase=None).astype(str).tolist()[0] == "low value"
    assert value_segments(t, risk_p_any_purchase=0.05).astype(str).tolist()[0] == "low value"
    with pytest.raises(ValueError, match="risk_p_any_purchase"):
        value_segments(t, risk_p_any_purchase=1.5)


def test_customers_with_identical_summaries_land_in_the_same_segment(cdnow_transactions):
    from clvmodels import GammaGammaModel, BetaGeoModel, summarize
    from clvmodels.scoring import score

    s = summarize(cdnow_transactions, customer_id="customer_id", date="date", amount="amount",
                  observation_end="1998-06-30", time_unit="W")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoModel(method="map", seed=1, progressbar=False).fit(s)
        gg = GammaGammaModel(method="map", seed=1, progressbar=False).fit(s)
    t = score(s, bg, gg, "52W", max_draws=100)
    keys = ["frequency", "recency", "T", "monetary_value", "historical_clv"]
    groups = t.groupby(keys, observed=True)["segment"].nunique()
    assert (groups.max() == 1) and (t.groupby(keys).size() > 1).sum() > 50  # many tied groups, none split
    # the value tiers hold at least their shares (ties straddling a cut-off all go in)
    n = len(t)
    tier_top = value_segments(t.assign(p_alive=1.0, p_any_purchase=1.0)).astype(str)
    assert (tier_top == "high value").sum() >= 0.2 * n - 1
    # one-time buyers can be at risk now (they could not by P(alive) alone under BG/NBD)
    one_time = t[t["frequency"] == 0]
    assert (one_time["p_alive"] == 1).all() and (one_time["segment"] == "at risk").sum() > 0
    at_risk = t[t["segment"] == "at risk"]
    assert ((at_risk["p_any_purchase"] < 0.5) | (at_risk["p_alive"] < 0.5)).all()
