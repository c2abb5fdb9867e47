"""BG/NBD with covariates, clvmodels against pymc-marketing 1.3.0, side by side on the same simulated summary.

Data: ``--n`` customers simulated from the BG/NBD with a binary and a numeric covariate (``paid`` 0/1 with
probability 0.4; ``basket`` 1..5) and known effects (pymc-marketing's form: alpha_i = alpha exp(-0.5 paid
- 0.25 basket), a_i = a exp(0.6 paid), b_i = b exp(-0.3 paid)), T uniform on 20..52 weeks. Both tools get
the raw columns (pymc-marketing takes numeric columns as they are; clvmodels standardises inside and
reports per unit, so the coefficients are on the same scale). Each tool's default priors.

Sampler, the same for both: nutpie, 4 chains x ``--draws`` after as many tuning steps, target_accept
``--target-accept`` (0.8), passed explicitly to both (clvmodels ``target_accept=``; pymc-marketing
``fit(..., nuts={"target_accept": ...})``, which pm.sample hands to ``nutpie.sample``). What
``nutpie.sample`` actually received (target_accept, adaptation) is recorded by wrapping it, in both
tools. Mass-matrix adaptation: each configuration in ``--configs``, by default both tools with both
(clvmodels ``adaptation=``, its default ``low_rank``; pymc-marketing passes none by default, i.e.
nutpie's ``diag``, and ``nuts={"adaptation": "low_rank"}`` reaches nutpie.sample).

Timing: every fit in a fresh interpreter of its own environment. Fit wall time = ``fit()`` (compilation
included); compilation apart (clvmodels' ``diagnostics_.compile_seconds``, the peer's
``nutpie.compile_pymc_model`` wrapped) and sampling apart (``nutpie.sample`` wrapped, both tools). ESS/s
= minimum bulk ESS over the base parameters and the four coefficients / fit wall time; ESS per sampling
second as well. Caches **warm**: one untimed warm-up fit per configuration first (``--no-warmup`` when an
earlier invocation did it), so both tools load their compiled code from their on-disk caches as a user's
second run would. Rounds interleave the tools (ours, theirs, ours, theirs; the configurations' order
rotated by one each round); round r samples with seed 11 + r in every configuration (the data stay
those of seed 11), so ESS varies over the rounds as well as time; every child's result is appended to ``--jsonl`` with its round, start time
and load average before and after, so several locked invocations (``--first-round``) add up to one
experiment, and the summary (median per configuration, every round, estimates side by side, ESS/s ratio
of the medians) is computed over all of them into ``--out``:

    flock /tmp/s23/bench.lock python benchmarks/bench_covariates_peer.py --rounds 1
    flock /tmp/s23/bench.lock python benchmarks/bench_covariates_peer.py --rounds 2 --first-round 1 --no-warmup
    python benchmarks/bench_covariates_peer.py --summarize    # the summary again, without running
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
#: each tool's own default mass-matrix adaptation (pymc-marketing via pm.sample: nutpie.sample's, diag)
DEFAULT_ADAPTATION = {"clvmodels": "low_rank", "pymc-marketing": "diag"}
#: the configurations of a round, in the order of round 0: the tools alternate
CONFIGS = [("clvmodels", "low_rank"), ("pymc-marketing", "diag"), ("clvmodels", "diag"), ("pymc-marketing", "low_rank")]


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


class _NutpieTimer:
    """nutpie's compile and sample wrapped: their seconds, and the keywords nutpie.sample was given."""

    def __init__(self):
        import nutpie

        self.compile_s = self.sample_s = 0.0
        self.sample_kwargs = {}
        c0, s0 = nutpie.compile_pymc_model, nutpie.sample

        def compile_pymc_model(*a, **k):
            t = time.perf_counter()
            try:
                return c0(*a, **k)
            finally:
                self.compile_s += time.perf_counter() - t

        def sample(*a, **k):
            self.sample_kwargs = {key: k.get(key, "not passed") for key in ("target_accept", "adaptation",
                                                                             "draws", "tune", "chains")}
            t = time.perf_counter()
            try:
                return s0(*a, **k)
            finally:
                self.sample_s += time.perf_counter() - t

        nutpie.compile_pymc_model, nutpie.sample = compile_pymc_model, sample


