"""Spend distribution: customers' mean spend per repeat transaction, actual against what the Gamma-Gamma
model generates (prior or posterior predictive), as empirical CDFs on a log scale.

For each parameter draw the model's own simulator (:mod:`clvmodels.models.gamma_gamma.simulate`) gives
every customer with x > 0 repeat purchases x amounts, and their mean is compared with her
``monetary_value``; the band is the central interval over draws of the fraction of customers at or below
each spend value (:func:`clvmodels.plotting.prior.predictive_spend`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import PLOT_DRAWS, attach_data, new_axes, pct, quantiles

__all__ = ["spend_distribution_data", "plot_spend_distribution"]


def spend_distribution_data(model, summary: pd.DataFrame, *, prior=False, interval: float = 0.9,
                            max_draws: int | None = PLOT_DRAWS, seed: int = 0) -> pd.DataFrame:
    """The distribution of customers' mean spend per repeat transaction (currency units), actual and
    predictive, one row per spend value (index ``spend``, log-spaced from a tenth of the smallest to ten
    times the largest observed mean): ``actual`` (fraction of customers with mean spend at or below it),
    ``expected`` (the predictive mean of that fraction), ``lower``/``upper`` (its central ``interval``).

    ``prior=False``: the posterior predictive of a fitted :class:`~clvmodels.GammaGammaModel` (``max_draws``
    posterior draws, thinned evenly); ``prior=True``: the prior predictive (:func:`clvmodels.prior_predictive`,
    ``max_draws`` draws from the priors, 500 if None; the model need not be fitted), or the result of
    :func:`clvmodels.prior_predictive` itself. ``seed``: the simulation's seed."""
    from .prior import predictive_spend

    if prior is not False:
        from .period import prior_predictive_for

        pp = prior_predictive_for(model, summary, prior, max_draws, seed)
        if "spend_ecdf" not in pp["prior_predictive"]:
            raise ValueError("this prior predictive has no spend distribution (a purchase model's?)")
        pred, obs = pp["prior_predictive"], pp["observed_data"]
        grid = pred["spend"].values
        ecdf = pred["spend_ecdf"].values
        actual = obs["spend_ecdf"].values
        n = int(pp.attrs["n_customers_spend"])
        which = "prior"
    else:
        model._check_fitted()
        params = model.draws_(max_draws)
        p, o, c, n = predictive_spend(model, summary, params, seed=np.random.default_rng(seed))
        grid, ecdf, actual = c["spend"], p["spend_ecdf"][1], o["spend_ecdf"][1]
        which = "posterior"
    lo, hi = quantiles(ecdf, interval)
    out = pd.DataFrame({"actual": actual, "expected": ecdf.mean(axis=0), "lower": lo, "upper": hi},
                       index=pd.Index(grid, name="spend"))
    out.attrs["clvmodels"] = {"interval": interval, "n_draws": int(ecdf.shape[0]), "n_customers": n,
                              "predictive": which}
    return out


def plot_spend_distribution(model, summary: pd.DataFrame, *, prior=False, interval: float = 0.9,
                            max_draws: int | None = PLOT_DRAWS, seed: int = 0, ax=None):
    """Empirical CDF of customers' mean spend per repeat transaction (log scale), actual against the
    Gamma-Gamma model's predictive mean and band (``prior=True``: the prior predictive, from the model's
    priors, so an unfitted model is accepted). See :func:`spend_distribution_data`; the numbers are kept as
    ``fig.clvmodels_data['spend_distribution']``. Returns the matplotlib Figure."""
    data = spend_distribution_data(model, summary, prior=prior, interval=interval, max_draws=max_draws, seed=seed)
    meta = data.attrs["clvmodels"]
    fig, ax = new_axes(ax)
    x = data.index.to_numpy()
    ax.fill_between(x, data["lower"], data["upper"], color="C1", alpha=0.3, linewidth=0,
                    label=f"{meta['predictive']} predictive, {pct(interval)} interval")
    ax.plot(x, data["expected"], color="C1", linestyle="--", label=f"{meta['predictive']} predictive mean")
    ax.step(x, data["actual"], where="post", color="C0", label="actual")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean spend per repeat transaction (currency units, log scale)")
    ax.set_ylabel("fraction of customers at or below")
    ax.set_title(("Prior predictive: spend" if meta["predictive"] == "prior" else "Spend distribution")
                 + f": {meta['n_customers']:,} customers with repeat purchases")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    attach_data(fig, "spend_distribution", data)
    return fig
