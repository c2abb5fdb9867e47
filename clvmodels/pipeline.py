"""The forecast pipeline (``clvmodels.forecast``): transaction log -> summary -> fitted transaction model
(BG/NBD by default; ``model=``) and Gamma-Gamma -> forecast table.

:func:`forecast` is the one notebook call; it is built from pieces a user can call one by one
(:func:`clvmodels.summarize`, :class:`BetaGeoModel`, :class:`GammaGammaModel`, :func:`clvmodels.scoring.score`),
and ``clv forecast`` calls it.
"""
from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .errors import ModelFileError
from .io.atomic import make_output_dir, staged_outputs, strict_json
from .models import BetaGeoModel, GammaGammaModel  # noqa: F401 (documented here)
from .models.registry import DEFAULT_MODEL, TRANSACTION_MODELS, transaction_model
from .draws import DEFAULT_SCORING_DRAWS
from .scoring import score
from .scoring.table import column_descriptions, covariate_columns
from .units import Duration
from .value.clv import _per_customer
from .value.new_customer import new_customer_value

BGNBD_FILE = "bgnbd.clvm"
GAMMA_GAMMA_FILE = "gamma_gamma.clvm"
#: the file of a purchase model without a registered name (a user's own model of the protocol)
PURCHASES_FILE = "purchases.clvm"


def purchase_model_file(model) -> str:
    """The file name a fitted transaction model is saved under in a model directory: its registered name
    (``bgnbd.clvm``, ``pnbd.clvm``, ...), else ``purchases.clvm``."""
    name = model if isinstance(model, str) else getattr(model, "name", "")
    return f"{name}.clvm" if name else PURCHASES_FILE


