"""Validation of fitted models on held-out data, and comparison of models.

- :func:`validate_purchases` (:mod:`~clvmodels.validation.holdout`): holdout accuracy, interval
  coverage, the non-randomized PIT (:mod:`~clvmodels.validation.pit`) and the holdout log predictive
  score of one transaction model; :func:`validate_spend` (:mod:`~clvmodels.validation.spend`) for spend;
- :func:`loo` (:mod:`~clvmodels.validation.loo`): PSIS-LOO on the calibration data, weighted by the
  customers sharing each (frequency, recency, T);
- :func:`compare_models` (:mod:`~clvmodels.validation.compare`): several models fitted alike, scored
  with all of the above and ranked (``clv compare``).
"""
from .compare import compare_models, rank_models
from .holdout import pit_uniformity_pvalue, validate_purchases
from .loo import ParetoKWarning, loo
from .pit import pit_bin_masses, pit_chi2, pit_histogram
from .spend import validate_spend

__all__ = ["validate_purchases", "validate_spend", "compare_models", "rank_models", "loo", "ParetoKWarning",
           "pit_chi2", "pit_histogram", "pit_bin_masses", "pit_uniformity_pvalue"]
