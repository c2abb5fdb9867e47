"""Prior predictive checks: what a model's priors say about data before it sees any.

:func:`prior_predictive` draws parameter sets from a configured (fitted or not) model's priors -- the
defaults of :meth:`default_priors` for the data, overridden by the ``priors=`` the model was built with,
exactly what :meth:`fit` would use -- and, for each draw, simulates the data's customers with the model
package's own simulator (``clvmodels.models.<model>.simulate``):

- purchase models (BG/NBD, MBG/NBD, Pareto/NBD): the period-transaction histogram (customers by number
  of repeat purchases 0, 1, ..., ``max_frequency``+ at their own T) and, when first-purchase dates are
  known (the summary's ``first_purchase`` column or the transaction log), the tracking curve (the
  cohort's cumulative repeat purchases at the end of each period of the model's time unit);
- the Gamma-Gamma spend model: the spend distribution (each customer's mean spend per repeat
  transaction, at her own number of repeat purchases) as its ECDF on a grid and its quantiles.

Reading it: if the data's histogram, curve or spend distribution lie far outside the bands of what the
priors generate, the priors rule out the data (or nearly so) and the fit will lean on the priors; if
the bands span everything from "nobody buys again" to "everybody buys every day", the priors are weak
(the defaults are meant to be: the data decide). A prior that puts its mass where the data are not is
visible here before any fit.

Memory is bounded: each draw is summarised (histogram, curve, ECDF) as soon as it is simulated, and
customers are simulated in chunks, so nothing of size draws x customers is held.
"""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError

__all__ = ["prior_predictive", "prior_draws", "predictive_spend", "SPEND_QUANTILES"]

