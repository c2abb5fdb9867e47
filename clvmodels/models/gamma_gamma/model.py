"""GammaGammaModel: the Bayesian Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV";
Fader & Hardie, "The Gamma-Gamma model of monetary value") fitted with PyMC.

The mathematics lives in :mod:`clvmodels.models.gamma_gamma.math`. Only customers with at least one
repeat purchase carry information about spend (``monetary_value`` is the mean of the *repeat*
purchases), so fit() uses those and records how many customers it left out and why.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ...errors import DataError, FitError, InputError, ProblemCollector
from ...draws import distinct, draws_for_rows, interval_bounds, reduce_over_draws
from ..base import BayesianModel
from ..priors import Prior
from . import math as gamma_gamma
from .scoring import GammaGammaDraws

#: |corr(frequency, monetary_value)| above which the independence assumption is flagged
CORRELATION_WARNING = 0.3


class SpendCorrelationWarning(UserWarning):
    """Spend per transaction is correlated with purchase frequency (the model assumes independence)."""


def check_spend_data(data: pd.DataFrame, what: str) -> None:
    """Every problem with (frequency, monetary_value) at once: missing or non-numeric values, and a
    negative mean spend for a customer with repeat purchases. A mean spend of 0 (every repeat purchase
    worth 0: free items, vouchers) is valid data: fit() leaves it out of the likelihood, predictions
    score it (see :meth:`GammaGammaModel.expected_spend`)."""
    problems = ProblemCollector(what=what)
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    for c in ("frequency", "monetary_value"):
        if c not in data.columns:
            problems.add(c, "required column is missing (build the summary with clvmodels.summarize)")
    problems.raise_if_any()
    cols = ["frequency", "monetary_value"]
    f = pd.to_numeric(data["frequency"], errors="coerce").to_numpy(float)
    m = pd.to_numeric(data["monetary_value"], errors="coerce").to_numpy(float)
    for c, v in (("frequency", f), ("monetary_value", m)):
        bad = ~np.isfinite(v)
        if bad.any():
            problems.add(c, "missing or non-numeric values", data.loc[bad, cols], int(bad.sum()))
    neg = (f > 0) & (m < 0)
    if neg.any():
        problems.add("monetary_value", "customers with repeat purchases must have a mean spend of 0 or more "
                     "(the Gamma-Gamma model needs non-negative amounts; net returns into purchases or drop them)",
                     data.loc[neg, cols], int(neg.sum()))
    problems.raise_if_any()


def _spend_rows(data: pd.DataFrame):
    """Masks of the customers with repeat purchases and positive mean spend (the likelihood's rows)
    and of those with repeat purchases worth 0 in all (left out of it)."""
    f = data["frequency"].to_numpy(float)
    m = data["monetary_value"].to_numpy(float)
    return (f > 0) & (m > 0), (f > 0) & ~(m > 0)


def _count(n: float) -> str:
    return f"{int(n)}" if float(n).is_integer() else f"{n:g}"


def _as_number(v: float):
    """A count for fit_info_: an int when whole (JSON-friendly), else the weighted float."""
    return int(v) if float(v).is_integer() else float(v)


def _q_variable(prior: Prior):
    """The PyMC variable of q, restricted to q > 1: the population mean spend p v/(q - 1) exists only
    there (for q <= 1 the heavy tail of 1/nu makes it infinite, and with it the spend and CLV of every
    customer without repeat purchases). The prior's density is kept above 1 (a prior truncated to
    q > 1; its normalising constant does not matter), and the sampler and the Laplace approximation
    work in log(q - 1), so no draw can reach q <= 1."""
    from pymc.distributions.transforms import Interval

    lo = max(1.0, float(prior.params.get("lower", 0.0)))
    hi = prior.params.get("upper")
    hi = None if hi is None else float(hi)
    if hi is not None and hi <= lo:
        raise ValueError(f"the prior on q ({prior!r}) puts no mass above 1, where the mean spend p v/(q - 1) "
                         "exists; give a prior with support above 1")
    return prior.create("q", default_transform=None, transform=Interval(lower=lo, upper=hi)), lo, hi


def _weights(data: pd.DataFrame) -> np.ndarray:
    """Customers per row: the ``n_customers`` column of distinct-row counts, else 1 per row."""
    if "n_customers" in data.columns:
        return data["n_customers"].to_numpy(float)
    return np.ones(len(data))


def spend_frequency_correlation(data: pd.DataFrame) -> float:
    """Pearson correlation of frequency and monetary_value over customers with repeat purchases and a
    positive mean spend (the customers the model is fitted on; weighted by ``n_customers`` when the
    rows are distinct-row counts)."""
    rep = data[_spend_rows(data)[0]]
    w = _weights(rep)
    if w.sum() < 3:
        return float("nan")
    x = rep["frequency"].to_numpy(float)
    m = rep["monetary_value"].to_numpy(float)
    xc = x - np.average(x, weights=w)
    mc = m - np.average(m, weights=w)
    den = np.sqrt(np.sum(w * xc ** 2) * np.sum(w * mc ** 2))
    return float(np.sum(w * xc * mc) / den) if den > 0 else float("nan")


class GammaGammaModel(BayesianModel):
    """Bayesian Gamma-Gamma model of spend per transaction.

    A customer's transaction values are Gamma(p, rate nu) with nu ~ Gamma(q, rate v) across customers;
    the observed mean of x repeat transactions ``zbar`` ~ Gamma(p x, rate nu x). Mean spend of a new
    customer is p v / (q - 1) (currency units). That mean exists only for q > 1, so q is restricted to
    q > 1: its prior is truncated there (the density above 1 is the prior's own) and the sampler and
    the MAP/Laplace approximation work in log(q - 1). Without it a Laplace approximation (or a
    posterior with a tail towards q = 1) gives draws where the spend of every one-time buyer, and with
    it their CLV, is infinite.

    Customers who are left out of the likelihood, and counted in ``fit_info_``: those without repeat
    purchases (``n_excluded_no_repeat``: no mean repeat spend observed) and those whose repeat
    purchases are all worth 0 (``n_excluded_zero_spend``: the model's amounts are positive, its
    likelihood is 0 at a mean of 0). Both are still scored (see :meth:`expected_spend`).

    Default priors: ``p ~ HalfNormal(20)``, ``q ~ HalfNormal(20)``, ``v ~ HalfNormal(sigma = 20 x the mean
    of monetary_value)``. v is in currency units, so its prior scale follows the data's currency instead
    of a number that would suit dollars but not yen. The likelihood is a long ridge along which only
    about p*v/(q-1) is well determined: priors that are too tight move the estimates along the ridge
    (pymc-marketing's defaults put CDNOW's MLE outside their 94% interval), so these are wide.
    """

    param_names = ("p", "q", "v")
    scorer_class = GammaGammaDraws
    #: spend has no time dimension: from_params labels the model in weeks unless told otherwise
    from_params_time_unit = "W"
    range_reasons = {"q": "the mean spend p v/(q - 1) is infinite for q <= 1"}
    #: a posterior mode with q - 1 below this lies on the boundary q -> 1 (L-BFGS in log(q - 1) stops where
    #: the gradient, the slope in q times q - 1, vanishes: q - 1 of 1e-9 or less), not at an interior optimum
    q_boundary = 1e-6
    required_columns = ("frequency", "monetary_value")
    #: p up to 1e6 (beyond, the log-likelihood's terms of size p x log(...) lose their digits);
    #: q in (1, 1e6) (q > 1 for a finite mean spend)
    reliable_range = {"p": (0.0, 1e6), "q": (1.0, 1e6), "v": (0.0, np.inf)}
    drift_advice = ("as p grows with p v fixed (every customer's purchases all worth exactly her own mean) or "
                    "as q and v grow together (every customer with the same mean spend), the Gamma-Gamma "
                    "likelihood tends to a positive limit, so under flat priors the posterior is improper and "
                    "the fit drifts off along those directions.")

    @classmethod
    def check_data(cls, data: pd.DataFrame, what: str) -> None:
        check_spend_data(data, what)

    def default_priors(self, time_unit: str, data: pd.DataFrame | None = None) -> dict[str, Prior]:
        scale = 1.0
        if data is not None and "monetary_value" in data:
            rep = data[_spend_rows(data)[0]]
            w = _weights(rep)
            if w.sum() > 0:
                mean = float(np.average(rep["monetary_value"].to_numpy(float), weights=w))
                if np.isfinite(mean) and mean > 0:
                    scale = mean
        return {"p": Prior("HalfNormal", sigma=20.0), "q": Prior("HalfNormal", sigma=20.0),
                "v": Prior("HalfNormal", sigma=20.0 * scale)}

    def fit(self, data: pd.DataFrame, *, time_unit: str | None = None):
        """Fit to the customers with repeat purchases and a positive mean spend; returns ``self``.

        ``fit_info_``: ``n_customers`` (everybody), ``n_customers_fitted``, ``n_excluded_no_repeat``,
        ``n_excluded_zero_spend`` (repeat purchases all worth 0; one :class:`ExcludedCustomersWarning`
        says how many) and ``spend_frequency_correlation``. Raises :class:`~clvmodels.errors.DataError` when fewer than 2
        customers are left to fit, or when the fit is unusable (see :meth:`check_draws`)."""
        from ...data.aggregates import ExcludedCustomersWarning

        check_spend_data(data, f"data given to {type(self).__name__}.fit")
        fitted, zero = _spend_rows(data)
        w = _weights(data)
        n_fit = float(w[fitted].sum())
        n_zero = float(w[zero].sum())
        n_excl = float(w[data["frequency"].to_numpy(float) == 0].sum())
        if n_fit < 2:
            raise DataError("at least 2 customers with repeat purchases and positive spend are needed to fit the "
                           f"Gamma-Gamma model; this summary has {_count(n_fit)}")
        if n_zero:
            one = n_zero == 1
            warnings.warn(
                f"{_count(n_zero)} customer{'' if one else 's'} with repeat purchases {'has' if one else 'have'} a "
                "mean repeat spend of 0 (every repeat purchase worth 0: free items, vouchers) and "
                f"{'is' if one else 'are'} left out of the Gamma-Gamma likelihood, which needs positive amounts "
                "(count in fit_info_['n_excluded_zero_spend']); they are still scored, with the expected spend "
                "at a mean spend of 0", ExcludedCustomersWarning, stacklevel=2)
        corr = spend_frequency_correlation(data)
        self.spend_frequency_correlation_ = corr
        if np.isfinite(corr) and abs(corr) > CORRELATION_WARNING:
            warnings.warn(
                f"frequency and monetary_value are correlated (r = {corr:.2f}) among the {_count(n_fit)} repeat "
                "customers; the Gamma-Gamma model assumes spend per transaction is independent of purchase "
                "frequency, so expected spend (and CLV) may be biased", SpendCorrelationWarning, stacklevel=2)
        if time_unit is None and "clvmodels" not in getattr(data, "attrs", {}):
            time_unit = "W"  # spend has no time dimension; the unit only labels the model
        super().fit(data, time_unit=time_unit)
        self.fit_info_.update({"n_customers": _as_number(w.sum()), "n_customers_fitted": _as_number(n_fit),
                               "n_excluded_no_repeat": _as_number(n_excl),
                               "n_excluded_zero_spend": _as_number(n_zero), "spend_frequency_correlation": corr})
        return self

    def _build_model(self, data: pd.DataFrame, priors):
        import pymc as pm

        rep = data[_spend_rows(data)[0]]
        d = distinct(rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float))
        # customers per distinct (frequency, monetary_value): counted here, or summed from given counts
        weight = np.bincount(d.inverse, weights=_weights(rep), minlength=len(d))
        with pm.Model() as model:
            rv = {p: priors[p].create(p) for p in ("p", "v")}
            rv["q"], lo, hi = _q_variable(priors["q"])
            if not np.isfinite(model.initial_point()[model.rvs_to_values[rv["q"]].name]):
                model.set_initval(rv["q"], lo + 1.0 if hi is None else 0.5 * (lo + hi))
            pm.Potential("loglike", gamma_gamma.pt_log_likelihood(rv["p"], rv["q"], rv["v"], d.keys[0], d.keys[1],
                                                                  weight=weight))
        return model

    def check_draws(self, draws, data=None, *, method: str = "nuts") -> None:
        """As :meth:`BayesianModel.check_draws`, and for method 'map' and 'mode': a posterior mode on the
        boundary q -> 1 is refused. Spend with a tail so heavy that the data's most likely q is 1 or less
        (the unconstrained maximum-likelihood q <= 1) puts the mode of q > 1 at q = 1 itself, where the
        mean spend p v/(q - 1) is infinite: no finite plug-in exists, and a Laplace approximation has no
        curvature there. NUTS still works (its draws all have q > 1 and average the spend over them)."""
        if method in ("map", "mode"):
            q_mode = float(np.asarray(draws["q"], float)[0])  # the mode (a Laplace approximation's first draw)
            if np.isfinite(q_mode) and q_mode - 1.0 < self.q_boundary:
                raise FitError(
                    f"GammaGammaModel fit (method {method!r}) is unusable: the posterior mode of q lies on the "
                    f"boundary q -> 1 (q - 1 = {q_mode - 1.0:.2g}). The spend has so heavy a right tail that its "
                    "most likely q is 1 or less, where the mean spend p v/(q - 1), and with it every customer's "
                    "expected spend, is infinite; q > 1 is always required, so there is no finite point "
                    "estimate. Fit with NUTS (method='nuts'), whose draws all have q > 1, give q an informative "
                    "prior via priors={'q': ...}, or check the amounts for outliers (e.g. orders in cents or "
                    "wholesale orders).")
        super().check_draws(draws, data, method=method)

    def _probe_predictions(self, draws, data) -> list[str]:
        """Expected spend at every draw: of a new customer, and of the fitted data's extremes (most
        repeat purchases with the largest and with a mean spend of 0)."""
        p, q, v = (np.asarray(draws[k], float)[:, None] for k in ("p", "q", "v"))
        x = data["frequency"].to_numpy(float)
        m = np.where(x > 0, data["monetary_value"].to_numpy(float), 0.0)
        xs = np.array([0.0, x.max(), x.max(), 1.0])
        ms = np.array([0.0, m.max(), 0.0, m.max()])
        with np.errstate(all="ignore"):
            e = gamma_gamma.conditional_expected_spend(p, q, v, xs, ms)
        bad = ~np.isfinite(e).all(axis=1)
        if bad.any():
            return [f"the expected spend is not finite at {int(bad.sum())} of {len(bad)} draws"]
        return []

    def log_likelihood(self, data: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of the repeat customers' mean spend at ``params`` (default: posterior
        means), over the customers fit() uses (repeat purchases with a positive mean spend)."""
        p = dict(self.params_) if params is None else params
        rep = data[_spend_rows(data)[0]]
        return float(np.sum(_weights(rep) * gamma_gamma.log_likelihood(
            p["p"], p["q"], p["v"], rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float))))

    def expected_spend(self, data: pd.DataFrame, *, interval: float = 0.9, draws: bool = False,
                       max_draws: int | None = None):
        """Conditional expected spend per transaction of each customer (currency units): a weighted mean
        of the population mean p v/(q-1) and the customer's own mean repeat spend. Customers without
        repeat purchases get the population mean. Posterior mean with credible interval, or the draws.

        Customers whose repeat purchases are all worth 0 (frequency > 0, monetary_value 0: free items,
        vouchers) are left out of the fit (under the model's positive Gamma amounts a mean of exactly 0
        has probability 0, so they cannot enter its likelihood) but scored, with the same conditional
        expectation at zbar = 0, its limit as the observed mean spend goes to 0:
        E[Z | x, zbar = 0] = p v/(p x + q - 1). It is positive (the population's spend still weighs in)
        and shrinks towards 0 as x grows (many purchases worth nothing are evidence of a low spend);
        the scoring computation and :func:`clvmodels.scoring.score` give exactly this."""
        self._check_fitted()
        check_spend_data(data, "data to predict for")
        x = data["frequency"].to_numpy(float)
        m = np.where(x > 0, data["monetary_value"].to_numpy(float), 0.0)
        d = distinct(x, m)

        def fn(p, xx, mm):
            return gamma_gamma.conditional_expected_spend(p["p"], p["q"], p["v"], xx, mm)

        if draws:
            import xarray as xr

            vals = draws_for_rows(fn, self.draws_(max_draws), d.keys)[:, d.inverse]
            return xr.DataArray(vals[None], dims=("chain", "draw", "customer_id"),
                                coords={"customer_id": data.index.to_numpy()})
        mean, lo, hi = reduce_over_draws(fn, self.draws_(max_draws), d.keys, interval)
        return pd.DataFrame({"expected_spend": mean[d.inverse], "expected_spend_lower": lo[d.inverse],
                             "expected_spend_upper": hi[d.inverse]}, index=data.index)

    def expected_spend_new(self, *, interval: float = 0.9) -> pd.Series:
        """Mean spend per transaction of a new customer, p v / (q - 1), with its interval."""
        p = self.draws_()
        v = gamma_gamma.expected_spend_new(p["p"], p["q"], p["v"])
        lo, hi = interval_bounds(interval)
        return pd.Series({"expected_spend": float(np.mean(v)), "lower": float(np.quantile(v, lo)),
                          "upper": float(np.quantile(v, hi))})
