"""Benchmark: fitting the Bayesian BG/NBD model, clvmodels against its peers.

Two parts, each tool in its own fresh subprocess (imports, caches and memory never leak from one tool
into another; peak memory is the child's ``getrusage(RUSAGE_SELF).ru_maxrss``, imports included):

1. **CDNOW sample** (2,357 customers, 39-week calibration ending 1997-09-30, 39-week holdout to
   1998-06-30, weekly unit, summary from ``clvmodels.summarize``):

   * ``clvmodels``: ``BetaGeoModel(chains=4, draws=1000, tune=1000).fit(summary)`` (NUTS with nutpie);
   * ``pymc-marketing`` 1.3.0: ``BetaGeoModel().fit(data, chains=4, draws=1000, tune=1000,
     nuts_sampler="nutpie")`` on the same summary (columns customer_id, frequency, recency, T);
   * ``lifetimes`` 0.11.3: ``BetaGeoFitter().fit(frequency, recency, T)`` (maximum likelihood).

   Reported: wall time of the fit including compilation (and the compile/sample split for the NUTS
   tools), minimum bulk ESS over (r, alpha, a, b), ESS per second of fit wall time, and the
   per-customer holdout MAE of the expected purchases in the 39 holdout weeks against the observed
   holdout purchases (posterior-mean expectation for the Bayesian tools, the MLE plug-in for lifetimes).

2. **Simulated bases** (``clvmodels.simulate.simulate_summary``; r = 0.25, alpha = 4, a = 0.8, b = 2.5;
   weekly unit; two years of history: T = (whole days uniform on 1..728) / 7, recency floored to whole
   days, as a summary of a day-dated log gives): 10 thousand, 100 thousand, 1 million (and with
   ``--sizes`` 10 million) customers. clvmodels fits the triplet counts (pandas
   ``groupby(["frequency", "recency", "T"]).size()`` as ``n_customers``, as clvmodels does inside
   ``fit``), pymc-marketing the raw per-customer table (it has no weights), both NUTS with 2 chains x
   500 draws after 500 tuning steps. Reported: aggregation and fit wall time, distinct triplets, peak
   memory, minimum bulk ESS and the estimates.

``--profile`` adds a per-gradient probe at each simulated size: one log-likelihood + gradient
evaluation of ``clvmodels.models.bgnbd.pt_log_likelihood`` compiled with PyTensor's C backend, averaged
over repeated calls.

The peers live in their own environments (created by ``--setup`` or on first use):

* ``benchmarks/.env-pymc-marketing``: ``python3.12 -m venv``; ``pip install pymc-marketing==1.3.0 pyarrow
  nutpie==0.16.11`` (with nutpie installed, ``nuts_sampler="nutpie"`` is what pymc-marketing's users get
  for fast NUTS, and what REFERENCE's peer figures used);
* ``benchmarks/.env-lifetimes``: ``/root/.pyenv/versions/3.10.13/bin/python -m venv``;
  ``pip install lifetimes==0.11.3 "pandas<2" "numpy<2" pyarrow``.

Usage (repository root, project virtual environment)::

    .venv/bin/python benchmarks/bench_fit.py                       # CDNOW + 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_fit.py --quick               # CDNOW + 10k only
    .venv/bin/python benchmarks/bench_fit.py --parts sim --sizes 1000000,10000000 --tools clvmodels
    .venv/bin/python benchmarks/bench_fit.py --profile             # add the per-gradient probe

The results go to ``benchmarks/results/bench_fit.json`` (``--json`` to change; merged per part and size,
so separate runs add up). The top level of this file uses only the standard library: the peers'
interpreters import it too.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
ENV_PYMC = HERE / ".env-pymc-marketing"
ENV_LIFETIMES = HERE / ".env-lifetimes"
PY310 = "/root/.pyenv/versions/3.10.13/bin/python"

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
SIM_SEED = 20240611
FIT_SEED = 1
HOLDOUT_WEEKS = 39.0


# ---------------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------------
def ensure_envs(tools) -> None:
    """Create the peers' environments if missing (needs PyPI); add nutpie to pymc-marketing's."""
    if "pymc-marketing" in tools:
        py = ENV_PYMC / "bin" / "python"
        if not py.exists():
            subprocess.run([shutil.which("python3.12") or sys.executable, "-m", "venv", str(ENV_PYMC)], check=True)
            subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "pymc-marketing==1.3.0", "pyarrow"], check=True)
        if subprocess.run([str(py), "-c", "import nutpie"], capture_output=True).returncode != 0:
            subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "nutpie==0.16.11"], check=True)
    if "lifetimes" in tools and not (ENV_LIFETIMES / "bin" / "python").exists():
        subprocess.run([PY310, "-m", "venv", str(ENV_LIFETIMES)], check=True)
        subprocess.run([str(ENV_LIFETIMES / "bin" / "pip"), "install", "-q", "lifetimes==0.11.3", "pandas<2",
                        "numpy<2", "pyarrow"], check=True)


def interpreter(tool: str) -> str:
    if tool == "clvmodels":
        return sys.executable
    return str((ENV_PYMC if tool == "pymc-marketing" else ENV_LIFETIMES) / "bin" / "python")


# ---------------------------------------------------------------------------------------------------
# Data (made by the parent with clvmodels; the peers read the files)
# ---------------------------------------------------------------------------------------------------
def cdnow_summary_path() -> Path:
    path = DATA / "cdnow_calibration_summary.csv"
    if not path.exists():
        import clvmodels
        from clvmodels.datasets import load_cdnow_sample

        s = clvmodels.summarize(load_cdnow_sample(), calibration_end="1997-09-30", observation_end="1998-06-30",
                                time_unit="W")
        DATA.mkdir(parents=True, exist_ok=True)
        s[["frequency", "recency", "T", "frequency_holdout"]].reset_index().to_csv(path, index=False, float_format="%.17g")
    return path


def sim_path(n: int) -> Path:
    """Simulated summary of n customers (customer_id, frequency, recency, T), cached as Parquet."""
    path = DATA / f"sim_bgnbd_{n}.parquet"
    if not path.exists():
        import numpy as np
        from clvmodels.simulate import simulate_summary

        rng = np.random.default_rng(SIM_SEED + n)
        T = rng.integers(1, 729, n) / 7.0  # whole days in 1..728, in weeks
        s = simulate_summary(n, TRUE["r"], TRUE["alpha"], TRUE["a"], TRUE["b"], T, seed=SIM_SEED + 7 * n)
        # purchases are dated by day: recency in whole days too (never above T, both whole days)
        s["recency"] = np.floor(s["recency"].to_numpy() * 7.0 + 1e-9) / 7.0
        DATA.mkdir(parents=True, exist_ok=True)
        s.reset_index().to_parquet(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------------
# Children
# ---------------------------------------------------------------------------------------------------
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _NutpieTimer:
    """Split NUTS wall time into nutpie's compilation and its sampling (both tools call these)."""

    def __init__(self):
        self.compile_s = 0.0
        self.sample_s = 0.0

    def install(self):
        try:
            import nutpie
        except ImportError:
            return
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


