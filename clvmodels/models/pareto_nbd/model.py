"""ParetoNBDModel: the Bayesian Pareto/NBD model (Schmittlein, Morrison & Colombo 1987) fitted with PyMC.

The mathematics lives in :mod:`clvmodels.models.pareto_nbd.math` (the tail integrals behind the
likelihood in :mod:`clvmodels.models.pareto_nbd.likelihood`), the scorer in
:mod:`clvmodels.models.pareto_nbd.scoring`; the data checks, the fit's handling of T = 0 customers and the
per-customer predictions are those of every transaction model
(:class:`clvmodels.models.transaction.TransactionModel`). Time is in the unit of the summary the model
was fitted on (``time_unit_``); horizons say their unit.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...units import PERIODS_PER_YEAR
from ..priors import Prior
from ..transaction import TransactionModel
from . import math as pnbd
from .scoring import PARAMS, ParetoNBDDraws


class ParetoNBDModel(TransactionModel):
    """Bayesian Pareto/NBD purchase model: while alive a customer buys as a Poisson process with rate
    ``lambda ~ Gamma(r, rate alpha)``, and she drops out after an exponential lifetime with rate
    ``mu ~ Gamma(s, rate beta)`` (at any moment, unobserved; alpha and beta in the model's time unit).

    Default priors (weakly informative, each can be replaced via ``priors=``):
    ``r ~ HalfNormal(5)``, ``s ~ HalfNormal(5)`` (shapes: the smaller, the more heterogeneous the
    customers); ``alpha ~ HalfNormal(sigma = one year in the model's unit)`` and
    ``beta ~ HalfNormal(sigma = one year in the model's unit)`` (time scales: r/alpha is the mean
    purchase rate and s/beta the mean drop-out rate per period, so their priors scale with the unit; on
    CDNOW in weeks, sigma = 52.18 against the estimates alpha = 10.6, beta = 11.7).

    Sampler default ``target_accept=0.95`` (the BG/NBD uses 0.8, the MBG/NBD 0.9). The data pin down the mean
    drop-out rate s/beta far better than s and beta apart, and the posterior of (log s, log beta) is a
    curved ridge whose cross-section is about three times narrower at its small-s end than in the middle
    (on CDNOW the Hessian's largest whitened eigenvalue grows from 1 to 9 to 11 there); a step size
    adapted to the bulk then diverges now and then at that end (when this default was chosen: 7 to 16
    divergent transitions in 4 x 1,000 draws at 0.8 on CDNOW, none at 0.95 over the seeds tried, for
    about 40% more gradient evaluations; benchmarks/bench_pnbd.py).

    Customers first seen at the end of the period (T = 0) are left out of the likelihood (theirs is 1
    whatever the parameters) and scored as new customers: P(alive) = 1, the expected purchases and the
    count distribution of a customer alive at time 0.

    A fit whose draws lie outside :attr:`reliable_range` (where the numerics were checked) is refused
    with :class:`~clvmodels.errors.FitError`; with flat priors on a small base that is what an improper
    posterior does.
    """

    name = "pnbd"
    default_target_accept = 0.95
    label = "Pareto/NBD"
    reference = ("Schmittlein, Morrison & Colombo (1987), \"Counting your customers: who are they and what will "
                 "they do next?\", Management Science 33(1); Fader, Hardie & Lee (2005), \"A note on deriving the "
                 "Pareto/NBD model and related expressions\"")
    param_names = PARAMS
    scorer_class = ParetoNBDDraws
    #: covariates as in pymc-marketing's ParetoNBDModel (and Hardie's note 019): alpha_i = alpha
    #: exp(-gamma_purchase . z_i), beta_i = beta exp(-gamma_dropout . z_i) (a positive coefficient: a higher
    #: purchase rate r/alpha_i, a higher drop-out rate s/beta_i)
    covariate_links = {"purchase": (("alpha", -1.0),), "dropout": (("beta", -1.0),),
                       # pooled groups (group=): log param_g = log param + effect_g, effect_g ~ Normal(0, sd)
                       "group": (("alpha", 1.0), ("beta", 1.0))}
    #: where the likelihood's tail integrals were checked against mpmath (tests/models/test_pareto_nbd_math.py):
    #: value to about 1e-13 and gradient to 1e-12 of the size of its terms over a random spread (r and s
    #: from 0.01 to 20, alpha and beta from 1e-3 to 1e4 in any ratio, frequencies to 1,000, t to 1e4), and
    #: at the corners r, s in {1e-3, 1e3}, alpha, beta in {1e-6, 1e8}, frequency 10,000 and T = 1e5
    #: (gradient to 1e-10 there). The predictions are closed forms, and the count mixtures were checked
    #: against mpmath up to r + x = 5,000. Beyond this range no claim is made
    reliable_range = {"r": (0.0, 1e3), "alpha": (1e-6, 1e8), "s": (0.0, 1e3), "beta": (1e-6, 1e8)}
    drift_advice = ("as s and beta grow together (every customer with the same drop-out rate) or r and alpha "
                    "grow together (every customer with the same purchase rate), the Pareto/NBD likelihood tends "
                    "to a positive limit, so under flat priors the posterior is improper and the fit drifts off "
                    "along those directions.")

    def __init__(self, priors: Mapping[str, Any] | str | None = None, *, method: str = "nuts",
                 sampler: str = "auto", chains: int = 4, draws: int = 1000, tune: int = 1000,
                 seed: int | None = None, target_accept: float = 0.95, progressbar: bool = True,
                 adaptation: str = "low_rank", purchase_covariates=None, dropout_covariates=None, group=None):
        super().__init__(priors, method=method, sampler=sampler, chains=chains, draws=draws, tune=tune, seed=seed,
                         target_accept=target_accept, progressbar=progressbar, adaptation=adaptation,
                         purchase_covariates=purchase_covariates, dropout_covariates=dropout_covariates, group=group)

    def default_priors(self, time_unit: str, data=None) -> dict[str, Prior]:
        year = float(PERIODS_PER_YEAR[time_unit])
        return {
            "r": Prior("HalfNormal", sigma=5.0),
            "alpha": Prior("HalfNormal", sigma=year),
            "s": Prior("HalfNormal", sigma=5.0),
            "beta": Prior("HalfNormal", sigma=year),
        }

    def _log_likelihood_graph(self, params, triplets):
        r, alpha, s, beta = (params[k] for k in PARAMS)
        return pnbd.pt_log_likelihood(r, alpha, s, beta, triplets)

    def _probe_predictions(self, draws, data) -> list[str]:
        """At every draw: P(alive) and the log-likelihood of a probe of the fitted data's rows (the
        smallest and largest frequency with the smallest and largest recency and T), which go through
        the tail integrals at their extremes. Each must be finite."""
        x = data["frequency"].to_numpy(float)
        tx = data["recency"].to_numpy(float)
        T = data["T"].to_numpy(float)
        keep = T > 0
        if not keep.any():
            return []
        x, tx, T = x[keep], tx[keep], T[keep]
        rows = np.unique(np.r_[np.argmin(x), np.argmax(x), np.argmin(T), np.argmax(T), np.argmin(tx), np.argmax(tx)])
        cols = [np.asarray(draws[k], float)[:, None] for k in PARAMS]
        ll = pnbd.log_likelihood(*cols, x[rows], tx[rows], T[rows])
        pa = pnbd.p_alive(*cols, x[rows], tx[rows], T[rows])
        bad = (~np.isfinite(ll) | ~np.isfinite(pa)).any(axis=1)
        if bad.any():
            return [f"the likelihood or P(alive) cannot be computed at {int(bad.sum())} of {len(bad)} draws"]
        return []
