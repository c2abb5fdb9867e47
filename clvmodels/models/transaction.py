"""What every transaction (purchase) model shares: the data checks, the fit's handling of customers
first seen at the end of the period, and the per-customer predictions, all through the model's scorer
(:mod:`clvmodels.models.protocol`).

A transaction model (BG/NBD, MBG/NBD, Pareto/NBD, ...) is a :class:`TransactionModel` that provides
only its own mathematics: ``name``, ``label``, ``param_names``, ``scorer_class`` (the scorer holds the
formulas at posterior draws), ``reliable_range``, ``drift_advice``, :meth:`default_priors` and
:meth:`_log_likelihood_graph` (its fused likelihood Op on the weighted distinct triplets). Everything a
user calls on a fitted model -- :meth:`p_alive`, :meth:`expected_purchases`, :meth:`purchases_interval`,
:meth:`predict`, :meth:`pointwise_log_likelihood` -- is written once, here.
"""
from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import DataError, InputError, ProblemCollector
from ..draws import (DEFAULT_CHUNK_BYTES, DEFAULT_SCORING_DRAWS, chunk_rows, distinct, draws_for_rows,
                       interval_bounds, reduce_over_draws, require_finite, _progress)
from .base import BayesianModel, check_data_unit
from .covariates import CovariateModel

#: the columns of a customer summary a transaction model reads (time in the summary's unit)
TRANSACTION_COLUMNS = ("frequency", "recency", "T")


def check_transaction_data(data: pd.DataFrame, what: str) -> None:
    """Every problem with (frequency, recency, T) at once: missing, negative, non-integer frequency,
    recency > T, recency > 0 with frequency 0, and repeat purchases with T = 0.

    T = 0 (a customer first seen at the observation end, or at the calibration end) is valid data with
    frequency 0 and recency 0: such a customer carries no information about the purchase process
    (her likelihood is 1 whatever the parameters, in every model here) and is scored as a new customer."""
    problems = ProblemCollector(what=what)
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    for c in TRANSACTION_COLUMNS:
        if c not in data.columns:
            problems.add(c, "required column is missing (build the summary with clvmodels.summarize)")
    problems.raise_if_any()
    if len(data) == 0:
        raise InputError(f"{what}: the summary has no customers")
    cols = list(TRANSACTION_COLUMNS)
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


def t0_mask(data: pd.DataFrame) -> np.ndarray:
    """Customers first seen at the end of the (calibration) period: T = 0 (so frequency = recency = 0)."""
    return data["T"].to_numpy(float) == 0


def row_weights(data: pd.DataFrame) -> np.ndarray:
    """Customers per row: the ``n_customers`` column of distinct-row counts, else 1 per row."""
    if "n_customers" in data.columns:
        return data["n_customers"].to_numpy(float)
    return np.ones(len(data))


def _as_number(v: float):
    return int(v) if float(v).is_integer() else float(v)


def _count(n: float) -> str:
    return f"{int(n)}" if float(n).is_integer() else f"{n:g}"


def summary_triplets(data: pd.DataFrame, weight=None):
    """Distinct (frequency, recency, T) triplets of a summary, with customer counts as weights."""
    from .triplets import compress

    return compress(data["frequency"].to_numpy(float), data["recency"].to_numpy(float),
                    data["T"].to_numpy(float), weight=weight)


