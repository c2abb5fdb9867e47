"""Forward-looking, discounted customer lifetime value with credible intervals.

For customer c and joint posterior draw s (draw s of the BG/NBD model paired with draw s of the
Gamma-Gamma model: the two posteriors are independent, so the pair is a draw from the joint posterior),
over future periods k = k0+1 .. H of the model's time unit (k0 = 0 unless a window is asked for):

    CLV_s(c) = sum_k  margin * E_s[spend | c] * (E_s[Y(k) | c] - E_s[Y(k-1) | c]) * d^k
             - sum_k  cost_to_serve * P_s(alive at T + k - 1 | c) * d^k

where E_s[Y(t) | c] is the BG/NBD conditional expected number of purchases in (T, T + t] (FHL 2005
eq. 10), E_s[spend | c] the Gamma-Gamma conditional expected spend per transaction, d = 1/(1 + i) with
i the per-period discount rate converted from the annual rate by compounding
(i = (1 + annual)^(1/periods per year) - 1), so cash flows are discounted at the end of their period.
Units: currency (the amounts of the transaction log) for CLV, margin is a fraction of revenue, and
cost_to_serve is currency per period while the customer is alive.

The interval comes from these joint draws, so it carries the uncertainty of both purchase and spend
parameters. Work is done per distinct (frequency, recency, T) and per distinct (frequency,
monetary_value), chunk by chunk over customers, and reduced to per-customer mean and quantiles, so
the draws x customers x periods array is never held whole.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._renamed import renamed_keywords
from ..errors import InputError, Problem, UnitError
from ..scoring import arrays as engine
from ..draws import (DEFAULT_CHUNK_BYTES, DEFAULT_SCORING_DRAWS, chunk_rows, distinct, interval_bounds,
                       joint_draws, joint_scorers)  # noqa: F401 (joint_draws: the old path)
from ..units import Duration, discount_rate_per_period


def _per_customer(value, data: pd.DataFrame, name: str) -> np.ndarray:
    """A scalar, a column name of ``data``, or a Series aligned to ``data``'s index, as an array."""
    if isinstance(value, str):
        if value not in data.columns:
            raise InputError(f"{name}={value!r} names no column of the summary")
        arr = data[value].to_numpy(float)
    elif isinstance(value, pd.Series):
        missing = ~data.index.isin(value.index)
        if missing.any():
            raise InputError(f"{name} has no value for {int(missing.sum())} customers, e.g. {list(data.index[missing][:5])}")
        arr = value.reindex(data.index).to_numpy(float)
    else:
        arr = np.full(len(data), float(value))
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} has missing or non-finite values")
    return arr


def check_models_and_data(purchase_model, spend_model, data: pd.DataFrame, what: str) -> None:
    """What every scoring entry point checks first: both models fitted, the summary's columns valid for
    both, and its recorded time unit the models' (the one prologue of score() and
    customer_lifetime_value())."""
    from ..models.base import check_data_unit

    # spend_model None: a supplied spend per customer, or the purchases only
    purchase_model._check_fitted()
    if spend_model is not None:
        spend_model._check_fitted()
    purchase_model.check_data(data, what)
    if spend_model is not None:
        spend_model.check_data(data, what)
    check_data_unit(data, purchase_model.time_unit_, who="the models were")


def _periods(bg, horizon, start) -> tuple[int, int]:
    h = Duration.parse(horizon).in_unit(bg.time_unit_)
    k0 = 0.0 if start is None else Duration.parse(start).in_unit(bg.time_unit_)
    if h != int(h) or k0 != int(k0):
        raise UnitError(f"CLV horizons are whole periods of {bg.time_unit_}; got {horizon} / {start}")
    if k0 >= h:
        raise ValueError(f"the window start ({start}) must be before its end ({horizon})")
    return int(k0), int(h)


def add_cac_columns(table: pd.DataFrame, cac: np.ndarray) -> None:
    """Add ``clv_minus_cac`` (with the CLV interval shifted by the cost) and ``clv_cac_ratio`` (posterior
    mean CLV over acquisition cost; > 1: the customer pays back) in place. The cost must be positive:
    a ratio over a cost of 0 is undefined, and no column may hold NaN or inf."""
    nonpos = cac <= 0
    if nonpos.any():
        rows = pd.DataFrame({"acquisition_cost": cac[nonpos]}, index=table.index[nonpos])
        raise InputError([Problem("acquisition_cost", "the acquisition cost must be positive (clv_cac_ratio divides "
                                  "by it); leave it out when there is none", rows, int(nonpos.sum()))],
                         what="acquisition costs")
    clv = table["clv"].to_numpy()
    table["clv_minus_cac"] = clv - cac
    table["clv_minus_cac_lower"] = table["clv_lower"].to_numpy() - cac
    table["clv_minus_cac_upper"] = table["clv_upper"].to_numpy() - cac
    table["clv_cac_ratio"] = clv / cac


