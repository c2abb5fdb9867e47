"""Benchmark: P(alive) paths of many customers (``clvmodels.p_alive_paths``), time and peak memory.

For each size (100 thousand and 1 million customers) a log is simulated from the BG/NBD story
(``clvmodels.simulate.simulate_transactions``: r 0.25, alpha 4, a 0.8, b 2.5 per week, first purchases
over 2022, observed to 2023-06-30, seed 11), a BG/NBD is fitted by MAP (the mode and 1,000 draws of its
Laplace approximation) on its weekly summary, and the paths are computed on 52 weekly dates ending at
2023-06-30 (``start="2022-07-02"``) with ``max_draws`` draws (default budget_bytes, 64 MiB).

Each (size, draws) runs in its own fresh child process (``--child``), so imports and memory never leak
between runs; this parent imports only the standard library. Reported per run: the wall time of the
``p_alive_paths`` call, the child's peak resident memory during the call (VmHWM, reset just before it
through /proc/self/clear_refs) and its resident memory before it (the log and the model), the output's
size (``Dataset.nbytes``), the number of active cells and of distinct states evaluated, and what a
draws x customers x dates float64 array would take.

Usage (repository root)::

    .venv/bin/python benchmarks/bench_paths.py                       # 100k (200, 1000 draws), 1M (200, 1000)
    .venv/bin/python benchmarks/bench_paths.py --sizes 100000 --draws 200

Results: ``benchmarks/results/bench_paths.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "bench_paths.json"


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1])


def child(n_customers: int, max_draws: int) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    import clvmodels as clv
    from clvmodels.simulate import simulate_transactions

    t0 = time.perf_counter()
    log = simulate_transactions(n_customers, r=0.25, alpha=4.0, a=0.8, b=2.5, start="2022-01-01",
                                acquisition_days=365, observation_end="2023-06-30", seed=11)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = clv.summarize(log, observation_end="2023-06-30", time_unit="W", amount=None)
    bg = clv.BetaGeoModel(method="map", seed=1, progressbar=False).fit(summary)
    t_fit = time.perf_counter() - t0
    del summary
    rss_before = _status_kb("VmRSS")
    try:  # reset the peak (VmHWM) to the current RSS, so the peak below is the call's
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    ds = clv.p_alive_paths(bg, log, observation_end="2023-06-30", start="2022-07-02", max_draws=max_draws)
    wall = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    n_dates = ds.sizes["date"]
    return {"customers": n_customers, "transactions": len(log), "draws": int(ds.attrs["n_draws"]),
            "dates": n_dates, "seconds": round(wall, 2), "peak_rss_mb": round(peak / 1024),
            "rss_before_mb": round(rss_before / 1024), "peak_reset": reset,
            "output_mb": round(ds.nbytes / 2**20), "active_cells": ds.attrs["n_active_cells"],
            "distinct_states": ds.attrs["n_states"],
            "naive_draws_x_cells_gb": round(ds.attrs["n_draws"] * n_customers * n_dates * 8 / 1e9, 1),
            "simulate_seconds": round(t_sim, 1), "summary_and_map_fit_seconds": round(t_fit, 1),
            "map_params": {k: round(float(v), 4) for k, v in bg.params_.items()},
            "load_average": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--draws", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--child", type=int, nargs=2, metavar=("CUSTOMERS", "DRAWS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for n in args.sizes:
        for s in args.draws:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), str(s)], capture_output=True,
                                 text=True, env=env, cwd=ROOT)
            if out.returncode != 0:
                sys.exit(f"child {n} x {s} failed:\n{out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(res), flush=True)
            runs = [r for r in runs if (r["customers"], r["draws"]) != (res["customers"], res["draws"])] + [res]
            RESULTS.parent.mkdir(exist_ok=True)
            RESULTS.write_text(json.dumps(sorted(runs, key=lambda r: (r["customers"], r["draws"])), indent=1) + "\n")


if __name__ == "__main__":
    main()
