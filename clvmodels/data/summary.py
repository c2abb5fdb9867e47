"""From a transaction log to the per-customer RFM summary the BTYD models need.

:func:`summarize` turns rows ``(customer_id, date, amount)`` into one row per customer with the
"buy till you die" statistics of Fader, Hardie & Lee (2005):

* ``frequency`` x: the number of *repeat* purchase occasions. Purchases on the same calendar day (or,
  with ``time_mode="periods"``, in the same period) are one occasion and their values add up, as in
  the literature: the CDNOW summaries count distinct purchase days.
* ``recency`` t_x: time from the first to the last purchase occasion. **This is the BTYD recency, not
  RFM's "days since the last purchase"**: a customer who bought a year ago and again yesterday has a
  high BTYD recency. RFM's recency is the column ``time_since_last_purchase`` (= T - recency).
* ``T``: time from the first purchase to the end of the observation (calibration) period.
* ``monetary_value``: mean value of the repeat purchase occasions (the first purchase is left out, as
  the Gamma-Gamma model requires); 0 when frequency is 0.

Zero-value purchases
--------------------
A transaction worth exactly 0 (a free item, a voucher, a sample) is a purchase: it says the customer
is alive and buying, which is what the purchase process (BG/NBD) models. ``zero_amounts="keep"`` (the
default) therefore counts it like any other: its day is a purchase occasion, and its 0 enters the mean
of the repeat occasions, so a customer whose repeat purchases were all worth 0 has frequency > 0 and
``monetary_value`` 0. The Gamma-Gamma spend model cannot use such a customer (its likelihood needs a
positive mean spend) and leaves them out of its fit; their number is recorded as
``attrs["clvmodels"]["n_zero_spend_repeat"]`` (customers with frequency > 0 and monetary_value <= 0).
``zero_amounts="drop"`` removes the rows worth 0 before anything else, like
``negative_amounts="drop"`` does for returns: a day with only zero-value rows is then no occasion, and a
customer with nothing but such rows is not in the log at all. The number of rows worth 0 in the input
is recorded as ``attrs["clvmodels"]["n_zero_amounts"]`` under either policy.

With ``negative_amounts="net"``, a day's occasion is a purchase when it has at least one row that is not
a return (amount >= 0), whatever its net value: a purchase of 5 returned the same day (net 0) is a
purchase occasion worth 0 under either zero policy, since ``"drop"`` removes rows worth 0, not occasions
whose rows net to 0. A zero-value row on a day with only returns makes that day a purchase occasion
(with a negative value) under ``"keep"``; under ``"drop"`` the row is removed and the day is returns only.

Input limits
------------
Dates must lie between 1678-01-01 and 2261-12-31 (what every engine and the summary's datetime64[ns]
columns can hold; 0001-01-01 and 9999-12-31 are usually placeholders for "no date"), and amounts must
not exceed 2**53 in magnitude (beyond it float64 holds no whole units exactly: such values are not
money). Both are reported as bad input, with the offending rows.

Time
----
Times are measured in ``time_unit`` ('D' days, 'W' weeks, 'M' months of 365.25/12 days).
``time_mode="continuous"`` (the default) measures them as day differences divided by the days in a
unit (weeks = days / 7, exactly as Fader, Hardie & Lee do), so a recency of 30.43 weeks means 213 days.
``time_mode="periods"`` floors dates to whole periods first, as lifetimes' ``freq`` option does:
days for 'D'; ISO weeks, Monday to Sunday, counted from Monday 1970-01-05, for 'W'; calendar months
for 'M'. Purchases in the same period then merge and recency and T are whole numbers of periods.
Continuous time is the default because flooring biases the estimates: on a simulated BG/NBD base of
one million customers (true r = 0.25, alpha = 4), a maximum-likelihood fit on whole-week triplets gives
r = 0.235 and alpha = 3.36, while the fit on day-resolution times gives the raw data's estimates. Periods buy
speed (far fewer distinct (frequency, recency, T) triplets to fit) at that price.

Observation and calibration ends are calendar days and *inclusive*: a purchase on the end day belongs
to the period. Only calendar days matter; times of day are ignored.

Engines
-------
``engine="pandas"`` summarises in memory with vectorised NumPy (one sort of packed integer keys, no
per-customer Python); ``engine="duckdb"`` runs the checks and the aggregation as SQL in DuckDB, scanning
CSV/Parquet files without ever loading the log into pandas, within a memory limit, spilling to a
temporary directory, so logs larger than memory can be summarised. ``engine="auto"`` picks pandas for
a DataFrame and DuckDB for files. Both engines apply the same parsing rules
(:mod:`clvmodels.data.validate`) and give identical summaries: counts, dates and times trivially, and
money too, because amounts with at most six decimals (cents, mills) are added exactly, as integers of
their smallest decimal unit (:func:`clvmodels.data.validate.exact_money`), so no sum depends on the
order of the rows. Only for amounts that are not short decimals (1/3 of a dollar) are floats added, in
an order that differs between engines, and the money columns then agree to about 1e-15 relatively.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ProblemCollector
from ..units import DAYS_PER_UNIT, check_unit
from . import readers
from .validate import (
    ParsedLog,
    check_frame,
    check_options,
    day_number,
    exact_money,
    msg_missing_column,
    parse_period_ends,
)

#: the summary's columns, in order (the holdout columns only with ``calibration_end``)
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value", "historical_clv", "n_transactions",
                   "first_purchase", "last_purchase", "time_since_last_purchase"]
HOLDOUT_COLUMNS = ["frequency_holdout", "monetary_value_holdout", "spend_holdout", "duration_holdout"]

#: Monday 1970-01-05 is day 4 after the epoch: weeks in "periods" mode start on Mondays
WEEK_ORIGIN_DAY = 4


class ExcludedCustomersWarning(UserWarning):
    """Some customers with transactions are not in the summary (the count is in the warning and attrs)."""


@dataclass
class CustomerAggregates:
    """Per-customer aggregates both engines compute; :func:`finish_summary` turns them into the summary.

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
    #: of 10**-s (see :func:`clvmodels.data.validate.money_decimals`), else 1
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


