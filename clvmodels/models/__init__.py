"""Models: each model is a package holding its mathematics, its likelihood and its estimator class, so a
reader finds a model in one folder; what the models share lives once, beside them.

- ``bgnbd/`` (BG/NBD purchases) and ``gamma_gamma/`` (Gamma-Gamma spend): ``math.py`` (the paper's
  formulas as numpy/numba functions), ``likelihood.py`` (the fused log-likelihood + gradient Op, which
  registers its own numba implementation), ``model.py`` (the estimator: priors, fit, predictions);
- ``numerics/``: special functions, the fused-Op machinery and quantiles by selection;
- ``base.py`` (the estimator base: draws, summaries, model files), ``fitting.py`` (the one fitting
  path), ``priors.py``, ``triplets.py`` (distinct-row compression).

The BG/NBD scoring kernels are still in :mod:`clvmodels.engine`. The old module paths
(``models.special``, ``models.likelihood_ops``, ``models.bgnbd_model``, ``models.gamma_gamma_model``)
re-export the names from their new homes.
"""
from .bgnbd import BetaGeoModel
from .fitting import ConvergenceWarning, Diagnostics, FitConfig
from .gamma_gamma import GammaGammaModel
from .priors import Prior

__all__ = ["BetaGeoModel", "GammaGammaModel", "Prior", "FitConfig", "Diagnostics", "ConvergenceWarning"]
