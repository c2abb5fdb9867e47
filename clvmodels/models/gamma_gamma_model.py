"""Old path of :mod:`clvmodels.models.gamma_gamma.model` (GammaGammaModel now lives in
``models/gamma_gamma/model.py``, beside the Gamma-Gamma mathematics and likelihood); kept so that
imports from here keep working."""
from .gamma_gamma.model import (CORRELATION_WARNING, GammaGammaModel, SpendCorrelationWarning, _as_number, _count,
                                _q_variable, _spend_rows, _weights, check_spend_data, spend_frequency_correlation)
