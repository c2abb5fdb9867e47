"""The Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987): while alive a customer buys as a
Poisson process, and she drops out after an exponential lifetime, at any moment, all in this folder:

- :mod:`~clvmodels.models.pareto_nbd.math`: its mathematics (likelihood, P(alive), expectations, count
  distributions and bounds) as functions of (r, alpha, s, beta) and the data. The likelihood is written
  through the death time as a sum of two *tail integrals*, int_t^inf (alpha + tau)^-a (beta + tau)^-b
  dtau, evaluated without the difference of Gauss hypergeometric functions of the usual closed form;
  the future of a customer alive now is in closed form (no hypergeometric function at all);
- :mod:`~clvmodels.models.pareto_nbd.likelihood`: the tail integrals with their parameter derivatives
  (a series of decreasing positive terms, or a split quadrature when alpha and beta differ by more than
  a factor of two), and the fused log-likelihood + gradient Op NUTS samples with (it registers its own
  numba implementation);
- :mod:`~clvmodels.models.pareto_nbd.scoring`: its scorer for the scoring computation (P(alive) per
  triplet, closed-form expectations and discounted sums per (x, T), count intervals);
- :mod:`~clvmodels.models.pareto_nbd.simulate`: summaries and transaction logs from its generative story;
- :mod:`~clvmodels.models.pareto_nbd.model`: :class:`ParetoNBDModel`, the estimator.
"""
from .math import (conditional_expected_purchases, conditional_expected_purchases_window, conditional_purchases_pmf,
                   expected_purchases_new, future_p_alive, log_likelihood, p_alive, pt_log_likelihood,
                   purchases_count_upper_bound, purchases_pmf_new)
from .model import ParetoNBDModel
from .scoring import ParetoNBDDraws

__all__ = [
    "log_likelihood", "p_alive", "future_p_alive", "expected_purchases_new", "conditional_expected_purchases",
    "conditional_expected_purchases_window", "purchases_pmf_new", "conditional_purchases_pmf",
    "purchases_count_upper_bound", "pt_log_likelihood", "ParetoNBDModel", "ParetoNBDDraws",
]
