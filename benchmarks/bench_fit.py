"""Benchmark: fitting the Bayesian BG/NBD model, clvmodels against its peers.

Two parts, each tool in its own fresh subprocess (imports, caches and memory never leak from one tool
into another; peak memory is the child's own VmHWM from ``/proc/self/status`` at its end, imports
included, never a parent's pages):

1. **CDNOW sample** (2,357 customers, 39-week calibration ending 1997-09-30, 39-week holdout to
   1998-06-30, weekly unit, summary from ``clvmodels.summarize``):

   * ``clvmodels``: ``BetaGeoModel(chains=4, draws=1000, tune=1000).fit(summary)`` (NUTS with nutpie);
   * ``pymc-marketing`` 1.3.0: ``BetaGeoModel().fit(data, chains=4, draws=1000, tune=1000,
     nuts_sampler="nutpie")`` on the same summary (columns customer_id, frequency, recency, T);
   * ``lifetimes`` 0.11.3: ``BetaGeoFitter().fit(frequency, recency, T)`` (maximum likelihood).

   Reported: wall time of the fit including compilation (and the compile/sample split for the NUTS
   tools: clvmodels' ``diagnostics_.compile_seconds``, the peer's ``nutpie.compile_pymc_model`` wrapped;
   sampling is ``nutpie.sample`` wrapped, for both), minimum bulk ESS over (r, alpha, a, b), ESS per
   second of fit wall time and per second of sampling, and the per-customer holdout MAE of the expected
   purchases in the 39 holdout weeks against the observed holdout purchases (posterior-mean expectation
   for the Bayesian tools, the MLE plug-in for lifetimes).

   Same sampler settings on both sides: each NUTS tool runs with nutpie's low-rank and with its diagonal
   mass-matrix adaptation (clvmodels ``adaptation=``; pymc-marketing ``fit(..., nuts={"adaptation":
   "low_rank"})``, which pm.sample hands to ``nutpie.sample``; its default passes none, i.e. nutpie's
   ``diag``; the adaptation nutpie.sample received is recorded). ``--rounds`` interleaved rounds (every
   configuration once a round, the order rotated), after one untimed warm-up run per tool (so "warm": the
   on-disk compilation caches are filled); medians and every round, with the load average before and
   after each run. ``--cold``: one run per NUTS tool with empty caches (fresh ``NUMBA_CACHE_DIR`` and
   PyTensor ``base_compiledir``). In each tool's default-adaptation runs a **second fit in the same
   process**: the same model and settings on new data (every second customer of the summary), timed apart.
   The runs are appended to ``cdnow_runs`` in the JSON (``--reset`` forgets them; ``--report-only`` prints
   the tables), so rounds split over several invocations add up.

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
    .venv/bin/python benchmarks/bench_fit.py --parts cdnow --rounds 3 --cold   # CDNOW, both adaptations

The results go to ``benchmarks/results/bench_fit.json`` (``--json`` to change; merged per part and size,
so separate runs add up). The top level of this file uses only the standard library: the peers'
interpreters import it too.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
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
    """This process's own peak resident memory (VmHWM, MB): the kernel resets it at exec, so unlike a child's
    ``ru_maxrss`` it never carries a large parent's pages."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _NutpieTimer:
    """Split NUTS wall time into nutpie's compilation and its sampling (both tools call these), and record
    the adaptation nutpie.sample was given (its own default is 'diag')."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.compile_s = 0.0
        self.sample_s = 0.0
        self.adaptation = None

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
            self.adaptation = k.get("adaptation", "diag (nutpie's default, not passed)")
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


#: the NUTS settings of the CDNOW comparison (both tools)
CDNOW_NUTS = dict(chains=4, draws=1000, tune=1000)
#: each NUTS tool's own default mass-matrix adaptation (clvmodels: low_rank; pymc-marketing via
#: pm.sample(nuts_sampler="nutpie"): nutpie.sample's default, diag)
DEFAULT_ADAPTATION = {"clvmodels": "low_rank", "pymc-marketing": "diag"}


def _second_data(df):
    """The "new data, same model" of the second fit: every second customer of the CDNOW calibration summary."""
    return df.iloc[::2].reset_index(drop=True)


def child_cdnow(tool: str, adaptation: str | None = None, second_fit: bool = False) -> dict:
    t_imp = time.perf_counter()
    import numpy as np
    import pandas as pd

    timer = _NutpieTimer()
    df = pd.read_csv(cdnow_summary_path())
    out = {"tool": tool}
    adaptation = adaptation or DEFAULT_ADAPTATION.get(tool)
    second = None
    if tool == "clvmodels":
        import clvmodels  # noqa: F401
        from clvmodels.models.bgnbd.model import BetaGeoModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        s = df.set_index("customer_id")
        cfg = dict(**CDNOW_NUTS, seed=FIT_SEED, progressbar=False, adaptation=adaptation)
        t0 = time.perf_counter()
        m = BetaGeoModel(**cfg).fit(s, time_unit="W")
        out["fit_s"] = time.perf_counter() - t0
        ess = dict(m.diagnostics_.ess_bulk)
        params = {k: float(v) for k, v in m.params_.items()}
        out["divergences"] = m.diagnostics_.divergences
        out["grad_evals_draws"] = _grad_steps(m.sample_stats_)
        out["compiled"] = m.diagnostics_.compiled
        compile_s = m.diagnostics_.compile_seconds
        t1 = time.perf_counter()
        pred = m.expected_purchases(s, f"{HOLDOUT_WEEKS:g}W")["expected_purchases"].to_numpy()
        out["predict_s"] = time.perf_counter() - t1
        out["version"] = _versions(["clvmodels", "pymc", "nutpie"])
        if second_fit:
            out["nutpie_adaptation"], sample_s = timer.adaptation, timer.sample_s
            timer.reset()
            s2 = _second_data(df).set_index("customer_id")
            t2 = time.perf_counter()
            m2 = BetaGeoModel(**cfg).fit(s2, time_unit="W")
            second = {"fit_s": time.perf_counter() - t2, "compile_s": m2.diagnostics_.compile_seconds,
                      "compiled": m2.diagnostics_.compiled, "sample_s": timer.sample_s,
                      "min_ess_bulk": min(m2.diagnostics_.ess_bulk.values()), "n_customers": len(s2)}
    elif tool == "pymc-marketing":
        from pymc_marketing.clv import BetaGeoModel

        timer.install()
        out["import_s"] = time.perf_counter() - t_imp
        data = df[["customer_id", "frequency", "recency", "T"]]
        # pymc-marketing hands extra fit() keywords to pm.sample, whose nuts={...} reach nutpie.sample
        extra = {} if adaptation == DEFAULT_ADAPTATION[tool] else {"nuts": {"adaptation": adaptation}}
        kw = dict(method="mcmc", **CDNOW_NUTS, nuts_sampler="nutpie", random_seed=FIT_SEED, progressbar=False, **extra)
        t0 = time.perf_counter()
        m = BetaGeoModel()
        m.fit(data, **kw)
        out["fit_s"] = time.perf_counter() - t0
        post = m.idata["posterior"].to_dataset()
        ess = _ess(post, TRUE)
        params = {k: float(post[k].mean()) for k in TRUE}
        compile_s = timer.compile_s
        out["compiled"] = "nutpie.compile_pymc_model"
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
        if second_fit:
            out["nutpie_adaptation"], sample_s = timer.adaptation, timer.sample_s
            timer.reset()
            d2 = _second_data(df)[["customer_id", "frequency", "recency", "T"]]
            t2 = time.perf_counter()
            m2 = BetaGeoModel()
            m2.fit(d2, **kw)
            p2 = m2.idata["posterior"].to_dataset()
            second = {"fit_s": time.perf_counter() - t2, "compile_s": timer.compile_s,
                      "compiled": "nutpie.compile_pymc_model", "sample_s": timer.sample_s,
                      "min_ess_bulk": min(_ess(p2, TRUE).values()), "n_customers": len(d2)}
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
        if second is None:
            out["nutpie_adaptation"], sample_s = timer.adaptation, timer.sample_s
        out["compile_s"], out["sample_s"] = compile_s, sample_s
        out["adaptation"] = adaptation
    y = df["frequency_holdout"].to_numpy(float)
    out.update({
        "params": params, "ess_bulk": ess,
        "min_ess_bulk": None if ess is None else min(ess.values()),
        "ess_per_s": None if ess is None else min(ess.values()) / out["fit_s"],
        "ess_per_sample_s": None if ess is None else min(ess.values()) / out["sample_s"],
        "holdout_mae": float(np.mean(np.abs(pred - y))),
        "holdout_rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "holdout_predicted_total": float(pred.sum()), "holdout_actual_total": float(y.sum()),
        "second_fit": second,
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
def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (the 2 cores are shared: recorded with every figure)."""
    with open("/proc/loadavg") as fh:
        return [float(v) for v in fh.read().split()[:3]]


