"""Period transactions: how many customers made 0, 1, 2, ... repeat purchases in the calibration
period, actual against the model's posterior predictive distribution.

For posterior draw s, customer c of age T_c makes k repeat purchases with probability
``P_s(X(T_c) = k)`` (FHL 2005 eq. 8). The posterior predictive count of customers in each bin is drawn
per draw as a multinomial over the customers sharing a T, so its interval includes both parameter
uncertainty and the randomness of purchasing. Work is per distinct T and draw, chunked over T values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.transaction import check_transaction_data
from ..draws import DEFAULT_CHUNK_BYTES, chunk_rows
from ._common import PLOT_DRAWS, attach_data, model_unit, new_axes, pct, quantiles
from .conditional import frequency_bins

__all__ = ["period_transactions_data", "plot_period_transactions"]


def period_transactions_data(model, summary: pd.DataFrame, *, max_frequency: int = 7,
                             interval: float = 0.9, max_draws: int | None = PLOT_DRAWS, seed: int = 0,
                             budget_bytes: int = DEFAULT_CHUNK_BYTES, prior=False) -> pd.DataFrame:
    """Customers by number of repeat purchases (0, 1, ..., ``max_frequency``+), actual and posterior
    predictive.

    Returns one row per bin (index ``frequency``) with ``actual`` (customers), ``expected`` (posterior
    predictive mean), ``predicted_lower``, ``predicted_upper`` (central predictive interval at
    ``interval``) and ``actual_share`` / ``expected_share`` (fractions of all customers).

    A model with covariates: each cell of customers (``summary``'s covariate columns) with its own
    parameters, the simulated counts summed over cells per posterior draw.

    ``prior=True``: the prior predictive instead (:func:`clvmodels.prior_predictive` with ``max_draws``
    draws from the model's priors, 500 if None, and ``seed``): the model need not be fitted. ``prior`` may
    also be the result of :func:`clvmodels.prior_predictive` itself (computed once for several plots).
    """
    if prior is not False:
        return _prior_period_data(model, summary, prior, max_frequency, interval, max_draws, seed)
    model_unit(model)
    check_transaction_data(summary, "summary")
    x = summary["frequency"].to_numpy(float)
    bins, labels = frequency_bins(x, max_frequency)
    nb = len(labels)
    actual = np.bincount(bins, minlength=nb)
    T = summary["T"].to_numpy(float)
    # a model with covariates: each cell of customers (the same covariate row) with its own parameters;
    # draw s is the same joint posterior draw in every cell, so the simulated counts add up per draw
    cell_of, models = (model.cell_models(summary, what="summary") if getattr(model, "has_covariates", False)
                       else (np.zeros(len(T), dtype=np.int64), [model]))
    rng = np.random.default_rng(seed)
    sim = expected = None
    for c, m in enumerate(models):
        Ts, n_T = np.unique(T[cell_of == c], return_counts=True)
        if not len(Ts):
            continue
        sc = m.scorer(max_draws)
        S = sc.n_draws
        if sim is None:
            sim, expected = np.zeros((S, nb), dtype=np.int64), np.zeros(nb)
        step = chunk_rows(S, 2 * nb, budget_bytes)
        for j in range(0, len(Ts), step):
            sl = slice(j, j + step)
            pmf, tail = sc.purchases_pmf_new(Ts[sl], nb - 2, return_tail=True)
            probs = np.concatenate([pmf, tail[..., None]], axis=-1)          # (S, T values, bins)
            probs = np.clip(probs, 0.0, None)
            probs /= probs.sum(axis=-1, keepdims=True)
            expected += (probs * n_T[sl, None]).sum(axis=1).mean(axis=0)
            sim += rng.multinomial(np.broadcast_to(n_T[sl], probs.shape[:-1]), probs).sum(axis=1)
    S = sim.shape[0]
    lo, hi = quantiles(sim, interval)
    n = len(summary)
    out = pd.DataFrame({"actual": actual, "expected": expected, "predicted_lower": lo, "predicted_upper": hi,
                        "actual_share": actual / n, "expected_share": expected / n},
                       index=pd.Index(labels, name="frequency"))
    out.attrs["clvmodels"] = {"interval": interval, "n_draws": int(S), "n_customers": int(n)}
    return out


def plot_period_transactions(model, summary: pd.DataFrame, *, max_frequency: int = 7,
                             interval: float = 0.9, max_draws: int | None = PLOT_DRAWS, seed: int = 0, ax=None,
                             prior=False):
    """Bar chart of the number of customers with 0, 1, 2, ... repeat purchases in the calibration
    period: actual bars beside the model's posterior predictive mean with its predictive interval
    (``prior=True``: the prior predictive's, from the model's priors; an unfitted model is accepted).

    See :func:`period_transactions_data` (numbers kept as ``fig.clvmodels_data['period_transactions']``).
    Returns the matplotlib Figure.
    """
    data = period_transactions_data(model, summary, max_frequency=max_frequency, interval=interval,
                                    max_draws=max_draws, seed=seed, prior=prior)
    which = "prior" if prior is not False else "posterior"
    fig, ax = new_axes(ax)
    xs = np.arange(len(data))
    w = 0.4
    ax.bar(xs - w / 2, data["actual"], width=w, color="C0", label="actual")
    err = np.vstack([data["expected"] - data["predicted_lower"], data["predicted_upper"] - data["expected"]])
    ax.bar(xs + w / 2, data["expected"], width=w, color="C1", yerr=np.clip(err, 0, None), capsize=3,
           label=f"model ({which} predictive, {pct(interval)} interval)")
    ax.set_xticks(xs, list(data.index))
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("customers")
    ax.set_title(("Prior predictive: period transactions" if prior is not False else "Period transactions")
                 + f": {data.attrs['clvmodels']['n_customers']:,} customers")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    attach_data(fig, "period_transactions", data)
    return fig


def prior_predictive_for(model, summary, prior, max_draws, seed, **kw):
    """``prior`` as a prior predictive DataTree: computed here when True (``max_draws`` draws, 500 when
    None), taken as it is when it already is one."""
    import xarray as xr

    if isinstance(prior, xr.DataTree):
        return prior
    if prior is not True:
        raise ValueError(f"prior must be True, False or the result of clvmodels.prior_predictive, got {prior!r}")
    from .prior import prior_predictive

    return prior_predictive(model, summary, draws=500 if max_draws is None else int(max_draws), seed=seed, **kw)


def _prior_period_data(model, summary, prior, max_frequency, interval, max_draws, seed) -> pd.DataFrame:
    pp = prior_predictive_for(model, summary, prior, max_draws, seed, max_frequency=max_frequency)
    if "period_transactions" not in pp["prior_predictive"]:
        raise ValueError("this prior predictive has no period-transaction histogram (a spend model's?)")
    sim = pp["prior_predictive"]["period_transactions"].values
    actual = pp["observed_data"]["period_transactions"].values
    labels = [str(v) for v in pp["prior_predictive"]["frequency"].values]
    lo, hi = quantiles(sim, interval)
    expected = sim.mean(axis=0)
    n = int(actual.sum())
    out = pd.DataFrame({"actual": actual, "expected": expected, "predicted_lower": lo, "predicted_upper": hi,
                        "actual_share": actual / n, "expected_share": expected / n},
                       index=pd.Index(labels, name="frequency"))
    out.attrs["clvmodels"] = {"interval": interval, "n_draws": int(sim.shape[0]), "n_customers": n,
                              "predictive": "prior"}
    return out
