"""Benchmark: the RFM summary of a large transaction log, clvmodels against its peers.

What it measures, side by side in one run, each tool in its own fresh subprocess (so imports, memory
and caches never leak from one tool into another):

* ``clvmodels-pandas``: ``clvmodels.data.summarize(path, engine="pandas")`` (reads the Parquet file
  itself, with pyarrow, then validates and aggregates in NumPy);
* ``clvmodels-duckdb``: ``clvmodels.data.summarize(path, engine="duckdb")`` (validates and aggregates
  in SQL over the file; the log never enters pandas);
* ``pymc-marketing``: ``pymc_marketing.clv.utils.rfm_summary`` 1.3.0 on ``pandas.read_parquet(path)``;
* ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` 0.11.3 on the same.

For each: wall time of reading and of summarising (clvmodels does both in one call), peak resident
memory of the process (``getrusage(RUSAGE_SELF).ru_maxrss`` reported by the child, so it covers
everything the tool did, imports included; the resident memory after imports is reported too), and
the sums of frequency, recency, T and monetary_value, which must agree between all tools.

The log: 10 million transactions of 1 million customers over two years (2022-01-01 to 2023-12-31),
daily dates (a timestamp column at midnight), amounts in cents; each customer's first purchase is
uniform over the two years and their other purchases uniform between it and the end; rows in date
order. ``--big`` also summarises a 100-million-row log (10 million customers, written in ten blocks of
one million customers, each in date order) with the DuckDB engine only, and reports its peak memory.
Both logs are generated once (seeded) and cached in ``benchmarks/data/`` (git-ignored).

The peers live in their own environments, which ``--setup`` creates:

* ``benchmarks/.env-pymc-marketing``: ``python3.12 -m venv``; ``pip install pymc-marketing==1.3.0 pyarrow``
* ``benchmarks/.env-lifetimes``: ``/root/.pyenv/versions/3.10.13/bin/python -m venv`` (lifetimes 0.11.3 is
  archived and needs Python <= 3.10 with pandas < 2 and numpy < 2, where it imports and runs);
  ``pip install lifetimes==0.11.3 "pandas<2" "numpy<2" pyarrow``

Usage (from the repository root, with the project's virtual environment)::

    .venv/bin/python benchmarks/bench_summary.py --setup          # once: create the peers' environments
    .venv/bin/python benchmarks/bench_summary.py --repeat 5       # 10M rows: all four tools, best of 5
    .venv/bin/python benchmarks/bench_summary.py --big            # and the 100M-row log (DuckDB engine)
    .venv/bin/python benchmarks/bench_summary.py --json out.json  # also write the results as JSON

The tools' runs are interleaved (A B C D A B C D ...) and the fastest run of each is reported, with the
median beside it: on a shared machine the fastest run is the least disturbed by other jobs. CPU time
(user + system, all threads) is reported too, as it depends less on other load than wall time.

This file must stay importable by the peers' interpreters (Python 3.10, no clvmodels): the top level
uses only the standard library.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
ENV_PYMC = HERE / ".env-pymc-marketing"
ENV_LIFETIMES = HERE / ".env-lifetimes"
PY310 = "/root/.pyenv/versions/3.10.13/bin/python"

START, END = "2022-01-01", "2023-12-31"
N_DAYS = 730
SEED = 20240601


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------
def _block(rng, first_customer: int, n_customers: int, n_rows: int):
    """One block of the synthetic log: every customer buys at least once (their first purchase)."""
    import numpy as np
    import pandas as pd

    first_day = rng.integers(0, N_DAYS, n_customers)
    extra = n_rows - n_customers
    who = np.concatenate([np.arange(n_customers), rng.integers(0, n_customers, extra)])
    lo = first_day[who]
    day = lo.copy()
    day[n_customers:] = lo[n_customers:] + (rng.random(extra) * (N_DAYS - lo[n_customers:])).astype(np.int64)
    cents = np.maximum(1, np.round(rng.lognormal(np.log(3500), 0.8, n_rows))).astype(np.int64)
    df = pd.DataFrame({
        "customer_id": (who + first_customer).astype(np.int64),
        "date": (np.datetime64(START, "D") + day.astype("timedelta64[D]")).astype("datetime64[ms]"),
        "amount": cents / 100.0,
    })
    return df.sort_values("date", kind="stable").reset_index(drop=True)


def make_log(path: Path, n_rows: int, n_customers: int, blocks: int = 1) -> Path:
    """Write the synthetic log to ``path`` (Parquet) unless it is already there; bounded memory."""
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    rng = np.random.default_rng(SEED + n_rows)
    writer = None
    per_block_c, per_block_r = n_customers // blocks, n_rows // blocks
    t0 = time.perf_counter()
    for b in range(blocks):
        df = _block(rng, 1 + b * per_block_c, per_block_c, per_block_r)
        table = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=1_000_000)
        print(f"  wrote block {b + 1}/{blocks} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    writer.close()
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------------
# Children: one tool each, in its own interpreter
# ---------------------------------------------------------------------------------------------------
def _rss_now_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime  # all threads of the process


def child(tool: str, path: str, end: str) -> dict:
    t_import = time.perf_counter()
    import pandas as pd

    if tool.startswith("clvmodels"):
        from clvmodels.data import summarize
    elif tool == "pymc-marketing":
        from pymc_marketing.clv.utils import rfm_summary
    elif tool == "lifetimes":
        from lifetimes.utils import summary_data_from_transaction_data
    else:
        raise SystemExit(f"unknown tool {tool}")
    import_s = time.perf_counter() - t_import
    rss_after_import = _rss_now_mb()

    t0 = time.perf_counter()
    c0 = _cpu_s()
    read_s = 0.0
    if tool.startswith("clvmodels"):
        s = summarize(path, observation_end=end, time_unit="D", engine=tool.split("-")[1])
        summary_s = time.perf_counter() - t0
    else:
        df = pd.read_parquet(path)
        read_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        if tool == "pymc-marketing":
            s = rfm_summary(df, customer_id_col="customer_id", datetime_col="date", monetary_value_col="amount",
                            observation_period_end=end, time_unit="D")
        else:
            s = summary_data_from_transaction_data(df, "customer_id", "date", monetary_value_col="amount",
                                                   observation_period_end=end, freq="D")
        summary_s = time.perf_counter() - t1
    cpu_s = _cpu_s() - c0
    sums = {c: float(s[c].astype("float64").sum()) for c in ("frequency", "recency", "T", "monetary_value")}
    return {"tool": tool, "version": _version(tool), "import_s": import_s, "read_s": read_s,
            "summary_s": summary_s, "total_s": read_s + summary_s, "cpu_s": cpu_s, "peak_rss_mb": _peak_mb(),
            "rss_after_import_mb": rss_after_import, "n_customers": int(len(s)), "sums": sums}


def _version(tool: str) -> str:
    from importlib.metadata import version

    name = {"pymc-marketing": "pymc-marketing", "lifetimes": "lifetimes"}.get(tool, "clvmodels")
    extra = ""
    if tool == "clvmodels-duckdb":
        extra = f" (duckdb {version('duckdb')})"
    return version(name) + extra + f", pandas {version('pandas')}, numpy {version('numpy')}"


# ---------------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------------
def interpreter(tool: str) -> str | None:
    if tool.startswith("clvmodels"):
        return sys.executable
    env = ENV_PYMC if tool == "pymc-marketing" else ENV_LIFETIMES
    py = env / "bin" / "python"
    return str(py) if py.exists() else None


def run_tool(tool: str, path: Path, end: str, timeout: int = 3600) -> dict:
    py = interpreter(tool)
    if py is None:
        return {"tool": tool, "error": "environment missing: run with --setup"}
    env = dict(os.environ, PYTHONPATH=str(ROOT) if tool.startswith("clvmodels") else "")
    t0 = time.perf_counter()
    proc = subprocess.run([py, str(Path(__file__).resolve()), "--child", tool, "--path", str(path), "--end", end],
                          capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"tool": tool, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else f"rc {proc.returncode}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


def setup() -> None:
    """Create the peers' environments (needs network access to PyPI)."""
    if not (ENV_PYMC / "bin" / "python").exists():
        subprocess.run([shutil.which("python3.12") or sys.executable, "-m", "venv", str(ENV_PYMC)], check=True)
        subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "pymc-marketing==1.3.0", "pyarrow"], check=True)
    if not (ENV_LIFETIMES / "bin" / "python").exists():
        subprocess.run([PY310, "-m", "venv", str(ENV_LIFETIMES)], check=True)
        subprocess.run([str(ENV_LIFETIMES / "bin" / "pip"), "install", "-q", "lifetimes==0.11.3", "pandas<2",
                        "numpy<2", "pyarrow"], check=True)


