"""Input checks for transaction logs, shared by both summary engines.

Every check collects its problems in a :class:`~clvmodels.errors.ProblemCollector` and the caller
raises once, so a user sees every problem of a file in one run: missing columns, missing customer ids
or dates, unparseable dates, missing or non-numeric amounts, negative amounts (unless an explicit
``negative_amounts`` policy says what to do with them), transactions after the observation end, an
empty log, an observation end before every purchase, amounts too large to be money, dates outside the
supported range, integer ids too large for int64. Each problem names its column, shows the first
offending rows with their raw values, and counts the rows affected.

The pandas engine runs the checks below on a DataFrame; the DuckDB engine
(:mod:`clvmodels.data.duckdb_engine`) runs the same checks in SQL and words its problems with the same
message functions, so both engines accept exactly the same inputs and say the same things about bad
ones.

Parsing rules (the same in both engines)
----------------------------------------
customer ids
    Kept as given (integers stay integers, text stays text, nothing is trimmed); Python numbers in an
    object column are numbers. Integer ids must fit int64 (unsigned 64-bit ids above 2**63 - 1 are
    bad input: store them as text). A missing id is a null/NaN or a blank string.
    Ids read from CSV files are text; when every id of a CSV log is a
    canonical integer (``0``, ``17``, ``-3``; no leading zeros, no sign ``+``) they become int64, so
    ``00042`` and ``42`` are never merged.
dates
    datetime columns are used as they are; time-zone-aware timestamps are converted to UTC first.
    Text must be ISO 8601, ``YYYY-MM-DD`` optionally followed by a time ``[T ]HH:MM[:SS[.fff]]`` and
    ``Z`` (no other UTC offsets), unless ``date_format`` (strptime codes, e.g. ``"%Y%m%d"`` or
    ``"%d/%m/%Y"``) says otherwise. Integer columns such as ``19970101`` need ``date_format``.
    Timestamps with UTC offsets (``2024-01-01T23:30:00+02:00``) need a ``date_format`` with ``%z``
    (``"%Y-%m-%dT%H:%M:%S%z"``, which also reads a final ``Z``); they become UTC calendar days, even
    when the offsets differ from row to row.
    Only the calendar day is used: the time of day never matters. Dates (and ``observation_end`` /
    ``calibration_end``) must lie in the supported range :data:`MIN_DATE` to :data:`MAX_DATE`
    (1678-01-01 to 2261-12-31), which every engine and the summary's ``datetime64[ns]`` columns can
    hold; a date outside it (0001-01-01, 1600-..., 9999-12-31: usually a placeholder for "no date")
    is reported as bad input, not read as "unparseable" and never silently wrapped around.
amounts
    Numbers, or text holding a decimal number (``12``, ``-3.5``, ``1e3``; surrounding blanks
    allowed; no currency signs, thousands separators or ``nan``/``inf``). NaN and null are missing;
    infinities are not numbers. An amount larger in magnitude than :data:`MAX_AMOUNT` (2**53 =
    9,007,199,254,740,992) is bad input: float64 cannot hold whole units exactly beyond it, so it is
    not a ledger value (1e300 is an overflow or a placeholder), and sums of such values can overflow.
    Such rows are not also reported as negative amounts.
zero amounts
    An amount of exactly 0 (free items, vouchers) is a purchase like any other under
    ``zero_amounts="keep"`` (the default); ``zero_amounts="drop"`` removes those rows before anything
    else. See :func:`clvmodels.data.summarize`.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import ProblemCollector

#: the policies for negative amounts (returns); see :func:`clvmodels.data.summarize`
NEGATIVE_AMOUNT_POLICIES = ("error", "drop", "net")
#: the policies for amounts of exactly 0 (free items, vouchers); see :func:`clvmodels.data.summarize`
ZERO_AMOUNT_POLICIES = ("keep", "drop")
#: how many offending rows a problem shows
SHOW_ROWS = 5
#: money with at most this many decimals is added exactly, as integers (see :func:`money_decimals`)
MAX_MONEY_DECIMALS = 6
#: integers up to 2**53 are exact in float64
_EXACT_LIMIT = 2.0**53

# The regular expressions use only [0-9] and explicit blanks: Python's \d and \s also match other
# Unicode digits and spaces, RE2 (pyarrow, DuckDB) does not, and both engines must agree.
_BLANK = r"[ \t\r\n]*"
DATE_PATTERN = (_BLANK + r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?Z?)?" + _BLANK)
NUMBER_PATTERN = _BLANK + r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?" + _BLANK
CANONICAL_INT_PATTERN = r"0|-?[1-9][0-9]{0,17}"
BLANK_PATTERN = _BLANK

_EPOCH = np.datetime64("1970-01-01", "D")

#: the largest magnitude of an amount: float64 holds every whole number up to 2**53 exactly, and no
#: ledger value is larger (beyond it amounts are overflows or placeholders, and their sums can overflow)
MAX_AMOUNT = 2.0**53
#: the supported range of dates, inclusive: inside pandas' datetime64[ns] range (1677-09-21 to
#: 2262-04-11), so every engine and the summary's first_purchase/last_purchase columns can hold it
MIN_DATE = np.datetime64("1678-01-01", "D")
MAX_DATE = np.datetime64("2261-12-31", "D")
#: the same range as day numbers (days since 1970-01-01)
MIN_DAY = int((MIN_DATE - _EPOCH).astype(np.int64))
MAX_DAY = int((MAX_DATE - _EPOCH).astype(np.int64))


# ---------------------------------------------------------------------------------------------------
# Messages: one function per problem, used by both engines so that they say the same thing.
# ---------------------------------------------------------------------------------------------------
def msg_missing_column(column: str, role: str, available: list[str]) -> str:
    shown = ", ".join(repr(c) for c in available[:20]) + (" ..." if len(available) > 20 else "")
    return (f"required {role} column is missing; the columns present are: {shown or '(none)'}. "
            f"Name the right column with the {role.replace(' ', '_')} argument "
            f"(--{role.replace(' ', '-')} on the command line)")


MSG_EMPTY = "the transaction log is empty: there are no rows to summarise"
MSG_EMPTY_AFTER_DROP = ("no transactions are left after dropping the rows with negative amounts "
                        "(negative_amounts='drop')")
MSG_MISSING_IDS = "missing customer ids (null or blank): every transaction needs a customer"
MSG_IDS_TOO_LARGE = ("integer customer ids outside the int64 range (larger than 9,223,372,036,854,775,807), "
                     "which the summary's integer ids cannot hold: store the ids as text")
MSG_MISSING_DATES = "missing dates: every transaction needs a date"
MSG_MISSING_AMOUNTS = "missing amounts (null, NaN or blank)"
MSG_HUGE_AMOUNTS = ("amounts too large to be money: larger than 2**53 = 9,007,199,254,740,992 in magnitude, beyond "
                    "which float64 cannot hold whole units exactly; these are not ledger values (often overflows or "
                    "placeholders such as 1e300), and sums of them can overflow: fix or remove these rows")
MSG_DATES_OUT_OF_RANGE = (f"dates outside the supported range {MIN_DATE} to {MAX_DATE} (what every engine and "
                          "the summary's datetime64[ns] columns can hold); values such as 0001-01-01 or "
                          "9999-12-31 are often placeholders for \"no date\": remove those rows or give them "
                          "their real dates")


def msg_empty_after_drop(negatives: bool, zeros: bool) -> str:
    """Every row was dropped: by negative_amounts='drop' (``negatives``), zero_amounts='drop' (``zeros``)
    or both."""
    if zeros and not negatives:
        return "no transactions are left after dropping the rows with amount 0 (zero_amounts='drop')"
    if zeros:
        return ("no transactions are left after dropping the rows with negative amounts "
                "(negative_amounts='drop') and the rows with amount 0 (zero_amounts='drop')")
    return MSG_EMPTY_AFTER_DROP


def msg_end_out_of_range(name: str, day) -> str:
    return (f"{name} {day} is outside the supported range of dates, {MIN_DATE} to {MAX_DATE}; "
            "pass the real last day of the period")


def msg_ragged_rows(file: str, n_columns: int) -> str:
    return (f"{file}: rows with more or fewer fields than the header's {n_columns} columns (an unquoted "
            "comma inside a value, an unclosed double quote, a truncated line, or a line of blanks): every "
            "row needs exactly one field per column; quote values that contain commas (\"1,5\"), or fix or "
            "remove these rows")


def msg_bad_dates(date_format: str | None) -> str:
    if date_format:
        return f"unparseable dates: these values do not match date_format={date_format!r}"
    return ("unparseable dates: expected ISO 8601 dates such as 1997-01-31 or 1997-01-31 14:05:00 (a time "
            "may end in Z, UTC); pass date_format (e.g. '%Y%m%d' or '%d/%m/%Y', strptime codes) for other "
            "layouts, e.g. '%Y-%m-%dT%H:%M:%S%z' for times with a UTC offset such as +02:00")


def msg_integer_dates(example) -> str:
    return (f"the dates are integers (e.g. {example!r}), which could mean several things: pass "
            f"date_format, e.g. '%Y%m%d' for 19970131")


def msg_bad_date_type(dtype) -> str:
    return f"dates must be dates, timestamps or text, not {dtype}"


def msg_bad_amounts() -> str:
    return ("non-numeric amounts: expected plain decimal numbers such as 12.5 or -3 (no currency "
            "signs or thousands separators, no infinities)")


def msg_bad_amount_type(dtype) -> str:
    return f"amounts must be numbers (or text holding numbers), not {dtype}"


MSG_NEGATIVE = ("negative amounts (returns or refunds). Say how to treat them: "
                "negative_amounts='drop' ignores those rows, negative_amounts='net' nets them against the "
                "customer's spend (--negative-amounts on the command line)")


def msg_after_end(n: int, observation_end: str, last: str) -> str:
    return (f"{n} transaction{'s are' if n != 1 else ' is'} after the observation end {observation_end} "
            f"(the last is on {last}): filter the log to dates up to {observation_end}, or pass a later "
            f"observation_end (the last date in the log, {last}, includes them all)")


def msg_end_before_all(which: str, end: str, first: str) -> str:
    return (f"{which} {end} is before every purchase (the first is on {first}): "
            f"there is nothing to summarise; pass a later {which}")


# ---------------------------------------------------------------------------------------------------
# Observation and calibration ends
# ---------------------------------------------------------------------------------------------------
def parse_end_date(value, name: str, problems: ProblemCollector) -> np.datetime64 | None:
    """Parse ``observation_end`` / ``calibration_end`` to a calendar day (inclusive end of a period).

    Accepts ``"1997-09-30"``, :class:`datetime.date`, :class:`datetime.datetime`,
    :class:`pandas.Timestamp` or ``numpy.datetime64``. A time of day is dropped (the end is the whole
    day); a time-zone-aware timestamp is converted to UTC first, like the dates of the log.
    Adds a problem and returns None when the value cannot be read or lies outside the supported
    range (:data:`MIN_DATE` to :data:`MAX_DATE`).
    """
    if value is None:
        problems.add(None, f"{name} is required (the last day of the period, e.g. '1997-09-30')")
        return None
    try:
        if isinstance(value, str):
            value = value.strip()
            if not pd.Series([value]).str.fullmatch(DATE_PATTERN).iloc[0]:
                raise ValueError
        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            raise ValueError
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        day = np.datetime64(ts.date(), "D")
    except (ValueError, TypeError, OverflowError):
        problems.add(None, f"{name} {value!r} is not a date: use ISO 8601, e.g. '1997-09-30'")
        return None
    if not MIN_DATE <= day <= MAX_DATE:
        problems.add(None, msg_end_out_of_range(name, day))
        return None
    return day


def parse_period_ends(observation_end, calibration_end, problems: ProblemCollector):
    """(observation end, calibration end or None) as calendar days, each problem added to ``problems``;
    a calibration end on or after the observation end is a problem (and read as None)."""
    obs = parse_end_date(observation_end, "observation_end", problems)
    cal = parse_end_date(calibration_end, "calibration_end", problems) if calibration_end is not None else None
    if obs is not None and cal is not None and cal >= obs:
        problems.add(None, f"calibration_end {cal} must be before observation_end {obs}: the holdout period "
                           "is what comes after the calibration end")
        cal = None
    return obs, cal


def day_number(day: np.datetime64) -> int:
    """Days since 1970-01-01 of a calendar day."""
    return int((day - _EPOCH).astype(np.int64))


def day_text(days: int) -> str:
    return str(_EPOCH + np.timedelta64(int(days), "D"))


# ---------------------------------------------------------------------------------------------------
# The pandas engine's checks
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
        parsed = pd.to_datetime(text.where(~missing), format=date_format, errors="coerce", utc="%z" in date_format)
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
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
    roles = {customer_id: "customer id", date: "date", amount: "amount"}
    present = [c for c in (customer_id, date, amount) if c in df.columns]
    for col, role in roles.items():
        if col not in df.columns:
            problems.add(col, msg_missing_column(col, role, available or [str(c) for c in df.columns]))
    if len(df) == 0:
        problems.add(None, MSG_EMPTY)
        return None
    raw = df[present]

    def show(mask: np.ndarray) -> tuple[pd.DataFrame, int]:
        pos = np.flatnonzero(mask)
        rows = raw.iloc[pos[:SHOW_ROWS]]
        if row_labels is not None:
            labels = row_labels(pos[:SHOW_ROWS])
            rows = pd.concat([labels.reset_index(drop=True), rows.reset_index(drop=True)], axis=1)
            rows.index = [""] * len(rows)
        return rows, int(len(pos))

    def report(column: str, message: str, mask: np.ndarray) -> None:
        if mask.any():
            rows, n = show(mask)
            problems.add(column, message, rows, n)

    n0 = len(problems.problems)
    ids = days = values = None
    valid_date = None
    if customer_id in df.columns:
        ids, missing_id, big_id = parse_ids(df[customer_id], from_csv)
        report(customer_id, MSG_MISSING_IDS, missing_id.to_numpy())
        report(customer_id, MSG_IDS_TOO_LARGE, big_id)
    if date in df.columns:
        days, missing_d, bad_d, col_problem = parse_dates(df[date], date_format)
        if col_problem:
            problems.add(date, col_problem, raw.head(SHOW_ROWS), len(df))
        else:
            report(date, MSG_MISSING_DATES, missing_d)
            report(date, msg_bad_dates(date_format), bad_d)
            valid_date = ~missing_d & ~bad_d
            out_of_range = valid_date & ((days < MIN_DAY) | (days > MAX_DAY))
            if out_of_range.any():
                report(date, MSG_DATES_OUT_OF_RANGE, out_of_range)
                valid_date &= ~out_of_range
    negative = zero = None
    if amount in df.columns:
        values, missing_a, bad_a, col_problem = parse_amounts(df[amount])
        if col_problem:
            problems.add(amount, col_problem, raw.head(SHOW_ROWS), len(df))
        else:
            report(amount, MSG_MISSING_AMOUNTS, missing_a)
            report(amount, msg_bad_amounts(), bad_a)
            huge = values > MAX_AMOUNT  # NaN compares False; no |values| copy of a large column
            huge |= values < -MAX_AMOUNT
            huge &= ~bad_a  # infinities are already "non-numeric"
            report(amount, MSG_HUGE_AMOUNTS, huge)
            negative = values < 0  # NaN compares False
            if huge.any():
                negative &= ~huge
            zero = values == 0
            if negative_amounts == "error":
                report(amount, MSG_NEGATIVE, negative)
    if valid_date is not None and valid_date.any():
        d = days if valid_date.all() else days[valid_date]  # no copy in the usual, clean case
        first, last = int(d.min()), int(d.max())
        obs = day_number(observation_end) if observation_end is not None else None
        if obs is not None and obs < first:
            # every row is after the end: say that, rather than list all rows as "after the end"
            problems.add(date, msg_end_before_all("observation_end", str(observation_end), day_text(first)))
        elif obs is not None:
            after = valid_date & (days > obs)
            if after.any():
                report(date, msg_after_end(int(after.sum()), str(observation_end), day_text(last)), after)
            if calibration_end is not None and day_number(calibration_end) < first:
                problems.add(date, msg_end_before_all("calibration_end", str(calibration_end), day_text(first)))
    if len(problems.problems) > n0 or ids is None or days is None or values is None:
        return None
    n_negative = int(negative.sum())
    n_zero = int(zero.sum())
    drop_negative = negative_amounts == "drop" and n_negative > 0
    drop_zero = zero_amounts == "drop" and n_zero > 0
    if drop_negative or drop_zero:
        dropped = negative | zero if drop_negative and drop_zero else negative if drop_negative else zero
        keep = ~dropped
        if not keep.any():
            problems.add(amount, msg_empty_after_drop(drop_negative, drop_zero), raw.head(SHOW_ROWS), len(df))
            return None
        ids, days, values = ids[keep], days[keep], values[keep]
    return ParsedLog(ids=ids, day=days, amount=values, n_negative=n_negative, n_zero=n_zero)


def exact_money(values: np.ndarray) -> tuple[int | None, np.ndarray]:
    """``(s, amounts in units of 10**-s)``: the fewest decimals ``s`` (0 to 6) that hold every amount
    exactly, or ``(None, values)``.

    Money is added exactly when it can be: if every amount is a decimal number with at most ``s``
    decimals (``round(a * 10**s) / 10**s == a`` in float64, true for any value read from text with at
    most ``s`` decimals), the amounts are added as integers of ``10**-s`` and divided by ``10**s`` only at
    the end. Sums then do not depend on the order of the rows or on the engine, and 0.1 + 0.2 is 0.3.
    ``max|a| * n * 10**s < 2**53`` guarantees that every partial sum is an exact integer in float64 (and
    the same test, made on exact quantities, gives the same answer in both engines; it also makes
    exactness at ``s`` imply exactness at ``s + 1``, so the DuckDB engine can take the largest per-row
    ``s`` instead). Otherwise (e.g. amounts of 1/3) amounts are added as floats.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return 0, values
    bound = max(abs(float(values.max())), abs(float(values.min()))) * len(values)
    head = values[:1024]
    for s in range(MAX_MONEY_DECIMALS + 1):
        f = 10.0**s
        if bound * f >= _EXACT_LIMIT:
            return None, values
        # a cheap look at the first values rules most scales out before a full pass
        if not np.array_equal(np.round(head * f) / f, head):
            continue
        scaled = np.multiply(values, f)
        np.round(scaled, out=scaled)
        if np.array_equal(scaled / f, values):
            return s, scaled
    return None, values