def _clv_draws(purchases, spend, data, x, tx, T, mv, margins, costs, k0, H, d, with_alive, budget_bytes):
    """CLV per joint draw and customer as an xarray DataArray (chain, draw, customer_id), by the direct
    formulas (:func:`present_value_factors`): for notebook-sized data."""
    import xarray as xr

    S = purchases.n_draws
    trip = distinct(x, tx, T)
    n = len(data)
    full = np.empty((S, n))
    step = chunk_rows(S, 2 * (H - k0 + 1), budget_bytes)
    for j in range(0, len(trip), step):
        sl = slice(j, j + step)
        pv, alive_pv = purchases.present_values(trip.keys[0][sl], trip.keys[1][sl], trip.keys[2][sl], k0, H, d,
                                                with_alive)
        rows = np.flatnonzero((trip.inverse >= j) & (trip.inverse < j + step))
        loc = trip.inverse[rows] - j
        spend_per_purchase = spend.expected_spend(x[rows], mv[rows])
        full[:, rows] = margins[rows] * spend_per_purchase * pv[:, loc] - costs[rows] * alive_pv[:, loc]
    return xr.DataArray(full[None], dims=("chain", "draw", "customer_id"),
                        coords={"customer_id": data.index.to_numpy()}, name="clv")


@renamed_keywords(bgnbd_model="purchase_model", gamma_gamma_model="spend_model")
def customer_lifetime_value(purchase_model, spend_model, data: pd.DataFrame, horizon, *,
                            start=None, discount_rate: float = 0.0, margin=1.0, cost_to_serve=0.0,
                            acquisition_cost=None, interval: float = 0.9, max_draws: int | None = DEFAULT_SCORING_DRAWS,
                            budget_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False,
                            draws: bool = False) -> pd.DataFrame:
    """Discounted CLV per customer over ``horizon`` (or the window (start, horizon]) with its credible
    interval. See the module docstring for the formula and units.

    Parameters
    ----------
    purchase_model, spend_model: fitted :class:`BetaGeoModel` and :class:`GammaGammaModel`.
    data: customer summary (frequency, recency, T, monetary_value), indexed by customer.
    horizon, start: durations with their unit, e.g. '52W'; whole periods of the model's unit.
    discount_rate: annual rate (0.1 = 10% a year), converted to the model's period by compounding.
    margin: fraction of revenue kept (scalar, column name or Series by customer).
    cost_to_serve: currency per period while alive (scalar, column name or Series).
    acquisition_cost: optional (scalar, column or Series): adds ``clv_minus_cac`` (with interval) and
        ``clv_cac_ratio`` (posterior mean CLV / acquisition cost).
    max_draws: joint draws used (default 1,000, evenly thinned; None = all). 1,000 draws pin the 5% and
        95% quantiles well. The computation is :func:`clvmodels.scoring.arrays.score_arrays` (see there why it
        costs far less than draws x customers x periods hypergeometric functions).
    draws: return the CLV of every joint draw and customer as an xarray DataArray (chain, draw,
        customer_id) instead, computed by the direct per-period formulas (for notebook-sized data).
    Returns a DataFrame indexed like ``data``: ``clv``, ``clv_lower``, ``clv_upper``, ``expected_spend``
    (posterior mean spend per transaction), ``discounted_purchases`` (posterior mean).
    """
    bg, gg = purchase_model, spend_model
    check_models_and_data(bg, gg, data, "data to value")
    k0, H = _periods(bg, horizon, start)
    i = discount_rate_per_period(discount_rate, bg.time_unit_)
    d = 1.0 / (1.0 + i)
    margins = _per_customer(margin, data, "margin")
    costs = _per_customer(cost_to_serve, data, "cost_to_serve")
    with_alive = bool(np.any(costs != 0))
    interval_bounds(interval)  # a bad level is refused before any work

    purchases, spend = joint_scorers(bg, gg, max_draws)
    S = purchases.n_draws
    x = data["frequency"].to_numpy(float)
    tx = data["recency"].to_numpy(float)
    T = data["T"].to_numpy(float)
    mv = (gg.spend_values(data) if hasattr(gg, "spend_values")
          else np.where(x > 0, data["monetary_value"].to_numpy(float), 0.0))
    if draws:
        return _clv_draws(purchases, spend, data, x, tx, T, mv, margins, costs, k0, H, d, with_alive, budget_bytes)
    arr = engine.score_arrays(purchases, spend, x, tx, T, mv, h=float(H), k0=k0, H=H, discount_factor=d,
                              margin=margins, cost=costs, interval=interval, counts=False, budget_bytes=budget_bytes,
                              progress=progress)
    out = {k: arr[k] for k in ("clv", "clv_lower", "clv_upper", "expected_spend", "discounted_purchases")}
    res = pd.DataFrame(out, index=data.index)
    if acquisition_cost is not None:
        add_cac_columns(res, _per_customer(acquisition_cost, data, "acquisition_cost"))
    res.attrs["clvmodels_clv"] = {"horizon": str(Duration.parse(horizon)), "start": None if start is None else str(Duration.parse(start)),
                                  "discount_rate_annual": discount_rate, "discount_rate_per_period": i,
                                  "interval": interval, "n_draws": int(S)}
    return res
