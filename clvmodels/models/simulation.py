"""What the models' simulators share: when customers are acquired, the spacing of a customer's purchase
times, and the transaction log with day-resolution dates. Each model's story (who buys how often, who
drops out when) stays in its package's ``simulate.py``; the helpers here draw from the caller's
Generator in a fixed order, so that a seed gives the same log as before they were shared."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..units import DAYS_PER_UNIT, check_unit

__all__ = ["check_params", "acquisition", "purchase_spacings", "transaction_log"]


def check_params(**kw):
    """Each given parameter a positive finite number (ValueError naming it otherwise); None is skipped."""
    for k, val in kw.items():
        if val is None:
            continue
        v = np.asarray(val, dtype=float)  # an array: one value per customer (covariates)
        if not (np.all(np.isfinite(v)) and np.all(v > 0)):
            raise ValueError(f"{k} must be a positive finite number, got {val!r}")


def acquisition(n: int, start, acquisition_days: float, observation_end, time_unit: str, rng):
    """First purchases uniform over ``acquisition_days`` days from ``start``, observed until
    ``observation_end`` (default one year after ``start``). Returns ``(t0, first, T, unit_days)``: the
    start as a Timestamp, each customer's first purchase in days after it, each customer's T (first
    purchase to the observation end) in ``time_unit``, and the unit's length in days."""
    unit_days = DAYS_PER_UNIT[check_unit(time_unit)]
    t0 = pd.Timestamp(start)
    end = t0 + pd.Timedelta(days=365.0) if observation_end is None else pd.Timestamp(observation_end)
    horizon_days = (end - t0) / pd.Timedelta(days=1)
    if not (0 < acquisition_days <= horizon_days):
        raise ValueError("acquisition_days must be positive and end by observation_end")
    first = rng.uniform(0.0, acquisition_days, int(n))  # days after start
    return t0, first, (horizon_days - first) / unit_days, unit_days


def purchase_spacings(counts: np.ndarray, rng):
    """For customers with ``counts[i]`` purchases to place: ``(customer, within, total)`` where
    ``customer`` repeats each customer's index counts[i] times, ``within`` holds the partial sums
    S_1..S_x of x standard exponentials per customer (one block per customer) and ``total`` each
    customer's S_x (0 without purchases). Sorted uniforms are S_j / (S_x + E) for an independent E of the
    right law (the remaining spacings), which the caller draws."""
    xi = np.asarray(counts, dtype=np.int64)
    n = len(xi)
    customer = np.repeat(np.arange(n), xi)
    cs = np.cumsum(rng.standard_exponential(int(xi.sum())))
    ends = np.cumsum(xi)
    before = np.concatenate(([0.0], cs))[ends - xi]  # cumulative sum before each customer's block
    within = cs - before[customer]
    total = np.zeros(n)
    has = xi > 0
    total[has] = within[ends[has] - 1]
    return customer, within, total


def transaction_log(t0, first: np.ndarray, customer: np.ndarray, times: np.ndarray, unit_days: float) -> pd.DataFrame:
    """The log (customer_id 1..n, date) sorted by customer and date: each customer's first purchase at
    ``first`` days after ``t0`` and repeat purchases ``times`` (in the model's unit) after it, reported
    with day resolution (midnight timestamps)."""
    n = len(first)
    cid = np.concatenate([np.arange(n), customer])
    days = np.concatenate([first, first[customer] + times * unit_days])
    order = np.lexsort((days, cid))
    cid, days = cid[order], days[order]
    dates = pd.DatetimeIndex(t0.normalize() + pd.to_timedelta(
        np.floor(days + (t0 - t0.normalize()) / pd.Timedelta(days=1)), unit="D"))
    return pd.DataFrame({"customer_id": cid + 1, "date": dates}).reset_index(drop=True)
