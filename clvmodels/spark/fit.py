"""Fitting from a Spark summary: only the distinct rows the likelihoods need come to the driver.

The BG/NBD likelihood of a customer depends on the data only through (frequency, recency, T), so the
driver gets the distinct triplets with their customer counts (:func:`triplet_counts`: one Spark
group-by) and :meth:`clvmodels.BetaGeoModel.fit` fits from them (it accepts a ``n_customers`` column
of weights). The number of distinct triplets is bounded by the calendar, not by the customers: with
daily dates, recency and T are whole days up to the length of the history, so beyond a million or so
customers the fit costs the same whatever the size of the base.

The Gamma-Gamma likelihood depends on (frequency, monetary_value); :func:`spend_counts` collects
those distinct pairs with their counts. Mean spends are continuous, so there are about as many pairs
as customers with repeat purchases (unless amounts are few round prices): 16 bytes and a count per
repeat customer on the driver, two numbers and no ids.

Models with static covariates (``purchase_covariates=``, ``spend_covariates=``, ``group=``) read them from
columns of the summary: the rows that come to the driver are then distinct in the covariates too, with
their columns kept, so the cost grows with the distinct (covariate row, triplet) pairs: a few categorical
covariates multiply the rows by their cells, a numeric one with many values by its distinct values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..units import check_unit
from .summary import summary_metadata

__all__ = ["triplet_counts", "spend_counts", "fit_models_spark"]


def _time_unit(summary_sdf, time_unit: str | None) -> str:
    meta_unit = summary_metadata(summary_sdf).get("time_unit")
    if time_unit is None and meta_unit is None:
        from ..errors import UnitError

        raise UnitError("the time unit of this Spark summary is unknown: pass time_unit='D', 'W' or 'M', "
                        "or build the summary with clvmodels.spark.summarize_spark, which records it")
    if time_unit is not None and meta_unit is not None and check_unit(time_unit) != check_unit(meta_unit):
        from ..errors import UnitError

        raise UnitError(f"time_unit={time_unit!r} but the summary was built in {meta_unit!r}")
    return check_unit(time_unit or meta_unit)


def _attrs(summary_sdf, unit: str, n: int) -> dict:
    meta = dict(summary_metadata(summary_sdf))
    meta["time_unit"] = unit
    meta["n_customers"] = n
    return {"clvmodels": meta}


def _check_columns(summary_sdf, columns) -> None:
    from ..errors import InputError, ProblemCollector

    problems = ProblemCollector("Spark summary")
    for c in columns:
        if c not in summary_sdf.columns:
            problems.add(c, "required column is missing (build the summary with clvmodels.spark.summarize_spark)")
    if problems:
        raise InputError(problems.problems, what="Spark summary")


def _covariate_list(covariates) -> list[str]:
    if covariates is None:
        return []
    if isinstance(covariates, str):
        covariates = [c.strip() for c in covariates.split(",") if c.strip()]
    return list(dict.fromkeys(covariates))


def triplet_counts(summary_sdf, *, time_unit: str | None = None, covariates=None,
                   customer_id: str = "customer_id") -> pd.DataFrame:
    """Distinct (frequency, recency, T) of a Spark summary with their customer counts, on the driver.

    Returns a pandas DataFrame with columns ``frequency`` (int64), ``recency``, ``T`` (float64) and
    ``n_customers`` (int64), sorted by frequency, T and recency, with ``attrs["clvmodels"]`` (time unit
    and the summary's metadata), ready for ``BetaGeoModel().fit(counts)``.

    ``covariates`` (column names of the summary, e.g. ``["channel", "age"]``): the rows are the distinct
    (covariates..., frequency, recency, T), the covariate columns first and kept as they are (text and
    bool columns categorical, numbers numeric; a decimal column as float64), sorted by them and then as
    above: what a model with covariates fits from (``BetaGeoModel(purchase_covariates=[...]).fit(counts)``
    weights every row by ``n_customers``, its design's means, sds and reference levels included). The
    covariates are checked (a missing value, a NaN or infinite number raise
    :class:`~clvmodels.errors.InputError` naming the column and the customers, ``customer_id`` naming the
    id column): on the distinct rows themselves, which hold every value, and only when one is bad by
    :func:`clvmodels.spark.covariates.check_covariates_spark` on the cluster, to name the customers.
    """
    _check_columns(summary_sdf, ("frequency", "recency", "T"))
    unit = _time_unit(summary_sdf, time_unit)
    covs = _covariate_list(covariates)
    rows = _triplet_counts(summary_sdf, unit, covs)
    _check_rows(summary_sdf, [rows], covs, customer_id)
    return rows


def _check_rows(summary_sdf, row_sets, covs: list[str], customer_id: str) -> None:
    """The covariates of collected distinct rows; when one is bad, every problem of ``covs`` named with
    customers by a query on the cluster (:func:`check_covariates_spark` raises)."""
    from .covariates import check_covariates_spark, rows_look_valid

    if covs and not all(rows_look_valid(r, [c for c in covs if c in r.columns]) for r in row_sets):
        check_covariates_spark(summary_sdf, covs, customer_id=customer_id)


def _triplet_counts(summary_sdf, unit: str, covs: list[str]) -> pd.DataFrame:
    from pyspark.sql import functions as F

    from .covariates import prepare_covariates

    sdf = prepare_covariates(summary_sdf, covs)
    keys = [*covs, "frequency", "recency", "T"]
    pdf = (sdf.groupBy(*[F.col(f"`{c}`") for c in keys]).agg(F.count(F.lit(1)).alias("n_customers"))
           .toPandas())
    pdf = pdf.astype({"frequency": np.int64, "recency": np.float64, "T": np.float64, "n_customers": np.int64})
    pdf = pdf.sort_values([*covs, "frequency", "T", "recency"], kind="stable").reset_index(drop=True)
    pdf.attrs = _attrs(summary_sdf, unit, int(pdf["n_customers"].sum()))
    return pdf


def spend_counts(summary_sdf, *, time_unit: str | None = None, first_purchase: bool = False, covariates=None,
                 customer_id: str = "customer_id") -> pd.DataFrame:
    """Distinct (frequency, monetary_value) of a Spark summary with their customer counts, on the driver
    (customers without repeat purchases are one row, (0, 0.0)): the Gamma-Gamma model's data. With
    ``first_purchase`` (a spend model on all purchase occasions, ``GammaGammaModel(first_purchase=True)``)
    the rows are distinct (frequency, monetary_value, first_purchase_value): one-time buyers then differ
    by their first purchase.

    Returns a pandas DataFrame with ``frequency`` (int64), ``monetary_value`` (float64), with
    ``first_purchase`` also ``first_purchase_value`` (float64), and ``n_customers`` (int64), sorted,
    with ``attrs["clvmodels"]``. ``covariates`` (e.g. a spend model's ``spend_covariates``): the rows are
    distinct in them too, the covariate columns first, checked as in
    :func:`triplet_counts`.
    """
    keys = ["frequency", "monetary_value"] + (["first_purchase_value"] if first_purchase else [])
    _check_columns(summary_sdf, tuple(keys))
    unit = _time_unit(summary_sdf, time_unit)
    covs = _covariate_list(covariates)
    rows = _spend_counts(summary_sdf, unit, first_purchase, covs)
    _check_rows(summary_sdf, [rows], covs, customer_id)
    return rows


def _spend_counts(summary_sdf, unit: str, first_purchase: bool, covs: list[str]) -> pd.DataFrame:
    from pyspark.sql import functions as F

    from .covariates import prepare_covariates

    sdf = prepare_covariates(summary_sdf, covs)
    keys = ["frequency", "monetary_value"] + (["first_purchase_value"] if first_purchase else [])
    mv = F.when(F.col("frequency") > 0, F.col("monetary_value")).otherwise(F.lit(0.0)).alias("monetary_value")
    cols = [*[F.col(f"`{c}`") for c in covs], "frequency", mv] + (["first_purchase_value"] if first_purchase else [])
    pdf = (sdf.select(*cols).groupBy(*[F.col(f"`{c}`") for c in [*covs, *keys]])
           .agg(F.count(F.lit(1)).alias("n_customers")).toPandas())
    pdf = pdf.astype({**{k: np.float64 for k in keys}, "frequency": np.int64, "n_customers": np.int64})
    pdf = pdf.sort_values([*covs, *keys], kind="stable").reset_index(drop=True)
    pdf.attrs = _attrs(summary_sdf, unit, int(pdf["n_customers"].sum()))
    return pdf


def fit_models_spark(summary_sdf, *, model: str | None = None, bgnbd=None, gamma_gamma=None,
                     time_unit: str | None = None, customer_id: str = "customer_id", **model_kwargs):
    """Fit a transaction model (BG/NBD unless ``model`` names another of
    :data:`clvmodels.models.registry.TRANSACTION_MODELS`) and Gamma-Gamma to a Spark summary; returns
    ``(purchase_model, spend_model)``, fitted.

    ``bgnbd`` (any configured, unfitted transaction model: the old keyword's name) and ``gamma_gamma``
    are configured, unfitted models (e.g. ``BetaGeoModel(method="map")``); by default both are built
    with ``model_kwargs`` (``method``, ``chains``, ``draws``, ``seed``, ``purchase_covariates``, ...).
    Only :func:`triplet_counts` and :func:`spend_counts` come to the driver. The fits equal fits on the
    per-customer pandas summary: the likelihoods see the same distinct rows with the same weights.
    The transaction model's fit records ``fit_info_["n_customers"]`` and ``["n_triplets"]``.

    Models with covariates (``purchase_covariates``, ``dropout_covariates``, ``group``,
    ``spend_covariates``: columns of ``summary_sdf``) get their columns in the distinct rows
    (``covariates=`` of :func:`triplet_counts` / :func:`spend_counts`): the driver receives one row per
    distinct (covariates, frequency, recency, T), so the cost grows with what is distinct, not with the
    customers. Every covariate of both models is checked before either fit, all problems at once
    (:class:`~clvmodels.errors.InputError` naming the column and customers, ``customer_id`` their ids):
    on the collected rows, and by a query on the cluster only to name the customers of a bad value.
    """
    from ..models import GammaGammaModel
    from ..models.registry import DEFAULT_MODEL, transaction_model
    from .covariates import model_covariate_columns, prepare_covariates

    if bgnbd is None or gamma_gamma is None:  # covariate options configure the model they belong to
        spend_keys = {"spend_covariates", "first_purchase"}
        purchase_kw = {k: v for k, v in model_kwargs.items() if k not in spend_keys}
        spend_kw = {k: v for k, v in model_kwargs.items()
                    if k not in {"purchase_covariates", "dropout_covariates", "group"}}
    bg = bgnbd if bgnbd is not None else transaction_model(model or DEFAULT_MODEL, **purchase_kw)
    gg = gamma_gamma if gamma_gamma is not None else GammaGammaModel(**spend_kw)
    unit = _time_unit(summary_sdf, time_unit)
    first = bool(getattr(gg, "first_purchase", False))
    _check_columns(summary_sdf, ("frequency", "recency", "T", "monetary_value")
                   + (("first_purchase_value",) if first else ()))
    p_cov, s_cov = model_covariate_columns(bg), model_covariate_columns(gg)
    prepare_covariates(summary_sdf, [*p_cov, *s_cov])  # missing columns and wrong types, of both models at once
    trip = _triplet_counts(summary_sdf, unit, p_cov)
    spend = _spend_counts(summary_sdf, unit, first, s_cov)
    # the covariates of both models checked on the rows collected, before either fit
    _check_rows(summary_sdf, [trip, spend], list(dict.fromkeys([*p_cov, *s_cov])), customer_id)
    bg.fit(trip)
    gg.fit(spend)
    gg.fit_info_["n_distinct_spend_rows"] = int(len(spend))
    return bg, gg
