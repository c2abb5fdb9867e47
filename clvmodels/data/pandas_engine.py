"""The pandas engine: a transaction log in memory, checked and aggregated with vectorised NumPy.

:func:`read_log` reads a DataFrame (or CSV/Parquet files, column by column with pyarrow) and checks it
(:func:`check_frame`: the parsers :func:`parse_ids`, :func:`parse_dates` and :func:`parse_amounts`
apply the rules of :mod:`clvmodels.data.checks` to pandas columns, and the shared reporter words the
problems); :func:`aggregate_pandas` turns the parsed log into
:class:`~clvmodels.data.aggregates.CustomerAggregates` with one sort of packed integer keys and
segment reductions, no Python per customer. The dispatcher, :func:`clvmodels.data.summarize`, picks
this engine for DataFrames (``engine="auto"``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ProblemCollector
from . import readers
from .aggregates import CustomerAggregates, period_index
from .checks import (
    BLANK_PATTERN,
    CANONICAL_INT_PATTERN,
    DATE_PATTERN,
    MAX_AMOUNT,
    MAX_DAY,
    MIN_DAY,
    NUMBER_PATTERN,
    SHOW_ROWS,
    day_number,
    exact_money,
    msg_bad_amount_type,
    msg_bad_date_type,
    msg_integer_dates,
    msg_missing_column,
    parse_formatted_dates,
    report_log_problems,
    report_missing_columns,
    rows_to_drop,
)


# ---------------------------------------------------------------------------------------------------
# Parsing and checks
# ---------------------------------------------------------------------------------------------------
@dataclass
class ParsedLog:
    """A validated transaction log, as arrays (one element per transaction row).

    ids: customer ids (pandas Series/Index-compatible values, no missing values).
    day: calendar day of each transaction, days since 1970-01-01 (int64).
    amount: value of each transaction (float64; negative only under negative_amounts='net', never 0
    under zero_amounts='drop').
    n_negative: rows with a negative amount in the input (dropped or netted, per the policy).
    n_zero: rows with an amount of exactly 0 in the input (kept or dropped, per the policy).
    """

    ids: pd.Series
    day: np.ndarray
    amount: np.ndarray
    n_negative: int
    n_zero: int = 0


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def _as_text(s: pd.Series) -> pd.Series:
    """Text view of a column (nulls kept as nulls): object columns of mixed things become str."""
    if isinstance(s.dtype, pd.StringDtype):
        return s
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        return s
    out = s.astype(object)
    keep = out.notna()
    out[keep] = out[keep].map(str)
    return out


def _blank(text: pd.Series) -> pd.Series:
    return text.str.fullmatch(BLANK_PATTERN).fillna(False).astype(bool)


_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)


def parse_ids(s: pd.Series, from_csv: bool) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """(ids, missing mask, too-large mask). See the module docstring for the rules."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype)
    missing = s.isna().to_numpy()
    too_big = np.zeros(len(s), bool)
    if s.dtype == object and not missing.any():
        # Python numbers (from a database driver): numbers, as DuckDB reads such a column, not text
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind == "integer":
            try:
                s = s.astype(np.int64)
            except OverflowError:
                too_big = np.array([not _INT64_MIN <= int(v) <= _INT64_MAX for v in s], bool)
        elif kind in ("floating", "mixed-integer-float"):
            s = s.astype(np.float64)
            missing = s.isna().to_numpy()
    elif pd.api.types.is_unsigned_integer_dtype(s.dtype):
        too_big = s.gt(_INT64_MAX).fillna(False).to_numpy(dtype=bool)
    if too_big.any():
        return s, pd.Series(missing, index=s.index), too_big
    if _is_text(s):
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            s = _as_text(s)
        missing = missing | _blank(s).to_numpy()
        if from_csv and not missing.any() and len(s) and bool(s.str.fullmatch(CANONICAL_INT_PATTERN).all()):
            s = s.astype(np.int64)
    return s, pd.Series(missing, index=s.index), too_big


_TICKS_PER_DAY = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000, "us": 86_400_000_000,
                  "ns": 86_400_000_000_000}
_NAT = np.iinfo(np.int64).min


