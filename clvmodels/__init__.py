"""clvmodels: probabilistic customer-lifetime-value models.

Pipeline: transaction log -> RFM summary (:func:`summarize`) -> Bayesian BG/NBD and Gamma-Gamma
(:class:`BetaGeoModel`, :class:`GammaGammaModel`) -> per-customer predictions and discounted CLV
(:func:`customer_lifetime_value`) -> tables, plots and a report. :func:`forecast` does it all in one call.

Heavy dependencies (PyMC, PyTensor) are imported on first use, so the CLI starts quickly.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "summarize": ("clvmodels.data", "summarize"),
    "BetaGeoModel": ("clvmodels.models", "BetaGeoModel"),
    "GammaGammaModel": ("clvmodels.models", "GammaGammaModel"),
    "Prior": ("clvmodels.models", "Prior"),
    "forecast": ("clvmodels.pipeline", "forecast"),
    "ForecastResult": ("clvmodels.pipeline", "ForecastResult"),
    "score": ("clvmodels.scoring", "score"),
    "customer_lifetime_value": ("clvmodels.value", "customer_lifetime_value"),
    "value_segments": ("clvmodels.value", "value_segments"),
    "validate_purchases": ("clvmodels.validation", "validate_purchases"),
    "Duration": ("clvmodels.units", "Duration"),
    "InputError": ("clvmodels.errors", "InputError"),
}
_SUBMODULES = {"datasets", "simulate", "plotting", "report", "models", "data", "value", "validation", "io", "units", "errors"}

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
