"""What every Bayesian model in clvmodels shares: configuration, fitting, diagnostics, summaries,
posterior draws and model files. Each model's mathematics lives in its own module
(:mod:`clvmodels.models.bgnbd`, :mod:`clvmodels.models.gamma_gamma`); this class only wires it to PyMC.
"""
from __future__ import annotations

import platform
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__
from ..errors import FitError, UnitError
from ..io.model_files import load_model_file, save_model_file
from ..draws import flatten_draws, interval_bounds
from ..units import UNIT_NAMES, Duration, check_unit
from .fitting import METHOD_NOTES, Diagnostics, FitConfig, run_fit
from .priors import Prior, resolve_priors


def summary_time_unit(data: pd.DataFrame, time_unit: str | None) -> str:
    """The time unit of a summary: from its ``attrs`` (set by :func:`clvmodels.summarize`) or given.

    Both given and different is an error: the model must not silently reinterpret time.
    """
    attrs_unit = (getattr(data, "attrs", {}) or {}).get("clvmodels", {}).get("time_unit")
    if time_unit is None and attrs_unit is None:
        raise UnitError(
            "the time unit of this summary is unknown: pass time_unit='D', 'W' or 'M' to fit(), "
            "or build the summary with clvmodels.summarize(), which records it")
    if time_unit is not None and attrs_unit is not None and check_unit(time_unit) != check_unit(attrs_unit):
        raise UnitError(f"fit(time_unit={time_unit!r}) but the summary was built in {attrs_unit!r}")
    return check_unit(time_unit or attrs_unit)


def data_time_unit(data) -> str | None:
    """The time unit a summary carries in ``attrs["clvmodels"]["time_unit"]`` (set by
    :func:`clvmodels.summarize`), normalised; None when it carries none (a summary built by hand)."""
    meta = (getattr(data, "attrs", None) or {}).get("clvmodels")
    unit = meta.get("time_unit") if isinstance(meta, dict) else None
    return None if unit is None else check_unit(unit)


def check_data_unit(data, model_unit: str, *, who: str = "the model was") -> None:
    """Refuse a summary whose recorded time unit differs from the fitted model's: recency and T would
    be read in the wrong unit (a summary in days scored by a model in weeks is 7 times off), never
    silently. A summary without a recorded unit is trusted (the caller vouches for it)."""
    unit = data_time_unit(data)
    model_unit = check_unit(model_unit)
    if unit is not None and unit != model_unit:
        raise UnitError(
            f"{who} fitted in {UNIT_NAMES[model_unit]} ('{model_unit}') but the summary is in "
            f"{UNIT_NAMES[unit]} ('{unit}'): rebuild the summary with time_unit='{model_unit}' "
            f"(--time-unit {model_unit}) or refit")


def _fmt(v: float) -> str:
    return f"{v:.3g}"


