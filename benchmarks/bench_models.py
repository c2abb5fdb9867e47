"""Pareto/NBD and MBG/NBD NUTS, clvmodels against pymc-marketing, side by side in one run (issue "A choice
of purchase models").

What runs (each fit in its own fresh interpreter, started by this small parent, which imports neither
library: a child's peak RSS then is its own):

* ``cdnow``: the CDNOW sample's 39-week calibration summary (2,357 customers, weeks), NUTS 4 chains x
  1,000 draws after 1,000 tuning with nutpie on both sides (pymc-marketing: ``nuts_sampler="nutpie"``), the
  default priors of each tool; wall time of ``fit`` including compilation, nutpie's compile time and
  sampling time apart, minimum bulk ESS over the four parameters and ESS per second of fit wall time,
  divergences, max R-hat. The tools alternate (clvmodels, pymc-marketing, clvmodels, ...) for
  ``--repeat`` rounds; medians and every round are reported with the load average.
* ``sim``: 1 million customers simulated from each model's own story (CDNOW-like parameters, T uniform
  in 1..104 weeks, times in whole days), fitted by clvmodels from distinct (frequency, recency, T) counts
  with NUTS (``--sim-chains`` x ``--sim-draws`` after as many tuning steps); pymc-marketing is not run at
  this size (REFERENCE: its BG/NBD NUTS takes 104 s at 100k customers with 2 x 500 draws).

Caches: numba's on-disk cache (clvmodels' kernels) and nutpie's compilation are as the previous round
left them; the first clvmodels round of a fresh checkout is cold (its compile time says so).

Usage::

    .venv/bin/python benchmarks/bench_models.py --repeat 3            # CDNOW, both models, both tools
    .venv/bin/python benchmarks/bench_models.py --parts sim           # 1M simulated customers, clvmodels
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
DATA = HERE / "data"
RESULTS = HERE / "results"
ENV_PYMC = HERE / ".env-pymc-marketing"
FIT_SEED = 11
PARAMS = {"pnbd": ("r", "alpha", "s", "beta"), "mbgnbd": ("r", "alpha", "a", "b")}
#: the simulated bases' true parameters (CDNOW's published estimates)
TRUE = {"pnbd": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
        "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}}


# -- data, made in a child of its own ------------------------------------------------------------------
def prepare(n_sim: int, models=("pnbd", "mbgnbd")) -> None:
    import numpy as np

    import clvmodels
    from clvmodels.datasets import load_cdnow_sample

    DATA.mkdir(parents=True, exist_ok=True)
    cd = DATA / "cdnow_calibration_summary.csv"
    if not cd.exists():
        s = clvmodels.summarize(load_cdnow_sample(), calibration_end="1997-09-30", observation_end="1998-06-30",
                                time_unit="W")
        s[["frequency", "recency", "T", "frequency_holdout"]].reset_index().to_csv(cd, index=False, float_format="%.17g")
    for model in models if n_sim else ():
        path = DATA / f"sim_{model}_{n_sim}.parquet"
        if path.exists():
            continue
        sim = __import__(f"clvmodels.models.{'pareto_nbd' if model == 'pnbd' else 'mbgnbd'}.simulate",
                         fromlist=["simulate_summary"])
        rng = np.random.default_rng(20261130 + n_sim)
        T = rng.integers(7, 729, n_sim) / 7.0  # whole days in 7..728, in weeks
        s = sim.simulate_summary(n_sim, *TRUE[model].values(), T, seed=7 * n_sim)
        s["recency"] = np.floor(s["recency"].to_numpy() * 7.0 + 1e-9) / 7.0  # purchases dated by day
        s.reset_index().to_parquet(path, index=False)


# -- children ------------------------------------------------------------------------------------------
def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _NutpieTimer:
    """nutpie's compilation and sampling time, apart (both tools call nutpie's functions)."""

    def __init__(self):
        self.compile_s = 0.0
        self.sample_s = 0.0

    def install(self):
        import nutpie

        c0, s0 = nutpie.compile_pymc_model, nutpie.sample

        def compile_pymc_model(*a, **k):
            t = time.perf_counter()
            try:
                return c0(*a, **k)
            finally:
                self.compile_s += time.perf_counter() - t

        def sample(*a, **k):
            t = time.perf_counter()
            try:
                return s0(*a, **k)
            finally:
                self.sample_s += time.perf_counter() - t

        nutpie.compile_pymc_model, nutpie.sample = compile_pymc_model, sample


def _diagnostics(post, stats, names) -> dict:
    import arviz as az
    import numpy as np

    ess = az.ess(post, var_names=list(names), method="bulk")
    rhat = az.rhat(post, var_names=list(names))
    out = {"ess_bulk": {k: float(ess[k]) for k in names}, "rhat": {k: float(rhat[k]) for k in names}}
    try:
        out["divergences"] = int(np.asarray(stats["diverging"]).sum())
    except Exception:  # noqa: BLE001
        out["divergences"] = None
    return out


def child(tool: str, model: str, part: str, n_sim: int, chains: int, draws: int, tune: int) -> dict:
    t_imp = time.perf_counter()
    import pandas as pd

    timer = _NutpieTimer()
    names = PARAMS[model]
    out = {"tool": tool, "model": model, "part": part, "chains": chains, "draws": draws, "tune": tune}
    if part == "cdnow":
        df = pd.read_csv(DATA / "cdnow_calibration_summary.csv")
    else:
        df = pd.read_parquet(DATA / f"sim_{model}_{n_sim}.parquet", columns=["customer_id", "frequency", "recency", "T"])
        out["n_customers"] = int(len(df))
    if tool == "clvmodels":
        from clvmodels.models.registry import transaction_model_class

        cls = transaction_model_class(model)
        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        t0 = time.perf_counter()
        data = df.groupby(["frequency", "recency", "T"], sort=False).size().rename("n_customers").reset_index()
        out["aggregate_s"] = time.perf_counter() - t0
        out["n_triplets"] = int(len(data))
        t1 = time.perf_counter()
        m = cls(chains=chains, draws=draws, tune=tune, seed=FIT_SEED, progressbar=False).fit(data, time_unit="W")
        out["fit_s"] = time.perf_counter() - t1
        out.update(_diagnostics(m.posterior_, m.sample_stats_, names))
        out["params"] = {k: float(v) for k, v in m.params_.items()}
        out["version"] = _versions(["clvmodels", "pymc", "nutpie"])
    else:
        from pymc_marketing.clv import ModifiedBetaGeoModel, ParetoNBDModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        data = df[["customer_id", "frequency", "recency", "T"]]
        out["aggregate_s"] = 0.0
        t1 = time.perf_counter()
        m = (ParetoNBDModel if model == "pnbd" else ModifiedBetaGeoModel)(data=data) if _takes_data() else \
            (ParetoNBDModel if model == "pnbd" else ModifiedBetaGeoModel)()
        kw = dict(method="mcmc", chains=chains, draws=draws, tune=tune, nuts_sampler="nutpie", random_seed=FIT_SEED,
                  progressbar=False)
        m.fit(**kw) if _takes_data() else m.fit(data, **kw)
        out["fit_s"] = time.perf_counter() - t1
        post = m.idata["posterior"]
        post = post.to_dataset() if hasattr(post, "to_dataset") else post
        ss = m.idata["sample_stats"]
        ss = ss.to_dataset() if hasattr(ss, "to_dataset") else ss
        out.update(_diagnostics(post, ss, names))
        out["params"] = {k: float(post[k].mean()) for k in names}
        out["version"] = _versions(["pymc-marketing", "pymc", "nutpie"])
    out["compile_s"], out["sample_s"] = timer.compile_s, timer.sample_s
    out["min_ess_bulk"] = min(out["ess_bulk"].values())
    out["ess_per_s"] = out["min_ess_bulk"] / out["fit_s"]
    out["max_rhat"] = max(out["rhat"].values())
    out["total_s"] = out["aggregate_s"] + out["fit_s"]
    out["peak_rss_mb"] = _peak_mb()
    return out


def _takes_data() -> bool:
    """pymc-marketing 1.x takes the data in the constructor (0.x did too); newer releases in fit()."""
    import inspect

    from pymc_marketing.clv import ParetoNBDModel

    return "data" in inspect.signature(ParetoNBDModel.__init__).parameters


def _versions(pkgs) -> dict:
    import importlib.metadata as md

    out = {}
    for p in pkgs:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


# -- parent --------------------------------------------------------------------------------------------
def run_child(tool, model, part, args) -> dict:
    py = sys.executable if tool == "clvmodels" else str(ENV_PYMC / "bin" / "python")
    cmd = [py, str(Path(__file__).resolve()), "--child", tool, model, part, str(args.n_sim),
           str(args.sim_chains if part == "sim" else 4), str(args.sim_draws if part == "sim" else 1000),
           str(args.sim_draws if part == "sim" else 1000)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) if tool == "clvmodels" else "")
    load = os.getloadavg()
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        return {"tool": tool, "model": model, "part": part, "error": p.stderr[-3000:], "load_avg_start": load}
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    res["load_avg_start"] = load
    res["load_avg_end"] = os.getloadavg()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=7, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--parts", default="cdnow", help="cdnow, sim or cdnow,sim")
    ap.add_argument("--models", default="pnbd,mbgnbd")
    ap.add_argument("--tools", default="clvmodels,pymc-marketing")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-sim", type=int, default=1_000_000)
    ap.add_argument("--sim-chains", type=int, default=4)
    ap.add_argument("--sim-draws", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--out", default=str(RESULTS / "bench_models.json"))
    args = ap.parse_args()
    if args.child:
        tool, model, part, n, c, d, t = args.child
        print(json.dumps(child(tool, model, part, int(n), int(c), int(d), int(t))))
        return 0
    parts, models, tools = args.parts.split(","), args.models.split(","), args.tools.split(",")
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {str(ROOT)!r}); "
                    f"import bench_models; bench_models.prepare({args.n_sim if 'sim' in parts else 0}, {models!r})"], check=True)
    rounds = []
    for part in parts:
        for model in models:
            part_tools = tools if part == "cdnow" else ["clvmodels"]
            for rep in range(args.repeat if part == "cdnow" else 1):
                for tool in part_tools:  # interleaved: one round of every tool, then the next round
                    res = run_child(tool, model, part, args)
                    res["round"] = rep
                    rounds.append(res)
                    brief = {k: res.get(k) for k in ("fit_s", "compile_s", "sample_s", "min_ess_bulk", "ess_per_s",
                                                     "max_rhat", "divergences", "peak_rss_mb", "error")}
                    print(f"[{part} {model} {tool} round {rep}] {json.dumps(brief, default=str)}", file=sys.stderr, flush=True)
    summary = {}
    for part in parts:
        for model in models:
            for tool in tools:
                rs = [r for r in rounds if r["part"] == part and r["model"] == model and r["tool"] == tool and "error" not in r]
                if not rs:
                    continue
                summary[f"{part}/{model}/{tool}"] = {
                    k: statistics.median(r[k] for r in rs) for k in ("fit_s", "compile_s", "sample_s", "min_ess_bulk",
                                                                     "ess_per_s", "max_rhat", "peak_rss_mb", "total_s")}
                summary[f"{part}/{model}/{tool}"]["rounds"] = len(rs)
    for model in models:
        a, b = summary.get(f"cdnow/{model}/clvmodels"), summary.get(f"cdnow/{model}/pymc-marketing")
        if a and b:
            summary[f"cdnow/{model}/ess_per_s_ratio"] = a["ess_per_s"] / b["ess_per_s"]
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "rounds": rounds, "medians": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