def best_of(runs: list[dict]) -> dict:
    """The fastest of a tool's runs (least disturbed by other load), with the median wall time too."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r["total_s"]))
    walls = sorted(r["total_s"] for r in ok)
    best["median_total_s"] = walls[len(walls) // 2]
    best["runs"] = len(ok)
    best["max_peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    return best


def _fmt(results: list[dict]) -> str:
    lines = ["| tool | read (s) | summary (s) | total (s) | median total (s) | CPU (s) | peak RSS (MB) "
             "| RSS after imports (MB) | customers |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['tool']} | failed: {r['error']} | | | | | | | |")
            continue
        lines.append(f"| {r['tool']} | {r['read_s']:.2f} | {r['summary_s']:.2f} | {r['total_s']:.2f} | "
                     f"{r.get('median_total_s', r['total_s']):.2f} | {r['cpu_s']:.2f} | "
                     f"{r.get('max_peak_rss_mb', r['peak_rss_mb']):.0f} | {r['rss_after_import_mb']:.0f} | "
                     f"{r['n_customers']:,} |")
    return "\n".join(lines)


def _agreement(results: list[dict]) -> str:
    ok = [r for r in results if "error" not in r]
    if not ok:
        return ""
    lines = ["| tool | sum frequency | sum recency | sum T | sum monetary_value |", "|---|---:|---:|---:|---:|"]
    for r in ok:
        s = r["sums"]
        lines.append(f"| {r['tool']} | {s['frequency']:.0f} | {s['recency']:.0f} | {s['T']:.0f} | "
                     f"{s['monetary_value']:.4f} |")
    ref = ok[0]["sums"]
    worst = max(abs(r["sums"][k] - ref[k]) / max(1.0, abs(ref[k])) for r in ok for k in ref)
    lines.append(f"\nlargest relative difference between tools: {worst:.2e}")
    return "\n".join(lines)


def _ratios(results: list[dict]) -> str:
    by = {r["tool"]: r for r in results if "error" not in r}
    lines = []
    for ours in ("clvmodels-pandas", "clvmodels-duckdb"):
        for peer in ("pymc-marketing", "lifetimes"):
            if ours in by and peer in by:
                a, b = by[ours], by[peer]
                mem = a.get("max_peak_rss_mb", a["peak_rss_mb"]) / b.get("max_peak_rss_mb", b["peak_rss_mb"])
                lines.append(f"- {ours} vs {peer}: {b['total_s'] / a['total_s']:.1f}x faster (read + summary, "
                             f"best runs; {b['summary_s'] / a['total_s']:.1f}x against the peer's summary alone; "
                             f"{b['cpu_s'] / a['cpu_s']:.1f}x less CPU time), peak memory {mem:.2f}x the peer's")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setup", action="store_true", help="create the peers' virtual environments and exit")
    ap.add_argument("--big", action="store_true", help="also summarise a 100-million-row log with DuckDB")
    ap.add_argument("--tools", default="clvmodels-pandas,clvmodels-duckdb,pymc-marketing,lifetimes")
    ap.add_argument("--json", default=None, help="write the results here too")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per tool, interleaved; the fastest is reported (default 3)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--path", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--end", default=END, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.path, args.end)))
        return 0
    if args.setup:
        setup()
        return 0

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", file=sys.stderr)
    print("preparing the 10M-row log (cached)", file=sys.stderr)
    log10 = make_log(DATA / "tx_10M_1M.parquet", 10_000_000, 1_000_000)
    tools = args.tools.split(",")
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    load_before = os.getloadavg()
    for i in range(args.repeat):
        for tool in tools:  # interleaved, so that changing load from elsewhere hits every tool alike
            print(f"run {i + 1}/{args.repeat}: {tool} ...", file=sys.stderr)
            runs[tool].append(run_tool(tool, log10, END))
            print(f"  {json.dumps(runs[tool][-1])}", file=sys.stderr)
    load_after = os.getloadavg()
    results = [best_of(runs[t]) for t in tools]
    report = ["### 10 million transactions, 1 million customers (daily unit)", "",
              f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
              f"best of {args.repeat} interleaved runs per tool", "", _fmt(results), "",
              _ratios(results), "", _agreement(results)]
    big = None
    if args.big:
        usage = shutil.disk_usage(DATA if DATA.exists() else HERE)
        print(f"disk free: {usage.free / 1e9:.0f} GB", file=sys.stderr)
        if usage.free < 20e9:
            print("less than 20 GB free: skipping the 100M-row log", file=sys.stderr)
        else:
            log100 = make_log(DATA / "tx_100M_10M.parquet", 100_000_000, 10_000_000, blocks=10)
            print("running clvmodels-duckdb on 100M rows ...", file=sys.stderr)
            big = run_tool("clvmodels-duckdb", log100, END)
            print(f"  {json.dumps(big)}", file=sys.stderr)
            report += ["", "### 100 million transactions, 10 million customers (DuckDB engine)", "", _fmt([big])]
    text = "\n".join(report)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"10M": results, "10M_runs": runs, "100M": big}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
