"""The summary engines' contract: what every engine computes, and how that becomes the summary.

Each engine (:func:`clvmodels.data.pandas_engine.aggregate_pandas`,
:func:`clvmodels.data.duckdb_engine.aggregate_duckdb`, :func:`clvmodels.spark.summary.aggregate_spark`)
returns :class:`CustomerAggregates`, one element per customer; :func:`finish_summary` turns them into the
summary DataFrame (:data:`SUMMARY_COLUMNS`, :data:`HOLDOUT_COLUMNS`, ``attrs["clvmodels"]``) with one
arithmetic whichever engine counted, and :func:`warn_excluded` says which customers a summary cannot
hold. :func:`period_index` is the occasion key of ``time_mode="periods"``. This module imports no
engine and not the dispatcher (:func:`clvmodels.data.summarize`), so every engine can import it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..units import DAYS_PER_UNIT

#: the summary's columns, in order (the holdout columns only with ``calibration_end``)
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value", "historical_clv", "n_transactions",
                   "first_purchase", "last_purchase", "time_since_last_purchase", "first_purchase_value"]
HOLDOUT_COLUMNS = ["frequency_holdout", "monetary_value_holdout", "spend_holdout", "duration_holdout"]

#: Monday 1970-01-05 is day 4 after the epoch: weeks in "periods" mode start on Mondays
WEEK_ORIGIN_DAY = 4


class ExcludedCustomersWarning(UserWarning):
    """Some customers with transactions are not in the summary (the count is in the warning and attrs)."""


@dataclass
class CustomerAggregates:
    """Per-customer aggregates every engine computes; :func:`finish_summary` turns them into the summary.

    One element per customer with at least one transaction up to the observation end, customers in
    ascending id order. ``k`` is the occasion key: the day number (days since 1970-01-01) in continuous
    time, the period number in "periods" mode. "Calibration" is the whole log when there is no split.
    Purchase occasions are the customer's distinct days/periods with at least one non-negative amount
    (all of them, unless negative_amounts='net' left returns in the log).
    """

    ids: np.ndarray
    n_rows_cal: np.ndarray         # int64: transactions (rows) in the calibration period
    n_occ_cal: np.ndarray          # int64: purchase occasions in the calibration period
    k_first: np.ndarray            # int64: key of the first calibration purchase occasion
    k_last: np.ndarray             # int64: key of the last one
    day_first: np.ndarray          # int64: day number of the first purchase
    day_last: np.ndarray           # int64: day number of the last calibration purchase
    spend_cal: np.ndarray          # float64: sum of all calibration amounts (net of returns)
    purchase_sum_cal: np.ndarray   # float64: sum of the values of the calibration purchase occasions
    first_value: np.ndarray        # float64: value of the first purchase occasion
    n_occ_hold: np.ndarray         # int64: purchase occasions in the holdout period
    purchase_sum_hold: np.ndarray  # float64: their summed value
    spend_hold: np.ndarray         # float64: sum of all holdout amounts
    #: money columns are in units of 1/money_scale: 10**s when amounts were added exactly as integers
    #: of 10**-s (see :func:`clvmodels.data.checks.exact_money`), else 1
    money_scale: float = 1.0
    money_exact: bool = False
    #: rows with an amount of exactly 0 in the input (kept or dropped per zero_amounts); set by the
    #: DuckDB and Spark engines, whose ``aggregate_*`` return only the negative count beside the aggregates
    n_zero_amounts: int = 0


def period_index(days: np.ndarray | int, unit: str, time_mode: str):
    """Occasion key of day numbers (days since 1970-01-01): the day itself in continuous time, else the
    period number (days; weeks from Monday 1970-01-05; calendar months since January 1970)."""
    days = np.asarray(days, dtype=np.int64)
    if time_mode == "continuous" or unit == "D":
        return days
    if unit == "W":
        return (days - WEEK_ORIGIN_DAY) // 7  # floor division: correct before 1970 too
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _customer_index(ids: np.ndarray) -> pd.Index:
    """The summary's index, with one dtype per kind of id whichever engine produced it."""
    idx = pd.Index(ids, name="customer_id")
    if pd.api.types.is_integer_dtype(idx.dtype) and not pd.api.types.is_bool_dtype(idx.dtype):
        return idx.astype(np.int64)
    if pd.api.types.is_float_dtype(idx.dtype):
        return idx.astype(np.float64)
    if idx.dtype == object or pd.api.types.is_string_dtype(idx.dtype):
        if pd.api.types.infer_dtype(idx, skipna=True) == "string":
            return idx.astype("str")
    return idx


def _dates(day_numbers: np.ndarray) -> np.ndarray:
    return day_numbers.astype("datetime64[D]").astype("datetime64[ns]")


def warn_excluded(new_in_holdout: int, returns_only: int, calibration_end, *, stacklevel: int = 3) -> None:
    """Customers a summary cannot contain are excluded loudly, never silently (every engine says so)."""
    if new_in_holdout:
        warnings.warn(
            f"{new_in_holdout} customer{'s' if new_in_holdout != 1 else ''} made their first purchase after "
            f"calibration_end {calibration_end} and cannot be in the calibration summary: excluded "
            f"(count in .attrs['clvmodels']['excluded_new_in_holdout'])",
            ExcludedCustomersWarning, stacklevel=stacklevel)
    if returns_only:
        warnings.warn(
            f"{returns_only} customer{'s have' if returns_only != 1 else ' has'} only returns (negative amounts) "
            f"and no purchase in the period: excluded (count in .attrs['clvmodels']['excluded_returns_only'])",
            ExcludedCustomersWarning, stacklevel=stacklevel)


