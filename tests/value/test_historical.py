"""Historical CLV and the two rule-of-thumb formulas: values, per-customer Series, and refusals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import summarize
from clvmodels.datasets import load_cdnow_sample
from clvmodels.errors import InputError
from clvmodels.value.historical import accurate_clv, historical_clv, simple_clv


@pytest.fixture(scope="module")
def cdnow_summary():
    return summarize(load_cdnow_sample(), observation_end="1998-06-30", calibration_end="1997-09-30")


def test_historical_clv_is_total_spend_to_the_calibration_end(cdnow_summary):
    tx = load_cdnow_sample()
    spend = tx[tx["date"] <= "1997-09-30"].groupby("customer_id")["amount"].sum()
    h = historical_clv(cdnow_summary)
    assert isinstance(h, pd.Series) and h.index.equals(cdnow_summary.index)
    assert np.allclose(h.to_numpy(), spend.loc[h.index].to_numpy(), rtol=0, atol=1e-9)
    assert h.loc[1] == pytest.approx(29.33 + 29.73 + 14.96)  # first purchase included
    assert h.sum() == pytest.approx(spend.sum())


def test_historical_clv_with_scalar_and_per_customer_margin(cdnow_summary):
    h = historical_clv(cdnow_summary, margin=0.3)
    assert np.allclose(h, cdnow_summary["historical_clv"] * 0.3)
    margins = pd.Series(np.where(cdnow_summary.index % 2 == 0, 0.5, 0.2), index=cdnow_summary.index)[::-1]
    h2 = historical_clv(cdnow_summary, margin=margins)  # aligned by customer, not by position
    assert h2.loc[2] == pytest.approx(cdnow_summary.loc[2, "historical_clv"] * 0.5)
    assert h2.loc[1] == pytest.approx(cdnow_summary.loc[1, "historical_clv"] * 0.2)


def test_historical_clv_needs_a_summary():
    with pytest.raises(InputError, match="historical_clv"):
        historical_clv(pd.DataFrame({"frequency": [1]}))


def test_simple_clv_scalars():
    # $50 orders, 2 a month, 36 months, 25 % margin
    assert simple_clv(50.0, 2.0, 36, margin=0.25) == 900.0
    assert simple_clv(50.0, 2.0, 36) == 3600.0
    assert isinstance(simple_clv(1, 1, 1), float)


def test_accurate_clv_scalars():
    # (1200 x 0.5 - 100) x 3 - 200
    assert accurate_clv(1200.0, 3, acquisition_cost=200.0, cost_to_serve=100.0, margin=0.5) == 1300.0
    assert accurate_clv(1000.0, 2) == 2000.0
    # a customer can cost more than they bring
    assert accurate_clv(100.0, 1, acquisition_cost=500.0) == -400.0


def test_per_customer_series_are_aligned_by_index():
    aov = pd.Series([10.0, 20.0, 30.0], index=["a", "b", "c"])
    rate = pd.Series([3.0, 2.0, 1.0], index=["c", "b", "a"])  # another order
    out = simple_clv(aov, rate, 12, margin=0.5)
    assert list(out.index) == ["a", "b", "c"]
    assert out.tolist() == [10 * 1 * 12 * 0.5, 20 * 2 * 12 * 0.5, 30 * 3 * 12 * 0.5]
    cost = pd.Series([50.0, 0.0, 10.0], index=["a", "b", "c"])
    acc = accurate_clv(aov * 12, 2, acquisition_cost=cost, cost_to_serve=5.0)
    assert acc.tolist() == [(120 - 5) * 2 - 50, (240 - 5) * 2 - 0, (360 - 5) * 2 - 10]


def test_series_with_different_customers_are_refused():
    aov = pd.Series([10.0, 20.0], index=["a", "b"])
    rate = pd.Series([1.0, 2.0], index=["a", "z"])
    with pytest.raises(InputError) as info:
        simple_clv(aov, rate, 12)
    text = str(info.value)
    assert "purchases_per_period" in text and "'b'" in text and "'z'" in text


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(average_order_value=-1.0, purchases_per_period=1, expected_lifespan=1), "average_order_value"),
    (dict(average_order_value=1.0, purchases_per_period=1, expected_lifespan=1, margin=1.5), "between 0 and 1"),
    (dict(average_order_value=np.nan, purchases_per_period=1, expected_lifespan=1), "finite"),
    (dict(average_order_value="ten", purchases_per_period=1, expected_lifespan=1), "must be a number"),
])
def test_bad_arguments_are_refused_with_their_name(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        simple_clv(**kwargs)


def test_accurate_clv_refuses_negative_costs_all_at_once():
    with pytest.raises(InputError) as info:
        accurate_clv(100.0, -1, acquisition_cost=-5.0, cost_to_serve=pd.Series([1.0, -2.0]))
    names = {p.column for p in info.value.problems}
    assert names == {"years_retained", "acquisition_cost", "cost_to_serve"}


def test_docstring_examples_hold():
    import doctest

    import clvmodels.value.historical as module

    result = doctest.testmod(module)
    assert result.attempted >= 2 and result.failed == 0