def _first_of_runs(sorted_values: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts in a sorted array."""
    n = len(sorted_values)
    change = np.empty(n, dtype=bool)
    if n:
        change[0] = True
        np.not_equal(sorted_values[1:], sorted_values[:-1], out=change[1:])
    return np.flatnonzero(change)


def _customer_codes(ids) -> tuple[np.ndarray, int, np.int64 | None, pd.Index | None]:
    """Integer codes of the customers: ``(codes, n_slots, id_offset, uniques)``; ``codes`` is always a
    new array that the caller may modify.

    Integer ids spanning a modest range are their own codes (``id - min``: no hashing, and code order is
    id order); customers are then the slots that have rows, and ``id_offset`` is ``min``. Other ids
    are factorised (hashing; sorted uniques).
    """
    values = ids.to_numpy() if isinstance(ids, (pd.Series, pd.Index)) else np.asarray(ids)
    if values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 2 * len(values) + 1_000_000:  # dense enough: arrays over the range stay small
            codes = values.astype(np.int64)  # a copy, even of int64
            codes -= lo
            return codes, hi - lo + 1, np.int64(lo), None
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64), len(uniques), None, uniques


def aggregate_pandas(log: ParsedLog, *, unit: str, time_mode: str,
                     calibration_day: int | None) -> CustomerAggregates:
    """The pandas engine: per-customer aggregates from a parsed transaction log.

    ``log`` is consumed: its arrays are released as soon as they are used, so that a log read from
    files does not stay in memory beside its working copies.

    Integer customer codes (no hashing for dense integer ids), one sort, then segment reductions
    (``reduceat``/``bincount``): no Python runs per customer or per group. The sort key packs, from
    high bits to low: customer code, occasion (day or period), side of the calibration split, and a
    payload. ``np.sort`` of int64 is several times faster than ``np.argsort``, so the payload carries
    what the sort would otherwise have to permute: the amount itself when money is exact integers and
    nothing else is needed (sums of integers do not depend on order), else the row number.
    """
    # exact money: integers of 10**-decimals, held in float64 (exact below 2**53, checked)
    decimals, amount = exact_money(log.amount)
    log.amount = None
    money_scale = 10.0**decimals if decimals is not None else 1.0
    has_returns = bool(len(amount)) and float(amount.min()) < 0
    codes, n_slots, id_offset, uniques = _customer_codes(log.ids)
    log.ids = None
    day, log.day = log.day, None
    n = len(codes)
    periods = not (time_mode == "continuous" or unit == "D")
    split = calibration_day is not None

    k = period_index(day, unit, time_mode)
    kmin = int(k.min())
    k_bits = max(1, (int(k.max()) - kmin).bit_length())  # a power-of-two span: shifts, not divisions
    key_bits = max(1, (n_slots - 1).bit_length()) + k_bits + int(split)
    max_amount = int(amount.max()) if decimals is not None and n else -1
    if decimals is not None and not has_returns and not periods and key_bits + max_amount.bit_length() <= 62:
        payload_bits, payload_is_amount = max(1, max_amount.bit_length()), True
    else:
        payload_bits, payload_is_amount = max(1, (n - 1).bit_length()), False
    if key_bits + payload_bits > 62:
        raise OverflowError("too many customers and periods for the pandas engine: use engine='duckdb'")

    hold_row = (day > calibration_day) if split else None
    n_rows_all = np.bincount(codes, minlength=n_slots)
    n_rows_cal = np.bincount(codes[~hold_row], minlength=n_slots) if split else n_rows_all
    packed = codes  # a private array: built in place
    packed <<= k_bits
    packed += k
    packed -= kmin
    if split:
        packed <<= 1
        packed |= hold_row
    del k, codes
    if not periods:
        del day  # in continuous time the key holds all that is needed of the days
        day = None
    packed <<= payload_bits
    if payload_is_amount:
        packed |= amount.astype(np.int64)
        del amount
    else:
        packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    payload = packed & ((1 << payload_bits) - 1)
    packed >>= payload_bits
    ks = packed  # the sorted key: code, occasion, side
    starts = _first_of_runs(ks)
    occ_key = ks[starts]
    del ks, packed
    is_purchase = None
    if payload_is_amount:
        order = None
        # integer sums (exact), then float64 (exact below 2**53)
        occ_val = (np.add.reduceat(payload, starts) if n else np.zeros(0, np.int64)).astype(np.float64)
    else:
        order = payload
        a = amount[order]
        del amount
        occ_val = np.add.reduceat(a, starts) if n else np.zeros(0)
        if has_returns:
            is_purchase = a >= 0
        del a
    del payload
    occ_isp = np.logical_or.reduceat(is_purchase, starts) if has_returns else None
    occ_hold = None
    if split:
        occ_hold = (occ_key & 1).astype(bool)
        occ_key >>= 1
    occ_code = occ_key >> k_bits
    occ_k = occ_key  # in place: the occasion's day or period
    occ_k &= (1 << k_bits) - 1
    occ_k += kmin
    if periods:  # the first and last *purchase* day of each period
        d = day[order]
        if has_returns:
            big = np.iinfo(np.int64).max
            occ_dmin = np.minimum.reduceat(np.where(is_purchase, d, big), starts)
            occ_dmax = np.maximum.reduceat(np.where(is_purchase, d, -big), starts)
        else:
            occ_dmin = np.minimum.reduceat(d, starts)
            occ_dmax = np.maximum.reduceat(d, starts)
        del d
    else:
        occ_dmin = occ_dmax = occ_k  # an occasion is one day
    del order, starts, day, is_purchase

    if split:
        cal = ~occ_hold
        spend_cal = np.bincount(occ_code[cal], weights=occ_val[cal], minlength=n_slots)
    else:
        spend_cal = np.bincount(occ_code, weights=occ_val, minlength=n_slots)
    if split or has_returns:
        p = ~occ_hold if split else np.ones(len(occ_code), bool)
        if has_returns:
            p &= occ_isp
        pc, pk, pv, pdmin, pdmax = occ_code[p], occ_k[p], occ_val[p], occ_dmin[p], occ_dmax[p]
        purchase_sum_cal = np.bincount(pc, weights=pv, minlength=n_slots)
    else:  # every occasion is a calibration purchase: no copies
        pc, pk, pv, pdmin, pdmax = occ_code, occ_k, occ_val, occ_dmin, occ_dmax
        purchase_sum_cal = spend_cal
    # purchase occasions are sorted by customer then occasion: a customer's first and last are the
    # ends of its run
    fi = _first_of_runs(pc)
    li = np.empty_like(fi)
    li[:-1] = fi[1:] - 1
    if len(fi):
        li[-1] = len(pc) - 1
    who = pc[fi]
    n_occ_cal = np.zeros(n_slots, np.int64)
    k_first = np.zeros(n_slots, np.int64)
    k_last = np.zeros(n_slots, np.int64)
    day_first = np.zeros(n_slots, np.int64)
    day_last = np.zeros(n_slots, np.int64)
    first_value = np.zeros(n_slots)
    n_occ_cal[who] = li - fi + 1
    k_first[who], k_last[who] = pk[fi], pk[li]
    day_first[who], day_last[who] = pdmin[fi], pdmax[li]
    first_value[who] = pv[fi]
    if split:
        h = occ_hold & occ_isp if has_returns else occ_hold
        n_occ_hold = np.bincount(occ_code[h], minlength=n_slots)
        purchase_sum_hold = np.bincount(occ_code[h], weights=occ_val[h], minlength=n_slots)
        spend_hold = np.bincount(occ_code[occ_hold], weights=occ_val[occ_hold], minlength=n_slots)
    else:
        n_occ_hold = np.zeros(n_slots, np.int64)
        purchase_sum_hold = spend_hold = np.zeros(n_slots)

    if id_offset is not None:  # dense integer ids: the customers are the slots with rows
        slots = np.flatnonzero(n_rows_all)
        customer_ids = slots.astype(np.int64) + id_offset
    else:
        slots = slice(None)
        customer_ids = np.asarray(uniques)
    return CustomerAggregates(
        ids=customer_ids, n_rows_cal=n_rows_cal[slots].astype(np.int64), n_occ_cal=n_occ_cal[slots],
        k_first=k_first[slots], k_last=k_last[slots], day_first=day_first[slots], day_last=day_last[slots],
        spend_cal=spend_cal[slots], purchase_sum_cal=purchase_sum_cal[slots], first_value=first_value[slots],
        n_occ_hold=n_occ_hold[slots].astype(np.int64), purchase_sum_hold=purchase_sum_hold[slots],
        spend_hold=spend_hold[slots], money_scale=money_scale, money_exact=decimals is not None)


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
                   n_zero: int | None = None) -> pd.DataFrame:
    """Turn the engines' aggregates into the summary DataFrame (shared, so the engines cannot differ
    in how they convert days to time units or define the derived columns). ``n_zero`` (rows worth 0 in
    the input) defaults to ``agg.n_zero_amounts``."""
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


def summarize(transactions, *, customer_id: str = "customer_id", date: str = "date", amount: str = "amount",
              observation_end, time_unit: str = "W", calibration_end=None, time_mode: str = "continuous",
              negative_amounts: str = "error", zero_amounts: str = "keep", engine: str = "auto",
              date_format: str | None = None, duckdb_config: dict | None = None) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer (the input of BG/NBD and Gamma-Gamma).

    Parameters
    ----------
    transactions: a DataFrame, or a CSV/Parquet file, glob, directory or list of them (see
        :mod:`clvmodels.data.readers`). One row per transaction.
    customer_id, date, amount: the names of the columns holding the customer id, the transaction date
        and its value (money).
    observation_end: last day of the observation period, inclusive (``"1997-09-30"``, a date or a
        Timestamp). A transaction after it is an input error (filter the log or pass a later end):
        clvmodels never silently drops data.
    time_unit: 'D', 'W' (default) or 'M': the unit of ``recency``, ``T``, ``time_since_last_purchase``
        and ``duration_holdout``, recorded in ``attrs`` so the models cannot misread it.
    calibration_end: optional last day (inclusive) of a calibration period; the period after it, up to
        ``observation_end``, is the holdout. The main columns then describe the calibration period (T is
        measured to ``calibration_end``) and holdout columns are added. Customers whose first purchase
        is in the holdout cannot be in a calibration summary: they are excluded with an
        :class:`ExcludedCustomersWarning` giving their number, also kept in
        ``attrs["clvmodels"]["excluded_new_in_holdout"]``.
    time_mode: ``"continuous"`` (default: day differences / days per unit, unbiased) or ``"periods"``
        (whole periods; see the module docstring for the period boundaries and why it is not the default).
    negative_amounts: what a negative amount (a return) means. ``"error"`` (default): it is reported as
        bad input, since silently counting or ignoring returns changes the monetary values.
        ``"drop"``: rows with negative amounts are removed before anything else.
        ``"net"``: they stay in the log as value: they are added into the occasion of their day (or
        period), so a same-day return reduces that purchase's value, and into ``historical_clv``; a day
        with only returns is not a purchase occasion (it does not count in frequency or recency).
        Customers left with no purchase at all are excluded with a warning (``excluded_returns_only``).
        The number of negative rows is recorded in ``attrs["clvmodels"]["n_negative_amounts"]``.
        An amount larger than 2**53 in magnitude is bad input whatever the policy (not money).
    zero_amounts: what an amount of exactly 0 (a free item, a voucher) means. ``"keep"`` (default): it
        is a purchase like any other: its day is a purchase occasion (it counts in frequency and recency)
        and its 0 enters ``monetary_value``, the mean of the repeat occasions, so a customer whose repeat
        purchases were all worth 0 has frequency > 0 and monetary_value 0 (the Gamma-Gamma model leaves
        such customers out of its fit; their number is ``attrs["clvmodels"]["n_zero_spend_repeat"]``).
        ``"drop"``: rows worth 0 are removed before anything else, as ``negative_amounts="drop"``
        removes returns: a customer with nothing else is not in the summary, and a log with nothing
        else is an input error. With ``negative_amounts="net"``, a purchase returned the same day (net
        value 0) stays a purchase occasion worth 0 under either policy: ``"drop"`` removes rows worth
        0, not occasions that net to 0. The number of rows worth 0 in the input is recorded in
        ``attrs["clvmodels"]["n_zero_amounts"]``.
    engine: ``"auto"`` (pandas for a DataFrame, DuckDB for files), ``"pandas"``, ``"duckdb"``, or
        ``"spark"`` (needs pyspark; :mod:`clvmodels.spark.summary`).
    date_format: strptime format of text (or integer) dates, e.g. ``"%Y%m%d"``; default ISO 8601.
    duckdb_config: DuckDB settings for the DuckDB engine, e.g. ``{"memory_limit": "1GB",
        "temp_directory": "/scratch", "threads": 4}``; defaults in :mod:`clvmodels.data.duckdb_engine`.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted), one row per customer with a purchase in the
    (calibration) period, with columns:

    ``frequency`` (int64)
        repeat purchase occasions: distinct purchase days (periods) minus one.
    ``recency`` (float64, time units)
        BTYD recency t_x: time from the first to the last purchase occasion; 0 when frequency is 0.
        Not RFM's "time since the last purchase", which is ``time_since_last_purchase``.
    ``T`` (float64, time units)
        time from the first purchase to the end of the (calibration) period.
    ``monetary_value`` (float64, money)
        mean value of the repeat purchase occasions (first purchase excluded); 0 when frequency is 0.
    ``historical_clv`` (float64, money)
        total spend up to the end of the (calibration) period, first purchase included.
    ``n_transactions`` (int64)
        transaction rows in the (calibration) period, before same-day merging.
    ``first_purchase``, ``last_purchase`` (datetime64)
        calendar days of the first and last purchase in the (calibration) period.
    ``time_since_last_purchase`` (float64, time units)
        T - recency: time from the last purchase to the end of the period. This is what RFM analyses
        call "recency" (smaller is better); BTYD models use ``recency`` instead.
    with ``calibration_end`` also
    ``frequency_holdout`` (int64): purchase occasions after ``calibration_end`` up to ``observation_end``;
    ``monetary_value_holdout`` (float64): their mean value (0 if none); ``spend_holdout`` (float64): all
    holdout spend; ``duration_holdout`` (float64, time units): the holdout length, the same for everyone.

    ``attrs["clvmodels"]`` records ``time_unit``, ``time_mode``, ``observation_end``, ``calibration_end``,
    ``engine``, ``n_customers``, ``excluded_new_in_holdout``, ``excluded_returns_only``,
    ``negative_amounts``, ``n_negative_amounts``, ``zero_amounts``, ``n_zero_amounts`` (rows worth 0 in
    the input), ``n_zero_spend_repeat`` (customers with frequency > 0 and monetary_value <= 0, whom the
    Gamma-Gamma fit leaves out) and ``exact_money_decimals``.

    Raises
    ------
    clvmodels.errors.InputError
        listing every problem found in the log (each with its column, count and first rows), among them
        dates outside 1678-01-01 to 2261-12-31, amounts beyond 2**53 in magnitude, and CSV rows with
        more or fewer fields than the header (named by file and data row).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_sample
    >>> s = summarize(load_cdnow_sample(), observation_end="1998-06-30", calibration_end="1997-09-30")
    >>> s.loc[1, ["frequency", "recency", "T"]].round(2).tolist()
    [2.0, 30.43, 38.86]
    """
    check_options(time_mode=time_mode, negative_amounts=negative_amounts, engine=engine, zero_amounts=zero_amounts)
    unit = check_unit(time_unit)
    files = readers.is_file_source(transactions)
    if not files and not isinstance(transactions, pd.DataFrame):
        raise TypeError("transactions must be a pandas DataFrame or a path, glob or list of paths to "
                        f"CSV/Parquet files, not {type(transactions).__name__}")
    if engine == "auto":
        engine = "duckdb" if files else "pandas"
    if engine == "spark":  # optional (pyspark): the same checks and aggregates as Spark jobs
        from ..spark.summary import summarize_to_pandas

        return summarize_to_pandas(transactions, customer_id=customer_id, date=date, amount=amount,
                                   observation_end=observation_end, time_unit=unit,
                                   calibration_end=calibration_end, time_mode=time_mode,
                                   negative_amounts=negative_amounts, date_format=date_format,
                                   zero_amounts=zero_amounts)

    problems = ProblemCollector("transaction log")
    obs, cal = parse_period_ends(observation_end, calibration_end, problems)
    obs_day = day_number(obs) if obs is not None else None
    cal_day = day_number(cal) if cal is not None else None
    common = dict(unit=unit, time_mode=time_mode, observation_day=obs_day, calibration_day=cal_day,
                  negative_amounts=negative_amounts, observation_end=obs, calibration_end=cal,
                  zero_amounts=zero_amounts)

    if engine == "duckdb":
        from .duckdb_engine import aggregate_duckdb

        agg, n_negative = aggregate_duckdb(
            transactions, customer_id=customer_id, date=date, amount=amount, observation_end=obs,
            calibration_end=cal, unit=unit, time_mode=time_mode, negative_amounts=negative_amounts,
            date_format=date_format, problems=problems, config=duckdb_config, zero_amounts=zero_amounts)
        return finish_summary(agg, engine="duckdb", n_negative=n_negative, **common)

    labeller = None
    from_csv = False
    available = None
    if files:
        source = readers.resolve_source(transactions)
        available = readers.file_columns(source)
        present = [c for c in dict.fromkeys((customer_id, date, amount)) if c in available]
        if not present:  # nothing to read: say which columns are missing (not that the log is empty)
            for col, role in ((customer_id, "customer id"), (date, "date"), (amount, "amount")):
                problems.add(col, msg_missing_column(col, role, available))
            problems.raise_if_any()
        frame, labeller = readers.read_pandas(source, present)
        from_csv = source.from_csv
    else:
        frame = transactions
    log = check_frame(frame, customer_id=customer_id, date=date, amount=amount, observation_end=obs,
                      calibration_end=cal, negative_amounts=negative_amounts, date_format=date_format,
                      problems=problems, from_csv=from_csv, row_labels=labeller, available=available,
                      zero_amounts=zero_amounts)
    problems.raise_if_any()
    assert log is not None  # check_frame returns None only with problems
    del frame  # for files: the log now lives in `log` only, which aggregate_pandas consumes
    n_negative, n_zero = log.n_negative, log.n_zero
    agg = aggregate_pandas(log, unit=unit, time_mode=time_mode, calibration_day=cal_day)
    return finish_summary(agg, engine="pandas", n_negative=n_negative, n_zero=n_zero, **common)
