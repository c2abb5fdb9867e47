"""Running clvmodels on a Spark cluster whose workers have nothing installed.

On a cluster the Python functions of :func:`~clvmodels.spark.score_spark` run in Python worker processes
on the executors, with the executors' Python: without clvmodels there, the first UDF fails with
``ModuleNotFoundError: No module named 'clvmodels'``. Spark's own answer is to ship an environment with
the application (``spark.archives``, ``--archives env.tar.gz#environment``: each executor unpacks it in
its working directory) and to point ``PYSPARK_PYTHON`` into it (``./environment/bin/python``).

* :func:`pack_environment` writes that archive: a virtual environment with only what the executors
  import (clvmodels, NumPy, pandas, PyArrow, SciPy, Numba/llvmlite for the scoring kernels, and PyMC,
  PyTensor and xarray, which the model classes import when a model file is loaded), taken from the
  environment running it; PySpark itself, nutpie, DuckDB, matplotlib, MLflow, Jupyter and the test
  tools are left out (the executors get PySpark from their Spark installation).
* :func:`cluster_session` starts a session on a master (``spark://``, ``yarn``, ``k8s://``, ``local[N]``)
  with the archive shipped, the executors' Python inside it, the driver's Python this interpreter, and
  shuffles sized to the data (adaptive query execution coalescing small shuffles, see
  :data:`CLUSTER_DEFAULTS`).

Like the archives ``venv-pack`` writes, the environment's ``bin/python`` is a link to the base
interpreter this environment was made from (:func:`base_interpreter`), not a copy: every worker needs
that Python at the same path (same minor version as the driver), as it has when the workers run the
same machine image as the driver (a cluster image with Python installed, a Kubernetes container image).
Where they do not, ship an interpreter too (``conda-pack`` of a conda environment is the usual way), or
use an image with Python and pass only the archive.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field

__all__ = ["EXECUTOR_MODULES", "CLUSTER_DEFAULTS", "PackedEnvironment", "pack_environment", "executor_distributions",
           "base_interpreter", "cluster_session"]

#: modules the executors import to summarise and score (PySpark's worker comes from the executors' Spark)
EXECUTOR_MODULES = (
    "clvmodels.spark.score", "clvmodels.spark.summary", "clvmodels.scoring", "clvmodels.scoring.arrays",
    "clvmodels.models", "clvmodels.models.registry", "clvmodels.value", "pandas", "pyarrow", "pyarrow.pandas_compat",
    "numpy", "scipy.special", "numba", "llvmlite",
)

#: distributions never shipped: the executors' PySpark and py4j come with their Spark, the rest is driver-only
DRIVER_ONLY = frozenset({"pyspark", "py4j", "nutpie", "duckdb", "matplotlib", "mlflow", "mlflow-skinny", "pip",
                         "setuptools", "clvmodels"})

#: name of the directory the archive is unpacked into on each executor (``archive#environment``)
ENV_ALIAS = "environment"

#: settings of :func:`cluster_session` (any can be overridden through its ``conf`` argument)
CLUSTER_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
    "spark.python.worker.reuse": "true",
    # small data must not pay for spark.sql.shuffle.partitions (200) tasks per stage: adaptive query
    # execution merges the post-shuffle partitions to at most about 64 MB each, so 2,357 customers run
    # as one task per stage and 100 million as many ...
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": "64m",
    # ... but as many as the executors have cores while a partition keeps at least 64 KB: scoring
    # costs CPU per customer, not per byte (a customer's summary columns are a few bytes shuffled, so
    # that 64 MB, or Spark's 1 MB floor, made 1 million customers one scoring task on one core, the
    # others idle; 64 KB is some 10,000 customers, seconds of scoring; see benchmarks/README.md)
    "spark.sql.adaptive.coalescePartitions.parallelismFirst": "true",
    "spark.sql.adaptive.coalescePartitions.minPartitionSize": "64k",
    # ... also inside cached (persisted) plans: the summary and the scored rows are persisted, and Spark
    # would otherwise keep their 200 shuffle partitions, so that every later action (the fit's counts,
    # the segment cut-offs: a dozen actions) ran 200 tasks
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
    "spark.ui.showConsoleProgress": "false",
}


def base_interpreter() -> str:
    """The real path of the Python this (virtual) environment was made from: what ``bin/python`` of a
    packed environment links to."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def executor_distributions(modules=EXECUTOR_MODULES, *, python: str | None = None) -> list[str]:
    """The installed distributions that provide what ``modules`` import (in a fresh interpreter, so that
    only the executors' imports count), less :data:`DRIVER_ONLY`. Names as in their metadata, sorted."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}:\n"
        "    importlib.import_module(m)\n"
        "import importlib.metadata as md\n"
        "top = {m.split('.')[0] for m in list(sys.modules)}\n"
        "dists = md.packages_distributions()\n"
        "print(json.dumps(sorted({d for t in top for d in dists.get(t, [])})))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [_clvmodels_root(), env.get("PYTHONPATH", "")] if p)
    out = subprocess.run([python or sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"could not import the executors' modules: {out.stderr.strip()[-2000:]}")
    names = json.loads(out.stdout.strip().splitlines()[-1])
    return sorted(n for n in names if _norm(n) not in {_norm(d) for d in DRIVER_ONLY})


@dataclass
class PackedEnvironment:
    """What :func:`pack_environment` wrote: the archive's ``path``, its size in bytes, the number of files,
    the distributions in it, the interpreter ``bin/python`` links to and the seconds it took."""
    path: str
    size_bytes: int
    n_files: int
    distributions: list[str] = field(default_factory=list)
    interpreter: str = ""
    seconds: float = 0.0


def pack_environment(path: str, *, distributions: list[str] | None = None, extra_distributions=(),
                     compresslevel: int = 1, include_tests: bool = False,
                     compiled_kernels=("bgnbd", "mbgnbd", "pnbd"),
                     numba_cache_dir: str | None = None) -> PackedEnvironment:
    """Write a gzipped tar of a virtual environment for the executors to ``path`` (e.g. ``env.tar.gz``).

    The archive holds ``pyvenv.cfg``, ``bin/python`` (and ``python3``, ``python3.X``: links to
    :func:`base_interpreter`) and ``lib/pythonX.Y/site-packages`` with clvmodels (the copy this process
    imports) and the files of ``distributions`` (default :func:`executor_distributions`, plus
    ``extra_distributions``) as installed here. Test suites of the packages are left out unless
    ``include_tests``; ``compresslevel`` is gzip's (1: fastest; the archive is about a third of the
    files' size either way).

    ``compiled_kernels``: the transaction models (names of
    :data:`clvmodels.models.registry.TRANSACTION_MODELS`, with Gamma-Gamma) whose Numba scoring kernels are
    compiled here first and shipped compiled (Numba's cache files, under ``numba_cache_dir``, default
    ``~/.cache/clvmodels/numba``, reused by later packs). Without them every Python worker on every
    executor compiles the kernels when it first scores (about 20 s of CPU per model and worker, 50 s
    measured on a loaded 2-core machine); with them it loads them in a fraction of a second. The cache
    is used only on the same CPU model (Numba keys it by CPU name and features; elsewhere the
    kernels are compiled as without it) and for the same sources (Numba 0.68 stamps its index with a
    SHA-256 of each source file, so unpacking that changes file times does not matter). ``()`` ships
    no compiled code.

    Ship it with :func:`cluster_session` (``archive=path``) or
    ``spark-submit --archives path#environment --conf spark.pyspark.python=./environment/bin/python``.

    The executors then need nothing but their Spark and, at the same path, the Python interpreter the
    links point to (the module docstring says why and what to do otherwise).
    """
    import importlib.metadata as md

    t0 = time.perf_counter()
    names = list(distributions) if distributions is not None else executor_distributions()
    names += [d for d in extra_distributions if d not in names]
    py = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = f"lib/{py}/site-packages"
    base = base_interpreter()
    n_files = 0
    seen: set[str] = set()
    with tarfile.open(path, "w:gz", compresslevel=compresslevel) as tar:
        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))

        add_bytes("pyvenv.cfg", (f"home = {os.path.dirname(base)}\ninclude-system-site-packages = false\n"
                                 f"version = {'.'.join(map(str, sys.version_info[:3]))}\n").encode())
        for link in ("python", "python3", py):
            info = tarfile.TarInfo(f"bin/{link}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, base, 0o777
            tar.addfile(info)

        def skip(rel: str) -> bool:
            parts = rel.split("/")
            # test suites ("tests" directories; "testing" modules are often imported: numpy, xarray)
            return (not include_tests and "tests" in parts[1:-1]) \
                or parts[0] in ("..",) or rel.endswith(".pyc") and "__pycache__" not in parts

        for name in names:
            dist = md.distribution(name)
            root = os.path.realpath(str(dist.locate_file("")))
            for f in dist.files or []:
                rel = str(f).replace(os.sep, "/")
                src = os.path.realpath(str(dist.locate_file(f)))
                if skip(rel) or not src.startswith(root + os.sep) or rel in seen or not os.path.isfile(src):
                    continue
                seen.add(rel)
                tar.add(src, arcname=f"{site}/{rel}", recursive=False)
                n_files += 1
        root = _clvmodels_root()
        pkg = os.path.join(root, "clvmodels")
        cache = _compiled_kernels(compiled_kernels, numba_cache_dir) if compiled_kernels else None
        for dirpath, dirnames, filenames in os.walk(pkg):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            rel_dir = os.path.relpath(dirpath, root)
            for fn in filenames:
                full = os.path.join(dirpath, fn)
                tar.add(full, arcname=f"{site}/{rel_dir}/{fn}", recursive=False)
                n_files += 1
            if cache is not None:
                # Numba's user cache directory for the sources in dirpath (numba.core.caching:
                # "<parent>_<sha1 of the directory>"); on the executors it is found in __pycache__
                cached = os.path.join(cache, f"{os.path.basename(dirpath)}_"
                                             f"{hashlib.sha1(os.path.abspath(dirpath).encode()).hexdigest()}")
                for fn in sorted(os.listdir(cached)) if os.path.isdir(cached) else []:
                    if fn.endswith((".nbi", ".nbc")):
                        tar.add(os.path.join(cached, fn), arcname=f"{site}/{rel_dir}/__pycache__/{fn}",
                                recursive=False)
                        n_files += 1
    return PackedEnvironment(path=str(path), size_bytes=os.path.getsize(path), n_files=n_files,
                             distributions=sorted(names), interpreter=base, seconds=time.perf_counter() - t0)


def cluster_session(master: str, *, archive: str | None = None, py_files=(), app_name: str = "clvmodels",
                    executor_memory: str | None = None, executor_cores: int | None = None,
                    cores_max: int | None = None, driver_host: str | None = None, conf: dict | None = None):
    """A SparkSession on ``master`` (``spark://host:7077``, ``yarn``, ``k8s://https://...``, ``local[N]``),
    with the environment for the executors shipped along.

    ``archive``: an environment archive (:func:`pack_environment`, ``venv-pack``, ``conda-pack``; a local
    path or a URL the cluster can read, e.g. ``hdfs:///envs/clv.tar.gz``) sent as
    ``spark.archives=archive#environment``; the executors then run ``./environment/bin/python``
    (``PYSPARK_PYTHON`` for this session only) and the driver this interpreter. Without ``archive`` the
    executors run ``PYSPARK_PYTHON`` as set (else ``python3``), which must have clvmodels installed.
    ``py_files``: zips/wheels of Python code added to the executors' path (``spark.submit.pyFiles``).
    ``executor_memory`` (e.g. ``"2g"``), ``executor_cores`` and ``cores_max`` (the most cores the
    application takes from a standalone master) are passed as Spark settings when given; ``driver_host``
    is the address the executors reach the driver at (``spark.driver.host``). The session time zone is
    UTC and shuffles are sized to the data (:data:`CLUSTER_DEFAULTS`); ``conf`` overrides any setting.

    As with ``SparkSession.builder.getOrCreate``, a session already running in this process is returned
    as it is (stop it first to change the master or the environment).
    """
    from .session import quiet_pandas_warning, require_pyspark

    require_pyspark()
    quiet_pandas_warning()
    from pyspark.sql import SparkSession

    settings = dict(CLUSTER_DEFAULTS)
    if archive is not None:
        settings["spark.archives"] = f"{archive}#{ENV_ALIAS}"
    if py_files:
        settings["spark.submit.pyFiles"] = ",".join(os.fspath(p) for p in py_files)
    for key, value in (("spark.executor.memory", executor_memory), ("spark.executor.cores", executor_cores),
                       ("spark.cores.max", cores_max), ("spark.driver.host", driver_host)):
        if value is not None:
            settings[key] = str(value)
    settings.update({k: str(v) for k, v in (conf or {}).items()})
    executor_python = f"./{ENV_ALIAS}/bin/python" if archive is not None else None
    if executor_python is not None:
        # what YARN and Kubernetes read for the executors; the standalone executors get it from the
        # driver's PYSPARK_PYTHON (read when the SparkContext starts), set below for this session only
        settings.setdefault("spark.pyspark.python", executor_python)
        settings.setdefault("spark.pyspark.driver.python", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    saved = {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    try:
        if executor_python is not None:
            os.environ["PYSPARK_PYTHON"] = settings["spark.pyspark.python"]
            os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        spark = builder.getOrCreate()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    spark.sparkContext.setLogLevel("ERROR")
    return spark


#: parameter values the kernels are compiled with (published CDNOW estimates, weekly)
_WARM_PARAMS = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pnbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
}


def _compiled_kernels(models, cache_dir: str | None) -> str:
    """Compile the scoring kernels of ``models`` into Numba's cache at ``cache_dir`` (in a subprocess that
    scores CDNOW with each model, at a point and over draws, as the executors will); returns the directory."""
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "clvmodels", "numba")
    os.makedirs(cache_dir, exist_ok=True)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [_clvmodels_root(), env.get("PYTHONPATH", "")] if p)
    code = f"from clvmodels.spark.cluster import _warm_kernels; _warm_kernels({list(models)!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"could not compile the scoring kernels: {out.stderr.strip()[-2000:]}")
    return cache_dir


def _warm_kernels(models) -> None:
    """Score CDNOW with each model of ``models`` and Gamma-Gamma, at a point and over draws (run in
    :func:`_compiled_kernels`' subprocess, where ``NUMBA_CACHE_DIR`` is set)."""
    import warnings

    import numpy as np

    from ..data import summarize
    from ..datasets import load_cdnow_sample
    from ..models import GammaGammaModel
    from ..models.registry import transaction_model_class
    from ..scoring import score

    summary = summarize(load_cdnow_sample(), observation_end="1998-06-30", time_unit="W")
    for draws in (False, True):
        def values(name):
            point = _WARM_PARAMS[name]
            return {k: (np.array([v, v * 1.01]) if draws else v) for k, v in point.items()}

        gg = GammaGammaModel.from_params(values("gamma_gamma"))
        for name in models:
            model = transaction_model_class(name).from_params(values(name), time_unit="W")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score(summary, model, gg, "52W", discount_rate=0.1, margin=0.3)


def _clvmodels_root() -> str:
    """The directory holding the ``clvmodels`` package this process imports."""
    import clvmodels

    return os.path.dirname(os.path.dirname(os.path.abspath(clvmodels.__file__)))


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
