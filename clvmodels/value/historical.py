"""Historical and rule-of-thumb CLV: the baselines a model-based CLV should beat.

Three textbook formulas, each usable for one customer (scalars) or for many (pandas Series aligned on
the customer index; any mix of scalars and Series):

* :func:`historical_clv`: what customers have spent so far (a fact, not a forecast), optionally times
  a margin;
* :func:`simple_clv`: average order value x purchases per period x expected lifespan (in periods) x
  margin;
* :func:`accurate_clv`: (yearly revenue x margin - yearly cost to serve) x years retained - acquisition
  cost.

None of them discounts future money or models churn per customer: they treat every customer as
average-and-alive. :func:`clvmodels.value.customer_lifetime_value` does both with BG/NBD and
Gamma-Gamma.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, ProblemCollector

Number = Union[float, int, np.floating, np.integer]
NumberOrSeries = Union[Number, pd.Series]

__all__ = ["historical_clv", "simple_clv", "accurate_clv"]


def _combine(args: dict[str, NumberOrSeries], *, nonneg: tuple[str, ...] = (),
             fractions: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray | float], pd.Index | None]:
    """Check the arguments and align the Series among them on one index.

    Series must cover the same customers (any order): a customer missing from one of them would
    otherwise become NaN silently, so it is an error naming the missing labels. Returns plain floats
    (all scalars) or arrays aligned on the common index.
    """
    problems = ProblemCollector("arguments")
    series = {k: v for k, v in args.items() if isinstance(v, pd.Series)}
    index = None
    if series:
        first_name, first = next(iter(series.items()))
        index = first.index
        if index.has_duplicates:
            problems.add(first_name, "the index (customer ids) has duplicates")
        for name, s in series.items():
            if name == first_name:
                continue
            missing = index.difference(s.index)
            extra = s.index.difference(index)
            if len(missing) or len(extra):
                parts = [f"{len(ids)} customer{'s' if len(ids) != 1 else ''} {what} (e.g. {list(ids[:5])})"
                         for ids, what in ((missing, "missing"), (extra, "extra")) if len(ids)]
                problems.add(name, f"its index does not match {first_name}'s: " + ", ".join(parts))
    out: dict[str, np.ndarray | float] = {}
    for name, v in args.items():
        if isinstance(v, pd.Series):
            values = pd.to_numeric(v, errors="coerce")
            if index is not None and not problems:
                values = values.reindex(index)
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            try:
                arr = float(v)
            except (TypeError, ValueError):
                problems.add(name, f"must be a number or a pandas Series of numbers, not {type(v).__name__}")
                continue
        a = np.asarray(arr, dtype=np.float64)
        bad = ~np.isfinite(a)
        if bad.any():
            problems.add(name, "must be finite numbers (no NaN, missing or non-numeric values)",
                         n_rows=int(bad.sum()) if a.ndim else None)
        if name in nonneg and (a < 0).any():
            problems.add(name, "must not be negative", n_rows=int((a < 0).sum()) if a.ndim else None)
        if name in fractions and ((a < 0) | (a > 1)).any():
            problems.add(name, "is the fraction of revenue kept as profit: it must be between 0 and 1")
        out[name] = arr
    problems.raise_if_any()
    return out, index


def _result(values, index: pd.Index | None, name: str) -> NumberOrSeries:
    if index is None:
        return float(values)
    return pd.Series(np.broadcast_to(values, (len(index),)).astype(np.float64), index=index, name=name)


def historical_clv(summary: pd.DataFrame, margin: NumberOrSeries = 1.0) -> pd.Series:
    """Historical CLV: each customer's total spend up to the end of the (calibration) observation period.

    ``summary`` is the output of :func:`clvmodels.data.summarize`; its ``historical_clv`` column is the
    sum of every transaction of the customer up to ``observation_end`` (or ``calibration_end``), first
    purchase included, in the log's currency. ``margin`` (fraction of revenue kept, 0 to 1; a scalar
    or a Series per customer) turns revenue into gross profit. Returns a Series (currency units)
    indexed like the summary. A backward-looking fact, not a forecast: it says nothing of who will buy
    again.
    """
    if not isinstance(summary, pd.DataFrame) or "historical_clv" not in summary.columns:
        raise InputError([Problem("historical_clv", "required column is missing: build the summary with "
                                                    "clvmodels.summarize()")], what="summary")
    # not checked for sign: with negative_amounts='net', returns can exceed purchases
    vals, index = _combine({"historical_clv": summary["historical_clv"], "margin": margin},
                           fractions=("margin",))
    return _result(vals["historical_clv"] * vals["margin"], index, "historical_clv")


def simple_clv(average_order_value: NumberOrSeries, purchases_per_period: NumberOrSeries,
               expected_lifespan: NumberOrSeries, margin: NumberOrSeries = 1.0) -> NumberOrSeries:
    """The "simple" CLV: average order value x purchases per period x expected lifespan x margin.

    Parameters (scalars, or Series indexed by customer; Series must share their customers)
    ----------
    average_order_value: money per order (currency units), e.g. ``summary["monetary_value"]``.
    purchases_per_period: orders per period (per week, month, year: any period).
    expected_lifespan: how many of *those same periods* a customer stays: with purchases per month,
        a lifespan in months. The formula cannot check units; mixing them is the classic mistake.
    margin: fraction of revenue kept as gross profit, 0 to 1 (default 1: revenue).

    Returns the CLV in currency units: a float for scalar inputs, else a Series. Undiscounted, and
    assuming every customer buys at the same rate for the whole lifespan.

    >>> simple_clv(50.0, 2.0, 36, margin=0.25)   # $50 orders, 2 a month, 3 years, 25 % margin
    900.0
    """
    vals, index = _combine({"average_order_value": average_order_value,
                            "purchases_per_period": purchases_per_period,
                            "expected_lifespan": expected_lifespan, "margin": margin},
                           nonneg=("average_order_value", "purchases_per_period", "expected_lifespan"),
                           fractions=("margin",))
    value = (vals["average_order_value"] * vals["purchases_per_period"] * vals["expected_lifespan"]
             * vals["margin"])
    return _result(value, index, "simple_clv")


def accurate_clv(yearly_revenue: NumberOrSeries, years_retained: NumberOrSeries,
                 acquisition_cost: NumberOrSeries = 0.0, cost_to_serve: NumberOrSeries = 0.0,
                 margin: NumberOrSeries = 1.0) -> NumberOrSeries:
    """The "accurate" CLV: (yearly revenue x margin - yearly cost to serve) x years retained - acquisition cost.

    Parameters (scalars, or Series indexed by customer; Series must share their customers)
    ----------
    yearly_revenue: revenue per customer per year (currency units / year).
    years_retained: expected years the customer stays (years).
    acquisition_cost: one-off cost of acquiring the customer (currency units), subtracted once.
    cost_to_serve: cost of serving the customer per year (currency units / year), for every year retained.
    margin: fraction of revenue kept as gross profit, 0 to 1 (default 1: cost_to_serve carries all costs).

    Returns the CLV in currency units (may be negative: a customer who costs more than they bring),
    a float for scalar inputs, else a Series. Undiscounted.

    >>> accurate_clv(1200.0, 3, acquisition_cost=200.0, cost_to_serve=100.0, margin=0.5)
    1300.0
    """
    vals, index = _combine({"yearly_revenue": yearly_revenue, "years_retained": years_retained,
                            "acquisition_cost": acquisition_cost, "cost_to_serve": cost_to_serve,
                            "margin": margin},
                           nonneg=("yearly_revenue", "years_retained", "acquisition_cost", "cost_to_serve"),
                           fractions=("margin",))
    value = ((vals["yearly_revenue"] * vals["margin"] - vals["cost_to_serve"]) * vals["years_retained"]
             - vals["acquisition_cost"])
    return _result(value, index, "accurate_clv")
