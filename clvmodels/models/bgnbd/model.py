"""BetaGeoModel: the Bayesian BG/NBD model (Fader, Hardie & Lee 2005) fitted with PyMC.

The mathematics (likelihood, conditional expectations, P(alive), count distributions) lives in
:mod:`clvmodels.models.bgnbd.math`; this module wires it to priors, the sampler and the prediction path.
Time is in the unit of the summary the model was fitted on (``time_unit_``); horizons say their unit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ...errors import DataError, InputError, ProblemCollector
from ...predict import (DEFAULT_CHUNK_BYTES, DEFAULT_SCORING_DRAWS, chunk_rows, distinct, draws_for_rows,
                        interval_bounds, reduce_over_draws, require_finite, _progress)
from ...units import PERIODS_PER_YEAR
from ..base import BayesianModel, check_data_unit
from ..numerics.special import _flat
from ..priors import Prior
from . import math as bgnbd
from ..triplet_scores import predict_triplets
from .scoring import BetaGeoDraws

BGNBD_COLUMNS = ("frequency", "recency", "T")


def check_bgnbd_data(data: pd.DataFrame, what: str) -> None:
    """Every problem with (frequency, recency, T) at once: missing, negative, non-integer frequency,
    recency > T, recency > 0 with frequency 0, and repeat purchases with T = 0.

    T = 0 (a customer first seen at the observation end, or at the calibration end) is valid data with
    frequency 0 and recency 0: such a customer carries no information about the purchase process
    (her likelihood is 1 whatever the parameters) and is scored as a new customer."""
    problems = ProblemCollector(what=what)
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    for c in BGNBD_COLUMNS:
        if c not in data.columns:
            problems.add(c, "required column is missing (build the summary with clvmodels.summarize)")
    problems.raise_if_any()
    if len(data) == 0:
        raise InputError(f"{what}: the summary has no customers")
    cols = list(BGNBD_COLUMNS)
    vals = {c: pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in cols}
    for c in cols:
        bad = ~np.isfinite(vals[c])
        if bad.any():
            problems.add(c, "missing or non-numeric values", data.loc[bad, cols], int(bad.sum()))
        neg = vals[c] < 0
        if neg.any():
            problems.add(c, "negative values", data.loc[neg, cols], int(neg.sum()))
    f = vals["frequency"]
    nonint = np.isfinite(f) & (f != np.round(f))
    if nonint.any():
        problems.add("frequency", "frequency must be a whole number of repeat purchases", data.loc[nonint, cols], int(nonint.sum()))
    over = vals["recency"] > vals["T"] + 1e-9
    if over.any():
        problems.add("recency", "recency (first to last purchase) exceeds T (first purchase to observation end)",
                     data.loc[over, cols], int(over.sum()))
    ghost = (f == 0) & (vals["recency"] > 0)
    if ghost.any():
        problems.add("recency", "customers with frequency 0 must have recency 0", data.loc[ghost, cols], int(ghost.sum()))
    zero_t = (vals["T"] == 0) & ((f > 0) | (vals["recency"] > 0))
    if zero_t.any():
        problems.add("T", "customers with T = 0 (first purchase at the observation end) cannot have repeat purchases "
                     "or a recency above 0", data.loc[zero_t, cols], int(zero_t.sum()))
    problems.raise_if_any()


def _t0_mask(data: pd.DataFrame) -> np.ndarray:
    """Customers first seen at the end of the (calibration) period: T = 0 (so frequency = recency = 0)."""
    return data["T"].to_numpy(float) == 0


class BetaGeoModel(BayesianModel):
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

    param_names = ("r", "alpha", "a", "b")
    scorer_class = BetaGeoDraws
    required_columns = BGNBD_COLUMNS
    #: where the expectation's hypergeometric sums were checked against quadrature: r up to 50 (for
    #: larger r the series cancel and lose every digit at long horizons), a and b up to 1e5 (from about
    #: 1e6 the series no longer converge), alpha from 1e-6 (time-unit scale; below, counts explode)
    reliable_range = {"r": (0.0, 50.0), "alpha": (1e-6, np.inf), "a": (0.0, 1e5), "b": (0.0, 1e5)}
    drift_advice = ("as a and b grow together (every customer with the same drop-out probability) or r and "
                    "alpha grow together (every customer with the same purchase rate), the BG/NBD likelihood "
                    "tends to a positive limit, so under flat priors the posterior is improper and the fit "
                    "drifts off along those directions.")

    def default_priors(self, time_unit: str, data=None) -> dict[str, Prior]:
        return {
            "r": Prior("HalfNormal", sigma=5.0),
            "alpha": Prior("HalfNormal", sigma=float(PERIODS_PER_YEAR[time_unit])),
            "a": Prior("HalfNormal", sigma=10.0),
            "b": Prior("HalfNormal", sigma=10.0),
        }

    # -- fitting --------------------------------------------------------------------------------
    def _pre_fit(self, data: pd.DataFrame) -> None:
        """Customers with T = 0 (first seen at the end of the period) carry no information about the
        purchase process: fit() leaves them out of the likelihood, counts them in
        ``fit_info_["n_excluded_t0"]`` (weighted by ``n_customers`` for distinct-row counts) and says so
        with one :class:`~clvmodels.data.ExcludedCustomersWarning`; they are scored as new customers.
        ``fit_info_["n_customers"]`` counts everybody, ``fit_info_["n_customers_fitted"]`` those in the
        likelihood. :class:`~clvmodels.errors.DataError` when nobody has T > 0 or nobody made a repeat
        purchase."""
        import warnings

        from ...data.aggregates import ExcludedCustomersWarning

        check_bgnbd_data(data, f"data given to {type(self).__name__}.fit")
        w = _row_weights(data)
        n_t0 = float(w[_t0_mask(data)].sum())
        if float(w.sum()) - n_t0 <= 0:
            raise DataError(
                "no customer has T > 0: every customer was first seen at the end of the period, so the data say "
                "nothing about purchasing or drop-out yet; the BG/NBD model needs customers with some history "
                "(use a later observation_end, or an earlier calibration_end)")
        n_repeat = float(w[data["frequency"].to_numpy(float) > 0].sum())
        if n_repeat == 0:
            raise DataError(
                f"no customer made a repeat purchase (all {_count(float(w.sum()))} are one-time buyers so far): the "
                "BG/NBD model learns how often customers buy again and when they drop out from repeat purchases, "
                "so it cannot be fitted yet; use a longer period (a later observation_end, --observation-end, or an earlier "
                "calibration_end)")
        if n_t0:
            one = n_t0 == 1
            warnings.warn(
                f"{_count(n_t0)} customer{'' if one else 's'} first seen at the end of the period (T = 0) "
                f"{'carries' if one else 'carry'} no information about purchasing and "
                f"{'is' if one else 'are'} left out of the BG/NBD likelihood (count in "
                "fit_info_['n_excluded_t0']); they are scored as new customers", ExcludedCustomersWarning,
                stacklevel=3)

    def _triplets(self, data: pd.DataFrame):
        weight = data["n_customers"].to_numpy() if "n_customers" in data.columns else None
        return bgnbd_triplets(data, weight)

    def _build_model(self, data: pd.DataFrame, priors):
        import pymc as pm

        trip = self._triplets(data[~_t0_mask(data)])  # data checked by _pre_fit
        self._n_triplets = len(trip.weight)
        with pm.Model() as model:
            rv = {p: priors[p].create(p) for p in self.param_names}
            pm.Potential("loglike", bgnbd.pt_log_likelihood(rv["r"], rv["alpha"], rv["a"], rv["b"], trip))
        return model

    def _fit_info(self, data):
        w = _row_weights(data)
        t0 = _t0_mask(data)
        return {"n_customers": _as_number(w.sum()), "n_customers_fitted": _as_number(w[~t0].sum()),
                "n_excluded_t0": _as_number(w[t0].sum()), "n_triplets": int(getattr(self, "_n_triplets", 0)),
                "total_frequency": float((data["frequency"].to_numpy(float) * w).sum())}

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
        shape, (R, A0, a, B, t) = _flat(p["r"] + xs, p["alpha"] + Ts, p["a"], p["b"] + xs, ts)
        out = np.empty(R.size)
        st = np.empty(R.size, dtype=np.int64)
        bgnbd._alive_expected_many(R, A0, a, B, t, out, st)
        bad = (~np.isfinite(out) | (st == _NO_CONVERGENCE)).reshape(shape).any(axis=1)
        if bad.any():
            return [f"the expected purchases cannot be computed at {int(bad.sum())} of {len(bad)} draws"]
        return []

    def log_likelihood(self, data: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total BG/NBD log-likelihood of ``data`` at ``params`` (default: the posterior means).
        Customers with T = 0 contribute 0 (a likelihood of 1 whatever the parameters)."""
        check_bgnbd_data(data, "data")
        p = dict(self.params_) if params is None else params
        ll = bgnbd.log_likelihood(p["r"], p["alpha"], p["a"], p["b"], data["frequency"].to_numpy(float),
                                  data["recency"].to_numpy(float), data["T"].to_numpy(float))
        w = data["n_customers"].to_numpy(float) if "n_customers" in data.columns else 1.0
        return float(np.sum(w * ll))

    # -- predictions ----------------------------------------------------------------------------
    def _prepare(self, data: pd.DataFrame):
        self._check_fitted()
        check_bgnbd_data(data, "data to predict for")
        check_data_unit(data, self.time_unit_)
        d = distinct(data["frequency"].to_numpy(float), data["recency"].to_numpy(float), data["T"].to_numpy(float))
        return d

    def _per_customer(self, data, d, mean, lower, upper, name) -> pd.DataFrame:
        out = pd.DataFrame({name: mean[d.inverse], f"{name}_lower": lower[d.inverse],
                            f"{name}_upper": upper[d.inverse]}, index=data.index)
        return out

    def _draws_array(self, data, d, fn, max_draws) -> xr.DataArray:
        params = self.draws_(max_draws)
        vals = draws_for_rows(fn, params, d.keys)[:, d.inverse]
        chains = self.posterior_.sizes["chain"]
        s = vals.shape[0]
        if max_draws is None or s == chains * self.posterior_.sizes["draw"]:
            vals = vals.reshape(chains, s // chains, -1)
        else:
            vals = vals.reshape(1, s, -1)
        cid = data.index.to_numpy()
        return xr.DataArray(vals, dims=("chain", "draw", "customer_id"),
                            coords={"chain": np.arange(vals.shape[0]), "draw": np.arange(vals.shape[1]), "customer_id": cid})

    def expected_purchases(self, data: pd.DataFrame, t, *, start=None, interval: float = 0.9,
                           draws: bool = False, max_draws: int | None = None, progress: bool = False):
        """Conditional expected number of purchases in the window (T + start, T + t] for each customer
        (FHL 2005 eq. 10; ``start`` defaults to 0, i.e. the next ``t`` periods).

        ``t`` and ``start`` say their unit ('39W'). Returns a DataFrame indexed like ``data`` with
        ``expected_purchases`` (posterior mean) and ``_lower``/``_upper`` (central credible interval
        at ``interval``); with ``draws=True`` the full draws as an xarray DataArray (chain, draw, customer_id).
        """
        t2 = self._horizon(t)
        t1 = 0.0 if start is None else self._horizon(start)
        if t1 > t2:
            raise ValueError(f"start ({start}) is after the end of the window ({t})")
        d = self._prepare(data)

        def fn(p, x, tx, T):
            if t1 == 0.0:
                return bgnbd.conditional_expected_purchases(p["r"], p["alpha"], p["a"], p["b"], x, tx, T, t2)
            return bgnbd.conditional_expected_purchases_window(p["r"], p["alpha"], p["a"], p["b"], x, tx, T, t1, t2)

        if draws:
            return self._draws_array(data, d, fn, max_draws)
        m, lo, hi = reduce_over_draws(fn, self.draws_(max_draws), d.keys, interval, progress=progress,
                                      desc="expected purchases")
        return self._per_customer(data, d, m, lo, hi, "expected_purchases")

    def p_alive(self, data: pd.DataFrame, *, interval: float = 0.9, draws: bool = False,
                max_draws: int | None = None, progress: bool = False):
        """Probability that each customer is still alive at T, with its credible interval."""
        d = self._prepare(data)

        def fn(p, x, tx, T):
            return bgnbd.p_alive(p["r"], p["alpha"], p["a"], p["b"], x, tx, T)

        if draws:
            return self._draws_array(data, d, fn, max_draws)
        m, lo, hi = reduce_over_draws(fn, self.draws_(max_draws), d.keys, interval, progress=progress, desc="P(alive)")
        return self._per_customer(data, d, m, lo, hi, "p_alive")

    def expected_purchases_new(self, t, *, interval: float = 0.9) -> pd.Series:
        """Expected purchases of a new customer in their first ``t`` periods (FHL 2005 eq. 9):
        posterior mean with its interval."""
        h = self._horizon(t)
        p = self.draws_()
        v = bgnbd.expected_purchases_new(p["r"], p["alpha"], p["a"], p["b"], h)
        lo, hi = interval_bounds(interval)
        return pd.Series({"expected_purchases": float(np.mean(v)), "lower": float(np.quantile(v, lo)),
                          "upper": float(np.quantile(v, hi))})

    def purchases_distribution(self, data: pd.DataFrame, t, *, max_count: int | None = None,
                               max_draws: int | None = None) -> pd.DataFrame:
        """Posterior predictive distribution of the number of purchases in the next ``t`` periods:
        one row per customer, one column per count 0..max_count (mass beyond it in ``tail``)."""
        h = self._horizon(t)
        d = self._prepare(data)
        pmf = predictive_count_pmf(self.draws_(max_draws), d.keys, h, max_count=max_count)
        k = pmf.shape[1]
        out = pd.DataFrame(pmf[d.inverse], index=data.index, columns=list(range(k)))
        out["tail"] = np.clip(1.0 - out[list(range(k))].sum(axis=1), 0.0, 1.0)
        return out

    def purchases_interval(self, data: pd.DataFrame, t, *, interval: float = 0.9,
                           max_draws: int | None = DEFAULT_SCORING_DRAWS, observed=None, seed: int | None = 0,
                           progress: bool = False) -> pd.DataFrame:
        """Central predictive interval of the *number* of purchases in the next ``t`` periods.

        Unlike the interval of the expected purchases, this one is meant to contain the count itself:
        it is taken from the posterior predictive distribution (parameter uncertainty and the
        randomness of purchasing both included). Counts are discrete, so the mass inside
        (``expected_coverage``) is at least ``interval``. With ``observed`` (counts aligned with
        ``data``), also returns ``pit``: a randomized probability integral transform of each count,
        uniform on (0, 1) when the model is calibrated.

        The predictive distribution is the mixture of the per-draw count distributions over (by default)
        1,000 evenly thinned posterior draws: a mixture's quantiles need far fewer draws than the tails
        of a parameter, and the pmf costs draws x customers x counts.
        """
        h = self._horizon(t)
        d = self._prepare(data)
        obs = None if observed is None else np.asarray(observed, dtype=float)
        res = predictive_count_summary(self.draws_(max_draws), d, h, interval, observed=obs, seed=seed, progress=progress)
        return pd.DataFrame(res, index=data.index)

    def predict(self, data: pd.DataFrame, t, *, interval: float = 0.9, max_draws: int | None = DEFAULT_SCORING_DRAWS,
                progress: bool = False) -> pd.DataFrame:
        """One row per customer with fixed columns: ``p_alive``, ``expected_purchases`` (next ``t``),
        each with ``_lower``/``_upper``, and ``purchases_lower``/``purchases_upper`` (the predictive
        interval of the count), all from the same ``max_draws`` evenly thinned posterior draws
        (default 1,000; None = all), in one pass over the distinct triplets (:func:`clvmodels.models.triplet_scores.predict_triplets`): the
        same numbers as :meth:`p_alive`, :meth:`expected_purchases` and :meth:`purchases_interval`
        with those draws, at a fraction of the cost on large bases."""
        h = self._horizon(t)
        check_bgnbd_data(data, "data to predict for")
        check_data_unit(data, self.time_unit_)
        arr = predict_triplets(self.scorer(max_draws), data["frequency"].to_numpy(float),
                               data["recency"].to_numpy(float), data["T"].to_numpy(float), h=h, interval=interval,
                               progress=progress)
        require_finite(arr, "prediction")
        cols = ["p_alive", "p_alive_lower", "p_alive_upper", "expected_purchases", "expected_purchases_lower",
                "expected_purchases_upper", "purchases_lower", "purchases_upper"]
        return pd.DataFrame({c: arr[c] for c in cols}, index=data.index)


def _row_weights(data: pd.DataFrame) -> np.ndarray:
    """Customers per row: the ``n_customers`` column of distinct-row counts, else 1 per row."""
    if "n_customers" in data.columns:
        return data["n_customers"].to_numpy(float)
    return np.ones(len(data))


def _as_number(v: float):
    return int(v) if float(v).is_integer() else float(v)


def _count(n: float) -> str:
    return f"{int(n)}" if float(n).is_integer() else f"{n:g}"


def bgnbd_triplets(data: pd.DataFrame, weight=None):
    """Distinct (frequency, recency, T) triplets of a summary, with customer counts as weights."""
    from ..triplets import compress

    return compress(data["frequency"].to_numpy(float), data["recency"].to_numpy(float),
                    data["T"].to_numpy(float), weight=weight)


# -- predictive distribution of counts (mixture over posterior draws) --------------------------------
def _count_pmf_block(p, x, tx, T, t, max_count):
    return bgnbd.conditional_purchases_pmf(p["r"], p["alpha"], p["a"], p["b"], x, tx, T, t, max_count)


def _max_count_for(p, x, tx, T, t, tail: float = 1e-10) -> int:
    """A count K with predictive mass above K below ``tail`` for every row and draw (a rigorous
    Chernoff bound, :func:`bgnbd.purchases_count_upper_bound`)."""
    if np.size(x) == 0:
        return 0
    ub = bgnbd.purchases_count_upper_bound(p["r"], p["alpha"], p["a"], p["b"], x, tx, T, t, tail=tail)
    return int(np.max(ub))


def predictive_count_pmf(params, keys, t, max_count=None, budget_bytes=DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Mixture over draws of P(Y(t) = k | x, t_x, T) per distinct row, k = 0..K (rows x (K+1))."""
    p2 = {k: np.asarray(v, float)[:, None] for k, v in params.items()}
    x, tx, T = keys
    K = max_count if max_count is not None else _max_count_for(p2, x, tx, T, t)
    s = len(next(iter(p2.values())))
    out = np.empty((len(x), K + 1))
    step = chunk_rows(s, K + 1, budget_bytes)
    for start in range(0, len(x), step):
        sl = slice(start, start + step)
        out[sl] = _count_pmf_block(p2, x[sl], tx[sl], T[sl], t, K).mean(axis=0)
    return out


def predictive_count_summary(params, d, t, interval, observed=None, seed=0, progress=False,
                             budget_bytes=DEFAULT_CHUNK_BYTES) -> dict[str, np.ndarray]:
    """Per customer: predictive interval bounds of the count, the mass inside them, the predictive mean
    and, when ``observed`` is given, the randomized PIT of the observed count."""
    lo_q, hi_q = interval_bounds(interval)
    p2 = {k: np.asarray(v, float)[:, None] for k, v in params.items()}
    x, tx, T = d.keys
    n = len(x)
    lower = np.empty(n)
    upper = np.empty(n)
    inside = np.empty(n)
    mean = np.empty(n)
    s = len(next(iter(p2.values())))
    # rows are processed in chunks of similar expected counts so K stays small for most chunks
    order = np.argsort(x + tx / (T + 1.0), kind="stable")
    base_step = chunk_rows(s, 64, budget_bytes)
    cdf_rows = {}
    starts = range(0, n, base_step)
    for start in _progress(starts, progress, "predictive intervals", total=len(starts)):
        idx = order[start:start + base_step]
        K = _max_count_for(p2, x[idx], tx[idx], T[idx], t)
        step = chunk_rows(s, K + 1, budget_bytes)
        for s0 in range(0, len(idx), step):
            sub = idx[s0:s0 + step]
            pmf = _count_pmf_block(p2, x[sub], tx[sub], T[sub], t, K).mean(axis=0)
            cdf = np.cumsum(pmf, axis=1)
            # smallest k with CDF >= q (lower) and smallest k with CDF >= 1 - tail (upper)
            lower[sub] = np.argmax(cdf >= lo_q - 1e-12, axis=1)
            upper[sub] = np.argmax(cdf >= hi_q - 1e-12, axis=1)
            ks = np.arange(K + 1)
            mask = (ks[None, :] >= lower[sub, None]) & (ks[None, :] <= upper[sub, None])
            inside[sub] = (pmf * mask).sum(axis=1)
            mean[sub] = (pmf * ks[None, :]).sum(axis=1)
            if observed is not None:
                cdf_rows.update({int(i): (c, p) for i, c, p in zip(sub, cdf, pmf)})
    res = {"purchases_lower": lower[d.inverse], "purchases_upper": upper[d.inverse],
           "expected_coverage": inside[d.inverse], "purchases_mean": mean[d.inverse]}
    if observed is not None:
        rng = np.random.default_rng(seed)
        y = observed.astype(np.int64)
        pit = np.empty(len(y))
        for c, row in enumerate(d.inverse):
            cdf, pmf = cdf_rows[int(row)]
            k = y[c]
            f_hi = cdf[k] if k < len(cdf) else 1.0
            f_lo = cdf[k - 1] if 0 < k <= len(cdf) else (0.0 if k == 0 else 1.0)
            pit[c] = f_lo + rng.uniform() * (f_hi - f_lo)
        res["pit"] = pit
    return res
