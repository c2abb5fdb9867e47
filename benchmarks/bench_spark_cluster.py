"""Benchmark: CDNOW (2,357 customers) or a simulated log of 1 million customers through a Spark standalone
cluster on this machine, with Spark's default shuffle settings, with adaptive execution off, and with
:func:`clvmodels.spark.cluster_session`'s.

A master and a worker (2 cores, 2 GB) are started from the pyspark package
(:class:`clvmodels.spark.standalone.StandaloneCluster`); the executors' environment is the archive of
:func:`clvmodels.spark.pack_environment` (built once, reused from ``--archive`` if it exists). Each
variant runs in its own fresh subprocess (its own driver JVM, a new application on the cluster):

* ``spark-defaults``: the session as the README snippet of a plain ``SparkSession.builder`` makes it, the
  archive shipped, shuffle settings left at Spark's defaults (``spark.sql.shuffle.partitions`` 200;
  adaptive execution on, coalescing with ``parallelismFirst``);
* ``no-aqe``: the same with adaptive query execution off (``spark.sql.adaptive.enabled=false``): every
  shuffle runs ``spark.sql.shuffle.partitions`` (200) tasks, as Spark 3 did by default;
* ``clvmodels``: :func:`clvmodels.spark.cluster_session` (:data:`clvmodels.spark.cluster.CLUSTER_DEFAULTS`:
  adaptive coalescing to ~64 MB partitions).

Data (``--data``): ``cdnow`` (the bundled sample, created in the driver and sent to the cluster, whole log to
1998-06-30) or ``1m``: the 1,000,000-customer log of ``bench_scaling.py`` (BG/NBD r 0.25, alpha 4, a 0.8,
b 2.5; Gamma-Gamma p 6, q 3.7, v 15; first purchases over 2022, observation to 2023-12-31, daily dates;
3.0 million rows in ``benchmarks/data/scaling/tx_1000000/``, simulated on first use), read by the
executors from Parquet. Both weekly, day-level times (the library's default), scored over 52 weeks at
10%/year with 1,000 draws of the MAP fit's Laplace approximation. Each run also reports the forecast's
row count and CLV total, so the variants can be seen to compute the same table.

Timed stages (wall seconds): ``session`` (SparkContext on the master), ``summary``
(``summarize_spark`` with its count), ``fit`` (``fit_models_spark``, MAP, on the driver from the counts),
``score`` (``score_spark`` and ``write_forecast_parquet``); and the number of Spark tasks each stage ran.
The first job of an application also pays for each executor unpacking the archive and its Python
workers importing clvmodels, PyMC and Numba (and compiling the kernels where no cache is shipped).

Usage (repository root)::

    .venv/bin/python benchmarks/bench_spark_cluster.py                 # both variants, 2 rounds
    .venv/bin/python benchmarks/bench_spark_cluster.py --rounds 1 --variants clvmodels
    .venv/bin/python benchmarks/bench_spark_cluster.py --data 1m --rounds 1 --variants no-aqe

Results: ``benchmarks/results/bench_spark_cluster.json`` (CDNOW) and ``bench_spark_cluster_1m.json``; runs
are added to the file (each with its date, round and the load average before and after it).
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
VARIANTS = ("spark-defaults", "no-aqe", "clvmodels")
#: per data set: the worker's memory, the application's executor memory, the observation end
DATA = {"cdnow": {"worker_memory": "2g", "executor_memory": "1g", "observation_end": "1998-06-30"},
        "1m": {"worker_memory": "3g", "executor_memory": "2g", "observation_end": "2023-12-31"}}


def results_path(data: str) -> Path:
    return HERE / "results" / ("bench_spark_cluster.json" if data == "cdnow" else f"bench_spark_cluster_{data}.json")


def scaling_log() -> str:
    """The 1M-customer Parquet log of bench_scaling.py (simulated there on first use)."""
    sys.path.insert(0, str(HERE))
    import bench_scaling

    bench_scaling.make_log(1_000_000)
    return str(bench_scaling.log_dir(1_000_000))


def child(master: str, archive: str, variant: str, out_dir: str, data: str = "cdnow") -> dict:
    """One application on the cluster; returns the stage timings and task counts."""
    t0 = time.perf_counter()
    from clvmodels.datasets import load_cdnow_sample
    from clvmodels.spark import cluster_session, fit_models_spark, score_spark, summarize_spark, write_forecast_parquet
    from clvmodels.spark.cluster import CLUSTER_DEFAULTS

    conf = {"spark.driver.bindAddress": "127.0.0.1", "spark.ui.enabled": "false"}
    if variant in ("spark-defaults", "no-aqe"):  # Spark's own values for the settings cluster_session chooses
        conf.update({"spark.sql.adaptive.coalescePartitions.parallelismFirst": "true",
                     "spark.sql.adaptive.advisoryPartitionSizeInBytes": "64m",
                     "spark.sql.shuffle.partitions": "200",
                     "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "false"})
    if variant == "no-aqe":
        conf["spark.sql.adaptive.enabled"] = "false"
    settings = DATA[data]
    t = {"imports": time.perf_counter() - t0}
    t0 = time.perf_counter()
    spark = cluster_session(master, archive=archive, executor_memory=settings["executor_memory"], cores_max=2,
                            driver_host="127.0.0.1",
                            app_name=f"bench-{variant}", conf=conf)
    t["session"] = time.perf_counter() - t0
    sc = spark.sparkContext
    tasks, stage_tasks = {}, {}

    def stage(name, fn):
        sc.setJobGroup(name, name)
        s0 = time.perf_counter()
        out = fn()
        t[name] = time.perf_counter() - s0
        tracker = sc.statusTracker()
        n, per_stage = 0, []
        for job in sorted(tracker.getJobIdsForGroup(name)):
            info = tracker.getJobInfo(job)
            for st in (info.stageIds if info else []):
                si = tracker.getStageInfo(st)
                n += si.numCompletedTasks if si else 0  # skipped stages (shuffle reused) ran none
                if si and si.numCompletedTasks:
                    per_stage.append(si.numCompletedTasks)
        tasks[name], stage_tasks[name] = n, per_stage
        return out

    if data == "cdnow":
        tx = spark.createDataFrame(load_cdnow_sample()[["customer_id", "date", "amount"]])
    else:
        tx = spark.read.parquet(scaling_log())
    end = settings["observation_end"]
    summary = stage("summary", lambda: summarize_spark(tx, observation_end=end, time_unit="W"))
    bg, gg = stage("fit", lambda: fit_models_spark(summary, method="map", seed=1, progressbar=False))
    target = os.path.join(out_dir, f"forecast-{variant}.parquet")
    stage("score", lambda: write_forecast_parquet(score_spark(summary, bg, gg, "52W", discount_rate=0.1), target))
    from pyspark.sql import functions as F

    got = spark.read.parquet(target).agg(F.count(F.lit(1)).alias("n"), F.sum("clv").alias("clv"),
                                         F.sum("expected_purchases").alias("purchases")).collect()[0]
    spark_conf = {"parallelismFirst": spark.conf.get("spark.sql.adaptive.coalescePartitions.parallelismFirst"),
                  "adaptive": spark.conf.get("spark.sql.adaptive.enabled")}
    spark.stop()
    return {"variant": variant, "data": data, "seconds": t, "tasks": tasks, "stage_tasks": stage_tasks,
            "parallelism_first": spark_conf["parallelismFirst"], "adaptive": spark_conf["adaptive"],
            "rows": int(got["n"]),
            "clv_sum": float(got["clv"]), "expected_purchases_sum": float(got["purchases"]),
            "bgnbd": {k: float(v) for k, v in bg.params_.items()},
            "total_seconds": sum(v for k, v in t.items() if k != "imports"),
            "shuffle_partitions": conf.get("spark.sql.shuffle.partitions",
                                           CLUSTER_DEFAULTS.get("spark.sql.shuffle.partitions", "200"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--data", choices=sorted(DATA), default="cdnow")
    ap.add_argument("--archive", default=str(ROOT / "benchmarks" / "data" / "clv-env.tar.gz"))
    ap.add_argument("--child", nargs=3, metavar=("MASTER", "VARIANT", "OUT_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        master, variant, out_dir = args.child
        print("RESULT " + json.dumps(child(master, args.archive, variant, out_dir, args.data)), flush=True)
        return
    if args.data != "cdnow":
        scaling_log()  # simulated once, outside the timed runs
    from clvmodels.spark import pack_environment
    from clvmodels.spark.standalone import StandaloneCluster

    os.makedirs(os.path.dirname(args.archive), exist_ok=True)
    packed = None
    if not os.path.exists(args.archive):
        p = pack_environment(args.archive)
        packed = {"seconds": p.seconds, "size_bytes": p.size_bytes, "n_files": p.n_files}
        print(f"packed {p.size_bytes / 1e6:.0f} MB, {p.n_files} files in {p.seconds:.1f} s", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    out = results_path(args.data)
    previous = json.loads(out.read_text()) if out.exists() else {}
    results = list(previous.get("runs", []))
    with StandaloneCluster(cores=2, memory=DATA[args.data]["worker_memory"]) as cluster, \
            tempfile.TemporaryDirectory(dir=str(ROOT / "benchmarks" / "data")) as out_dir:
        for r in range(args.rounds):
            for variant in args.variants:
                load_before = os.getloadavg()[0]
                w0 = time.perf_counter()
                proc = subprocess.run([sys.executable, __file__, "--archive", args.archive, "--data", args.data,
                                       "--child", cluster.master_url, variant, out_dir],
                                      capture_output=True, text=True, env=env)
                line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    raise SystemExit(f"{variant} failed:\n{proc.stderr[-4000:]}")
                res = json.loads(line[7:])
                res.update(round=r, process_seconds=time.perf_counter() - w0, load_average_before=load_before,
                           load_average=os.getloadavg()[0], date=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))
                results.append(res)
                s = res["seconds"]
                print(f"round {r} {variant:15s} total {res['total_seconds']:6.1f} s  session {s['session']:5.1f}  "
                      f"summary {s['summary']:5.1f} ({res['tasks']['summary']} tasks)  fit {s['fit']:5.1f}  "
                      f"score {s['score']:5.1f} ({res['tasks']['score']} tasks)  load {load_before:.1f} -> "
                      f"{res['load_average']:.1f}  clv sum {res['clv_sum']:.6f}", flush=True)
    out.write_text(json.dumps({"packed": packed or previous.get("packed"), "runs": results, "cpus": os.cpu_count()},
                              indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
