"""Several transaction models fitted on the same calibration data and ranked: ``clv compare`` and
:func:`compare_models`.

Every model is fitted with the same settings (method, draws, seed, ...) on the calibration columns of
one summary, then scored with everything ``clv validate`` reports (:func:`validate_purchases`: holdout
accuracy, interval coverage, the non-randomized PIT, the holdout log predictive score; spend, through
one Gamma-Gamma model shared by all, when the summary has ``spend_holdout``) and with PSIS-LOO on the
calibration data (:func:`clvmodels.validation.loo.loo`).

Ranking criterion (:func:`rank_models`), best first:

1. the **holdout log predictive score** ``sum_i log P(Y_i = y_i | calibration data)`` (higher is
   better), when every model has one: a strictly proper score of the whole predictive distribution of
   the counts the models did not see (not only of their means), comparable across models because all
   predict the same customers' same counts;
2. otherwise (a summary without holdout columns) the **PSIS-LOO elpd** of the calibration data
   (higher is better), the same kind of score for a left-out customer's calibration data.

Ties are broken by the other score, then by the order the models were given. Each model also carries
its difference to the best (``*_diff``: the best model's value minus its own, positive when it is
worse) with the standard error of that paired difference, ``sqrt(n var_i(d_i))`` over customers
(``d_i`` the per-customer difference; Vehtari, Gelman & Gabry 2017, section 5.2, as ``arviz.compare``):
a difference within about two standard errors is no clear preference.

With covariates (``covariates=``, ``clv compare --covariates``) each model is fitted without and with
them and all are ranked together; ``covariates_effect`` gives, per model, the with-minus-without
differences (holdout log score and PSIS-LOO, paired per customer) and whether they are clear.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..draws import DEFAULT_SCORING_DRAWS
from ..errors import DataError, InputError

#: criterion key -> the sentence the comparison JSON and report carry
CRITERIA: dict[str, str] = {
    "holdout_log_score": (
        "holdout log predictive score: the sum over customers of log P(holdout purchases = the actual count "
        "| calibration data) under each model's posterior predictive distribution (higher is better); models "
        "are ranked by it, best first, ties broken by elpd_loo"),
    "elpd_loo": (
        "PSIS-LOO elpd: the sum over customers of the leave-one-out log predictive density of their "
        "calibration (frequency, recency, T) (higher is better), used because there is no holdout; models "
        "are ranked by it, best first"),
}

#: the keyword arguments of a model's constructor that compare_models passes to every model alike
FIT_OPTIONS = ("method", "sampler", "chains", "draws", "tune", "seed", "target_accept", "progressbar")


def model_name_problems(models: Iterable[str] | str | None) -> tuple[list[str], list[str]]:
    """``(names, problems)``: the registered transaction models named in ``models`` (a list or a
    comma-separated string; None = every registered model), lower-cased, in order, and what is wrong
    with the list (unknown names, with the choices; duplicates; empty names or no name)."""
    from ..models.registry import model_names

    choices = model_names()
    if models is None:
        return list(choices), []
    items = models.split(",") if isinstance(models, str) else list(models)
    names = [str(m).strip().lower() for m in items]
    problems = []
    if any(not n for n in names):
        problems.append("an empty model name (two commas, or one at an end)")
    names = [n for n in names if n]
    unknown = [n for n in names if n not in choices]
    if unknown:
        problems.append(f"unknown model{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: choose from "
                        f"{', '.join(choices)}")
    dups = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if dups:
        problems.append(f"{', '.join(dups)} given more than once")
    if not names and not problems:
        problems.append("no model given")
    return names, problems


def check_model_names(models: Iterable[str] | str | None) -> list[str]:
    """:func:`model_name_problems`' names, or :class:`InputError` listing its problems."""
    names, problems = model_name_problems(models)
    if problems:
        raise InputError("models: " + "; ".join(problems))
    return names


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v))


