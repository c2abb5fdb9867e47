"""Static customer covariates on Spark: which columns the models read, and their checks on the cluster.

A model with covariates (:mod:`clvmodels.models.covariates`) reads extra columns of the customer summary.
On Spark they travel with the summary: :func:`clvmodels.spark.triplet_counts` and
:func:`clvmodels.spark.spend_counts` group by them next to (frequency, recency, T), and
:func:`clvmodels.spark.score_spark` carries them to the executors. Before scoring, their values are
checked here, on the cluster, with one aggregate over the summary (missing values, NaN or infinite
numbers, a level the fit did not see), before any row reaches a Python worker: a problem found inside a
pandas UDF would come back as a Java stack trace around a Python one, not as an :class:`InputError`
naming the column. Only when something is wrong does a second query fetch a few offending customers to
show. Fitting needs no extra pass: the distinct rows collected hold every covariate value, and only a bad
one sends that query (:func:`rows_look_valid`).

A covariate is numeric when its Spark type is a number (byte ... long, float, double, decimal) and
categorical when it is text or bool, as a pandas column's dtype decides it on one machine. Other types
(dates, arrays, ...) are refused, naming the column.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import ProblemCollector

__all__ = ["model_covariate_columns", "check_covariates_spark", "covariate_kind",
           "prepare_covariates", "probe_value", "rows_look_valid"]

#: offending customers shown per problem
_SHOWN = 10


def model_covariate_columns(*models) -> list[str]:
    """The covariate columns the (unfitted) models are configured with, in order, each once:
    ``purchase_covariates``, ``dropout_covariates``, ``group`` and ``spend_covariates``."""
    out: list[str] = []
    for m in models:
        roles = getattr(m, "_covariate_roles", None)
        if m is None or roles is None:
            continue
        for cols in roles().values():
            out += [c for c in cols if c not in out]
    return out


def covariate_kind(data_type) -> str | None:
    """'numeric' or 'categorical' for a Spark type, None for a type a covariate cannot have."""
    from pyspark.sql import types as T

    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
                              T.DecimalType)):
        return "numeric"
    if isinstance(data_type, (T.StringType, T.BooleanType)):
        return "categorical"
    return None


def prepare_covariates(sdf, columns: Sequence[str]):
    """``sdf`` with its decimal covariates cast to double (toPandas would give Python Decimal objects, which
    pandas treats as text: a categorical covariate). Refuses a missing covariate column or one of a type a
    covariate cannot have, naming it."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    problems = ProblemCollector("Spark summary")
    for c in columns:
        if c not in sdf.columns:
            problems.add(c, "covariate column is missing (covariates are columns of the customer summary: join "
                            "the customer attributes to the Spark summary by customer_id first)")
        elif covariate_kind(sdf.schema[c].dataType) is None:
            problems.add(c, f"a covariate must be a number, text or bool column; this one is "
                            f"{sdf.schema[c].dataType.simpleString()}")
    problems.raise_if_any()
    for c in columns:
        if isinstance(sdf.schema[c].dataType, T.DecimalType):
            sdf = sdf.withColumn(c, F.col(f"`{c}`").cast("double"))
    return sdf


def rows_look_valid(rows, columns: Sequence[str]) -> bool:
    """Whether collected distinct rows (:func:`clvmodels.spark.triplet_counts` with ``covariates``) hold
    no missing value in a covariate and no NaN or infinite number: the distinct rows carry every value of
    the summary, so they answer this without another pass over it (when they do not, the caller runs
    :func:`check_covariates_spark` to name the customers)."""
    import pandas as pd

    for c in columns:
        s = rows[c]
        if s.isna().any():
            return False
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            if not np.isfinite(s.to_numpy(float)).all():
                return False
    return True


def _text(col, data_type):
    """A column's values as the text :func:`clvmodels.models.covariates._level_text` compares levels by
    (Python's ``str``): Spark writes booleans 'true'/'false', Python 'True'/'False'."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(data_type, T.BooleanType):
        return F.when(col, F.lit("True")).when(~col, F.lit("False"))
    return col.cast("string")


def _bad_numeric(col, data_type):
    """Missing, non-numeric (a text column where the fit had numbers) or infinite values."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(data_type, (T.FloatType, T.DoubleType)):
        v = col
    else:
        v = col.cast("double")  # text that is not a number becomes null, as pd.to_numeric(errors="coerce") NaN
    return v.isNull() | F.isnan(v) | (F.abs(v) == F.lit(float("inf")))


