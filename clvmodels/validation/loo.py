"""PSIS-LOO of a fitted transaction model on its calibration data, one distinct row at a time.

Leave-one-out cross-validation estimates how well the model predicts a customer it has not seen:
``elpd_loo = sum_i log p(d_i | d_-i)`` with ``d_i = (frequency, recency, T)`` of customer ``i``.
Pareto-smoothed importance sampling (Vehtari, Gelman & Gabry 2017, "Practical Bayesian model
evaluation using leave-one-out cross-validation and WAIC", Statistics and Computing 27(5); Vehtari,
Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance sampling", JMLR 25(72)) computes each
term from the posterior draws: importance ratios ``1 / p(d_i | theta_s)``, their largest ones replaced
by a fitted generalized Pareto distribution's quantiles, then

    elpd_i = log( sum_s w_is p(d_i | theta_s) / sum_s w_is )     (VGG eq. 10, smoothed weights w)
    p_loo_i = lppd_i - elpd_i,   lppd_i = log mean_s p(d_i | theta_s).

The estimated Pareto shape ``k_i`` says whether the term can be trusted: above 0.7 the importance
ratios' variance is too large (VGG section 2.1; Vehtari et al. 2024 section 3.2), a
:class:`ParetoKWarning` is raised and the customers concerned are counted.

Customers sharing a (frequency, recency, T) row have identical LOO terms, so PSIS runs once per
distinct row (ArviZ's ``azstats.loo`` accessor, the same smoothing as ``arviz.loo``) and the rows are
weighted by their customer counts ``w`` (``N = sum w``)::

    elpd_loo    = sum_r w_r elpd_r
    p_loo       = sum_r w_r p_loo_r
    elpd_loo_se = sqrt(N * sum_r w_r (elpd_r - elpd_loo / N)^2 / (N - 1))

exactly what ``arviz.loo`` gives on the per-customer log-likelihood (``n`` times the sample variance
of the pointwise terms, with ``ddof=1``), checked in ``tests/validation/test_loo.py``. The relative
efficiency ``r_eff`` (which sets the Pareto tail length) is ArviZ's default: the mean over parameters
of the posterior's ESS (``method="mean"``) over the number of draws, 1 for a single chain.

Customers with ``T = 0`` are left out (their likelihood is 1 whatever the parameters: each would add
0 to ``elpd_loo`` and ``p_loo``); ``n_customers`` counts the customers in the sums.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FitError

#: Pareto k above which a LOO term is unreliable (Vehtari et al. 2017, 2024)
PARETO_K_THRESHOLD = 0.7


class ParetoKWarning(UserWarning):
    """Some customers' PSIS-LOO terms are unreliable (Pareto k above 0.7)."""


def relative_efficiency(model, chains: int, draws: int) -> float:
    """ArviZ's default ``r_eff`` for log-likelihood draws shaped (chains, draws) of ``model``'s
    posterior: 1 for a single chain, else the ESS of the posterior mean (``method="mean"``) averaged
    over the parameters, divided by ``chains * draws`` (as ``arviz_stats.loo.loo_helper._get_r_eff``)."""
    if chains == 1:
        return 1.0
    post = model.posterior_
    if post.sizes["chain"] != chains or post.sizes["draw"] != draws:
        raise ValueError(f"the log-likelihood has {chains} x {draws} draws, the posterior "
                         f"{post.sizes['chain']} x {post.sizes['draw']}")
    import arviz_stats  # noqa: F401 - registers the .azstats accessor

    ess = post.azstats.ess(method="mean")
    values = np.hstack([np.ravel(ess[v].values) for v in ess.data_vars])
    return float(values.mean() / (chains * draws))


