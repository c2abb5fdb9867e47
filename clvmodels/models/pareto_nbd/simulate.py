"""Simulators from the Pareto/NBD's generative story (Schmittlein, Morrison & Colombo 1987), mirroring
the BG/NBD's :func:`clvmodels.models.bgnbd.simulate.simulate_summary` and
:func:`clvmodels.models.bgnbd.simulate.simulate_transactions`.

Story: a customer makes her first purchase at time 0; while alive, repeat purchases follow a Poisson
process with rate lambda; her lifetime tau is exponential with rate mu (she drops out at any moment);
``lambda ~ Gamma(r, rate alpha)``, ``mu ~ Gamma(s, rate beta)``, independently.

Drawn per customer with vectorised numpy, exactly (no stepping through time):

- tau = E / mu with E a standard exponential; she is alive at T when tau > T;
- the repeat purchases in (0, T] are those of the Poisson process on (0, min(tau, T)]: their number is
  x ~ Poisson(lambda min(tau, T)) and, given x, their times are x sorted uniforms on (0, min(tau, T)), so
  the recency (the largest) is min(tau, T) U^(1/x) (the maximum of x uniforms, Beta(x, 1)) and the times
  are min(tau, T) S_j / S_(x+1), S_j the partial sums of x + 1 standard exponentials;
- the holdout count is Poisson(lambda (min(tau, T + h) - T)) for a customer alive at T, 0 otherwise (the
  same tau, so the holdout is consistent with the calibration period).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..simulation import acquisition, check_params, purchase_spacings, transaction_log

__all__ = ["simulate_summary", "simulate_transactions"]


def _pnbd_draws(n, r, alpha, s, beta, rng):
    """Per customer: lambda, mu and the lifetime tau."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    with np.errstate(divide="ignore"):
        tau = rng.standard_exponential(n) / mu  # mu may underflow to 0 for tiny s: an endless life
    return lam, mu, tau


def latent(n: int, params, rng):
    """The story's latent state of ``n`` new customers (r, alpha, s, beta): the purchase rate lambda,
    the repeat purchases she can make before dropping out (inf: drop-out follows the clock) and her
    lifetime tau (periods after her first purchase). See :func:`clvmodels.models.bgnbd.simulate.latent`."""
    lam, _, tau = _pnbd_draws(n, params["r"], params["alpha"], params["s"], params["beta"], rng)
    return lam, np.full(n, np.inf), tau


def simulate_summary(n_customers: int, r: float, alpha: float, s: float, beta: float, T, *,
                     holdout: float | None = None, seed=None, return_latent: bool = False,
                     covariates: pd.DataFrame | None = None, coefficients=None) -> pd.DataFrame:
    """Simulate a Pareto/NBD customer summary directly from the generative story.

    Parameters
    ----------
    n_customers: number of customers.
    r, alpha, s, beta: Pareto/NBD parameters (alpha and beta in the time unit of T).
    T: time from each customer's first purchase to the end of observation (scalar or array of length
        ``n_customers``), in the model's time unit; positive.
    holdout: optional length h of a holdout period after T; adds ``frequency_holdout``, the number of
        purchases in (T, T + h].
    seed: anything ``numpy.random.default_rng`` accepts; the same seed gives the same summary.
    return_latent: also return each customer's ``lam``, ``mu``, ``tau`` (lifetime), ``alive`` (at T)
        and, with a holdout, ``alive_holdout_end``.

    covariates, coefficients: static covariates (pymc-marketing's form, the model's ``covariate_links``):
        ``covariates`` a DataFrame of one row per customer, ``coefficients`` per group (e.g.
        ``{'purchase_coefficient_alpha': {'channel=paid': 0.5, 'basket': 0.2}}``) the coefficient of each
        column on the raw scale: each customer's parameters by
        :func:`clvmodels.models.covariates.simulation_params`; the covariate columns are added to the summary.

    Returns a DataFrame indexed by ``customer_id`` (0..n-1) with ``frequency`` (int), ``recency`` and
    ``T`` (float, continuous times), as :func:`clvmodels.models.pareto_nbd.math.log_likelihood` expects.
    """
    check_params(r=r, alpha=alpha, s=s, beta=beta)
    n = int(n_customers)
    if coefficients:  # each customer's own parameters
        from ..covariates import simulation_params

        _p = simulation_params({'r': r, 'alpha': alpha, 's': s, 'beta': beta}, covariates, coefficients,
                               {'alpha': -1.0, 'beta': -1.0}, n)
        r, alpha, s, beta = (_p['r'], _p['alpha'], _p['s'], _p['beta'])
        check_params(r=r, alpha=alpha, s=s, beta=beta)
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(~(T > 0)) or np.any(~np.isfinite(T)):
        raise ValueError("T must be positive and finite")
    lam, mu, tau = _pnbd_draws(n, r, alpha, s, beta, rng)
    life = np.minimum(tau, T)  # time alive within (0, T]
    x = rng.poisson(lam * life).astype(float)
    rec = np.zeros(n)
    pos = x > 0
    rec[pos] = life[pos] * rng.beta(x[pos], 1.0)  # the largest of x uniforms on (0, life)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": rec, "T": T},
                       index=pd.RangeIndex(n, name="customer_id"))
    alive = tau > T
    if holdout is not None:
        h = float(holdout)
        if not (h >= 0 and np.isfinite(h)):
            raise ValueError("holdout must be a non-negative finite length")
        more = np.clip(np.minimum(tau, T + h) - T, 0.0, None)  # time alive within (T, T + h]
        out["frequency_holdout"] = rng.poisson(lam * more).astype(np.int64)
    if return_latent:
        out["lam"] = lam
        out["mu"] = mu
        out["tau"] = tau
        out["alive"] = alive
        if holdout is not None:
            out["alive_holdout_end"] = tau > T + h
    if covariates is not None:
        for c in covariates.columns:
            out[c] = covariates[c].to_numpy()
    return out