def check_covariates_spark(sdf, columns: Iterable[str], *, designs: Sequence = (), customer_id: str = "customer_id",
                           what: str = "Spark summary") -> None:
    """Every problem with the covariate columns of a Spark summary at once, as
    :class:`~clvmodels.errors.InputError` naming the column, the number of customers and the first few of
    them: a missing value, a numeric covariate that is NaN, infinite or not a number, and, given the fitted
    ``designs`` (:class:`~clvmodels.models.covariates.CovariateDesign`, e.g. of the purchase and the spend
    model), a categorical level a design did not see. One Spark aggregate over the summary; a second query
    for the offending customers only when there is a problem. Without ``designs`` a column is numeric or
    categorical by its Spark type (:func:`covariate_kind`); with them, by the design's kind (as the pandas
    check at scoring)."""
    from pyspark.sql import functions as F

    columns = list(dict.fromkeys(columns))
    if not columns:
        return
    sdf = prepare_covariates(sdf, columns)
    checks = []  # (column, message, boolean Spark expression of an offending row)
    for c in columns:
        col, dt = F.col(f"`{c}`"), sdf.schema[c].dataType
        known = [d.covariates[c] for d in designs if d is not None and c in d.covariates]
        kind = known[0].kind if known else covariate_kind(dt)
        if kind == "numeric":
            checks.append((c, "missing, non-numeric or infinite values (a numeric covariate)", _bad_numeric(col, dt)))
            continue
        checks.append((c, "missing values (every customer needs a level of this covariate)", col.isNull()))
        seen: list[str] | None = None
        for cov in known:  # a level must be known to every model that reads the column
            seen = list(cov.levels) if seen is None else [lv for lv in seen if lv in cov.levels]
        if seen is not None:
            checks.append((c, seen, col.isNotNull() & ~_text(col, dt).isin(seen)))
    counts = sdf.agg(*[F.sum(F.when(bad, 1).otherwise(0)).alias(f"p{i}") for i, (_, _, bad) in enumerate(checks)]
                     ).collect()[0]
    problems = ProblemCollector(what)
    for i, (c, message, bad) in enumerate(checks):
        n = int(counts[f"p{i}"] or 0)
        if not n:
            continue
        shown = [customer_id, c] if customer_id in sdf.columns else [c]
        rows = sdf.where(bad).select(*[F.col(f"`{x}`") for x in shown]).limit(_SHOWN).toPandas()
        if customer_id in rows.columns:
            rows = rows.set_index(customer_id)
        if not isinstance(message, str):  # the levels the fit knows; the unseen ones, all of them (up to 20)
            text = _text(F.col(f"`{c}`"), sdf.schema[c].dataType)
            unseen = sorted(r[0] for r in sdf.where(bad).select(text.alias("v")).distinct().limit(20).collect())
            message = (f"level{'s' if len(unseen) > 1 else ''} {', '.join(map(repr, unseen))} not seen in the fit (it "
                       f"knows {', '.join(map(repr, message[:20]))}): a model has no coefficient for an unseen level; "
                       "refit with these customers")
        problems.add(c, message, rows, n)
    problems.raise_if_any()


def probe_value(known: Sequence, data_type):
    """A valid value of one covariate for the scorer's one-customer probe, of the Spark column's type, given
    the column's :class:`~clvmodels.models.covariates.Covariate` in each model that reads it: a numeric
    covariate's fitted mean (the first model's), a categorical one's reference level when every model knows
    it, else the first level they all know (a pooled group has no reference)."""
    from pyspark.sql import types as T

    cov = known[0]
    integral = isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType))
    if cov.kind == "numeric":
        return np.array([int(round(cov.mean))], dtype=np.int64) if integral else np.array([float(cov.mean)])
    common = [lv for lv in cov.levels if all(lv in k.levels for k in known)] or list(cov.levels)
    level = cov.reference if cov.reference in common else common[0]
    if isinstance(data_type, T.BooleanType):
        return np.array([level == "True"])
    if integral:  # levels of a number column (a design from a pandas fit can hold them as text)
        return np.array([int(level)], dtype=np.int64)
    if covariate_kind(data_type) == "numeric":
        return np.array([float(level)])
    return np.array([level], dtype=object)
