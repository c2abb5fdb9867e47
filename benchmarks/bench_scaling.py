"""Benchmark: how the cost of each stage grows with the number of customers, on one small machine.

Simulated bases of 10 thousand, 100 thousand, 1 million and 10 million customers (BG/NBD r = 0.25,
alpha = 4 per week, a = 0.8, b = 2.5; Gamma-Gamma p = 6, q = 3.7, v = 15; first purchases uniform over
2022, observation to 2023-12-31: two years of history, daily dates, amounts in cents; weekly unit),
written as Parquet logs (one file per million customers) in ``benchmarks/data/scaling/`` (git-ignored).

Stages, each in its own fresh subprocess (its wall time, and the peak resident memory of the process
*and its children*, sampled every 0.1 s: the Spark stages' JVM is a child of the Python driver):

* ``summary-duckdb``: ``clvmodels.summarize(files, engine="duckdb")`` (the summary the later stages use);
* ``summary-spark``: ``clvmodels.spark.summarize_spark(files)`` in Spark local mode (``local[2]``),
  materialised (``persist=True`` counts the customers), checked against the DuckDB summary's totals;
* ``fit``: BG/NBD on the distinct-triplet counts (what ``fit_models_spark`` collects) and Gamma-Gamma on
  the summary, NUTS (``--chains`` x ``--draws`` after ``--tune``) or MAP (``--method map``);
  reports the number of distinct triplets and distinct spend rows;
* ``score-pandas``: ``clvmodels.scoring.score`` on the whole summary in one process (sizes up to
  ``--pandas-score-max``);
* ``score-spark``: ``clvmodels.spark.score_spark`` on the summary in Spark local mode, written with
  ``write_forecast_parquet`` (sizes up to ``--spark-score-max``);
* ``pymc-marketing``: pymc-marketing 1.3.0's ``BetaGeoModel().fit`` with the same sampler settings on
  the per-customer table (it has no weights), in ``benchmarks/.env-pymc-marketing`` (created by
  ``bench_fit.py --setup`` or here on first use), at the sizes it finishes within ``--peer-timeout``
  (30 minutes by default): a size that times out is recorded as such and larger sizes are skipped.

Scoring settings: horizon 52 weeks, 10% annual discount rate, ``--max-draws`` (100) joint posterior
draws. Results are merged into ``benchmarks/results/bench_scaling.json`` per (stage, size), so runs add
up; ``--report`` redraws ``benchmarks/scaling.png`` (log-log cost against customers, per stage) and
prints the Markdown table of the README's Scaling section from the JSON.

Usage (repository root, project virtual environment)::

    .venv/bin/python benchmarks/bench_scaling.py                                  # everything
    .venv/bin/python benchmarks/bench_scaling.py --sizes 10000,100000 --stages summary-duckdb,fit
    .venv/bin/python benchmarks/bench_scaling.py --report                         # plot + table only
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "scaling"
RESULTS = HERE / "results" / "bench_scaling.json"
PLOT = HERE / "scaling.png"
ENV_PYMC = HERE / ".env-pymc-marketing"

SIZES = [10_000, 100_000, 1_000_000, 10_000_000]
STAGES = ["summary-duckdb", "summary-spark", "fit", "score-pandas", "score-spark", "pymc-marketing", "end-to-end"]
BLOCK = 1_000_000
BGNBD = dict(r=0.25, alpha=4.0, a=0.8, b=2.5)
GG = dict(p=6.0, q=3.7, v=15.0)
START, END = "2022-01-01", "2023-12-31"
SEED = 20240917
HORIZON, DISCOUNT = "52W", 0.1


# ---------------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------------
class PeakMemory:
    """Peak resident memory of this process and all its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.1):
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        procs = [self._proc]
        try:
            procs += self._proc.children(recursive=True)
        except psutil.Error:
            pass
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20


def log_dir(n: int) -> Path:
    return DATA / f"tx_{n}"


