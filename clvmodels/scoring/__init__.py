"""Scoring: every per-customer forecast quantity from fitted models' joint posterior draws.

- :mod:`~clvmodels.scoring.table`: :func:`score`, the forecast table of a customer summary (fixed
  columns :data:`FORECAST_COLUMNS`), what the notebook API (:func:`clvmodels.forecast`), ``clv
  forecast`` and the Spark scorer (per partition) call, so all three give the same numbers;
- :mod:`~clvmodels.scoring.arrays`: :func:`score_arrays`, the one-pass computation behind it and behind
  :func:`clvmodels.value.customer_lifetime_value` (for any transaction model's scorer and any spend
  model's: :mod:`clvmodels.models.protocol`), with the Chebyshev CLV sums, quantile selection and
  chunking written once.

The posterior-draw utilities they share with the models are :mod:`clvmodels.draws`.
"""
__all__ = ["score", "FORECAST_COLUMNS"]


def __getattr__(name):
    # lazily: value.clv computes with scoring.arrays, and scoring.table builds on value.clv
    if name in __all__:
        from . import table

        return getattr(table, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