@dataclass(init=False)
class ForecastResult:
    """What a forecast run produced: the table, the summary, the models, timings and metadata.

    ``purchase_model`` (the fitted transaction model) and ``spend_model`` (the fitted spend model) were
    called ``bgnbd`` and ``gamma_gamma``; those names still work, as attributes and as keywords.
    ``spend_model`` is None when no spend model was fitted: a supplied spend (``forecast(spend=...)``)
    or the purchases only (a log without amounts)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    purchase_model: Any
    spend_model: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __init__(self, table, summary, purchase_model=None, spend_model=None, metadata=None, timings=None, *,
                 bgnbd=None, gamma_gamma=None):
        # the old keywords take precedence (dataclasses.replace(result, bgnbd=other) passes both)
        purchase_model = bgnbd if bgnbd is not None else purchase_model
        spend_model = gamma_gamma if gamma_gamma is not None else spend_model
        if purchase_model is None:
            raise TypeError("ForecastResult needs purchase_model (or its old name bgnbd)")
        self.table = table
        self.summary = summary
        self.purchase_model = purchase_model
        self.spend_model = spend_model
        self.metadata = {} if metadata is None else metadata
        self.timings = {} if timings is None else timings

    @property
    def bgnbd(self):
        """The fitted purchase model (the old name, from when it was always BG/NBD)."""
        return self.purchase_model

    @property
    def gamma_gamma(self):
        """The fitted spend model (the old name)."""
        return self.spend_model


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "clvmodels": __version__}
    for pkg in ("pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy", "pandas", "duckdb", "pyarrow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _stderr_progress(msg: str, enabled: bool):
    if enabled:
        print(f"[clv] {msg}", file=sys.stderr, flush=True)


def find_purchase_model_file(model_dir, model: str | None = None) -> Path:
    """The purchase model file in ``model_dir``: ``<model>.clvm`` when ``model`` is named, else the one
    transaction model file there (:class:`ModelFileError` when there is none, or several and no name)."""
    d = Path(model_dir)
    if model is not None:
        path = d / purchase_model_file(model)
        if not path.is_file():
            raise ModelFileError(f"no fitted model {path.name} in {str(d)!r}: run a forecast with model={model!r} "
                                 "(--model) and --model-dir first")
        return path
    found = [d / purchase_model_file(n) for n in TRANSACTION_MODELS] + [d / PURCHASES_FILE]
    found = [p for p in found if p.is_file()]
    if not found:
        raise ModelFileError(f"no fitted purchase model ({', '.join(purchase_model_file(n) for n in TRANSACTION_MODELS)}) "
                             f"in {str(d)!r}: run a forecast with --model-dir first")
    if len(found) > 1:
        raise ModelFileError(f"{str(d)!r} holds several fitted purchase models ({', '.join(p.name for p in found)}): "
                             "say which with model= (--model)")
    return found[0]


def load_models(model_dir, model: str | None = None, *, spend_model: bool = True):
    """The purchase and spend models a forecast saved in ``model_dir`` (whatever their classes: a model
    file names its class); ``model`` names the purchase model when the folder holds several.
    ``spend_model=False``: the purchase model alone (the spend model is returned as None)."""
    from .models.base import BayesianModel

    d = Path(model_dir)
    purchases = find_purchase_model_file(d, model)
    if not spend_model:
        return BayesianModel.load(purchases), None
    if not (d / GAMMA_GAMMA_FILE).exists():
        raise ModelFileError(f"no fitted model {GAMMA_GAMMA_FILE} in {str(d)!r}: run a forecast with --model-dir first")
    return BayesianModel.load(purchases), BayesianModel.load(d / GAMMA_GAMMA_FILE)


def _is_fixed(model) -> bool:
    """Was ``model`` built from known values (:meth:`BayesianModel.from_params`)?"""
    diag = getattr(model, "diagnostics_", None)
    return getattr(diag, "method", None) == "fixed"


def _methods_text(bg, gg) -> str:
    """How the purchase and spend models were made: one method ('mode'), or both ('map (purchases), fixed
    (spend)')."""
    a, b = bg.diagnostics_.method, gg.diagnostics_.method
    return a if a == b else f"{a} (purchases), {b} (spend)"


def _point_models(bg, gg) -> list[str]:
    """How each model that is one point was made, e.g. ["the purchase model is one point, the posterior
    mode alone (method 'mode')"]; empty when every model has posterior draws."""
    from .models.fitting import POINT_METHODS

    how = {"mode": "the posterior mode alone (method 'mode')", "fixed": "given parameter values (from_params)"}
    return [f"the {name} model is one point, {how[m.diagnostics_.method]}" for name, m in (("purchase", bg), ("spend", gg))
            if m is not None and m.diagnostics_.method in POINT_METHODS
            and m.diagnostics_.chains * m.diagnostics_.draws == 1]


def _parameter_uncertainty(bg, gg) -> str:
    """What the table's intervals carry, in a sentence (metadata ``parameter_uncertainty``)."""
    points = _point_models(bg, gg)
    if not points:
        return "posterior draws: every interval carries the uncertainty about the parameters"
    return ("; ".join(points) + ": no parameter uncertainty, so the intervals over the parameters (p_alive, "
            "expected_purchases, expected spend, clv and their totals) collapse to the point where only that "
            "model's parameters enter; purchases_lower/purchases_upper still carry each customer's randomness "
            "of purchasing and dropping out")


def forecast(transactions=None, *, summary: pd.DataFrame | None = None, customer_id: str = "customer_id",
             date: str = "date", amount: str = "amount", observation_end=None, time_unit: str = "W",
             horizon="52W", discount_rate: float = 0.0, margin=1.0, cost_to_serve=0.0,
             acquisition_cost=None, interval: float = 0.9, method: str = "nuts", sampler: str = "auto", chains: int = 4,
             draws: int = 1000, tune: int = 1000, seed: int | None = None, target_accept: float | None = None,
             model_dir=None, fit: bool = True,
             model: str | None = None, purchase_priors=None, bgnbd_priors=None, gamma_gamma_priors=None,
             purchase_model=None, spend_model=None, max_draws: int | None = DEFAULT_SCORING_DRAWS, engine: str = "auto",
             negative_amounts: str = "error", zero_amounts: str = "keep", progress: bool = True,
             currency: str | None = None, date_format: str | None = None, spend=None,
             new_customer_spend: float | None = None) -> ForecastResult:
    """Forecast every customer's purchases, spend and CLV with intervals from a transaction log.

    Give either ``transactions`` (DataFrame or CSV/Parquet path/glob, summarised with ``observation_end``
    and ``time_unit``) or a ready ``summary``. With ``fit=False`` the models are loaded from
    ``model_dir`` (a previous run's) and only scoring runs. With ``model_dir`` and ``fit=True`` the
    fitted models are saved there, only once scoring has succeeded (inside
    :func:`clvmodels.io.staged_outputs` they are put in place with the run's other outputs). Returns a
    :class:`ForecastResult`; ``result.table`` has one row per customer with the columns of
    :data:`clvmodels.scoring.FORECAST_COLUMNS`, all from ``max_draws`` joint posterior draws (default
    1,000, evenly thinned; None = all).

    ``model``: the transaction model by name, ``"bgnbd"`` (default), or another of
    :data:`clvmodels.models.registry.TRANSACTION_MODELS`, with ``purchase_priors`` (``bgnbd_priors`` is
    the old name); with ``fit=False``, which saved model to load (default: the one in ``model_dir``).
    ``purchase_model`` / ``spend_model``: a configured, unfitted estimator to fit instead
    (:class:`GammaGammaModel` with ``gamma_gamma_priors`` by default): any model of the protocol
    (:mod:`clvmodels.models.protocol`); e.g. ``spend_model=GammaGammaModel(first_purchase=True)`` (spend
    from all purchase occasions, the first included) or ``GammaGammaFrequencyModel()`` (spend that follows
    frequency), what ``clv forecast --first-purchase`` / ``--spend-model`` fit. With ``fit=False`` and both
    given, they are used as they are, already fitted or built from known values
    (``BetaGeoModel.from_params(...)``), and ``model_dir`` is not read:
    ``forecast(summary=s, purchase_model=fixed_bg, spend_model=fixed_gg, fit=False)``. A model
    built with ``from_params`` given with ``fit=True`` is an error (a fit would replace its values).

    ``method="mode"`` fits the posterior mode alone and plugs every prediction in at it: the table's
    intervals of P(alive), expected purchases, spend and CLV collapse to the point (no parameter
    uncertainty), while ``purchases_lower``/``purchases_upper`` still carry each customer's randomness of
    purchasing and dropping out. ``metadata["fit_methods"]`` says how each model was made and, for a
    point (method 'mode', or 'fixed' from known values), ``metadata["parameter_uncertainty"]`` says so.

    ``observation_end`` and ``date_format`` are those of :func:`clvmodels.summarize` (the end in any form
    the date column takes: ISO text, text in ``date_format``, a date, Timestamp, datetime64 or Period).

    ``result.metadata`` (what ``clv forecast`` writes in the Parquet schema and the JSON sidecar) also
    holds ``new_customer`` (:func:`clvmodels.value.new_customer_value` at the same horizon, discount,
    margin and cost to serve; with a scalar ``acquisition_cost``, ``clv_cac_ratio`` and the largest
    acquisition cost that still pays back), ``segments`` (per segment: customers, total and mean CLV
    with intervals from the joint draws, total historical value), ``columns`` (each column's
    description and unit; ``currency`` names the amounts' currency, e.g. 'USD') and ``horizon``
    (``value``, ``unit``, ``periods``).

    ``spend``: a known spend per purchase per customer (a contract price, a subscription fee, another
    model's output) instead of the Gamma-Gamma model: one number, a column name of the summary, or a
    Series indexed by customer id (:func:`clvmodels.scoring.score`). No spend model is fitted (nor
    saved or loaded); ``expected_spend`` is the value given (its interval is that point) and the CLV
    intervals carry the purchase model's uncertainty. The new customer is valued at
    ``new_customer_spend`` (default: the customer-weighted mean of the supplied spends), recorded in
    ``metadata["new_customer"]["note"]``; ``metadata["spend"]["source"]`` is ``"supplied"``.

    ``amount=None`` (a log without amounts), or a summary without ``monetary_value``, and no ``spend``:
    the purchases only. Only the purchase model is fitted; the table has the purchase columns (P(alive),
    P(any purchase), expected purchases, the count interval, with intervals) and no spend, CLV or
    segment columns; ``metadata["note"]`` (and stderr, with ``progress``) says so and how to get CLV.
    ``margin``, ``cost_to_serve`` and ``acquisition_cost`` must then be left at their defaults.
    """
    from .scoring.table import NO_AMOUNTS_NOTE
    from .data import summarize

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if summary is None:
        if transactions is None or observation_end is None:
            raise ValueError("give transactions and observation_end, or a summary")
        _stderr_progress("summarising transactions", progress)
        summary = summarize(transactions, customer_id=customer_id, date=date, amount=amount,
                            observation_end=observation_end, time_unit=time_unit, engine=engine,
                            negative_amounts=negative_amounts, zero_amounts=zero_amounts, date_format=date_format)
    timings["summary"] = time.perf_counter() - t0
    if spend is not None and spend_model is not None:
        raise ValueError("give spend (a known spend per customer) or spend_model, not both")
    # no spend model: a supplied spend, or no amounts at all (the purchases only)
    with_spend_model = spend is None and "monetary_value" in summary.columns
    purchases_only = spend is None and not with_spend_model
    if purchases_only:
        if spend_model is not None:
            raise ValueError("spend_model needs amounts: the summary has no monetary_value (summarize with amount=COL)")
        from .scoring.table import _check_purchases_only_options

        _check_purchases_only_options(margin, cost_to_serve, acquisition_cost)  # before the fit, not after
        _stderr_progress(NO_AMOUNTS_NOTE, progress)
    elif spend is not None:
        from .value.spend import supplied_spend_values

        given = supplied_spend_values(spend, summary)  # every customer has a valid spend: before the fit
    if fit and method == "nuts" and sampler in ("auto", "nutpie"):
        # the sampler library's import (nutpie brings ArviZ: about 0.9 s) is start-up of the process, not part of
        # the first model's fit: timed apart, so the fit stage and each model's diagnostics seconds are the fit
        t_import = time.perf_counter()
        try:
            import nutpie  # noqa: F401
        except ImportError:  # PyMC's sampler takes over; the fit says so
            pass
        timings["sampler_import"] = time.perf_counter() - t_import
    t1 = time.perf_counter()
    for role, m in (("purchase_model", purchase_model), ("spend_model", spend_model)):
        if fit and _is_fixed(m):
            raise ValueError(f"{role} was built from known parameter values (from_params): fitting would replace "
                             "them; pass fit=False to score with it as it is")
    if not fit and (purchase_model is not None or spend_model is not None):
        if purchase_model is None or (spend_model is None and with_spend_model) or model_dir is not None:
            raise ValueError("fit=False scores either with the models of model_dir or with purchase_model and "
                             "spend_model given (both, fitted or from_params), not a mix: give both models and no "
                             "model_dir, or model_dir alone")
        for role, m in (("purchase_model", purchase_model), ("spend_model", spend_model)):
            if m is not None and not hasattr(m, "posterior_"):
                raise ValueError(f"fit=False: {role} is not fitted; fit it, build it with from_params, or pass "
                                 "fit=True")
    if fit:
        common = dict(method=method, sampler=sampler, chains=chains, draws=draws, tune=tune, seed=seed,
                      target_accept=target_accept, progressbar=progress)
        _stderr_progress(f"fitting the purchase model on {len(summary):,} customers ({method})", progress)
        # a purchase/spend model given (configured, not fitted) takes the place of the default one
        if purchase_model is None:
            if purchase_priors is not None and bgnbd_priors is not None:
                raise ValueError("give purchase_priors (bgnbd_priors is its old name), not both")
            priors = purchase_priors if purchase_priors is not None else bgnbd_priors
            purchase_model = transaction_model(model or DEFAULT_MODEL, priors=priors, **common)
        bg = purchase_model.fit(summary)
        gg = None
        if with_spend_model:
            _stderr_progress("fitting the spend model", progress)
            gg = (spend_model if spend_model is not None else GammaGammaModel(priors=gamma_gamma_priors, **common)).fit(summary)
    elif purchase_model is not None:
        bg, gg = purchase_model, spend_model
    else:
        if model_dir is None:
            raise ValueError("fit=False needs model_dir with previously fitted models (or purchase_model and "
                             "spend_model given, fitted or from_params)")
        bg, gg = load_models(model_dir, model, spend_model=with_spend_model)
    timings["fit"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _stderr_progress("scoring customers", progress)
    table = score(summary, bg, gg, horizon, discount_rate=discount_rate, margin=margin,
                  cost_to_serve=cost_to_serve, acquisition_cost=acquisition_cost, interval=interval,
                  max_draws=max_draws, progress=progress, segment_summary=True, spend=spend)
    cac = acquisition_cost if acquisition_cost is not None and not isinstance(acquisition_cost, (str, pd.Series)) else None
    nc_spend = None
    if spend is not None:  # the new customer's spend: given, else the customers' mean (each customer once)
        nc_spend = float(new_customer_spend) if new_customer_spend is not None else float(given.mean())
    bg_covariates = getattr(bg, "has_covariates", False) or getattr(gg, "has_covariates", False)
    if bg_covariates:  # a new customer's covariates are unknown: the reference customer's value (a note says so)
        bg_models = (bg, gg)
        bg = bg.reference_model() if getattr(bg, "has_covariates", False) else bg
        gg = gg.reference_model() if getattr(gg, "has_covariates", False) else gg
    if purchases_only:
        new_customer = new_customer_value(bg, None, horizon, discount_rate=discount_rate, interval=interval,
                                          max_draws=max_draws)
    else:
        new_customer = new_customer_value(
            bg, gg, horizon, discount_rate=discount_rate, acquisition_cost=cac, interval=interval, max_draws=max_draws,
            margin=margin if not isinstance(margin, (str, pd.Series)) else float(pd.Series(_per_customer(margin, summary, "margin")).mean()),
            cost_to_serve=cost_to_serve if not isinstance(cost_to_serve, (str, pd.Series))
            else float(pd.Series(_per_customer(cost_to_serve, summary, "cost_to_serve")).mean()),
            spend=nc_spend)
    notes = []
    if isinstance(margin, (str, pd.Series)) or isinstance(cost_to_serve, (str, pd.Series)):
        notes.append("per-customer margin or cost to serve: the new customer is valued at their means")
    if spend is not None:
        notes.append(f"supplied spend: the new customer is valued at a spend per purchase of {nc_spend:.6g}, "
                     + ("new_customer_spend as given" if new_customer_spend is not None
                        else "the mean of the supplied spends over the customers (each customer once)"))
    if bg_covariates:
        bg, gg = bg_models
        notes.append("models with covariates: the new customer is the reference customer (numeric "
                     "covariates at their mean, categorical ones at their reference level, a pooled group at "
                     "the population's)")
    if notes:
        new_customer["note"] = "; ".join(notes)
    timings["predict"] = time.perf_counter() - t2
    if fit and model_dir is not None:  # saved only when the models have scored every customer
        with staged_outputs():
            make_output_dir(model_dir)
            bg.save(Path(model_dir) / purchase_model_file(bg))
            if gg is not None:
                gg.save(Path(model_dir) / GAMMA_GAMMA_FILE)
    meta = {
        "created_by": f"clvmodels {__version__}",
        "settings": {"horizon": str(horizon), "discount_rate": discount_rate,
                     "margin": margin if not isinstance(margin, pd.Series) else "per-customer",
                     "cost_to_serve": cost_to_serve if not isinstance(cost_to_serve, pd.Series) else "per-customer",
                     "acquisition_cost": acquisition_cost if not isinstance(acquisition_cost, pd.Series) else "per-customer",
                     # without a fit, the method is how the models scored were made (not this call's default)
                     "interval": interval, "method": method if fit else _methods_text(bg, gg), "sampler": sampler, "chains": chains, "draws": draws, "tune": tune,
                     "target_accept": target_accept if target_accept is not None else bg._config().target_accept,
                     "seed": seed, "fit": fit, "max_draws": max_draws},
        "summary": dict(summary.attrs.get("clvmodels", {})),
        "time_unit": bg.time_unit_,
        "purchase_model": getattr(bg, "name", "") or type(bg).__name__,
        "interval": interval,
        "versions": library_versions(),
        "models": {
            (getattr(bg, "name", "") or "purchases"): {"params": bg.summary(interval).to_dict(orient="index"), "diagnostics": bg.diagnostics_.to_dict(),
                      "fit_info": bg.fit_info_},
            **({"gamma_gamma": {"params": gg.summary(interval).to_dict(orient="index"), "diagnostics": gg.diagnostics_.to_dict(),
                                "fit_info": gg.fit_info_,
                                "spend_frequency_correlation": gg.fit_info_.get("spend_frequency_correlation"),
                                # which spend model, on which purchases (GammaGammaModel's options)
                                "model": type(gg).__name__,
                                "first_purchase": bool(getattr(gg, "first_purchase", False)),
                                "frequency_effect": bool(getattr(gg, "frequency_effect", False)),
                                "description": getattr(gg, "description", "")}}
               if gg is not None else {}),
        },
        "fit_methods": {"purchase_model": bg.diagnostics_.method,
                        **({"spend_model": gg.diagnostics_.method} if gg is not None else {})},
        "parameter_uncertainty": _parameter_uncertainty(bg, gg),
        "clv": table.attrs.get("clvmodels_clv", {}),
        "n_customers": int(len(table)),
        "horizon": {"value": str(Duration.parse(horizon)), "unit": bg.time_unit_,
                    "periods": new_customer["horizon_periods"]},
        "currency": currency,
        "new_customer": new_customer,
        "segments": table.attrs.get("clvmodels_segments", {}),
        "columns": column_descriptions(list(table.columns), time_unit=bg.time_unit_, horizon=horizon,
                                       interval=interval, currency=currency,
                                       spend_source="supplied" if spend is not None else None,
                                       point_note="; ".join(_point_models(bg, gg)) or None,
                                       covariates=covariate_columns(bg, gg)),
        "spend": table.attrs.get("clvmodels_clv", {}).get("spend"),
    }
    if purchases_only:
        meta["note"] = NO_AMOUNTS_NOTE
        meta["settings"]["amount"] = None
    meta = strict_json(meta)
    return ForecastResult(table=table, summary=summary, purchase_model=bg, spend_model=gg, metadata=meta,
                          timings=timings)
