"""The plug-in at the posterior mode against averages over draws, on the CDNOW sample (BG/NBD and
Gamma-Gamma, default priors): what the README's "Known parameters and the plug-in mode" reports.

For each method ("mode": the posterior mode alone, predictions plugged in at it; "map": the mode with
1,000 draws of its Laplace approximation, predictions averaged over them; "nuts": 4 chains x 1,000
draws after 1,000 tuning steps), two set-ups:

1. calibration to 1997-09-30, weeks: the total of the conditional expected purchases over the 39-week
   holdout (1,882 purchases happened);
2. the whole log to 1998-06-30 (the demo's forecast): ``clvmodels.forecast`` 52 weeks ahead at 10% a
   year: the totals of expected purchases and of CLV over the 2,357 customers.

Run: ``PYTHONPATH=. python benchmarks/bench_point.py [--seed 42]``; prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import clvmodels as clv
    from clvmodels import BetaGeoModel

    tx = clv.datasets.load_cdnow_sample()
    split = clv.summarize(tx, customer_id="customer_id", date="date", amount="amount",
                          calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="W")
    full = clv.summarize(tx, customer_id="customer_id", date="date", amount="amount",
                         observation_end="1998-06-30", time_unit="W")
    out = {"holdout_actual_total": float(split["frequency_holdout"].sum())}
    for method in ("mode", "map", "nuts"):
        t0 = time.perf_counter()
        bg = BetaGeoModel(method=method, seed=args.seed, progressbar=False).fit(split)
        hold = float(bg.expected_purchases(split, "39W", max_draws=None)["expected_purchases"].sum())
        res = clv.forecast(summary=full, horizon="52W", discount_rate=0.1, method=method, seed=args.seed,
                           max_draws=None, progress=False)
        out[method] = {"holdout_expected_purchases_39W": round(hold, 1),
                       "expected_purchases_52W": round(float(res.table["expected_purchases"].sum()), 1),
                       "clv_52W_10pct": round(float(res.table["clv"].sum()), 0),
                       "params": {k: round(float(v), 4) for k, v in bg.params_.items()},
                       "seconds": round(time.perf_counter() - t0, 1)}
    for method in ("map", "nuts"):
        out[f"{method}_vs_mode_percent"] = {
            k: round(100 * (out[method][k] / out["mode"][k] - 1), 2)
            for k in ("holdout_expected_purchases_39W", "expected_purchases_52W", "clv_52W_10pct")}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
