"""Benchmark: CDNOW (2,357 customers) through a Spark standalone cluster on this machine, with Spark's
default shuffle settings and with :func:`clvmodels.spark.cluster_session`'s.

A master and a worker (2 cores, 2 GB) are started from the pyspark package
(:class:`clvmodels.spark.standalone.StandaloneCluster`); the executors' environment is the archive of
:func:`clvmodels.spark.pack_environment` (built once, reused from ``--archive`` if it exists). Each
variant runs in its own fresh subprocess (its own driver JVM, a new application on the cluster):

* ``spark-defaults``: the session as the README snippet of a plain ``SparkSession.builder`` makes it, the
  archive shipped, shuffle settings left at Spark's defaults (``spark.sql.shuffle.partitions`` 200;
  adaptive execution on, coalescing with ``parallelismFirst``);
* ``clvmodels``: :func:`clvmodels.spark.cluster_session` (:data:`clvmodels.spark.cluster.CLUSTER_DEFAULTS`:
  adaptive coalescing to ~64 MB partitions).

Timed stages (wall seconds): ``session`` (SparkContext on the master), ``summary``
(``summarize_spark`` with its count), ``fit`` (``fit_models_spark``, MAP, on the driver from the counts),
``score`` (``score_spark`` and ``write_forecast_parquet``); and the number of Spark tasks each stage ran.
The first job of an application also pays for each executor unpacking the archive and its Python
workers importing clvmodels, PyMC and Numba (and compiling the kernels where no cache is shipped).

Usage (repository root)::

    .venv/bin/python benchmarks/bench_spark_cluster.py                 # both variants, 2 rounds
    .venv/bin/python benchmarks/bench_spark_cluster.py --rounds 1 --variants clvmodels

Results: ``benchmarks/results/bench_spark_cluster.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VARIANTS = ("spark-defaults", "clvmodels")


def child(master: str, archive: str, variant: str, out_dir: str) -> dict:
    """One application on the cluster; returns the stage timings and task counts."""
    t0 = time.perf_counter()
    from clvmodels import BetaGeoModel, GammaGammaModel
    from clvmodels.datasets import load_cdnow_sample
    from clvmodels.spark import cluster_session, fit_models_spark, score_spark, summarize_spark, write_forecast_parquet
    from clvmodels.spark.cluster import CLUSTER_DEFAULTS

    conf = {"spark.driver.bindAddress": "127.0.0.1", "spark.ui.enabled": "false"}
    if variant == "spark-defaults":  # Spark's own values for the settings cluster_session chooses
        conf.update({"spark.sql.adaptive.coalescePartitions.parallelismFirst": "true",
                     "spark.sql.adaptive.advisoryPartitionSizeInBytes": "64m",
                     "spark.sql.shuffle.partitions": "200",
                     "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "false"})
    t = {"imports": time.perf_counter() - t0}
    t0 = time.perf_counter()
    spark = cluster_session(master, archive=archive, executor_memory="1g", cores_max=2, driver_host="127.0.0.1",
                            app_name=f"bench-{variant}", conf=conf)
    t["session"] = time.perf_counter() - t0
    sc = spark.sparkContext
    tasks = {}

    def stage(name, fn):
        sc.setJobGroup(name, name)
        s0 = time.perf_counter()
        out = fn()
        t[name] = time.perf_counter() - s0
        tracker = sc.statusTracker()
        n = 0
        for job in tracker.getJobIdsForGroup(name):
            info = tracker.getJobInfo(job)
            for st in (info.stageIds if info else []):
                si = tracker.getStageInfo(st)
                n += si.numCompletedTasks if si else 0  # skipped stages (shuffle reused) ran none
        tasks[name] = n
        return out

    log = load_cdnow_sample()[["customer_id", "date", "amount"]]
    tx = spark.createDataFrame(log)
    summary = stage("summary", lambda: summarize_spark(tx, observation_end="1998-06-30", time_unit="W"))
    bg, gg = stage("fit", lambda: fit_models_spark(summary, method="map", seed=1, progressbar=False))
    target = os.path.join(out_dir, f"forecast-{variant}.parquet")
    stage("score", lambda: write_forecast_parquet(score_spark(summary, bg, gg, "52W", discount_rate=0.1), target))
    n_rows = spark.read.parquet(target).count()
    spark.stop()
    return {"variant": variant, "seconds": t, "tasks": tasks, "rows": n_rows,
            "total_seconds": sum(v for k, v in t.items() if k != "imports"),
            "shuffle_partitions": conf.get("spark.sql.shuffle.partitions",
                                           CLUSTER_DEFAULTS.get("spark.sql.shuffle.partitions", "200"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--archive", default=str(ROOT / "benchmarks" / "data" / "clv-env.tar.gz"))
    ap.add_argument("--child", nargs=3, metavar=("MASTER", "VARIANT", "OUT_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        master, variant, out_dir = args.child
        print("RESULT " + json.dumps(child(master, args.archive, variant, out_dir)), flush=True)
        return
    from clvmodels.spark import pack_environment
    from clvmodels.spark.standalone import StandaloneCluster

    os.makedirs(os.path.dirname(args.archive), exist_ok=True)
    packed = None
    if not os.path.exists(args.archive):
        p = pack_environment(args.archive)
        packed = {"seconds": p.seconds, "size_bytes": p.size_bytes, "n_files": p.n_files}
        print(f"packed {p.size_bytes / 1e6:.0f} MB, {p.n_files} files in {p.seconds:.1f} s", flush=True)
    results = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    with StandaloneCluster(cores=2, memory="2g") as cluster, tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):
            for variant in args.variants:
                w0 = time.perf_counter()
                proc = subprocess.run([sys.executable, __file__, "--archive", args.archive, "--child",
                                       cluster.master_url, variant, out_dir], capture_output=True, text=True, env=env)
                line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    raise SystemExit(f"{variant} failed:\n{proc.stderr[-4000:]}")
                res = json.loads(line[7:])
                res.update(round=r, process_seconds=time.perf_counter() - w0, load_average=os.getloadavg()[0])
                results.append(res)
                s = res["seconds"]
                print(f"round {r} {variant:15s} total {res['total_seconds']:6.1f} s  session {s['session']:5.1f}  "
                      f"summary {s['summary']:5.1f} ({res['tasks']['summary']} tasks)  fit {s['fit']:5.1f}  "
                      f"score {s['score']:5.1f} ({res['tasks']['score']} tasks)  load {res['load_average']:.1f}",
                      flush=True)
    out = HERE / "results" / "bench_spark_cluster.json"
    out.write_text(json.dumps({"packed": packed, "runs": results, "cpus": os.cpu_count()}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
