"""Benchmark: the RFM summary of a large transaction log, clvmodels against its peers.

What it measures, each tool in its own fresh subprocess (so imports, memory and caches never leak
from one tool into another):

* ``clvmodels-pandas``: ``clvmodels.data.summarize(path, engine="pandas")`` (reads the Parquet file
  itself, with pyarrow, then validates and aggregates in NumPy);
* ``clvmodels-duckdb``: ``clvmodels.data.summarize(path, engine="duckdb")`` (validates and aggregates
  in SQL over the file; the log never enters pandas);
* ``clvmodels-auto``: ``clvmodels.data.summarize(path)``, the default ``engine="auto"``, which picks an
  engine from the log's size and the memory available (the engine it picked and why are recorded);
* ``pymc-marketing``: ``pymc_marketing.clv.utils.rfm_summary`` 1.3.0 on ``pandas.read_parquet(path)``;
* ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` 0.11.3 on the same.

For each run: wall time of reading and of summarising (clvmodels does both in one call), CPU time
(user + system, all threads), the peak resident memory of the tool's own process, and the sums of
frequency, recency, T and monetary_value, which must agree between all tools.

Peak memory is ``VmHWM`` read from ``/proc/self/status`` by the child at its end: the high-water mark
of the child's own address space, which ``exec`` starts afresh. (``getrusage(RUSAGE_SELF).ru_maxrss``
is not used for it: Linux carries it over ``fork`` and ``exec``, so a child of a large parent reports
at least the parent's peak. It is kept in the JSON as ``ru_maxrss_mb`` for comparison.) The parent
that launches the children stays small anyway: it imports only the standard library and never
generates data itself (``--generate`` runs in a process of its own).

Rounds: one round runs every tool once, in an order rotated from round to round, and records the load
average (``/proc/loadavg``) before and after; ``--rounds N`` runs N rounds, ``--append`` adds them to the
rounds already in ``--json``. The report gives, per tool, the **median** of every round and every
round's time, and the speed-up as the ratio of medians (and the median of the per-round ratios).

The log: 10 million transactions of 1 million customers over two years (2022-01-01 to 2023-12-31),
daily dates (a timestamp column at midnight), amounts in cents; each customer's first purchase is
uniform over the two years and their other purchases uniform between it and the end; rows in date
order. ``--big`` also summarises a 100-million-row log (10 million customers, written in ten blocks of
one million customers, each in date order) once with each engine of ``--big-tools`` (default the
DuckDB engine and ``engine="auto"``). Both logs are generated once
(seeded) and cached in ``benchmarks/data/`` (git-ignored).

The peers live in their own environments, which ``--setup`` creates:

* ``benchmarks/.env-pymc-marketing``: ``python3.12 -m venv``; ``pip install pymc-marketing==1.3.0 pyarrow``
* ``benchmarks/.env-lifetimes``: ``/root/.pyenv/versions/3.10.13/bin/python -m venv`` (lifetimes 0.11.3 is
  archived and needs Python <= 3.10 with pandas < 2 and numpy < 2, where it imports and runs);
  ``pip install lifetimes==0.11.3 "pandas<2" "numpy<2" pyarrow``

Usage (from the repository root, with the project's virtual environment; on a shared machine, under a
lock that keeps other measurements out, e.g. ``flock /tmp/bench.lock ...``)::

    .venv/bin/python benchmarks/bench_summary.py --setup                       # once: the peers' environments
    .venv/bin/python benchmarks/bench_summary.py --generate                    # once: the 10M-row log
    .venv/bin/python benchmarks/bench_summary.py --rounds 3 --json out.json    # 3 interleaved rounds
    .venv/bin/python benchmarks/bench_summary.py --rounds 2 --json out.json --append   # 2 more
    .venv/bin/python benchmarks/bench_summary.py --report --json out.json      # the report of all rounds
    .venv/bin/python benchmarks/bench_summary.py --big --rounds 0 --json out.json --append   # + 100M rows

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
LOG10 = DATA / "tx_10M_1M.parquet"
LOG100 = DATA / "tx_100M_10M.parquet"
TOOLS = "clvmodels-pandas,clvmodels-duckdb,clvmodels-auto,pymc-marketing,lifetimes"


# ---------------------------------------------------------------------------------------------------
# Data (run in a process of its own: --generate)
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


#: logs of other shapes for --memory (the pandas engine's peak bytes per row, behind engine="auto"):
#: name -> (rows, customers, format, id kind)
VARIANTS = {"tx_2M_2M.parquet": (2_000_000, 2_000_000, "parquet", "int"),
            "tx_2M_200k_strid.parquet": (2_000_000, 200_000, "parquet", "str"),
            "tx_2M_2M_strid.parquet": (2_000_000, 2_000_000, "parquet", "str"),
            "tx_2M_200k.csv": (2_000_000, 200_000, "csv", "int"),
            "tx_2M_2M.csv": (2_000_000, 2_000_000, "csv", "int")}


def make_variant(name: str) -> Path:
    """One log of :data:`VARIANTS` (the generator of the 10M-row log, other sizes, ids or format)."""
    import numpy as np

    path = DATA / name
    if path.exists():
        return path
    n_rows, n_customers, fmt, ids = VARIANTS[name]
    df = _block(np.random.default_rng(SEED + 1), 1, n_customers, n_rows)
    if ids == "str":
        df["customer_id"] = "C" + df["customer_id"].astype(str).str.zfill(9)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    if fmt == "csv":
        df["date"] = df["date"].dt.strftime("%Y-%m-%d")
        df.to_csv(tmp, index=False, float_format="%.2f")
    else:
        df.to_parquet(tmp, index=False, row_group_size=1_000_000)
    os.replace(tmp, path)
    return path


def ensure_log(big: bool = False) -> Path:
    """The log's path, generated first (in a child process: the parent stays small) if missing."""
    path = LOG100 if big else LOG10
    if not path.exists():
        print(f"generating {path.name} in a child process ...", file=sys.stderr)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--generate"] + (["--big"] if big else []),
                       check=True, env=dict(os.environ, PYTHONPATH=""))
    return path