def simulate_transactions(n_customers: int, r: float, alpha: float, s: float, beta: float, *,
                          start="2020-01-01", acquisition_days: float = 90.0, observation_end=None,
                          time_unit: str = "W", seed=None, rng=None):
    """Simulate a transaction log (dates only) from the Pareto/NBD story.

    The same interface and conventions as the BG/NBD's
    :func:`clvmodels.models.bgnbd.simulate.simulate_transactions`: first purchases uniform over
    ``acquisition_days`` days from ``start``, purchases observed until ``observation_end`` (default one
    year after ``start``), continuous times reported with day resolution (a customer's purchases on the
    same day merge in an RFM summary: keep rates well below one a day), ``alpha`` and ``beta`` in
    ``time_unit`` ('D', 'W' or 'M'). ``rng`` (a numpy Generator) takes the place of ``seed`` when the
    caller draws more from the same stream (amounts:
    :func:`clvmodels.models.gamma_gamma.simulate.simulate_amounts`).

    Returns ``(transactions, customers)``: the log (customer_id 1..n, date) sorted by customer and date,
    and per customer (indexed by customer_id) ``first_purchase`` (timestamp, continuous), ``lam``,
    ``mu``, ``tau`` (lifetime, in ``time_unit``), ``alive`` (at the observation end) and ``n_repeat``
    (repeat purchases before day merging).
    """
    check_params(r=r, alpha=alpha, s=s, beta=beta)
    n = int(n_customers)
    rng = np.random.default_rng(seed) if rng is None else rng
    t0, first, T, unit_days = acquisition(n, start, acquisition_days, observation_end, time_unit, rng)
    lam, mu, tau = _pnbd_draws(n, r, alpha, s, beta, rng)
    life = np.minimum(tau, T)
    xi = rng.poisson(lam * life).astype(np.int64)
    # purchase times: x sorted uniforms on (0, life), as life S_j / S_(x+1) from x + 1 exponential spacings
    cust, within, s_x = purchase_spacings(xi, rng)
    last = rng.standard_exponential(n)  # the (x + 1)-th spacing
    times = life[cust] * within / (s_x[cust] + last[cust])  # in time_unit after the first purchase
    log = transaction_log(t0, first, cust, times, unit_days)
    customers = pd.DataFrame({
        "first_purchase": t0 + pd.to_timedelta(first, unit="D"), "lam": lam, "mu": mu, "tau": tau,
        "alive": tau > T, "n_repeat": xi,
    }, index=pd.Index(np.arange(1, n + 1), name="customer_id"))
    return log, customers