class TransactionModel(CovariateModel, BayesianModel):
    """Base of the Bayesian transaction (purchase) models: a customer summary's (frequency, recency, T)
    in, P(alive), expected purchases and predictive count distributions out.

    Customers first seen at the end of the period (T = 0, so frequency = recency = 0) are valid data
    but carry no information about the purchase process: fit() leaves them out of the likelihood and
    counts them in ``fit_info_["n_excluded_t0"]`` (next to ``n_customers``, everybody, and
    ``n_customers_fitted``), with one :class:`~clvmodels.data.ExcludedCustomersWarning`. Predictions
    score them as new customers. The likelihood is evaluated once per distinct (frequency, recency, T)
    weighted by the number of customers sharing it.
    """

    #: the model's short name (``--model`` on the command line, the registry key)
    name: ClassVar[str] = ""
    #: the model's name in messages and reports ("BG/NBD")
    label: ClassVar[str] = ""
    #: the paper that defines the model (the report cites it)
    reference: ClassVar[str] = ""
    required_columns = TRANSACTION_COLUMNS
    #: per covariate role, the parameters its coefficients scale and the sign: param_i = param exp(sign
    #: gamma_role . z_i) (the form of pymc-marketing and Hardie's note 019); empty: no covariates
    covariate_links: ClassVar[dict[str, tuple[tuple[str, float], ...]]] = {}

    def __init__(self, priors=None, *, purchase_covariates=None, dropout_covariates=None, group=None, **config):
        self.purchase_covariates = purchase_covariates
        self.dropout_covariates = dropout_covariates
        self.group = group
        super().__init__(priors, **config)
        self._covariate_roles()  # validate early

    def _covariate_roles(self) -> dict[str, list[str]]:
        return self._check_roles({"purchase": self.purchase_covariates, "dropout": self.dropout_covariates})

    def get_params(self):
        return {**super().get_params(), **self._covariate_params()}

    @classmethod
    def check_data(cls, data: pd.DataFrame, what: str) -> None:
        check_transaction_data(data, what)

    # -- what a model provides --------------------------------------------------------------------
    def _log_likelihood_graph(self, params: dict[str, Any], triplets):
        """The total weighted log-likelihood of ``triplets`` (:class:`~clvmodels.models.triplets.Triplets`
        of the fitted rows, T > 0) as a PyTensor scalar of the parameters' random variables."""
        raise NotImplementedError

    # -- fitting --------------------------------------------------------------------------------
    def _pre_fit(self, data: pd.DataFrame) -> None:
        """Customers with T = 0 carry no information about the purchase process: fit() leaves them out
        of the likelihood and says so with one warning; :class:`~clvmodels.errors.DataError` when nobody
        has T > 0 or nobody made a repeat purchase. With covariates: their checks and design (of the
        fitted customers, T > 0)."""
        from ..data.aggregates import ExcludedCustomersWarning

        label = self.label or type(self).__name__
        what = f"data given to {type(self).__name__}.fit"
        check_transaction_data(data, what)
        self._setup_design(data, what, row_weights(data))
        w = row_weights(data)
        n_t0 = float(w[t0_mask(data)].sum())
        if float(w.sum()) - n_t0 <= 0:
            raise DataError(
                "no customer has T > 0: every customer was first seen at the end of the period, so the data say "
                f"nothing about purchasing or drop-out yet; the {label} model needs customers with some history "
                "(use a later observation_end, or an earlier calibration_end)")
        n_repeat = float(w[data["frequency"].to_numpy(float) > 0].sum())
        if n_repeat == 0:
            raise DataError(
                f"no customer made a repeat purchase (all {_count(float(w.sum()))} are one-time buyers so far): the "
                f"{label} model learns how often customers buy again and when they drop out from repeat purchases, "
                "so it cannot be fitted yet; use a longer period (a later observation_end, --observation-end, or an earlier "
                "calibration_end)")
        if n_t0:
            one = n_t0 == 1
            warnings.warn(
                f"{_count(n_t0)} customer{'' if one else 's'} first seen at the end of the period (T = 0) "
                f"{'carries' if one else 'carry'} no information about purchasing and "
                f"{'is' if one else 'are'} left out of the {label} likelihood (count in "
                "fit_info_['n_excluded_t0']); they are scored as new customers", ExcludedCustomersWarning,
                stacklevel=3)

    def _triplets(self, data: pd.DataFrame):
        weight = data["n_customers"].to_numpy() if "n_customers" in data.columns else None
        return summary_triplets(data, weight)

    def _build_model(self, data: pd.DataFrame, priors):
        import pymc as pm

        if self.has_covariates:
            return self._build_cell_model(data, priors)
        trip = self._triplets(data[~t0_mask(data)])  # data checked by _pre_fit
        self._n_triplets = len(trip.weight)
        with pm.Model() as model:
            rv = {p: priors[p].create(p) for p in self.param_names}
            pm.Potential("loglike", self._log_likelihood_graph(rv, trip))
        return model

    def _build_cell_model(self, data: pd.DataFrame, priors):
        """With covariates: the base parameters (the reference customer's: numeric covariates at their
        mean, categorical ones at their reference level), the coefficients on the standardised scale and
        the likelihood summed over cells, each cell's distinct triplets through the model's own fused Op
        at the cell's parameters (:func:`clvmodels.models.covariates.cell_likelihood_graph`)."""
        import pymc as pm

        from .covariates import cell_likelihood_graph

        fitted = data[~t0_mask(data)]
        cell_of, z = self.covariates_.cells(fitted)
        cells = []
        for c in range(int(cell_of.max()) + 1):
            cells.append((c, self._triplets(fitted[cell_of == c])))
        self._n_triplets = sum(len(t.weight) for _, t in cells)
        self._n_cells = len(cells)
        with pm.Model() as model:
            rv = {p: priors[p].create(p) for p in type(self).param_names}
            coef = self._coefficient_variables(priors)
            pm.Potential("loglike", cell_likelihood_graph(self._log_likelihood_graph, cells, rv, coef, self._links, z))
        return model

    def fit(self, data: pd.DataFrame, *, time_unit: str | None = None):
        """Fit the model to a customer summary; returns ``self`` (see :meth:`BayesianModel.fit`). With
        covariates, the coefficients are fitted on the standardised scale and kept (``posterior_``,
        :meth:`summary`, :meth:`coefficients`) per unit of the user's columns; ``fit_info_["covariates"]``
        holds the design (means, sds, levels, reference levels) and ``fit_info_["n_cells"]`` the cells."""
        super().fit(data, time_unit=time_unit)
        self._finish_covariate_fit()
        return self

    def _covariate_fit_mask(self, data: pd.DataFrame) -> np.ndarray:
        return ~t0_mask(data)  # customers with T = 0 are not in the likelihood

    def _fit_info(self, data):
        w = row_weights(data)
        t0 = t0_mask(data)
        return {"n_customers": _as_number(w.sum()), "n_customers_fitted": _as_number(w[~t0].sum()),
                "n_excluded_t0": _as_number(w[t0].sum()), "n_triplets": int(getattr(self, "_n_triplets", 0)),
                "total_frequency": float((data["frequency"].to_numpy(float) * w).sum())}

    def log_likelihood(self, data: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of ``data`` at ``params`` (default: the posterior means), weighted by
        ``n_customers`` when the summary has it. Customers with T = 0 contribute 0."""
        check_transaction_data(data, "data")
        if self.has_covariates:  # each cell at its parameters (params: base and coefficients, user scale)
            from .covariates import cell_params

            self.covariates_.check(data, "data")
            p = dict(self.params_) if params is None else params
            cell_of, z = self.covariates_.cells(data)
            base = {k: np.atleast_1d(np.asarray(p[k], float)) for k in type(self).param_names}
            coefs = {n: np.atleast_1d(np.asarray(p[n], float)) for ln in self._links for n in ln.names}
            total = 0.0
            for c in np.unique(cell_of):
                vals = cell_params(base, coefs, self._links, self.covariates_, {r: m[c] for r, m in z.items()})
                sc = self.scorer_class.from_mapping(vals)
                rows = data[cell_of == c]
                ll = sc.log_likelihood(rows["frequency"].to_numpy(float), rows["recency"].to_numpy(float),
                                       rows["T"].to_numpy(float))[0]
                total += float(np.sum(row_weights(rows) * ll))
            return total
        p = dict(self.params_) if params is None else params
        sc = self.scorer_class.from_mapping({k: np.atleast_1d(np.asarray(p[k], float)) for k in self.param_names})
        ll = sc.log_likelihood(data["frequency"].to_numpy(float), data["recency"].to_numpy(float),
                               data["T"].to_numpy(float))[0]
        return float(np.sum(row_weights(data) * ll))

    def pointwise_log_likelihood(self, data: pd.DataFrame, *, max_draws: int | None = None) -> xr.Dataset:
        """The log-likelihood of each distinct (frequency, recency, T) row at each posterior draw, for
        PSIS-LOO without expanding customers: ``log_likelihood`` (chain, draw, row) and ``weight`` (row),
        the customers sharing each row (``n_customers`` summed when the summary has it), with the rows'
        ``frequency``, ``recency`` and ``T`` as coordinates. Rows with T = 0 are left out (their
        likelihood is 1 whatever the parameters)."""
        self._check_fitted()
        check_transaction_data(data, "data")
        if self.has_covariates:  # rows: each cell's distinct triplets, cell after cell
            cell_of, models = self.cell_models(data, what="data")
            parts = []
            for c, m in enumerate(models):
                rows = data[cell_of == c]
                if len(rows) and not t0_mask(rows).all():
                    p = m.pointwise_log_likelihood(rows, max_draws=max_draws)
                    # each row also names its cell (coordinate ``cell``): a row is matched to its customers by it
                    parts.append(p.assign_coords(cell=("row", np.full(p.sizes["row"], c, np.int64))))
            out = xr.concat(parts, dim="row")
            return out.assign_coords(row=np.arange(out.sizes["row"]))
        keep = ~t0_mask(data)
        trip = self._triplets(data[keep])
        sc = self.scorer(max_draws)
        ll = sc.log_likelihood(trip.frequency, trip.recency, trip.T)
        chains = self.posterior_.sizes["chain"]
        s = ll.shape[0]
        if max_draws is None or s == chains * self.posterior_.sizes["draw"]:
            ll = ll.reshape(chains, s // chains, -1)
        else:
            ll = ll.reshape(1, s, -1)
        require_finite({"log_likelihood": ll.sum(axis=(0, 1))}, "pointwise log-likelihood")  # non-finite anywhere: the sum is
        row = np.arange(len(trip.weight))
        coords = {"row": row, "frequency": ("row", trip.frequency), "recency": ("row", trip.recency),
                  "T": ("row", trip.T)}
        return xr.Dataset({"log_likelihood": (("chain", "draw", "row"), ll), "weight": ("row", trip.weight)},
                          coords=coords)

    # -- predictions ----------------------------------------------------------------------------
    def _prepare(self, data: pd.DataFrame):
        self._check_fitted()
        check_transaction_data(data, "data to predict for")
        check_data_unit(data, self.time_unit_)
        return distinct(data["frequency"].to_numpy(float), data["recency"].to_numpy(float), data["T"].to_numpy(float))

    def _scorer_at(self, p):
        """The scorer of a dict of draws (as :func:`reduce_over_draws` hands them, shaped (S, 1))."""
        return self.scorer_class.from_mapping(p)

    @staticmethod
    def _per_customer(data, d, mean, lower, upper, name) -> pd.DataFrame:
        return pd.DataFrame({name: mean[d.inverse], f"{name}_lower": lower[d.inverse],
                             f"{name}_upper": upper[d.inverse]}, index=data.index)

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
        (``start`` defaults to 0, i.e. the next ``t`` periods).

        ``t`` and ``start`` say their unit ('39W'). Returns a DataFrame indexed like ``data`` with
        ``expected_purchases`` (posterior mean) and ``_lower``/``_upper`` (central credible interval
        at ``interval``); with ``draws=True`` the full draws as an xarray DataArray (chain, draw, customer_id).
        """
        t2 = self._horizon(t)
        t1 = 0.0 if start is None else self._horizon(start)
        if t1 > t2:
            raise ValueError(f"start ({start}) is after the end of the window ({t})")
        if self.has_covariates:
            self._prepare(data)
            return self._by_cells("expected_purchases", data, t, start=start, interval=interval, draws=draws,
                                  max_draws=max_draws, progress=progress)
        d = self._prepare(data)

        def fn(p, x, tx, T):
            return self._scorer_at(p).expected_purchases(x, tx, T, t2, start=t1)

        if draws:
            return self._draws_array(data, d, fn, max_draws)
        m, lo, hi = reduce_over_draws(fn, self.draws_(max_draws), d.keys, interval, progress=progress,
                                      desc="expected purchases")
        return self._per_customer(data, d, m, lo, hi, "expected_purchases")

    def p_alive(self, data: pd.DataFrame, *, interval: float = 0.9, draws: bool = False,
                max_draws: int | None = None, progress: bool = False):
        """Probability that each customer is still alive at T, with its credible interval."""
        d = self._prepare(data)
        if self.has_covariates:
            return self._by_cells("p_alive", data, interval=interval, draws=draws, max_draws=max_draws,
                                  progress=progress)

        def fn(p, x, tx, T):
            return self._scorer_at(p).p_alive(x, tx, T)

        if draws:
            return self._draws_array(data, d, fn, max_draws)
        m, lo, hi = reduce_over_draws(fn, self.draws_(max_draws), d.keys, interval, progress=progress, desc="P(alive)")
        return self._per_customer(data, d, m, lo, hi, "p_alive")

    def expected_purchases_new(self, t, *, interval: float = 0.9) -> pd.Series:
        """Expected purchases of a new customer in their first ``t`` periods: posterior mean with its
        interval."""
        h = self._horizon(t)
        v = np.asarray(self.scorer().expected_purchases_new(h), float).ravel()
        lo, hi = interval_bounds(interval)
        return pd.Series({"expected_purchases": float(np.mean(v)), "lower": float(np.quantile(v, lo)),
                          "upper": float(np.quantile(v, hi))})

    def purchases_distribution(self, data: pd.DataFrame, t, *, max_count: int | None = None,
                               max_draws: int | None = None) -> pd.DataFrame:
        """Posterior predictive distribution of the number of purchases in the next ``t`` periods:
        one row per customer, one column per count 0..max_count (mass beyond it in ``tail``)."""
        h = self._horizon(t)
        d = self._prepare(data)
        if self.has_covariates:
            return self._by_cells("purchases_distribution", data, t, max_count=max_count, max_draws=max_draws)
        pmf = predictive_count_pmf(self.scorer(max_draws), d.keys, h, max_count=max_count)
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
        ``data``), also returns the predictive CDF just below and at each count (``cdf_below``,
        ``cdf_at``: the non-randomized PIT of Czado, Gneiting & Held 2009 is uniform on
        (cdf_below, cdf_at)) and ``pit``, a randomized PIT drawn from that interval (``seed``).
        After method 'mode' (or :meth:`from_params` with single values) there is one draw: the interval
        then carries only the randomness of purchasing and drop-out at that point, no parameter
        uncertainty, and is narrower than a posterior's.

        The predictive distribution is the mixture of the per-draw count distributions over (by default)
        1,000 evenly thinned posterior draws: a mixture's quantiles need far fewer draws than the tails
        of a parameter, and the pmf costs draws x customers x counts.
        """
        h = self._horizon(t)
        d = self._prepare(data)
        if self.has_covariates:
            return self._by_cells("purchases_interval", data, t, interval=interval, max_draws=max_draws,
                                  observed=observed, seed=seed, progress=progress)
        obs = None if observed is None else np.asarray(observed, dtype=float)
        res = predictive_count_summary(self.scorer(max_draws), d, h, interval, observed=obs, seed=seed,
                                       progress=progress)
        return pd.DataFrame(res, index=data.index)

    def predict(self, data: pd.DataFrame, t, *, interval: float = 0.9, max_draws: int | None = DEFAULT_SCORING_DRAWS,
                progress: bool = False) -> pd.DataFrame:
        """One row per customer with fixed columns: ``p_alive``, ``expected_purchases`` (next ``t``),
        each with ``_lower``/``_upper``, and ``purchases_lower``/``purchases_upper`` (the predictive
        interval of the count), all from the same ``max_draws`` evenly thinned posterior draws
        (default 1,000; None = all), in one pass over the distinct triplets
        (:func:`clvmodels.models.triplet_scores.predict_triplets`): the same numbers as :meth:`p_alive`,
        :meth:`expected_purchases` and :meth:`purchases_interval` with those draws, at a fraction of the
        cost on large bases."""
        from .triplet_scores import predict_triplets

        h = self._horizon(t)
        check_transaction_data(data, "data to predict for")
        check_data_unit(data, self.time_unit_)
        if self.has_covariates:
            return self._by_cells("predict", data, t, interval=interval, max_draws=max_draws, progress=progress)
        arr = predict_triplets(self.scorer(max_draws), data["frequency"].to_numpy(float),
                               data["recency"].to_numpy(float), data["T"].to_numpy(float), h=h, interval=interval,
                               progress=progress)
        require_finite(arr, "prediction")
        cols = ["p_alive", "p_alive_lower", "p_alive_upper", "expected_purchases", "expected_purchases_lower",
                "expected_purchases_upper", "purchases_lower", "purchases_upper"]
        return pd.DataFrame({c: arr[c] for c in cols}, index=data.index)


# -- predictive distribution of counts (mixture over posterior draws) --------------------------------
def _as_scorer(scorer_or_params, scorer_class=None):
    """Old callers hand a dict of BG/NBD draws; new ones the scorer itself."""
    if isinstance(scorer_or_params, dict):
        if scorer_class is None:
            from .bgnbd.scoring import BetaGeoDraws as scorer_class
        return scorer_class.from_mapping(scorer_or_params)
    return scorer_or_params


def _max_count_for(sc, x, tx, T, t, tail: float = 1e-10) -> int:
    """A count K with predictive mass above K below ``tail`` for every row and draw (the scorer's
    rigorous bound)."""
    if np.size(x) == 0:
        return 0
    return int(np.max(sc.count_upper_bound(x, tx, T, t, tail=tail)))


def predictive_count_pmf(scorer, keys, t, max_count=None, budget_bytes=DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Mixture over draws of P(Y(t) = k | x, t_x, T) per distinct row, k = 0..K (rows x (K+1))."""
    sc = _as_scorer(scorer)
    x, tx, T = keys
    K = max_count if max_count is not None else _max_count_for(sc, x, tx, T, t)
    out = np.empty((len(x), K + 1))
    step = chunk_rows(sc.n_draws, K + 1, budget_bytes)
    for start in range(0, len(x), step):
        sl = slice(start, start + step)
        out[sl] = sc.purchases_pmf(x[sl], tx[sl], T[sl], t, K).mean(axis=0)
    return out


