"""The DuckDB engine: input checks and aggregation in SQL, in bounded memory.

The log is never loaded into pandas. DuckDB scans the files (or a registered DataFrame) twice:

1. one aggregate pass counts every kind of problem (the parsing rules of :mod:`clvmodels.data.checks`
   as SQL), and the shared reporter (:func:`clvmodels.data.checks.report_log_problems`) turns the counts
   into problems, as for the other engines; only for a count that is not zero does a second, streaming
   query fetch the first offending rows to show them;
2. two nested GROUP BYs build purchase occasions (customer x day or period x side of the calibration
   split) and then the per-customer aggregates of :class:`~clvmodels.data.aggregates.CustomerAggregates`
   (the engines' contract; :func:`clvmodels.data.summarize` finishes the summary).

DuckDB's hash aggregates spill to ``temp_directory`` when they outgrow ``memory_limit``, so a log larger
than memory is summarised in bounded memory; only the result (one row per customer) comes back to Python.

Defaults (override with ``summarize(..., duckdb_config={...})``): ``memory_limit`` 2 GB (or a quarter
of the machine's memory if that is less), ``temp_directory`` a fresh temporary directory removed
afterwards, ``threads`` DuckDB's default (all cores), ``preserve_insertion_order`` false (it costs
memory and the result is sorted anyway).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ProblemCollector
from . import readers
from .aggregates import CustomerAggregates, period_index
from .checks import (
    BLANK_PATTERN,
    CANONICAL_INT_PATTERN,
    DATE_PATTERN,
    MAX_AMOUNT,
    MAX_DATE,
    MAX_MONEY_DECIMALS,
    MIN_DATE,
    NUMBER_PATTERN,
    SHOW_ROWS,
    day_number,
    money_decimals_from_sql,
    msg_bad_amount_type,
    msg_bad_date_type,
    msg_integer_dates,
    report_log_problems,
    report_missing_columns,
    rows_to_drop,
)

DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3

_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
              "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TEXT_TYPES = {"VARCHAR"}
_TIMESTAMP_TYPES = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_US", "DATETIME",
                    "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}
_BLANK_CHARS = "' \t\r\n'"


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _base_type(t: str) -> str:
    t = t.upper()
    return "DECIMAL" if t.startswith("DECIMAL") else t


def _default_memory_limit() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(min(DEFAULT_MEMORY_LIMIT_BYTES, total // 4))
    except (ValueError, OSError, AttributeError):
        return DEFAULT_MEMORY_LIMIT_BYTES


def connect(config: dict[str, Any] | None = None):
    """A DuckDB connection with a memory limit and a spill directory; returns (connection, temp dir to
    remove or None)."""
    import duckdb

    cfg = {"memory_limit": f"{_default_memory_limit() // 1024**2}MB", "preserve_insertion_order": False}
    cfg.update(config or {})
    own_tmp = None
    if "temp_directory" not in cfg:
        own_tmp = tempfile.mkdtemp(prefix="clvmodels-duckdb-")
        cfg["temp_directory"] = own_tmp
    con = duckdb.connect(":memory:", config={k: v for k, v in cfg.items()})
    # Time-zone-aware timestamps become UTC calendar days, as in the pandas engine.
    con.execute("SET TimeZone = 'UTC'")
    return con, own_tmp


class _Columns:
    """SQL expressions that parse the three columns according to their types.

    ``date`` is a DATE expression (NULL when missing or unparseable), ``value`` a DOUBLE expression;
    ``*_missing`` / ``*_bad`` / ``date_out`` / ``amount_huge`` are the conditions the pandas engine
    checks, as SQL. A column that is absent (already reported) or unusable as a whole gets NULLs and
    raises no further problem. ``integer_dates()`` words the problem of integer dates without a
    date_format (it fetches an example, so it runs only when the problem is reported).
    """

    def __init__(self, types: dict[str, str], customer_id: str, date: str, amount: str,
                 date_format: str | None, from_csv: bool, integer_dates: Callable[[], str]):
        # problems of a column as a whole, by role: message, or a function giving it
        self.problems_whole: dict[str, str | Callable[[], str]] = {}
        c, d, a = _q(customer_id), _q(date), (_q(amount) if amount is not None else None)
        # customer id
        ct = _base_type(types.get(customer_id, "BIGINT"))
        if customer_id not in types:
            self.id_missing = "FALSE"
        elif ct in _TEXT_TYPES:
            self.id_missing = f"({c} IS NULL OR regexp_full_match({c}, {_s(BLANK_PATTERN)}))"
        elif ct in _FLOAT_TYPES:
            self.id_missing = f"({c} IS NULL OR isnan({c}))"
        else:
            self.id_missing = f"({c} IS NULL)"
        # integers wider than BIGINT (unsigned 64-bit, 128-bit): must fit the summary's int64 ids
        self.id_wide = customer_id in types and ct in ("HUGEINT", "UBIGINT", "UHUGEINT")
        self.id_too_big = (f"coalesce({c} > 9223372036854775807 OR {c} < -9223372036854775808, FALSE)"
                           if self.id_wide else "FALSE")
        self.id_check_canonical = from_csv and ct in _TEXT_TYPES and customer_id in types
        # date -> DATE (UTC calendar day for time-zone-aware timestamps: the session's TimeZone is UTC)
        dt = _base_type(types.get(date, ""))
        text = None
        self.date, self.date_missing, self.date_bad = "NULL::DATE", "FALSE", "FALSE"
        if date not in types:
            pass
        elif dt == "DATE":
            self.date, self.date_missing = d, f"({d} IS NULL)"
        elif dt in _TIMESTAMP_TYPES:
            self.date, self.date_missing = f"CAST({d} AS DATE)", f"({d} IS NULL)"
        elif dt in _INT_TYPES and date_format is None:
            self.problems_whole["date"] = integer_dates
        elif dt in _INT_TYPES or dt in _TEXT_TYPES:
            text = d if dt in _TEXT_TYPES else f"CAST({d} AS VARCHAR)"
        else:
            self.problems_whole["date"] = msg_bad_date_type(types[date])
        if text is not None:
            self.date_missing = f"({text} IS NULL OR regexp_full_match({text}, {_s(BLANK_PATTERN)}))"
            if date_format is not None:
                # %z: a final Z is UTC, as Python's strptime (the pandas engine) reads it; DuckDB's does not
                stamp = f"regexp_replace({text}, 'Z$', '+00:00')" if "%z" in date_format else text
                self.date = f"CAST(try_strptime({stamp}, {_s(date_format)}) AS DATE)"
            else:
                self.date = (f"(CASE WHEN regexp_full_match({text}, {_s(DATE_PATTERN)}) "
                             f"THEN TRY_CAST(substr(trim({text}, {_BLANK_CHARS}), 1, 10) AS DATE) END)")
            self.date_bad = f"(NOT {self.date_missing} AND {self.date} IS NULL)"
        # outside the supported range (placeholders such as 0001-01-01): never silently converted
        self.date_out = (f"coalesce({self.date} < {_date_literal(MIN_DATE)} OR {self.date} > "
                         f"{_date_literal(MAX_DATE)}, FALSE)")
        self.date_valid = f"({self.date} IS NOT NULL AND NOT {self.date_out})"
        # amount -> DOUBLE
        at = _base_type(types.get(amount, "DOUBLE"))
        self.value, self.amount_missing, self.amount_bad = "NULL::DOUBLE", "FALSE", "FALSE"
        if amount is None:  # a log without amounts: every purchase worth 0 (summarize drops the money columns)
            self.value = "0.0::DOUBLE"
        elif amount not in types:
            pass
        elif at in _FLOAT_TYPES:
            self.value = f"CAST({a} AS DOUBLE)"
            self.amount_missing = f"({a} IS NULL OR isnan({a}))"
            self.amount_bad = f"isinf({a})"
        elif at in _INT_TYPES or at == "DECIMAL":
            self.value = f"CAST({a} AS DOUBLE)"
            self.amount_missing = f"({a} IS NULL)"
        elif at in _TEXT_TYPES:
            number = f"TRY_CAST(trim({a}, {_BLANK_CHARS}) AS DOUBLE)"
            ok = f"(regexp_full_match({a}, {_s(NUMBER_PATTERN)}) AND isfinite({number}))"
            self.value = f"(CASE WHEN {ok} THEN {number} END)"
            self.amount_missing = f"({a} IS NULL OR regexp_full_match({a}, {_s(BLANK_PATTERN)}))"
            self.amount_bad = f"(NOT {self.amount_missing} AND NOT coalesce({ok}, FALSE))"
        else:
            self.problems_whole["amount"] = msg_bad_amount_type(types[amount])
        # too large to be money (infinities are "non-numeric" already); not also "negative"
        self.amount_huge = f"coalesce(isfinite({self.value}) AND abs({self.value}) > {MAX_AMOUNT!r}::DOUBLE, FALSE)"
        self.negative = f"({self.value} < 0 AND NOT {self.amount_huge})"
        self.zero = f"({self.value} = 0)"


def _count(cond: str, name: str) -> str:
    """``count(*) FILTER (WHERE cond) AS name``, or a constant 0 when the condition is FALSE."""
    return f"0 AS {name}" if cond == "FALSE" else f"count(*) FILTER (WHERE {cond}) AS {name}"


def _date_literal(day) -> str:
    return f"DATE '{day}'"


def _examples(con, src: str, raw_cols: list[str], cond: str, *, file_source, frame_index) -> pd.DataFrame:
    """The first offending rows (raw values) with their file and row (or DataFrame index label).

    A streaming ``row_number() OVER ()`` with insertion order preserved numbers the rows in file
    order without materialising the log; this query runs only when there is a problem to show.
    """
    con.execute("SET preserve_insertion_order = true")
    cols = ", ".join(_q(c) for c in raw_cols)
    fname = ", filename" if file_source is not None else ""
    rows = con.execute(
        f"SELECT * FROM (SELECT row_number() OVER () AS __row{fname}, {cols}, {cond} AS __bad FROM {src}) "
        f"WHERE __bad LIMIT {SHOW_ROWS}").df()
    con.execute("SET preserve_insertion_order = false")
    shown = rows[raw_cols].copy()
    if file_source is not None:
        # per-file row numbers: global row minus the rows of the files before (counts in file order)
        counts = dict(con.execute(f"SELECT filename, count(*) FROM {src} GROUP BY filename").fetchall())
        order = [os.path.abspath(p) for p in file_source.paths]
        offsets, acc = {}, 0
        for p in order:
            offsets[p] = acc
            acc += int(counts.get(p, 0))
        labels = pd.DataFrame({
            "file": [os.path.basename(f) for f in rows["filename"]],
            "row": [int(r) - offsets.get(f, 0) for r, f in zip(rows["__row"], rows["filename"])]})
        shown = pd.concat([labels, shown.reset_index(drop=True)], axis=1)
        shown.index = [""] * len(shown)
    else:
        shown.index = frame_index[rows["__row"].to_numpy(np.int64) - 1]
    return shown


def aggregate_duckdb(transactions, *, customer_id: str, date: str, amount: str, observation_end,
                     calibration_end, unit: str, time_mode: str, negative_amounts: str,
                     date_format: str | None, problems: ProblemCollector,
                     config: dict | None = None, zero_amounts: str = "keep") -> tuple[CustomerAggregates, int]:
    """Validate and aggregate a log with DuckDB; raises InputError with every problem found.

    Returns the per-customer aggregates and the number of negative-amount rows (the number of rows
    worth 0 is ``aggregates.n_zero_amounts``).
    """
    con, own_tmp = connect(config)
    try:
        return _run(con, transactions, customer_id=customer_id, date=date, amount=amount,
                    observation_end=observation_end, calibration_end=calibration_end, unit=unit,
                    time_mode=time_mode, negative_amounts=negative_amounts, date_format=date_format,
                    problems=problems, zero_amounts=zero_amounts)
    finally:
        con.close()
        if own_tmp:
            shutil.rmtree(own_tmp, ignore_errors=True)


def _run(con, transactions, *, customer_id, date, amount, observation_end, calibration_end, unit, time_mode,
         negative_amounts, date_format, problems, zero_amounts="keep"):
    import duckdb

    needed = [c for c in dict.fromkeys((customer_id, date, amount)) if c is not None]  # amount None: no amounts
    file_source = None
    frame_index = None
    if isinstance(transactions, pd.DataFrame):
        available = [str(c) for c in transactions.columns]
        present = [c for c in needed if c in transactions.columns]
        if not present:  # DuckDB cannot register a frame without columns: say which are missing
            report_missing_columns(problems, customer_id=customer_id, date=date, amount=amount, present=present,
                                   available=available)
            problems.raise_if_any()
        frame = transactions[present].reset_index(drop=True)
        frame_index = transactions.index
        for col in present:  # DuckDB scans categoricals as ENUMs: give it the plain values
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(frame[col].cat.categories.dtype)
        con.register("clv_log", frame)
        src = "clv_log"
        from_csv = False
    else:
        file_source = readers.resolve_source(transactions)
        available = readers.file_columns(file_source)
        present = [c for c in needed if c in available]
        src = readers.duckdb_source(file_source, present)
        from_csv = file_source.from_csv
    report_missing_columns(problems, customer_id=customer_id, date=date, amount=amount, present=present,
                           available=available)
    if not present:
        problems.raise_if_any()
    src_with_names = readers.duckdb_source(file_source, present, filename=True) if file_source else src

    def unreadable(exc: Exception) -> InputError:
        """The error for a log DuckDB cannot read: ragged CSV rows named by file and row, else DuckDB's
        reason without its advice (its options are not clv's)."""
        if file_source is not None and file_source.from_csv:
            return readers.csv_read_error(file_source, exc)
        return InputError(f"cannot read the transaction log: {readers.engine_reason(exc)}")

    try:
        described = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {src})").fetchall()
    except duckdb.Error as exc:
        raise unreadable(exc) from exc
    types = {c: t for c, t in described if c in present}

    def integer_dates() -> str:
        example = con.execute(f"SELECT {_q(date)} FROM {src} WHERE {_q(date)} IS NOT NULL LIMIT 1").fetchone()
        return msg_integer_dates(None if example is None else int(example[0]))

    cols = _Columns(types, customer_id, date, amount, date_format, from_csv, integer_dates)
    raw_cols = present
    obs = _date_literal(observation_end) if observation_end is not None else "NULL::DATE"
    after_end = f"({cols.date_valid} AND {cols.date} > {obs})"

    # Pass 1: count every problem; test whether money can be added exactly as integers
    # (checks.exact_money: the per-row fewest exact decimals, largest over the kept rows).
    kept = f"({cols.value} IS NOT NULL AND NOT isnan({cols.value}))"
    if negative_amounts == "drop":
        kept = f"({kept} AND {cols.value} >= 0)"
    if zero_amounts == "drop":
        kept = f"({kept} AND {cols.value} <> 0)"
    decimals_case = ("CASE " + " ".join(
        f"WHEN round({cols.value} * {10**s}.0::DOUBLE) / {10**s}.0::DOUBLE = {cols.value} THEN {s}"
        for s in range(MAX_MONEY_DECIMALS + 1)) + f" ELSE {MAX_MONEY_DECIMALS + 1} END")
    canonical = (f"bool_and(regexp_full_match({_q(customer_id)}, {_s(CANONICAL_INT_PATTERN)}))"
                 if cols.id_check_canonical else "FALSE")
    try:
        stats = con.execute(f"""
            SELECT count(*) AS n_rows,
                   {_count(cols.id_missing, "missing_id")},
                   {_count(cols.id_too_big, "big_id")},
                   {_count(cols.date_missing, "missing_date")},
                   {_count(cols.date_bad, "bad_date")},
                   count(*) FILTER (WHERE {cols.date_out}) AS out_of_range_date,
                   {_count(cols.amount_missing, "missing_amount")},
                   {_count(cols.amount_bad, "bad_amount")},
                   count(*) FILTER (WHERE {cols.amount_huge}) AS huge_amount,
                   count(*) FILTER (WHERE {cols.negative}) AS negative,
                   count(*) FILTER (WHERE {cols.zero}) AS zero,
                   count(*) FILTER (WHERE {after_end}) AS after_end,
                   min({cols.date}) FILTER (WHERE {cols.date_valid}) AS first_date,
                   max({cols.date}) FILTER (WHERE {cols.date_valid}) AS last_date,
                   {canonical} AS canonical_ids,
                   max(abs({cols.value})) FILTER (WHERE {kept}) AS money_max_abs,
                   count(*) FILTER (WHERE {kept}) AS money_n,
                   max({decimals_case}) FILTER (WHERE {kept}) AS money_decimals
            FROM {src}""").fetchone()
    except duckdb.Error as exc:
        raise unreadable(exc) from exc
    names = ["n_rows", "missing_id", "big_id", "missing_date", "bad_date", "out_of_range_date", "missing_amount",
             "bad_amount", "huge_amount", "negative", "zero", "after_end", "first_date", "last_date",
             "canonical_ids", "money_max_abs", "money_n", "money_decimals"]
    stats = dict(zip(names, stats))
    for end in ("first", "last"):  # the reporter takes day numbers
        d = stats.pop(f"{end}_date")
        stats[f"{end}_day"] = None if d is None else day_number(np.datetime64(d, "D"))
    conds = {"missing_id": cols.id_missing, "big_id": cols.id_too_big, "missing_date": cols.date_missing,
             "bad_date": cols.date_bad, "out_of_range_date": cols.date_out, "missing_amount": cols.amount_missing,
             "bad_amount": cols.amount_bad, "huge_amount": cols.amount_huge, "negative": cols.negative,
             "after_end": after_end}

    def show_rows(key: str | None) -> pd.DataFrame:
        if key is None:  # the first rows of the log
            return con.execute(f"SELECT {', '.join(_q(c) for c in raw_cols)} FROM {src} LIMIT {SHOW_ROWS}").df()
        return _examples(con, src_with_names, raw_cols, conds[key], file_source=file_source, frame_index=frame_index)

    report_log_problems(problems, stats, show_rows, customer_id=customer_id, date=date, amount=amount,
                        date_format=date_format, negative_amounts=negative_amounts, observation_end=observation_end,
                        calibration_end=calibration_end, whole_column=cols.problems_whole)
    problems.raise_if_any()

    n_negative, n_zero = int(stats["negative"]), int(stats["zero"])
    keep = ""
    drop_negative, drop_zero = rows_to_drop(problems, stats, show_rows, amount=amount,
                                            negative_amounts=negative_amounts, zero_amounts=zero_amounts)
    problems.raise_if_any()
    if drop_negative or drop_zero:
        dropped = [c for c, on in ((cols.negative, drop_negative), (cols.zero, drop_zero)) if on]
        keep = "WHERE NOT (" + " OR ".join(dropped) + ")"
    decimals = money_decimals_from_sql(stats["money_decimals"], stats["money_max_abs"] or 0.0,
                                       int(stats["money_n"]))
    value = cols.value
    if decimals is not None:  # integers of 10**-decimals, as DOUBLE: exact below 2**53, and fast to add
        value = f"round({cols.value} * {10**decimals}.0::DOUBLE)"
    cid = _q(customer_id)
    if cols.id_check_canonical and bool(stats["canonical_ids"]):
        cid = f"CAST({cid} AS BIGINT)"  # ids of a CSV log that are all canonical integers (as in pandas)
    elif cols.id_wide:
        cid = f"CAST({cid} AS BIGINT)"  # they fit (checked): int64 ids, as in pandas
    sql = _aggregation_sql(src=src, cid=cid, date=cols.date, value=value, keep=keep, unit=unit,
                           time_mode=time_mode, calibration_end=calibration_end,
                           returns=negative_amounts == "net" and n_negative > 0)
    try:
        res = con.execute(sql).fetchnumpy()
    except duckdb.Error as exc:
        if file_source is not None and file_source.from_csv:
            raise unreadable(exc) from exc
        raise InputError(f"DuckDB could not summarise the log: {readers.engine_reason(exc)}") from exc
    con.close()  # frees DuckDB's memory before the summary is built

    def col(name, dtype):
        v = res[name]
        if isinstance(v, np.ma.MaskedArray):
            v = v.filled(0)
        return np.asarray(v, dtype=dtype)

    ids = res["cid"]
    if isinstance(ids, np.ma.MaskedArray):
        ids = ids.filled()
    day_first = col("day_first", np.int64)
    day_last = col("day_last", np.int64)
    k_first = col("k_first", np.int64) if "k_first" in res else day_first
    k_last = col("k_last", np.int64) if "k_last" in res else day_last
    if time_mode == "periods":  # the SQL returns each period's first day; the summary wants its number
        k_first, k_last = period_index(k_first, unit, time_mode), period_index(k_last, unit, time_mode)
    n_occ_hold = col("n_occ_hold", np.int64) if "n_occ_hold" in res else np.zeros(len(ids), np.int64)
    zeros = np.zeros(len(ids))
    agg = CustomerAggregates(
        ids=np.asarray(ids), n_rows_cal=col("n_rows_cal", np.int64), n_occ_cal=col("n_occ_cal", np.int64),
        k_first=k_first, k_last=k_last, day_first=day_first, day_last=day_last,
        spend_cal=col("spend_cal", np.float64),
        purchase_sum_cal=col("purchase_sum_cal", np.float64) if "purchase_sum_cal" in res
        else col("spend_cal", np.float64),
        first_value=col("first_value", np.float64), n_occ_hold=n_occ_hold,
        purchase_sum_hold=col("purchase_sum_hold", np.float64) if "purchase_sum_hold" in res else zeros,
        spend_hold=col("spend_hold", np.float64) if "spend_hold" in res else zeros,
        money_scale=10.0**decimals if decimals is not None else 1.0, money_exact=decimals is not None,
        n_zero_amounts=n_zero)
    return agg, n_negative