# ---------------------------------------------------------------------------------------------------
# Children: one tool each, in its own interpreter
# ---------------------------------------------------------------------------------------------------
def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (kB there), in MB (2**20 bytes)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


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
    rss_after_import = _status_mb("VmRSS")

    t0 = time.perf_counter()
    c0 = _cpu_s()
    read_s = 0.0
    extra = {}
    if tool.startswith("clvmodels"):
        s = summarize(path, observation_end=end, time_unit="D", engine=tool.split("-")[1])
        summary_s = time.perf_counter() - t0
        meta = s.attrs.get("clvmodels", {})
        extra = {"engine": meta.get("engine"), "engine_reason": meta.get("engine_reason")}
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
            "summary_s": summary_s, "total_s": read_s + summary_s, "cpu_s": cpu_s,
            "peak_rss_mb": _status_mb("VmHWM"),  # this process's own high-water mark (see the docstring)
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # kB on Linux
            "rss_after_import_mb": rss_after_import, "n_customers": int(len(s)), "sums": sums, **extra}


def _version(tool: str) -> str:
    from importlib.metadata import version

    name = {"pymc-marketing": "pymc-marketing", "lifetimes": "lifetimes"}.get(tool, "clvmodels")
    extra = ""
    if tool.startswith("clvmodels"):
        extra = f" (duckdb {version('duckdb')}, pyarrow {version('pyarrow')})"
    return version(name) + extra + f", pandas {version('pandas')}, numpy {version('numpy')}"


# ---------------------------------------------------------------------------------------------------
# Parent: standard library only
# ---------------------------------------------------------------------------------------------------
def interpreter(tool: str) -> str | None:
    if tool.startswith("clvmodels"):
        return sys.executable
    env = ENV_PYMC if tool == "pymc-marketing" else ENV_LIFETIMES
    py = env / "bin" / "python"
    return str(py) if py.exists() else None


def loadavg() -> list[float]:
    """The 1-, 5- and 15-minute load averages."""
    with open("/proc/loadavg") as fh:
        return [float(x) for x in fh.read().split()[:3]]


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


