"""The Spark engine of the RFM summary: a Spark DataFrame of transactions in, a Spark DataFrame of
customers out, with the definitions, parsing rules, checks and messages of the pandas and DuckDB
engines (:mod:`clvmodels.data.summary`, :mod:`clvmodels.data.checks`); :func:`aggregate_spark` is the
engine behind ``clvmodels.summarize(..., engine="spark")``, returning the engines' contract
(:class:`~clvmodels.data.aggregates.CustomerAggregates`) as the DuckDB engine does.

How it runs (nothing per transaction or per customer ever comes to the driver):

1. one aggregation pass over the log counts every kind of problem (missing ids, dates or amounts,
   unparseable dates or amounts, negative amounts, transactions after the observation end) and runs
   the exact-money test of :func:`clvmodels.data.checks.exact_money`; the shared reporter
   (:func:`clvmodels.data.checks.report_log_problems`) turns the counts into problems, and only for a
   count that is not zero does a second query fetch the first offending rows (``limit 5``) to show
   them. Problems are raised together as :class:`clvmodels.errors.InputError`, each naming its column;
2. two group-bys build purchase occasions (customer x day or period x side of the calibration split)
   and then the per-customer aggregates of :class:`clvmodels.data.aggregates.CustomerAggregates`;
3. the summary columns are derived from those aggregates with the same arithmetic, in the same
   order, as :func:`clvmodels.data.aggregates.finish_summary`, so counts, dates and times are identical
   to the other engines, and so is money when it is exact (amounts with at most 6 decimals are added
   as integers); otherwise money sums agree to within rounding (relative 1e-12), as between the pandas
   and DuckDB engines.

Differences that come from Spark itself: the rows of the result are in no particular order (sort by
``customer_id`` if you need the pandas engine's order); ``first_purchase`` and ``last_purchase`` are
Spark ``DATE`` columns (calendar days; the pandas summary holds them as midnight timestamps); Spark
``TIMESTAMP`` columns are instants and their UTC calendar day is used (like time-zone-aware timestamps
in the pandas engine), ``TIMESTAMP_NTZ`` and ``DATE`` columns are used as they are; the first
offending rows of a problem are shown with their file name (Spark has no row numbers in files).
CSV rows with more or fewer fields than the header are refused as by the other engines (named by file
and data row): Spark reads CSV logs in ``FAILFAST`` mode and, to notice them at all, with
``spark.sql.csv.parser.columnPruning.enabled`` set to false in the session (every column is parsed).
What ``summarize`` records in ``attrs["clvmodels"]`` is kept as metadata of the ``customer_id``
column (:func:`summary_metadata`), so it travels with the DataFrame, through Parquet files too.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..data import readers
from ..data.aggregates import (
    HOLDOUT_COLUMNS,
    SUMMARY_COLUMNS,
    WEEK_ORIGIN_DAY,
    CustomerAggregates,
    finish_summary,
    period_index,
    warn_excluded,
)
from ..data.checks import (
    BLANK_PATTERN,
    CANONICAL_INT_PATTERN,
    DATE_PATTERN,
    MAX_AMOUNT,
    MAX_DAY,
    MAX_MONEY_DECIMALS,
    MIN_DAY,
    NUMBER_PATTERN,
    SHOW_ROWS,
    check_options,
    day_number,
    money_decimals_from_sql,
    msg_bad_amount_type,
    msg_bad_date_type,
    msg_integer_dates,
    parse_period_ends,
    report_log_problems,
    report_missing_columns,
    rows_to_drop,
)
from ..errors import InputError, ProblemCollector
from ..units import DAYS_PER_UNIT, check_unit

__all__ = ["summarize_spark", "aggregate_spark", "to_pandas_summary", "summary_metadata", "read_transactions"]

#: the metadata key under which the summary's attrs travel (column metadata of ``customer_id``)
METADATA_KEY = "clvmodels"
_FILE_LABEL = "__clv_file"


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------
def read_transactions(transactions, spark=None, columns: list[str] | None = None):
    """A Spark DataFrame of the log, and whether it came from CSV files.

    ``transactions`` is a Spark DataFrame (used as it is), or a CSV/Parquet file, glob, directory or
    list of them, resolved by :func:`clvmodels.data.readers.resolve_source` exactly as for the other
    engines (the same files, in the same order). CSV columns are read as text (clvmodels' parsing
    rules then decide what a value means, as in the other engines), Parquet columns keep their types.
    A file log gets a hidden column with each row's file name, for the problem reports.
    Returns ``(sdf, from_csv, available_columns)``.
    """
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    from .session import active_session

    if isinstance(transactions, DataFrame):
        return transactions, False, list(transactions.columns)
    if isinstance(transactions, pd.DataFrame):
        spark = spark or active_session()
        return spark.createDataFrame(transactions), False, [str(c) for c in transactions.columns]
    if not readers.is_file_source(transactions):
        raise TypeError("transactions must be a Spark DataFrame or a path, glob or list of paths to "
                        f"CSV/Parquet files, not {type(transactions).__name__}")
    source = readers.resolve_source(transactions)
    available = readers.file_columns(source)
    spark = spark or active_session()
    paths = [os.path.abspath(p) for p in source.paths]
    nanos = [] if source.from_csv else _nanosecond_columns(paths[0])
    try:
        if source.from_csv:
            # A row with more or fewer fields than the header is bad input, as for the other engines:
            # FAILFAST refuses it, where PERMISSIVE would silently drop extra fields and pad missing
            # ones; Spark notices only when it parses every column, hence no CSV column pruning.
            spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "false")
            sdf = spark.read.csv(paths, header=True, inferSchema=False, sep=",", quote='"', escape='"',
                                 mode="FAILFAST", enforceSchema=False)
        else:
            if nanos:
                # Spark has no nanosecond timestamps: read them as integers (nanoseconds since the
                # epoch) and make microsecond timestamps of them, floored, so that every instant keeps
                # its calendar day
                spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
            sdf = spark.read.parquet(*paths)
            for name in nanos:
                if name in sdf.columns and sdf.schema[name].dataType.typeName() == "long":
                    ns = F.col(f"`{name}`")
                    micros = (ns - F.pmod(ns, F.lit(1000))) / F.lit(1000)
                    sdf = sdf.withColumn(name, F.timestamp_micros(micros.cast("long")))
        sdf = sdf.withColumn(_FILE_LABEL, F.col("_metadata.file_name"))
    except Exception as exc:  # AnalysisException and friends: unreadable or unsupported files
        hint = ""
        if "NANOS" in str(exc):
            hint = (" (Spark reads no nanosecond timestamps: write the dates as DATE, or as microsecond "
                    "timestamps, e.g. pandas' to_parquet(..., coerce_timestamps='us'))")
        raise InputError(f"Spark cannot read the transaction log: {_short(exc)}{hint}") from exc
    return sdf, source.from_csv, available


def _nanosecond_columns(path: str) -> list[str]:
    """Columns of a Parquet file holding nanosecond timestamps (pandas writes those by default)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    except Exception:  # unreadable: Spark will say why
        return []
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------------
# Parsing expressions (the rules of clvmodels.data.checks, as Spark column expressions)
# ---------------------------------------------------------------------------------------------------
def _full(col, pattern: str):
    """Full regular-expression match (Java regex; the patterns use only [0-9] and explicit blanks)."""
    from pyspark.sql import functions as F

    return F.coalesce(col.rlike("^(?:" + pattern + r")\z"), F.lit(False))


