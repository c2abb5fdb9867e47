"""clvmodels on Spark (the optional extra ``clvmodels[spark]``): the same summary, fits and forecast
as on one machine, for customer bases that live in a Spark cluster.

* :func:`summarize_spark`: a Spark DataFrame of transactions (or CSV/Parquet files) -> the RFM summary
  as a Spark DataFrame, with the definitions, checks and results of the pandas and DuckDB engines;
* :func:`triplet_counts`, :func:`spend_counts`, :func:`fit_models_spark`: fit BG/NBD and Gamma-Gamma
  from the distinct rows their likelihoods need, collected to the driver with their counts (never the
  per-customer rows; with covariates, the distinct rows keep the covariate columns);
* :func:`score_spark`: the forecast columns of ``clv forecast`` for every customer, computed per
  partition by :func:`clvmodels.scoring.score` with the models broadcast once;
  :func:`write_forecast_parquet` writes the result;
* :func:`local_session`: a local-mode session for one machine;
* :func:`cluster_session` and :func:`pack_environment`: a session on a cluster (``spark://``, YARN,
  Kubernetes) whose workers have nothing installed, with the executors' environment shipped as an archive
  (:mod:`clvmodels.spark.cluster`); :class:`~clvmodels.spark.standalone.StandaloneCluster` starts a
  standalone master and worker on this machine to try it.

PySpark is imported only when these functions run; ``import clvmodels.spark`` works without it.
"""
from __future__ import annotations

from .cluster import cluster_session, pack_environment
from .fit import fit_models_spark, spend_counts, triplet_counts
from .score import score_spark, write_forecast_parquet
from .session import local_session
from .summary import (aggregate_spark, read_transactions, summarize_spark, summarize_to_pandas, summary_metadata,
                      to_pandas_summary)

__all__ = ["summarize_spark", "summarize_to_pandas", "aggregate_spark", "read_transactions", "summary_metadata",
           "to_pandas_summary", "triplet_counts", "spend_counts", "fit_models_spark", "score_spark",
           "write_forecast_parquet", "local_session", "cluster_session", "pack_environment"]