def run_round(number: int, tools: list[str], path: Path) -> dict:
    """Every tool once, in an order rotated by the round's number (so no tool always follows the same one)."""
    shift = number % len(tools)
    order = tools[shift:] + tools[:shift]
    rnd = {"round": number, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "loadavg_before": loadavg(), "order": order, "results": {}}
    for tool in order:
        print(f"round {number}: {tool} ...", file=sys.stderr)
        res = run_tool(tool, path, END)
        res["loadavg_after"] = loadavg()
        rnd["results"][tool] = res
        print(f"  {json.dumps(res)}", file=sys.stderr)
    rnd["loadavg_after"] = loadavg()
    return rnd


def memory_per_row() -> int:
    """The pandas engine's peak memory above the imports, per row and per byte of file, on the 10M-row log
    and the :data:`VARIANTS` (generated in a child process if missing): what sets the factors with which
    ``engine="auto"`` estimates the pandas engine's memory (clvmodels/data/summary.py)."""
    log10 = ensure_log()
    if not all((DATA / n).exists() for n in VARIANTS):
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--generate", "--memory"], check=True,
                       env=dict(os.environ, PYTHONPATH=""))
    shapes = {log10.name: (10_000_000, 1_000_000, "parquet", "int"), **VARIANTS}
    if LOG100.exists():  # only if generated already (--generate --big): 4 GB more for the pandas engine
        shapes = {LOG100.name: (100_000_000, 10_000_000, "parquet", "int"), **shapes}
    print("| log | rows | customers | file (MB) | peak above imports (MB) | bytes per row | bytes per file byte "
          "| load |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, (rows, customers, fmt, ids) in shapes.items():
        path = DATA / name
        res = run_tool("clvmodels-pandas", path, END)
        if "error" in res:
            print(f"| {name} | failed: {res['error']} |")
            continue
        above = (res["peak_rss_mb"] - res["rss_after_import_mb"]) * 2**20
        size = path.stat().st_size
        print(f"| {name} ({fmt}, {ids} ids) | {rows:,} | {res['n_customers']:,} | {size / 2**20:,.0f} | "
              f"{above / 2**20:,.0f} | {above / rows:.0f} | {above / size:.1f} | {loadavg()[0]:.2f} |")
    return 0


def setup() -> None:
    """Create the peers' environments (needs network access to PyPI)."""
    if not (ENV_PYMC / "bin" / "python").exists():
        subprocess.run([shutil.which("python3.12") or sys.executable, "-m", "venv", str(ENV_PYMC)], check=True)
        subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "pymc-marketing==1.3.0", "pyarrow"], check=True)
    if not (ENV_LIFETIMES / "bin" / "python").exists():
        subprocess.run([PY310, "-m", "venv", str(ENV_LIFETIMES)], check=True)
        subprocess.run([str(ENV_LIFETIMES / "bin" / "pip"), "install", "-q", "lifetimes==0.11.3", "pandas<2",
                        "numpy<2", "pyarrow"], check=True)


# ---------------------------------------------------------------------------------------------------
# Report: medians and every round
# ---------------------------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def tool_runs(rounds: list[dict], tool: str) -> list[dict]:
    return [r["results"][tool] for r in rounds if tool in r["results"] and "error" not in r["results"][tool]]


def summarise(rounds: list[dict], tools: list[str]) -> dict:
    """Per tool: the median of each figure over the rounds, its range and the number of rounds."""
    out = {}
    for tool in tools:
        runs = tool_runs(rounds, tool)
        if not runs:
            continue
        s = {"rounds": len(runs), "version": runs[-1]["version"]}
        for key in ("read_s", "summary_s", "total_s", "cpu_s", "peak_rss_mb", "rss_after_import_mb", "ru_maxrss_mb"):
            vals = [r[key] for r in runs if key in r]
            if vals:
                s[f"median_{key}"], s[f"min_{key}"], s[f"max_{key}"] = median(vals), min(vals), max(vals)
        s["every_total_s"] = [round(r["total_s"], 3) for r in runs]
        engines = sorted({f"{r.get('engine')}" for r in runs})
        if tool.startswith("clvmodels"):
            s["engines"] = engines
            s["engine_reason"] = runs[-1].get("engine_reason")
        out[tool] = s
    return out