def cold_env(tmp: Path) -> dict:
    """Empty compilation caches for one run: numba's (the scoring kernels, nutpie's callbacks when cached) and
    PyTensor's (its compiled C and numba modules, and clvmodels' cached sampler callbacks, kept under it)."""
    (tmp / "numba").mkdir(parents=True, exist_ok=True)
    (tmp / "pytensor").mkdir(parents=True, exist_ok=True)
    return {"NUMBA_CACHE_DIR": str(tmp / "numba"), "PYTENSOR_FLAGS": f"base_compiledir={tmp / 'pytensor'}"}


def run_child(tool: str, args: list[str], timeout: int, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) if tool == "clvmodels" else "", PYTHONWARNINGS="ignore",
               **(env_extra or {}))
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


def _median(xs):
    """The median of the rounds that ran (None where none did)."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


#: the order of the CDNOW configurations in tables and rounds
CDNOW_CONFIGS = [("clvmodels", "low_rank"), ("clvmodels", "diag"), ("pymc-marketing", "diag"),
                 ("pymc-marketing", "low_rank"), ("lifetimes", None)]


def _key(r):
    return (r["tool"], r.get("adaptation"), r.get("caches", "warm"))


def summarize_cdnow(runs) -> list[dict]:
    """Per (tool, adaptation, caches): the medians over its runs, and every run's figures."""
    order = {c: i for i, c in enumerate(CDNOW_CONFIGS)}
    groups: dict = {}
    for r in runs:
        if "error" in r or r.get("warmup"):
            continue
        groups.setdefault(_key(r), []).append(r)
    out = []
    for (tool, adaptation, caches), rs in sorted(groups.items(), key=lambda kv: (kv[0][2] != "warm",
                                                                                  order.get(kv[0][:2], 99))):
        med = {k: _median([r.get(k) for r in rs]) for k in
               ("fit_s", "compile_s", "sample_s", "min_ess_bulk", "ess_per_s", "ess_per_sample_s", "peak_rss_mb",
                "process_wall_s", "import_s", "holdout_mae", "holdout_rmse", "holdout_predicted_total")}
        sec = [r["second_fit"] for r in rs if r.get("second_fit")]
        second = None
        if sec:
            second = {k: _median([x.get(k) for x in sec]) for k in ("fit_s", "compile_s", "sample_s", "min_ess_bulk")}
            second.update({"rounds": len(sec), "every_fit_s": [x["fit_s"] for x in sec],
                           "compiled": sorted({x.get("compiled") for x in sec}), "n_customers": sec[0]["n_customers"],
                           "first_fit_s": _median([r["fit_s"] for r in rs if r.get("second_fit")])})
        out.append({"tool": tool, "adaptation": adaptation, "caches": caches,
                    "default": adaptation == DEFAULT_ADAPTATION.get(tool), "rounds": len(rs), "median": med,
                    "second_fit": second, "holdout_actual_total": rs[0]["holdout_actual_total"],
                    "compiled": sorted({r.get("compiled") for r in rs if r.get("compiled")}),
                    "nutpie_adaptation": sorted({str(r.get("nutpie_adaptation")) for r in rs if r.get("nutpie_adaptation")}),
                    "version": rs[0].get("version"),
                    "every_round": [{k: r.get(k) for k in ("round", "started", "loadavg_before", "loadavg_after", "fit_s",
                                                           "compile_s", "sample_s", "min_ess_bulk", "ess_per_s",
                                                           "peak_rss_mb", "process_wall_s")} for r in rs]})
    return out


