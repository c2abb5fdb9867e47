"""Spark sessions for clvmodels: a local one for a laptop or a test, or the cluster's own.

Every function of :mod:`clvmodels.spark` takes Spark DataFrames and uses *their* session, so on a real
cluster nothing here is needed: build the session the usual way and pass its DataFrames in::

    from pyspark.sql import SparkSession

    spark = (SparkSession.builder
             .master("yarn")                       # or "spark://host:7077", "k8s://https://...", ...
             .appName("clv-scoring")
             .config("spark.executor.memory", "8g")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .getOrCreate())

or submit a script with ``spark-submit --master yarn --deploy-mode cluster job.py`` and call
``SparkSession.builder.getOrCreate()`` in it. The executors need clvmodels and its dependencies in
their Python environment, of the same Python minor version as the driver (ship a packed virtual
environment with ``--archives env.tar.gz#env`` and ``PYSPARK_PYTHON=./env/bin/python``, or install
clvmodels on the cluster's image): :func:`clvmodels.spark.cluster_session` with an archive of
:func:`clvmodels.spark.pack_environment` does this (see :mod:`clvmodels.spark.cluster`).

:func:`local_session` starts Spark in local mode (``local[N]``: driver and executors in one JVM on this
machine), bound to 127.0.0.1, without the web UI, with few shuffle partitions and the session time
zone UTC, which is what tests, notebooks and single-machine runs want.
"""
from __future__ import annotations

import os
import sys
import warnings

#: settings of :func:`local_session` (any can be overridden through its ``conf`` argument)
LOCAL_DEFAULTS = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Arrow batches handed to the Python scorer: larger batches share more distinct triplets
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
    "spark.sql.adaptive.enabled": "true",
    "spark.python.worker.reuse": "true",
}


def require_pyspark() -> None:
    """Raise a :class:`clvmodels.errors.ClvError` saying how to install PySpark when it is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        from ..errors import ClvError

        raise ClvError("the Spark engine needs PySpark and Java 17: pip install 'clvmodels[spark]'") from exc


def quiet_pandas_warning() -> None:
    """PySpark 4 warns on every pandas conversion that it does not 'fully support pandas >= 3'; the
    conversions clvmodels uses (numbers, text, dates through Arrow) are tested, so the noise is hidden."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                            category=FutureWarning)
    # pandas 3 deprecates a keyword PySpark's own conversions still pass
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module=r"pyspark(\..*)?$")


def local_session(cores: int = 2, *, app_name: str = "clvmodels", driver_memory: str = "2g",
                  shuffle_partitions: int = 4, conf: dict | None = None):
    """A local-mode SparkSession (``local[cores]``) bound to 127.0.0.1, UI off, UTC session time zone.

    Returns the active session if one is already running in this process (Spark allows one per JVM;
    its settings are then those it was started with). ``driver_memory`` only takes effect when this
    call starts the JVM. The executors' Python is this interpreter (``PYSPARK_PYTHON`` defaults to
    ``sys.executable``), so the driver and the workers have the same Python and the same clvmodels.

    For a real cluster do not use this: see the module docstring.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    quiet_pandas_warning()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = dict(LOCAL_DEFAULTS)
    settings["spark.sql.shuffle.partitions"] = str(int(shuffle_partitions))
    settings["spark.default.parallelism"] = str(int(max(cores, 1) * 2))
    settings["spark.driver.memory"] = driver_memory
    settings.update({k: str(v) for k, v in (conf or {}).items()})
    builder = SparkSession.builder.master(f"local[{int(cores)}]").appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def active_session(sdf=None):
    """The session of ``sdf`` if given, else the active session, else a new :func:`local_session`."""
    if sdf is not None:
        return sdf.sparkSession
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    return spark if spark is not None else local_session()
