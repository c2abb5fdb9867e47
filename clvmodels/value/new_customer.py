r"""The value of a newly acquired customer, and how much may be paid to acquire one.

A new customer is one acquired now: her first purchase (the acquisition) happens at time 0, and the
transaction model scores her as a customer with frequency 0, recency 0 and T = 0 (every model of the
protocol does). Over the horizon, periods k = 1 .. H of the model's time unit, at joint posterior draw s
(transaction-model draw s with spend-model draw s, as for existing customers):

    repeat_purchases_s = E_s[X(H)]    (the model's expected_purchases_new: BG/NBD FHL 2005 eq. 9; the
                                       purchases *after* the first one, which is not counted)
    CLV_s = sum_k margin * spend_s * (E_s[X(k)] - E_s[X(k-1)]) d^k
          - sum_k cost_to_serve * P_s(alive at k - 1) d^k
          [+ margin * spend_s, with include_first_purchase: the first purchase, at time 0, undiscounted]

with spend_s the spend model's expected spend per transaction of a customer with no repeat purchases
(Gamma-Gamma: the population mean p v/(q - 1)) and d = 1/(1 + i), i the per-period rate compounded
from the annual ``discount_rate``: exactly the CLV of :func:`clvmodels.value.customer_lifetime_value`
for an existing customer, computed by the same scoring pass (:func:`clvmodels.scoring.arrays.score_arrays`)
on the one row (0, 0, 0). By default the CLV is that of the repeat purchases: what the customer is worth
*after* she has been acquired, the figure to set against the cost of acquiring her. Units: currency (the
transaction log's amounts) for CLV and costs, purchases for ``expected_purchases``.

The largest acquisition cost that still pays back is the CLV itself (a customer acquired for c is worth
CLV - c): ``max_acquisition_cost`` is its posterior mean, ``max_acquisition_cost_prudent`` the lower
bound of its credible interval (what is recovered at least, with probability (1 + interval)/2).
"""
from __future__ import annotations

import numpy as np

from ..draws import DEFAULT_CHUNK_BYTES, DEFAULT_SCORING_DRAWS, interval_bounds, joint_scorers
from ..errors import InputError
from ..scoring import arrays as engine
from ..units import Duration, discount_rate_per_period

__all__ = ["new_customer_value"]


def _scalar(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} of a new customer must be one number (not a column or per-customer values), "
                         f"got {type(value).__name__}") from None
    if not np.isfinite(v):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return v


