"""Old path of :mod:`clvmodels.models.numerics.special` (the special functions now live in
``models/numerics/special.py``); kept so that imports from here keep working."""
from .numerics.special import (_BIG, _CANCELLATION, _LOG_BIG, _M_SERIES, _MAX_STEPS, _MAX_TERMS, _NEG, _NO_CONVERGENCE,
                               _OK, _TOL, _Z_START, _Z_STEP, __all__, _continue1, _flat, _hyp2f1_1, _hyp2f1_many,
                               _report, _series1, _series_many, hyp2f1, hyp2f1_scaled, hyp2f1_series, lbeta, log1mexp,
                               log_hyp2f1, softplus)
