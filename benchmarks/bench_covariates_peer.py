"""BG/NBD with covariates, clvmodels against pymc-marketing 1.3.0, side by side on the same simulated summary.

Data: ``--n`` customers simulated from the BG/NBD with a binary and a numeric covariate (``paid`` 0/1 with
probability 0.4; ``basket`` 1..5) and known effects (pymc-marketing's form: alpha_i = alpha exp(-0.5 paid
- 0.25 basket), a_i = a exp(0.6 paid), b_i = b exp(-0.3 paid)), T uniform on 20..52 weeks. Both tools get
the raw columns (pymc-marketing takes numeric columns as they are; clvmodels standardises inside and
reports per unit, so the coefficients are on the same scale). NUTS with nutpie, 4 chains x ``--draws``
after as many tuning steps, default priors of each tool. Each fit runs in a fresh interpreter of its own
environment; per tool: the coefficients' means and 90% intervals, fit wall time (compilation included),
minimum bulk ESS over the coefficients and the base parameters, ESS per second, divergences, the load
average at start and end. Rounds alternate the tools.

    flock /tmp/s22/bench.lock python benchmarks/bench_covariates_peer.py --n 3000 --rounds 2
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
ENV_PYMC = HERE / ".env-pymc-marketing"
SEED = 11
TRUTH = {"purchase[paid]": 0.5, "purchase[basket]": 0.25, "dropout_a[paid]": 0.6, "dropout_b[paid]": -0.3}


def prepare(n: int, path: Path) -> None:
    import numpy as np
    import pandas as pd

    from clvmodels.models.bgnbd.simulate import simulate_summary

    rng = np.random.default_rng(SEED)
    cov = pd.DataFrame({"paid": (rng.random(n) < 0.4).astype(float), "basket": rng.integers(1, 6, n).astype(float)})
    T = np.random.default_rng(SEED + 1).uniform(20, 52, n).round()
    df = simulate_summary(n, 0.8, 8.0, 0.8, 3.0, T=T, seed=SEED, covariates=cov,
                          coefficients={"purchase_coefficient_alpha": {"paid": 0.5, "basket": 0.25},
                                        "dropout_coefficient_a": {"paid": 0.6}, "dropout_coefficient_b": {"paid": -0.3}})
    df["recency"] = df["recency"].round(3)
    df.reset_index().to_csv(path, index=False)


def _quant(v):
    import numpy as np

    v = np.asarray(v).ravel()
    return [float(v.mean()), float(np.quantile(v, 0.05)), float(np.quantile(v, 0.95))]


def child(tool: str, path: str, draws: int) -> dict:
    import arviz as az
    import pandas as pd

    df = pd.read_csv(path)
    out = {"tool": tool}
    t = time.perf_counter()
    if tool == "clvmodels":
        from clvmodels import BetaGeoModel

        df.attrs["clvmodels"] = {"time_unit": "W"}
        m = BetaGeoModel(purchase_covariates=["paid", "basket"], dropout_covariates=["paid"], chains=4, draws=draws,
                         tune=draws, seed=SEED, progressbar=False, sampler="nutpie").fit(df)
        out["fit_s"] = time.perf_counter() - t
        post = m.posterior_
        names = {"purchase[paid]": "purchase_coefficient_alpha[paid]", "purchase[basket]": "purchase_coefficient_alpha[basket]",
                 "dropout_a[paid]": "dropout_coefficient_a[paid]", "dropout_b[paid]": "dropout_coefficient_b[paid]"}
        out["coefficients"] = {k: _quant(post[v]) for k, v in names.items()}
        ess = az.ess(post, var_names=list(m.param_names), method="bulk")
        out["min_ess_bulk"] = min(float(ess[v]) for v in m.param_names)
        out["divergences"] = int(m.diagnostics_.divergences)
        out["r"] = _quant(post["r"])
    else:
        import numpy as np
        from pymc_marketing.clv import BetaGeoModel

        cfg = {"purchase_covariate_cols": ["paid", "basket"], "dropout_covariate_cols": ["paid"]}
        m = BetaGeoModel(model_config=cfg)  # 1.3.0: the data go to fit()
        m.fit(df[["customer_id", "frequency", "recency", "T", "paid", "basket"]], method="mcmc", chains=4, draws=draws,
              tune=draws, nuts_sampler="nutpie", random_seed=SEED, progressbar=False)
        out["fit_s"] = time.perf_counter() - t
        post = m.idata["posterior"]
        post = post.to_dataset() if hasattr(post, "to_dataset") else post
        pa, da, db = post["purchase_coefficient_alpha"], post["dropout_coefficient_a"], post["dropout_coefficient_b"]
        out["coefficients"] = {"purchase[paid]": _quant(pa.sel(purchase_covariate="paid")),
                               "purchase[basket]": _quant(pa.sel(purchase_covariate="basket")),
                               "dropout_a[paid]": _quant(da.sel(dropout_covariate="paid")),
                               "dropout_b[paid]": _quant(db.sel(dropout_covariate="paid"))}
        free = ["r", "alpha_scale", "a_scale", "b_scale", "purchase_coefficient_alpha", "dropout_coefficient_a",
                "dropout_coefficient_b"]
        ess = az.ess(post, var_names=[v for v in free if v in post], method="bulk")
        out["min_ess_bulk"] = min(float(np.min(ess[v].values)) for v in ess.data_vars)
        ss = m.idata["sample_stats"]
        ss = ss.to_dataset() if hasattr(ss, "to_dataset") else ss
        out["divergences"] = int(np.asarray(ss["diverging"]).sum())
        out["r"] = _quant(post["r"])
    out["ess_per_s"] = out["min_ess_bulk"] / out["fit_s"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3, default=None)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "bench_covariates_peer.json"))
    args = ap.parse_args()
    if args.child:
        tool, path, draws = args.child
        print(json.dumps(child(tool, path, int(draws))))
        return 0
    path = Path("/tmp") / f"cov_peer_{args.n}.csv"
    prepare(args.n, path)
    rounds = []
    for r in range(args.rounds):
        for tool in ("clvmodels", "pymc-marketing"):
            py = sys.executable if tool == "clvmodels" else str(ENV_PYMC / "bin" / "python")
            env = dict(os.environ, PYTHONPATH=str(ROOT) if tool == "clvmodels" else "")
            load = os.getloadavg()
            p = subprocess.run([py, __file__, "--child", tool, str(path), str(args.draws)], capture_output=True,
                               text=True, env=env, timeout=1800)
            res = ({"tool": tool, "error": p.stderr[-2000:]} if p.returncode else json.loads(p.stdout.strip().splitlines()[-1]))
            res.update(round=r, load_avg_start=load, load_avg_end=os.getloadavg())
            print(json.dumps(res), flush=True)
            rounds.append(res)
    summary = {}
    for tool in ("clvmodels", "pymc-marketing"):
        ok = [x for x in rounds if x["tool"] == tool and "error" not in x]
        if ok:
            summary[tool] = {k: statistics.median(x[k] for x in ok) for k in ("fit_s", "min_ess_bulk", "ess_per_s")}
    if len(summary) == 2:
        summary["ess_per_s_ratio"] = summary["clvmodels"]["ess_per_s"] / summary["pymc-marketing"]["ess_per_s"]
    Path(args.out).write_text(json.dumps({"n": args.n, "draws": args.draws, "truth": TRUTH, "rounds": rounds,
                                          "summary": summary}, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