def _ess(post, names) -> dict:
    import arviz as az

    e = az.ess(post, var_names=list(names), method="bulk")
    return {k: float(e[k]) for k in names}


def _grad_steps(stats) -> float | None:
    try:
        return float(stats["n_steps"].values.sum())
    except Exception:
        return None


def child_cdnow(tool: str) -> dict:
    t_imp = time.perf_counter()
    import numpy as np
    import pandas as pd

    timer = _NutpieTimer()
    df = pd.read_csv(cdnow_summary_path())
    out = {"tool": tool}
    if tool == "clvmodels":
        import clvmodels  # noqa: F401
        from clvmodels.models.bgnbd.model import BetaGeoModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        s = df.set_index("customer_id")
        t0 = time.perf_counter()
        m = BetaGeoModel(chains=4, draws=1000, tune=1000, seed=FIT_SEED, progressbar=False).fit(s, time_unit="W")
        out["fit_s"] = time.perf_counter() - t0
        ess = dict(m.diagnostics_.ess_bulk)
        params = {k: float(v) for k, v in m.params_.items()}
        out["divergences"] = m.diagnostics_.divergences
        out["grad_evals_draws"] = _grad_steps(m.sample_stats_)
        t1 = time.perf_counter()
        pred = m.expected_purchases(s, f"{HOLDOUT_WEEKS:g}W")["expected_purchases"].to_numpy()
        out["predict_s"] = time.perf_counter() - t1
        out["version"] = _versions(["clvmodels", "pymc", "nutpie"])
    elif tool == "pymc-marketing":
        from pymc_marketing.clv import BetaGeoModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        data = df[["customer_id", "frequency", "recency", "T"]]
        t0 = time.perf_counter()
        m = BetaGeoModel()
        m.fit(data, method="mcmc", chains=4, draws=1000, tune=1000, nuts_sampler="nutpie", random_seed=FIT_SEED,
              progressbar=False)
        out["fit_s"] = time.perf_counter() - t0
        post = m.idata["posterior"].to_dataset()
        ess = _ess(post, TRUE)
        params = {k: float(post[k].mean()) for k in TRUE}
        try:
            ss = m.idata["sample_stats"].to_dataset()
            out["divergences"] = int(np.asarray(ss["diverging"]).sum())
            out["grad_evals_draws"] = _grad_steps(ss)
        except Exception:
            pass
        t1 = time.perf_counter()
        pred = m.expected_purchases(data, future_t=HOLDOUT_WEEKS).mean(("chain", "draw")).values
        out["predict_s"] = time.perf_counter() - t1
        out["version"] = _versions(["pymc-marketing", "pymc", "nutpie"])
    else:
        from lifetimes import BetaGeoFitter

        out["import_s"] = time.perf_counter() - t_imp
        t0 = time.perf_counter()
        m = BetaGeoFitter(penalizer_coef=0.0).fit(df["frequency"], df["recency"], df["T"])
        out["fit_s"] = time.perf_counter() - t0
        ess = None
        params = {k: float(m.params_[k]) for k in TRUE}
        t1 = time.perf_counter()
        pred = np.asarray(m.conditional_expected_number_of_purchases_up_to_time(
            HOLDOUT_WEEKS, df["frequency"], df["recency"], df["T"]), dtype=float)
        out["predict_s"] = time.perf_counter() - t1
        out["version"] = _versions(["lifetimes"])
    if tool != "lifetimes":
        out["compile_s"], out["sample_s"] = timer.compile_s, timer.sample_s
    y = df["frequency_holdout"].to_numpy(float)
    out.update({
        "params": params, "ess_bulk": ess,
        "min_ess_bulk": None if ess is None else min(ess.values()),
        "ess_per_s": None if ess is None else min(ess.values()) / out["fit_s"],
        "holdout_mae": float(np.mean(np.abs(pred - y))),
        "holdout_rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "holdout_predicted_total": float(pred.sum()), "holdout_actual_total": float(y.sum()),
        "peak_rss_mb": _peak_mb(),
    })
    return out


