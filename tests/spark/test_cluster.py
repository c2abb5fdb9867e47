"""The Spark path on a real standalone cluster, whose workers have nothing of clvmodels installed.

A master and a worker run as separate processes from the pyspark package (127.0.0.1, free ports, 2 cores,
2 GB), with a clean environment: their executors' own Python is the system ``python3``, without clvmodels
or NumPy. The application ships its environment (:func:`clvmodels.spark.pack_environment`, through
``spark.archives``) and :func:`clvmodels.spark.cluster_session` points the executors' Python into it.

* the executors run the shipped interpreter and the shipped clvmodels (paths inside the unpacked
  archive in the worker's application directory), load the scoring kernel compiled (Numba cache hit),
  and the archive leaves out nutpie, PySpark and DuckDB;
* the summary, the fits and the forecast computed through the cluster equal the local path (pandas
  summary exactly, MAP fits exactly, ``score()`` to 1e-12);
* the README's "On your cluster" code block, read from README.md and run as written (only the master URL
  and the paths replaced), writes the forecast that ``score()`` gives on the pandas summary (to 1e-12);
  the module's archive and session are the ones that block makes, so it costs no second cluster, archive
  or application;
* stopping the cluster ends every process it started (daemons, executor, Python workers), also when the
  block that started it fails.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark"),
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip("a Spark cluster needs Java (17) on the PATH or JAVA_HOME", allow_module_level=True)

from clvmodels.data import summarize  # noqa: E402
from clvmodels.datasets import load_cdnow_sample  # noqa: E402
from clvmodels.spark.standalone import StandaloneCluster, alive, descendants  # noqa: E402

KW = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


README = Path(__file__).resolve().parents[2] / "README.md"
README_SECTION = "On your cluster"


def readme_code_blocks(section: str, language: str = "python") -> list[str]:
    """The ``language`` code blocks of the README section under the heading ``section`` (up to the next
    heading of any level; a line starting with ``#`` inside a code block is no heading)."""
    blocks, current, fence, inside = [], None, None, False
    for line in README.read_text(encoding="utf-8").splitlines():
        if fence is None and line.startswith("#"):
            inside = re.fullmatch(r"#+ (.*)", line) is not None and line.split(" ", 1)[1].strip() == section
            continue
        if line.startswith("```"):
            if fence is None:
                fence, current = line[3:].strip(), []
            else:
                if inside and fence == language:
                    blocks.append("\n".join(current) + "\n")
                fence, current = None, None
            continue
        if current is not None:
            current.append(line)
    return blocks


class ReadmeSteps:
    """The Python code blocks of a README section, run statement by statement in one namespace, with the
    strings a user replaces (master URL, paths) replaced: ``substitutions`` maps each README string to
    this test's value, and each must be in the code (a README edit that drops one fails here, by name)."""

    def __init__(self, section: str, substitutions: dict[str, str]):
        blocks = readme_code_blocks(section)
        assert blocks, f"no python code block under '### {section}' in README.md"
        self.code = "\n".join(blocks)
        for old, new in substitutions.items():
            assert old in self.code, f"README '{section}' no longer contains {old!r}: update this test's substitutions"
            self.code = self.code.replace(old, new)
        self.statements = ast.parse(self.code).body
        self.ns: dict = {}
        self.done = 0

    def assigned(self, node) -> set[str]:
        return {n.id for t in getattr(node, "targets", []) for n in ast.walk(t) if isinstance(n, ast.Name)}

    def run_through(self, name: str | None = None):
        """Run the statements not yet run, up to the one that assigns ``name`` (all of them with None);
        returns ``name``'s value."""
        while self.done < len(self.statements):
            node = self.statements[self.done]
            self.done += 1
            exec(compile(ast.Module([node], type_ignores=[]), f"README.md ({README_SECTION})", "exec"), self.ns)
            if name is not None and name in self.assigned(node):
                return self.ns[name]
        assert name is None, f"README '{README_SECTION}' assigns no {name!r}"
        return None

    def call(self, function: str) -> ast.Call:
        """The README's (one) call of ``clvspark.<function>``."""
        calls = [n for n in ast.walk(ast.Module(self.statements, type_ignores=[])) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and n.func.attr == function]
        assert len(calls) == 1, f"README '{README_SECTION}' calls {function} {len(calls)} times"
        return calls[0]


@pytest.fixture(scope="session")
def cluster():
    # 4 cores offered (on 2 real ones), 2 to an application that does not ask (the README's does not): the
    # tests' application takes 2, a `clv` run beside it the other 2; memory for the README's 4g executor
    # and the `clv` run's 1g (the worker's memory is a budget, not a reservation)
    c = StandaloneCluster(cores=4, memory="5g", default_cores=2).start()
    yield c
    family = c.pids + descendants(c.pids)
    c.stop()  # runs whatever the tests did: pytest tears fixtures down after failures too
    assert not [p for p in family if alive(p)], "processes of the cluster left running"


@pytest.fixture(scope="session")
def readme(cluster, tmp_path_factory):
    """The README's "On your cluster" steps, with this cluster's master URL and temporary paths."""
    where = tmp_path_factory.mktemp("readme")
    paths = {"archive": str(where / "clv-env.tar.gz"), "transactions": str(where / "transactions"),
             "forecast": str(where / "forecast")}
    steps = ReadmeSteps(README_SECTION, {
        "spark://master-host:7077": cluster.master_url, '"clv-env.tar.gz"': repr(paths["archive"]),
        '"hdfs:///lake/transactions/"': repr(paths["transactions"]),
        '"hdfs:///lake/clv/forecast/"': repr(paths["forecast"])})
    steps.paths = paths
    return steps


@pytest.fixture(scope="session")
def packed(readme):
    """The archive as the README makes it (``pack_environment`` with its defaults: the kernels of every
    transaction model shipped compiled), made once for the module's tests."""
    return readme.run_through("env")


def _stop_active_session():
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # one SparkContext per process: the local-mode tests' session, if any
        active.stop()


@pytest.fixture(scope="module")
def spark(cluster, packed, readme):
    """The README's session (``cluster_session`` as written there), the one application of these tests."""
    _stop_active_session()
    # the driver's address, as a user sets it where the host has several (Spark's own variable; the
    # local-mode tests' JVM, if started first, has it already)
    with pytest.MonkeyPatch.context() as mp:
        if "SPARK_LOCAL_IP" not in os.environ:
            mp.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = readme.run_through("session")
    assert session.sparkContext.master == cluster.master_url
    yield session
    session.stop()


def test_the_packed_environment_holds_the_executors_modules_only(packed):
    from clvmodels.spark.cluster import base_interpreter

    with tarfile.open(packed.path) as tar:
        members = {m.name: m for m in tar.getmembers()}
    site = next(n for n in members if n.endswith("site-packages/clvmodels/__init__.py")).rsplit("/clvmodels/", 1)[0]
    tops = {n[len(site) + 1:].split("/")[0] for n in members if n.startswith(site + "/")}
    for needed in ("clvmodels", "numpy", "pandas", "pyarrow", "scipy", "numba", "llvmlite", "pymc", "pytensor"):
        assert needed in tops, needed
    for left_out in ("pyspark", "py4j", "nutpie", "duckdb", "matplotlib", "pytest", "mlflow"):
        assert left_out not in tops, left_out
    assert not any("/pandas/tests/" in n or "/scipy/special/tests/" in n for n in members)  # test suites left out
    python = members["bin/python"]
    assert python.issym() and python.linkname == base_interpreter()
    assert "include-system-site-packages = false" in tar_text(packed.path, "pyvenv.cfg")
    assert packed.size_bytes == os.path.getsize(packed.path) < 400e6
    assert packed.n_files == sum(1 for m in members.values() if m.isfile()) - 1  # all but pyvenv.cfg


def tar_text(path: str, name: str) -> str:
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read().decode()


def test_executors_run_the_shipped_environment(spark, cluster):
    """The Python workers are other processes, started by the executor in the worker's application
    directory, from the unpacked archive: interpreter, clvmodels and its dependencies; not nutpie."""
    def where(batches):
        import importlib.util
        import sys

        import clvmodels
        import clvmodels.scoring.arrays as arrays
        import numba
        import numpy as np
        import pymc
        from clvmodels.models import BetaGeoModel, GammaGammaModel
        from clvmodels.scoring import score

        # the scoring kernel comes compiled with the archive (Numba's cache): a hit, no compilation
        summary = pd.DataFrame({"frequency": np.array([0, 2, 5]), "recency": [0.0, 10.0, 30.0], "T": [40.0] * 3,
                                "monetary_value": [0.0, 20.0, 35.0]}, index=pd.Index([1, 2, 3], name="customer_id"))
        bg = BetaGeoModel.from_params({"r": np.array([0.24, 0.25]), "alpha": np.array([4.4, 4.5]),
                                       "a": np.array([0.79, 0.8]), "b": np.array([2.4, 2.5])}, time_unit="W")
        gg = GammaGammaModel.from_params({"p": np.array([6.2, 6.3]), "q": np.array([3.7, 3.8]),
                                          "v": np.array([15.4, 15.5])})
        score(summary, bg, gg, "26W", discount_rate=0.1)
        stats = arrays._customer_kernel.stats
        for _ in batches:
            yield pd.DataFrame({"executable": [sys.executable], "clvmodels": [clvmodels.__file__],
                                "numba": [numba.__file__], "pymc": [pymc.__file__], "pid": [os.getpid()],
                                "nutpie": [importlib.util.find_spec("nutpie") is not None],
                                "prefix": [sys.prefix], "cache_hits": [sum(stats.cache_hits.values())],
                                "cache_misses": [sum(stats.cache_misses.values())]})

    schema = ("executable string, clvmodels string, numba string, pymc string, pid long, nutpie boolean, "
              "prefix string, cache_hits long, cache_misses long")
    got = spark.range(2, numPartitions=2).mapInPandas(where, schema).toPandas()
    apps = os.path.join(os.path.realpath(cluster.work_dir), "work", "app-")
    for row in got.itertuples():
        env = os.path.dirname(os.path.dirname(row.executable))  # .../work/app-.../0/environment
        assert env.startswith(apps) and env.endswith("/environment"), row.executable
        assert os.path.realpath(row.prefix) == os.path.realpath(env)
        for module in (row.clvmodels, row.numba, row.pymc):
            assert module.startswith(env + "/lib/python3."), module
        assert not row.nutpie and row.pid != os.getpid()
        assert (row.cache_hits, row.cache_misses) == (1, 0)


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()[["customer_id", "date", "amount"]]


def test_summary_fit_and_forecast_through_the_cluster_equal_the_local_path(spark, cdnow):
    from clvmodels import BetaGeoModel, GammaGammaModel
    from clvmodels.scoring import FORECAST_COLUMNS, score
    from clvmodels.spark import fit_models_spark, score_spark, summarize_spark, to_pandas_summary

    expected = summarize(cdnow, engine="pandas", **KW)
    sdf = summarize_spark(spark.createDataFrame(cdnow), **KW)
    got = to_pandas_summary(sdf)
    assert len(got) == 2357
    for c in expected.columns:  # CDNOW's amounts are cents: exact money, every column identical
        pd.testing.assert_series_equal(got[c], expected[c], check_exact=True, obj=c)

    def configured():
        return (BetaGeoModel(method="map", seed=3, progressbar=False),
                GammaGammaModel(method="map", seed=3, progressbar=False))

    bg_ref, gg_ref = configured()
    bg_ref.fit(expected)
    gg_ref.fit(expected)
    bg, gg = fit_models_spark(sdf, bgnbd=configured()[0], gamma_gamma=configured()[1])
    np.testing.assert_array_equal(bg.params_.to_numpy(), bg_ref.params_.to_numpy())
    np.testing.assert_allclose(gg.params_.to_numpy(), gg_ref.params_.to_numpy(), rtol=1e-7)
    assert bg.fit_info_["n_customers"] == 2357

    kw = dict(discount_rate=0.1, margin=0.3, max_draws=40)
    local = score(expected, bg_ref, gg_ref, "26W", **kw)
    sc = spark.sparkContext
    sc.setJobGroup("score", "score")
    scored = score_spark(sdf, bg_ref, gg_ref, "26W", **kw)
    remote = scored.toPandas().sort_values("customer_id").reset_index(drop=True)
    # partitions sized to the data: a dozen jobs (scores, segment cut-offs, collect) of a few tasks
    # each, where 200 shuffle partitions kept in the persisted scores made 2,807 (benchmarks/README.md)
    tracker = sc.statusTracker()
    stages = [tracker.getStageInfo(s) for j in tracker.getJobIdsForGroup("score")
              for s in tracker.getJobInfo(j).stageIds]
    n_tasks = sum(s.numCompletedTasks for s in stages if s is not None)
    assert 0 < n_tasks <= 60, n_tasks
    sc.setJobGroup("other", "other")
    assert list(remote.columns) == FORECAST_COLUMNS and len(remote) == 2357
    numeric = [c for c in FORECAST_COLUMNS if c not in ("customer_id", "segment", "last_purchase")]
    for c in numeric:
        np.testing.assert_allclose(remote[c].to_numpy(float), local[c].to_numpy(float), rtol=1e-12, atol=1e-12,
                                   err_msg=c)
    assert np.max(np.abs(remote["clv"].to_numpy() - local["clv"].to_numpy())) <= 1e-9
    assert remote["segment"].tolist() == local["segment"].astype(str).tolist()
    assert remote["customer_id"].tolist() == local["customer_id"].tolist()
    spark.catalog.clearCache()


def test_the_readme_cluster_section_runs_as_written(readme, spark, cluster, cdnow):
    """The README's "On your cluster" block, run as written on this cluster: it reads a Parquet log
    (CDNOW, columns and dates as the README's: ``cust``, ``ts``, ``value``, moved forward to end on its
    observation end), summarises it, fits by NUTS with the README's seed and writes the forecast. The
    forecast equals ``score()`` on the pandas summary of the same log with the README's arguments and
    the fitted models; the fit saw every customer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clvmodels.scoring import FORECAST_COLUMNS, score

    literal = lambda call: {k.arg: ast.literal_eval(k.value) for k in call.keywords}  # noqa: E731
    summary_kw = literal(readme.call("summarize_spark"))
    score_call = readme.call("score_spark")
    score_args = [ast.literal_eval(a) for a in score_call.args[3:]]
    names = {summary_kw[k]: k for k in ("customer_id", "date", "amount")}
    assert set(names) == {"cust", "ts", "value"}
    shift = pd.Timestamp(summary_kw["observation_end"]) - pd.Timestamp("1998-06-30")
    log = pd.DataFrame({"cust": cdnow["customer_id"].to_numpy(np.int64), "ts": cdnow["date"] + shift,
                        "value": cdnow["amount"].to_numpy(float)})
    os.makedirs(readme.paths["transactions"])
    pq.write_table(pa.table({"cust": log["cust"], "ts": pa.array(log["ts"].to_numpy().astype("datetime64[D]")),
                             "value": log["value"]}), os.path.join(readme.paths["transactions"], "part-0.parquet"))

    readme.run_through(None)  # the rest of the block: read, summarise, fit, score, write
    bg, gg = readme.ns["bg"], readme.ns["gg"]
    assert bg.fit_info_["n_customers"] == 2357 and bg.diagnostics_.method == gg.diagnostics_.method == "nuts"
    apps = [a for a in cluster.state()["activeapps"] if a["name"] == spark.sparkContext.appName]
    assert [a["cores"] for a in apps] == [2]  # the master's default for an application that does not ask

    got = pd.read_parquet(readme.paths["forecast"]).sort_values("customer_id").reset_index(drop=True)
    local = score(summarize(log, engine="pandas", **summary_kw), bg, gg, *score_args, **literal(score_call))
    assert list(got.columns) == FORECAST_COLUMNS and len(got) == len(local) == 2357
    assert got["customer_id"].tolist() == local["customer_id"].tolist()
    for c in FORECAST_COLUMNS:
        if c in ("customer_id", "segment", "last_purchase"):
            continue
        np.testing.assert_allclose(got[c].to_numpy(float), local[c].to_numpy(float), rtol=1e-12, atol=1e-12,
                                   err_msg=c)
    assert np.max(np.abs(got["clv"].to_numpy() - local["clv"].to_numpy())) <= 1e-9
    assert got["segment"].tolist() == local["segment"].astype(str).tolist()
    assert (pd.to_datetime(got["last_purchase"]).dt.tz_localize(None).dt.normalize()
            == pd.to_datetime(local["last_purchase"]).dt.tz_localize(None).dt.normalize()).all()
    assert local["clv"].sum() > 0 and local["last_purchase"].max() <= pd.Timestamp(summary_kw["observation_end"])
    spark.catalog.clearCache()


def test_scoring_takes_every_core_of_the_application(spark):
    """Scoring costs CPU per customer, while adaptive execution sizes the coalesced partitions in bytes:
    30,000 customers' summary columns (shuffled, well under Spark's 1 MB floor, far under a
    64 MB partition) are scored in at least as many partitions as the application has cores (2), none
    with most of the customers; not in one (as before CLUSTER_DEFAULTS had parallelismFirst and a 64 KB
    floor: 1 million customers were scored on one core of two, benchmarks/README.md)."""
    from pyspark.sql import functions as F

    from clvmodels.models import BetaGeoModel, GammaGammaModel
    from clvmodels.simulate import simulate_transactions
    from clvmodels.spark import score_spark, summarize_spark

    n = 30_000
    log = simulate_transactions(n, r=0.25, alpha=4.0, a=0.8, b=2.5, p=6.0, q=3.7, v=15.0, start="2022-01-01",
                                acquisition_days=365.0, observation_end="2023-12-31", seed=7)
    sdf = summarize_spark(spark.createDataFrame(log), observation_end="2023-12-31", time_unit="W")
    bg = BetaGeoModel.from_params({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, time_unit="W")
    gg = GammaGammaModel.from_params({"p": 6.0, "q": 3.7, "v": 15.0})
    scored = score_spark(sdf, bg, gg, "52W")  # persisted: the partition ids are those the scoring ran in
    parts = {r["pid"]: r["count"] for r in scored.groupBy(F.spark_partition_id().alias("pid")).count().collect()}
    cores = spark.sparkContext.defaultParallelism
    assert cores == 2 and len(parts) >= cores and max(parts.values()) < 0.75 * n, parts
    assert sum(parts.values()) == n
    spark.catalog.clearCache()


def test_a_failing_block_still_stops_its_cluster():
    """The context manager stops the master and the worker when the code inside raises."""
    pids: list[int] = []
    with pytest.raises(ZeroDivisionError):
        with StandaloneCluster(cores=1, memory="512m") as c:
            pids += c.pids + descendants(c.pids)
            assert len(c.pids) == 2 and all(alive(p) for p in c.pids)
            assert "deploy.master.Master" in cmdline(c.pids[0]) and "deploy.worker.Worker" in cmdline(c.pids[1])
            1 / 0
    assert pids and not [p for p in pids if alive(p)]
    assert not os.path.exists(c.work_dir)


def test_cli_summarize_on_the_cluster_with_the_shipped_environment(cluster, packed, cdnow, tmp_path):
    """``clv summarize --engine spark --spark-master URL --spark-archive PATH`` in a process of its own:
    dates in a --date-format, so the executors parse them with clvmodels' pandas UDF (in the archive's
    Python); the table equals the pandas engine's summary."""
    import subprocess
    import sys

    log = cdnow.assign(date=cdnow["date"].dt.strftime("%Y%m%d"))
    log.to_csv(tmp_path / "log.csv", index=False)
    out = tmp_path / "summary.parquet"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
           "SPARK_LOCAL_IP": "127.0.0.1"}
    cmd = [sys.executable, "-m", "clvmodels.cli", "summarize", str(tmp_path / "log.csv"), "--observation-end",
           "1998-06-30", "--date-format", "%Y%m%d", "--engine", "spark", "--spark-master", cluster.master_url,
           "--spark-archive", packed.path, "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = pd.read_parquet(out)
    expected = summarize(cdnow, engine="pandas", observation_end="1998-06-30")
    got = got.set_index("customer_id") if "customer_id" in got.columns else got
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
    assert "(spark engine" in done.stderr
    # the options are checked before any work: exit 2, each problem naming its option
    bad = subprocess.run(cmd[:-6] + ["--spark-master", "spark://127.0.0.1:1", "--spark-archive",
                                     str(tmp_path / "missing.tar.gz"), "-o", str(out)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert "--spark-master" in bad.stderr and "no Spark master answers at spark://127.0.0.1:1" in bad.stderr
    assert "--spark-archive" in bad.stderr and "does not exist" in bad.stderr


def test_stopping_the_cluster_ends_its_executor_and_python_workers(spark, cluster):
    """Last (uses the module's cluster): while an application runs, the worker's descendants include the
    executor JVM and PySpark's Python daemon (which makes a process group of its own); after the
    application and the cluster are stopped none of them is left."""
    family = descendants(cluster.pids)
    commands = [cmdline(p) for p in family]
    assert any("CoarseGrainedExecutorBackend" in c for c in commands), commands
    assert any("environment/bin/python" in c and "pyspark.daemon" in c for c in commands), commands
    spark.stop()
    cluster.stop()
    left = [(p, cmdline(p)) for p in cluster.pids + family if alive(p)]
    assert not left
