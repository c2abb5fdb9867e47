"""Simulators from the MBG/NBD's generative story (Batislam, Denizel & Filiztekin 2007), mirroring the
BG/NBD's :mod:`clvmodels.models.bgnbd.simulate` (whose helpers it uses).

Story: a customer makes her first purchase at time 0; right after it, and right after each repeat
purchase, she drops out for good with probability p; while active, repeat purchases follow a Poisson
process with rate lambda; ``lambda ~ Gamma(r, rate alpha)``, ``p ~ Beta(a, b)``.

Drawn per customer with vectorised numpy, exactly (no stepping through time), as the BG/NBD's simulator
does, with one change: the number of repeat purchases she can make before dropping out is
M = G - 1 on {0, 1, 2, ...}, G ~ Geometric(p) on {1, 2, ...} (M = 0: she drops out right after her first
purchase, with probability p). The Poisson count in (0, T] is N ~ Poisson(lambda T), the observed
frequency x = min(N, M), and she is alive at T when M > N (she survived the N + 1 drop-out chances
after her first and her N repeat purchases). Given N the purchase times are N sorted uniforms on (0, T)
(the recency is T Beta(x, N - x + 1)); the holdout count of a customer alive at T is
min(Poisson(lambda h), M - N).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..simulation import acquisition, purchase_spacings, transaction_log
from ..bgnbd.simulate import _dropout_index, check_params

__all__ = ["simulate_summary", "simulate_transactions"]


def _mbgnbd_draws(n, r, alpha, a, b, T, rng):
    """Per customer: lambda, p, the Poisson count N in (0, T], M (repeat purchases before drop-out) and
    the frequency x = min(N, M)."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    N = rng.poisson(lam * T).astype(float)
    M = _dropout_index(p, rng) - 1.0  # drop-out chances start at the first purchase: M = 0 happens
    x = np.minimum(N, M)
    return lam, p, N, M, x


def latent(n: int, params, rng):
    """The story's latent state of ``n`` new customers (r, alpha, a, b): the purchase rate lambda, the
    repeat purchases she makes before dropping out (M, which can be 0: a drop-out chance also follows
    the first purchase) and her drop-out time (inf: drop-out follows purchases). See
    :func:`clvmodels.models.bgnbd.simulate.latent`."""
    lam, _, _, M, _ = _mbgnbd_draws(n, params["r"], params["alpha"], params["a"], params["b"], np.zeros(n), rng)
    return lam, M, np.full(n, np.inf)


def simulate_summary(n_customers: int, r: float, alpha: float, a: float, b: float, T, *,
                     holdout: float | None = None, seed=None, return_latent: bool = False,
                     covariates: pd.DataFrame | None = None, coefficients=None) -> pd.DataFrame:
    """Simulate an MBG/NBD customer summary directly from the generative story.

    Parameters
    ----------
    n_customers: number of customers.
    r, alpha, a, b: MBG/NBD parameters (alpha in the time unit of T).
    T: time from each customer's first purchase to the end of observation (scalar or array of length
        ``n_customers``), in the model's time unit; positive.
    holdout: optional length h of a holdout period after T; adds ``frequency_holdout``, the number of
        purchases in (T, T + h].
    seed: anything ``numpy.random.default_rng`` accepts; the same seed gives the same summary.
    return_latent: also return each customer's ``lam``, ``p``, ``alive`` (at T) and, with a holdout,
        ``alive_holdout_end``.

    covariates, coefficients: static covariates (pymc-marketing's form, the model's ``covariate_links``):
        ``covariates`` a DataFrame of one row per customer, ``coefficients`` per group (e.g.
        ``{'purchase_coefficient_alpha': {'channel=paid': 0.5, 'basket': 0.2}}``) the coefficient of each
        column on the raw scale: each customer's parameters by
        :func:`clvmodels.models.covariates.simulation_params`; the covariate columns are added to the summary.

    Returns a DataFrame indexed by ``customer_id`` (0..n-1) with ``frequency`` (int), ``recency`` and
    ``T`` (float, continuous times), as :func:`clvmodels.models.mbgnbd.math.log_likelihood` expects.
    """
    check_params(r=r, alpha=alpha, a=a, b=b)
    n = int(n_customers)
    if coefficients:  # each customer's own parameters
        from ..covariates import simulation_params

        _p = simulation_params({'r': r, 'alpha': alpha, 'a': a, 'b': b}, covariates, coefficients,
                               {'alpha': -1.0, 'a': 1.0, 'b': 1.0}, n)
        r, alpha, a, b = (_p['r'], _p['alpha'], _p['a'], _p['b'])
        check_params(r=r, alpha=alpha, a=a, b=b)
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(~(T > 0)) or np.any(~np.isfinite(T)):
        raise ValueError("T must be positive and finite")
    lam, p, N, M, x = _mbgnbd_draws(n, r, alpha, a, b, T, rng)
    # recency: the x-th of N sorted uniforms on (0, T) is T * Beta(x, N - x + 1)
    rec = np.zeros(n)
    pos = x > 0
    rec[pos] = T[pos] * rng.beta(x[pos], N[pos] - x[pos] + 1.0)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": rec, "T": T},
                       index=pd.RangeIndex(n, name="customer_id"))
    alive = M > N
    if holdout is not None:
        h = float(holdout)
        if not (h >= 0 and np.isfinite(h)):
            raise ValueError("holdout must be a non-negative finite length")
        K = rng.poisson(lam * h).astype(float)
        left = M - N  # purchases she can still make before dropping out
        fh = np.where(alive, np.minimum(K, left), 0.0)
        out["frequency_holdout"] = fh.astype(np.int64)
    if return_latent:
        out["lam"] = lam
        out["p"] = p
        out["alive"] = alive
        if holdout is not None:
            out["alive_holdout_end"] = alive & (K < left)
    if covariates is not None:
        for c in covariates.columns:
            out[c] = covariates[c].to_numpy()
    return out


