"""Models: each model is a package holding its mathematics, its likelihood and its estimator class, so a
reader finds a model in one folder; what the models share lives once, beside them.

- ``bgnbd/`` (BG/NBD purchases), ``mbgnbd/`` (MBG/NBD, built on the BG/NBD's kernels), ``pareto_nbd/``
  (Pareto/NBD) and ``gamma_gamma/`` (Gamma-Gamma spend): ``math.py`` (the paper's formulas as
  numpy/numba functions), ``likelihood.py`` (the fused log-likelihood + gradient Op, which registers its
  own numba implementation), ``scoring.py`` (what the scoring computation computes with: the model's
  scorer of the protocol), ``simulate.py`` (its generative story), ``model.py`` (the estimator: priors,
  fit, the checks of its draws);
- ``scorer.py``: what every transaction model's scorer shares (its draws as fields, the direct-formula
  methods of the protocol as calls of the model's ``math`` module); ``simulation.py``: what the simulators
  share (acquisition times, purchase spacings, the day-resolution log);
- ``transaction.py``: what every transaction model shares (data checks, customers first seen at the end
  of the period, every per-customer prediction, through the scorer); ``registry.py``: the transaction
  models by name (``--model``, ``model=``);
- ``numerics/``: special functions, the fused-Op machinery and quantiles by selection;
- ``protocol.py``: what a transaction model and a spend model offer the forecast layer (their scorers:
  factorised per-triplet scores, spend per draw), so that nothing downstream names a model's parameters;
- ``base.py`` (the estimator base: priors, draws, scorers, summaries, model files), ``fitting.py`` (the one fitting
  path), ``priors.py``, ``triplets.py`` (distinct-row compression).

The old module paths
(``models.special``, ``models.likelihood_ops``, ``models.bgnbd_model``, ``models.gamma_gamma_model``)
re-export the names from their new homes.
"""
from .bgnbd import BetaGeoModel
from .fitting import ConvergenceWarning, Diagnostics, FitConfig
from .gamma_gamma import GammaGammaFrequencyModel, GammaGammaModel
from .mbgnbd import ModifiedBetaGeoModel
from .pareto_nbd import ParetoNBDModel
from .priors import Prior

__all__ = ["BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel", "GammaGammaModel", "GammaGammaFrequencyModel",
           "Prior", "FitConfig", "Diagnostics", "ConvergenceWarning"]