def _try_to_date(text, fmt: str):
    from pyspark.sql import functions as F

    if hasattr(F, "try_to_date"):
        return F.try_to_date(text, fmt)
    return F.to_date(F.call_function("try_to_timestamp", text, F.lit(fmt)))  # pragma: no cover (Spark 3.5)


def _try_double(text):
    from pyspark.sql import Column
    from pyspark.sql.types import DoubleType

    if hasattr(Column, "try_cast"):
        return text.try_cast(DoubleType())
    return text.cast(DoubleType())  # pragma: no cover (Spark 3.5 without ANSI mode: null on failure)


def _date_format_udf(date_format: str):
    """Day numbers of text dates under a strptime ``date_format``, parsed on the executors by the very
    function the pandas engine uses (:func:`clvmodels.data.pandas_engine.parse_dates`), so both engines read
    every layout the same way. Null when missing or unparseable."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("long")
    def parse(text: pd.Series) -> pd.Series:
        from clvmodels.data.pandas_engine import parse_dates

        days, missing, bad, _ = parse_dates(text.astype(object), date_format)
        out = pd.Series(days, dtype="Int64")
        out[missing | bad] = pd.NA
        return out

    return parse


class _Columns:
    """Spark expressions that parse the three columns, built from their types (as the DuckDB engine's
    SQL expressions are). ``integer_dates()`` words the problem of integer dates without a date_format
    (it fetches an example, so it runs only when the problem is reported)."""

    def __init__(self, schema, customer_id: str, date: str, amount: str, date_format: str | None,
                 from_csv: bool, observation_day: int | None, integer_dates: Callable[[], str]):
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        # problems of a column as a whole, by role: message, or a function giving it
        self.problems_whole: dict[str, str | Callable[[], str]] = {}
        fields = {f.name: f.dataType for f in schema.fields}
        self.fields = fields
        false = F.lit(False)
        # customer id
        if customer_id in fields:
            c = F.col(f"`{customer_id}`")
            ct = fields[customer_id]
            if isinstance(ct, T.StringType):
                self.id_missing = c.isNull() | _full(c, BLANK_PATTERN)
            elif isinstance(ct, (T.FloatType, T.DoubleType)):
                self.id_missing = c.isNull() | F.isnan(c)
            else:
                self.id_missing = c.isNull()
            self.id_text = isinstance(ct, T.StringType)
            self.id_integral = isinstance(ct, (T.ByteType, T.ShortType, T.IntegerType, T.LongType))
        else:
            self.id_missing, self.id_text, self.id_integral = false, False, False
        self.id_check_canonical = from_csv and self.id_text
        # date -> day number (days since 1970-01-01)
        self.day = F.lit(None).cast("long")
        self.date_missing = self.date_bad = false
        if date in fields:
            d = F.col(f"`{date}`")
            dt = fields[date]
            text = None
            if isinstance(dt, T.DateType):
                self.day = F.datediff(d, F.lit("1970-01-01").cast("date")).cast("long")
                self.date_missing = d.isNull()
            elif isinstance(dt, T.TimestampType):  # an instant: its UTC calendar day
                self.day = F.floor(F.unix_micros(d) / F.lit(86_400_000_000)).cast("long")
                self.date_missing = d.isNull()
            elif type(dt).__name__ == "TimestampNTZType":  # wall-clock time: its calendar day
                self.day = F.datediff(F.to_date(d), F.lit("1970-01-01").cast("date")).cast("long")
                self.date_missing = d.isNull()
            elif isinstance(dt, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)) and date_format is None:
                self.problems_whole["date"] = integer_dates
            elif isinstance(dt, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.StringType)):
                text = d if isinstance(dt, T.StringType) else d.cast("string")
            else:
                self.problems_whole["date"] = msg_bad_date_type(dt.simpleString())
            if text is not None:
                self.date_missing = text.isNull() | _full(text, BLANK_PATTERN)
                if date_format is not None:
                    parsed_day = F.when(~self.date_missing, _date_format_udf(date_format)(text))
                else:
                    head = F.regexp_extract(text, r"^[ \t\r\n]*([0-9]{4}-[0-9]{2}-[0-9]{2})", 1)
                    parsed = F.when(_full(text, DATE_PATTERN), _try_to_date(head, "yyyy-MM-dd"))
                    parsed_day = F.datediff(parsed, F.lit("1970-01-01").cast("date")).cast("long")
                self.day = parsed_day
                self.date_bad = ~self.date_missing & parsed_day.isNull()
        parsed = ~self.date_missing & ~self.date_bad
        # outside the supported range (placeholders such as 0001-01-01): reported, never converted
        self.date_out = F.coalesce(parsed & ((self.day < F.lit(MIN_DAY)) | (self.day > F.lit(MAX_DAY))), false)
        self.date_valid = parsed & ~self.date_out
        # amount -> double
        self.value = F.lit(None).cast("double")
        self.amount_missing = self.amount_bad = false
        if amount in fields:
            a = F.col(f"`{amount}`")
            at = fields[amount]
            if isinstance(at, (T.FloatType, T.DoubleType)):
                self.value = a.cast("double")
                self.amount_missing = a.isNull() | F.isnan(a)
                self.amount_bad = ~self.amount_missing & (F.abs(a.cast("double")) == F.lit(float("inf")))
            elif isinstance(at, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.DecimalType)):
                self.value = a.cast("double")
                self.amount_missing = a.isNull()
            elif isinstance(at, T.StringType):
                number = _try_double(F.regexp_replace(a, r"^[ \t\r\n]+|[ \t\r\n]+$", ""))
                finite = number.isNotNull() & ~F.isnan(number) & (F.abs(number) != F.lit(float("inf")))
                ok = _full(a, NUMBER_PATTERN) & F.coalesce(finite, F.lit(False))
                self.value = F.when(ok, number)
                self.amount_missing = a.isNull() | _full(a, BLANK_PATTERN)
                self.amount_bad = ~self.amount_missing & ~ok
            else:
                self.problems_whole["amount"] = msg_bad_amount_type(at.simpleString())
        # too large to be money (infinities are "non-numeric" already); not also "negative"
        self.amount_huge = F.coalesce(~self.amount_bad & (F.abs(self.value) > F.lit(MAX_AMOUNT)), F.lit(False))
        self.negative = F.coalesce((self.value < 0) & ~self.amount_huge, F.lit(False))
        self.zero = F.coalesce(self.value == 0, F.lit(False))
        obs = F.lit(None).cast("long") if observation_day is None else F.lit(int(observation_day))
        self.after_end = F.coalesce(self.date_valid & (self.day > obs), F.lit(False))


def _count_if(cond):
    from pyspark.sql import functions as F

    return F.sum(F.when(cond, F.lit(1)).otherwise(F.lit(0)))


def _raw(sdf, raw_cols: list[str]) -> list:
    """The columns to show in a problem: as they are, but timestamps as text, since toPandas cannot
    convert those outside the datetime64[ns] range (0001-01-01), which are what a problem may show."""
    from pyspark.sql import functions as F

    stamps = {f.name for f in sdf.schema.fields if f.dataType.typeName() in ("timestamp", "timestamp_ntz")}
    return [F.col(f"`{c}`").cast("string").alias(c) if c in stamps else F.col(f"`{c}`") for c in raw_cols]


def _examples(sdf, raw_cols: list[str], cond, file_source: bool) -> pd.DataFrame:
    """The first offending rows (raw values), with their file name for a file log."""
    from pyspark.sql import functions as F

    cols = ([F.col(_FILE_LABEL).alias("file")] if file_source else []) + _raw(sdf, raw_cols)
    rows = sdf.where(cond).select(*cols).limit(SHOW_ROWS).toPandas()
    rows.index = [""] * len(rows)
    return rows


# ---------------------------------------------------------------------------------------------------
# Validation and aggregation
# ---------------------------------------------------------------------------------------------------
class _Prepared:
    """What validation leaves: the per-customer aggregates (a lazy Spark DataFrame) and facts about the
    log the summary needs."""

    def __init__(self, agg, n_negative: int, money_scale: float, money_exact: bool, id_type, n_zero: int = 0):
        self.agg = agg
        self.n_negative = n_negative
        self.n_zero = n_zero
        self.money_scale = money_scale
        self.money_exact = money_exact
        self.id_type = id_type


def _prepare(transactions, *, customer_id: str, date: str, amount: str, obs, cal, unit: str,
             time_mode: str, negative_amounts: str, date_format: str | None, problems: ProblemCollector,
             spark=None, zero_amounts: str = "keep") -> _Prepared:
    """Validate the log (raising InputError with every problem) and build the per-customer aggregates."""
    from pyspark.sql import functions as F

    sdf, from_csv, available = read_transactions(transactions, spark)
    file_source = _FILE_LABEL in sdf.columns
    needed = list(dict.fromkeys((customer_id, date, amount)))
    present = [c for c in needed if c in sdf.columns]
    report_missing_columns(problems, customer_id=customer_id, date=date, amount=amount, present=present,
                           available=[c for c in available if c != _FILE_LABEL])
    if not present:
        problems.raise_if_any()
    obs_day = day_number(obs) if obs is not None else None
    cal_day = day_number(cal) if cal is not None else None

    def integer_dates() -> str:
        example = sdf.where(F.col(f"`{date}`").isNotNull()).select(f"`{date}`").limit(1).collect()
        return msg_integer_dates(None if not example else int(example[0][0]))

    cols = _Columns(sdf.schema, customer_id, date, amount, date_format, from_csv, obs_day, integer_dates)
    raw_cols = present

    # One pass counting every problem, with the exact-money test among the rows that will be kept.
    kept = cols.value.isNotNull() & ~F.isnan(cols.value)
    if negative_amounts == "drop":
        kept = kept & (cols.value >= 0)
    if zero_amounts == "drop":
        kept = kept & (cols.value != 0)
    # each row's fewest exact decimals (MAX_MONEY_DECIMALS + 1 for none), the largest over the kept rows
    row_decimals = F.lit(MAX_MONEY_DECIMALS + 1)
    for s in reversed(range(MAX_MONEY_DECIMALS + 1)):
        f = F.lit(float(10**s))
        row_decimals = F.when(F.rint(cols.value * f) / f == cols.value, F.lit(s)).otherwise(row_decimals)
    money = [F.max(F.when(kept, F.abs(cols.value))).alias("money_max_abs"), _count_if(kept).alias("money_n"),
             F.max(F.when(kept, row_decimals)).alias("money_decimals")]
    canonical = (F.coalesce(F.min(_full(F.col(f"`{customer_id}`"), CANONICAL_INT_PATTERN)), F.lit(False))
                 if cols.id_check_canonical else F.lit(False))
    try:
        stats = sdf.agg(
            F.count(F.lit(1)).alias("n_rows"),
            _count_if(cols.id_missing).alias("missing_id"),
            _count_if(cols.date_missing).alias("missing_date"),
            _count_if(cols.date_bad).alias("bad_date"),
            _count_if(cols.date_out).alias("out_of_range_date"),
            _count_if(cols.amount_missing).alias("missing_amount"),
            _count_if(cols.amount_bad).alias("bad_amount"),
            _count_if(cols.amount_huge).alias("huge_amount"),
            _count_if(cols.negative).alias("negative"),
            _count_if(cols.zero).alias("zero"),
            _count_if(cols.after_end).alias("after_end"),
            F.min(F.when(cols.date_valid, cols.day)).alias("first_day"),
            F.max(F.when(cols.date_valid, cols.day)).alias("last_day"),
            canonical.alias("canonical_ids"),
            *money,
        ).collect()[0].asDict()
    except Exception as exc:
        if type(exc).__module__.startswith(("pyspark", "py4j")):
            if from_csv and file_source:  # ragged rows: named by file and row, as the other engines do
                ragged = readers.ragged_problems(readers.resolve_source(transactions))
                if ragged:
                    raise InputError(ragged, what="transaction log") from exc
            raise InputError(f"Spark cannot read the transaction log: {_short(exc)}") from exc
        raise
    conds = {"missing_id": cols.id_missing, "missing_date": cols.date_missing, "bad_date": cols.date_bad,
             "out_of_range_date": cols.date_out, "missing_amount": cols.amount_missing,
             "bad_amount": cols.amount_bad, "huge_amount": cols.amount_huge, "negative": cols.negative,
             "after_end": cols.after_end}

    def show_rows(key: str | None):
        if key is None:  # the first rows of the log
            return sdf.select(*_raw(sdf, raw_cols)).limit(SHOW_ROWS).toPandas()
        return _examples(sdf, raw_cols, conds[key], file_source)

    report_log_problems(problems, stats, show_rows, customer_id=customer_id, date=date, amount=amount,
                        date_format=date_format, negative_amounts=negative_amounts, observation_end=obs,
                        calibration_end=cal, whole_column=cols.problems_whole)
    problems.raise_if_any()
    n_negative, n_zero = int(stats["negative"] or 0), int(stats["zero"] or 0)
    keep = F.lit(True)
    drop_negative, drop_zero = rows_to_drop(problems, stats, show_rows, amount=amount,
                                            negative_amounts=negative_amounts, zero_amounts=zero_amounts)
    problems.raise_if_any()
    if drop_negative:
        keep = keep & ~cols.negative
    if drop_zero:
        keep = keep & ~cols.zero

    decimals = money_decimals_from_sql(stats["money_decimals"], stats["money_max_abs"] or 0.0,
                                       int(stats["money_n"] or 0))
    value = cols.value
    money_scale = 1.0
    if decimals is not None:
        # exact money: integers of 10**-decimals (every partial sum is exact, so order does not matter)
        money_scale = 10.0**decimals
        value = F.rint(cols.value * F.lit(money_scale)).cast("long")

    # customer ids: integers as 64-bit integers; CSV ids that are all canonical integers become integers
    cid = F.col(f"`{customer_id}`")
    if cols.id_check_canonical and bool(stats["canonical_ids"]):
        cid = cid.cast("long")
    elif cols.id_integral:
        cid = cid.cast("long")
    agg = _aggregate(sdf.where(keep).select(cid.alias("cid"), cols.day.alias("day"), value.alias("amt")),
                     unit=unit, time_mode=time_mode, calibration_day=cal_day)
    return _Prepared(agg, n_negative, money_scale, decimals is not None, agg.schema["cid"].dataType, n_zero)


def _aggregate(src, *, unit: str, time_mode: str, calibration_day: int | None):
    """Per-customer aggregates (the fields of CustomerAggregates) from rows (cid, day, amt)."""
    from pyspark.sql import functions as F

    day = F.col("day")
    if time_mode == "continuous" or unit == "D":
        k = day
    elif unit == "W":
        k = F.floor((day - F.lit(WEEK_ORIGIN_DAY)) / F.lit(7)).cast("long")  # floor: right before 1970 too
    else:
        as_date = F.date_add(F.lit("1970-01-01").cast("date"), day.cast("int"))
        k = ((F.year(as_date) - F.lit(1970)) * F.lit(12) + F.month(as_date) - F.lit(1)).cast("long")
    hold = (day > F.lit(int(calibration_day))) if calibration_day is not None else F.lit(False)
    periods = not (time_mode == "continuous" or unit == "D")
    amt = F.col("amt")
    occ_aggs = [F.count(F.lit(1)).alias("n"), F.sum(amt).alias("v"), F.max(amt >= 0).alias("isp")]
    if periods:  # first/last *purchase* day of the period (not a return's)
        occ_aggs += [F.min(F.when(amt >= 0, day)).alias("dmin"), F.max(F.when(amt >= 0, day)).alias("dmax")]
    occ = src.groupBy("cid", k.alias("k"), hold.alias("hold")).agg(*occ_aggs)
    if not periods:
        occ = occ.withColumn("dmin", F.col("k")).withColumn("dmax", F.col("k"))
    cal_p = ~F.col("hold") & F.col("isp")
    hold_p = F.col("hold") & F.col("isp")
    v = F.col("v")
    money_zero = F.lit(0).cast(occ.schema["v"].dataType)

    def s(cond, col, zero):
        return F.coalesce(F.sum(F.when(cond, col)), zero)

    out = occ.groupBy("cid").agg(
        s(~F.col("hold"), F.col("n"), F.lit(0).cast("long")).cast("long").alias("n_rows_cal"),
        _count_if(cal_p).cast("long").alias("n_occ_cal"),
        F.min(F.when(cal_p, F.struct(F.col("k"), F.col("dmin"), v))).alias("first"),
        F.max(F.when(cal_p, F.struct(F.col("k"), F.col("dmax")))).alias("last"),
        s(~F.col("hold"), v, money_zero).alias("spend_cal"),
        s(cal_p, v, money_zero).alias("purchase_sum_cal"),
        _count_if(hold_p).cast("long").alias("n_occ_hold"),
        s(hold_p, v, money_zero).alias("purchase_sum_hold"),
        s(F.col("hold"), v, money_zero).alias("spend_hold"),
    )
    zero_l = F.lit(0).cast("long")
    return out.select(
        "cid", "n_rows_cal", "n_occ_cal",
        F.coalesce(F.col("first.k"), zero_l).cast("long").alias("k_first"),
        F.coalesce(F.col("last.k"), zero_l).cast("long").alias("k_last"),
        F.coalesce(F.col("first.dmin"), zero_l).cast("long").alias("day_first"),
        F.coalesce(F.col("last.dmax"), zero_l).cast("long").alias("day_last"),
        "spend_cal", "purchase_sum_cal",
        F.coalesce(F.col("first.v"), money_zero).alias("first_value"),
        "n_occ_hold", "purchase_sum_hold", "spend_hold",
    )


def _parse_options(observation_end, calibration_end, time_unit, time_mode, negative_amounts, zero_amounts="keep",
                   date_format=None):
    check_options(time_mode=time_mode, negative_amounts=negative_amounts, engine="auto", zero_amounts=zero_amounts)
    unit = check_unit(time_unit)
    problems = ProblemCollector("transaction log")
    obs, cal = parse_period_ends(observation_end, calibration_end, problems, date_format)
    return unit, problems, obs, cal


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------
def summarize_spark(transactions, *, customer_id: str = "customer_id", date: str = "date",
                    amount: str = "amount", observation_end, time_unit: str = "W", calibration_end=None,
                    time_mode: str = "continuous", negative_amounts: str = "error",
                    date_format: str | None = None, persist: bool = True, spark=None,
                    zero_amounts: str = "keep"):
    """The per-customer RFM summary of a log, as a Spark DataFrame.

    The arguments and definitions are those of :func:`clvmodels.summarize` (see its docstring for each
    column); ``transactions`` is a Spark DataFrame, or CSV/Parquet files read by Spark.

    Returns a Spark DataFrame with ``customer_id`` (64-bit integer for integer ids, else as given)
    followed by the columns of :data:`clvmodels.data.aggregates.SUMMARY_COLUMNS` (and the holdout
    columns with ``calibration_end``), of the same types (``first_purchase`` and ``last_purchase``
    as DATE), in no particular row order. The settings and counts that :func:`clvmodels.summarize`
    keeps in ``attrs["clvmodels"]`` are in the metadata of the ``customer_id`` column; read them with
    :func:`summary_metadata`.

    ``persist`` (default True) keeps the per-customer aggregates in the cluster's memory (spilling to
    disk) and counts the customers at once, so that customers left out (first purchase in the
    holdout, returns only) are reported with an :class:`~clvmodels.data.ExcludedCustomersWarning` as
    the other engines do, and the fit and scoring that follow do not recompute the summary. With
    ``persist=False`` the result is fully lazy: no warning, and no counts of customers in the metadata
    (``n_customers``, ``excluded_*`` and ``n_zero_spend_repeat`` are None).

    Raises :class:`clvmodels.errors.InputError` with every problem of the log, each naming its column,
    with its count and first offending rows (found by Spark aggregations; the log is never collected).
    """
    from .session import quiet_pandas_warning, require_pyspark

    require_pyspark()
    quiet_pandas_warning()
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    unit, problems, obs, cal = _parse_options(observation_end, calibration_end, time_unit, time_mode,
                                              negative_amounts, zero_amounts, date_format)
    prep = _prepare(transactions, customer_id=customer_id, date=date, amount=amount, obs=obs, cal=cal,
                    unit=unit, time_mode=time_mode, negative_amounts=negative_amounts,
                    date_format=date_format, problems=problems, spark=spark, zero_amounts=zero_amounts)
    agg = prep.agg
    obs_day = day_number(obs)
    cal_day = day_number(cal) if cal is not None else None
    meta: dict[str, Any] = {
        "time_unit": unit, "time_mode": time_mode, "observation_end": str(obs),
        "calibration_end": None if cal is None else str(cal), "engine": "spark",
        "engine_reason": "engine='spark' requested",  # as summarize() records it
        "n_customers": None, "excluded_new_in_holdout": None, "excluded_returns_only": None,
        "negative_amounts": negative_amounts, "n_negative_amounts": prep.n_negative,
        "zero_amounts": zero_amounts, "n_zero_amounts": prep.n_zero, "n_zero_spend_repeat": None,
        "exact_money_decimals": int(round(np.log10(prep.money_scale))) if prep.money_exact else None,
    }
    if persist:
        agg = agg.persist(StorageLevel.MEMORY_AND_DISK)
        has = F.col("n_occ_cal") > 0
        # monetary_value <= 0 exactly when the repeat sum is (finish_summary divides it by a positive number)
        repeat_sum = F.col("purchase_sum_cal").cast("double") - F.col("first_value").cast("double")
        zero_spend = (F.col("n_occ_cal") > 1) & (repeat_sum <= 0)
        counts = agg.agg(_count_if(has).alias("n"), _count_if(~has & (F.col("n_occ_hold") > 0)).alias("new"),
                         _count_if(~has).alias("none"), _count_if(zero_spend).alias("zero_spend")).collect()[0]
        n_cust, new_in_holdout = int(counts["n"] or 0), int(counts["new"] or 0)
        returns_only = int(counts["none"] or 0) - new_in_holdout
        meta.update(n_customers=n_cust, excluded_new_in_holdout=new_in_holdout, excluded_returns_only=returns_only,
                    n_zero_spend_repeat=int(counts["zero_spend"] or 0))
        warn_excluded(new_in_holdout, returns_only, cal, stacklevel=3)
    return _finish(agg, unit=unit, time_mode=time_mode, observation_day=obs_day, calibration_day=cal_day,
                   money_scale=prep.money_scale, metadata=meta)


def _finish(agg, *, unit: str, time_mode: str, observation_day: int, calibration_day: int | None,
            money_scale: float, metadata: dict):
    """The summary columns from the aggregates: the arithmetic of finish_summary, as Spark expressions
    (the same IEEE operations in the same order, so times and exact money are bit-identical)."""
    from pyspark.sql import functions as F

    end_day = calibration_day if calibration_day is not None else observation_day
    if time_mode == "continuous":
        scale, end_k = DAYS_PER_UNIT[unit], int(end_day)
    else:
        scale, end_k = 1.0, int(period_index(end_day, unit, time_mode))
    lit_scale, m = F.lit(float(scale)), F.lit(float(money_scale))
    c = F.col

    def dbl(x):
        return x.cast("double")

    freq = (c("n_occ_cal") - F.lit(1)).cast("long")
    repeat_sum = dbl(c("purchase_sum_cal")) - dbl(c("first_value"))
    epoch = F.lit("1970-01-01").cast("date")
    cols = [
        c("cid").alias("customer_id", metadata={METADATA_KEY: metadata}),
        freq.alias("frequency"),
        (dbl(c("k_last") - c("k_first")) / lit_scale).alias("recency"),
        (dbl(F.lit(end_k) - c("k_first")) / lit_scale).alias("T"),
        F.when(freq > 0, repeat_sum / (m * dbl(freq))).otherwise(F.lit(0.0)).alias("monetary_value"),
        (dbl(c("spend_cal")) / m).alias("historical_clv"),
        c("n_rows_cal").cast("long").alias("n_transactions"),
        F.date_add(epoch, c("day_first").cast("int")).alias("first_purchase"),
        F.date_add(epoch, c("day_last").cast("int")).alias("last_purchase"),
        (dbl(F.lit(end_k) - c("k_last")) / lit_scale).alias("time_since_last_purchase"),
        (dbl(c("first_value")) / m).alias("first_purchase_value"),
    ]
    if calibration_day is not None:
        nh = c("n_occ_hold")
        if time_mode == "continuous":
            duration = (observation_day - calibration_day) / DAYS_PER_UNIT[unit]
        else:
            duration = float(period_index(observation_day, unit, time_mode) - period_index(calibration_day, unit,
                                                                                            time_mode))
        cols += [
            nh.cast("long").alias("frequency_holdout"),
            F.when(nh > 0, dbl(c("purchase_sum_hold")) / (m * dbl(nh))).otherwise(F.lit(0.0))
             .alias("monetary_value_holdout"),
            (dbl(c("spend_hold")) / m).alias("spend_holdout"),
            F.lit(float(duration)).alias("duration_holdout"),
        ]
    return agg.where(c("n_occ_cal") > 0).select(*cols)


def aggregate_spark(transactions, *, customer_id: str, date: str, amount: str, observation_end,
                    calibration_end, unit: str, time_mode: str, negative_amounts: str,
                    date_format: str | None, problems: ProblemCollector,
                    spark=None, zero_amounts: str = "keep") -> tuple[CustomerAggregates, int]:
    """The Spark engine of ``clvmodels.summarize(..., engine="spark")``: validate and aggregate a log with
    Spark, and bring the per-customer aggregates (one row per customer, never the log) to the driver
    as :class:`CustomerAggregates`, which :func:`clvmodels.data.aggregates.finish_summary` turns into the
    pandas summary, as it does for the DuckDB engine's. Same signature as
    :func:`clvmodels.data.duckdb_engine.aggregate_duckdb` (``observation_end`` and ``calibration_end``
    parsed calendar days), plus ``spark`` (default: the active session, else a local one).
    Returns ``(aggregates, number of negative-amount rows)`` (the number of rows worth 0 is
    ``aggregates.n_zero_amounts``); raises InputError with every problem.
    """
    from .session import quiet_pandas_warning, require_pyspark

    require_pyspark()
    quiet_pandas_warning()
    prep = _prepare(transactions, customer_id=customer_id, date=date, amount=amount, obs=observation_end,
                    cal=calibration_end, unit=unit, time_mode=time_mode, negative_amounts=negative_amounts,
                    date_format=date_format, problems=problems, spark=spark, zero_amounts=zero_amounts)
    pdf = prep.agg.toPandas()
    ids = pdf["cid"]
    order = np.argsort(ids.to_numpy(), kind="stable") if len(pdf) else np.zeros(0, np.int64)
    pdf = pdf.iloc[order]

    def arr(name, dtype):
        return pdf[name].to_numpy(dtype=dtype)

    id_values = pdf["cid"].to_numpy()
    agg = CustomerAggregates(
        ids=id_values, n_rows_cal=arr("n_rows_cal", np.int64), n_occ_cal=arr("n_occ_cal", np.int64),
        k_first=arr("k_first", np.int64), k_last=arr("k_last", np.int64), day_first=arr("day_first", np.int64),
        day_last=arr("day_last", np.int64), spend_cal=arr("spend_cal", np.float64),
        purchase_sum_cal=arr("purchase_sum_cal", np.float64), first_value=arr("first_value", np.float64),
        n_occ_hold=arr("n_occ_hold", np.int64), purchase_sum_hold=arr("purchase_sum_hold", np.float64),
        spend_hold=arr("spend_hold", np.float64), money_scale=prep.money_scale, money_exact=prep.money_exact,
        n_zero_amounts=prep.n_zero)
    return agg, prep.n_negative


def summarize_to_pandas(transactions, *, customer_id: str = "customer_id", date: str = "date",
                        amount: str = "amount", observation_end, time_unit: str = "W", calibration_end=None,
                        time_mode: str = "continuous", negative_amounts: str = "error",
                        date_format: str | None = None, spark=None, zero_amounts: str = "keep") -> pd.DataFrame:
    """The pandas summary (index ``customer_id``, sorted; ``attrs["clvmodels"]``; warnings), computed by
    Spark: what ``clvmodels.summarize(..., engine="spark")`` returns (it calls :func:`aggregate_spark`
    itself), for a Spark DataFrame too and in a given ``spark`` session."""
    unit, problems, obs, cal = _parse_options(observation_end, calibration_end, time_unit, time_mode,
                                              negative_amounts, zero_amounts, date_format)
    agg, n_negative = aggregate_spark(
        transactions, customer_id=customer_id, date=date, amount=amount, observation_end=obs,
        calibration_end=cal, unit=unit, time_mode=time_mode, negative_amounts=negative_amounts,
        date_format=date_format, problems=problems, spark=spark, zero_amounts=zero_amounts)
    return finish_summary(agg, unit=unit, time_mode=time_mode, observation_day=day_number(obs),
                          calibration_day=day_number(cal) if cal is not None else None, engine="spark",
                          negative_amounts=negative_amounts, n_negative=n_negative, observation_end=obs,
                          calibration_end=cal, zero_amounts=zero_amounts, n_zero=agg.n_zero_amounts)


def summary_metadata(sdf) -> dict:
    """The summary's settings and counts (what ``attrs["clvmodels"]`` holds in pandas), from the
    metadata of a summary DataFrame made by :func:`summarize_spark` (also after a Parquet round trip);
    an empty dict if there is none."""
    for field in sdf.schema.fields:
        meta = field.metadata or {}
        if METADATA_KEY in meta:
            return dict(meta[METADATA_KEY])
    return {}


def to_pandas_summary(sdf) -> pd.DataFrame:
    """Collect a (small) Spark summary as the pandas engine's summary: indexed by ``customer_id``,
    sorted, dates as datetime64[ns], ``attrs["clvmodels"]`` from the metadata. For tests and small
    data; a large summary should stay in Spark."""
    pdf = sdf.toPandas()
    for c in ("first_purchase", "last_purchase"):
        if c in pdf.columns:
            pdf[c] = pd.to_datetime(pdf[c]).astype("datetime64[ns]")
    cols = [c for c in SUMMARY_COLUMNS + HOLDOUT_COLUMNS if c in pdf.columns]
    out = pdf.set_index("customer_id")[cols + [c for c in pdf.columns if c not in cols and c != "customer_id"]]
    out = out.sort_index()
    meta = summary_metadata(sdf)
    if meta:
        out.attrs["clvmodels"] = meta
    return out