def loo(model, summary: pd.DataFrame, *, max_draws: int | None = None, pointwise: bool = False,
        warn: bool = True) -> dict[str, Any]:
    """PSIS-LOO of a fitted transaction model on ``summary`` (the data it was fitted on: the
    calibration columns ``frequency``, ``recency``, ``T``; ``n_customers`` rows weighted).

    Returns a JSON-ready dict: ``elpd_loo``, ``elpd_loo_se``, ``p_loo``, ``n_customers`` (in the sums,
    T > 0), ``n_rows`` (distinct rows), ``n_draws``, ``r_eff``, ``pareto_k_max``,
    ``pareto_k_threshold`` (0.7), ``n_customers_high_k`` and ``n_rows_high_k`` (Pareto k above it),
    ``warning`` (any above). ``pointwise=True`` adds ``"pointwise"``: a DataFrame with one row per
    distinct row (``frequency``, ``recency``, ``T``, ``weight``, ``elpd_loo``, ``p_loo``,
    ``pareto_k``; with covariates also ``cell``, the cell of :meth:`cell_models`). ``max_draws``: evenly
    thinned draws (default all; thinned draws count as one chain).
    A :class:`ParetoKWarning` names the problem when some k exceeds 0.7 (``warn=False``: none)."""
    ds = model.pointwise_log_likelihood(summary, max_draws=max_draws)
    ll = ds["log_likelihood"]
    weight = np.asarray(ds["weight"].values, dtype=float)
    chains, draws = ll.sizes["chain"], ll.sizes["draw"]
    if ll.sizes["row"] == 0:
        raise FitError("PSIS-LOO needs customers with T > 0; every customer was first seen at the end of the period")
    r_eff = relative_efficiency(model, chains, draws)
    import arviz_stats  # noqa: F401 - registers the .azstats accessor

    with warnings.catch_warnings():
        # arviz warns about a small sample on its own terms; the k diagnostics are reported below
        warnings.simplefilter("ignore", UserWarning)
        elpd_da, k_da, p_da = ll.azstats.loo(sample_dims=["chain", "draw"], r_eff=r_eff)
    elpd_i = np.asarray(elpd_da.values, float)
    p_i = np.asarray(p_da.values, float)
    k_i = np.asarray(k_da.values, float)
    if not (np.isfinite(elpd_i).all() and np.isfinite(p_i).all()):
        raise FitError("PSIS-LOO gave non-finite pointwise terms (a log-likelihood of -inf at some draw?)")
    n = float(weight.sum())
    elpd = float(np.sum(weight * elpd_i))
    var = float(np.sum(weight * (elpd_i - elpd / n) ** 2) / (n - 1)) if n > 1 else 0.0
    se = float(np.sqrt(n * var))
    high = ~(k_i <= PARETO_K_THRESHOLD)  # NaN k (a degenerate tail) counts as unreliable
    n_high = float(weight[high].sum())
    label = getattr(model, "label", "") or type(model).__name__
    out: dict[str, Any] = {
        "elpd_loo": elpd, "elpd_loo_se": se, "p_loo": float(np.sum(weight * p_i)),
        "n_customers": int(n) if n.is_integer() else n, "n_rows": int(len(weight)), "n_draws": int(chains * draws),
        "r_eff": r_eff, "pareto_k_max": float(np.nanmax(k_i)) if np.isfinite(k_i).any() else float("nan"),
        "pareto_k_threshold": PARETO_K_THRESHOLD,
        "n_customers_high_k": int(n_high) if n_high.is_integer() else n_high, "n_rows_high_k": int(high.sum()),
        "warning": bool(high.any()),
    }
    if high.any() and warn:
        worst = int(np.nanargmax(np.where(np.isfinite(k_i), k_i, np.inf)))
        warnings.warn(
            f"PSIS-LOO of {label}: {out['n_customers_high_k']:g} customers ({int(high.sum())} distinct "
            f"(frequency, recency, T) rows) have Pareto k above {PARETO_K_THRESHOLD} (largest {k_i[worst]:.2f}, "
            f"at frequency {float(ds['frequency'][worst]):g}, recency {float(ds['recency'][worst]):g}, T "
            f"{float(ds['T'][worst]):g}): their leave-one-out terms are unreliable, so elpd_loo is too; "
            "use more posterior draws (NUTS rather than MAP), or compare models on the holdout log score",
            ParetoKWarning, stacklevel=2)
    if pointwise:
        out["pointwise"] = pd.DataFrame({"frequency": ds["frequency"].to_numpy(), "recency": ds["recency"].to_numpy(),
                                         "T": ds["T"].to_numpy(), "weight": weight, "elpd_loo": elpd_i,
                                         "p_loo": p_i, "pareto_k": k_i})
        if "cell" in ds.coords:  # a model with covariates: rows per cell (the cell of model.cell_models(summary))
            out["pointwise"]["cell"] = ds["cell"].to_numpy()
    return out