def child(tool: str, path: str, draws: int, adaptation: str, target_accept: float, seed: int) -> dict:
    import arviz as az
    import pandas as pd

    df = pd.read_csv(path)
    out = {"tool": tool, "adaptation": adaptation, "target_accept": target_accept, "seed": seed}
    timer = _NutpieTimer()
    t = time.perf_counter()
    if tool == "clvmodels":
        from clvmodels import BetaGeoModel

        df.attrs["clvmodels"] = {"time_unit": "W"}
        m = BetaGeoModel(purchase_covariates=["paid", "basket"], dropout_covariates=["paid"], chains=4, draws=draws,
                         tune=draws, seed=seed, progressbar=False, sampler="nutpie", target_accept=target_accept,
                         adaptation=adaptation).fit(df)
        out["fit_s"] = time.perf_counter() - t
        out["compile_s"] = m.diagnostics_.compile_seconds
        out["compiled"] = m.diagnostics_.compiled
        post = m.posterior_
        names = {"purchase[paid]": "purchase_coefficient_alpha[paid]", "purchase[basket]": "purchase_coefficient_alpha[basket]",
                 "dropout_a[paid]": "dropout_coefficient_a[paid]", "dropout_b[paid]": "dropout_coefficient_b[paid]"}
        out["coefficients"] = {k: _quant(post[v]) for k, v in names.items()}
        ess = az.ess(post, var_names=list(m.param_names), method="bulk")
        out["min_ess_bulk"] = min(float(ess[v]) for v in m.param_names)
        out["ess_over"] = list(m.param_names)
        out["divergences"] = int(m.diagnostics_.divergences)
        out["r"] = _quant(post["r"])
    else:
        import numpy as np
        from pymc_marketing.clv import BetaGeoModel

        cfg = {"purchase_covariate_cols": ["paid", "basket"], "dropout_covariate_cols": ["paid"]}
        m = BetaGeoModel(model_config=cfg)  # 1.3.0: the data go to fit()
        nuts = {"target_accept": target_accept}
        if adaptation != DEFAULT_ADAPTATION[tool]:
            nuts["adaptation"] = adaptation
        m.fit(df[["customer_id", "frequency", "recency", "T", "paid", "basket"]], method="mcmc", chains=4, draws=draws,
              tune=draws, nuts_sampler="nutpie", random_seed=seed, progressbar=False, nuts=nuts)
        out["fit_s"] = time.perf_counter() - t
        out["compile_s"] = timer.compile_s
        out["compiled"] = "nutpie.compile_pymc_model"
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
        out["ess_over"] = list(ess.data_vars)
        ss = m.idata["sample_stats"]
        ss = ss.to_dataset() if hasattr(ss, "to_dataset") else ss
        out["divergences"] = int(np.asarray(ss["diverging"]).sum())
        out["r"] = _quant(post["r"])
    out["sample_s"] = timer.sample_s
    out["nutpie_sample_kwargs"] = timer.sample_kwargs
    out["ess_per_s"] = out["min_ess_bulk"] / out["fit_s"]
    out["ess_per_sample_s"] = out["min_ess_bulk"] / out["sample_s"]
    return out


