"""Scoring a Spark DataFrame of customers with fitted models, partition by partition.

:func:`score_spark` adds the forecast columns of ``clv forecast`` (:data:`clvmodels.scoring.FORECAST_COLUMNS`)
to a Spark summary. The fitted models are saved to their model-file bytes (a small zip of the
parameter draws, no pickles) and broadcast once; each executor's Python worker loads them once and,
with ``mapInPandas``, calls :func:`clvmodels.scoring.score` (the very function the notebook API and the
CLI call) on each Arrow batch of customers. Every per-customer number is therefore the one
``score`` gives on a single machine; the work is spread over the cluster's cores and never collected.

Segments are the one thing that depends on all customers (value tiers are shares of the ranking by
CLV): they are recomputed over the whole DataFrame after the per-batch scoring, exactly as
:func:`clvmodels.value.value_segments` ranks them (ties never cut: every customer whose value equals
the one at a cut-off is in the top). The cut-offs are found without sorting the data:
approximate quantiles bracket each cut-off, the few rows inside the bracket are ranked exactly on the
driver, and the tier of every customer is then a comparison with the cut-off.

:func:`write_forecast_parquet` writes the result as a Parquet directory, first under a temporary name
beside the target and then renamed into place, so a failed job never leaves a half-written forecast
where a reader would take it for a complete one.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

import numpy as np
import pandas as pd

from .._renamed import renamed_keywords
from ..draws import DEFAULT_SCORING_DRAWS

__all__ = ["score_spark", "write_forecast_parquet", "model_bytes", "models_from_bytes"]

#: relative rank error of the approximate quantiles that bracket the segment cut-offs
_QUANTILE_ERROR = 1e-4

# per Python worker: broadcast id -> loaded models (workers are reused across tasks)
_MODEL_CACHE: dict[Any, tuple] = {}


def model_bytes(model) -> bytes:
    """A fitted model as the bytes of its model file (:meth:`BayesianModel.save`)."""
    with tempfile.TemporaryDirectory(prefix="clvmodels-") as d:
        path = os.path.join(d, "model.clvm")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def models_from_bytes(*blobs: bytes) -> tuple:
    """Models from model-file bytes (:func:`model_bytes`)."""
    from ..models.base import BayesianModel

    out = []
    with tempfile.TemporaryDirectory(prefix="clvmodels-") as d:
        for i, blob in enumerate(blobs):
            path = os.path.join(d, f"model{i}.clvm")
            with open(path, "wb") as fh:
                fh.write(blob)
            out.append(BayesianModel.load(path))
    return tuple(out)


def _worker_models(bc):
    # keyed by a token made for each scoring call, not by the broadcast id: ids start again with each new
    # SparkContext, and a reused Python worker then returned the models of an earlier context's call
    blobs = bc.value
    key = blobs.get("token", bc.id if hasattr(bc, "id") else id(bc))
    models = _MODEL_CACHE.get(key)
    if models is None:
        models = models_from_bytes(blobs["bgnbd"], blobs["gamma_gamma"])
        _MODEL_CACHE.clear()  # one set of models per worker at a time
        _MODEL_CACHE[key] = models
    return models


def _task_threads(task_cpus: int) -> None:
    """The scoring kernels' threads in a Spark task: the cores Spark gave it (``spark.task.cpus``, 1 by
    default), not every core of the machine. Spark already runs one task per core; numba's parallel kernels
    on all cores in every task oversubscribe them, and each kernel call then waits for threads the other
    tasks hold (measured: a call on 8 rows took 150 ms with 2 threads per task on 2 busy cores, 1 ms with
    one), which a model with covariates pays once per cell in every Arrow batch."""
    try:
        import numba

        numba.set_num_threads(max(1, min(int(task_cpus), numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # pragma: no cover - numba absent or its threading layer unavailable: leave it
        pass


def _spark_type(dtype, name: str, id_type):
    from pyspark.sql import types as T

    if name == "customer_id":
        return id_type
    if name == "last_purchase":  # a date, as in the Spark summary (score() gives datetime64 at midnight)
        return T.DateType()
    if isinstance(dtype, pd.CategoricalDtype) or dtype == object or pd.api.types.is_string_dtype(dtype):
        return T.StringType()
    if pd.api.types.is_bool_dtype(dtype):
        return T.BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return T.LongType()
    if pd.api.types.is_float_dtype(dtype):
        return T.DoubleType()
    raise TypeError(f"forecast column {name!r} has an unexpected type {dtype}")


def _check_option(value, name: str, columns: list[str]) -> str | None:
    """A per-customer option must be a scalar or the name of a column of the Spark summary."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in columns:
            from ..errors import InputError

            raise InputError(f"{name}={value!r} names no column of the Spark summary")
        return value
    if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a number or the name of a column of the Spark summary "
                        "(join per-customer values to the summary first)")
    float(value)
    return None