def simulate_transactions(n_customers: int, r: float, alpha: float, a: float, b: float, *,
                          start="2020-01-01", acquisition_days: float = 90.0, observation_end=None,
                          time_unit: str = "W", seed=None, rng=None):
    """Simulate a transaction log (dates only) from the MBG/NBD story.

    The same interface and conventions as the BG/NBD's
    :func:`clvmodels.models.bgnbd.simulate.simulate_transactions`: first purchases uniform over
    ``acquisition_days`` days from ``start``, purchases observed until ``observation_end`` (default one
    year after ``start``), continuous times reported with day resolution (a customer's purchases on the
    same day merge in an RFM summary: keep rates well below one a day), ``alpha`` in ``time_unit``
    ('D', 'W' or 'M'). ``rng`` (a numpy Generator) takes the place of ``seed`` when the caller draws
    more from the same stream (amounts: :func:`clvmodels.models.gamma_gamma.simulate.simulate_amounts`).

    Returns ``(transactions, customers)``: the log (customer_id 1..n, date) sorted by customer and date,
    and per customer (indexed by customer_id) ``first_purchase`` (timestamp, continuous), ``lam``,
    ``p``, ``alive`` (at the observation end) and ``n_repeat`` (repeat purchases before day merging).
    """
    check_params(r=r, alpha=alpha, a=a, b=b)
    n = int(n_customers)
    rng = np.random.default_rng(seed) if rng is None else rng
    t0, first, T, unit_days = acquisition(n, start, acquisition_days, observation_end, time_unit, rng)
    lam, p_drop, N, M, x = _mbgnbd_draws(n, r, alpha, a, b, T, rng)
    xi = x.astype(np.int64)
    # repeat purchase times: the first x of N sorted uniforms on (0, T), T S_j / (S_x + E), E ~ Gamma(N - x + 1)
    cust, within, s_x = purchase_spacings(xi, rng)
    has = xi > 0
    rest = np.zeros(n)
    rest[has] = rng.gamma(N[has] - x[has] + 1.0)
    times = T[cust] * within / (s_x[cust] + rest[cust])  # in time_unit after the first purchase
    log = transaction_log(t0, first, cust, times, unit_days)
    customers = pd.DataFrame({
        "first_purchase": t0 + pd.to_timedelta(first, unit="D"), "lam": lam, "p": p_drop,
        "alive": M > N, "n_repeat": xi,
    }, index=pd.Index(np.arange(1, n + 1), name="customer_id"))
    return log, customers