class BayesianModel:
    """Base of :class:`BetaGeoModel` and :class:`GammaGammaModel`.

    Parameters (configuration only; data go to :meth:`fit`)
    ----------
    priors: dict of parameter -> :class:`Prior` (or dict spec), or ``"flat"`` for flat priors on every
        parameter (then MAP is the maximum-likelihood estimate). Unspecified parameters keep the defaults.
    method: ``"nuts"`` (default), ``"map"`` (posterior mode with a Laplace approximation: quick; every
        prediction is averaged over the approximation's draws, so it keeps parameter uncertainty) or
        ``"mode"`` (the posterior mode alone, one draw: every prediction is plugged in at it, as lifetimes
        and the papers print them; no parameter uncertainty, so the intervals of P(alive), expected
        purchases, spend and CLV collapse to the point, while a count interval of purchases still carries
        the customer-level randomness of purchasing and drop-out; no R-hat or ESS).
    sampler: ``"auto"`` (nutpie, falling back to PyMC), ``"nutpie"`` or ``"pymc"``.
    chains, draws, tune, seed, target_accept, progressbar: sampler settings (``target_accept=None``: the
    model's :attr:`default_target_accept`).
    adaptation: nutpie's mass-matrix adaptation, ``"low_rank"`` (default) or ``"diag"`` (see
    :class:`~clvmodels.models.fitting.FitConfig`).
    """

    #: parameter names, in the paper's notation
    param_names: ClassVar[tuple[str, ...]] = ()
    #: columns fit() needs
    required_columns: ClassVar[tuple[str, ...]] = ()
    #: the scorer class of the protocol (:mod:`clvmodels.models.protocol`), built by :meth:`scorer`
    scorer_class: ClassVar[Any] = None
    #: per parameter, the open range (low, high) of draws where the model's formulas have been checked
    #: against independent computations; a fit with draws outside it is refused (see :meth:`check_draws`)
    reliable_range: ClassVar[dict[str, tuple[float, float]]] = {}
    #: why a fit can leave that range, and what to do (the end of the FitError's message)
    drift_advice: ClassVar[str] = ""
    #: the NUTS target acceptance rate used when ``target_accept=None`` (the default of the constructor,
    #: the CLI and forecast(): each model's own)
    default_target_accept: ClassVar[float] = 0.8
    #: the time unit :meth:`from_params` takes when none is given; None = it must be given (a transaction
    #: model's rates are per period, so a guessed unit would silently rescale every prediction)
    from_params_time_unit: ClassVar[str | None] = None
    #: per parameter, why its range is what it is (added to :meth:`from_params`'s error)
    range_reasons: ClassVar[dict[str, str]] = {}
    #: parameters that may be 0 or negative (a regression coefficient); every other one must be positive
    real_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, priors: Mapping[str, Any] | str | None = None, *, method: str = "nuts",
                 sampler: str = "auto", chains: int = 4, draws: int = 1000, tune: int = 1000,
                 seed: int | None = None, target_accept: float | None = None, progressbar: bool = True,
                 adaptation: str = "low_rank"):
        self.priors = priors
        self.method = method
        self.sampler = sampler
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.seed = seed
        self.target_accept = target_accept
        self.progressbar = progressbar
        self.adaptation = adaptation
        self._config()  # validate configuration early

    # -- configuration -------------------------------------------------------------------------
    def _config(self) -> FitConfig:
        target_accept = self.default_target_accept if self.target_accept is None else self.target_accept
        return FitConfig(method=self.method, sampler=self.sampler, chains=self.chains, draws=self.draws,
                         tune=self.tune, seed=self.seed, target_accept=target_accept,
                         progressbar=self.progressbar, adaptation=self.adaptation)

    def get_params(self) -> dict[str, Any]:
        return {"priors": self._priors_spec(self.priors), "method": self.method, "sampler": self.sampler,
                "chains": self.chains, "draws": self.draws, "tune": self.tune, "seed": self.seed,
                "target_accept": self.target_accept, "progressbar": self.progressbar, "adaptation": self.adaptation}

    @staticmethod
    def _priors_spec(priors):
        if priors is None or isinstance(priors, str):
            return priors
        return {k: Prior.from_spec(v).to_dict() for k, v in priors.items()}

    def default_priors(self, time_unit: str, data: pd.DataFrame | None = None) -> dict[str, Prior]:
        raise NotImplementedError

    @classmethod
    def check_data(cls, data: pd.DataFrame, what: str) -> None:
        """Every problem with the summary columns this model reads, at once (:class:`InputError` naming the
        columns and rows): what scoring checks before it computes, for any model. This default checks
        that :attr:`required_columns` are there and hold finite numbers; models check more."""
        from ..errors import InputError, ProblemCollector

        if not isinstance(data, pd.DataFrame):
            raise InputError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
        problems = ProblemCollector(what=what)
        for c in cls.required_columns:
            if c not in data.columns:
                problems.add(c, "required column is missing (build the summary with clvmodels.summarize)")
                continue
            bad = ~np.isfinite(pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float))
            if bad.any():
                problems.add(c, "missing or non-numeric values", data.loc[bad, [c]], int(bad.sum()))
        problems.raise_if_any()

    # -- fitting --------------------------------------------------------------------------------
    def _build_model(self, data: pd.DataFrame, priors: dict[str, Prior]):
        raise NotImplementedError

    def _extra_priors(self) -> dict[str, Prior]:
        """Default priors of parameters the configuration adds (covariate coefficients), set by
        :meth:`_pre_fit`; none here."""
        return {}

    def _finish_priors(self, priors: dict[str, Prior]) -> dict[str, Prior]:
        """The resolved priors, adjusted where the configuration needs it (covariates); as they are here."""
        return priors

    @classmethod
    def _saved_param_names(cls, header: Mapping[str, Any]) -> tuple[str, ...]:
        """The parameters a model file of this class holds (a model with covariates: more than
        :attr:`param_names`, read from its header)."""
        return tuple(cls.param_names)

    def _restore(self, header: Mapping[str, Any]) -> None:
        """Fitted state a model file's header carries beyond the draws (a model with covariates: its
        design); nothing here."""

    def _pre_fit(self, data: pd.DataFrame) -> None:
        """Model-specific checks and warnings before anything is fitted (a warning issued here with
        ``stacklevel=3`` points at the user's fit() call)."""

    def _fit_info(self, data: pd.DataFrame) -> dict[str, Any]:
        return {"n_customers": int(len(data))}

    #: a function of the sampled posterior returning the one kept (and diagnosed), or None: the same
    #: (the covariate models' derives the pooled group effects from their offsets)
    _derive_draws = None

    def fit(self, data: pd.DataFrame, *, time_unit: str | None = None):
        """Fit the model to a customer summary; returns ``self``.

        Sets ``posterior_`` (xarray Dataset of the parameter draws, dims chain x draw),
        ``diagnostics_``, ``time_unit_``, ``priors_`` and ``fit_info_``.
        """
        self._pre_fit(data)
        self.time_unit_ = summary_time_unit(data, time_unit)
        self.priors_ = self._finish_priors(resolve_priors(
            {**self.default_priors(self.time_unit_, data), **self._extra_priors()}, self.priors))
        model = self._build_model(data, self.priors_)
        post, stats, diag = run_fit(model, list(self.param_names), self._config(), type(self).__name__,
                                    derive=self._derive_draws)
        self.check_draws(flatten_draws(post, list(self.param_names)), data, method=diag.method)
        self.posterior_ = post
        self.sample_stats_ = stats
        self.diagnostics_ = diag
        self.fit_info_ = self._fit_info(data)
        return self

    # -- is the fit usable? ----------------------------------------------------------------------
    def _probe_predictions(self, draws: dict[str, np.ndarray], data: pd.DataFrame) -> list[str]:
        """Model-specific: evaluate the predictions at every draw on a probe of ``data``; return what is
        not finite (or did not converge), as phrases. The base class probes nothing."""
        return []

    def check_draws(self, draws: dict[str, np.ndarray], data: pd.DataFrame | None = None, *,
                    method: str = "nuts") -> None:
        """Refuse a fit whose draws would give NaN, infinite or wrong predictions.

        Three checks, each over every draw: the draws are finite and positive; they lie in
        :attr:`reliable_range` (the range where the formulas were verified; beyond it a fit is a sign
        that the data do not pin a parameter down, e.g. an improper posterior under flat priors, and
        the special functions lose their accuracy); and the model's predictions, evaluated at the draws
        on a probe of the fitted data, are finite. Raises :class:`FitError` saying what is wrong and
        what to do.
        """
        problems = []
        n = len(next(iter(draws.values())))
        for p in self.param_names:
            v = np.asarray(draws[p], dtype=float)
            bad = ~np.isfinite(v) | (~(v > 0) if p not in self.real_params else False)
            if bad.any():
                problems.append(f"{p}: {int(bad.sum())} of {n} draws are not finite "
                                f"{'numbers' if p in self.real_params else 'positive numbers'}")
                continue
            lo, hi = self.reliable_range.get(p, (-np.inf if p in self.real_params else 0.0, np.inf))
            above, below = v >= hi, v <= lo
            if above.any():
                problems.append(f"{p}: {int(above.sum())} of {n} draws at or above {_fmt(hi)} (up to {_fmt(v.max())})")
            if below.any():
                problems.append(f"{p}: {int(below.sum())} of {n} draws at or below {_fmt(lo)} (down to {_fmt(v.min())})")
        if not problems and data is not None:
            problems = self._probe_predictions(draws, data)
        if not problems:
            return
        flat = any(getattr(pr, "dist", None) == "HalfFlat" for pr in getattr(self, "priors_", {}).values())
        how = {"map": "MAP estimate and its Laplace approximation", "mode": "posterior mode"}.get(method, "posterior draws")
        msg = (f"{type(self).__name__} fit is unusable: its {how} lie where the model's formulas are not "
               f"reliable, so its predictions would be NaN, infinite or inaccurate ({'; '.join(problems)}). ")
        if flat:
            msg += ("This is what flat priors (priors='flat') do when the data do not pin the parameters down: "
                    + self.drift_advice + " Fit with the default priors (priors=None) or proper priors via "
                    "priors={...}, or on more data.")
        else:
            msg += ("The data do not pin these parameters down under the "
                    + ("default priors" if self.priors is None else "priors given")
                    + ": fit on more data, or give more informative priors via priors={...}")
            msg += (", or fit with NUTS (method='nuts'), whose draws follow the posterior's own tails rather "
                    "than a normal approximation's." if method == "map" else
                    ", or fit with NUTS (method='nuts'), which does not rest on the mode alone." if method == "mode"
                    else ".")
        raise FitError(msg)

    # -- fitted state ---------------------------------------------------------------------------
    def _horizon(self, t) -> float:
        """A duration that says its unit ('52W'), in the fitted model's unit (never silently rescaled)."""
        self._check_fitted()
        return Duration.parse(t).in_unit(self.time_unit_)

    def _check_fitted(self):
        if not hasattr(self, "posterior_"):
            raise FitError(f"this {type(self).__name__} is not fitted yet: call fit(summary) first")

    def idata(self):
        """The fit as an ArviZ DataTree (groups 'posterior' and, after NUTS, 'sample_stats')."""
        self._check_fitted()
        groups = {"posterior": self.posterior_}
        if getattr(self, "sample_stats_", None) is not None:
            groups["sample_stats"] = self.sample_stats_
        return xr.DataTree.from_dict(groups)

    def draws_(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Posterior draws as flat arrays per parameter (thinned evenly to ``max_draws`` if given)."""
        self._check_fitted()
        return flatten_draws(self.posterior_, list(self.param_names), max_draws)

    def scorer(self, max_draws: int | None = None):
        """The posterior draws (thinned evenly to ``max_draws`` if given) as this model's scorer, what
        the scoring computation computes with (:mod:`clvmodels.models.protocol`)."""
        return self.scorer_class.from_mapping(self.draws_(max_draws))

    @property
    def params_(self) -> pd.Series:
        """Posterior means of the parameters (after MAP and 'mode': the mode; after :meth:`from_params`:
        the given values, or the mean of the given draws)."""
        self._check_fitted()
        if self.diagnostics_.method == "map":
            return pd.Series({p: float(self.posterior_[p].values[0, 0]) for p in self.param_names})
        return pd.Series({p: float(self.posterior_[p].mean()) for p in self.param_names})

    def summary(self, interval: float = 0.9) -> pd.DataFrame:
        """One row per parameter: mean, sd, central interval, R-hat, bulk and tail ESS.

        After method 'mode' or :meth:`from_params` with scalar values there is one draw: the mean is the
        value, sd 0 and the interval the value itself; R-hat and ESS are NaN (no sampler ran; never
        made up). ``attrs["method"]`` says which it is and ``attrs["note"]`` why."""
        self._check_fitted()
        lo, hi = interval_bounds(interval)
        rows = {}
        d = self.diagnostics_
        for p in self.param_names:
            v = np.asarray(self.posterior_[p]).ravel()
            rows[p] = {
                "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                "lower": float(np.quantile(v, lo)), "upper": float(np.quantile(v, hi)),
                "r_hat": d.r_hat.get(p, np.nan), "ess_bulk": d.ess_bulk.get(p, np.nan),
                "ess_tail": d.ess_tail.get(p, np.nan),
            }
        out = pd.DataFrame(rows).T
        out.index.name = "parameter"
        out.attrs["interval"] = interval
        out.attrs["method"] = d.method
        out.attrs["note"] = getattr(d, "note", "")
        return out

    # -- a model from known values -------------------------------------------------------------
    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, time_unit: str | None = None, **config):
        """A model built from known parameter values, without a fit: published estimates, another
        tool's posterior, what-if values. It behaves as a fitted model everywhere (every prediction,
        :func:`clvmodels.scoring.score`, ``forecast(..., purchase_model=..., spend_model=..., fit=False)``,
        :meth:`save`/:meth:`load`, :meth:`summary`).

        ``params``: every parameter of :attr:`param_names` and no other, each a positive finite number
        (a point: one draw; predictions are plugged in at it, as with method 'mode') or a 1-D array of
        draws, all of the same length (e.g. another tool's posterior: predictions are averaged over them).
        Each value must lie in :attr:`reliable_range` (the open range where the model's formulas were
        checked). ``time_unit``: the unit of the rates and time scales ('D', 'W' or 'M'; alpha and beta
        are in periods, r/alpha is purchases per period); required for transaction models (no default:
        published CDNOW estimates are per week, a daily summary would be scored 7 times off). The
        Gamma-Gamma model's spend has no time dimension, so it defaults to 'W' there (a label only).
        ``config``: the estimator's constructor arguments (how a later ``fit()`` would fit).

        The result has ``diagnostics_.method == "fixed"`` (no R-hat or ESS: nothing was sampled),
        ``priors_ == {}`` and ``fit_info_ == {"from_params": True, "n_draws": n}``. Raises ValueError
        naming the parameter and the accepted range, or the missing and extra names.
        """
        import xarray as xr

        label = getattr(cls, "label", "") or cls.__name__
        if not isinstance(params, Mapping):
            raise TypeError(f"{cls.__name__}.from_params: params must be a dict of parameter -> value, "
                            f"got {type(params).__name__}")
        names = list(cls.param_names)
        problems = []
        missing = [p for p in names if p not in params]
        extra = sorted(str(k) for k in params if k not in names)
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unknown {', '.join(extra)}")
        if problems:
            raise ValueError(f"{cls.__name__}.from_params: {'; '.join(problems)} (a {label} model has exactly "
                             f"{', '.join(names)})")
        values = {}
        for p in names:
            try:
                v = np.asarray(params[p], dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"{cls.__name__}.from_params: {p} must be a number or a 1-D array of numbers, "
                                 f"got {params[p]!r}") from None
            if v.ndim > 1 or v.size == 0:
                raise ValueError(f"{cls.__name__}.from_params: {p} must be a number or a non-empty 1-D array of "
                                 f"draws, got shape {v.shape}")
            values[p] = np.atleast_1d(v)
        sizes = {p: len(v) for p, v in values.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"{cls.__name__}.from_params: the arrays of draws differ in length "
                             f"({', '.join(f'{p} {n}' for p, n in sizes.items())}); give every parameter the same "
                             "number of draws (or every one a single value)")
        for p, v in values.items():
            lo, hi = cls.reliable_range.get(p, (0.0, np.inf))
            lo = float(lo) if p in cls.real_params else max(float(lo), 0.0)
            bad = ~np.isfinite(v) | ~(v > lo) | ~(v < hi)
            if bad.any():
                what = (f"{p} = {v[0]:g} is" if len(v) == 1 else
                        f"{p}: {int(bad.sum())} of {len(v)} draws ({', '.join(f'{x:g}' for x in v[bad][:5])}"
                        f"{', ...' if bad.sum() > 5 else ''}) are")
                rule = f"a finite number above {_fmt(lo)}" + (
                    f" and below {_fmt(hi)}, where the {label} formulas were checked" if np.isfinite(hi) else "")
                if p in cls.range_reasons:
                    rule += f" ({cls.range_reasons[p]})"
                raise ValueError(f"{cls.__name__}.from_params: {what} outside the accepted range "
                                 f"({_fmt(lo)}, {_fmt(hi)}) of {p}: {rule}")
        if time_unit is None:
            time_unit = cls.from_params_time_unit
        if time_unit is None:
            raise ValueError(f"{cls.__name__}.from_params: give time_unit ('D', 'W' or 'M'), the unit the "
                             "parameters are in: the purchase rate r/alpha is per period, so the same numbers "
                             "mean 7 times more purchases per week than per day (the published CDNOW estimates "
                             "are in weeks: time_unit='W')")
        obj = cls(**config)
        n = sizes[names[0]]
        obj.time_unit_ = check_unit(time_unit)
        obj.priors_ = {}
        obj.posterior_ = xr.Dataset({p: (("chain", "draw"), values[p][None, :].copy()) for p in names},
                                    coords={"chain": [0], "draw": np.arange(n)})
        obj.sample_stats_ = None
        obj.diagnostics_ = Diagnostics(method="fixed", sampler="none", chains=1, draws=n, seconds=0.0,
                                       note=METHOD_NOTES["fixed"])
        obj.fit_info_ = {"from_params": True, "n_draws": n}
        return obj

    # -- model files ----------------------------------------------------------------------------
    def save(self, path) -> None:
        """Save the fitted model (configuration and parameter draws; see :mod:`clvmodels.io.model_files`)."""
        self._check_fitted()
        header = {
            "model": type(self).__name__,
            "library_version": __version__,
            "python": platform.python_version(),
            "config": self.get_params(),
            "priors_resolved": {k: v.to_dict() for k, v in self.priors_.items()},
            "time_unit": self.time_unit_,
            "diagnostics": self.diagnostics_.to_dict(),
            "fit_info": self.fit_info_,
            "shape": [int(self.posterior_.sizes["chain"]), int(self.posterior_.sizes["draw"])],
        }
        save_model_file(path, header, {p: self.posterior_[p].values for p in self.param_names})

    @classmethod
    def load(cls, path):
        """Load a model saved with :meth:`save`. ``BayesianModel.load`` returns the right subclass.

        A file that is not what :meth:`save` writes (not a zip, keys missing from model.json, draws
        that are NaN or infinite or do not match ``shape``, a parameter missing, a configuration this
        version does not accept) is refused with :class:`ModelFileError`:
        ``'<path>' is not a valid clvmodels model file: <what is wrong>``."""
        from ..errors import ModelFileError
        from ..io.model_files import invalid_model_file

        header, arrays = load_model_file(path)
        from .registry import import_models

        import_models()  # a file may hold any registered model, imported or not yet
        registry = {sub.__name__: sub for sub in _all_subclasses(BayesianModel)}
        name = header["model"]
        target = registry.get(name)
        if target is None:
            raise invalid_model_file(path, f"it holds an unknown model {name!r} (known: {', '.join(sorted(registry))})")
        if cls is not BayesianModel and not issubclass(target, cls):
            raise ModelFileError(f"{str(path)!r} holds a {name}, not a {cls.__name__}")
        try:
            saved_names = target._saved_param_names(header)
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid_model_file(path, f"'fit_info' does not describe the covariates ({exc})") from None
        missing = [p for p in saved_names if p not in arrays]
        if missing:
            raise invalid_model_file(path, f"posterior.npz has no draws of {', '.join(map(repr, missing))} "
                                           f"(a {name} has {', '.join(saved_names)})")
        extra = sorted(set(arrays) - set(saved_names))
        if extra:
            raise invalid_model_file(path, f"posterior.npz holds draws of {', '.join(map(repr, extra))}, "
                                           f"which a {name} does not have")
        for p in saved_names:
            if p in target.real_params or p not in target.param_names:  # covariate coefficients are real
                continue
            nonpos = int((arrays[p] <= 0).sum())
            if nonpos:
                raise invalid_model_file(path, f"{nonpos} draws of {p!r} are not positive")
        try:
            time_unit = check_unit(header["time_unit"])
        except UnitError as exc:
            raise invalid_model_file(path, f"'time_unit': {exc}") from None
        try:
            obj = target(**header["config"])
            obj._restore(header)
            resolve_priors({**target().default_priors(time_unit), **obj._extra_priors()}, obj.priors)
        except (TypeError, ValueError) as exc:
            raise invalid_model_file(path, f"'config' is not a valid {name} configuration ({exc})") from None
        try:
            obj.priors_ = {k: Prior.from_spec(v) for k, v in header["priors_resolved"].items()}
        except (TypeError, ValueError) as exc:
            raise invalid_model_file(path, f"'priors_resolved' is not valid ({exc})") from None
        try:
            obj.diagnostics_ = Diagnostics.from_dict(header["diagnostics"])
        except (TypeError, ValueError) as exc:
            raise invalid_model_file(path, f"'diagnostics' is not valid ({exc})") from None
        obj.time_unit_ = time_unit
        obj.fit_info_ = header["fit_info"]
        chains, draws = header["shape"]
        obj.posterior_ = xr.Dataset({p: (("chain", "draw"), arrays[p].reshape(chains, draws)) for p in saved_names},
                                    coords={"chain": np.arange(chains), "draw": np.arange(draws)})
        obj.sample_stats_ = None
        return obj

    def __repr__(self) -> str:
        state = "not fitted" if not hasattr(self, "posterior_") else (
            "fixed parameters" if self.diagnostics_.method == "fixed" else "fitted")
        return f"{type(self).__name__}(method={self.method!r}, priors={self.priors!r}) [{state}]"


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)