def _mode_suffix(mode: str) -> str:
    return "" if mode == "continuous" else f"_{mode}"


def summary_path(n: int, mode: str = "continuous") -> Path:
    return DATA / f"summary_{n}{_mode_suffix(mode)}.parquet"


def model_dir(n: int, mode: str = "continuous") -> Path:
    return DATA / f"models_{n}{_mode_suffix(mode)}"


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------
def make_log(n: int) -> dict:
    """The Parquet log of ``n`` customers, one file per block of a million (ids 1..n), dates as DATE."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clvmodels.simulate import simulate_transactions

    out = log_dir(n)
    done = out / "_SUCCESS.json"
    if done.exists():
        return json.loads(done.read_text())
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    rows = 0
    for i, first in enumerate(range(0, n, BLOCK)):
        size = min(BLOCK, n - first)
        log = simulate_transactions(size, **BGNBD, **GG, start=START, acquisition_days=365.0, observation_end=END,
                                    time_unit="W", seed=[SEED, n, i])
        table = pa.table({
            "customer_id": pa.array(log["customer_id"].to_numpy(np.int64) + first),
            "date": pa.array(log["date"].to_numpy().astype("datetime64[D]")),
            "amount": pa.array(np.round(log["amount"].to_numpy(), 2)),
        })
        pq.write_table(table, out / f"part-{i:04d}.parquet")
        rows += len(log)
        del log, table
    info = {"n_customers": n, "n_rows": rows, "bytes": sum(f.stat().st_size for f in out.glob("*.parquet")),
            "seconds": time.perf_counter() - t0}
    done.write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------------------------------------------
# Stages (each runs in a child process: ``bench_scaling.py --child STAGE N``)
# ---------------------------------------------------------------------------------------------------
def _spark(cores: int = 2):
    from clvmodels.spark import local_session

    return local_session(cores, driver_memory="3g", shuffle_partitions=8, app_name="bench-scaling",
                         conf={"spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
                               "spark.local.dir": str(DATA / "spark-tmp")})


def stage_summary_duckdb(n: int, opts) -> dict:
    import clvmodels as clv
    from clvmodels.models.triplets import compress

    files = str(log_dir(n))
    t0 = time.perf_counter()
    s = clv.summarize(files, engine="duckdb", observation_end=END, time_unit="W", time_mode=opts.time_mode,
                      duckdb_config={"threads": 2, "memory_limit": "3GB"})
    seconds = time.perf_counter() - t0
    trip = compress(s["frequency"], s["recency"], s["T"])
    spend_rows = s.loc[s["frequency"] > 0, ["frequency", "monetary_value"]].drop_duplicates()
    # microsecond timestamps: Spark cannot read Parquet's nanosecond ones
    s.reset_index().to_parquet(summary_path(n, opts.time_mode), index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    return {"seconds": seconds, "n_summary": int(len(s)), "n_triplets": int(len(trip)),
            "n_spend_rows": int(len(spend_rows)), "n_repeat": int((s["frequency"] > 0).sum()),
            "totals": _totals(s)}


def _totals(s) -> dict:
    return {"frequency": int(s["frequency"].sum()), "recency": float(s["recency"].sum()),
            "T": float(s["T"].sum()), "historical_clv": round(float(s["historical_clv"].sum()), 2)}


def stage_summary_spark(n: int, opts) -> dict:
    from pyspark.sql import functions as F

    from clvmodels.spark import summarize_spark

    spark = _spark()
    t0 = time.perf_counter()
    sdf = summarize_spark(str(log_dir(n)), observation_end=END, time_unit="W", time_mode=opts.time_mode,
                          spark=spark)  # persists + counts
    seconds = time.perf_counter() - t0
    tot = sdf.agg(F.sum("frequency").alias("frequency"), F.sum("recency").alias("recency"), F.sum("T").alias("T"),
                  F.sum("historical_clv").alias("historical_clv"), F.count(F.lit(1)).alias("n")).collect()[0]
    out = {"seconds": seconds, "n_summary": int(tot["n"]),
           "totals": {"frequency": int(tot["frequency"]), "recency": float(tot["recency"]), "T": float(tot["T"]),
                      "historical_clv": round(float(tot["historical_clv"]), 2)}}
    spark.stop()
    return out


def stage_fit(n: int, opts) -> dict:
    import numpy as np
    import pandas as pd

    from clvmodels import BetaGeoModel, GammaGammaModel

    s = pd.read_parquet(summary_path(n, opts.time_mode), columns=["frequency", "recency", "T", "monetary_value"])
    s.attrs["clvmodels"] = {"time_unit": "W"}
    cfg = dict(method=opts.method, chains=opts.chains, draws=opts.draws, tune=opts.tune, seed=1, progressbar=False)
    t0 = time.perf_counter()
    # what clvmodels.spark.triplet_counts / spend_counts collect to the driver
    trip = s.groupby(["frequency", "recency", "T"], sort=False).size().rename("n_customers").reset_index()
    mv = np.where(s["frequency"] > 0, s["monetary_value"], 0.0)
    spend = (pd.DataFrame({"frequency": s["frequency"], "monetary_value": mv})
             .groupby(["frequency", "monetary_value"], sort=False).size().rename("n_customers").reset_index())
    t_counts = time.perf_counter() - t0
    del s
    for d in (trip, spend):
        d.attrs["clvmodels"] = {"time_unit": "W"}
    t1 = time.perf_counter()
    bg = BetaGeoModel(**cfg).fit(trip)
    t_bg = time.perf_counter() - t1
    t2 = time.perf_counter()
    gg = GammaGammaModel(**cfg).fit(spend)
    t_gg = time.perf_counter() - t2
    md = model_dir(n, opts.time_mode)
    md.mkdir(parents=True, exist_ok=True)
    bg.save(md / "bgnbd.clvm")
    gg.save(md / "gamma_gamma.clvm")
    return {"seconds": t_counts + t_bg + t_gg, "counts_s": t_counts, "bgnbd_s": t_bg, "gamma_gamma_s": t_gg,
            "n_triplets": int(len(trip)), "n_spend_rows": int(len(spend)),
            "method": opts.method, "chains": opts.chains, "draws": opts.draws, "tune": opts.tune,
            "bgnbd": {k: float(v) for k, v in bg.params_.items()},
            "gamma_gamma": {k: float(v) for k, v in gg.params_.items()},
            "min_ess_bulk": (min(bg.diagnostics_.ess_bulk.values()) if opts.method == "nuts" else None)}


def _models(n: int, mode: str):
    from clvmodels.models.base import BayesianModel

    md = model_dir(n, mode)
    return BayesianModel.load(md / "bgnbd.clvm"), BayesianModel.load(md / "gamma_gamma.clvm")


def stage_score_pandas(n: int, opts) -> dict:
    import pandas as pd

    from clvmodels.scoring import score

    bg, gg = _models(n, opts.time_mode)
    s = pd.read_parquet(summary_path(n, opts.time_mode)).set_index("customer_id")
    s.attrs["clvmodels"] = {"time_unit": "W"}
    t0 = time.perf_counter()
    table = score(s, bg, gg, HORIZON, discount_rate=DISCOUNT, max_draws=opts.max_draws)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "n_scored": int(len(table)), "max_draws": opts.max_draws,
            "clv_sum": float(table["clv"].sum())}


def stage_score_spark(n: int, opts) -> dict:
    from pyspark.sql import functions as F

    from clvmodels.spark import score_spark, write_forecast_parquet

    bg, gg = _models(n, opts.time_mode)
    spark = _spark()
    summary = spark.read.parquet(str(summary_path(n, opts.time_mode)))
    t0 = time.perf_counter()
    forecast = score_spark(summary, bg, gg, HORIZON, discount_rate=DISCOUNT, max_draws=opts.max_draws)
    out_path = DATA / f"forecast_{n}.parquet"
    write_forecast_parquet(forecast, str(out_path))
    seconds = time.perf_counter() - t0
    got = spark.read.parquet(str(out_path)).agg(F.count(F.lit(1)).alias("n"), F.sum("clv").alias("clv")).collect()[0]
    spark.stop()
    shutil.rmtree(out_path, ignore_errors=True)
    return {"seconds": seconds, "n_scored": int(got["n"]), "max_draws": opts.max_draws, "clv_sum": float(got["clv"])}


def stage_pymc_marketing(n: int, opts) -> dict:
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel

    s = pd.read_parquet(summary_path(n, opts.time_mode), columns=["customer_id", "frequency", "recency", "T"])
    t0 = time.perf_counter()
    m = BetaGeoModel(data=s) if _pmm_needs_data() else BetaGeoModel()
    kw = dict(progressbar=False, random_seed=1)
    if opts.method == "nuts":
        kw.update(chains=opts.chains, draws=opts.draws, tune=opts.tune, nuts_sampler="nutpie")
    if _pmm_needs_data():
        m.fit(fit_method="mcmc" if opts.method == "nuts" else "map", **kw)
    else:
        m.fit(s, method="mcmc" if opts.method == "nuts" else "map", **kw)
    seconds = time.perf_counter() - t0
    post = m.idata["posterior"]
    return {"seconds": seconds, "method": opts.method,
            "bgnbd": {k: float(post[k].mean()) for k in ("r", "alpha", "a", "b")}}


def _pmm_needs_data() -> bool:
    import inspect

    from pymc_marketing.clv import BetaGeoModel

    return "data" in inspect.signature(BetaGeoModel.__init__).parameters and \
        inspect.signature(BetaGeoModel.__init__).parameters["data"].default is inspect.Parameter.empty


def stage_end_to_end(n: int, opts) -> dict:
    """``clv forecast`` on the Parquet log, as a user runs it: DuckDB summary, NUTS fits of both models,
    scoring from ``--max-draws`` joint draws, atomic Parquet write. Stage times from the table's JSON."""
    out = DATA / f"e2e_{n}.parquet"
    exe = str(Path(sys.executable).parent / "clv")
    cmd = [exe, "forecast", str(log_dir(n)), "--observation-end", END, "--time-unit", "W",
           "--time-mode", opts.time_mode, "--horizon", "52", "--discount-rate", str(DISCOUNT),
           "--chains", str(opts.chains), "--draws", str(opts.draws), "--tune", str(opts.tune), "--seed", "1",
           "--max-draws", str(opts.max_draws), "--method", opts.method, "-o", str(out), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    models = meta.get("models", {})
    res = {"seconds": seconds, "stages_s": meta.get("timings_seconds"), "n_scored": meta.get("n_customers"),
           "max_draws": opts.max_draws, "method": opts.method, "chains": opts.chains, "draws": opts.draws,
           "tune": opts.tune, "output_bytes": out.stat().st_size,
           "diagnostics": {k: v.get("diagnostics", {}) for k, v in models.items()}}
    out.unlink()
    Path(str(out) + ".meta.json").unlink()
    return res


CHILD = {"end-to-end": stage_end_to_end, "summary-duckdb": stage_summary_duckdb, "summary-spark": stage_summary_spark, "fit": stage_fit,
         "score-pandas": stage_score_pandas, "score-spark": stage_score_spark, "pymc-marketing": stage_pymc_marketing}


def child_main(stage: str, n: int, opts) -> None:
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.filterwarnings("ignore")
    with PeakMemory() as mem:
        res = CHILD[stage](n, opts)
    res.update({"stage": stage, "n_customers": n, "peak_rss_mib": mem.peak_mib, "time_mode": opts.time_mode})
    print("RESULT " + json.dumps(res), flush=True)


# ---------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------
def interpreter(stage: str) -> str:
    if stage == "pymc-marketing":
        return str(ENV_PYMC / "bin" / "python")
    return sys.executable


def ensure_pymc_env() -> bool:
    py = ENV_PYMC / "bin" / "python"
    if not py.exists():
        subprocess.run([shutil.which("python3.12") or sys.executable, "-m", "venv", str(ENV_PYMC)], check=True)
        subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "pymc-marketing==1.3.0", "pyarrow",
                        "nutpie==0.16.11"], check=True)
    ok = subprocess.run([str(py), "-c", "import psutil, pymc_marketing"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "psutil"], check=True)
    return True


