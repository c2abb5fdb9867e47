"""clvmodels: probabilistic customer-lifetime-value models.

Pipeline: transaction log -> RFM summary (:func:`summarize`) -> Bayesian BG/NBD and Gamma-Gamma
(:class:`BetaGeoModel`, :class:`GammaGammaModel`) -> per-customer predictions and discounted CLV
(:func:`customer_lifetime_value`) -> tables, plots and a report. :func:`forecast` does it all in one call.

Every public name here is loaded on first use: heavy dependencies (PyMC, PyTensor) are imported only when
a model is used, so the CLI starts quickly, and :mod:`clvmodels.spark` (the optional Spark extra) imports
PySpark only when its functions run.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "summarize": ("clvmodels.data", "summarize"),
    "BetaGeoModel": ("clvmodels.models", "BetaGeoModel"),
    "GammaGammaModel": ("clvmodels.models", "GammaGammaModel"),
    "GammaGammaFrequencyModel": ("clvmodels.models", "GammaGammaFrequencyModel"),
    "ModifiedBetaGeoModel": ("clvmodels.models", "ModifiedBetaGeoModel"),
    "ParetoNBDModel": ("clvmodels.models", "ParetoNBDModel"),
    "Prior": ("clvmodels.models", "Prior"),
    "forecast": ("clvmodels.pipeline", "forecast"),
    "ForecastResult": ("clvmodels.pipeline", "ForecastResult"),
    "score": ("clvmodels.scoring", "score"),
    "customer_lifetime_value": ("clvmodels.value", "customer_lifetime_value"),
    "value_segments": ("clvmodels.value", "value_segments"),
    "historical_clv": ("clvmodels.value", "historical_clv"),
    "validate_purchases": ("clvmodels.validation", "validate_purchases"),
    "validate_spend": ("clvmodels.validation.spend", "validate_spend"),
    "compare_models": ("clvmodels.validation", "compare_models"),
    "prior_predictive": ("clvmodels.plotting.prior", "prior_predictive"),
    "new_customer_value": ("clvmodels.value", "new_customer_value"),
    "p_alive_paths": ("clvmodels.plotting.paths", "p_alive_paths"),
    "ConvergenceWarning": ("clvmodels.models.fitting", "ConvergenceWarning"),
    "FORECAST_COLUMNS": ("clvmodels.scoring", "FORECAST_COLUMNS"),
    "load_models": ("clvmodels.pipeline", "load_models"),
    "staged_outputs": ("clvmodels.io", "staged_outputs"),
    "Duration": ("clvmodels.units", "Duration"),
    "InputError": ("clvmodels.errors", "InputError"),
    # the optional extra clvmodels[mlflow]: the module imports MLflow only when the function runs
    "log_to_mlflow": ("clvmodels.integrations.mlflow", "log_forecast"),
}
#: ``spark`` is the optional extra ``clvmodels[spark]``: importing the module does not import PySpark
#: (its functions do, when they run)
_SUBMODULES = {"datasets", "simulate", "plotting", "report", "models", "data", "value", "validation", "io", "units",
               "errors", "spark", "integrations"}

__all__ = sorted(_LAZY) + sorted(_SUBMODULES)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"clvmodels.{name}")
    raise AttributeError(f"module 'clvmodels' has no attribute {name!r}")


def __dir__():
    return __all__