def new_customer_value(purchase_model, spend_model, horizon, *, discount_rate: float = 0.0, margin: float = 1.0,
                       cost_to_serve: float = 0.0, acquisition_cost: float | None = None, interval: float = 0.9,
                       include_first_purchase: bool = False, max_draws: int | None = DEFAULT_SCORING_DRAWS,
                       return_draws: bool = False, spend: float | None = None) -> dict:
    """The value over ``horizon`` of a customer acquired now, with its credible interval from the joint
    posterior draws (see the module docstring for the formulas, units and the first purchase).

    Parameters
    ----------
    purchase_model, spend_model: fitted transaction model (BG/NBD, MBG/NBD, ...) and spend model.
    horizon: a duration with its unit ('52W'); whole periods of the model's time unit.
    discount_rate: annual rate (0.1 = 10% a year), compounded to the model's period.
    margin: fraction of revenue kept; cost_to_serve: currency per period while alive (scalars).
    acquisition_cost: currency per acquired customer; adds ``clv_cac_ratio`` (posterior mean CLV / cost).
    include_first_purchase: add the first purchase's margin (at time 0, undiscounted) to the CLV.
    max_draws: joint draws used (default 1,000, evenly thinned; None = all).
    return_draws: also return the per-draw ``clv_draws`` and ``expected_purchases_draws`` (arrays (S,)).
    spend: a known spend per purchase of the new customer (currency), with ``spend_model=None``: the
        CLV then uses it at every draw of the purchase model (:mod:`clvmodels.value.spend`); the
        forecast passes the customer-weighted mean of the supplied spends. With ``spend_model=None``
        and no ``spend``: only the expected purchases (no spend, CLV or acquisition-cost entries).

    Returns a dict: ``expected_purchases`` (posterior mean repeat purchases in the horizon, the first
    purchase not counted) with ``expected_purchases_lower``/``_upper``; ``expected_spend`` (per
    transaction, posterior mean); ``clv``, ``clv_lower``, ``clv_upper``; ``max_acquisition_cost`` (=
    ``clv``, the mean) and ``max_acquisition_cost_prudent`` (= ``clv_lower``); with an acquisition cost,
    ``acquisition_cost``, ``clv_cac_ratio`` and ``clv_minus_cac``; and the settings (``horizon`` as
    text, ``horizon_periods``, ``time_unit``, ``discount_rate_annual``, ``discount_rate_per_period``,
    ``margin``, ``cost_to_serve``, ``interval``, ``include_first_purchase``, ``n_draws``,
    ``statistic``).
    """
    from .clv import _periods

    from .spend import SuppliedSpend

    purchase_model._check_fitted()
    if spend is not None and spend_model is not None:
        raise ValueError("give a spend model or spend (a known spend per purchase), not both")
    if spend_model is not None:
        spend_model._check_fitted()
    lo_q, hi_q = interval_bounds(interval)
    margin = _scalar(margin, "margin")
    cost = _scalar(cost_to_serve, "cost_to_serve")
    k0, H = _periods(purchase_model, horizon, None)
    i = discount_rate_per_period(discount_rate, purchase_model.time_unit_)
    d = 1.0 / (1.0 + i)
    zero = np.zeros(1)
    if spend_model is not None:
        purchases, scorer = joint_scorers(purchase_model, spend_model, max_draws)
        if hasattr(scorer, "for_new_customers"):  # no purchase value observed yet: the population's spend
            scorer = scorer.for_new_customers()
        value = zero
    else:
        purchases = purchase_model.scorer(max_draws)
        if spend is None:
            return _purchases_only(purchases, purchase_model, horizon, H, interval, return_draws)
        value = np.array([_scalar(spend, "spend")])
        if value[0] < 0:
            raise InputError(f"spend must be 0 or more, got {spend!r}")
        scorer = SuppliedSpend(purchases.n_draws)
    arr = engine.score_arrays(purchases, scorer, zero, zero, zero, value, h=float(H), k0=0, H=H, discount_factor=d,
                              margin=margin, cost=cost, interval=interval, counts=False,
                              budget_bytes=DEFAULT_CHUNK_BYTES, groups=np.zeros(1, dtype=np.int64))
    clv = arr["group_clv_draws"][0].copy()                                       # (S,)
    spend_new = scorer.spend(zero, value)[0]                                     # (S,)
    if include_first_purchase:
        clv += margin * spend_new
    # the model's own formula for a new customer's expected purchases (the scoring pass gives the same)
    ep = np.asarray(purchases.expected_purchases_new(float(H)), dtype=float).reshape(-1)
    if ep.shape != clv.shape or not (np.isfinite(ep).all() and np.isfinite(clv).all()):
        from ..errors import FitError

        raise FitError("the new customer's expected purchases or CLV are not finite at every draw")
    out = {
        "expected_purchases": float(ep.mean()),
        "expected_purchases_lower": float(np.quantile(ep, lo_q)),
        "expected_purchases_upper": float(np.quantile(ep, hi_q)),
        "expected_purchases_note": "repeat purchases after the first (acquisition) purchase",
        "expected_spend": float(spend_new.mean()),
        "clv": float(clv.mean()),
        "clv_lower": float(np.quantile(clv, lo_q)),
        "clv_upper": float(np.quantile(clv, hi_q)),
        "statistic": "clv is the posterior mean; clv_lower/clv_upper the central interval's bounds",
        "max_acquisition_cost": float(clv.mean()),
        "max_acquisition_cost_prudent": float(np.quantile(clv, lo_q)),
        "horizon": str(Duration.parse(horizon)),
        "horizon_periods": int(H),
        "time_unit": purchase_model.time_unit_,
        "discount_rate_annual": float(discount_rate),
        "discount_rate_per_period": float(i),
        "margin": margin,
        "cost_to_serve": cost,
        "interval": float(interval),
        "include_first_purchase": bool(include_first_purchase),
        "n_draws": int(clv.size),
    }
    if acquisition_cost is not None:
        cac = _scalar(acquisition_cost, "acquisition_cost")
        if cac <= 0:
            raise InputError("acquisition_cost must be positive (clv_cac_ratio divides by it); leave it out when "
                             "there is none")
        out.update({"acquisition_cost": cac, "clv_cac_ratio": out["clv"] / cac, "clv_minus_cac": out["clv"] - cac})
    if spend is not None:  # the value given, exactly (not a mean over draws of it)
        out.update({"expected_spend": float(value[0]), "spend_source": "supplied"})
    if return_draws:
        out["clv_draws"] = clv
        out["expected_purchases_draws"] = ep
    return out


def _purchases_only(purchases, purchase_model, horizon, H: int, interval: float, return_draws: bool) -> dict:
    """A new customer's expected repeat purchases alone (no spend: no CLV)."""
    lo_q, hi_q = interval_bounds(interval)
    ep = np.asarray(purchases.expected_purchases_new(float(H)), dtype=float).reshape(-1)
    if not np.isfinite(ep).all():
        from ..errors import FitError

        raise FitError("the new customer's expected purchases are not finite at every draw")
    out = {"expected_purchases": float(ep.mean()), "expected_purchases_lower": float(np.quantile(ep, lo_q)),
           "expected_purchases_upper": float(np.quantile(ep, hi_q)),
           "expected_purchases_note": "repeat purchases after the first (acquisition) purchase",
           "note": "no spend (no amounts and no supplied spend): the new customer's CLV is left out",
           "horizon": str(Duration.parse(horizon)), "horizon_periods": int(H), "time_unit": purchase_model.time_unit_,
           "interval": float(interval), "n_draws": int(ep.size)}
    if return_draws:
        out["expected_purchases_draws"] = ep
    return out
