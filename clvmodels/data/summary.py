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
Continuous time is the default because flooring biases the estimates of a fit on whole periods, while
day-resolution times give the raw data's estimates (the measured bias on simulated bases is in
benchmarks/README.md, section "BG/NBD fit"). Periods buy speed (far fewer distinct (frequency,
recency, T) triplets to fit) at that price.

Observation and calibration ends are calendar days and *inclusive*: a purchase on the end day belongs
to the period. Only calendar days matter; times of day are ignored.

Engines
-------
``engine="pandas"`` summarises in memory with vectorised NumPy (one sort of packed integer keys, no
per-customer Python); ``engine="duckdb"`` runs the checks and the aggregation as SQL in DuckDB, scanning
CSV/Parquet files without ever loading the log into pandas, within a memory limit, spilling to a
temporary directory, so logs larger than memory can be summarised; ``engine="spark"`` (the optional
pyspark extra) runs them as Spark jobs. ``engine="auto"`` picks pandas for a DataFrame, and for files
when the log fits comfortably in memory: when the pandas engine's memory, estimated from the Parquet
footers' row counts or the CSV files' sizes, is at most half the memory available (/proc/meminfo's
MemAvailable, or a container's cgroup limit); DuckDB otherwise (:mod:`clvmodels.data.auto_engine` has
the factors and their measurements). The engine that ran and why are recorded in
``attrs["clvmodels"]["engine"]`` and ``["engine_reason"]``. Every engine applies the same parsing rules
(:mod:`clvmodels.data.checks`) and gives identical summaries: counts, dates and times trivially, and
money too, because amounts with at most six decimals (cents, mills) are added exactly, as integers
of their smallest decimal unit (:func:`clvmodels.data.checks.exact_money`), so no sum depends on the
order of the rows. Only for amounts that are not short decimals (1/3 of a dollar) are floats added,
in an order that differs between engines, and the money columns then agree to about 1e-15 relatively.

