"""The Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013), all in this folder:

- :mod:`~clvmodels.models.gamma_gamma.math`: its mathematics (likelihood, conditional and new-customer
  expected spend, the posterior of a customer's mean spend) as functions of (p, q, v) and the data;
- :mod:`~clvmodels.models.gamma_gamma.likelihood`: the fused log-likelihood + gradient Op PyMC samples
  with, and the spend binning it can use (it registers its own numba implementation);
- :mod:`~clvmodels.models.gamma_gamma.scoring`: its scorer for the scoring computation (spend per draw);
- :mod:`~clvmodels.models.gamma_gamma.model`: :class:`GammaGammaModel`, the estimator.

The package exports the mathematics as the module ``clvmodels.models.gamma_gamma`` did before it became
a package (``from clvmodels.models import gamma_gamma; gamma_gamma.conditional_expected_spend(...)``),
and :class:`GammaGammaModel`.
"""
from .math import (_f, _likelihood_rows, _pt_log_likelihood_graph, conditional_expected_spend, expected_spend_new,
                   log_likelihood, mean_spend_quantile, pt_log_likelihood, sample_mean_spend, spend_posterior)
from .model import GammaGammaFrequencyModel, GammaGammaModel

__all__ = ["log_likelihood", "conditional_expected_spend", "expected_spend_new", "spend_posterior",
           "mean_spend_quantile", "sample_mean_spend", "pt_log_likelihood", "GammaGammaModel",
           "GammaGammaFrequencyModel"]