def _datetime_days(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970-01-01, missing mask) of a datetime64 array: integer floor division of the
    ticks, which is several times faster than ``astype("datetime64[D]")`` on large arrays."""
    unit, count = np.datetime_data(values.dtype)
    ticks = values.view(np.int64)
    missing = ticks == _NAT
    if unit in _TICKS_PER_DAY and count == 1:
        per_day = _TICKS_PER_DAY[unit]
        days = ticks // per_day if per_day != 1 else ticks.copy()  # floor: right before 1970 too
    else:
        days = values.astype("datetime64[D]").view(np.int64)
    return days, missing


def parse_dates(s: pd.Series, date_format: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """(days since 1970-01-01 as int64, missing mask, unparseable mask, whole-column problem or None)."""
    n = len(s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype)
    if isinstance(s.dtype, pd.ArrowDtype) and s.dtype.kind == "M":
        # Arrow timestamps and dates (pandas' pyarrow backend): NumPy datetimes of the same unit, UTC
        # instants for time-zone-aware ones
        unit = np.datetime_data(s.dtype.numpy_dtype)[0]
        s = pd.Series(s.to_numpy(dtype=s.dtype.numpy_dtype, na_value=np.datetime64("NaT", unit)), index=s.index)
    elif s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("datetime", "date", "datetime64"):
        # Python dates and datetimes (from a database driver): as DuckDB reads them, time-zone-aware
        # ones as UTC instants
        missing = s.isna().to_numpy()
        converted = pd.to_datetime(s, utc=True, errors="coerce")
        days, nat = _datetime_days(converted.dt.tz_localize(None).to_numpy())
        return days, missing, nat & ~missing, None
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return _datetime_days(s.to_numpy()) + (np.zeros(n, bool), None)
    if pd.api.types.is_bool_dtype(s.dtype) or not (pd.api.types.is_integer_dtype(s.dtype) or _is_text(s)):
        return np.zeros(n, np.int64), s.isna().to_numpy(), np.zeros(n, bool), msg_bad_date_type(s.dtype)
    if pd.api.types.is_integer_dtype(s.dtype):
        if date_format is None:
            example = s.dropna().iloc[0] if s.notna().any() else None
            return (np.zeros(n, np.int64), s.isna().to_numpy(), np.zeros(n, bool),
                    msg_integer_dates(None if example is None else int(example)))
        s = _as_text(s)
    text = _as_text(s)
    missing = (text.isna() | _blank(text)).to_numpy()
    if date_format is not None:
        # %z: offsets may differ from row to row, which only a conversion to UTC can hold in one column
        parsed = parse_formatted_dates(text.where(~missing), date_format)
    else:
        ok = text.str.fullmatch(DATE_PATTERN).fillna(False).astype(bool)
        head = text.str.strip().str.slice(0, 10).where(ok & ~missing)
        parsed = pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")
    days, unparsed = _datetime_days(parsed.to_numpy())
    return days, missing, unparsed & ~missing, None


def parse_amounts(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """(float64 values, missing mask, non-numeric mask, whole-column problem or None)."""
    n = len(s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype)
    if pd.api.types.is_bool_dtype(s.dtype) or not (pd.api.types.is_numeric_dtype(s.dtype) or _is_text(s)):
        return np.zeros(n), s.isna().to_numpy(), np.zeros(n, bool), msg_bad_amount_type(s.dtype)
    if pd.api.types.is_numeric_dtype(s.dtype):
        if s.dtype == np.float64:
            values = s.to_numpy()  # no copy
        else:
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        return values, missing, ~np.isfinite(values) & ~missing, None
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("decimal", "integer", "floating",
                                                                          "mixed-integer-float"):
        return parse_amounts(pd.to_numeric(s))
    text = _as_text(s)
    missing = (text.isna() | _blank(text)).to_numpy()
    ok = text.str.fullmatch(NUMBER_PATTERN).fillna(False).astype(bool).to_numpy()
    values = pd.to_numeric(text.where(ok).str.strip(), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.array(values, dtype=np.float64)  # a writable copy (pandas may hand out read-only views)
    ok = ok & np.isfinite(values)  # '1e999' has the shape of a number but is not a finite one
    values[~ok] = np.nan
    return values, missing, ~missing & ~ok, None


def check_frame(df: pd.DataFrame, *, customer_id: str, date: str, amount: str,
                observation_end: np.datetime64 | None, calibration_end: np.datetime64 | None,
                negative_amounts: str, date_format: str | None, problems: ProblemCollector,
                from_csv: bool = False, zero_amounts: str = "keep",
                row_labels: Callable[[np.ndarray], pd.DataFrame] | None = None,
                available: list[str] | None = None) -> ParsedLog | None:
    """Validate and parse a transaction log held in a DataFrame (the pandas engine).

    Adds every problem found to ``problems`` and returns None if there were any (the caller raises),
    else the parsed log, with negative rows dropped under ``negative_amounts='drop'`` and rows of
    amount 0 under ``zero_amounts='drop'``.
    ``row_labels(positions)`` gives the label columns shown for offending rows (file and row for
    logs read from files); by default the DataFrame's index is shown. ``available`` lists the columns
    of the source, when ``df`` holds only some of them (files read column by column).
    """
    present = [c for c in (customer_id, date, amount) if c in df.columns]
    report_missing_columns(problems, customer_id=customer_id, date=date, amount=amount, present=df.columns,
                           available=available or [str(c) for c in df.columns])
    raw = df[present]
    masks: dict[str, np.ndarray] = {}  # the offending rows of each check, by count key (checks.row_checks)
    whole: dict[str, str] = {}  # problems of a column as a whole, by role
    counts: dict[str, int | None] = {"n_rows": len(df)}
    ids = days = values = None
    if len(df):
        if customer_id in df.columns:
            ids, missing_id, big_id = parse_ids(df[customer_id], from_csv)
            masks.update(missing_id=missing_id.to_numpy(), big_id=big_id)
        if date in df.columns:
            days, missing_d, bad_d, col_problem = parse_dates(df[date], date_format)
            if col_problem:
                whole["date"] = col_problem
            else:
                valid_date = ~missing_d & ~bad_d
                out_of_range = valid_date & ((days < MIN_DAY) | (days > MAX_DAY))
                if out_of_range.any():
                    valid_date &= ~out_of_range
                masks.update(missing_date=missing_d, bad_date=bad_d, out_of_range_date=out_of_range)
                if valid_date.any():
                    d = days if valid_date.all() else days[valid_date]  # no copy in the usual, clean case
                    counts["first_day"], counts["last_day"] = int(d.min()), int(d.max())
                    if observation_end is not None:
                        masks["after_end"] = valid_date & (days > day_number(observation_end))
        if amount is None:  # a log without amounts: every purchase worth 0 (summarize drops the money columns)
            values = np.zeros(len(df))
            masks.update(negative=np.zeros(len(df), bool), zero=np.zeros(len(df), bool))
        elif amount in df.columns:
            values, missing_a, bad_a, col_problem = parse_amounts(df[amount])
            if col_problem:
                whole["amount"] = col_problem
            else:
                huge = values > MAX_AMOUNT  # NaN compares False; no |values| copy of a large column
                huge |= values < -MAX_AMOUNT
                huge &= ~bad_a  # infinities are already "non-numeric"
                negative = values < 0  # NaN compares False
                if huge.any():
                    negative &= ~huge
                masks.update(missing_amount=missing_a, bad_amount=bad_a, huge_amount=huge, negative=negative,
                             zero=values == 0)
    counts.update((key, int(np.count_nonzero(mask))) for key, mask in masks.items())

    def show_rows(key: str | None) -> pd.DataFrame:
        if key is None:  # a problem of a whole column, or of every row
            return raw.head(SHOW_ROWS)
        pos = np.flatnonzero(masks[key])[:SHOW_ROWS]
        rows = raw.iloc[pos]
        if row_labels is not None:
            labels = row_labels(pos)
            rows = pd.concat([labels.reset_index(drop=True), rows.reset_index(drop=True)], axis=1)
            rows.index = [""] * len(rows)
        return rows

    n0 = len(problems.problems)
    report_log_problems(problems, counts, show_rows, customer_id=customer_id, date=date, amount=amount,
                        date_format=date_format, negative_amounts=negative_amounts, observation_end=observation_end,
                        calibration_end=calibration_end, whole_column=whole, whole_column_first=False)
    if len(problems.problems) > n0 or ids is None or days is None or values is None:
        return None
    drop_negative, drop_zero = rows_to_drop(problems, counts, show_rows, amount=amount,
                                            negative_amounts=negative_amounts, zero_amounts=zero_amounts)
    if len(problems.problems) > n0:
        return None
    if drop_negative or drop_zero:
        negative, zero = masks["negative"], masks["zero"]
        dropped = negative | zero if drop_negative and drop_zero else negative if drop_negative else zero
        keep = ~dropped
        ids, days, values = ids[keep], days[keep], values[keep]
    return ParsedLog(ids=ids, day=days, amount=values, n_negative=counts["negative"], n_zero=counts["zero"])


def read_log(transactions, *, customer_id: str, date: str, amount: str, observation_end: np.datetime64 | None,
             calibration_end: np.datetime64 | None, negative_amounts: str, date_format: str | None,
             problems: ProblemCollector, zero_amounts: str = "keep") -> ParsedLog:
    """The pandas engine's log: a DataFrame as it is, or CSV/Parquet files read (the three columns
    only) with pyarrow, checked by :func:`check_frame`. Raises InputError with every problem in
    ``problems`` (those of the period ends included)."""
    labeller = None
    from_csv = False
    available = None
    if readers.is_file_source(transactions):
        source = readers.resolve_source(transactions)
        available = readers.file_columns(source)
        present = [c for c in dict.fromkeys((customer_id, date, amount)) if c in available]
        if not present:  # nothing to read: say which columns are missing (not that the log is empty)
            for col, role in ((customer_id, "customer id"), (date, "date"), (amount, "amount")):
                if col is not None:
                    problems.add(col, msg_missing_column(col, role, available))
            problems.raise_if_any()
        frame, labeller = readers.read_pandas(source, present)
        from_csv = source.from_csv
    else:
        frame = transactions
    log = check_frame(frame, customer_id=customer_id, date=date, amount=amount, observation_end=observation_end,
                      calibration_end=calibration_end, negative_amounts=negative_amounts, date_format=date_format,
                      problems=problems, from_csv=from_csv, row_labels=labeller, available=available,
                      zero_amounts=zero_amounts)
    problems.raise_if_any()
    assert log is not None  # check_frame returns None only with problems
    return log


# ---------------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------------
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