def finish_summary(agg: CustomerAggregates, *, unit: str, time_mode: str, observation_day: int,
                   calibration_day: int | None, engine: str, negative_amounts: str, n_negative: int,
                   observation_end, calibration_end, zero_amounts: str = "keep",
                   n_zero: int | None = None, engine_reason: str | None = None) -> pd.DataFrame:
    """Turn the engines' aggregates into the summary DataFrame (shared, so the engines cannot differ
    in how they convert days to time units or define the derived columns). ``n_zero`` (rows worth 0 in
    the input) defaults to ``agg.n_zero_amounts``; ``engine_reason`` (why this engine ran, recorded
    beside it) to ``"engine='<engine>' requested"``."""
    end_day = calibration_day if calibration_day is not None else observation_day
    has = agg.n_occ_cal > 0
    new_in_holdout = int((~has & (agg.n_occ_hold > 0)).sum())
    returns_only = int((~has).sum()) - new_in_holdout
    # usually every customer stays: then views, not copies (this matters for tens of millions of rows)
    sel = slice(None) if bool(has.all()) else np.flatnonzero(has)
    del has

    def take(a):
        return np.asarray(a)[sel]

    freq = take(agg.n_occ_cal) - 1
    if time_mode == "continuous":
        scale = DAYS_PER_UNIT[unit]
        first_k, last_k, end_k = take(agg.k_first), take(agg.k_last), end_day
    else:  # whole periods: no division, differences of period numbers
        scale = 1.0
        first_k, last_k = take(agg.k_first), take(agg.k_last)
        end_k = int(period_index(end_day, unit, time_mode))
    recency = (last_k - first_k) / scale
    T = (end_k - first_k) / scale
    since_last = (end_k - last_k) / scale
    m = agg.money_scale
    repeat_sum = take(agg.purchase_sum_cal) - take(agg.first_value)  # exact when money is in integers
    with np.errstate(invalid="ignore", divide="ignore"):
        # one rounding: (integer sum) / (scale * frequency), both exact in float64
        monetary = np.where(freq > 0, repeat_sum / (m * np.maximum(freq, 1)), 0.0)
    del repeat_sum, first_k, last_k
    out = pd.DataFrame(
        {
            "frequency": freq.astype(np.int64, copy=False),
            "recency": recency.astype(np.float64, copy=False),
            "T": T.astype(np.float64, copy=False),
            "monetary_value": monetary.astype(np.float64, copy=False),
            "historical_clv": take(agg.spend_cal) / m,
            "n_transactions": take(agg.n_rows_cal).astype(np.int64, copy=False),
            "first_purchase": _dates(take(agg.day_first)),
            "last_purchase": _dates(take(agg.day_last)),
            "time_since_last_purchase": since_last.astype(np.float64, copy=False),
            # the first occasion's value: with monetary_value, the mean over all x + 1 occasions that the
            # spend model's first_purchase option uses (first_purchase_value + x monetary_value)/(x + 1)
            "first_purchase_value": take(agg.first_value) / m,
        },
        index=_customer_index(take(agg.ids)),
        copy=False,  # the arrays are ours: no second copy of every column
    )
    if calibration_day is not None:
        nh = take(agg.n_occ_hold)
        with np.errstate(invalid="ignore", divide="ignore"):
            mh = np.where(nh > 0, take(agg.purchase_sum_hold) / (m * np.maximum(nh, 1)), 0.0)
        if time_mode == "continuous":
            duration = (observation_day - calibration_day) / DAYS_PER_UNIT[unit]
        else:
            duration = float(period_index(observation_day, unit, time_mode) - period_index(calibration_day, unit,
                                                                                            time_mode))
        out["frequency_holdout"] = nh.astype(np.int64)
        out["monetary_value_holdout"] = mh.astype(np.float64)
        out["spend_holdout"] = take(agg.spend_hold) / m
        out["duration_holdout"] = np.full(len(out), duration, dtype=np.float64)
    if not out.index.is_monotonic_increasing:
        out = out.sort_index()
    out.attrs["clvmodels"] = {
        "time_unit": unit,
        "time_mode": time_mode,
        "observation_end": str(observation_end),
        "calibration_end": None if calibration_end is None else str(calibration_end),
        "engine": engine,
        "engine_reason": engine_reason if engine_reason is not None else f"engine={engine!r} requested",
        "n_customers": int(len(out)),
        "excluded_new_in_holdout": new_in_holdout,
        "excluded_returns_only": returns_only,
        "negative_amounts": negative_amounts,
        "n_negative_amounts": int(n_negative),
        "zero_amounts": zero_amounts,
        "n_zero_amounts": int(agg.n_zero_amounts if n_zero is None else n_zero),
        # customers the Gamma-Gamma fit leaves out: repeat purchases without a positive mean value
        "n_zero_spend_repeat": int(np.count_nonzero((out["frequency"].to_numpy() > 0)
                                                    & (out["monetary_value"].to_numpy() <= 0))),
        "exact_money_decimals": int(round(np.log10(m))) if agg.money_exact else None,
    }
    warn_excluded(new_in_holdout, returns_only, calibration_end, stacklevel=4)
    return out
