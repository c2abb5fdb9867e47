"""The BG/NBD purchase model (Fader, Hardie & Lee 2005), all in this folder:

- :mod:`~clvmodels.models.bgnbd.math`: its mathematics (likelihood, P(alive), expectations, count
  distributions and bounds) as functions of (r, alpha, a, b) and the data;
- :mod:`~clvmodels.models.bgnbd.likelihood`: the fused log-likelihood + gradient Op PyMC samples with
  (it registers its own numba implementation);
- :mod:`~clvmodels.models.bgnbd.scoring`: its scorer for the scoring computation (P(alive) per triplet, the
  Chebyshev-in-log-time expectations and discounted sums per (x, T), count intervals);
- :mod:`~clvmodels.models.bgnbd.model`: :class:`BetaGeoModel`, the estimator (priors, fit, predictions).

The package exports the mathematics as the module ``clvmodels.models.bgnbd`` did before it became a
package (``from clvmodels.models import bgnbd; bgnbd.p_alive(...)``), and :class:`BetaGeoModel`.
"""
from .math import (_EPS_A, _EPS_SERIES, _NODES, _Z_SERIES, _Z_SERIES_NEAR, _alive_expected, _alive_expected1,
                   _alive_expected_many, _alive_pmf, _alive_pmf_many, _alive_survival, _closed1, _count_bound_many,
                   _exprel, _f, _log_alive_odds, _log_chernoff_nb, _pt_log_likelihood_graph,
                   conditional_expected_purchases, conditional_expected_purchases_window, conditional_purchases_pmf,
                   expected_purchases_new, future_p_alive, log_likelihood, p_alive, pt_log_likelihood,
                   purchases_count_upper_bound, purchases_pmf_new)
from .model import BetaGeoModel

__all__ = [
    "log_likelihood", "p_alive", "future_p_alive", "expected_purchases_new", "conditional_expected_purchases",
    "conditional_expected_purchases_window", "purchases_pmf_new", "conditional_purchases_pmf",
    "purchases_count_upper_bound", "pt_log_likelihood", "BetaGeoModel",
]