def money_decimals_from_sql(row_max_decimals: int | None, max_abs: float, n: int) -> int | None:
    """The decimals of :func:`exact_money` from the DuckDB engine's aggregates: the largest, over rows,
    of each row's fewest exact decimals (``MAX_MONEY_DECIMALS + 1`` for none), the largest absolute
    amount and the number of rows."""
    if n == 0:
        return 0
    if row_max_decimals is None or row_max_decimals > MAX_MONEY_DECIMALS:
        return None
    if float(max_abs) * n * 10.0**row_max_decimals >= _EXACT_LIMIT:
        return None
    return int(row_max_decimals)


def check_options(*, time_mode: str, negative_amounts: str, engine: str, zero_amounts: str = "keep") -> None:
    """Reject unknown option values with the list of valid ones (ValueError: a programming error)."""
    if time_mode not in ("continuous", "periods"):
        raise ValueError(f"time_mode must be 'continuous' or 'periods', got {time_mode!r}")
    if negative_amounts not in NEGATIVE_AMOUNT_POLICIES:
        raise ValueError(f"negative_amounts must be one of {NEGATIVE_AMOUNT_POLICIES}, got {negative_amounts!r}")
    if zero_amounts not in ZERO_AMOUNT_POLICIES:
        raise ValueError(f"zero_amounts must be one of {ZERO_AMOUNT_POLICIES}, got {zero_amounts!r}")
    if engine not in ("auto", "pandas", "duckdb", "spark"):
        raise ValueError(f"engine must be 'auto', 'pandas', 'duckdb' or 'spark', got {engine!r}")
