"""Data: transaction logs in, per-customer RFM summaries out (:func:`summarize`), with input checks that
report every problem at once.

``summary`` is the dispatcher (options -> one engine -> the summary); ``aggregates`` the engines'
contract (:class:`~clvmodels.data.aggregates.CustomerAggregates`, ``finish_summary``); ``checks`` the
parsing rules, messages and problem reporter every engine shares; the engines are ``pandas_engine`` (in
memory), ``duckdb_engine`` (files of any size) and, with pyspark, :mod:`clvmodels.spark.summary`;
``readers`` reads CSV/Parquet logs. ``validate`` is the old name of ``checks`` (and of the pandas
engine's checks), kept as a re-export.
"""
from .aggregates import ExcludedCustomersWarning
from .summary import summarize

__all__ = ["summarize", "ExcludedCustomersWarning"]