def _loadavg() -> list[float]:
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def run_child(tool: str, adaptation: str, path: Path, args, seed: int) -> dict:
    py = sys.executable if tool == "clvmodels" else str(ENV_PYMC / "bin" / "python")
    env = dict(os.environ, PYTHONPATH=str(ROOT) if tool == "clvmodels" else "")
    load, at = _loadavg(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t = time.perf_counter()
    p = subprocess.run([py, __file__, "--child", tool, str(path), str(args.draws), adaptation, str(args.target_accept),
                        str(seed)],
                       capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - t
    res = ({"tool": tool, "adaptation": adaptation, "error": p.stderr[-2000:]} if p.returncode
           else json.loads(p.stdout.strip().splitlines()[-1]))
    res.update(process_s=wall, started=at, load_avg_start=load, load_avg_end=_loadavg(), n=args.n, draws=args.draws)
    return res


def summarize(rows: list[dict]) -> dict:
    """Per configuration: medians and every round; the estimates side by side (medians over rounds of each
    coefficient's mean and 90% bounds); the ESS/s ratios of the medians."""
    rows = [x for x in rows if x.get("round") != "warmup"]
    configs = {}
    for tool, adaptation in CONFIGS:
        ok = sorted((x for x in rows if x["tool"] == tool and x.get("adaptation") == adaptation and "error" not in x),
                    key=lambda x: x["round"])
        if not ok:
            continue
        keys = ("fit_s", "compile_s", "sample_s", "min_ess_bulk", "ess_per_s", "ess_per_sample_s", "process_s")
        configs[f"{tool} {adaptation}"] = {
            "tool": tool, "adaptation": adaptation, "default": adaptation == DEFAULT_ADAPTATION[tool], "rounds": len(ok),
            "median": {k: statistics.median(x[k] for x in ok) for k in keys},
            "every": {k: [round(x[k], 3) for x in ok] for k in keys + ("divergences",)},
            "load_avg_start": [x["load_avg_start"][0] for x in ok], "started": [x["started"] for x in ok],
            "nutpie_sample_kwargs": sorted({json.dumps(x.get("nutpie_sample_kwargs"), sort_keys=True) for x in ok}),
            "compiled": sorted({x.get("compiled", "") for x in ok}),
            # (mean, 5%, 95%) of each coefficient and of r, each the median over the rounds
            "estimates": {c: [statistics.median((x["r"] if c == "r" else x["coefficients"][c])[i] for x in ok)
                              for i in range(3)] for c in [*TRUTH, "r"]},
            "errors": sum(1 for x in rows if x["tool"] == tool and x.get("adaptation") == adaptation and "error" in x),
        }
    ratios = {}
    for ours in ("clvmodels low_rank", "clvmodels diag"):
        for theirs in ("pymc-marketing diag", "pymc-marketing low_rank"):
            if ours in configs and theirs in configs:
                a, b = configs[ours]["median"], configs[theirs]["median"]
                ratios[f"{ours} / {theirs}"] = {"ess_per_s": a["ess_per_s"] / b["ess_per_s"],
                                                "ess_per_sample_s": a["ess_per_sample_s"] / b["ess_per_sample_s"],
                                                "fit_s": b["fit_s"] / a["fit_s"]}
    # the same within their intervals: each pair of configurations' means differ by less than either
    # one's 90% half-width, for every coefficient and r
    agree = {}
    names = list(configs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            worst = 0.0
            for c, (ma, lo_a, hi_a) in configs[a]["estimates"].items():
                mb, lo_b, hi_b = configs[b]["estimates"][c]
                half = min(hi_a - lo_a, hi_b - lo_b) / 2
                worst = max(worst, abs(ma - mb) / half)
            agree[f"{a} vs {b}"] = {"largest |mean difference| / smaller 90% half-width": worst}
    # the same ratio within each round (the two fits ran next to each other, at about the same load)
    per_round = {}
    for key in ratios:
        ours, theirs = key.split(" / ")
        by = {(f"{x['tool']} {x.get('adaptation')}", x["round"]): x for x in rows if "error" not in x}
        per_round[key] = [by[(ours, r)]["ess_per_s"] / by[(theirs, r)]["ess_per_s"]
                          for r in sorted({x["round"] for x in rows}) if (ours, r) in by and (theirs, r) in by]
    return {"configs": configs, "ess_per_s_ratio_of_medians": ratios, "ess_per_s_ratio_per_round": per_round,
            "estimates_agree": agree}


def markdown(summary: dict) -> str:
    """The README's tables from the summary: per configuration the medians with every round, the
    estimates side by side, the ratios of the medians."""
    cfgs = summary["configs"]
    lines = ["| tool | adaptation | rounds | fit wall (s), median | every round | compile (s) | sampling (s) | "
             "min bulk ESS, median (range) | ESS/s | ESS per sampling s | divergences | load avg at start |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|"]
    for c in cfgs.values():
        m, e = c["median"], c["every"]
        lines.append(
            f"| {c['tool']} | {c['adaptation']}{' (its default)' if c['default'] else ''} | {c['rounds']} | "
            f"{m['fit_s']:.2f} | {', '.join(f'{v:.2f}' for v in e['fit_s'])} | {m['compile_s']:.2f} | "
            f"{m['sample_s']:.2f} | {m['min_ess_bulk']:,.0f} ({min(e['min_ess_bulk']):,.0f}-{max(e['min_ess_bulk']):,.0f}) | "
            f"{m['ess_per_s']:,.1f} | {m['ess_per_sample_s']:,.1f} | {', '.join(str(int(v)) for v in e['divergences'])} | "
            f"{', '.join(f'{v:.2f}' for v in c['load_avg_start'])} |")
    names = {"purchase[paid]": "purchase_coefficient_alpha[paid]", "purchase[basket]": "purchase_coefficient_alpha[basket]",
             "dropout_a[paid]": "dropout_coefficient_a[paid]", "dropout_b[paid]": "dropout_coefficient_b[paid]", "r": "r"}
    lines += ["", "| mean (90% interval), medians over the rounds | truth | " + " | ".join(cfgs) + " |",
              "|---|---:|" + "---|" * len(cfgs)]
    truth = {**TRUTH, "r": 0.8}
    for k, label in names.items():
        lines.append(f"| {label} | {truth[k]:g} | " + " | ".join(
            "{:.3f} ({:.3f}, {:.3f})".format(*c["estimates"][k]) for c in cfgs.values()) + " |")
    lines += ["", "| ratio of the medians | ESS/s | ESS per sampling s | fit wall (theirs / ours) | ESS/s ratio in each round |",
              "|---|---:|---:|---:|---|"]
    for k, r in summary["ess_per_s_ratio_of_medians"].items():
        per = ", ".join(f"{v:.1f}" for v in summary["ess_per_s_ratio_per_round"].get(k, []))
        lines.append(f"| {k} | {r['ess_per_s']:.1f}x | {r['ess_per_sample_s']:.1f}x | {r['fit_s']:.1f}x | {per} |")
    return "\n".join(lines)



def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=6, default=None)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--target-accept", type=float, default=0.8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--first-round", type=int, default=0, help="number of this invocation's first round")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up fits (an earlier "
                    "invocation of the same experiment made them)")
    ap.add_argument("--configs", default=",".join(f"{t}:{a}" for t, a in CONFIGS),
                    help="tool:adaptation, comma-separated, in round 0's order")
    ap.add_argument("--summarize", action="store_true", help="only recompute the summary from --jsonl")
    ap.add_argument("--jsonl", default=str(HERE / "results" / "bench_covariates_peer.jsonl"))
    ap.add_argument("--out", default=str(HERE / "results" / "bench_covariates_peer.json"))
    args = ap.parse_args()
    if args.child:
        tool, path, draws, adaptation, target_accept, seed = args.child
        print(json.dumps(child(tool, path, int(draws), adaptation, float(target_accept), int(seed))))
        return 0
    if not args.summarize:
        configs = [tuple(c.split(":")) for c in args.configs.split(",")]
        path = Path("/tmp") / f"cov_peer_{args.n}.csv"
        prepare(args.n, path)
        with open(args.jsonl, "a") as f:
            def one(tool, adaptation, r):
                # the sampler seed of round r is SEED + r (the warm-up: SEED), the same for every tool in a
                # round; the data stay those of SEED
                res = run_child(tool, adaptation, path, args, SEED + (0 if r == "warmup" else r))
                res["round"] = r
                print(json.dumps({k: v for k, v in res.items() if k != "coefficients"}), flush=True)
                f.write(json.dumps(res) + "\n")
                f.flush()

            if not args.no_warmup:
                for tool, adaptation in configs:
                    one(tool, adaptation, "warmup")
            for r in range(args.first_round, args.first_round + args.rounds):
                k = r % len(configs)
                for tool, adaptation in configs[k:] + configs[:k]:
                    one(tool, adaptation, r)
    rows = [json.loads(x) for x in open(args.jsonl) if x.strip()]
    summary = summarize(rows)
    Path(args.out).write_text(json.dumps({"n": args.n, "draws": args.draws, "target_accept": args.target_accept,
                                          "truth": TRUTH, "caches": "warm (one untimed warm-up fit per configuration)",
                                          "rounds": rows, "summary": summary}, indent=1))
    print(json.dumps(summary, indent=1))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