def _probe(columns: list[str], option_columns: list[str], id_dtype, metadata: dict,
           covariates: dict | None = None) -> pd.DataFrame:
    """A one-customer summary to learn the forecast table's columns and types on the driver;
    ``covariates``: column -> a valid value (:func:`clvmodels.spark.covariates.probe_value`)."""
    data = {"frequency": np.array([1], np.int64), "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}
    if "first_purchase_value" in columns:
        data["first_purchase_value"] = [1.0]
    if "historical_clv" in columns:
        data["historical_clv"] = [1.0]
    if "last_purchase" in columns:
        data["last_purchase"] = [pd.Timestamp("2000-01-01")]
    for c in option_columns:
        data[c] = [1.0]
    for c, v in (covariates or {}).items():
        data[c] = v
    probe = pd.DataFrame(data, index=pd.Index(np.array([0]).astype(id_dtype) if id_dtype is not None else ["0"],
                                              name="customer_id"))
    probe.attrs["clvmodels"] = metadata
    return probe


@renamed_keywords(bgnbd_model="purchase_model", gamma_gamma_model="spend_model")
def score_spark(summary_sdf, purchase_model, spend_model, horizon, *, discount_rate: float = 0.0,
                margin=1.0, cost_to_serve=0.0, acquisition_cost=None, interval: float = 0.9,
                max_draws: int | None = DEFAULT_SCORING_DRAWS, segment_options: dict | None = None,
                customer_id: str = "customer_id", group_triplets: bool = True, persist: bool = True):
    """The forecast table of a Spark summary: a Spark DataFrame with the columns of ``clv forecast``'s
    table (:data:`clvmodels.scoring.FORECAST_COLUMNS`, plus the CAC columns with ``acquisition_cost``).

    Arguments are those of :func:`clvmodels.scoring.score`; per-customer ``margin``,
    ``cost_to_serve`` and ``acquisition_cost`` are given as the names of columns of ``summary_sdf``
    (or as numbers). ``customer_id`` names the id column. Each customer's numbers are what
    :func:`clvmodels.scoring.score` gives for them (it runs on each Arrow batch of each partition);
    ``segment`` is ranked over all customers, as :func:`clvmodels.value.value_segments` does.

    ``group_triplets`` (default) first hash-partitions the customers by (frequency, recency, T) and
    sorts each partition by them, so that customers sharing a triplet meet in the same Arrow batch and
    share one computation (``score`` works per distinct triplet within what it is given): the cost then
    follows the distinct triplets rather than the customers, at the price of one shuffle of the summary
    columns.

    Models with covariates (:mod:`clvmodels.models.covariates`): their columns (in the fitted designs)
    must be columns of ``summary_sdf``; they travel to the executors with the summary, ``score`` splits
    each batch into cells there, and the table keeps them after the fixed columns, as ``score`` does
    (with the summary's Spark types). They are checked first, on the cluster, with one aggregate
    (:func:`clvmodels.spark.covariates.check_covariates_spark`): a missing value, a NaN or a level a model
    did not see raises :class:`~clvmodels.errors.InputError` naming the column and the customers before
    any scoring (one more pass over ``summary_sdf``: persist a summary computed from transactions first). With ``group_triplets`` the customers are partitioned by (covariates, frequency, recency,
    T) and sorted by the covariates first, so that a batch holds few cells.

    With ``persist`` (default) the scored rows are cached (memory, spilling to disk) while the segment
    cut-offs are computed and for the actions that follow, so the models run once per customer
    (``spark.catalog.clearCache()`` frees the cache when the forecast has been written). Without
    ``persist`` every action on the result scores the customers again.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from ..scoring import score
    from ..value.segments import value_segments
    from ..scoring.table import covariate_columns
    from .covariates import check_covariates_spark, prepare_covariates, probe_value
    from .session import quiet_pandas_warning
    from .summary import METADATA_KEY, summary_metadata

    quiet_pandas_warning()
    purchase_model._check_fitted()
    spend_model._check_fitted()
    columns = list(summary_sdf.columns)
    needed = [customer_id, "frequency", "recency", "T", "monetary_value"]
    if getattr(spend_model, "first_purchase", False):  # the spend model averages all occasions
        needed.append("first_purchase_value")
    missing = [c for c in needed if c not in columns]
    if missing:
        from ..errors import InputError, Problem

        raise InputError([Problem(c, "required column is missing (build the summary with "
                                     "clvmodels.spark.summarize_spark)") for c in missing], what="Spark summary")
    # models with covariates: their columns travel to the executors and are checked here first, on the cluster
    # (an InputError raised inside mapInPandas would reach the caller as a Java error around a Python one)
    covariates = covariate_columns(purchase_model, spend_model)
    check_covariates_spark(summary_sdf, covariates, designs=[getattr(m, "covariates_", None)
                                                             for m in (purchase_model, spend_model)],
                           customer_id=customer_id, what="Spark summary to score")
    option_columns = [c for c in (_check_option(margin, "margin", columns),
                                  _check_option(cost_to_serve, "cost_to_serve", columns),
                                  _check_option(acquisition_cost, "acquisition_cost", columns)) if c]
    keep = needed + [c for c in ("historical_clv", "last_purchase") if c in columns]
    keep += [c for c in dict.fromkeys(option_columns) if c not in keep]
    keep += [c for c in covariates if c not in keep]
    meta = summary_metadata(summary_sdf)
    id_field = summary_sdf.schema[customer_id]
    id_type = id_field.dataType
    integral = isinstance(id_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType))
    if integral:
        id_type = T.LongType()
    id_dtype = np.int64 if integral else (np.float64 if isinstance(id_type, (T.FloatType, T.DoubleType)) else None)

    kwargs = dict(discount_rate=discount_rate, margin=margin, cost_to_serve=cost_to_serve,
                  acquisition_cost=acquisition_cost, interval=interval, max_draws=max_draws,
                  segment_options=segment_options)
    # the output's columns and types, from the same function on a one-customer probe (this also checks
    # every option, e.g. the horizon's unit, before any work is sent to the cluster)
    src = prepare_covariates(summary_sdf, covariates)  # decimal covariates as double
    probe_values = {}
    for c in covariates:  # the reference customer, with a value every model that reads the column knows
        known = [m.covariates_.covariates[c] for m in (purchase_model, spend_model)
                 if getattr(m, "covariates_", None) is not None and c in m.covariates_.covariates]
        probe_values[c] = probe_value(known, src.schema[c].dataType)
    probe = score(_probe(keep, option_columns, id_dtype, meta, probe_values), purchase_model, spend_model, horizon,
                  **{**kwargs, "max_draws": 8})
    value_segments(probe, **(segment_options or {}))
    out_cols = list(probe.columns)
    clv_meta = {**probe.attrs.get("clvmodels_clv", {})}
    # covariate columns are copied through unchanged: the summary's own Spark types
    schema = T.StructType([T.StructField(c, src.schema[c].dataType if c in covariates
                                         else _spark_type(probe[c].dtype, c, id_type), True) for c in out_cols])

    spark = summary_sdf.sparkSession
    task_cpus = int(spark.conf.get("spark.task.cpus", "1") or 1)
    # the models travel once, as the bytes of their model files (no pickled objects)
    bc = spark.sparkContext.broadcast({"bgnbd": model_bytes(purchase_model),
                                       "gamma_gamma": model_bytes(spend_model), "token": uuid.uuid4().hex})

    def run(batches):
        import warnings

        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        from clvmodels.scoring import score as score_batch

        _task_threads(task_cpus)
        bg, gg = _worker_models(bc)
        for batch in batches:
            if len(batch) == 0:
                continue
            s = batch.set_index(customer_id)
            s.index.name = "customer_id"
            s.attrs["clvmodels"] = meta
            table = score_batch(s, bg, gg, horizon, **kwargs)
            table["segment"] = table["segment"].astype(str)
            if "last_purchase" in table.columns:
                table["last_purchase"] = table["last_purchase"].dt.date
            yield table[out_cols]

    src = src.select(*[F.col(f"`{c}`") for c in keep])
    if integral:
        src = src.withColumn(customer_id, F.col(f"`{customer_id}`").cast("long"))
    if group_triplets:  # with covariates: customers of one cell and triplet together, each cell's run contiguous
        keys = [F.col(f"`{c}`") for c in covariates]
        src = (src.repartition(*keys, "frequency", "recency", "T")
               .sortWithinPartitions(*keys, "frequency", "T", "recency"))
    scored = src.mapInPandas(run, schema)
    if persist:
        scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    segment = _global_segments(scored, "historical_clv" in out_cols, segment_options or {})
    out = scored.withColumn("segment", segment)
    s_bg = purchase_model.posterior_.sizes["chain"] * purchase_model.posterior_.sizes["draw"]
    s_gg = spend_model.posterior_.sizes["chain"] * spend_model.posterior_.sizes["draw"]
    clv_meta["n_draws"] = int(min(s_bg, s_gg, max_draws or max(s_bg, s_gg)))  # as customer_lifetime_value
    forecast_meta = {"clvmodels_clv": clv_meta, METADATA_KEY: meta}
    # each column's description and unit, as clv forecast writes them in its Parquet fields
    from ..scoring.table import column_descriptions

    described = column_descriptions(out_cols, time_unit=purchase_model.time_unit_, horizon=horizon, interval=interval,
                                    covariates=covariates)
    cols = ([F.col("customer_id").alias("customer_id", metadata={**forecast_meta, **described["customer_id"]})]
            + [F.col(f"`{c}`").alias(c, metadata=described[c]) for c in out_cols[1:]])
    return out.select(*cols)


# ---------------------------------------------------------------------------------------------------
# Segments over the whole DataFrame
# ---------------------------------------------------------------------------------------------------
def _global_segments(scored, has_history: bool, options: dict):
    """The ``segment`` column of :func:`clvmodels.value.value_segments`, over all rows of ``scored``."""
    from pyspark.sql import functions as F

    high_share = options.get("high_share", 0.2)
    medium_share = options.get("medium_share", 0.3)
    risk_value_share = options.get("risk_value_share", 0.3)
    risk_p_alive = options.get("risk_p_alive", 0.5)
    risk_p_any = options.get("risk_p_any_purchase", 0.5)

    def valid(c):
        return F.col(c).isNotNull() & ~F.isnan(F.col(c))

    aggs = [F.count(F.lit(1)).alias("n"), F.sum(F.when(valid("clv"), 1).otherwise(0)).alias("n_clv")]
    if has_history:
        aggs.append(F.sum(F.when(valid("historical_clv"), 1).otherwise(0)).alias("n_hist"))
    counts = scored.agg(*aggs).collect()[0]
    n = int(counts["n"])
    # value_segments: rank <= share * n, ranks 1..n, so the top floor(share * n)
    k_high = int(np.floor(high_share * n))
    k_med = int(np.floor((high_share + medium_share) * n))
    k_risk = int(np.floor(risk_value_share * n))
    top_clv = _top_k(scored, "clv", [k_high, k_med, k_risk], int(counts["n_clv"] or 0))
    tier = (F.when(top_clv[k_high], F.lit("high value"))
            .when(top_clv[k_med], F.lit("medium value")).otherwise(F.lit("low value")))
    valuable = top_clv[k_risk]
    if has_history:
        valuable = valuable | _top_k(scored, "historical_clv", [k_risk], int(counts["n_hist"] or 0))[k_risk]
    unlikely = F.col("p_alive") < F.lit(float(risk_p_alive))
    if risk_p_any is not None:
        unlikely = unlikely | (F.col("p_any_purchase") < F.lit(float(risk_p_any)))
    at_risk = valuable & F.coalesce(unlikely, F.lit(False))
    return F.when(at_risk, F.lit("at risk")).otherwise(tier)


def _top_k(sdf, col: str, ks: list[int], n_valid: int) -> dict:
    """For each k, a boolean Spark expression: the row's value is at least the k-th largest (ties with
    the k-th all in: value_segments ranks by method="min" so that ties are never cut), NaN and null
    values never in the top."""
    from pyspark.sql import functions as F

    c, cid = F.col(col), F.col("customer_id")
    ok = c.isNotNull() & ~F.isnan(c)
    out: dict[int, Any] = {}
    pending = []
    for k in dict.fromkeys(ks):
        if k <= 0:
            out[k] = F.lit(False)
        elif k >= n_valid:
            out[k] = ok
        else:
            pending.append(k)
    if not pending:
        return out
    valid = sdf.where(ok).select(c.alias("v"), cid.alias("id"))
    e = _QUANTILE_ERROR
    probs, bounds = [], {}
    for k in pending:
        p = (n_valid - k + 0.5) / n_valid  # ascending position of the k-th largest
        bounds[k] = (p - 3 * e, p + 3 * e)
        probs += [min(max(p - 3 * e, 0.0), 1.0), min(max(p + 3 * e, 0.0), 1.0)]
    qs = valid.approxQuantile("v", probs, e)
    for i, k in enumerate(pending):
        lo = qs[2 * i] if bounds[k][0] > 0 else -np.inf
        hi = qs[2 * i + 1] if bounds[k][1] < 1 else np.inf
        for _attempt in range(3):
            v_star, id_star = _kth_in_bracket(valid, k, lo, hi)
            if v_star is not None:
                break
            # the bracket missed (should not happen with the quantiles' guarantee): widen it
            if id_star == "below":
                lo = -np.inf
            else:
                hi = np.inf
        else:  # pragma: no cover
            raise RuntimeError(f"could not locate the cut-off of the top {k} by {col}")
        out[k] = ok & (c >= F.lit(v_star))
    return out


def _kth_in_bracket(valid, k: int, lo: float, hi: float):
    """The k-th row (1-based) in the order (v desc, id asc) if it lies in [lo, hi]: ``(v, id)``; else
    ``(None, "below")`` or ``(None, "above")``."""
    from pyspark.sql import functions as F

    v = F.col("v")
    above = valid.where(v > F.lit(float(hi))).count() if np.isfinite(hi) else 0
    if above >= k:
        return None, "above"
    cond = v <= F.lit(float(hi)) if np.isfinite(hi) else F.lit(True)
    if np.isfinite(lo):
        cond = cond & (v >= F.lit(float(lo)))
    rows = valid.where(cond).toPandas()
    j = k - 1 - above
    if j >= len(rows):
        return None, "below"
    rows = rows.assign(neg=-rows["v"].to_numpy(float)).sort_values(["neg", "id"], kind="stable")
    row = rows.iloc[j]
    ident = row["id"]
    ident = ident.item() if hasattr(ident, "item") else ident
    return float(row["v"]), ident


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------
def write_forecast_parquet(sdf, path: str, *, overwrite: bool = True) -> str:
    """Write a (forecast) Spark DataFrame as a Parquet directory at ``path``, atomically enough: the
    data are written under a temporary name in the same parent directory and renamed into place when
    complete (a previous forecast at ``path`` is moved aside first and deleted after). Works on any
    Hadoop file system Spark can write (local, HDFS, S3A: on object stores a rename is a copy).
    Returns ``path``.
    """
    spark = sdf.sparkSession
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    Path = jvm.org.apache.hadoop.fs.Path
    target = Path(str(path))
    fs = target.getFileSystem(conf)
    target = fs.makeQualified(target)
    parent = target.getParent()
    if parent is not None and not fs.exists(parent):
        fs.mkdirs(parent)
    tag = uuid.uuid4().hex[:12]
    tmp = Path(parent, f".{target.getName()}.tmp-{tag}")
    old = Path(parent, f".{target.getName()}.old-{tag}")
    try:
        sdf.write.mode("error").parquet(tmp.toString())
    except BaseException:
        fs.delete(tmp, True)
        raise
    moved_old = False
    if fs.exists(target):
        if not overwrite:
            fs.delete(tmp, True)
            raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
        if not fs.rename(target, old):
            fs.delete(tmp, True)
            raise OSError(f"could not move the previous {path} aside")
        moved_old = True
    if not fs.rename(tmp, target):
        if moved_old:
            fs.rename(old, target)
        fs.delete(tmp, True)
        raise OSError(f"could not rename the new forecast into {path}")
    if moved_old:
        fs.delete(old, True)
    return str(path)