def child_sim(tool: str, n: int, chains: int, draws: int, tune: int, profile: bool) -> dict:
    t_imp = time.perf_counter()
    import pandas as pd

    timer = _NutpieTimer()
    out = {"tool": tool, "n_customers": n, "chains": chains, "draws": draws, "tune": tune}
    if tool == "clvmodels":
        from clvmodels.models.bgnbd.model import BetaGeoModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        s = pd.read_parquet(sim_path(n), columns=["frequency", "recency", "T"])
        out["rss_after_read_mb"] = _peak_mb()
        t0 = time.perf_counter()
        trip = s.groupby(["frequency", "recency", "T"], sort=False).size().rename("n_customers").reset_index()
        out["aggregate_s"] = time.perf_counter() - t0
        out["n_triplets"] = int(len(trip))
        del s
        t1 = time.perf_counter()
        m = BetaGeoModel(chains=chains, draws=draws, tune=tune, seed=FIT_SEED, progressbar=False).fit(trip, time_unit="W")
        out["fit_s"] = time.perf_counter() - t1
        ess = dict(m.diagnostics_.ess_bulk)
        params = {k: float(v) for k, v in m.params_.items()}
        out["divergences"] = m.diagnostics_.divergences
        out["grad_evals_draws"] = _grad_steps(m.sample_stats_)
        out["version"] = _versions(["clvmodels", "pymc", "nutpie"])
        if profile:
            out["profile"] = _profile_gradient(trip)
    else:
        from pymc_marketing.clv import BetaGeoModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        s = pd.read_parquet(sim_path(n), columns=["customer_id", "frequency", "recency", "T"])
        out["aggregate_s"] = 0.0
        out["n_triplets"] = None
        t1 = time.perf_counter()
        m = BetaGeoModel()
        m.fit(s, method="mcmc", chains=chains, draws=draws, tune=tune, nuts_sampler="nutpie", random_seed=FIT_SEED,
              progressbar=False)
        out["fit_s"] = time.perf_counter() - t1
        post = m.idata["posterior"].to_dataset()
        ess = _ess(post, TRUE)
        params = {k: float(post[k].mean()) for k in TRUE}
        out["version"] = _versions(["pymc-marketing", "pymc", "nutpie"])
    out["compile_s"], out["sample_s"] = timer.compile_s, timer.sample_s
    out.update({"params": params, "ess_bulk": ess, "min_ess_bulk": min(ess.values()),
                "ess_per_s": min(ess.values()) / out["fit_s"],
                "total_s": out["aggregate_s"] + out["fit_s"], "peak_rss_mb": _peak_mb()})
    return out