def predictive_count_summary(scorer, d, t, interval, observed=None, seed=0, progress=False,
                             budget_bytes=DEFAULT_CHUNK_BYTES) -> dict[str, np.ndarray]:
    """Per customer: predictive interval bounds of the count, the mass inside them, the predictive mean
    and, when ``observed`` is given, the predictive CDF below and at the observed count (``cdf_below``,
    ``cdf_at``) and the randomized PIT drawn between them."""
    sc = _as_scorer(scorer)
    lo_q, hi_q = interval_bounds(interval)
    x, tx, T = d.keys
    n = len(x)
    lower = np.empty(n)
    upper = np.empty(n)
    inside = np.empty(n)
    mean = np.empty(n)
    s = sc.n_draws
    # the pmf runs up to a count K past which every draw's mass is below tail_mass, far under 1 - hi_q, so
    # the mixture's CDF at K exceeds hi_q and both bounds (and the mass between them) lie within 0..K; and
    # up to the largest observed count, for the CDF there. Not up to the 1e-10 tail (a K several times
    # larger: the pmf's cost is draws x rows x K); the mean comes from the closed form instead.
    tail_mass = 1e-3 * (1.0 - hi_q)
    y_obs = None if observed is None else np.asarray(observed, dtype=float)
    y_max = np.zeros(n)
    if y_obs is not None:  # the largest observed count of each distinct row
        np.maximum.at(y_max, d.inverse, y_obs)
    # rows are processed in chunks of similar expected counts so K stays small for most chunks
    order = np.argsort(x + tx / (T + 1.0), kind="stable")
    base_step = chunk_rows(s, 64, budget_bytes)
    cdf_rows = {}
    starts = range(0, n, base_step)
    for start in _progress(starts, progress, "predictive intervals", total=len(starts)):
        idx = order[start:start + base_step]
        K = max(_max_count_for(sc, x[idx], tx[idx], T[idx], t, tail=tail_mass), int(y_max[idx].max()))
        step = chunk_rows(s, K + 1, budget_bytes)
        for s0 in range(0, len(idx), step):
            sub = idx[s0:s0 + step]
            pmf = sc.purchases_pmf(x[sub], tx[sub], T[sub], t, K).mean(axis=0)
            cdf = np.cumsum(pmf, axis=1)
            # smallest k with CDF >= q (lower) and smallest k with CDF >= 1 - tail (upper)
            lower[sub] = np.argmax(cdf >= lo_q - 1e-12, axis=1)
            upper[sub] = np.argmax(cdf >= hi_q - 1e-12, axis=1)
            ks = np.arange(K + 1)
            mask = (ks[None, :] >= lower[sub, None]) & (ks[None, :] <= upper[sub, None])
            inside[sub] = (pmf * mask).sum(axis=1)
            mean[sub] = np.mean(sc.expected_purchases(x[sub], tx[sub], T[sub], t), axis=0)
            if observed is not None:
                cdf_rows.update({int(i): c for i, c in zip(sub, cdf)})
    res = {"purchases_lower": lower[d.inverse], "purchases_upper": upper[d.inverse],
           "expected_coverage": inside[d.inverse], "purchases_mean": mean[d.inverse]}
    if observed is not None:
        y = observed.astype(np.int64)
        f_lo = np.empty(len(y))
        f_hi = np.empty(len(y))
        for c, row in enumerate(d.inverse):
            cdf = cdf_rows[int(row)]
            k = y[c]
            f_hi[c] = cdf[k] if k < len(cdf) else 1.0
            f_lo[c] = cdf[k - 1] if 0 < k <= len(cdf) else (0.0 if k == 0 else 1.0)
        rng = np.random.default_rng(seed)
        res["cdf_below"] = f_lo
        res["cdf_at"] = f_hi
        res["pit"] = f_lo + rng.uniform(size=len(y)) * (f_hi - f_lo)
    return res
