"""Coverage of the covariate effects' 90% intervals over simulated logs (the rate behind the one-seed test
tests/models/test_covariates.py::test_recovers_the_simulated_effects).

Each seed: 3,000 BG/NBD customers (T uniform on 20..52 weeks, whole weeks) with a binary covariate
(channel: paid with probability 0.4) and a numeric one (basket: 1..5), simulated with known effects
(purchase: channel=paid 0.5, basket 0.25 on -log alpha; drop-out: channel=paid 0.6 on log a, -0.3 on
log b), fitted with ``--method`` (map: the Laplace approximation, or nuts); counts how often each 90%
interval contains the true effect. A rate near 0.9 (binomial sd 0.3/sqrt(seeds)) says the intervals
are calibrated.

    python benchmarks/covariates_recovery.py --seeds 20 --method map
"""
from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

TRUTH = {"purchase_coefficient_alpha[channel=paid]": 0.5, "purchase_coefficient_alpha[basket]": 0.25,
         "dropout_coefficient_a[channel=paid]": 0.6, "dropout_coefficient_b[channel=paid]": -0.3}
EFFECTS = {"purchase_coefficient_alpha": {"channel=paid": 0.5, "basket": 0.25},
           "dropout_coefficient_a": {"channel=paid": 0.6}, "dropout_coefficient_b": {"channel=paid": -0.3}}


def simulate(n, seed):
    from clvmodels.models.bgnbd.simulate import simulate_summary

    rng = np.random.default_rng(seed)
    cov = pd.DataFrame({"channel": rng.choice(["organic", "paid"], n, p=[0.6, 0.4]),
                        "basket": rng.integers(1, 6, n).astype(float)})
    T = np.random.default_rng(seed + 100).uniform(20, 52, n).round()
    df = simulate_summary(n, 0.8, 8.0, 0.8, 3.0, T=T, seed=seed, covariates=cov, coefficients=EFFECTS)
    df["recency"] = df["recency"].round(2)
    df.attrs["clvmodels"] = {"time_unit": "W"}
    return df


def main():
    from clvmodels import BetaGeoModel

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--method", default="map")
    args = ap.parse_args()
    hits = {k: 0 for k in TRUTH}
    rows = []
    for seed in range(args.first, args.first + args.seeds):
        df = simulate(args.n, seed)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = BetaGeoModel(purchase_covariates=["channel", "basket"], dropout_covariates=["channel"],
                             method=args.method, seed=seed, chains=2, draws=500, tune=500,
                             progressbar=False).fit(df)
        co = m.coefficients(0.9)
        row = {"seed": seed, "seconds": round(time.perf_counter() - t, 2)}
        for k, v in TRUTH.items():
            inside = bool(co.loc[k, "lower"] < v < co.loc[k, "upper"])
            hits[k] += inside
            row[k] = [round(co.loc[k, "mean"], 3), round(co.loc[k, "lower"], 3), round(co.loc[k, "upper"], 3), inside]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"method": args.method, "seeds": args.seeds, "n": args.n,
                      "coverage": {k: h / args.seeds for k, h in hits.items()}}))


if __name__ == "__main__":
    main()