def run_child(stage: str, n: int, opts, timeout: float) -> dict:
    cmd = [interpreter(stage), str(Path(__file__).resolve()), "--child", stage, str(n), "--method", opts.method,
           "--chains", str(opts.chains), "--draws", str(opts.draws), "--tune", str(opts.tune),
           "--max-draws", str(opts.max_draws), "--time-mode", opts.time_mode]
    env = dict(os.environ, PYTHONPATH=str(ROOT) if stage != "pymc-marketing" else "", SPARK_LOCAL_IP="127.0.0.1")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"stage": stage, "n_customers": n, "timed_out": True, "timeout_s": timeout}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[len("RESULT "):])
            res["process_s"] = time.perf_counter() - t0
            return res
    tail = (proc.stderr or proc.stdout)[-3000:]
    return {"stage": stage, "n_customers": n, "failed": True, "error": tail}


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def save_result(res: dict) -> None:
    allres = load_results()
    key = res["stage"] + ("" if res.get("time_mode", "continuous") == "continuous" else ":" + res["time_mode"])
    allres.setdefault(key, {})[str(res["n_customers"])] = res
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(allres, indent=2, sort_keys=True) + "\n")


def report() -> str:
    """Redraw the plot (weekly-period runs; day-level runs faded) and return the Markdown tables."""
    allres = load_results()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"summary-duckdb": "summary (DuckDB)", "summary-spark": "summary (Spark local[2])",
              "fit": "fit (BG/NBD + Gamma-Gamma)", "score-pandas": "score (1 process)",
              "score-spark": "score (Spark local[2])", "pymc-marketing": "pymc-marketing BG/NBD fit",
              "end-to-end": "end to end (clv forecast)"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    colors = dict(zip(STAGES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for mode, style, alpha in (("periods", "o-", 1.0), ("continuous", "x:", 0.45)):
        for stage in STAGES:
            key = stage if mode == "continuous" else f"{stage}:{mode}"
            rows = [r for r in allres.get(key, {}).values() if "seconds" in r]
            rows.sort(key=lambda r: r["n_customers"])
            if not rows:
                continue
            x = [r["n_customers"] for r in rows]
            lab = labels[stage] + ("" if mode == "periods" else ", day-level")
            ax1.plot(x, [r["seconds"] for r in rows], style, color=colors[stage], alpha=alpha, label=lab)
            ax2.plot(x, [r["peak_rss_mib"] / 1024 for r in rows], style, color=colors[stage], alpha=alpha, label=lab)
    for ax, title in ((ax1, "wall time (s)"), (ax2, "peak memory, process + children (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("customers")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax1.axhline(600, color="grey", ls=":", lw=1)
    ax2.axhline(8, color="grey", ls=":", lw=1)
    ax2.legend(fontsize=6.5, loc="upper left")
    fig.suptitle("clvmodels: cost per stage against customers, 2-core machine (solid: weekly periods; "
                 "faded: day-level times; dotted: 10 min, 8 GiB)", fontsize=9)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=90)
    plt.close(fig)

    def cell(key, n):
        r = allres.get(key, {}).get(str(n))
        if r is None:
            return "not run"
        if r.get("timed_out"):
            return f"> {r['timeout_s'] / 60:.0f} min (stopped)"
        if r.get("failed"):
            return "failed"
        return f"{r['seconds']:,.1f} s / {r['peak_rss_mib'] / 1024:.2f} GiB"

    out = []
    for mode in ("periods", "continuous"):
        keys = {st: (st if mode == "continuous" else f"{st}:{mode}") for st in STAGES}
        present = [st for st in STAGES if keys[st] in allres]
        if not present:
            continue
        sizes = sorted({int(n) for st in present for n in allres[keys[st]]})
        lines = [f"**{'weekly periods' if mode == 'periods' else 'day-level times'}**", "",
                 "| stage | " + " | ".join(f"{n:,}" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
        for st in present:
            lines.append(f"| {labels[st]} | " + " | ".join(cell(keys[st], n) for n in sizes) + " |")
            if st == "fit":
                parts = []
                for n in sizes:
                    r = allres[keys["fit"]].get(str(n), {})
                    parts.append(f"{r['bgnbd_s']:,.1f} s + {r['gamma_gamma_s']:,.1f} s" if "bgnbd_s" in r else "not run")
                lines.append("| fit: BG/NBD + Gamma-Gamma parts | " + " | ".join(parts) + " |")
            if st == "end-to-end":
                parts = []
                for n in sizes:
                    r = allres[keys[st]].get(str(n), {})
                    t = r.get("stages_s") or {}
                    parts.append(" / ".join(f"{t.get(k, float('nan')):,.0f}" for k in ("summary", "fit", "predict", "write"))
                                 if t else "not run")
                lines.append("| end to end: summary / fit / predict / write (s) | " + " | ".join(parts) + " |")
        extra = []
        for n in sizes:
            d = allres.get(keys["summary-duckdb"], {}).get(str(n), {})
            f = allres.get(keys["fit"], {}).get(str(n), {})
            v = d.get("n_triplets", f.get("n_triplets"))
            extra.append(f"{v:,}" if isinstance(v, int) else "?")
        lines.append("| distinct (frequency, recency, T) | " + " | ".join(extra) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--method", default="nuts", choices=["nuts", "map"])
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--max-draws", type=int, default=1000)
    ap.add_argument("--time-mode", default="periods", choices=["periods", "continuous"],
                    help="whole weeks (default, as lifetimes' freq='W') or day-level times")
    ap.add_argument("--pandas-score-max", type=int, default=10_000_000)
    ap.add_argument("--spark-score-max", type=int, default=10_000_000)
    ap.add_argument("--stage-timeout", type=float, default=3600.0)
    ap.add_argument("--peer-timeout", type=float, default=1800.0)
    ap.add_argument("--report", action="store_true", help="only redraw the plot and print the table")
    ap.add_argument("--child", nargs=2, metavar=("STAGE", "N"), help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.child:
        child_main(opts.child[0], int(opts.child[1]), opts)
        return 0
    if opts.report:
        print(report())
        return 0
    sys.path.insert(0, str(ROOT))
    sizes = [int(s) for s in opts.sizes.split(",") if s]
    stages = [s for s in opts.stages.split(",") if s]
    print(f"disk free under {HERE}: {shutil.disk_usage(HERE).free / 2**30:.0f} GiB", flush=True)
    peer_done = True
    for n in sizes:
        info = make_log(n)
        print(f"log {n:,}: {info['n_rows']:,} rows, {info['bytes'] / 2**20:.0f} MiB", flush=True)
        for stage in stages:
            if stage == "score-pandas" and n > opts.pandas_score_max:
                continue
            if stage == "score-spark" and n > opts.spark_score_max:
                continue
            if stage == "pymc-marketing":
                if not peer_done:
                    continue
                ensure_pymc_env()
            timeout = opts.peer_timeout if stage == "pymc-marketing" else opts.stage_timeout
            res = run_child(stage, n, opts, timeout)
            if stage == "pymc-marketing" and (res.get("timed_out") or res.get("failed")):
                peer_done = False
            save_result(res)
            shown = {k: v for k, v in res.items() if k not in ("error",)}
            print(json.dumps(shown), flush=True)
            if res.get("failed"):
                print(res["error"], file=sys.stderr, flush=True)
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
