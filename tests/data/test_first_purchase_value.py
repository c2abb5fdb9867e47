"""The summary's ``first_purchase_value``: the value of the first purchase occasion (same-day rows
added up), equal in every engine, worked out by hand on a small log and checked against the log on CDNOW
(with monetary_value it gives the mean over all frequency + 1 occasions)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import summarize
from clvmodels.datasets import load_cdnow_sample

LOG = pd.DataFrame({
    "customer_id": [1, 1, 1, 1, 2, 3, 3],
    "date": ["2020-01-01", "2020-01-01", "2020-01-05", "2020-02-01", "2020-01-10", "2020-01-03", "2020-01-20"],
    "amount": [10.0, 5.5, 20.0, 30.0, 500.0, 7.25, 0.0],
})


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_first_purchase_value_by_hand(engine):
    s = summarize(LOG, observation_end="2020-03-01", time_unit="W", engine=engine)
    # customer 1: the first day's two rows are one occasion worth 15.5; repeats 20 and 30
    assert s["first_purchase_value"].tolist() == [15.5, 500.0, 7.25]
    assert s["monetary_value"].tolist() == [25.0, 0.0, 0.0]
    mean_all = (s["first_purchase_value"] + s["frequency"] * s["monetary_value"]) / (s["frequency"] + 1)
    assert mean_all.tolist() == [(15.5 + 20 + 30) / 3, 500.0, 7.25 / 2]
    assert "first_purchase_value" not in summarize(LOG, observation_end="2020-03-01", amount=None,
                                                   engine=engine).columns


def test_first_purchase_value_on_cdnow_equal_across_engines_and_to_the_log():
    log = load_cdnow_sample()
    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    a = summarize(log, engine="pandas", **kw)
    b = summarize(log, engine="duckdb", **kw)
    pd.testing.assert_series_equal(a["first_purchase_value"], b["first_purchase_value"], check_exact=True)
    # independently: the sum of each customer's rows on her first day
    day = pd.to_datetime(log["date"])
    first_day = day.groupby(log["customer_id"]).transform("min")
    ref = log.loc[day == first_day].groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(a["first_purchase_value"].to_numpy(), ref.loc[a.index].to_numpy(), rtol=0, atol=1e-9)
    # the total of all calibration occasions is historical_clv (no returns in CDNOW)
    total = a["first_purchase_value"] + a["frequency"] * a["monetary_value"]
    np.testing.assert_allclose(total, a["historical_clv"], rtol=1e-12)
    # 8 one-time buyers of CDNOW bought for 0 (free items): valid, and the only values that are not positive
    assert (a["first_purchase_value"] >= 0).all() and int((a["first_purchase_value"] == 0).sum()) == 8
