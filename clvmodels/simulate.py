"""Simulators from the models' generative stories, for checks of fits, predictions and calibration.

Each model's story lives in its package (``clvmodels.models.<model>.simulate``): the BG/NBD's
(:mod:`clvmodels.models.bgnbd.simulate`), the Gamma-Gamma's amounts
(:mod:`clvmodels.models.gamma_gamma.simulate`), and those of the other transaction models. This module
keeps the names the package has always offered: :func:`simulate_summary` (a BG/NBD customer summary)
and :func:`simulate_transactions` (a BG/NBD transaction log, with Gamma-Gamma amounts when given
p, q, v).
"""
from __future__ import annotations

import numpy as np

from .models.bgnbd import simulate as _bgnbd
from .models.gamma_gamma.simulate import simulate_amounts

__all__ = ["simulate_summary", "simulate_transactions"]

simulate_summary = _bgnbd.simulate_summary


def simulate_transactions(n_customers: int, r: float, alpha: float, a: float, b: float,
                          p: float | None = None, q: float | None = None, v: float | None = None, *,
                          start="2020-01-01", acquisition_days: float = 90.0, observation_end=None,
                          time_unit: str = "W", seed=None, return_latent: bool = False):
    """Simulate a transaction log from the BG/NBD (and, with p, q, v, the Gamma-Gamma) story.

    First purchases are spread uniformly over ``acquisition_days`` days from ``start``; purchases are
    observed until ``observation_end`` (default: one year after ``start``). Purchase times are
    continuous; dates are reported with day resolution (midnight timestamps), so a customer's purchases
    on the same day merge in an RFM summary: keep rates well below one a day (r/alpha per ``time_unit``
    is the mean rate). ``alpha`` is in ``time_unit`` ('D', 'W' or 'M').

    With ``p, q, v`` each transaction (the first one included) gets an amount drawn from
    Gamma(p, rate nu), nu ~ Gamma(q, rate v) per customer (currency units); without them there is no
    ``amount`` column.

    Returns a DataFrame (customer_id 1..n, date, [amount]) sorted by customer and date; with
    ``return_latent`` a tuple (transactions, customers), customers indexed by customer_id with
    ``first_purchase`` (timestamp, continuous), ``lam``, ``p``, ``nu`` (if spend), ``alive`` (at the
    observation end) and ``n_repeat`` (repeat purchases before day merging).
    """
    _bgnbd.check_params(r=r, alpha=alpha, a=a, b=b, p=p, q=q, v=v)
    spend = [p is None, q is None, v is None]
    if any(spend) and not all(spend):
        raise ValueError("give all three Gamma-Gamma parameters p, q, v, or none")
    rng = np.random.default_rng(seed)
    log, customers = _bgnbd.simulate_transactions(n_customers, r, alpha, a, b, start=start,
                                                  acquisition_days=acquisition_days, observation_end=observation_end,
                                                  time_unit=time_unit, rng=rng)
    if p is not None:  # the amounts are drawn after the dates, from the same stream
        amount, nu = simulate_amounts(log["customer_id"].to_numpy() - 1, len(customers), p, q, v, rng)
        log["amount"] = amount
        customers["nu"] = nu
    if not return_latent:
        return log
    return log, customers
