"""GammaGammaModel: the Bayesian Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV";
Fader & Hardie, "The Gamma-Gamma model of monetary value") fitted with PyMC.

The mathematics lives in :mod:`clvmodels.models.gamma_gamma.math`. Only customers with at least one
repeat purchase carry information about spend (``monetary_value`` is the mean of the *repeat*
purchases), so fit() uses those and records how many customers it left out and why.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import DataError, FitError, InputError, ProblemCollector
from ...draws import distinct, draws_for_rows, interval_bounds, reduce_over_draws
from ..base import BayesianModel
from ..covariates import CovariateModel
from ..priors import Prior
from . import math as gamma_gamma
from .scoring import GammaGammaDraws

#: |corr(frequency, monetary_value)| above which the independence assumption is flagged
CORRELATION_WARNING = 0.3


class SpendCorrelationWarning(UserWarning):
    """Spend per transaction is correlated with purchase frequency (the model assumes independence)."""


def check_spend_data(data: pd.DataFrame, what: str, *, first_purchase: bool = False) -> None:
    """Every problem with (frequency, monetary_value) at once: missing or non-numeric values, and a
    negative mean spend for a customer with repeat purchases. A mean spend of 0 (every repeat purchase
    worth 0: free items, vouchers) is valid data: fit() leaves it out of the likelihood, predictions
    score it (see :meth:`GammaGammaModel.expected_spend`). ``first_purchase``: also the column
    ``first_purchase_value`` (finite, and a mean over all occasions of 0 or more)."""
    problems = ProblemCollector(what=what)
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    cols = ["frequency", "monetary_value"] + (["first_purchase_value"] if first_purchase else [])
    for c in cols:
        if c not in data.columns:
            problems.add(c, "required column is missing (build the summary with clvmodels.summarize)"
                         + (", which gives it; the spend model's first_purchase option needs the first purchase's "
                            "value" if c == "first_purchase_value" else ""))
    problems.raise_if_any()
    f = pd.to_numeric(data["frequency"], errors="coerce").to_numpy(float)
    m = pd.to_numeric(data["monetary_value"], errors="coerce").to_numpy(float)
    values = [("frequency", f), ("monetary_value", m)]
    if first_purchase:
        values.append(("first_purchase_value", pd.to_numeric(data["first_purchase_value"],
                                                              errors="coerce").to_numpy(float)))
    for c, v in values:
        bad = ~np.isfinite(v)
        if bad.any():
            problems.add(c, "missing or non-numeric values", data.loc[bad, cols], int(bad.sum()))
    neg = (f > 0) & (m < 0)
    if neg.any():
        problems.add("monetary_value", "customers with repeat purchases must have a mean spend of 0 or more "
                     "(the Gamma-Gamma model needs non-negative amounts; net returns into purchases or drop them)",
                     data.loc[neg, cols], int(neg.sum()))
    if first_purchase:
        with np.errstate(invalid="ignore"):
            mean_all = (values[2][1] + f * m) / (f + 1.0)
        neg_all = mean_all < 0
        if neg_all.any():
            problems.add("first_purchase_value", "the mean over all purchase occasions, (first_purchase_value + "
                         "frequency * monetary_value) / (frequency + 1), must be 0 or more (first_purchase=True)",
                         data.loc[neg_all, cols], int(neg_all.sum()))
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


def spend_statistics(data: pd.DataFrame, first_purchase: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(n, zbar) per customer: the number of transactions the spend model averages and their mean
    (currency units). ``first_purchase=False`` (the Gamma-Gamma convention): the x repeat purchases
    (n = frequency, zbar = monetary_value, 0 when x = 0). True: all x + 1 purchase occasions
    (n = frequency + 1, zbar = (first_purchase_value + x monetary_value) / (x + 1))."""
    x = data["frequency"].to_numpy(float)
    m = data["monetary_value"].to_numpy(float)
    if not first_purchase:
        return x, np.where(x > 0, m, 0.0)
    first = data["first_purchase_value"].to_numpy(float)
    return x + 1.0, (first + x * m) / (x + 1.0)


