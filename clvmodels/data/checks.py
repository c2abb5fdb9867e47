"""The rules every summary engine applies to a transaction log, and how they report what breaks them.

Was ``clvmodels.data.validate`` (which still re-exports these names). Shared by the pandas, DuckDB
and Spark engines (:mod:`~clvmodels.data.pandas_engine`, :mod:`~clvmodels.data.duckdb_engine`,
:mod:`clvmodels.spark.summary`): the parsing rules below (as patterns and limits), the messages (one
function or constant per problem), exact money, the observation and calibration ends, and
:func:`report_log_problems`, the one control flow that turns an engine's problem counts into
problems. Each engine counts in its own idiom (NumPy masks, one SQL or Spark aggregation) and fetches
its own first offending rows; what is reported, in which words and with which counts, is decided here,
so the engines accept exactly the same inputs and say the same things about bad ones.

Every check collects its problems in a :class:`~clvmodels.errors.ProblemCollector` and the caller
raises once, so a user sees every problem of a file in one run: missing columns, missing customer ids
or dates, unparseable dates, missing or non-numeric amounts, negative amounts (unless an explicit
``negative_amounts`` policy says what to do with them), transactions after the observation end, an
empty log, an observation end before every purchase, amounts too large to be money, dates outside the
supported range, integer ids too large for int64. Each problem names its column, shows the first
offending rows with their raw values, and counts the rows affected.

Parsing rules (the same in every engine)
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
period ends
    ``observation_end`` and ``calibration_end`` accept what the date column accepts (ISO text; with
    ``date_format`` also text or integers in it, read by :func:`parse_formatted_dates`, the column's
    rule), and dates, datetimes, Timestamps and datetime64 (their calendar day, UTC when time-zone
    aware), and ``pd.Period`` as its last day, an end being inclusive: :func:`end_day`. They are parsed
    once, here, and handed to every engine as calendar days, so the engines cannot differ on them.
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

from collections.abc import Callable, Container, Mapping
from typing import Any

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
# Unicode digits and spaces, RE2 (pyarrow, DuckDB) does not, and every engine must agree.
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
# Messages: one function per problem, used by every engine so that they say the same thing.
# ---------------------------------------------------------------------------------------------------
def msg_missing_column(column: str, role: str, available: list[str]) -> str:
    shown = ", ".join(repr(c) for c in available[:20]) + (" ..." if len(available) > 20 else "")
    return (f"required {role} column is missing; the columns present are: {shown or '(none)'}. "
            f"Name the right column with the {role.replace(' ', '_')} argument "
            f"(--{role.replace(' ', '-')} on the command line)"
            + ("; for a log without amounts, amount=None (--no-amount): the purchase forecast, and CLV with a "
               "spend per customer (spend=, --spend FILE)" if role == "amount" else ""))


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
#: what an observation or calibration end may be, for the messages (with date_format, text and integers in it too)
END_FORMS = ("an ISO 8601 date such as '1997-09-30' (a time of day, as in '1997-09-30 18:00' or "
             "'1997-09-30T18:00:00Z', is ignored), a datetime.date, datetime.datetime, pandas.Timestamp or "
             "numpy.datetime64 (its calendar day; UTC for time-zone-aware values), or a pandas.Period (its "
             "last day: pd.Period('1997-09', 'M') is 1997-09-30)")


def msg_bad_end(name: str, value, date_format: str | None, why: str = "") -> str:
    """The problem of an observation or calibration end that is not a date: names the option and lists
    the accepted forms (with ``date_format``, text and integers in that format are accepted too)."""
    if date_format:
        try:
            example = f", e.g. {pd.Timestamp('1997-09-30').strftime(date_format)!r}"
        except ValueError:
            example = ""
        fmt = f"; or text (or an integer) in date_format {date_format!r}{example}, as the date column"
    else:
        fmt = "; other layouts, such as '19970930', need date_format (e.g. '%Y%m%d'), as the date column does"
    return f"{name} {value!r} is not a date{': ' + why if why else ''}. Accepted: {END_FORMS}{fmt}"


class _NotADate(ValueError):
    """An end value that is not a date; the argument (if any) says why, for the message."""


def parse_formatted_dates(text: pd.Series, date_format: str) -> pd.Series:
    """Text dates read by a strptime ``date_format``, as naive datetimes (NaT where a value does not
    match): the rule of the pandas engine's date column (which the Spark engine runs too) and of the
    period ends. With ``%z`` the offsets may differ from row to row, which only a conversion to UTC can
    hold in one column: such dates become UTC wall times."""
    parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc="%z" in date_format)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _formatted_day(text: str, date_format: str) -> np.datetime64 | None:
    """The calendar day of one text under ``date_format`` (:func:`parse_formatted_dates`), or None."""
    ts = parse_formatted_dates(pd.Series([text], dtype=object), date_format).iloc[0]
    if ts is pd.NaT or pd.isna(ts):
        return None
    return np.datetime64(ts.date(), "D")


def end_day(value, date_format: str | None = None) -> np.datetime64:
    """The calendar day (``datetime64[D]``) that an observation or calibration end stands for.

    Ends are inclusive days. Accepted, as the date column accepts them:

    * text: ISO 8601 (``"1997-09-30"``, optionally with a time ``[T ]HH:MM[:SS[.fff]]`` and ``Z``, which
      is ignored); with ``date_format`` also text in that format (``"19970930"`` for ``"%Y%m%d"``). Text
      that both read, as different days (``"1997-09-10"`` under ``"%Y-%d-%m"``), is ambiguous: an error.
    * an integer (``19970930``), only with ``date_format``, read as its digits (as an integer date
      column is); without it an integer is an error, never a count of nanoseconds since 1970.
    * :class:`datetime.date`, :class:`datetime.datetime`, :class:`pandas.Timestamp`, ``numpy.datetime64``
      of a day or finer unit: its calendar day (time-zone-aware values in UTC, like the log's dates). A
      ``datetime64`` of months or years is refused (is it the first day or the last?): use a Period.
    * :class:`pandas.Period`: its **last** day, since an end is inclusive: ``pd.Period("1997-09", "M")``
      is 1997-09-30, ``pd.Period("1997Q3")`` too, a daily Period its own day.

    Raises :class:`ValueError` (a :class:`_NotADate`, whose message, if any, says why) for anything else.
    """
    import datetime as _dt

    if isinstance(value, (bool, np.bool_)):
        raise _NotADate
    if isinstance(value, pd.Period):
        ts = value.end_time
    elif isinstance(value, str):
        text = value.strip()
        iso = None
        if pd.Series([text]).str.fullmatch(DATE_PATTERN).iloc[0]:
            iso = np.datetime64(pd.Timestamp(text[:10]).date(), "D")
        if date_format:
            formatted = _formatted_day(value, date_format)
            if formatted is not None and iso is not None and formatted != iso:
                raise _NotADate(f"ambiguous: {formatted} under date_format {date_format!r}, {iso} as ISO 8601")
            if formatted is not None:
                return formatted
        if iso is None:
            raise _NotADate
        return iso
    elif isinstance(value, (int, np.integer)):
        if not date_format:
            raise _NotADate("an integer needs date_format (e.g. '%Y%m%d' for 19970930)")
        day = _formatted_day(str(int(value)), date_format)
        if day is None:
            raise _NotADate(f"it does not match date_format {date_format!r}")
        return day
    elif isinstance(value, np.datetime64):
        if np.isnat(value):
            raise _NotADate("it is NaT (missing)")
        unit = np.datetime_data(value.dtype)[0]
        if unit in ("Y", "M", "W", "generic"):
            raise _NotADate(f"a numpy.datetime64 in unit {unit!r} is not one day: give a day, or a pandas.Period "
                            "for the period's last day")
        ts = pd.Timestamp(value)
    elif isinstance(value, (_dt.date, pd.Timestamp)):
        ts = pd.Timestamp(value)
    elif value is pd.NaT:
        raise _NotADate("it is NaT (missing)")
    else:
        raise _NotADate
    if ts is pd.NaT:
        raise _NotADate("it is NaT (missing)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.date(), "D")


def parse_end_date(value, name: str, problems: ProblemCollector,
                   date_format: str | None = None) -> np.datetime64 | None:
    """Parse ``observation_end`` / ``calibration_end`` to a calendar day (inclusive end of a period).

    Accepts what the date column accepts (see :func:`end_day`): ISO 8601 text, with ``date_format`` also
    text or integers in that format, :class:`datetime.date`, :class:`datetime.datetime`,
    :class:`pandas.Timestamp`, ``numpy.datetime64``, and :class:`pandas.Period` (its last day). A time of
    day is dropped (the end is the whole day); a time-zone-aware timestamp is converted to UTC first,
    like the dates of the log. ``name`` is the option as the user wrote it (``observation_end``, or
    ``--observation-end`` on the command line). Adds a problem naming it and listing the accepted forms
    and returns None when the value cannot be read, or lies outside the supported range
    (:data:`MIN_DATE` to :data:`MAX_DATE`).
    """
    if value is None:
        problems.add(None, f"{name} is required (the last day of the period, e.g. '1997-09-30')")
        return None
    try:
        day = end_day(value, date_format)
    except (ValueError, TypeError, OverflowError) as exc:
        why = str(exc) if isinstance(exc, _NotADate) else ""
        problems.add(None, msg_bad_end(name, value, date_format, why))
        return None
    if not MIN_DATE <= day <= MAX_DATE:
        problems.add(None, msg_end_out_of_range(name, day))
        return None
    return day


def parse_period_ends(observation_end, calibration_end, problems: ProblemCollector, date_format: str | None = None,
                      names: tuple[str, str] = ("observation_end", "calibration_end")):
    """(observation end, calibration end or None) as calendar days, each problem added to ``problems``;
    a calibration end on or after the observation end is a problem (and read as None).

    ``date_format``: the date column's strptime format, which the ends may use too (see :func:`end_day`);
    ``names``: the two options as the user wrote them, for the messages."""
    obs_name, cal_name = names
    obs = parse_end_date(observation_end, obs_name, problems, date_format)
    cal = parse_end_date(calibration_end, cal_name, problems, date_format) if calibration_end is not None else None
    if obs is not None and cal is not None and cal >= obs:
        problems.add(None, f"{cal_name} {cal} must be before {obs_name} {obs}: the holdout period "
                           "is what comes after the calibration end")
        cal = None
    return obs, cal


def day_number(day: np.datetime64) -> int:
    """Days since 1970-01-01 of a calendar day."""
    return int((day - _EPOCH).astype(np.int64))


def day_text(days: int) -> str:
    return str(_EPOCH + np.timedelta64(int(days), "D"))


def exact_money(values: np.ndarray) -> tuple[int | None, np.ndarray]:
    """``(s, amounts in units of 10**-s)``: the fewest decimals ``s`` (0 to 6) that hold every amount
    exactly, or ``(None, values)``.

    Money is added exactly when it can be: if every amount is a decimal number with at most ``s``
    decimals (``round(a * 10**s) / 10**s == a`` in float64, true for any value read from text with at
    most ``s`` decimals), the amounts are added as integers of ``10**-s`` and divided by ``10**s`` only at
    the end. Sums then do not depend on the order of the rows or on the engine, and 0.1 + 0.2 is 0.3.
    ``max|a| * n * 10**s < 2**53`` guarantees that every partial sum is an exact integer in float64 (and
    the same test, made on exact quantities, gives the same answer in every engine; it also makes
    exactness at ``s`` imply exactness at ``s + 1``, so the DuckDB and Spark engines can take the largest per-row
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
    """The decimals of :func:`exact_money` from the DuckDB or Spark engine's aggregates: the largest, over rows,
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


# ---------------------------------------------------------------------------------------------------
# The problem reporter: one control flow for every engine
# ---------------------------------------------------------------------------------------------------
def row_checks(date_format: str | None, negative_amounts: str) -> dict[str, list[tuple[str, str]]]:
    """The checks of single rows, by role (``"customer_id"``, ``"date"``, ``"amount"``) in the order
    they are reported: ``(count key, message)``; an engine counts the offending rows of each under its
    key. Negative amounts are a problem only under ``negative_amounts='error'``."""
    checks = {
        "customer_id": [("missing_id", MSG_MISSING_IDS), ("big_id", MSG_IDS_TOO_LARGE)],
        "date": [("missing_date", MSG_MISSING_DATES), ("bad_date", msg_bad_dates(date_format)),
                 ("out_of_range_date", MSG_DATES_OUT_OF_RANGE)],
        "amount": [("missing_amount", MSG_MISSING_AMOUNTS), ("bad_amount", msg_bad_amounts()),
                   ("huge_amount", MSG_HUGE_AMOUNTS)],
    }
    if negative_amounts == "error":
        checks["amount"].append(("negative", MSG_NEGATIVE))
    return checks


#: the problem reporter's callback: the first offending rows of a check (its count key; "after_end"
#: for transactions after the observation end), or with None the first rows of the log; at most
#: SHOW_ROWS raw rows, labelled as the engine labels rows (index, file and row, file name)
ShowRows = Callable[[str | None], pd.DataFrame]


def report_missing_columns(problems: ProblemCollector, *, customer_id: str, date: str, amount: str,
                           present: Container, available: list[str]) -> None:
    """A problem for each of the three columns not in ``present``, listing the ``available`` ones."""
    roles = {customer_id: "customer id", date: "date", amount: "amount"}
    for col, role in roles.items():
        if col is not None and col not in present:  # amount None: a log without amounts
            problems.add(col, msg_missing_column(col, role, available))


def report_log_problems(problems: ProblemCollector, counts: Mapping[str, Any], show_rows: ShowRows, *,
                        customer_id: str, date: str, amount: str, date_format: str | None,
                        negative_amounts: str, observation_end: np.datetime64 | None,
                        calibration_end: np.datetime64 | None,
                        whole_column: Mapping[str, str | Callable[[], str]] | None = None,
                        whole_column_first: bool = True) -> None:
    """Turn an engine's problem counts into problems: the same checks, words, counts and order in
    every engine. The caller raises (``problems.raise_if_any()``).

    ``counts`` holds ``n_rows`` (rows in the log), the number of offending rows of each check of
    :func:`row_checks` under its key (a missing key or None counts 0: Spark has no ``big_id``),
    ``after_end`` (rows with a valid date after ``observation_end``), and ``first_day``/``last_day``,
    the day numbers (:func:`day_number`) of the first and last valid date (None when there is none).
    ``show_rows(key)`` fetches the first offending rows; it runs only for problems that are reported.
    ``whole_column`` maps a role (``"date"``, ``"amount"``) to a problem of that column as a whole (a
    type no rule reads, integer dates without date_format): its message, or a function giving it
    (called only when reported, e.g. to fetch an example value); it replaces the role's row checks and
    shows the first rows of the log. ``whole_column_first``: DuckDB and Spark report those before every
    row problem, pandas in column order (ids, dates, amounts); each engine keeps its order.

    An empty log is one problem (:data:`MSG_EMPTY`) and nothing else is reported. An observation end
    before every valid date is one problem for the date column, not every row "after the end".
    """
    n_rows = int(counts["n_rows"])
    if n_rows == 0:
        problems.add(None, MSG_EMPTY)
        return
    columns = {"customer_id": customer_id, "date": date, "amount": amount}
    whole = dict(whole_column or {})

    def report_whole(role: str) -> None:
        message = whole[role]
        problems.add(columns[role], message() if callable(message) else message, show_rows(None), n_rows)

    if whole_column_first:
        for role in whole:
            report_whole(role)
    for role, checks in row_checks(date_format, negative_amounts).items():
        if role in whole:  # the column as a whole: its rows are not checked one by one
            if not whole_column_first:
                report_whole(role)
            continue
        for key, message in checks:
            n = int(counts.get(key) or 0)
            if n:
                problems.add(columns[role], message, show_rows(key), n)
    first_day = counts.get("first_day")
    if first_day is None or observation_end is None:
        return
    first_day, last_day = int(first_day), int(counts["last_day"])
    if day_number(observation_end) < first_day:
        # every row is after the end: say that, rather than list all rows as "after the end"
        problems.add(date, msg_end_before_all("observation_end", str(observation_end), day_text(first_day)))
        return
    n_after = int(counts.get("after_end") or 0)
    if n_after:
        problems.add(date, msg_after_end(n_after, str(observation_end), day_text(last_day)), show_rows("after_end"),
                     n_after)
    if calibration_end is not None and day_number(calibration_end) < first_day:
        problems.add(date, msg_end_before_all("calibration_end", str(calibration_end), day_text(first_day)))


def rows_to_drop(problems: ProblemCollector, counts: Mapping[str, Any], show_rows: ShowRows, *, amount: str,
                 negative_amounts: str, zero_amounts: str) -> tuple[bool, bool]:
    """``(drop the negative rows, drop the rows worth 0)``: what the policies remove from a log that
    passed :func:`report_log_problems` (``counts`` as there, with ``negative`` and ``zero``).

    When they would remove every row, adds the problem that nothing is left (the caller raises). A
    log without problems has a value in every row, and negative and zero rows are disjoint, so the
    counts decide it.
    """
    n_rows = int(counts["n_rows"])
    n_negative, n_zero = int(counts.get("negative") or 0), int(counts.get("zero") or 0)
    drop_negative = negative_amounts == "drop" and n_negative > 0
    drop_zero = zero_amounts == "drop" and n_zero > 0
    if (drop_negative or drop_zero) and n_rows == n_negative * drop_negative + n_zero * drop_zero:
        problems.add(amount, msg_empty_after_drop(drop_negative, drop_zero), show_rows(None), n_rows)
    return drop_negative, drop_zero
