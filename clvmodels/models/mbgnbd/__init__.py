"""The MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007): the BG/NBD with a drop-out chance
right after the first purchase too, all in this folder:

- :mod:`~clvmodels.models.mbgnbd.math`: its mathematics (likelihood, P(alive), expectations, count
  distributions and bounds) as functions of (r, alpha, a, b) and the data. A customer alive now is a
  BG/NBD customer alive now with b + x + 1 in place of b + x, so the expensive kernels are the BG/NBD's
  (imported from :mod:`clvmodels.models.bgnbd`), called at b + 1;
- :mod:`~clvmodels.models.mbgnbd.likelihood`: the fused log-likelihood + gradient Op PyMC samples with
  (it registers its own numba implementation);
- :mod:`~clvmodels.models.mbgnbd.scoring`: its scorer for the scoring computation (P(alive) per triplet; the
  BG/NBD's Chebyshev expectations, discounted sums and count intervals at b + 1 per (x, T));
- :mod:`~clvmodels.models.mbgnbd.simulate`: summaries and transaction logs from its generative story;
- :mod:`~clvmodels.models.mbgnbd.model`: :class:`ModifiedBetaGeoModel`, the estimator.
"""
from .math import (conditional_expected_purchases, conditional_expected_purchases_window, conditional_purchases_pmf,
                   expected_purchases_new, future_p_alive, log_likelihood, p_alive, pt_log_likelihood,
                   purchases_count_upper_bound, purchases_pmf_new)
from .model import ModifiedBetaGeoModel
from .scoring import ModifiedBetaGeoDraws

__all__ = [
    "log_likelihood", "p_alive", "future_p_alive", "expected_purchases_new", "conditional_expected_purchases",
    "conditional_expected_purchases_window", "purchases_pmf_new", "conditional_purchases_pmf",
    "purchases_count_upper_bound", "pt_log_likelihood", "ModifiedBetaGeoModel", "ModifiedBetaGeoDraws",
]