def _correlation(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    if w.sum() < 3:
        return float("nan")
    ac = a - np.average(a, weights=w)
    bc = b - np.average(b, weights=w)
    den = np.sqrt(np.sum(w * ac ** 2) * np.sum(w * bc ** 2))
    return float(np.sum(w * ac * bc) / den) if den > 0 else float("nan")


class _class_or_instance_method:
    """A method bound to the instance when called on one, else to the class (``check_data`` is a class
    method for every model, and reads the instance's ``first_purchase`` when there is one)."""

    def __init__(self, f):
        self.f = f

    def __get__(self, obj, cls):
        return functools.partial(self.f, cls if obj is None else obj)


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


class GammaGammaModel(CovariateModel, BayesianModel):
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

    Which purchases: ``first_purchase=False`` (default, the convention of Fader, Hardie & Lee 2005)
    averages the x repeat purchases (n = frequency, zbar = monetary_value), so every one-time buyer gets
    the population mean p v/(q - 1). ``first_purchase=True`` (CLVTools' ``remove.first.transaction =
    FALSE``) averages all x + 1 purchase occasions (n = frequency + 1, zbar their mean, from the summary's
    ``first_purchase_value``): one-time buyers get their own conditional expectation
    p (v + zbar)/(p + q - 1) (a $500 first order and a $5 one no longer look the same), and every
    customer has one more transaction in her mean. Same likelihood over the (n, zbar) rows. The choice
    is in ``get_params()``, the model file and ``fit_info_["first_purchase"]``.

    Default priors: ``p ~ HalfNormal(20)``, ``q ~ HalfNormal(20)``, ``v ~ HalfNormal(sigma = 20 x the mean
    of zbar over the fitted customers)``. v is in currency units, so its prior scale follows the data's currency instead
    of a number that would suit dollars but not yen. The likelihood is a long ridge along which only
    about p*v/(q-1) is well determined: priors that are too tight move the estimates along the ridge
    (pymc-marketing's defaults put CDNOW's MLE outside their 94% interval), so these are wide.

    Covariates (:mod:`clvmodels.models.covariates`): ``spend_covariates`` (columns of the summary) scale v,
    v_i = v exp(gamma_spend . z_i); ``group`` (a column: country, store) pools the scale by group, v_g = v
    exp(effect_g), effect_g = group_sd_v x offset_g, offset_g ~ Normal(0, 1), group_sd_v ~ HalfNormal(1)
    (the effects ``group_effect_v[country=XX]`` in the posterior after the fit, with their R-hat and ESS):
    a small group's scale is pulled toward the population's. The base v is then the reference customer's
    (numeric covariates at their mean, categorical ones at their reference level, the population's group).
    """

    param_names = ("p", "q", "v")
    #: the class default of the option (an instance's own value is set by the constructor)
    first_purchase = False
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
    #: the fit restricts q > 1 (its prior truncated there, :func:`_q_variable`): what a prior predictive
    #: draws from too
    prior_bounds = {"q": (1.0, np.inf)}
    drift_advice = ("as p grows with p v fixed (every customer's purchases all worth exactly her own mean) or "
                    "as q and v grow together (every customer with the same mean spend), the Gamma-Gamma "
                    "likelihood tends to a positive limit, so under flat priors the posterior is improper and "
                    "the fit drifts off along those directions.")

    #: spend covariates: the scale v_i = v exp(gamma_spend . z_i) (a positive coefficient: a lower spend
    #: rate nu_i ~ Gamma(q, rate v_i), so a higher mean spend p v_i/(q - 1), by the factor exp(gamma));
    #: pooled groups (group=): v_g = v exp(effect_g), effect_g ~ Normal(0, group_sd_v), as the purchase models'
    covariate_links = {"spend": (("v", 1.0),), "group": (("v", 1.0),)}

    def __init__(self, priors=None, *, first_purchase: bool = False, spend_covariates=None, group=None, **config):
        if not isinstance(first_purchase, (bool, np.bool_)):
            raise ValueError(f"first_purchase must be True or False, got {first_purchase!r}")
        self.first_purchase = bool(first_purchase)
        self.spend_covariates = spend_covariates
        self.group = group
        super().__init__(priors, **config)
        self._covariate_roles()  # validate early

    def _covariate_roles(self) -> dict[str, list[str]]:
        return self._check_roles({"spend": self.spend_covariates})

    def _covariate_fit_mask(self, data: pd.DataFrame) -> np.ndarray:
        return self._rows(data)[0]  # repeat customers with a positive mean spend

    def _pre_fit(self, data: pd.DataFrame) -> None:
        self._setup_design(data, f"data given to {type(self).__name__}.fit", _weights(data))

    def get_params(self):
        return {**super().get_params(), "first_purchase": self.first_purchase, **self._covariate_params()}

    @property
    def scorer_class(self):
        """The scorer factory (``from_mapping``) for this configuration: :class:`GammaGammaDraws` with
        ``first_purchase``."""
        return _Scorers(self.first_purchase)

    @_class_or_instance_method
    def check_data(self_or_cls, data: pd.DataFrame, what: str) -> None:
        check_spend_data(data, what, first_purchase=self_or_cls.first_purchase)

    def spend_statistics(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(n, zbar) per customer of ``data``, as this model averages them (see :func:`spend_statistics`)."""
        return spend_statistics(data, self.first_purchase)

    def spend_values(self, data: pd.DataFrame) -> np.ndarray:
        """The per-customer spend statistic its scorer takes as ``mv`` (``spend(x, mv)``): the mean of the
        transactions the model averages (repeat purchases, or all occasions with ``first_purchase``)."""
        return self.spend_statistics(data)[1]

    def _rows(self, data: pd.DataFrame):
        """Masks of the customers the likelihood uses (n > 0 and zbar > 0) and of those with
        transactions all worth 0 (n > 0, zbar = 0: left out of it, still scored)."""
        n, z = self.spend_statistics(data)
        return (n > 0) & (z > 0), (n > 0) & ~(z > 0)

    def _spend_correlation(self, data: pd.DataFrame) -> float:
        """Correlation of the number of purchases and the mean spend over the fitted customers (with
        ``first_purchase=False``: :func:`spend_frequency_correlation`)."""
        if not self.first_purchase:
            return spend_frequency_correlation(data)
        n, z = self.spend_statistics(data)
        fit = self._rows(data)[0]
        return _correlation(n[fit], z[fit], _weights(data)[fit])

    def default_priors(self, time_unit: str, data: pd.DataFrame | None = None) -> dict[str, Prior]:
        scale = 1.0
        if data is not None and "monetary_value" in data:
            fit = self._rows(data)[0]
            w = _weights(data)[fit]
            if w.sum() > 0:
                mean = float(np.average(self.spend_statistics(data)[1][fit], weights=w))
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

        self.check_data(data, f"data given to {type(self).__name__}.fit")
        fitted, zero = self._rows(data)
        w = _weights(data)
        n_fit = float(w[fitted].sum())
        n_zero = float(w[zero].sum())
        n_excl = 0.0 if self.first_purchase else float(w[data["frequency"].to_numpy(float) == 0].sum())
        if n_fit < 2:
            raise DataError(("at least 2 customers with a positive mean spend are needed to fit the Gamma-Gamma model"
                             if self.first_purchase else "at least 2 customers with repeat purchases and positive "
                             "spend are needed to fit the Gamma-Gamma model") + f"; this summary has {_count(n_fit)}")
        if n_zero and self.first_purchase:
            warnings.warn(
                f"{_count(n_zero)} customer{'' if n_zero == 1 else 's'} bought for 0 on every occasion (free items, "
                "vouchers) and are left out of the Gamma-Gamma likelihood, which needs positive amounts (count in "
                "fit_info_['n_excluded_zero_spend']); they are still scored, with the expected spend at a mean "
                "spend of 0", ExcludedCustomersWarning, stacklevel=2)
        elif n_zero:
            one = n_zero == 1
            warnings.warn(
                f"{_count(n_zero)} customer{'' if one else 's'} with repeat purchases {'has' if one else 'have'} a "
                "mean repeat spend of 0 (every repeat purchase worth 0: free items, vouchers) and "
                f"{'is' if one else 'are'} left out of the Gamma-Gamma likelihood, which needs positive amounts "
                "(count in fit_info_['n_excluded_zero_spend']); they are still scored, with the expected spend "
                "at a mean spend of 0", ExcludedCustomersWarning, stacklevel=2)
        corr = self._spend_correlation(data)
        self.spend_frequency_correlation_ = corr
        if np.isfinite(corr) and abs(corr) > CORRELATION_WARNING and not self.frequency_effect:
            warnings.warn(
                f"frequency and monetary_value are correlated (r = {corr:.2f}) among the {_count(n_fit)} "
                f"{'' if self.first_purchase else 'repeat '}customers; the Gamma-Gamma model assumes spend per "
                "transaction is independent of purchase frequency, so expected spend (and CLV) may be biased. "
                "GammaGammaFrequencyModel (clv forecast --spend-model gamma_gamma_frequency) lets the spend "
                "scale depend on the number of purchases; compare the two on a holdout (clv validate)",
                SpendCorrelationWarning, stacklevel=2)
        if time_unit is None and "clvmodels" not in getattr(data, "attrs", {}):
            time_unit = "W"  # spend has no time dimension; the unit only labels the model
        super().fit(data, time_unit=time_unit)
        self._finish_covariate_fit()
        self.fit_info_.update({"n_customers": _as_number(w.sum()), "n_customers_fitted": _as_number(n_fit),
                               "n_excluded_no_repeat": _as_number(n_excl),
                               "n_excluded_zero_spend": _as_number(n_zero), "spend_frequency_correlation": corr,
                               "first_purchase": self.first_purchase, "frequency_effect": self.frequency_effect})
        return self

    #: whether the scale depends on the number of purchases (:class:`GammaGammaFrequencyModel`)
    frequency_effect = False

    @property
    def description(self) -> str:
        """Which spend model, on which purchases, in words (the report and the forecast's metadata)."""
        what = ("Gamma-Gamma with a frequency effect (scale v (frequency + 1)^gamma)" if self.frequency_effect
                else "Gamma-Gamma")
        if self.first_purchase:
            return (f"{what}, fitted on all purchase occasions, the first included (first_purchase=True): every "
                    "customer, one-time buyers too, has an expected spend of her own")
        return (f"{what}, fitted on the repeat purchases (the first purchase left out, first_purchase=False): "
                "customers without a repeat purchase get the population's expected spend"
                + (" at one purchase occasion" if self.frequency_effect else ""))

    def _distinct_rows(self, data: pd.DataFrame):
        """Distinct (n, zbar) of the likelihood's customers and the customers sharing each."""
        fit = self._rows(data)[0]
        n, z = self.spend_statistics(data)
        d = distinct(n[fit], z[fit])
        return d, np.bincount(d.inverse, weights=_weights(data)[fit], minlength=len(d))

    def _build_model(self, data: pd.DataFrame, priors):
        import pymc as pm

        if self.has_covariates:
            return self._build_cell_model(data, priors)
        # customers per distinct (n, zbar): counted here, or summed from given counts
        d, weight = self._distinct_rows(data)
        with pm.Model() as model:
            rv = self._spend_variables(model, priors)
            pm.Potential("loglike", self._cell_loglike(rv, self._likelihood_rows(d.keys[0], d.keys[1], weight)))
        return model

    def _spend_variables(self, model, priors) -> dict:
        """Inside ``model``: the PyMC variables of the base parameters (q restricted to q > 1,
        :func:`_q_variable`)."""
        rv = {p: priors[p].create(p) for p in ("p", "v")}
        rv["q"], lo, hi = _q_variable(priors["q"])
        if not np.isfinite(model.initial_point()[model.rvs_to_values[rv["q"]].name]):
            model.set_initval(rv["q"], lo + 1.0 if hi is None else 0.5 * (lo + hi))
        return rv

    def _likelihood_rows(self, n, zbar, weight) -> tuple:
        """The arrays :meth:`_cell_loglike` takes for distinct (n, zbar) rows and their customer counts."""
        return n, zbar, weight

    def _cell_loglike(self, params, rows):
        """The fused likelihood node of ``rows`` (:meth:`_likelihood_rows`) at ``params`` (PyTensor scalars
        of the base parameters): one node whose data are shared variables, as
        :func:`~clvmodels.models.covariates.cell_likelihood_graph` reads them."""
        return gamma_gamma.pt_log_likelihood(params["p"], params["q"], params["v"], rows[0], rows[1], weight=rows[2])

    def _build_cell_model(self, data: pd.DataFrame, priors):
        """With spend covariates or a group: the likelihood over cells (customers with the same covariate
        row), each cell's distinct (n, zbar) rows through the model's fused Op at the cell's scale
        v exp(gamma_spend . z_cell + effect_group) (:func:`clvmodels.models.covariates.cell_likelihood_graph`;
        the coefficients and pooled effects: :meth:`CovariateModel._coefficient_variables`)."""
        import pymc as pm

        from ..covariates import cell_likelihood_graph

        fit = self._rows(data)[0]
        n, z = self.spend_statistics(data)
        w = _weights(data)
        cell_of, zc = self.covariates_.cells(data[fit])
        cells = []
        for c in range(int(cell_of.max()) + 1):
            sel = cell_of == c
            d = distinct(n[fit][sel], z[fit][sel])
            cells.append((c, self._likelihood_rows(d.keys[0], d.keys[1],
                                                   np.bincount(d.inverse, weights=w[fit][sel], minlength=len(d)))))
        self._n_cells = len(cells)
        with pm.Model() as model:
            rv = self._spend_variables(model, priors)
            coef = self._coefficient_variables(priors)
            pm.Potential("loglike", cell_likelihood_graph(self._cell_loglike, cells, rv, coef, self._links, zc))
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
        sc = self.scorer_class.from_mapping(draws)
        x = data["frequency"].to_numpy(float)
        m = self.spend_values(data)
        xs = np.array([0.0, x.max(), x.max(), 1.0])
        ms = np.array([0.0 if not self.first_purchase else m.max(), m.max(), 0.0, m.max()])
        with np.errstate(all="ignore"):
            e = sc.expected_spend(xs, ms)
        bad = ~np.isfinite(e).all(axis=1)
        if bad.any():
            return [f"the expected spend is not finite at {int(bad.sum())} of {len(bad)} draws"]
        return []

    def log_likelihood(self, data: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of the repeat customers' mean spend at ``params`` (default: posterior
        means), over the customers fit() uses (repeat purchases with a positive mean spend)."""
        p = dict(self.params_) if params is None else params
        fit = self._rows(data)[0]
        n, z = self.spend_statistics(data)
        v = p["v"] * (data["frequency"].to_numpy(float)[fit] + 1.0) ** p.get("gamma", 0.0)
        if self.has_covariates:  # each customer's own scale v exp(gamma_spend . (z - mean) + effect_group)
            self.covariates_.check(data, "data")
            for ln in self._links:
                zz = self.covariates_.matrix(data[fit], ln.role) * self.covariates_.scales(ln.role)
                v = v * np.exp(ln.sign * (zz @ np.array([p[k] for k in ln.names], float)))
        return float(np.sum(_weights(data)[fit] * gamma_gamma.log_likelihood(p["p"], p["q"], v, n[fit], z[fit])))

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
        self.check_data(data, "data to predict for")
        if self.has_covariates:
            return self._by_cells("expected_spend", data, interval=interval, draws=draws, max_draws=max_draws)
        x = data["frequency"].to_numpy(float)
        m = self.spend_values(data)
        d = distinct(x, m)
        factory = self.scorer_class

        def fn(p, xx, mm):
            return factory.from_mapping({k: v[:, 0] for k, v in p.items()}).expected_spend(xx, mm)

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
        # a new customer has made one purchase (x = 0): the scale v (0 + 1)^gamma = v
        v = gamma_gamma.expected_spend_new(p["p"], p["q"], p["v"])
        lo, hi = interval_bounds(interval)
        return pd.Series({"expected_spend": float(np.mean(v)), "lower": float(np.quantile(v, lo)),
                          "upper": float(np.quantile(v, hi))})


@dataclass(frozen=True)
class _Scorers:
    """``from_mapping`` of :class:`GammaGammaDraws` with a model's configuration (what ``scorer_class``
    is for the other models: the forecast layer calls ``model.scorer_class.from_mapping(draws)``)."""

    first_purchase: bool = False

    def from_mapping(self, params) -> GammaGammaDraws:
        return GammaGammaDraws.from_mapping(params, first_purchase=self.first_purchase)


class GammaGammaFrequencyModel(GammaGammaModel):
    """The Gamma-Gamma spend model with a scale that depends on purchase frequency (chosen explicitly:
    ``clv forecast --spend-model gamma_gamma_frequency``).

    Customer i's spend rate is nu_i ~ Gamma(q, rate v_i) with v_i = v (x_i + 1)^gamma = v exp(gamma
    log(x_i + 1)), x_i + 1 her purchase occasions in the calibration period (so z_i = log(x_i + 1) is a
    time-invariant covariate, entering the gamma scale as in Fader & Hardie (2007), "Incorporating
    time-invariant covariates into the Pareto/NBD and BG/NBD models"). Her mean spend per transaction
    is then p v_i/(q - 1) = p v (x_i + 1)^gamma/(q - 1): gamma is the elasticity of the expected spend per
    transaction with respect to the number of purchase occasions (gamma > 0: frequent buyers spend more
    per transaction), and v the scale of a one-time buyer (z = 0), so no centring constant from the fitted
    data is needed to score. gamma = 0 is the plain :class:`GammaGammaModel`. Everything else (the
    ``first_purchase`` option, the conditional expectation p (v_i + n zbar)/(p n + q - 1), exclusions,
    the q > 1 constraint) is as there. Cost: the fused likelihood adds one exp per distinct frequency.

    Default prior on gamma: Normal(0, 1) (an elasticity of +-2 is already extreme); ``priors="flat"``
    makes it flat on the real line.

    Covariates and groups as in :class:`GammaGammaModel` (``spend_covariates=``, ``group=``): v_i = v
    (x_i + 1)^gamma exp(gamma_spend . z_i + effect_g), fitted through the likelihood over cells (each cell's
    rows through the frequency Op at the cell's v) and predicted per cell.
    """

    param_names = ("p", "q", "v", "gamma")
    real_params = ("gamma",)
    frequency_effect = True
    #: gamma in (-50, 50): (x + 1)^gamma over the frequencies of real data stays within float range
    reliable_range = {**GammaGammaModel.reliable_range, "gamma": (-50.0, 50.0)}

    @property
    def scorer_class(self):
        return _Scorers(self.first_purchase)

    def default_priors(self, time_unit: str, data: pd.DataFrame | None = None) -> dict[str, Prior]:
        return {**super().default_priors(time_unit, data), "gamma": Prior("Normal", mu=0.0, sigma=1.0)}

    def _spend_variables(self, model, priors) -> dict:
        import pymc as pm

        rv = super()._spend_variables(model, priors)
        g = priors["gamma"]
        rv["gamma"] = pm.Flat("gamma") if g.dist == "HalfFlat" else g.create("gamma")
        return rv

    def _likelihood_rows(self, n, zbar, weight) -> tuple:
        return n, zbar, (n if self.first_purchase else n + 1.0), weight  # occasions: x + 1 either way

    def _cell_loglike(self, params, rows):
        from .likelihood import gamma_gamma_frequency_loglike

        return gamma_gamma_frequency_loglike(params["p"], params["q"], params["v"], params["gamma"], *rows)