Layout
------
This module is the dispatcher only: options -> one engine -> :func:`~clvmodels.data.aggregates.finish_summary`.
The engines' contract (:class:`~clvmodels.data.aggregates.CustomerAggregates`, ``finish_summary``, the
column lists) is in :mod:`clvmodels.data.aggregates`; the engines are :mod:`clvmodels.data.pandas_engine`,
:mod:`clvmodels.data.duckdb_engine` and :mod:`clvmodels.spark.summary` (imported only when
``engine="spark"``); the rules, messages and problem reporter they share are in
:mod:`clvmodels.data.checks`. The contract's names are still importable from here.
"""
from __future__ import annotations

import pandas as pd

from ..errors import ProblemCollector
from ..units import check_unit
from . import readers
from .auto_engine import choose_engine
from .aggregates import (  # noqa: F401  (the engines' contract, importable from here as before)
    HOLDOUT_COLUMNS,
    SUMMARY_COLUMNS,
    WEEK_ORIGIN_DAY,
    CustomerAggregates,
    ExcludedCustomersWarning,
    finish_summary,
    period_index,
    warn_excluded,
)
from .checks import check_options, day_number, parse_period_ends
from .duckdb_engine import aggregate_duckdb
from .pandas_engine import aggregate_pandas, read_log

__all__ = ["summarize", "ExcludedCustomersWarning", "CustomerAggregates", "finish_summary", "period_index",
           "warn_excluded", "SUMMARY_COLUMNS", "HOLDOUT_COLUMNS", "WEEK_ORIGIN_DAY", "aggregate_pandas"]


def summarize(transactions, *, customer_id: str = "customer_id", date: str = "date", amount: str | None = "amount",
              observation_end, time_unit: str = "W", calibration_end=None, time_mode: str = "continuous",
              negative_amounts: str = "error", zero_amounts: str = "keep", engine: str = "auto",
              date_format: str | None = None, duckdb_config: dict | None = None) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer (the input of BG/NBD and Gamma-Gamma).

    Parameters
    ----------
    transactions: a DataFrame, or a CSV/Parquet file, glob, directory or list of them (see
        :mod:`clvmodels.data.readers`). One row per transaction.
    customer_id, date, amount: the names of the columns holding the customer id, the transaction date
        and its value (money). ``amount=None``: a log without amounts (engines pandas and duckdb): the
        summary has ``frequency``, ``recency``, ``T`` and the count and date columns (with
        ``calibration_end``, ``frequency_holdout`` and ``duration_holdout``) and no money columns
        (``monetary_value``, ``historical_clv``, ``first_purchase_value``, ``monetary_value_holdout``,
        ``spend_holdout``);
        ``attrs["clvmodels"]["amounts"]`` is False. Enough for the purchase models, not for CLV
        (:func:`clvmodels.forecast` then forecasts the purchases only, or takes ``spend=``).
    observation_end: last day of the observation period, inclusive. What the date column accepts: ISO
        text (``"1997-09-30"``), with ``date_format`` also text or an integer in that format
        (``"19970930"``), a ``datetime.date``/``datetime``, ``pd.Timestamp`` or ``np.datetime64`` (its
        calendar day), or a ``pd.Period``, which stands for its *last* day (``pd.Period("1997-09", "M")``
        is 1997-09-30); see :func:`clvmodels.data.checks.end_day`. A transaction after it is an input
        error (filter the log or pass a later end): clvmodels never silently drops data.
    time_unit: 'D', 'W' (default) or 'M': the unit of ``recency``, ``T``, ``time_since_last_purchase``
        and ``duration_holdout``, recorded in ``attrs`` so the models cannot misread it.
    calibration_end: optional last day (inclusive, in any form ``observation_end`` takes) of a calibration
        period; the period after it, up to ``observation_end``, is the holdout. The main columns then describe the calibration period (T is
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
    engine: ``"auto"`` (pandas for a DataFrame, and for files whose estimated pandas-engine memory is at
        most half the memory available, DuckDB otherwise: a Parquet log of 10 million rows of customers
        with integer ids 1 to 1 million is estimated at 0.66 GB, 40 bytes per row + 260 per id of the
        range, from the footers (it peaked at 0.47 GB); text ids count 600 bytes per row, CSV 20 bytes
        per byte of file: see :mod:`clvmodels.data.auto_engine`; DuckDB for files given ``duckdb_config``),
        ``"pandas"`` (:mod:`clvmodels.data.pandas_engine`), ``"duckdb"`` (:mod:`clvmodels.data.duckdb_engine`), or
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
    ``first_purchase_value`` (float64, money)
        value of the first purchase occasion (the same-day rows added up, as for every occasion), which
        ``monetary_value`` leaves out; the mean over all frequency + 1 occasions is
        (first_purchase_value + frequency * monetary_value) / (frequency + 1) (what
        ``GammaGammaModel(first_purchase=True)`` fits).
    with ``calibration_end`` also
    ``frequency_holdout`` (int64): purchase occasions after ``calibration_end`` up to ``observation_end``;
    ``monetary_value_holdout`` (float64): their mean value (0 if none); ``spend_holdout`` (float64): all
    holdout spend; ``duration_holdout`` (float64, time units): the holdout length, the same for everyone.

    ``attrs["clvmodels"]`` records ``time_unit``, ``time_mode``, ``observation_end``, ``calibration_end``,
    ``engine`` (the engine that ran), ``engine_reason`` (why: requested, or ``"auto"``'s estimate of the
    pandas engine's memory against the memory available), ``n_customers``, ``excluded_new_in_holdout``,
    ``excluded_returns_only``, ``negative_amounts``, ``n_negative_amounts``, ``zero_amounts``,
    ``n_zero_amounts`` (rows worth 0 in the input), ``n_zero_spend_repeat`` (customers with frequency > 0
    and monetary_value <= 0, whom the Gamma-Gamma fit leaves out) and ``exact_money_decimals``.

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
    if engine == "auto" and duckdb_config is not None and files:  # settings for DuckDB: the caller means it
        engine, engine_reason = "duckdb", "auto: duckdb_config given"
    elif engine == "auto":  # pandas when the log fits comfortably in memory, else DuckDB (auto_engine.py)
        engine, engine_reason = choose_engine(transactions, [c for c in (customer_id, date, amount) if c])
    else:
        engine_reason = None  # finish_summary records "engine='<engine>' requested"
    if amount is None:  # a log without amounts: the money policies have nothing to act on
        _check_no_amount_options(engine, zero_amounts)

    problems = ProblemCollector("transaction log")
    obs, cal = parse_period_ends(observation_end, calibration_end, problems, date_format)
    log_args = dict(customer_id=customer_id, date=date, amount=amount, observation_end=obs, calibration_end=cal,
                    negative_amounts=negative_amounts, date_format=date_format, problems=problems,
                    zero_amounts=zero_amounts)
    cal_day = day_number(cal) if cal is not None else None
    if engine == "pandas":
        log = read_log(transactions, **log_args)
        n_negative, n_zero = log.n_negative, log.n_zero
        agg = aggregate_pandas(log, unit=unit, time_mode=time_mode, calibration_day=cal_day)
    elif engine == "duckdb":
        agg, n_negative = aggregate_duckdb(transactions, unit=unit, time_mode=time_mode, config=duckdb_config,
                                           **log_args)
        n_zero = agg.n_zero_amounts
    else:  # "spark", optional (pyspark): the one import from data/ up into spark/, kept lazy
        from ..spark.summary import aggregate_spark

        agg, n_negative = aggregate_spark(transactions, unit=unit, time_mode=time_mode, **log_args)
        n_zero = agg.n_zero_amounts
    out = finish_summary(agg, unit=unit, time_mode=time_mode, observation_day=day_number(obs),
                         calibration_day=cal_day, engine=engine, negative_amounts=negative_amounts,
                         n_negative=n_negative, observation_end=obs, calibration_end=cal,
                         zero_amounts=zero_amounts, n_zero=n_zero, engine_reason=engine_reason)
    return out if amount is not None else _without_money(out)


#: the summary's columns that come from amounts (left out of a summary of a log without amounts)
MONEY_COLUMNS = ("monetary_value", "historical_clv", "monetary_value_holdout", "spend_holdout", "first_purchase_value")


def _check_no_amount_options(engine: str, zero_amounts: str) -> None:
    from ..errors import InputError

    if engine == "spark":
        raise InputError("amount=None (--no-amount): a log without amounts is summarised by the pandas and duckdb "
                         "engines, not engine='spark' (--engine spark); use --engine duckdb", what="options")
    if zero_amounts != "keep":
        raise InputError(f"zero_amounts={zero_amounts!r} (--zero-amounts) acts on amounts: without amounts "
                         "(amount=None, --no-amount) leave it at 'keep'", what="options")


def _without_money(summary: pd.DataFrame) -> pd.DataFrame:
    """A summary of a log read without amounts (every purchase worth 0 to the engines): the money
    columns dropped and the money counts of ``attrs`` set to None (there were no amounts to count)."""
    attrs = dict(summary.attrs.get("clvmodels", {}))
    out = summary.drop(columns=[c for c in MONEY_COLUMNS if c in summary.columns])
    attrs.update({"amounts": False, "n_negative_amounts": None, "n_zero_amounts": None, "n_zero_spend_repeat": None,
                  "exact_money_decimals": None, "negative_amounts": None, "zero_amounts": None})
    out.attrs["clvmodels"] = attrs
    return out