def _setting(g) -> str:
    if g["adaptation"] is None:
        return "MLE"
    return f"{g['adaptation']}" + (" (its default)" if g["default"] else "")


def table_cdnow(groups) -> str:
    lines = ["| tool | adaptation | caches | rounds | fit wall (s) | compile (s) | sampling (s) | min bulk ESS | ESS/s | "
             "ESS per sampling s | process wall (s) | peak RSS (MB) | holdout MAE |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g in groups:
        m = g["median"]
        lines.append(f"| {g['tool']} | {_setting(g)} | {g['caches']} | {g['rounds']} | {_f(m['fit_s'], '.2f')} | "
                     f"{_f(m['compile_s'], '.2f')} | {_f(m['sample_s'], '.2f')} | {_f(m['min_ess_bulk'], ',.0f')} | "
                     f"{_f(m['ess_per_s'], ',.0f')} | {_f(m['ess_per_sample_s'], ',.0f')} | {_f(m['process_wall_s'], '.1f')} | "
                     f"{_f(m['peak_rss_mb'], '.0f')} | {_f(m['holdout_mae'], '.4f')} |")
    by = {(g["tool"], g["adaptation"]): g["median"] for g in groups if g["caches"] == "warm"}
    notes = []
    for label, c, p in (("each with its own default", ("clvmodels", "low_rank"), ("pymc-marketing", "diag")),
                        ("both diag", ("clvmodels", "diag"), ("pymc-marketing", "diag")),
                        ("both low_rank", ("clvmodels", "low_rank"), ("pymc-marketing", "low_rank"))):
        if c in by and p in by:
            c, p = by[c], by[p]
            notes.append(f"- {label} (medians, warm caches): ESS/s {c['ess_per_s'] / p['ess_per_s']:.1f}x "
                         f"pymc-marketing's, fit wall {p['fit_s'] / c['fit_s']:.1f}x shorter, ESS per sampling second "
                         f"{c['ess_per_sample_s'] / p['ess_per_sample_s']:.1f}x, min bulk ESS {c['min_ess_bulk']:,.0f} "
                         f"against {p['min_ess_bulk']:,.0f}")
    if notes:
        lines += [""] + notes
    lines += ["", "Every round (load average: 1-minute value before / after the run):", "",
              "| tool | adaptation | caches | round | started (UTC) | load avg | fit wall (s) | compile (s) | sampling (s) | "
              "min bulk ESS | ESS/s | peak RSS (MB) |", "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for g in groups:
        for r in g["every_round"]:
            la = f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f}" if r.get("loadavg_before") else ""
            lines.append(f"| {g['tool']} | {_setting(g)} | {g['caches']} | {r.get('round', '')} | {r.get('started', '')} | "
                         f"{la} | {_f(r['fit_s'], '.2f')} | {_f(r['compile_s'], '.2f')} | {_f(r['sample_s'], '.2f')} | "
                         f"{_f(r['min_ess_bulk'], ',.0f')} | {_f(r['ess_per_s'], ',.0f')} | {_f(r['peak_rss_mb'], '.0f')} |")
    sec = [g for g in groups if g.get("second_fit")]
    if sec:
        lines += ["", f"A second fit in the same process (same model and settings, new data: every second customer, "
                  f"{sec[0]['second_fit']['n_customers']:,}):", "",
                  "| tool | adaptation | caches | rounds | first fit (s) | second fit (s) | its compile (s) | its sampling (s) | "
                  "compiled | every second fit (s) |", "|---|---|---|---:|---:|---:|---:|---:|---|---|"]
        for g in sec:
            x = g["second_fit"]
            lines.append(f"| {g['tool']} | {_setting(g)} | {g['caches']} | {x['rounds']} | {_f(x['first_fit_s'], '.2f')} | "
                         f"{_f(x['fit_s'], '.2f')} | {_f(x['compile_s'], '.2f')} | {_f(x['sample_s'], '.2f')} | "
                         f"{', '.join(map(str, x['compiled']))} | {', '.join(f'{v:.2f}' for v in x['every_fit_s'])} |")
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


def run_cdnow(tools, args) -> list[dict]:
    """The CDNOW runs: warm-up (untimed), an optional cold run per NUTS tool, then interleaved warm rounds
    (each configuration once per round, the order rotated from round to round). Each run in a fresh process,
    with the load average before and after it."""
    import datetime as _dt
    import tempfile

    adaptations = args.adaptations.split(",")
    configs = [(t, a) for t, a in CDNOW_CONFIGS if t in tools and (a is None or a in adaptations)]
    batch = _dt.datetime.now(_dt.timezone.utc).strftime("%H%M")
    runs = []

    def one(tool, adaptation, label, env=None, caches="warm", warmup=False):
        cargs = ["--task", "cdnow"] + (["--adaptation", adaptation] if adaptation else [])
        if args.second_fit and adaptation is not None and adaptation == DEFAULT_ADAPTATION.get(tool):
            cargs.append("--second-fit-child")
        started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        before = loadavg()
        print(f"CDNOW {label}: {tool} {adaptation or ''} ({caches} caches) ...", file=sys.stderr, flush=True)
        r = run_child(tool, cargs, args.peer_timeout, env)
        r.update({"tool": tool, "round": label, "started": started, "loadavg_before": before, "loadavg_after": loadavg(),
                  "caches": caches, "warmup": warmup})
        if adaptation:
            r.setdefault("adaptation", adaptation)
        print("  " + json.dumps({k: r.get(k) for k in ("fit_s", "compile_s", "sample_s", "min_ess_bulk", "ess_per_s",
                                                         "peak_rss_mb", "process_wall_s", "loadavg_before", "error")},
                                 default=float), file=sys.stderr, flush=True)
        runs.append(r)

    if args.warmup:
        for tool in dict.fromkeys(t for t, _ in configs):
            one(tool, DEFAULT_ADAPTATION.get(tool), f"{batch}-warm-up", warmup=True)
    if args.cold:
        for tool in [t for t in dict.fromkeys(t for t, _ in configs) if t != "lifetimes"]:
            with tempfile.TemporaryDirectory(prefix="clv-cold-") as tmp:
                one(tool, DEFAULT_ADAPTATION[tool], f"{batch}-cold", cold_env(Path(tmp)), caches="cold")
    for i in range(args.round_offset, args.round_offset + args.rounds):
        k = i % len(configs)
        for tool, adaptation in configs[k:] + configs[:k]:
            one(tool, adaptation, f"{batch}-{i + 1}")
    return runs


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
    ap.add_argument("--rounds", type=int, default=3, help="CDNOW: interleaved rounds (each configuration once a round)")
    ap.add_argument("--adaptations", default="low_rank,diag", help="CDNOW: mass-matrix adaptations of the NUTS tools")
    ap.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True,
                    help="CDNOW: one untimed run of each tool first, so the warm rounds find the caches filled")
    ap.add_argument("--cold", action="store_true", help="CDNOW: also one run per NUTS tool (its default adaptation) "
                    "with empty compilation caches (fresh NUMBA_CACHE_DIR and PyTensor base_compiledir)")
    ap.add_argument("--second-fit", action=argparse.BooleanOptionalAction, default=True,
                    help="CDNOW: in each tool's default-adaptation runs, time a second fit in the same process")
    ap.add_argument("--reset", action="store_true", help="CDNOW: forget the runs already in --json")
    ap.add_argument("--round-offset", type=int, default=0,
                    help="CDNOW: number of the first round minus one (rounds split over several runs keep rotating)")
    ap.add_argument("--report-only", action="store_true", help="CDNOW: print the tables of the runs in --json")
    ap.add_argument("--json", default=str(RESULTS / "bench_fit.json"))
    ap.add_argument("--setup", action="store_true", help="create the peers' environments and exit")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--task", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--adaptation", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--second-fit-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if args.task == "cdnow":
            res = child_cdnow(args.child, args.adaptation, args.second_fit_child)
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
        if args.report_only:
            runs = json.loads(out.read_text()).get("cdnow_runs", []) if out.exists() else []
        else:
            runs = run_cdnow(tools, args)
            data = json.loads(out.read_text()) if out.exists() else {}
            runs = ([] if args.reset else data.get("cdnow_runs", [])) + runs
            data["cdnow_runs"] = runs
            data["cdnow"] = summarize_cdnow(runs)
            data["machine"] = f"{os.cpu_count()} cores (shared with other work), Python {sys.version.split()[0]}"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(data, indent=1, default=float) + "\n")
        report += ["### CDNOW sample, NUTS 4 chains x 1,000 draws after 1,000 tuning (lifetimes: MLE); medians", "",
                   table_cdnow(summarize_cdnow(runs)), ""]
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
