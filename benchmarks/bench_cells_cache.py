"""The covariates' cells kernel cached on disk: a fit in a second process, before and after.

Two source trees of clvmodels (``--before``: a checkout of the code without the cache, e.g.
``git archive 6f79c63 | tar -x -C /tmp/before``; ``--after``: this tree) are run side by side, each
child in a fresh interpreter with that tree on PYTHONPATH, in interleaved rounds (the order alternates).
Data: 3,000 simulated BG/NBD customers (T uniform on 20..52 weeks) with ``channel`` (2 levels) and
``basket`` (1..5) as purchase covariates and ``channel`` on the drop-out: 10 cells. Three cases per
tree and round:

- ``same``: the model a warm-up child fitted before the rounds (every cache warm: PyTensor's compiled
  graph, numba's kernels, the sampler callbacks), NUTS with nutpie, 4 chains x 1,000 draws after 1,000
  tuning;
- ``new_prior``: the same fit with the prior of the drop-out coefficient on a moved by a few parts in a
  billion, new in each child (Normal sigma 1 + 1e-9 k), as after a user changes a coefficient's prior
  or the covariates (the coefficients' prior values are constants of the graph; the base parameters'
  are shared values, and changing them recompiles nothing): PyTensor compiles the graph again, which
  compiles the cells kernel (before) or loads it (after); the model's own kernel is cached either way;
- ``kernel``: the cells kernel alone, its first call from Python (PyTensor's Python ``perform`` path).

Reported per child: process wall, fit wall, ``diagnostics_.compile_seconds`` (building the sampler's
model: PyTensor's function and the callbacks), the cells kernel's numba cache hits and misses in that
process, the load average before and after. Medians per tree and case, and every round.

    flock /tmp/s23/bench.lock python benchmarks/bench_cells_cache.py --before /tmp/before --rounds 5
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


def child(case: str, k: int) -> dict:
    t0 = time.perf_counter()
    import warnings

    import numpy as np
    import pandas as pd

    from clvmodels import BetaGeoModel, Prior
    from clvmodels.models.bgnbd.likelihood import BetaGeoLogLike
    from clvmodels.models.bgnbd.simulate import simulate_summary
    from clvmodels.models.numerics.cells_op import cells_op

    out = {"imports_s": time.perf_counter() - t0}
    n = 3000
    rng = np.random.default_rng(1)
    cov = pd.DataFrame({"channel": rng.choice(["organic", "paid"], n, p=[0.6, 0.4]),
                        "basket": rng.integers(1, 6, n).astype(float)})
    T = np.random.default_rng(2).uniform(20, 52, n).round()
    df = simulate_summary(n, 0.8, 8.0, 0.8, 3.0, T=T, seed=1, covariates=cov,
                          coefficients={"purchase_coefficient_alpha": {"channel=paid": 0.5, "basket": 0.25},
                                        "dropout_coefficient_a": {"channel=paid": 0.6}})
    df["recency"] = df["recency"].round(2)
    df.attrs["clvmodels"] = {"time_unit": "W"}
    if case == "kernel":
        from clvmodels.models.bgnbd.likelihood import bgnbd_data
        from clvmodels.models.transaction import summary_triplets, t0_mask

        d = df[~t0_mask(df)]
        cells = [bgnbd_data(summary_triplets(d.iloc[i::2])) for i in range(2)]
        D = len(cells[0])
        off = np.zeros((D, 3), dtype=np.int64)
        arrays = []
        for j in range(D):
            off[j, 1:] = np.cumsum([c[j].size for c in cells])
            arrays.append(np.concatenate([c[j] for c in cells]))
        params = [np.array([0.9, 1.0]), np.array([7.0, 8.0]), np.array([0.7, 0.8]), np.array([2.5, 3.0])]
        t = time.perf_counter()
        kernel = cells_op(BetaGeoLogLike)._kernel
        kernel(*params, *arrays, off.ravel())
        out["first_call_s"] = time.perf_counter() - t
    else:
        # the coefficients' prior values are constants of the graph (the base priors' are shared values)
        priors = None if case == "same" else {"dropout_coefficient_a": Prior("Normal", mu=0.0, sigma=1.0 + 1e-9 * k)}
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = BetaGeoModel(purchase_covariates=["channel", "basket"], dropout_covariates=["channel"],
                             priors=priors, chains=4, draws=1000, tune=1000, seed=0, progressbar=False,
                             sampler="nutpie").fit(df)
        out["fit_s"] = time.perf_counter() - t
        out["compile_s"] = m.diagnostics_.compile_seconds
        out["compiled"] = m.diagnostics_.compiled
        out["cells"] = int(getattr(m, "_n_cells", 0))
        kernel = cells_op(BetaGeoLogLike)._kernel
    out["kernel_cache_hits"] = sum(kernel.stats.cache_hits.values())
    out["kernel_cache_misses"] = sum(kernel.stats.cache_misses.values())
    out["kernel_compiled_or_loaded"] = len(kernel.overloads)
    return out


def _load() -> list[float]:
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def run_child(tree: str, case: str, k: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    load = _load()
    t = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--child", case, str(k)], capture_output=True, text=True,
                       env=env, timeout=900)
    wall = time.perf_counter() - t
    res = {"error": p.stderr[-2000:]} if p.returncode else json.loads(p.stdout.strip().splitlines()[-1])
    res.update(case=case, process_s=wall, load_start=load, load_end=_load(),
               at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2, default=None)
    ap.add_argument("--before", help="source tree without the cache (its root: clvmodels/ inside)")
    ap.add_argument("--after", default=str(ROOT))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--first-round", type=int, default=0, help="number of the first round (to merge invocations)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the warm-up children (caches already warm)")
    ap.add_argument("--out", default=str(HERE / "results" / "bench_cells_cache.jsonl"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    trees = {"before": args.before, "after": args.after}
    base_k = time.time_ns() % 10**9  # new prior values in every child of every invocation
    with open(args.out, "a") as f:
        if not args.no_warmup:
            for name, tree in trees.items():
                for case in ("same", "kernel"):
                    res = run_child(tree, case, 0)
                    res.update(tree=name, round="warmup")
                    print(json.dumps(res), flush=True)
                    f.write(json.dumps(res) + "\n")
        for r in range(args.first_round, args.first_round + args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for case in ("same", "new_prior", "kernel"):
                for name in order:
                    base_k += 1
                    res = run_child(trees[name], case, base_k)
                    res.update(tree=name, round=r)
                    print(json.dumps(res), flush=True)
                    f.write(json.dumps(res) + "\n")
    summarize(args.out)
    return 0


def summarize(path: str) -> None:
    rows = [json.loads(x) for x in open(path) if x.strip()]
    rows = [x for x in rows if x.get("round") != "warmup" and "error" not in x]
    for case in ("same", "new_prior", "kernel"):
        for tree in ("before", "after"):
            sel = [x for x in rows if x["case"] == case and x["tree"] == tree]
            if not sel:
                continue
            keys = ["process_s"] + [k for k in ("fit_s", "compile_s", "first_call_s") if k in sel[0]]
            med = {k: round(statistics.median(x[k] for x in sel), 3) for k in keys}
            every = {k: [round(x[k], 2) for x in sel] for k in keys}
            print(json.dumps({"case": case, "tree": tree, "rounds": len(sel), "median": med, "every": every,
                              "hits": [x["kernel_cache_hits"] for x in sel],
                              "load_start": [x["load_start"][0] for x in sel]}))


if __name__ == "__main__":
    raise SystemExit(main())