def per_round_ratios(rounds: list[dict], ours: str, peer: str) -> list[float]:
    """peer's time / ours, within each round where both ran (the load they saw was alike)."""
    out = []
    for r in rounds:
        a, b = r["results"].get(ours), r["results"].get(peer)
        if a and b and "error" not in a and "error" not in b:
            out.append(b["total_s"] / a["total_s"])
    return out


NAMES = {"clvmodels-pandas": "clvmodels, pandas engine", "clvmodels-duckdb": "clvmodels, DuckDB engine",
         "clvmodels-auto": "clvmodels, `engine=\"auto\"`", "pymc-marketing": "pymc-marketing 1.3.0 `rfm_summary`",
         "lifetimes": "lifetimes 0.11.3 `summary_data_from_transaction_data`"}


def report(rounds: list[dict], tools: list[str]) -> str:
    stats = summarise(rounds, tools)
    present = [t for t in tools if t in stats]
    n = max((s["rounds"] for s in stats.values()), default=0)
    loads = [x for r in rounds for x in (r["loadavg_before"][0], r["loadavg_after"][0])]
    lines = [f"### 10 million transactions, 1 million customers (daily unit), median of {n} interleaved rounds", "",
             f"{os.cpu_count()} cores; 1-minute load average from {min(loads):.2f} to {max(loads):.2f} over the rounds"
             if loads else "", "",
             "| tool | read (s) | summary (s) | total (s), median | total (s), every round | CPU (s), median "
             "| peak RSS (MB), median (max) | RSS after imports (MB) |",
             "|---|---:|---:|---:|---|---:|---:|---:|"]
    for t in present:
        s = stats[t]
        read = f"{s['median_read_s']:.2f}" if s["median_read_s"] else "(in summary)"
        every = ", ".join(f"{x:.2f}" for x in s["every_total_s"])
        lines.append(f"| {NAMES.get(t, t)} | {read} | {s['median_summary_s']:.2f} | {s['median_total_s']:.2f} | "
                     f"{every} | {s['median_cpu_s']:.2f} | {s['median_peak_rss_mb']:,.0f} "
                     f"({s['max_peak_rss_mb']:,.0f}) | {s['median_rss_after_import_mb']:,.0f} |")
    lines.append("")
    for ours in ("clvmodels-pandas", "clvmodels-duckdb", "clvmodels-auto"):
        for peer in ("pymc-marketing", "lifetimes"):
            if ours in stats and peer in stats:
                a, b = stats[ours], stats[peer]
                rr = per_round_ratios(rounds, ours, peer)
                lines.append(
                    f"- {ours} vs {peer}: **{b['median_total_s'] / a['median_total_s']:.1f}x** faster (ratio of median "
                    f"read + summary; per round {', '.join(f'{x:.1f}' for x in rr)}, median {median(rr):.1f}x; "
                    f"{b['median_summary_s'] / a['median_total_s']:.1f}x against the peer's summary alone; "
                    f"{b['median_cpu_s'] / a['median_cpu_s']:.1f}x less CPU), peak memory "
                    f"{a['median_peak_rss_mb'] / b['median_peak_rss_mb']:.2f}x the peer's")
    for t in present:
        if stats[t].get("engines"):
            lines.append(f"- {t}: engine {', '.join(stats[t]['engines'])}"
                         + (f" ({stats[t]['engine_reason']})" if stats[t].get("engine_reason") else ""))
    lines += ["", "Rounds (1-minute load average before and after each):", ""]
    for r in rounds:
        times = ", ".join(f"{t} {r['results'][t]['total_s']:.2f}" if "error" not in r["results"][t]
                          else f"{t} failed" for t in r["order"])
        lines.append(f"- round {r['round']} ({r['started']}, load {r['loadavg_before'][0]:.2f} -> "
                     f"{r['loadavg_after'][0]:.2f}): {times}")
    ok = {t: tool_runs(rounds, t) for t in present}
    sums = [(t, run["sums"]) for t, runs in ok.items() for run in runs]
    if sums:
        ref = sums[0][1]
        worst = max(abs(s[k] - ref[k]) / max(1.0, abs(ref[k])) for _, s in sums for k in ref)
        lines += ["", "| sum of | frequency | recency | T | monetary_value |", "|---|---:|---:|---:|---:|",
                  f"| every run of every tool | {ref['frequency']:.0f} | {ref['recency']:.0f} | {ref['T']:.0f} | "
                  f"{ref['monetary_value']:.4f} |", "",
                  f"largest relative difference between any two runs: {worst:.2e}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setup", action="store_true", help="create the peers' virtual environments and exit")
    ap.add_argument("--generate", action="store_true", help="write the log (with --big the 100M-row one) and exit")
    ap.add_argument("--big", action="store_true", help="also summarise a 100-million-row log, once per --big-tools")
    ap.add_argument("--big-tools", default="clvmodels-duckdb,clvmodels-auto")
    ap.add_argument("--tools", default=TOOLS)
    ap.add_argument("--json", default=None, help="write the rounds and the report's figures here")
    ap.add_argument("--append", action="store_true", help="add the new rounds to those already in --json")
    ap.add_argument("--report", action="store_true", help="only print the report of the rounds in --json")
    ap.add_argument("--memory", action="store_true",
                    help="measure the pandas engine's peak memory per row on logs of several shapes and exit")
    ap.add_argument("--rounds", "--repeat", dest="rounds", type=int, default=3,
                    help="interleaved rounds, every tool once in each (default 3)")
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
    if args.generate:
        if args.memory:
            for name in VARIANTS:
                make_variant(name)
        elif args.big:
            make_log(LOG100, 100_000_000, 10_000_000, blocks=10)
        else:
            make_log(LOG10, 10_000_000, 1_000_000)
        return 0

    if args.memory:
        return memory_per_row()
    tools = args.tools.split(",")
    old = json.loads(Path(args.json).read_text()) if args.json and (args.append or args.report) and \
        Path(args.json).exists() else {}
    rounds: list[dict] = list(old.get("rounds", []))
    if args.report:
        print(report(rounds, [t for t in TOOLS.split(",") if any(t in r["results"] for r in rounds)]))
        return 0
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", file=sys.stderr)
    log10 = ensure_log()
    first = 1 + max((r["round"] for r in rounds), default=0)
    for i in range(args.rounds):
        rounds.append(run_round(first + i, tools, log10))
    big = old.get("100M") or {}
    if "tool" in big:  # an earlier layout: one run
        big = {big["tool"]: big}
    if args.big:
        usage = shutil.disk_usage(DATA if DATA.exists() else HERE)
        if usage.free < 20e9:
            print("less than 20 GB free: skipping the 100M-row log", file=sys.stderr)
        else:
            log100 = ensure_log(big=True)
            for tool in args.big_tools.split(","):
                print(f"running {tool} on 100M rows ...", file=sys.stderr)
                load0 = loadavg()
                big[tool] = run_tool(tool, log100, END)
                big[tool].update(loadavg_before=load0, loadavg_after=loadavg())
                print(f"  {json.dumps(big[tool])}", file=sys.stderr)
    all_tools = [t for t in TOOLS.split(",") if any(t in r["results"] for r in rounds)]
    text = report(rounds, all_tools)
    print(text)
    nan = float("nan")
    for tool, r in big.items():
        print(f"\n100M rows, {tool}: {r.get('total_s', nan):.1f} s, CPU {r.get('cpu_s', nan):.1f} s, "
              f"peak RSS {r.get('peak_rss_mb', nan):,.0f} MB, engine {r.get('engine')} ({r.get('engine_reason')}), "
              f"load {r.get('loadavg_before', [nan])[0]:.2f} -> {r.get('loadavg_after', [nan])[0]:.2f}")
    if args.json:
        payload = dict(old)
        payload.update({"machine": f"{os.cpu_count()} cores", "log": str(LOG10.name), "rounds": rounds,
                        "medians": summarise(rounds, all_tools), "100M": big})
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
