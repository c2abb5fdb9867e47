"""Benchmark: scoring a hand-built summary with arbitrary continuous T against the same customers on
summarize()'s day grid (issue "Speed a user feels": the continuous-T cliff).

``summarize()`` gives times in whole days of the chosen unit, so T and recency take few distinct
values (at most one per day of the observation window). A summary built by hand, e.g. with
T = uniform(0, 52) weeks as floats, gives every customer her own T: the scorer's per-(x, T) level and
per-T work then runs once per customer. This script measures that cost:

* **Data** (seeded, built in each child, not timed): N customers (default 20,000) from the BG/NBD story
  (r 0.25, alpha 4, a 0.8, b 2.5 per week; ``clvmodels.models.bgnbd.simulate.simulate_summary``) with
  T = 52 (1 - U) weeks, U uniform on [0, 1) (continuous, every T distinct), and a mean repeat spend
  from the Gamma-Gamma story (p 6, q 4, v 15). "rounded" is the same customers with T and recency
  rounded to whole days (multiples of 1/7 week; T at least one day, recency at most T), what
  ``summarize(..., time_unit="W")`` would give.
* **Models** (not fitted, so no fit is timed): ``from_params`` with 1,000 fixed draws (each parameter
  its value times exp(N(0, 0.05^2)), one multiplier per draw): BG/NBD (the values above), MBG/NBD
  (the same), Pareto/NBD (r 0.55, alpha 10.5, s 0.6, beta 12), each with the Gamma-Gamma's.
* **Timed**: ``clvmodels.forecast(summary=..., purchase_model=..., spend_model=..., fit=False,
  horizon="52W", discount_rate=0.1)``: the forecast table (P(alive), expected purchases, purchase-count
  intervals, spend, CLV over 52 weeks, each with its 90% interval), the new-customer value and the
  segment summary; ``predict_s`` is the run's own ``timings["predict"]``. Before the timed call the
  child runs the same forecast on 300 customers of the same summary (numba's cached kernels loaded,
  both code paths touched) and discards it.
* **Memory**: the child's own VmHWM (``/proc/self/status`` at its end; the child is started by this
  small driver, not by a large parent).

Each (tree, model, summary) is a fresh child process; all rounds of one model run back to back under
one ``flock /tmp/s22/bench.lock`` (one measurement at a time on the shared machine; about 6 to 8
minutes per model at 20,000 customers; the lock released between models), the trees interleaved
within each (round, summary). ``--tree label=path`` (repeatable) scores with the clvmodels found at ``path`` (e.g. an
export of an earlier commit: ``git archive c5ca765 | tar -x -C /tmp/before``); default: this checkout.
Each child records the load average at its start and end.

Usage (repository root)::

    .venv/bin/python benchmarks/bench_continuous_T.py --rounds 3 --tree before=/tmp/before --tree after=/tmp/after
    .venv/bin/python benchmarks/bench_continuous_T.py --n 5000 --models bgnbd --rounds 1    # quick
    .venv/bin/python benchmarks/bench_continuous_T.py --profile --models bgnbd   # where the time goes

Results: ``benchmarks/results/bench_continuous_T.json`` (every child's record).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LOCK = Path("/tmp/s22/bench.lock")
SEED = 20261130
BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
PNBD = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 12.0}
GG = {"p": 6.0, "q": 4.0, "v": 15.0}
MODELS = ("bgnbd", "mbgnbd", "pnbd")


def summaries(n: int):
    """(continuous, rounded) summaries of the same n customers (see the module docstring)."""
    import numpy as np
    from clvmodels.models.bgnbd.simulate import simulate_summary

    rng = np.random.default_rng(SEED)
    T = 52.0 * (1.0 - rng.uniform(size=n))
    cont = simulate_summary(n, BG["r"], BG["alpha"], BG["a"], BG["b"], T, seed=SEED + 1)
    x = cont["frequency"].to_numpy()
    nu = rng.gamma(GG["q"], 1.0 / GG["v"], n)
    mv = np.where(x > 0, rng.gamma(GG["p"] * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), 0.0)
    cont["monetary_value"] = np.round(mv, 2)
    rnd = cont.copy()
    rnd["T"] = np.maximum(np.round(cont["T"].to_numpy() * 7), 1) / 7
    rnd["recency"] = np.minimum(np.round(cont["recency"].to_numpy() * 7) / 7, rnd["T"].to_numpy())
    return cont, rnd


def models(name: str, S: int):
    import numpy as np
    import clvmodels as clv

    mult = np.exp(np.random.default_rng(SEED + 2).normal(0.0, 0.05, S))
    gg = clv.GammaGammaModel.from_params({k: v * mult for k, v in GG.items()})
    if name == "pnbd":
        return clv.ParetoNBDModel.from_params({k: v * mult for k, v in PNBD.items()}, time_unit="W"), gg
    cls = clv.BetaGeoModel if name == "bgnbd" else clv.ModifiedBetaGeoModel
    return cls.from_params({k: v * mult for k, v in BG.items()}, time_unit="W"), gg


def child(args) -> None:
    import clvmodels as clv

    load_start = loadavg()
    cont, rnd = summaries(args.n)
    s = cont if args.data == "continuous" else rnd
    pm, gg = models(args.model, args.draws)
    kw = dict(horizon="52W", discount_rate=0.1, purchase_model=pm, spend_model=gg, fit=False, progress=False)
    clv.forecast(summary=s.iloc[:300], **kw)  # numba's cached kernels loaded; discarded
    prof = None
    if args.profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    res = clv.forecast(summary=s, **kw)
    wall = time.perf_counter() - t0
    if prof is not None:
        import pstats
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(12)
    t = res.table
    with open("/proc/self/status") as fh:
        hwm = next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))
    print(json.dumps({
        "loadavg_start": load_start, "loadavg_end": loadavg(), "forecast_s": wall, "predict_s": res.timings.get("predict"), "vmhwm_mb": hwm,
        "customers": len(s), "distinct_T": int(s["T"].nunique()),
        "distinct_xT": int(len(s[["frequency", "T"]].drop_duplicates())),
        "distinct_triplets": int(len(s[["frequency", "recency", "T"]].drop_duplicates())),
        "sum_clv": float(t["clv"].sum()), "sum_expected_purchases": float(t["expected_purchases"].sum()),
        "sum_p_alive": float(t["p_alive"].sum()), "sum_purchases_upper": float(t["purchases_upper"].sum()),
    }))


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", action="append", default=[], help="label=path of a clvmodels checkout (repeatable)")
    ap.add_argument("--profile", action="store_true", help="one continuous-T child per model, cProfile on stderr")
    ap.add_argument("--out", default=str(RESULTS / "bench_continuous_T.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--group", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT)]]
    if args.group:  # under the lock: every round of (summary, tree) of one model, each in a fresh child
        for rnd in range(args.rounds):
            for data in ("rounded", "continuous"):
                for tree in trees:  # the trees interleaved within each (round, summary)
                    rec = _run(tree, args.model, data, args, lock=False)
                    rec.update(round=rnd + 1)
                    print(json.dumps(rec), flush=True)
        return
    names = args.models.split(",")
    if args.profile:
        for m in names:
            _run(trees[-1], m, "continuous", args, profile=True)
        return
    records = []
    for m in names:
        # one lock per model: its rounds of children (each tree on each summary) back to back
        p = subprocess.Popen(["flock", str(LOCK), sys.executable, str(Path(__file__).resolve()), "--group",
                              "--model", m, "--n", str(args.n), "--draws", str(args.draws), "--rounds", str(args.rounds)]
                             + [f"--tree={label}={path}" for label, path in trees], stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            rec = json.loads(line)
            records.append(rec)
            print(json.dumps(rec), flush=True)
        if p.wait() != 0:
            raise SystemExit(f"group failed ({m})")
    RESULTS.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps({"n": args.n, "draws": args.draws, "records": records}, indent=1))
    print("\nmedians (s) of forecast(), every round in brackets:")
    for m in names:
        for data in ("rounded", "continuous"):
            for label, _ in trees:
                v = [r["forecast_s"] for r in records if (r["model"], r["data"], r["tree"]) == (m, data, label)]
                print(f"  {m:7s} {data:10s} {label:8s} {statistics.median(v):8.2f}  {[round(x, 2) for x in v]}")


def _run(tree, model, data, args, profile=False, lock=True) -> dict:
    label, path = tree
    env = dict(os.environ, PYTHONPATH=str(Path(path).resolve()))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--model", model, "--data", data,
           "--n", str(args.n), "--draws", str(args.draws)] + (["--profile"] if profile else [])
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    p = subprocess.run((["flock", str(LOCK)] if lock else []) + cmd, env=env, capture_output=True, text=True)
    if profile:
        print(f"== {model} {data} ({label})\n{p.stderr[-6000:]}")
    if p.returncode != 0:
        raise SystemExit(f"child failed ({label} {model} {data}):\n{p.stderr[-3000:]}")
    rec = json.loads(p.stdout.strip().splitlines()[-1])
    rec.update(tree=label, model=model, data=data)
    return rec


if __name__ == "__main__":
    main()