def rank_models(metrics: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], str, str]:
    """``(ranking, criterion key, criterion sentence)`` of models' metrics (name -> dict): by
    ``holdout_log_score`` when every model has a finite one, else by ``elpd_loo`` (see the module
    docstring); higher is better, ties broken by the other score, then by the given order."""
    names = list(metrics)
    if not names:
        raise InputError("no models to rank")
    for key, other in (("holdout_log_score", "elpd_loo"), ("elpd_loo", "holdout_log_score")):
        if all(_finite(metrics[n].get(key)) for n in names):
            def sort_key(n, key=key, other=other):
                o = metrics[n].get(other)
                return (-float(metrics[n][key]), -float(o) if _finite(o) else math.inf, names.index(n))
            return sorted(names, key=sort_key), key, CRITERIA[key]
    raise InputError("the models cannot be ranked: neither a holdout log score nor a PSIS-LOO elpd for every model")


def _paired(best: np.ndarray, other: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """Sum of ``best - other`` over customers (rows weighted by ``weight``) and its standard error
    ``sqrt(N * var(d))`` (``ddof=1``, N = customers)."""
    d = np.asarray(best, float) - np.asarray(other, float)
    w = np.ones_like(d) if weight is None else np.asarray(weight, float)
    n = float(w.sum())
    total = float(np.sum(w * d))
    var = float(np.sum(w * (d - total / n) ** 2) / (n - 1)) if n > 1 else 0.0
    return total, float(np.sqrt(n * var))


def _loo_per_customer(model, pointwise: pd.DataFrame, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(elpd_i, weight_i)`` per row of ``summary`` with T > 0: each customer's PSIS-LOO term, looked up in
    ``pointwise`` (:func:`~clvmodels.validation.loo.loo`'s, one row per distinct (frequency, recency, T),
    per cell with covariates: the ``cell`` column) by her triplet (and cell); the weight is her
    ``n_customers`` (1 without that column)."""
    keys = ["frequency", "recency", "T"]
    cust = summary[keys].astype(float).reset_index(drop=True)
    if "cell" in pointwise.columns:
        cust["cell"] = model.cell_models(summary, what="calibration summary")[0]
        keys = ["cell", *keys]
    weight = (summary["n_customers"].to_numpy(float) if "n_customers" in summary.columns
              else np.ones(len(summary)))
    keep = cust["T"].to_numpy() > 0  # T = 0: no LOO term (likelihood 1), as in loo()
    got = cust[keep].merge(pointwise[[*keys, "elpd_loo"]], on=keys, how="left", validate="many_to_one")
    elpd = got["elpd_loo"].to_numpy(float)
    if not np.isfinite(elpd).all():  # every customer with T > 0 has a row: a mismatch is a bug, not data
        raise RuntimeError(f"{int((~np.isfinite(elpd)).sum())} customers have no PSIS-LOO row")
    return elpd, weight[keep]


@dataclass
class ModelComparison:
    """A comparison's JSON-ready ``result`` (what ``clv compare --json`` writes) and what the report
    draws from: the fitted ``models`` (name -> model), each model's ``validations`` (the
    :func:`validate_purchases` dicts, per-customer ``table`` included; empty without a holdout), the
    shared ``spend_model`` (or None), and the ``summary``."""

    result: dict[str, Any]
    models: dict[str, Any]
    validations: dict[str, dict[str, Any]] = field(default_factory=dict)
    spend_model: Any = None
    summary: pd.DataFrame | None = None


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"[clv] {text}", file=sys.stderr, flush=True)


def compare_fitted(fitted: Mapping[str, Any], summary: pd.DataFrame, *, spend_model=None, interval: float = 0.9,
                   seed: int = 0, max_draws: int | None = DEFAULT_SCORING_DRAWS, loo_draws: int | None = None,
                   progress: bool = False, fit_seconds: Mapping[str, float] | None = None,
                   labels: Mapping[str, str] | None = None,
                   pairs: Mapping[str, str] | None = None) -> ModelComparison:
    """Score and rank fitted transaction models (name -> model, all fitted on the calibration columns of
    ``summary``): :func:`validate_purchases` (when ``summary`` has holdout columns; and
    :func:`~clvmodels.validation.spend.validate_spend` with ``spend_model`` when it has
    ``spend_holdout``) and :func:`~clvmodels.validation.loo.loo` (``loo_draws`` posterior draws, default
    all) for each, then :func:`rank_models`. See :func:`compare_models` for the result. ``labels``: name ->
    the label shown (default: the model's own, e.g. "BG/NBD").

    Models with covariates are scored per cell of customers (their holdout numbers and their PSIS-LOO
    terms alike: :meth:`~clvmodels.models.transaction.TransactionModel.pointwise_log_likelihood` gives one
    row per cell and distinct (frequency, recency, T)), so the LOO differences are paired customer by
    customer (:func:`_loo_per_customer`), which a model without covariates and one with them share.

    ``pairs``: name -> name of the same model with covariates; the result then has
    ``"covariates_effect"``, per pair: ``holdout_log_score_diff`` (with minus without: positive when the
    covariates help) and its standard error (paired over customers, :func:`_paired`; None without a
    holdout), the same for ``elpd_loo`` (PSIS-LOO works per cell, so a model with covariates has one),
    and ``helps``/``hurts`` (the holdout difference more than two standard errors above/below 0)."""
    from .holdout import validate_purchases
    from .loo import loo

    if not fitted:
        raise InputError("no models to compare")
    has_holdout = "frequency_holdout" in summary.columns
    per: dict[str, dict[str, Any]] = {}
    validations: dict[str, dict[str, Any]] = {}
    pointwise: dict[str, pd.DataFrame] = {}
    for name, model in fitted.items():
        label = (labels or {}).get(name) or getattr(model, "label", "") or type(model).__name__
        t0 = time.perf_counter()
        m: dict[str, Any] = {"model": name, "label": label}
        if has_holdout:
            _say(progress, f"validating {label} on the holdout")
            v = validate_purchases(model, summary, interval=interval, seed=seed, max_draws=max_draws)
            validations[name] = v
            m.update({k: val for k, val in v.items() if k != "table"})
        t1 = time.perf_counter()
        _say(progress, f"PSIS-LOO of {label}")
        lo = loo(model, summary, max_draws=loo_draws, pointwise=True)
        pointwise[name] = lo.pop("pointwise")
        t2 = time.perf_counter()
        m.update({"elpd_loo": lo["elpd_loo"], "elpd_loo_se": lo["elpd_loo_se"], "p_loo": lo["p_loo"]})
        m.update({f"loo_{k}": lo[k] for k in ("n_customers", "n_rows", "n_draws", "r_eff", "pareto_k_max",
                                             "pareto_k_threshold", "n_customers_high_k", "n_rows_high_k",
                                             "warning")})
        m["fit_info"] = {name: getattr(model, "fit_info_", {})}
        if spend_model is not None and has_holdout and "spend_holdout" in summary.columns:
            from .spend import validate_spend

            _say(progress, f"validating spend with {label}")
            sp = validate_spend(model, spend_model, summary, interval=interval, seed=seed, max_draws=max_draws)
            sp.pop("table", None)
            m.update(sp)
            m["fit_info"]["gamma_gamma"] = getattr(spend_model, "fit_info_", {})
        m["timings_seconds"] = {"fit": round(float((fit_seconds or {}).get(name, float("nan"))), 3),
                                "validation": round(t1 - t0, 3), "loo": round(t2 - t1, 3)}
        per[name] = m
    ranking, key, sentence = rank_models(per)
    best = ranking[0]
    for name in ranking:
        if has_holdout:
            s_best = validations[best]["table"]["log_score"]
            s_this = validations[name]["table"]["log_score"].reindex(s_best.index)
            diff, se = _paired(s_best.to_numpy(), s_this.to_numpy())
            per[name]["holdout_log_score_diff"], per[name]["holdout_log_score_diff_se"] = diff, se
        if any(getattr(fitted[n], "has_covariates", False) for n in (best, name)):
            # rows are (cell, triplet) for a model with covariates: paired customer by customer
            e_best, w = _loo_per_customer(fitted[best], pointwise[best], summary)
            e_this, _ = _loo_per_customer(fitted[name], pointwise[name], summary)
            diff, se = _paired(e_best, e_this, w)
        else:
            keys = ["frequency", "recency", "T"]
            both = pointwise[best].merge(pointwise[name], on=keys, suffixes=("_best", ""), validate="one_to_one")
            diff, se = _paired(both["elpd_loo_best"].to_numpy(), both["elpd_loo"].to_numpy(),
                               both["weight"].to_numpy())
        per[name]["elpd_loo_diff"], per[name]["elpd_loo_diff_se"] = diff, se
    effects = {}
    for without, with_ in (pairs or {}).items():
        e: dict[str, Any] = {"without": without, "with": with_}
        if has_holdout:
            s_with = validations[with_]["table"]["log_score"]
            s_without = validations[without]["table"]["log_score"].reindex(s_with.index)
            e["holdout_log_score_diff"], e["holdout_log_score_diff_se"] = _paired(s_with.to_numpy(), s_without.to_numpy())
        else:
            e["holdout_log_score_diff"] = e["holdout_log_score_diff_se"] = None
        e_with, w = _loo_per_customer(fitted[with_], pointwise[with_], summary)
        e_without, _ = _loo_per_customer(fitted[without], pointwise[without], summary)
        e["elpd_loo_diff"], e["elpd_loo_diff_se"] = _paired(e_with, e_without, w)
        d, se = e["holdout_log_score_diff"], e["holdout_log_score_diff_se"]
        e["helps"] = bool(d is not None and d > 2 * se)
        e["hurts"] = bool(d is not None and d < -2 * se)
        effects[without] = e
    meta = dict(getattr(summary, "attrs", {}).get("clvmodels", {}))
    first = per[best]
    result = {
        "models": {n: per[n] for n in fitted},
        "ranking": ranking,
        "best": best,
        "criterion": sentence,
        "criterion_key": key,
        "n_customers": int(len(summary)),
        "time_unit": getattr(fitted[best], "time_unit_", None),
        "holdout_length": first.get("holdout_length"),
        "calibration_end": meta.get("calibration_end"),
        "observation_end": meta.get("observation_end"),
    }
    if pairs:
        result["covariates_effect"] = effects
    return ModelComparison(result=result, models=dict(fitted), validations=validations, spend_model=spend_model,
                           summary=summary)


#: the suffix of a model fitted with the covariates (``clv compare --covariates``): "bgnbd+covariates"
COVARIATES_SUFFIX = "+covariates"


def run_comparison(summary: pd.DataFrame, models: Iterable[str] | str | None = None, *, interval: float = 0.9,
                   max_draws: int | None = DEFAULT_SCORING_DRAWS, loo_draws: int | None = None, spend: bool = True,
                   progress: bool = False, covariates: Mapping[str, Any] | None = None, **fit) -> ModelComparison:
    """Fit each of ``models`` (registered names; default all) on ``summary`` with the same ``fit``
    options, the Gamma-Gamma spend model once when ``spend`` and the summary has ``spend_holdout``,
    and :func:`compare_fitted` them. Returns the :class:`ModelComparison` (what the report needs);
    :func:`compare_models` returns its JSON-ready dict.

    ``covariates``: the purchase models' covariate configuration (constructor keywords:
    ``purchase_covariates``, ``dropout_covariates``, ``group``; columns of ``summary``): each model is
    then fitted twice, without and with them (``"bgnbd"`` and ``"bgnbd+covariates"``, labelled
    "BG/NBD + covariates"), and all are ranked together, so the holdout log score difference (and its
    standard error) says whether the covariates help. The covariate columns are checked (missing, NaN)
    before any fit. The spend model (shared by all) has no covariates."""
    from ..models.registry import transaction_model

    unknown = sorted(set(fit) - set(FIT_OPTIONS))
    if unknown:
        raise TypeError(f"unknown fit option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                        f"use {', '.join(FIT_OPTIONS)}")
    if fit.get("method") == "mode":  # PSIS-LOO needs posterior draws; the mode alone is one point
        raise ValueError("method='mode' cannot be compared: the comparison scores each model with PSIS-LOO over "
                         "posterior draws, and the mode alone is one point; use method='map' (quick) or 'nuts'")
    names = check_model_names(models)
    fit = {"progressbar": progress, **fit}
    cov = {k: v for k, v in (covariates or {}).items() if v}
    estimators, labels = {}, {}
    for name in names:
        estimators[name] = transaction_model(name, **fit)
        if cov:
            estimators[name + COVARIATES_SUFFIX] = transaction_model(name, **fit, **cov)
            labels[name + COVARIATES_SUFFIX] = f"{estimators[name].label} + covariates"
    if cov:  # every problem with the covariate columns, before the first fit
        from ..models.covariates import CovariateDesign, _union

        CovariateDesign._check_columns(summary, _union(estimators[names[0] + COVARIATES_SUFFIX]._covariate_roles()),
                                       "calibration summary", None)
    fitted, seconds = {}, {}
    for name, model in estimators.items():
        _say(progress, f"fitting {labels.get(name, model.label)} on {len(summary):,} calibration customers")
        t0 = time.perf_counter()
        model.fit(summary)
        seconds[name] = time.perf_counter() - t0
        fitted[name] = model
    spend_model = None
    if spend and "spend_holdout" in summary.columns:
        from ..models import GammaGammaModel

        _say(progress, "fitting Gamma-Gamma")
        try:  # the spend model says when the data cannot support it; purchases are still compared then
            spend_model = GammaGammaModel(**fit).fit(summary)
        except DataError as exc:
            warnings.warn(f"spend is not validated: {exc}", UserWarning, stacklevel=2)
    comparison = compare_fitted(fitted, summary, spend_model=spend_model, interval=interval,
                                seed=fit.get("seed") or 0, max_draws=max_draws, loo_draws=loo_draws,
                                progress=progress, fit_seconds=seconds, labels=labels,
                                pairs={n: n + COVARIATES_SUFFIX for n in names} if cov else None)
    comparison.result["settings"] = {**{k: v for k, v in fit.items() if k != "progressbar"}, "interval": interval,
                                     "max_draws": max_draws, "loo_draws": loo_draws}
    if cov:
        comparison.result["settings"]["covariates"] = {k: v for k, v in cov.items()}

    return comparison


def compare_models(summary: pd.DataFrame, models: Iterable[str] | str | None = None, **kwargs) -> dict[str, Any]:
    """Fit several transaction models on the same calibration data and rank them (what
    ``clv compare`` writes).

    ``summary``: a calibration/holdout summary (``clvmodels.summarize(..., calibration_end=...)``);
    without holdout columns the models are scored by PSIS-LOO only. ``models``: registered names
    (:data:`clvmodels.models.registry.TRANSACTION_MODELS`; a list or "bgnbd,mbgnbd"; default all).
    Keywords: the fit options every model gets alike (``method``, ``sampler``, ``chains``, ``draws``,
    ``tune``, ``seed``, ``target_accept``), ``interval``, ``max_draws`` (draws behind the holdout
    numbers), ``loo_draws`` (draws behind PSIS-LOO, default all), ``spend`` (also validate spend),
    ``progress``, ``covariates`` (purchase-model covariate keywords: each model is also fitted with them,
    as ``name+covariates``, and ``"covariates_effect"`` says whether they help; see
    :func:`run_comparison` and :func:`compare_fitted`).

    Returns ``{"models": {name: metrics}, "ranking": [names, best first], "best": name,
    "criterion": sentence, "criterion_key": ..., "settings": ..., ...}`` where each model's metrics are
    every key of ``clv validate``'s JSON plus ``elpd_loo``, ``elpd_loo_se``, ``p_loo``, the Pareto k
    diagnostics (``loo_pareto_k_max``, ``loo_n_customers_high_k``, ...), the differences to the best
    model with their standard errors (``holdout_log_score_diff``, ``elpd_loo_diff``, ``*_se``) and
    ``timings_seconds``. The ranking criterion is described in the module docstring and in
    ``"criterion"``.
    """
    return run_comparison(summary, models, **kwargs).result
