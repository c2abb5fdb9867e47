"""GammaGammaModel: the Bayesian Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV";
Fader & Hardie, "The Gamma-Gamma model of monetary value") fitted with PyMC.

The mathematics lives in :mod:`clvmodels.models.gamma_gamma`. Only customers with at least one repeat
purchase carry information about spend (``monetary_value`` is the mean of the *repeat* purchases), so
fit() uses those and records how many customers it left out and why.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import FitError, InputError, ProblemCollector
from ..predict import distinct, draws_for_rows, interval_bounds, reduce_over_draws
from . import gamma_gamma
from .base import BayesianModel
from .priors import Prior

#: |corr(frequency, monetary_value)| above which the independence assumption is flagged
CORRELATION_WARNING = 0.3


class SpendCorrelationWarning(UserWarning):
    """Spend per transaction is correlated with purchase frequency (the model assumes independence)."""


def check_spend_data(data: pd.DataFrame, what: str) -> None:
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
    nonpos = (f > 0) & (m <= 0)
    if nonpos.any():
        problems.add("monetary_value", "customers with repeat purchases must have a positive mean spend "
                     "(the Gamma-Gamma model needs positive amounts)", data.loc[nonpos, cols], int(nonpos.sum()))
    problems.raise_if_any()


def _weights(data: pd.DataFrame) -> np.ndarray:
    """Customers per row: the ``n_customers`` column of distinct-row counts, else 1 per row."""
    if "n_customers" in data.columns:
        return data["n_customers"].to_numpy(float)
    return np.ones(len(data))


def spend_frequency_correlation(data: pd.DataFrame) -> float:
    """Pearson correlation of frequency and monetary_value over customers with repeat purchases
    (weighted by ``n_customers`` when the rows are distinct-row counts)."""
    rep = data[data["frequency"] > 0]
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
    customer is p v / (q - 1) (currency units).

    Default priors: ``p ~ HalfNormal(20)``, ``q ~ HalfNormal(20)``, ``v ~ HalfNormal(sigma = 20 x the mean
    of monetary_value)``. v is in currency units, so its prior scale follows the data's currency instead
    of a number that would suit dollars but not yen. The likelihood is a long ridge along which only
    about p*v/(q-1) is well determined: priors that are too tight move the estimates along the ridge
    (pymc-marketing's defaults put CDNOW's MLE outside their 94% interval), so these are wide.
    """

    param_names = ("p", "q", "v")
    required_columns = ("frequency", "monetary_value")
    #: fit() takes distinct (frequency, monetary_value) rows with an ``n_customers`` column of counts
    accepts_counts = True

    def default_priors(self, time_unit: str, data: pd.DataFrame | None = None) -> dict[str, Prior]:
        scale = 1.0
        if data is not None and "monetary_value" in data:
            rep = data[data["frequency"] > 0]
            w = _weights(rep)
            if w.sum() > 0:
                mean = float(np.average(rep["monetary_value"].to_numpy(float), weights=w))
                if np.isfinite(mean) and mean > 0:
                    scale = mean
        return {"p": Prior("HalfNormal", sigma=20.0), "q": Prior("HalfNormal", sigma=20.0),
                "v": Prior("HalfNormal", sigma=20.0 * scale)}

    def fit(self, data: pd.DataFrame, *, time_unit: str | None = None):
        check_spend_data(data, f"data given to {type(self).__name__}.fit")
        rep = data[data["frequency"] > 0]
        n_rep = int(_weights(rep).sum())
        if n_rep < 2:
            raise FitError(f"the Gamma-Gamma model needs customers with repeat purchases; this summary has {n_rep}")
        corr = spend_frequency_correlation(data)
        self.spend_frequency_correlation_ = corr
        if np.isfinite(corr) and abs(corr) > CORRELATION_WARNING:
            warnings.warn(
                f"frequency and monetary_value are correlated (r = {corr:.2f}) among the {n_rep} repeat "
                "customers; the Gamma-Gamma model assumes spend per transaction is independent of purchase "
                "frequency, so expected spend (and CLV) may be biased", SpendCorrelationWarning, stacklevel=2)
        if time_unit is None and "clvmodels" not in getattr(data, "attrs", {}):
            time_unit = "W"  # spend has no time dimension; the unit only labels the model
        super().fit(data, time_unit=time_unit)
        n_excl = int(_weights(data[data["frequency"] == 0]).sum())
        self.fit_info_.update({"n_customers": n_rep + n_excl, "n_customers_fitted": n_rep, "n_excluded_no_repeat": n_excl,
                               "spend_frequency_correlation": corr})
        q = np.asarray(self.posterior_["q"]).ravel()
        if (q <= 1).any():
            warnings.warn(f"{(q <= 1).mean():.1%} of the posterior draws have q <= 1, where mean spend is "
                          "infinite; expected spend for those draws is undefined", RuntimeWarning, stacklevel=2)
        return self

    def _build_model(self, data: pd.DataFrame, priors):
        import pymc as pm

        rep = data[data["frequency"] > 0]
        d = distinct(rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float))
        # customers per distinct (frequency, monetary_value): counted here, or summed from given counts
        weight = np.bincount(d.inverse, weights=_weights(rep), minlength=len(d))
        with pm.Model() as model:
            rv = {p: priors[p].create(p) for p in self.param_names}
            pm.Potential("loglike", gamma_gamma.pt_log_likelihood(rv["p"], rv["q"], rv["v"], d.keys[0], d.keys[1],
                                                                  weight=weight))
        return model

    def log_likelihood(self, data: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of the repeat customers' mean spend at ``params`` (default: posterior means)."""
        p = dict(self.params_) if params is None else params
        rep = data[data["frequency"] > 0]
        return float(np.sum(_weights(rep) * gamma_gamma.log_likelihood(
            p["p"], p["q"], p["v"], rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float))))

    def expected_spend(self, data: pd.DataFrame, *, interval: float = 0.9, draws: bool = False,
                       max_draws: int | None = None):
        """Conditional expected spend per transaction of each customer (currency units): a weighted mean
        of the population mean p v/(q-1) and the customer's own mean repeat spend. Customers without
        repeat purchases get the population mean. Posterior mean with credible interval, or the draws."""
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
