"""Cost of the BG/NBD likelihood with covariates: cells x distinct (frequency, recency, T) rows per cell.

A model with covariates evaluates its fused likelihood kernel once per cell (customers with the same
covariate row) over that cell's distinct triplets. This script simulates one base of customers (daily
unit, T uniform on 1..365 whole days, recency in whole days) and, for several covariate designs on
the same customers, reports the cells, the distinct rows summed over cells, the time of one log-density
+ gradient evaluation (PyTensor's numba backend, what nutpie calls; median of ``--evals`` calls, after
a warm-up) and the time to build and compile the function.

    python benchmarks/bench_covariates.py --n 100000 --evals 200
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def simulate(n, seed=0):
    from clvmodels.models.bgnbd.simulate import simulate_summary

    rng = np.random.default_rng(seed)
    cov = pd.DataFrame({"channel": rng.choice(["organic", "paid", "referral", "social"], n),
                        "basket10": rng.integers(1, 11, n).astype(float),
                        "basket1000": np.round(rng.gamma(4.0, 25.0, n), 0).clip(1, 1000)})
    T = rng.integers(1, 366, n).astype(float)
    df = simulate_summary(n, 0.8, 60.0, 0.8, 3.0, T=T, seed=seed, covariates=cov,
                          coefficients={"purchase_coefficient_alpha": {"channel=paid": 0.4, "basket10": 0.05}})
    df["recency"] = np.floor(df["recency"])
    df.attrs["clvmodels"] = {"time_unit": "D"}
    return df


def measure(df, purchase, dropout, evals):
    import pytensor
    import pytensor.tensor as pt

    from clvmodels import BetaGeoModel
    from clvmodels.models.base import resolve_priors

    m = BetaGeoModel(purchase_covariates=purchase, dropout_covariates=dropout)
    t0 = time.perf_counter()
    m._pre_fit(df)
    m.time_unit_ = "D"
    priors = m._finish_priors(resolve_priors({**m.default_priors("D", df), **m._extra_priors()}, None))
    model = m._build_model(df, priors)
    logp = model.logp()
    grads = pt.grad(logp, model.value_vars)
    fn = pytensor.function(model.value_vars, [logp, *grads], mode="NUMBA")
    build = time.perf_counter() - t0
    point = model.initial_point()
    args = [point[v.name] for v in model.value_vars]
    for _ in range(5):
        fn(*args)
    times = []
    for _ in range(evals):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return {"purchase": purchase, "dropout": dropout, "cells": int(getattr(m, "_n_cells", 1)),
            "rows": int(m._n_triplets), "build_compile_s": round(build, 2),
            "eval_ms_median": round(1e3 * float(np.median(times)), 3),
            "eval_ms_quartiles": [round(1e3 * float(np.quantile(times, q)), 3) for q in (0.25, 0.75)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--evals", type=int, default=200)
    args = ap.parse_args()
    df = simulate(args.n)
    print(json.dumps({"loadavg": open("/proc/loadavg").read().split()[:3], "n": args.n}), flush=True)
    for purchase, dropout in [([], []), (["channel"], ["channel"]), (["channel", "basket10"], ["channel"]),
                              (["basket1000"], [])]:
        print(json.dumps(measure(df, purchase, dropout, args.evals)), flush=True)
    print(json.dumps({"loadavg_end": open("/proc/loadavg").read().split()[:3]}), flush=True)


if __name__ == "__main__":
    main()
