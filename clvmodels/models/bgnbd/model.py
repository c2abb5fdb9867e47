"""BetaGeoModel: the Bayesian BG/NBD model (Fader, Hardie & Lee 2005) fitted with PyMC.

The mathematics (likelihood, conditional expectations, P(alive), count distributions) lives in
:mod:`clvmodels.models.bgnbd.math` and, at posterior draws, in its scorer
(:class:`~clvmodels.models.bgnbd.scoring.BetaGeoDraws`); this module gives the model its priors, its
likelihood Op and the checks of its draws. The fit's handling of T = 0 and every per-customer
prediction are the transaction models' shared ones (:class:`~clvmodels.models.transaction.TransactionModel`).
Time is in the unit of the summary the model was fitted on (``time_unit_``); horizons say their unit.
"""
from __future__ import annotations

import numpy as np

from ...units import PERIODS_PER_YEAR
from ..numerics.special import _flat
from ..priors import Prior
from ..transaction import (TRANSACTION_COLUMNS, TransactionModel, _as_number, _count, _max_count_for,  # noqa: F401
                           check_transaction_data, predictive_count_pmf, predictive_count_summary,  # noqa: F401
                           row_weights, summary_triplets, t0_mask)
from . import math as bgnbd
from .scoring import BetaGeoDraws

#: the old names (the checks and helpers are every transaction model's now)
BGNBD_COLUMNS = TRANSACTION_COLUMNS
check_bgnbd_data = check_transaction_data
_t0_mask = t0_mask
_row_weights = row_weights
bgnbd_triplets = summary_triplets


class BetaGeoFamily(TransactionModel):
    """What the BG/NBD and its MBG/NBD variant share: the parameters (r, alpha, a, b), their default
    priors, the range where the formulas were checked and the probe of the fitted draws. A customer alive
    at T with x repeat purchases has lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x +
    :attr:`survived_dropouts`): 0 in the BG/NBD (drop-out only after a repeat purchase), 1 in the MBG/NBD
    (also after the first)."""

    #: drop-out chances a customer alive with x repeat purchases survived beyond x
    survived_dropouts: float = 0.0
    param_names = ("r", "alpha", "a", "b")
    #: where the expectation's hypergeometric sums were checked against quadrature: r up to 50 (for
    #: larger r the series cancel and lose every digit at long horizons), a and b up to 1e5 (from about
    #: 1e6 the series no longer converge), alpha from 1e-6 (time-unit scale; below, counts explode)
    reliable_range = {"r": (0.0, 50.0), "alpha": (1e-6, np.inf), "a": (0.0, 1e5), "b": (0.0, 1e5)}
    #: covariates as in pymc-marketing's BetaGeoModel (and Hardie's note 019): alpha_i = alpha
    #: exp(-gamma_purchase . z_i) (a positive coefficient: a higher purchase rate r/alpha_i), a_i = a
    #: exp(gamma_dropout_a . z_i), b_i = b exp(gamma_dropout_b . z_i), with separate coefficients for a and b
    covariate_links = {"purchase": (("alpha", -1.0),), "dropout": (("a", 1.0), ("b", 1.0)),
                       # pooled groups (group=): log param_g = log param + effect_g, effect_g ~ Normal(0, sd)
                       "group": (("alpha", 1.0), ("a", 1.0), ("b", 1.0))}
    drift_advice = ("as a and b grow together (every customer with the same drop-out probability) or r and "
                    "alpha grow together (every customer with the same purchase rate), the likelihood tends to a "
                    "positive limit, so under flat priors the posterior is improper and the fit "
                    "drifts off along those directions.")

    def default_priors(self, time_unit: str, data=None) -> dict[str, Prior]:
        return {
            "r": Prior("HalfNormal", sigma=5.0),
            "alpha": Prior("HalfNormal", sigma=float(PERIODS_PER_YEAR[time_unit])),
            "a": Prior("HalfNormal", sigma=10.0),
            "b": Prior("HalfNormal", sigma=10.0),
        }

    def _probe_predictions(self, draws, data) -> list[str]:
        """At every draw: the expected purchases of customers alive now, for a probe of the fitted
        data's frequencies (up to 12, smallest and largest included) at T = 0 and at the largest T, over
        the longest observation and ten times it. Each must be finite and its series must converge."""
        from ..numerics.special import _NO_CONVERGENCE

        x = np.unique(data["frequency"].to_numpy(float))
        if len(x) > 12:
            x = np.unique(x[np.linspace(0, len(x) - 1, 12).round().astype(int)])
        Tmax = float(data["T"].to_numpy(float).max())
        t_long = max(Tmax, 1.0)
        xs, Ts, ts = (g.ravel() for g in np.meshgrid(x, [0.0, Tmax], [t_long, 10.0 * t_long], indexing="ij"))
        p = {k: np.asarray(draws[k], float)[:, None] for k in self.param_names}
        # alive now: lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x + survived_dropouts)
        shape, (R, A0, a, B, t) = _flat(p["r"] + xs, p["alpha"] + Ts, p["a"], p["b"] + xs + self.survived_dropouts, ts)
        out = np.empty(R.size)
        st = np.empty(R.size, dtype=np.int64)
        bgnbd._alive_expected_many(R, A0, a, B, t, out, st)
        bad = (~np.isfinite(out) | (st == _NO_CONVERGENCE)).reshape(shape).any(axis=1)
        if bad.any():
            return [f"the expected purchases cannot be computed at {int(bad.sum())} of {len(bad)} draws"]
        return []


class BetaGeoModel(BetaGeoFamily):
    """Bayesian BG/NBD purchase model.

    Purchase rate while alive ``lambda ~ Gamma(r, rate alpha)`` (alpha in the model's time unit) and
    drop-out probability after each purchase ``p ~ Beta(a, b)``.

    Default priors (weakly informative, each can be replaced via ``priors=``):
    ``r ~ HalfNormal(5)``; ``alpha ~ HalfNormal(sigma = one year in the model's unit)`` (alpha is a time
    scale: r/alpha is the purchase rate per period, so its prior scales with the unit);
    ``a ~ HalfNormal(10)``; ``b ~ HalfNormal(10)``.

    The likelihood is evaluated once per distinct (frequency, recency, T) weighted by the number of
    customers sharing it, so the cost of a gradient grows with distinct triplets, not customers.

    Customers first seen at the end of the period (T = 0, so frequency = recency = 0) are valid data
    but carry no information about the purchase process: fit() leaves them out of the likelihood and
    counts them in ``fit_info_["n_excluded_t0"]`` (next to ``n_customers``, everybody, and
    ``n_customers_fitted``), with one :class:`~clvmodels.data.ExcludedCustomersWarning`. Predictions
    score them as new customers: P(alive) = 1, expected purchases E[X(t)] (FHL eq. 9), the count
    distribution of eq. 8.

    A fit whose draws would make predictions NaN, infinite or wrong is refused with
    :class:`~clvmodels.errors.FitError` (see :meth:`check_draws` and :attr:`reliable_range`); with flat
    priors on a small base that is what an improper posterior does.
    """

    name = "bgnbd"
    label = "BG/NBD"
    reference = ("Fader, Hardie & Lee (2005), \"Counting your customers the easy way: an alternative to the "
                 "Pareto/NBD model\", Marketing Science 24(2)")
    scorer_class = BetaGeoDraws

    # -- fitting --------------------------------------------------------------------------------
    def _log_likelihood_graph(self, params, triplets):
        return bgnbd.pt_log_likelihood(params["r"], params["alpha"], params["a"], params["b"], triplets)