def _aggregation_sql(*, src, cid, date, value, keep, unit, time_mode, calibration_end, returns) -> str:
    """The two GROUP BYs: purchase occasions (customer x day or period [x side of the split]), then
    customers. Only the FILTERs a case needs are generated (each costs a pass over the occasions)."""
    epoch = "DATE '1970-01-01'"
    split = calibration_end is not None
    periods = time_mode == "periods" and unit != "D"
    cal = _date_literal(calibration_end) if split else None
    if periods:
        trunc = "week" if unit == "W" else "month"  # DuckDB's weeks start on Monday (ISO), as ours
        key = f"CAST(date_trunc('{trunc}', d) AS DATE)"
    else:
        key = "d"
    occ_cols = ["sum(amt) AS v", "count(*) AS n"]
    if returns:
        occ_cols.append("bool_or(amt >= 0) AS isp")
    if periods:
        purchase_day = "d" if not returns else "CASE WHEN amt >= 0 THEN d END"
        occ_cols += [f"min({purchase_day}) AS dmin", f"max({purchase_day}) AS dmax"]
    group = ["cid", "k"] + (["hold"] if split and periods else [])
    hold_col = f", d > {cal} AS hold" if split and periods else ""
    occ = (f"SELECT cid, {key} AS k{hold_col}, {', '.join(occ_cols)} "
           f"FROM (SELECT {cid} AS cid, {date} AS d, {value} AS amt FROM {src} {keep}) "
           f"GROUP BY {', '.join(group)}")

    def f(cond):
        return f" FILTER (WHERE {cond})" if cond else ""

    in_cal = ("NOT hold" if periods else f"k <= {cal}") if split else ""
    in_hold = ("hold" if periods else f"k > {cal}") if split else ""
    purchase = " AND ".join(c for c in (in_cal, "isp" if returns else "") if c)
    hold_purchase = " AND ".join(c for c in (in_hold, "isp" if returns else "") if c)
    if periods:  # the first/last purchase day within the first/last period
        first_day, last_day = f"arg_min(dmin, k){f(purchase)}", f"arg_max(dmax, k){f(purchase)}"
    else:  # an occasion is a day
        first_day, last_day = f"min(k){f(purchase)}", f"max(k){f(purchase)}"
    out = [
        f"coalesce(sum(n){f(in_cal)}, 0)::BIGINT AS n_rows_cal",
        f"count(*){f(purchase)} AS n_occ_cal",
        f"coalesce({first_day} - {epoch}, 0)::BIGINT AS day_first",
        f"coalesce({last_day} - {epoch}, 0)::BIGINT AS day_last",
        f"coalesce(sum(v){f(in_cal)}, 0)::DOUBLE AS spend_cal",
        f"coalesce(arg_min(v, k){f(purchase)}, 0)::DOUBLE AS first_value",
    ]
    if periods:
        out += [f"coalesce(min(k){f(purchase)} - {epoch}, 0)::BIGINT AS k_first",
                f"coalesce(max(k){f(purchase)} - {epoch}, 0)::BIGINT AS k_last"]
    if purchase != in_cal:  # returns-only occasions make purchase sums differ from spend
        out.append(f"coalesce(sum(v){f(purchase)}, 0)::DOUBLE AS purchase_sum_cal")
    if split:
        out += [f"count(*){f(hold_purchase)} AS n_occ_hold",
                f"coalesce(sum(v){f(hold_purchase)}, 0)::DOUBLE AS purchase_sum_hold",
                f"coalesce(sum(v){f(in_hold)}, 0)::DOUBLE AS spend_hold"]
    return f"WITH occ AS ({occ}) SELECT cid, {', '.join(out)} FROM occ GROUP BY cid ORDER BY cid"
