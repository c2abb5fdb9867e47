"""The Pareto/NBD on its own: what one likelihood + gradient evaluation costs, and what a fit costs.

What runs (clvmodels only; the side-by-side with pymc-marketing is benchmarks/bench_models.py):

* ``grad``: the fused Op's kernel (value and gradient, clvmodels.models.pareto_nbd.likelihood) on the
  CDNOW sample's calibration summary (weeks) and on simulated bases of 100k and 1M customers (CDNOW-like
  parameters, T uniform over two years, purchases dated by day), at the published estimates and at
  parameters where alpha and beta differ tenfold (the split quadrature of the tail integrals): median
  microseconds per evaluation, with the numbers of distinct triplets and of (x, t_x) and (x, T) pairs.
* ``fit``: ParetoNBDModel on CDNOW: MAP with flat priors, and NUTS with the default priors (4 chains x
  1,000 draws after 1,000 tuning, nutpie) for ``--seeds`` seeds: nutpie's compile time and sampling time
  apart, wall time of ``fit``, divergences, max R-hat, min bulk ESS and ESS per second of sampling.

Usage::

    .venv/bin/python benchmarks/bench_pnbd.py                   # both parts, 3 NUTS seeds
    .venv/bin/python benchmarks/bench_pnbd.py --parts grad
    .venv/bin/python benchmarks/bench_pnbd.py --seeds 1 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

import numpy as np


def _load_cdnow():
    import clvmodels
    from clvmodels.datasets import load_cdnow_sample

    return clvmodels.summarize(load_cdnow_sample(), customer_id="customer_id", date="date", amount="amount",
                               calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="W")


def _simulated(n: int):
    from clvmodels.models.pareto_nbd.simulate import simulate_summary

    rng = np.random.default_rng(20261130 + n)
    T = rng.integers(7, 729, n) / 7.0
    s = simulate_summary(n, 0.55, 10.58, 0.61, 11.67, T, seed=7 * n)
    s["recency"] = np.floor(s["recency"].to_numpy() * 7.0 + 1e-9) / 7.0  # purchases dated by day
    return s


def _time_kernel(data, theta, repeat: int) -> float:
    from clvmodels.models.pareto_nbd.likelihood import _pnbd_kernel

    _pnbd_kernel(*theta, *data)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _pnbd_kernel(*theta, *data)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def bench_grad(sizes=(100_000, 1_000_000)) -> list[dict]:
    from clvmodels.models.pareto_nbd.likelihood import pnbd_data
    from clvmodels.models.triplets import compress

    bases = [("cdnow", _load_cdnow())] + [(f"sim_{n}", _simulated(n)) for n in sizes]
    points = {"published": (0.553, 10.578, 0.606, 11.669), "beta_10x_alpha": (0.553, 10.578, 2.0, 105.0)}
    out = []
    for name, s in bases:
        s = s[s["T"] > 0]
        trip = compress(s["frequency"].to_numpy(float), s["recency"].to_numpy(float), s["T"].to_numpy(float))
        data = pnbd_data(trip)
        for label, theta in points.items():
            us = _time_kernel(data, tuple(map(float, theta)), repeat=200 if len(trip) < 50_000 else 20)
            row = {"base": name, "customers": int(len(s)), "triplets": len(trip), "pairs_x_tx": int(data[3].size),
                   "pairs_x_T": int(data[5].size), "point": label, "us_per_value_and_gradient": round(us, 1)}
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def bench_fit(seeds=(2024, 1, 2)) -> list[dict]:
    import nutpie

    from clvmodels.models.pareto_nbd import ParetoNBDModel

    s = _load_cdnow()
    out = []
    t0 = time.perf_counter()
    m = ParetoNBDModel(priors="flat", method="map", progressbar=False).fit(s)
    row = {"fit": "map_flat", "wall_s": round(time.perf_counter() - t0, 2),
           **{k: round(float(v), 4) for k, v in m.params_.items()}, "log_likelihood": round(m.log_likelihood(s), 3)}
    out.append(row)
    print(json.dumps(row), flush=True)

    timer = {"compile": 0.0, "sample": 0.0}
    c0, s0 = nutpie.compile_pymc_model, nutpie.sample

    def compile_pymc_model(*a, **k):
        t = time.perf_counter()
        try:
            return c0(*a, **k)
        finally:
            timer["compile"] += time.perf_counter() - t

    def sample(*a, **k):
        t = time.perf_counter()
        try:
            return s0(*a, **k)
        finally:
            timer["sample"] += time.perf_counter() - t

    nutpie.compile_pymc_model, nutpie.sample = compile_pymc_model, sample
    try:
        for seed in seeds:
            timer.update(compile=0.0, sample=0.0)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = ParetoNBDModel(seed=seed, progressbar=False).fit(s)
            wall = time.perf_counter() - t0
            d = m.diagnostics_
            ess = min(d.ess_bulk.values())
            steps = float(np.asarray(m.sample_stats_["n_steps"]).mean()) if m.sample_stats_ is not None else None
            summ = m.summary(0.9)
            row = {"fit": "nuts_default_priors", "seed": seed, "sampler": d.sampler, "wall_s": round(wall, 2),
                   "compile_s": round(timer["compile"], 2), "sample_s": round(timer["sample"], 2),
                   "divergences": d.divergences, "max_rhat": round(max(d.r_hat.values()), 4),
                   "min_ess_bulk": round(ess), "ess_per_s_sampling": round(ess / timer["sample"], 1),
                   "mean_leapfrog_steps": steps,
                   "intervals_90": {p: [round(summ.loc[p, "lower"], 3), round(summ.loc[p, "upper"], 3)]
                                    for p in m.param_names}}
            out.append(row)
            print(json.dumps(row), flush=True)
    finally:
        nutpie.compile_pymc_model, nutpie.sample = c0, s0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="grad,fit")
    ap.add_argument("--seeds", type=int, default=3, help="NUTS fits (seeds 2024, 1, 2, ...)")
    ap.add_argument("--sizes", default="100000,1000000", help="simulated bases for the gradient timing")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()
    parts = args.parts.split(",")
    res = {"load_average": os.getloadavg()}
    if "grad" in parts:
        res["grad"] = bench_grad(tuple(int(v) for v in args.sizes.split(",") if v))
    if "fit" in parts:
        res["fit"] = bench_fit(([2024, 1, 2, 3, 4, 5, 6, 7])[: args.seeds])
    res["load_average_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
