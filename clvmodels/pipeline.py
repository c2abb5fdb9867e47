"""The forecast pipeline (``clvmodels.forecast``): transaction log -> summary -> fitted BG/NBD and Gamma-Gamma -> forecast table.

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
from .models import BetaGeoModel, GammaGammaModel
from .predict import DEFAULT_SCORING_DRAWS
from .scoring import score

BGNBD_FILE = "bgnbd.clvm"
GAMMA_GAMMA_FILE = "gamma_gamma.clvm"


@dataclass
class ForecastResult:
    """What a forecast run produced: the table, the summary, the models, timings and metadata."""

    table: pd.DataFrame
    summary: pd.DataFrame
    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel
    metadata: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


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


def load_models(model_dir):
    """The purchase and spend models a forecast saved in ``model_dir`` (whatever their classes: a model
    file names its class)."""
    from .models.base import BayesianModel

    d = Path(model_dir)
    for name in (BGNBD_FILE, GAMMA_GAMMA_FILE):
        if not (d / name).exists():
            raise ModelFileError(f"no fitted model {name} in {str(d)!r}: run a forecast with --model-dir first")
    return BayesianModel.load(d / BGNBD_FILE), BayesianModel.load(d / GAMMA_GAMMA_FILE)


def forecast(transactions=None, *, summary: pd.DataFrame | None = None, customer_id: str = "customer_id",
             date: str = "date", amount: str = "amount", observation_end=None, time_unit: str = "W",
             horizon="52W", discount_rate: float = 0.0, margin=1.0, cost_to_serve=0.0,
             acquisition_cost=None, interval: float = 0.9, method: str = "nuts", sampler: str = "auto", chains: int = 4,
             draws: int = 1000, tune: int = 1000, seed: int | None = None, target_accept: float = 0.8,
             model_dir=None, fit: bool = True,
             bgnbd_priors=None, gamma_gamma_priors=None, purchase_model=None, spend_model=None, max_draws: int | None = DEFAULT_SCORING_DRAWS, engine: str = "auto",
             negative_amounts: str = "error", zero_amounts: str = "keep", progress: bool = True) -> ForecastResult:
    """Forecast every customer's purchases, spend and CLV with intervals from a transaction log.

    Give either ``transactions`` (DataFrame or CSV/Parquet path/glob, summarised with ``observation_end``
    and ``time_unit``) or a ready ``summary``. With ``fit=False`` the models are loaded from
    ``model_dir`` (a previous run's) and only scoring runs. With ``model_dir`` and ``fit=True`` the
    fitted models are saved there, only once scoring has succeeded (inside
    :func:`clvmodels.io.staged_outputs` they are put in place with the run's other outputs). Returns a
    :class:`ForecastResult`; ``result.table`` has one row per customer with the columns of
    :data:`clvmodels.scoring.FORECAST_COLUMNS`, all from ``max_draws`` joint posterior draws (default
    1,000, evenly thinned; None = all).

    ``purchase_model`` / ``spend_model``: a configured, unfitted estimator to fit instead of the default
    :class:`BetaGeoModel` (with ``bgnbd_priors``) / :class:`GammaGammaModel` (with
    ``gamma_gamma_priors``): any model of the protocol (:mod:`clvmodels.models.protocol`).
    """
    from .data import summarize

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if summary is None:
        if transactions is None or observation_end is None:
            raise ValueError("give transactions and observation_end, or a summary")
        _stderr_progress("summarising transactions", progress)
        summary = summarize(transactions, customer_id=customer_id, date=date, amount=amount,
                            observation_end=observation_end, time_unit=time_unit, engine=engine,
                            negative_amounts=negative_amounts, zero_amounts=zero_amounts)
    timings["summary"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    if fit:
        common = dict(method=method, sampler=sampler, chains=chains, draws=draws, tune=tune, seed=seed,
                      target_accept=target_accept, progressbar=progress)
        _stderr_progress(f"fitting the purchase model on {len(summary):,} customers ({method})", progress)
        # a purchase/spend model given (configured, not fitted) takes the place of the default one
        bg = (purchase_model if purchase_model is not None else BetaGeoModel(priors=bgnbd_priors, **common)).fit(summary)
        _stderr_progress("fitting the spend model", progress)
        gg = (spend_model if spend_model is not None else GammaGammaModel(priors=gamma_gamma_priors, **common)).fit(summary)
    else:
        if model_dir is None:
            raise ValueError("fit=False needs model_dir with previously fitted models")
        bg, gg = load_models(model_dir)
    timings["fit"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _stderr_progress("scoring customers", progress)
    table = score(summary, bg, gg, horizon, discount_rate=discount_rate, margin=margin,
                  cost_to_serve=cost_to_serve, acquisition_cost=acquisition_cost, interval=interval,
                  max_draws=max_draws, progress=progress)
    timings["predict"] = time.perf_counter() - t2
    if fit and model_dir is not None:  # saved only when the models have scored every customer
        with staged_outputs():
            make_output_dir(model_dir)
            bg.save(Path(model_dir) / BGNBD_FILE)
            gg.save(Path(model_dir) / GAMMA_GAMMA_FILE)
    meta = {
        "created_by": f"clvmodels {__version__}",
        "settings": {"horizon": str(horizon), "discount_rate": discount_rate,
                     "margin": margin if not isinstance(margin, pd.Series) else "per-customer",
                     "cost_to_serve": cost_to_serve if not isinstance(cost_to_serve, pd.Series) else "per-customer",
                     "acquisition_cost": acquisition_cost if not isinstance(acquisition_cost, pd.Series) else "per-customer",
                     "interval": interval, "method": method, "sampler": sampler, "chains": chains, "draws": draws, "tune": tune,
                     "target_accept": target_accept,
                     "seed": seed, "fit": fit, "max_draws": max_draws},
        "summary": dict(summary.attrs.get("clvmodels", {})),
        "time_unit": bg.time_unit_,
        "interval": interval,
        "versions": library_versions(),
        "models": {
            "bgnbd": {"params": bg.summary(interval).to_dict(orient="index"), "diagnostics": bg.diagnostics_.to_dict(),
                      "fit_info": bg.fit_info_},
            "gamma_gamma": {"params": gg.summary(interval).to_dict(orient="index"), "diagnostics": gg.diagnostics_.to_dict(),
                            "fit_info": gg.fit_info_,
                            "spend_frequency_correlation": gg.fit_info_.get("spend_frequency_correlation")},
        },
        "clv": table.attrs.get("clvmodels_clv", {}),
        "n_customers": int(len(table)),
    }
    meta = strict_json(meta)
    return ForecastResult(table=table, summary=summary, bgnbd=bg, gamma_gamma=gg, metadata=meta, timings=timings)
