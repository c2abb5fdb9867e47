"""Data: transaction logs in, per-customer RFM summaries out (:func:`summarize`), with input checks that
report every problem at once and two engines (pandas in memory, DuckDB for files of any size)."""
from .summary import ExcludedCustomersWarning, summarize

__all__ = ["summarize", "ExcludedCustomersWarning"]
