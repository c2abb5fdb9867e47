"""ModifiedBetaGeoModel: the Bayesian MBG/NBD model (Batislam, Denizel & Filiztekin 2007) fitted with PyMC.

The mathematics lives in :mod:`clvmodels.models.mbgnbd.math`, the scorer in
:mod:`clvmodels.models.mbgnbd.scoring`; the data checks, the fit's handling of T = 0 customers and the
per-customer predictions are those of every transaction model
(:class:`clvmodels.models.transaction.TransactionModel`). Time is in the unit of the summary the model
was fitted on (``time_unit_``); horizons say their unit.
"""
from __future__ import annotations

import numpy as np

from ...units import PERIODS_PER_YEAR
from ..bgnbd.math import _alive_expected_many
from ..numerics.special import _NO_CONVERGENCE, _flat
from ..priors import Prior
from ..transaction import TransactionModel
from . import math as mbgnbd
from .scoring import ModifiedBetaGeoDraws


class ModifiedBetaGeoModel(TransactionModel):
    """Bayesian MBG/NBD purchase model: the BG/NBD with a drop-out chance right after the first purchase
    too (a customer without repeat purchases may already be gone).

    Purchase rate while alive ``lambda ~ Gamma(r, rate alpha)`` (alpha in the model's time unit) and
    drop-out probability after the first and after each repeat purchase ``p ~ Beta(a, b)``.

    Default priors (weakly informative, those of the BG/NBD; each can be replaced via ``priors=``):
    ``r ~ HalfNormal(5)``; ``alpha ~ HalfNormal(sigma = one year in the model's unit)`` (alpha is a time
    scale: r/alpha is the purchase rate per period, so its prior scales with the unit);
    ``a ~ HalfNormal(10)``; ``b ~ HalfNormal(10)``.

    Customers first seen at the end of the period (T = 0) are left out of the likelihood (theirs is 1
    whatever the parameters) and scored as new customers: P(alive) = b/(a + b) (the first purchase's
    drop-out chance), the new customer's expected purchases and count distribution.
    """

    name = "mbgnbd"
    label = "MBG/NBD"
    param_names = ("r", "alpha", "a", "b")
    scorer_class = ModifiedBetaGeoDraws
    #: the scorer evaluates the BG/NBD's hypergeometric sums at b + x + 1: the BG/NBD's checked range
    #: (r up to 50, a and b up to 1e5, alpha from 1e-6) carries over (b + 1 <= 1e5 + 1 is as good)
    reliable_range = {"r": (0.0, 50.0), "alpha": (1e-6, np.inf), "a": (0.0, 1e5), "b": (0.0, 1e5)}
    drift_advice = ("as a and b grow together (every customer with the same drop-out probability) or r and "
                    "alpha grow together (every customer with the same purchase rate), the MBG/NBD likelihood "
                    "tends to a positive limit, so under flat priors the posterior is improper and the fit "
                    "drifts off along those directions.")

    def default_priors(self, time_unit: str, data=None) -> dict[str, Prior]:
        return {
            "r": Prior("HalfNormal", sigma=5.0),
            "alpha": Prior("HalfNormal", sigma=float(PERIODS_PER_YEAR[time_unit])),
            "a": Prior("HalfNormal", sigma=10.0),
            "b": Prior("HalfNormal", sigma=10.0),
        }

    def _log_likelihood_graph(self, params, triplets):
        return mbgnbd.pt_log_likelihood(params["r"], params["alpha"], params["a"], params["b"], triplets)

    def _probe_predictions(self, draws, data) -> list[str]:
        """At every draw: the expected purchases of customers alive now, for a probe of the fitted
        data's frequencies (up to 12, smallest and largest included) at T = 0 and at the largest T, over
        the longest observation and ten times it. Each must be finite and its series must converge."""
        x = np.unique(data["frequency"].to_numpy(float))
        if len(x) > 12:
            x = np.unique(x[np.linspace(0, len(x) - 1, 12).round().astype(int)])
        Tmax = float(data["T"].to_numpy(float).max())
        t_long = max(Tmax, 1.0)
        xs, Ts, ts = (g.ravel() for g in np.meshgrid(x, [0.0, Tmax], [t_long, 10.0 * t_long], indexing="ij"))
        p = {k: np.asarray(draws[k], float)[:, None] for k in self.param_names}
        # alive now: lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x + 1)
        shape, (R, A0, a, B, t) = _flat(p["r"] + xs, p["alpha"] + Ts, p["a"], p["b"] + xs + 1.0, ts)
        out = np.empty(R.size)
        st = np.empty(R.size, dtype=np.int64)
        _alive_expected_many(R, A0, a, B, t, out, st)
        bad = (~np.isfinite(out) | (st == _NO_CONVERGENCE)).reshape(shape).any(axis=1)
        if bad.any():
            return [f"the expected purchases cannot be computed at {int(bad.sum())} of {len(bad)} draws"]
        return []