#: quantiles of the customers' mean spend kept per draw
SPEND_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: customers simulated at once (bounds the simulator's memory for large bases)
_CHUNK_CUSTOMERS = 200_000
#: customer x period cells simulated at once for the tracking curve
_CHUNK_CELLS = 4_000_000


def _is_spend_model(model) -> bool:
    from ..models.transaction import TransactionModel

    return not isinstance(model, TransactionModel)


def _simulate_module(model):
    """The model package's own simulator module (``clvmodels.models.<model>.simulate``)."""
    pkg = type(model).__module__.rsplit(".", 1)[0]
    try:
        return importlib.import_module(pkg + ".simulate")
    except ImportError:
        raise InputError(f"{type(model).__name__} has no simulator ({pkg}.simulate): no prior predictive") from None


def _check_draws_arg(draws) -> int:
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be a whole number of at least 1, got {draws!r}")
    return int(draws)


def prior_draws(model, time_unit: str, data: pd.DataFrame | None = None, *, draws: int = 500,
                seed=None) -> dict[str, np.ndarray]:
    """``draws`` parameter sets from the model's priors (the defaults for ``time_unit`` and ``data``
    overridden by ``model.priors``, as :meth:`fit` resolves them), drawn by PyMC from the priors'
    own distributions. The Gamma-Gamma's q is restricted to q > 1 in the fit (its prior truncated
    there), so q is drawn from the prior truncated to q > 1 (by rejection). Flat priors are improper
    (nothing to draw from): :class:`InputError`. Returns parameter -> array of length ``draws``."""
    import pymc as pm

    from ..models.priors import resolve_priors

    n = _check_draws_arg(draws)
    priors = resolve_priors(model.default_priors(time_unit, data), model.priors)
    flat = [p for p, pr in priors.items() if pr.dist in ("HalfFlat", "Flat")]
    if flat:
        raise InputError(f"flat priors on {', '.join(flat)} are improper: there is nothing to draw from, so no prior "
                         "predictive; give proper priors (priors={...}) or keep the defaults")
    names = list(model.param_names)
    rng = np.random.default_rng(seed)
    with pm.Model():
        rvs = [priors[p].create(p) for p in names]
    out = {p: np.empty(0) for p in names}
    # a model that restricts a parameter beyond positivity (the Gamma-Gamma's q > 1, for a finite mean
    # spend) truncates that prior there in the fit: draw from the prior truncated alike (by rejection)
    bounds = {p: (max(lo, float(priors[p].params.get("lower", lo))), min(hi, float(priors[p].params.get("upper", hi))))
              for p, (lo, hi) in getattr(model, "prior_bounds", {}).items()}
    tries = 0
    while len(out[names[0]]) < n:
        tries += 1
        vals = pm.draw(rvs, draws=max(n, 16), random_seed=rng)
        vals = {p: np.asarray(v, dtype=float).ravel() for p, v in zip(names, vals)}
        real = set(getattr(model, "real_params", ()))  # parameters of any sign (an effect, e.g. gamma)
        for p in names:
            bad = ~np.isfinite(vals[p]) | ~((vals[p] > 0) | (p in real))
            if bad.any():
                raise InputError(f"the prior of {p} ({priors[p]!r}) gives values that are not positive finite numbers "
                                 f"(e.g. {vals[p][bad][0]:g}); {p} must be positive: use a positive-support prior "
                                 "(HalfNormal, Gamma, LogNormal, ...)")
        keep = np.ones(len(vals[names[0]]), dtype=bool)
        for p, (lo, hi) in bounds.items():
            keep &= (vals[p] > lo) & (vals[p] < hi)
        for p in names:
            out[p] = np.concatenate([out[p], vals[p][keep]])
        if tries >= 50 and len(out[names[0]]) < n:
            p = next(iter(bounds))
            lo, hi = model.prior_bounds[p]
            where = f"above {lo:g}" if hi == np.inf else f"between {lo:g} and {hi:g}"
            raise InputError(f"the prior of {p} ({priors[p]!r}) puts almost no mass {where}, where "
                             f"{type(model).__name__} restricts {p} (its fit truncates the prior there): give a prior "
                             "with support there")
    return {p: out[p][:n] for p in names}


# -- purchase models -----------------------------------------------------------------------------------
def _latent(model, params: dict[str, float], n: int, rng):
    """Per customer, from the model package's own story (its simulator's ``latent``): the purchase rate
    lambda, the number of repeat purchases she can make before dropping out (``cap``; inf where drop-out
    is in time) and the time she drops out (``tau``; inf where drop-out follows purchases)."""
    sim = _simulate_module(model)
    if not hasattr(sim, "latent"):
        raise InputError(f"no prior predictive tracking curve for {type(model).__name__} yet: its simulator "
                         f"({sim.__name__}) has no latent()")
    return sim.latent(n, params, rng)


def _too_large(model, params, exc) -> InputError:
    vals = ", ".join(f"{k} = {v:.4g}" for k, v in params.items())
    return InputError(f"the priors of {type(model).__name__} give a draw ({vals}) whose purchase counts are too large "
                      f"to simulate ({exc}): the priors allow absurd purchase rates; make them tighter")


def _first_days(data: pd.DataFrame, transactions, customer_id: str, date: str):
    """First-purchase day numbers of the summary's customers (from the log when given, else from the
    summary's ``first_purchase``), and the log's repeat-purchase days of those customers (None without
    a log)."""
    from ._common import purchase_days

    if transactions is not None:
        pdays = purchase_days(transactions, customer_id, date)
        pdays = pdays[pdays["customer_id"].isin(data.index)]
        first = pdays.loc[pdays["is_first"]].set_index("customer_id")["day"]
        missing = data.index.difference(first.index)
        if len(missing):
            raise InputError(f"{len(missing)} customers of the summary have no transactions in the log, e.g. "
                             f"{list(missing[:5])}: pass the log the summary was built from")
        return first.reindex(data.index).to_numpy(np.int64), pdays.loc[~pdays["is_first"], "day"].to_numpy(np.int64)
    fp = pd.to_datetime(data["first_purchase"], errors="coerce")
    if fp.isna().any():
        raise InputError(f"column 'first_purchase': {int(fp.isna().sum())} missing or unreadable dates")
    return fp.dt.floor("D").to_numpy().astype("datetime64[D]").astype(np.int64), None


def _period_end_day(data: pd.DataFrame, first: np.ndarray, ud: float) -> int:
    """The last day of the period the summary covers: its calibration end, else its observation end
    (recorded by :func:`clvmodels.summarize`), else the first purchases plus T."""
    meta = (getattr(data, "attrs", None) or {}).get("clvmodels") or {}
    end = meta.get("calibration_end") or meta.get("observation_end")
    if end:
        from ._common import as_day

        try:
            return as_day(str(end)[:10], "the summary's period end")
        except InputError:  # recorded in a form of its own (a date_format): fall back on first purchase + T
            pass
    return int(np.round(np.max(first + data["T"].to_numpy(float) * ud)))


def _purchase_predictive(model, data, params, *, max_frequency, seed, transactions, customer_id, date,
                         time_unit):
    from ..models.transaction import check_transaction_data, row_weights
    from .conditional import frequency_bins
    from ..units import DAYS_PER_UNIT

    check_transaction_data(data, "data for the prior predictive")
    sim = _simulate_module(model)
    names = list(model.param_names)
    S = len(params[names[0]])
    rng = np.random.default_rng(seed)
    w = row_weights(data)
    if not np.all(w == np.round(w)):
        raise InputError("column 'n_customers': the prior predictive simulates whole customers; counts must be whole")
    T_all = np.repeat(data["T"].to_numpy(float), w.astype(np.int64))
    x_obs = np.repeat(data["frequency"].to_numpy(float), w.astype(np.int64))
    n = len(T_all)
    _, labels = frequency_bins(np.zeros(1), max_frequency)
    nb = len(labels)
    T_pos = T_all[T_all > 0]  # T = 0: first seen at the end, no time to buy again (bin 0 for sure)
    n_t0 = n - len(T_pos)
    hist = np.zeros((S, nb), dtype=np.int64)
    for s in range(S):
        ps = {p: float(params[p][s]) for p in names}
        hist[s, 0] += n_t0
        for j in range(0, len(T_pos), _CHUNK_CUSTOMERS):
            Tc = T_pos[j:j + _CHUNK_CUSTOMERS]
            try:
                x = sim.simulate_summary(len(Tc), **ps, T=Tc, seed=rng)["frequency"].to_numpy()
            except ValueError as exc:
                raise _too_large(model, ps, exc) from None
            hist[s] += np.bincount(np.minimum(x, max_frequency), minlength=nb)[:nb]
    obs_hist = np.bincount(np.minimum(x_obs, max_frequency).astype(np.int64), minlength=nb)[:nb]
    pred = {"period_transactions": (("draw", "frequency"), hist)}
    obs = {"period_transactions": (("frequency",), obs_hist)}
    coords = {"draw": np.arange(S), "frequency": labels}

    have_dates = transactions is not None or "first_purchase" in data.columns
    if have_dates:
        if "n_customers" in data.columns:
            raise InputError("the tracking curve needs one row per customer (a summary without 'n_customers')")
        ud = DAYS_PER_UNIT[time_unit]
        first, repeat_days = _first_days(data, transactions, customer_id, date)
        end = _period_end_day(data, first, ud)
        from ._common import period_ends

        start = int(first.min())
        ends = period_ends(0, end - start, end - start, ud)            # inclusive period ends, days after the start
        K = len(ends)
        offset = first - start
        cum = np.zeros((S, K), dtype=np.int64)
        step = max(1, _CHUNK_CELLS // K)
        for s in range(S):
            ps = {p: float(params[p][s]) for p in names}
            for j in range(0, n, step):
                # each customer's age at each period end, in periods (0 before her first purchase)
                lag = np.clip((ends[None, :] - offset[j:j + step, None]) / ud, 0.0, None)
                lam, cap, tau = _latent(model, ps, len(lag), rng)
                alive_time = np.minimum(lag, tau[:, None])
                inc = np.diff(alive_time, axis=1, prepend=0.0)
                try:
                    N = np.cumsum(rng.poisson(lam[:, None] * inc), axis=1)
                except ValueError as exc:
                    raise _too_large(model, ps, exc) from None
                cum[s] += np.minimum(N, cap[:, None]).sum(axis=0).astype(np.int64)
        period_end = pd.to_datetime(start + ends, unit="D")
        coords["period"] = np.arange(K)
        coords["period_end"] = ("period", period_end)
        pred["cumulative_repeat_purchases"] = (("draw", "period"), cum)
        if repeat_days is not None:
            rd = repeat_days[repeat_days <= end] - start
            actual = np.bincount(np.searchsorted(ends, rd, side="left"), minlength=K)[:K]
            obs["cumulative_repeat_purchases"] = (("period",), np.cumsum(actual))
        else:  # without the log only the total at the end is known: the summary's repeat purchases
            obs["total_repeat_purchases"] = ((), float(x_obs.sum()))
    return pred, obs, coords, {"n_customers": int(n), "max_frequency": int(max_frequency)}


# -- spend -----------------------------------------------------------------------------------------------
def _spend_grid(m: np.ndarray, points: int = 61) -> np.ndarray:
    """Log-spaced spend values from a tenth of the smallest to ten times the largest observed mean spend."""
    lo, hi = float(m.min()) / 10.0, float(m.max()) * 10.0
    return np.geomspace(lo, hi, points)


def predictive_spend(model, data: pd.DataFrame, params: dict[str, np.ndarray], *, seed=None,
                     grid: np.ndarray | None = None):
    """Customers' mean spend per repeat transaction simulated at each parameter draw (``params``: the
    model's parameters as arrays of equal length; prior or posterior draws) with the spend model's own
    simulator (:func:`clvmodels.models.gamma_gamma.simulate.simulate_spend_summary`, which also takes a
    frequency-scaled model's gamma): each customer with ``frequency`` x > 0 gets the mean of x repeat
    amounts, compared with the data's ``monetary_value``.
    Customers with a mean spend of 0 (left out of the fit) are left out here too.

    Returns ``(predicted, observed, coords, n)`` for :func:`prior_predictive` (``predicted`` and
    ``observed``: name -> (dims, values)): per draw the ECDF of the customers' mean spend on ``grid``
    (currency units; default log-spaced around the data's range), its :data:`SPEND_QUANTILES` and its
    mean; ``n`` the customers compared."""
    from ..models.gamma_gamma.model import _spend_rows, check_spend_data

    check_spend_data(data, "data for the spend predictive")
    sim = _simulate_module(model)
    import inspect

    takes = set(inspect.signature(sim.simulate_spend_summary).parameters)
    if not set(params) <= takes:
        raise InputError(f"no predictive spend for {type(model).__name__} yet: its simulator's "
                         f"simulate_spend_summary does not take {sorted(set(params) - takes)}")
    rows = _spend_rows(data)[0]
    if not rows.any():
        raise InputError("no customer has repeat purchases with a positive mean spend (frequency > 0, "
                         "monetary_value > 0): no spend distribution to compare")
    w = data["n_customers"].to_numpy(np.int64)[rows] if "n_customers" in data.columns else None
    x = data["frequency"].to_numpy(np.int64)[rows]
    m = data["monetary_value"].to_numpy(float)[rows]
    if w is not None:
        x, m = np.repeat(x, w), np.repeat(m, w)
    grid = _spend_grid(m) if grid is None else np.asarray(grid, float)
    S = len(next(iter(params.values())))
    n = len(x)
    rng = np.random.default_rng(seed)
    ecdf = np.zeros((S, len(grid)))
    qs = np.zeros((S, len(SPEND_QUANTILES)))
    mean = np.zeros(S)
    # chunks of _CHUNK_CUSTOMERS customers (the simulator draws each customer's repeat mean from its law,
    # so the work is per customer, not per transaction)
    bounds = np.unique(np.concatenate([np.arange(0, n, _CHUNK_CUSTOMERS), [n]]))
    for s in range(S):
        means = np.empty(n)
        for j0, j1 in zip(bounds[:-1], bounds[1:]):
            means[j0:j1] = sim.simulate_spend_summary(x[j0:j1], rng=rng, **{k: float(v[s]) for k, v in params.items()}
                                                      )["monetary_value"].to_numpy()
        means.sort()
        ecdf[s] = np.searchsorted(means, grid, side="right") / n
        qs[s] = np.quantile(means, SPEND_QUANTILES)
        mean[s] = means.mean()
    if not (np.all(np.isfinite(qs)) and np.all(np.isfinite(mean))):
        raise InputError("the spend simulated at some draws is not finite (1/nu overflows): the priors of p, q, v "
                         "allow absurd spend; make them tighter")
    ms = np.sort(m)
    pred = {"spend_ecdf": (("draw", "spend"), ecdf), "spend_quantiles": (("draw", "quantile"), qs),
            "mean_spend": (("draw",), mean)}
    obs = {"spend_ecdf": (("spend",), np.searchsorted(ms, grid, side="right") / n),
           "spend_quantiles": (("quantile",), np.quantile(ms, SPEND_QUANTILES)), "mean_spend": ((), float(m.mean()))}
    coords = {"draw": np.arange(S), "spend": grid, "quantile": list(SPEND_QUANTILES)}
    return pred, obs, coords, n


# -- the public function -----------------------------------------------------------------------------------
def prior_predictive(model, data: pd.DataFrame, *, draws: int = 500, seed=None, transactions=None,
                     max_frequency: int = 7, time_unit: str | None = None, customer_id: str = "customer_id",
                     date: str = "date") -> xr.DataTree:
    """Prior predictive draws of a model at the data's customers (see the module docstring).

    Parameters
    ----------
    model: a configured estimator (:class:`~clvmodels.BetaGeoModel`, :class:`~clvmodels.ModifiedBetaGeoModel`,
        :class:`~clvmodels.ParetoNBDModel` or :class:`~clvmodels.GammaGammaModel`), fitted or not: its priors
        are what :meth:`fit` would use on ``data`` (``model.default_priors(time_unit, data)`` overridden by
        ``model.priors``), whatever a fit found.
    data: the customer summary the model would be fitted on (:func:`clvmodels.summarize`): its T (in the
        summary's time unit) and, for the spend model, frequency and monetary_value (currency units).
    draws: parameter sets drawn from the priors; seed: the random seed (same seed, same numbers).
    transactions: the transaction log the summary was built from (``customer_id`` and ``date`` columns), for
        the tracking curve with the actual one beside it; without it the curve is drawn from the summary's
        ``first_purchase`` column when there is one (the actual total at the end only).
    max_frequency: the histogram's last bin holds ``max_frequency`` or more repeat purchases.
    time_unit: the summary's time unit when it does not record one.

    Returns an :class:`xarray.DataTree` with groups ``prior`` (the parameter draws, dim ``draw``),
    ``prior_predictive`` and ``observed_data``: for a purchase model ``period_transactions`` (customers
    per bin, dims ``draw`` x ``frequency``) and, with first-purchase dates, ``cumulative_repeat_purchases``
    (the cohort's repeat purchases through each period end, dims ``draw`` x ``period``, coordinate
    ``period_end``: inclusive dates, periods of the model's unit anchored at the summary's period end);
    for the spend model ``spend_ecdf`` (fraction of customers with mean spend at or below each ``spend``
    value, currency units), ``spend_quantiles`` (dim ``quantile``) and ``mean_spend``. Counts
    include the randomness of purchasing (it is a simulation of data, not of expectations).
    ``attrs``: model, time_unit, draws, seed, n_customers.

    Cost: memory stays bounded (per-draw summaries, customers in chunks), but the work grows with draws x
    customers (x periods for the tracking curve): on a very large base, pass a random sample of the
    summary's customers (the shares and shapes are what the check reads).
    """
    from ..models.base import data_time_unit, summary_time_unit

    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data: expected a customer summary (pandas DataFrame), got {type(data).__name__}")
    if isinstance(max_frequency, bool) or not isinstance(max_frequency, (int, np.integer)) or max_frequency < 1:
        raise InputError(f"max_frequency must be a whole number of at least 1, got {max_frequency!r}")
    _check_draws_arg(draws)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InputError(f"seed must be a whole number or None, got {seed!r}")
    spend = _is_spend_model(model)
    if spend:
        unit = data_time_unit(data) or (time_unit or "W")  # spend has no time dimension
    else:
        unit = summary_time_unit(data, time_unit)
    ss = np.random.SeedSequence(seed)
    param_seed, sim_seed = ss.spawn(2)
    params = prior_draws(model, unit, data, draws=draws, seed=np.random.default_rng(param_seed))
    # a draw with p (or mu) so small that a customer never drops out gives an infinite drop-out index
    # or lifetime in the simulators: that is the story, not an error
    with np.errstate(over="ignore", divide="ignore"):
        if spend:
            pred, obs, coords, n_spend = predictive_spend(model, data, params, seed=np.random.default_rng(sim_seed))
            extra = {"n_customers": int(len(data)), "n_customers_spend": int(n_spend)}
        else:
            pred, obs, coords, extra = _purchase_predictive(
                model, data, params, max_frequency=max_frequency, seed=np.random.default_rng(sim_seed),
                transactions=transactions, customer_id=customer_id, date=date, time_unit=unit)
    attrs = {"model": type(model).__name__, "time_unit": unit, "draws": int(draws),
             "seed": None if seed is None else int(seed), **extra}
    prior = xr.Dataset({p: ("draw", v) for p, v in params.items()}, coords={"draw": coords["draw"]})
    pp = xr.Dataset(pred, coords=coords)
    od = xr.Dataset(obs, coords={k: v for k, v in coords.items() if k != "draw"})
    tree = xr.DataTree.from_dict({"prior": prior, "prior_predictive": pp, "observed_data": od})
    tree.attrs.update(attrs)
    return tree
