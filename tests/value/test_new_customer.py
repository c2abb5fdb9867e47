"""The value of a new customer (clvmodels.value.new_customer_value) against a direct computation from
the formulas at every joint draw: the model's expected purchases of a new customer E(t) (FHL 2005 eq. 9
for BG/NBD; BDF 2007 for MBG/NBD) differenced per period and discounted, times the Gamma-Gamma
population mean spend p v/(q - 1), minus the discounted cost of the periods she is alive."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from clvmodels.draws import joint_scorers
from clvmodels.errors import InputError
from clvmodels.units import discount_rate_per_period
from clvmodels.value import new_customer_value

DRAWS = 300


@pytest.fixture(scope="module")
def cdnow_full(cdnow_transactions):
    from clvmodels import summarize

    return summarize(cdnow_transactions, customer_id="customer_id", date="date", amount="amount",
                     observation_end="1998-06-30", time_unit="W")


@pytest.fixture(scope="module", params=["bgnbd", "mbgnbd"])
def models(request, cdnow_full):
    from clvmodels import GammaGammaModel
    from clvmodels.models.registry import transaction_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        purchases = transaction_model(request.param, method="map", seed=3, progressbar=False).fit(cdnow_full)
        spend = GammaGammaModel(method="map", seed=3, progressbar=False).fit(cdnow_full)
    return purchases, spend


def _direct(purchases, spend, H, rate, margin, cost):
    """Per joint draw: (E(H), CLV) from the formulas, period by period."""
    pu, sp = joint_scorers(purchases, spend, DRAWS)
    d = 1.0 / (1.0 + discount_rate_per_period(rate, purchases.time_unit_))
    E = np.stack([np.asarray(pu.expected_purchases_new(float(k)), float).reshape(-1) for k in range(H + 1)], axis=1)
    p, q, v = (np.asarray(getattr(sp, k), float).reshape(-1) for k in ("p", "q", "v"))
    mean_spend = p * v / (q - 1.0)                       # Gamma-Gamma population mean spend per transaction
    disc = d ** np.arange(1, H + 1)
    zero = np.zeros(1)
    # P(alive at k - 1) of a new customer: the conditional formula at x = t_x = T = 0
    alive = np.stack([np.asarray(pu.future_p_alive(zero, zero, zero, float(k - 1)), float).reshape(-1)
                      for k in range(1, H + 1)], axis=1)
    clv = margin * mean_spend * (np.diff(E, axis=1) @ disc) - cost * (alive @ disc)
    return E[:, H], clv, margin * mean_spend


@pytest.mark.parametrize("cost", [0.0, 0.4])
def test_new_customer_value_equals_the_direct_formulas(models, cost):
    purchases, spend = models
    H, rate, margin = 52, 0.1, 0.3
    v = new_customer_value(purchases, spend, "52W", discount_rate=rate, margin=margin, cost_to_serve=cost,
                           max_draws=DRAWS, return_draws=True)
    ep, clv, _ = _direct(purchases, spend, H, rate, margin, cost)
    np.testing.assert_allclose(v["expected_purchases_draws"], ep, rtol=1e-12)
    np.testing.assert_allclose(v["clv_draws"], clv, rtol=1e-9, atol=1e-9)
    assert v["expected_purchases"] == pytest.approx(ep.mean(), rel=1e-12)
    assert v["clv"] == pytest.approx(clv.mean(), rel=1e-9)
    assert v["clv_lower"] == pytest.approx(np.quantile(clv, 0.05), rel=1e-9)
    assert v["clv_upper"] == pytest.approx(np.quantile(clv, 0.95), rel=1e-9)
    assert v["max_acquisition_cost"] == v["clv"] and v["max_acquisition_cost_prudent"] == v["clv_lower"]
    assert v["horizon"] == "52W" and v["horizon_periods"] == 52 and v["time_unit"] == "W"
    assert v["n_draws"] == DRAWS and not v["include_first_purchase"]
    # the CDNOW new customer: about 1.5 repeat purchases in a year, worth about 15 at a 30% margin
    assert 1.3 < v["expected_purchases"] < 1.7
    if cost == 0:
        assert 12 < v["clv"] < 19


def test_first_purchase_and_acquisition_cost(models):
    purchases, spend = models
    base = new_customer_value(purchases, spend, "26W", margin=0.5, max_draws=DRAWS, return_draws=True)
    ep, clv, first = _direct(purchases, spend, 26, 0.0, 0.5, 0.0)
    with_first = new_customer_value(purchases, spend, "26W", margin=0.5, include_first_purchase=True,
                                    acquisition_cost=8.0, max_draws=DRAWS, return_draws=True)
    np.testing.assert_allclose(with_first["clv_draws"], clv + first, rtol=1e-9)
    assert with_first["expected_purchases"] == base["expected_purchases"]  # the first purchase is not counted
    assert with_first["clv_cac_ratio"] == pytest.approx(with_first["clv"] / 8.0)
    assert with_first["clv_minus_cac"] == pytest.approx(with_first["clv"] - 8.0)
    # no discounting over half a year: the CLV is margin x mean spend x E(26) at every draw
    np.testing.assert_allclose(base["clv_draws"], 0.5 * (first / 0.5) * ep, rtol=1e-9)


def test_bad_arguments(models):
    purchases, spend = models
    with pytest.raises(InputError, match="acquisition_cost"):
        new_customer_value(purchases, spend, "52W", acquisition_cost=0.0, max_draws=20)
    with pytest.raises(InputError, match="margin"):
        new_customer_value(purchases, spend, "52W", margin="margin", max_draws=20)
    with pytest.raises(ValueError, match="interval"):
        new_customer_value(purchases, spend, "52W", interval=1.5, max_draws=20)