def _profile_gradient(trip) -> dict:
    """One log-likelihood + gradient evaluation of pt_log_likelihood (PyTensor C backend)."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from clvmodels.models import bgnbd
    from clvmodels.models.bgnbd.model import bgnbd_triplets

    t0 = time.perf_counter()
    tr = bgnbd_triplets(trip, trip["n_customers"].to_numpy())
    compress_s = time.perf_counter() - t0
    v = pt.dvector("v")
    ll = bgnbd.pt_log_likelihood(v[0], v[1], v[2], v[3], tr)
    t1 = time.perf_counter()
    f = pytensor.function([v], [ll, pt.grad(ll, v)], mode="FAST_RUN")
    compile_s = time.perf_counter() - t1
    x = np.array([0.25, 4.0, 0.8, 2.5])
    f(x)
    reps = 0
    t2 = time.perf_counter()
    while time.perf_counter() - t2 < 2.0:
        f(x + 1e-6 * reps)
        reps += 1
    per = (time.perf_counter() - t2) / reps
    pos = int((tr.frequency > 0).sum())
    return {"compress_s": compress_s, "pytensor_compile_s": compile_s, "grad_eval_ms": per * 1e3, "evals": reps,
            "n_triplets": len(tr), "n_triplets_x_pos": pos, "x_levels": int(len(tr.x_levels)),
            "T_levels": int(len(tr.T_levels)), "recency_levels": int(len(tr.recency_levels))}


def _versions(pkgs) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for p in pkgs:
        try:
            parts.append(f"{p} {version(p)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------------
def run_child(tool: str, args: list[str], timeout: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) if tool == "clvmodels" else "", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([interpreter(tool), str(Path(__file__).resolve()), "--child", tool, *args],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "error": f"did not finish within {timeout} s (killed)"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {"tool": tool, "error": f"exit {proc.returncode}: " + " | ".join(tail)}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


def _f(v, fmt):
    return "" if v is None else format(v, fmt)


def table_cdnow(rows) -> str:
    lines = ["| tool | fit wall (s) | compile (s) | sampling (s) | min bulk ESS | ESS/s | holdout MAE | holdout RMSE | "
             "predicted / actual holdout total | peak RSS (MB) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tool']} | failed: {r['error']} |||||||||")
            continue
        lines.append(f"| {r['tool']} | {r['fit_s']:.2f} | {_f(r.get('compile_s'), '.1f')} | {_f(r.get('sample_s'), '.1f')} | "
                     f"{_f(r['min_ess_bulk'], '.0f')} | {_f(r['ess_per_s'], '.0f')} | {r['holdout_mae']:.4f} | "
                     f"{r['holdout_rmse']:.3f} | {r['holdout_predicted_total']:.0f} / {r['holdout_actual_total']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    by = {r["tool"]: r for r in rows if "error" not in r}
    c = by.get("clvmodels")
    if c and "pymc-marketing" in by:
        p = by["pymc-marketing"]
        lines.append(f"\nclvmodels vs pymc-marketing: ESS/s {c['ess_per_s'] / p['ess_per_s']:.1f}x, fit wall "
                     f"{p['fit_s'] / c['fit_s']:.1f}x faster; sampling alone {p['sample_s'] / c['sample_s']:.1f}x faster, "
                     f"ESS per sampling second {(c['min_ess_bulk'] / c['sample_s']) / (p['min_ess_bulk'] / p['sample_s']):.1f}x")
    if c and "lifetimes" in by:
        lines.append(f"clvmodels vs lifetimes: holdout MAE {c['holdout_mae']:.4f} vs {by['lifetimes']['holdout_mae']:.4f}")
    return "\n".join(lines)


def table_sim(rows) -> str:
    lines = ["| tool | customers | triplets | aggregate (s) | fit wall (s) | compile (s) | sampling (s) | min bulk ESS | "
             "peak RSS (MB) | r | alpha | a | b |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tool']} | {r.get('n_customers', ''):,} | failed: {r['error']} ||||||||||")
            continue
        p = r["params"]
        lines.append(f"| {r['tool']} | {r['n_customers']:,} | {_f(r['n_triplets'], ',')} | {r['aggregate_s']:.2f} | "
                     f"{r['fit_s']:.1f} | {r['compile_s']:.1f} | {r['sample_s']:.1f} | {r['min_ess_bulk']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} | {p['r']:.3f} | {p['alpha']:.2f} | {p['a']:.3f} | {p['b']:.2f} |")
    ours = {r["n_customers"]: r for r in rows if r["tool"] == "clvmodels" and "error" not in r}
    for r in rows:
        if r["tool"] == "pymc-marketing" and "error" not in r and r["n_customers"] in ours:
            c = ours[r["n_customers"]]
            lines.append(f"\n{r['n_customers']:,} customers: clvmodels {r['fit_s'] / c['total_s']:.1f}x faster than "
                         f"pymc-marketing (aggregation + fit), {r['peak_rss_mb'] / c['peak_rss_mb']:.1f}x less memory, "
                         f"ESS/s {c['min_ess_bulk'] / c['total_s'] / (r['min_ess_bulk'] / r['fit_s']):.1f}x")
    prof = [(r["n_customers"], r["profile"]) for r in rows if r.get("profile")]
    if prof:
        lines += ["", "| customers | triplets (x > 0) | x / T / recency levels | grad eval (ms, PyTensor C) | PyTensor compile (s) |",
                  "|---:|---:|---:|---:|---:|"]
        for n, p in prof:
            lines.append(f"| {n:,} | {p['n_triplets']:,} ({p['n_triplets_x_pos']:,}) | {p['x_levels']} / {p['T_levels']} / "
                         f"{p['recency_levels']} | {p['grad_eval_ms']:.2f} | {p['pytensor_compile_s']:.1f} |")
    return "\n".join(lines)


def _merge(path: Path, part: str, rows: list[dict], key) -> dict:
    data = json.loads(path.read_text()) if path.exists() else {}
    old = {key(r): r for r in data.get(part, [])}
    for r in rows:
        old[key(r)] = r
    data[part] = sorted(old.values(), key=lambda r: (r.get("n_customers") or 0, r["tool"]))
    data["machine"] = f"{os.cpu_count()} cores (shared with other work: timings are noisy), Python {sys.version.split()[0]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="cdnow,sim", help="cdnow, sim or both (default)")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="simulated base sizes (10000000 is the long one)")
    ap.add_argument("--quick", action="store_true", help="CDNOW and the 10k base only")
    ap.add_argument("--tools", default="clvmodels,pymc-marketing,lifetimes")
    ap.add_argument("--peer-max-size", type=int, default=100_000, help="largest base pymc-marketing is run on")
    ap.add_argument("--peer-timeout", type=int, default=1200, help="seconds before a peer run is abandoned")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--profile", action="store_true", help="per-gradient probe of pt_log_likelihood at each size")
    ap.add_argument("--json", default=str(RESULTS / "bench_fit.json"))
    ap.add_argument("--setup", action="store_true", help="create the peers' environments and exit")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--task", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if args.task == "cdnow":
            res = child_cdnow(args.child)
        else:
            res = child_sim(args.child, args.n, args.chains, args.draws, args.tune, args.profile)
        print(json.dumps(res, default=float))
        return 0
    tools = args.tools.split(",")
    ensure_envs(tools)
    if args.setup:
        return 0
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    parts = args.parts.split(",")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", file=sys.stderr)
    out = Path(args.json)
    report = []
    if "cdnow" in parts:
        cdnow_summary_path()
        rows = []
        for tool in tools:
            print(f"CDNOW: {tool} ...", file=sys.stderr, flush=True)
            rows.append(run_child(tool, ["--task", "cdnow"], args.peer_timeout))
            print("  " + json.dumps(rows[-1], default=float), file=sys.stderr, flush=True)
        _merge(out, "cdnow", rows, key=lambda r: r["tool"])
        report += ["### CDNOW sample, NUTS 4 chains x 1,000 draws after 1,000 tuning (lifetimes: MLE)", "",
                   table_cdnow(rows), ""]
    if "sim" in parts:
        rows = []
        common = ["--chains", str(args.chains), "--draws", str(args.draws), "--tune", str(args.tune)]
        for n in sizes:
            print(f"simulating {n:,} customers (cached)", file=sys.stderr, flush=True)
            sim_path(n)
            for tool in [t for t in tools if t != "lifetimes"]:
                if tool == "pymc-marketing" and n > args.peer_max_size:
                    rows.append({"tool": tool, "n_customers": n, "error": f"not run (above --peer-max-size {args.peer_max_size:,})"})
                    continue
                print(f"  {tool} on {n:,} ...", file=sys.stderr, flush=True)
                extra = ["--profile"] if (args.profile and tool == "clvmodels") else []
                r = run_child(tool, ["--task", "sim", "--n", str(n), *common, *extra],
                              args.peer_timeout if tool != "clvmodels" else 3600)
                r.setdefault("n_customers", n)
                rows.append(r)
                print("  " + json.dumps(r, default=float), file=sys.stderr, flush=True)
                _merge(out, "sim", [r], key=lambda r: f"{r['tool']}:{r['n_customers']}")
        report += [f"### Simulated bases, NUTS {args.chains} chains x {args.draws} draws after {args.tune} tuning "
                   "(true r 0.25, alpha 4, a 0.8, b 2.5)", "", table_sim(rows), ""]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
