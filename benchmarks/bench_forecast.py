"""Benchmark: the end-to-end forecast job and the CLV computation, clvmodels against pymc-marketing.

Three parts, each run in its own fresh subprocess (imports, caches and memory never leak between runs):

0. **``cli``: ``clv forecast`` on CDNOW as a user runs it** (``--parts cli``): the whole command in a fresh
   interpreter (``python -c`` running ``clv``'s console-script body, plus an exit hook that reports the
   process's own VmHWM), timed from outside, imports included; NUTS 4 x 1,000 (the CLI default), both
   models, 1,000 scoring draws, ``--model-dir`` set. One untimed warm-up, then ``--rounds`` warm rounds
   (medians and every round, load average before and after each); per round the sidecar's stage timings
   and both fits' ``seconds``/``compile_seconds``/``compiled``, whether the run printed the compile
   notice, and a *scoring probe*: a fresh process loads the saved models and calls
   ``clvmodels.scoring.score`` twice with the job's settings (the first call's extra time is what it spends
   compiling or loading kernels; the kernels numba would compile are listed). ``--cold``: the first run on
   empty caches (fresh ``NUMBA_CACHE_DIR`` and PyTensor ``base_compiledir``) without ``clv compile``; on
   other empty caches ``clv compile`` and the first ``clv forecast`` after it (and the probe there, and on
   empty caches). Results under ``cli_runs`` (appended; ``--reset`` forgets them).

1. **``clv forecast`` end to end** (``clvmodels.cli.main(["forecast", ...])`` with ``--method nuts``) on
   the bundled CDNOW sample (whole log to 1998-06-30; the CLI's default NUTS 4 chains x 1,000 draws
   after 1,000 tuning, i.e. 4,000 draws) and on simulated transaction logs of 100 thousand and 1 million
   customers (``clvmodels.simulate.simulate_transactions``, BG/NBD r 0.25, alpha 4, a 0.8, b 2.5 per
   week and Gamma-Gamma p 6, q 4, v 15; first purchases over the first year of 2022-01-01..2023-12-31,
   written once as Parquet under ``benchmarks/data/``; NUTS 2 chains x 500 draws after 500 tuning,
   i.e. 1,000 posterior draws). Horizon 52 weeks, 10% annual discount rate. Reported per stage
   (summary, fit, predict, write; the stage times are the job's own ``timings_seconds`` in the table's
   ``.meta.json``): wall time and peak resident memory (a thread samples the child's VmRSS every 20 ms
   and attributes each sample to the stage running then), and the whole run's peak (VmHWM).

2. **CLV alone**, on the same fitted posterior size (1,000 draws), 12 months:

   * ``clvmodels.value.customer_lifetime_value(bg, gg, summary, "52W", discount_rate=annual)``:
     weekly model, 52 whole weeks (12 months = 52.18 weeks; clvmodels' CLV horizons are whole periods
     of the model's unit), discounted at the end of each week at the weekly rate compounded from the
     annual one; joint draws of BG/NBD and Gamma-Gamma; returns mean and 90% interval per customer.
   * ``pymc_marketing.clv.customer_lifetime_value(bg, data, future_t=12, discount_rate=monthly,
     time_unit="W")``: expected purchases at each month end (k x 30.4375 / 7 weeks, k = 1..12), discounted
     monthly; returns the full (chain, draw, customer) array; ``future_spend`` is a per-customer point
     value (computed beforehand, not timed, from the Gamma-Gamma formula at p 6, q 4, v 15).

   The annual rate is 10%, the monthly rate 1.1^(1/12) - 1, so both discount a year by the same factor.
   clvmodels' models are fitted by NUTS (2 x 500) on the whole base. pymc-marketing's BG/NBD is fitted by
   NUTS (2 x 500, nutpie) on the first 10,000 customers of the same summary: the cost of its CLV depends
   on the number of draws and customers it predicts for, not on the data it was fitted on, and fitting
   100 thousand customers with it takes minutes. Timed: the CLV call only; memory: the peak VmRSS during
   the call, absolute and above the level just before it.

The peer environment ``benchmarks/.env-pymc-marketing`` (python3.12 venv: ``pip install
pymc-marketing==1.3.0 pyarrow nutpie==0.16.11``) is created if missing.

Usage (repository root, project virtual environment)::

    .venv/bin/python benchmarks/bench_forecast.py                    # CDNOW, 100k, 1M; CLV at 10k and 100k
    .venv/bin/python benchmarks/bench_forecast.py --quick            # CDNOW and 100k; CLV at 10k
    .venv/bin/python benchmarks/bench_forecast.py --parts clv --clv-sizes 10000
    .venv/bin/python benchmarks/bench_forecast.py --parts cli --rounds 5 --cold   # clv forecast, CDNOW

Results: ``benchmarks/results/bench_forecast.json`` (merged per part and size). The top level uses only
the standard library (the peer's interpreter imports this file too).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
ENV_PYMC = HERE / ".env-pymc-marketing"

BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
GG = {"p": 6.0, "q": 4.0, "v": 15.0}
START, END = "2022-01-01", "2023-12-31"
SEED = 20240612
ANNUAL = 0.10
MONTHLY = (1 + ANNUAL) ** (1 / 12) - 1
PEER_FIT_CUSTOMERS = 10_000


def ensure_env() -> None:
    py = ENV_PYMC / "bin" / "python"
    if not py.exists():
        subprocess.run([shutil.which("python3.12") or sys.executable, "-m", "venv", str(ENV_PYMC)], check=True)
        subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "pymc-marketing==1.3.0", "pyarrow"], check=True)
    if subprocess.run([str(py), "-c", "import nutpie"], capture_output=True).returncode != 0:
        subprocess.run([str(ENV_PYMC / "bin" / "pip"), "install", "-q", "nutpie==0.16.11"], check=True)


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------
def tx_path(n: int) -> Path:
    path = DATA / f"tx_sim_{n}.parquet"
    if not path.exists():
        from clvmodels.simulate import simulate_transactions

        log = simulate_transactions(n, BG["r"], BG["alpha"], BG["a"], BG["b"], GG["p"], GG["q"], GG["v"],
                                    start=START, acquisition_days=365.0, observation_end=END, time_unit="W",
                                    seed=SEED + n)
        log["amount"] = log["amount"].round(2).clip(lower=0.01)
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        log.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    return path


def clv_summary_path(n: int) -> Path:
    """The weekly summary of the n-customer log, for the peer (customer_id, frequency, recency, T,
    monetary_value and a point future_spend)."""
    path = DATA / f"clv_summary_{n}.parquet"
    if not path.exists():
        import numpy as np
        import clvmodels

        s = clvmodels.summarize(tx_path(n), observation_end=END, time_unit="W")
        x = s["frequency"].to_numpy(float)
        z = np.where(x > 0, s["monetary_value"].to_numpy(float), 0.0)
        p, q, v = GG["p"], GG["q"], GG["v"]
        s["future_spend"] = (p * v + p * x * z) / (p * x + q - 1)
        s[["frequency", "recency", "T", "monetary_value", "future_spend"]].reset_index().to_parquet(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------------
# Memory sampling in the child
# ---------------------------------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    """Samples VmRSS every ``dt`` seconds; each sample counts for the stage running at that moment."""

    def __init__(self, dt: float = 0.02):
        self.dt = dt
        self.stage = "startup"
        self.peaks: dict[str, float] = {}
        self.window_peak = 0.0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop:
            self.sample()
            time.sleep(self.dt)

    def sample(self):
        r = _rss_mb()
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), r)
        self.window_peak = max(self.window_peak, r)

    def start(self):
        self._t.start()
        return self

    def enter(self, stage):
        self.sample()
        self.stage = stage
        self.sample()

    def stop(self):
        self.sample()
        self._stop = True


def _wrap(obj, name, sampler, stage):
    fn = getattr(obj, name)

    def wrapped(*a, **k):
        outer = sampler.stage
        sampler.enter(stage)
        try:
            return fn(*a, **k)
        finally:
            sampler.enter(outer if outer == stage else "other")

    setattr(obj, name, wrapped)


def _peak_mb() -> float:
    """This process's own peak resident memory (VmHWM, MB; reset at exec, so no parent's pages in it)."""
    return _hwm_mb()


# ---------------------------------------------------------------------------------------------------
# Children
# ---------------------------------------------------------------------------------------------------
def child_forecast(source: str, chains: int, draws: int, tune: int) -> dict:
    sampler = RssSampler().start()
    sampler.enter("imports")
    t0 = time.perf_counter()
    import clvmodels.cli as cli
    import clvmodels.cli.commands as jobs
    import clvmodels.data as data_mod
    import clvmodels.pipeline as fc
    from clvmodels.models.bgnbd.model import BetaGeoModel
    from clvmodels.models.gamma_gamma.model import GammaGammaModel

    import_s = time.perf_counter() - t0
    _wrap(data_mod, "summarize", sampler, "summary")
    _wrap(BetaGeoModel, "fit", sampler, "fit")
    _wrap(GammaGammaModel, "fit", sampler, "fit")
    _wrap(fc, "score", sampler, "predict")
    _wrap(jobs, "write_table", sampler, "write")
    DATA.mkdir(parents=True, exist_ok=True)
    if source == "cdnow":
        from clvmodels.datasets import cdnow_sample_path

        path, end, n_label = str(cdnow_sample_path()), "1998-06-30", "cdnow"
        fit_args = []  # the CLI defaults: 4 chains x 1,000 draws after 1,000 tuning
    else:
        path, end, n_label = str(tx_path(int(source))), END, source
        fit_args = ["--chains", str(chains), "--draws", str(draws), "--tune", str(tune)]
    out = DATA / f"forecast_{n_label}.parquet"
    argv = ["forecast", path, "--observation-end", end, "--time-unit", "W", "--horizon", "52", "-o", str(out),
            "--method", "nuts", "--seed", "1", "--discount-rate", str(ANNUAL), "--quiet", *fit_args]
    sampler.enter("other")
    t1 = time.perf_counter()
    rc = cli.main(argv)
    job_s = time.perf_counter() - t1
    sampler.stop()
    if rc != 0:
        raise SystemExit(f"clv forecast exited {rc}")
    meta_path = Path(str(out) + ".meta.json")
    if not meta_path.exists():
        cands = sorted(out.parent.glob(out.name + "*.json")) + sorted(out.parent.glob(out.stem + "*.json"))
        meta_path = cands[0] if cands else meta_path
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    timings = meta.get("timings_seconds", {})
    bg = meta.get("models", {}).get("bgnbd", {}).get("diagnostics", {})
    gg = meta.get("models", {}).get("gamma_gamma", {}).get("diagnostics", {})
    import pandas as pd

    table = pd.read_parquet(out, columns=["clv"])
    return {"source": source, "argv": ["clv", *argv], "import_s": import_s, "job_s": job_s, "timings_seconds": timings,
            "stage_peak_rss_mb": sampler.peaks, "peak_rss_mb": _peak_mb(), "n_customers": int(meta.get("n_customers", len(table))),
            "n_draws": int(meta.get("clv", {}).get("n_draws", 0)) or None,
            "bgnbd_fit_s": bg.get("seconds"), "gamma_gamma_fit_s": gg.get("seconds"),
            "bgnbd_ok": bg.get("ok"), "gamma_gamma_ok": gg.get("ok"), "bgnbd_problems": bg.get("problems"),
            "gamma_gamma_problems": gg.get("problems"), "clv_total": float(table["clv"].sum()),
            "meta_file": meta_path.name}


def _clv_sampler():
    """A started 10 ms RSS sampler in stage "clv", and the resident memory just before the call."""
    sampler = RssSampler(0.01)
    sampler.stage = "before"
    sampler.sample()
    before = _rss_mb()
    sampler.start()
    sampler.enter("clv")
    return sampler, before


def child_clv(tool: str, n: int, chains: int, draws: int, tune: int) -> dict:
    import pandas as pd

    out = {"tool": tool, "n_customers": n}
    s = pd.read_parquet(clv_summary_path(n))
    if tool == "clvmodels":
        from clvmodels.models.bgnbd.model import BetaGeoModel
        from clvmodels.models.gamma_gamma.model import GammaGammaModel
        from clvmodels.value import customer_lifetime_value

        s = s.set_index("customer_id")
        common = dict(chains=chains, draws=draws, tune=tune, seed=1, progressbar=False)
        t0 = time.perf_counter()
        bg = BetaGeoModel(**common).fit(s, time_unit="W")
        gg = GammaGammaModel(**common).fit(s, time_unit="W")
        out["fit_s"] = time.perf_counter() - t0
        out["fit_on_customers"] = n
        sampler, before = _clv_sampler()
        t1 = time.perf_counter()
        res = customer_lifetime_value(bg, gg, s, "52W", discount_rate=ANNUAL, max_draws=chains * draws)
        out["clv_s"] = time.perf_counter() - t1
        sampler.stop()
        out["n_draws"] = res.attrs["clvmodels_clv"]["n_draws"]
        out["clv_mean"] = float(res["clv"].mean())
        out["returns"] = "mean, 5% and 95% quantiles per customer (DataFrame)"
    else:
        from pymc_marketing.clv import BetaGeoModel, customer_lifetime_value

        fit_n = min(n, PEER_FIT_CUSTOMERS)
        t0 = time.perf_counter()
        bg = BetaGeoModel()
        bg.fit(s.iloc[:fit_n][["customer_id", "frequency", "recency", "T"]], method="mcmc", chains=chains,
               draws=draws, tune=tune, nuts_sampler="nutpie", random_seed=1, progressbar=False)
        out["fit_s"] = time.perf_counter() - t0
        out["fit_on_customers"] = fit_n
        data = s[["customer_id", "frequency", "recency", "T", "future_spend"]]
        sampler, before = _clv_sampler()
        t1 = time.perf_counter()
        res = customer_lifetime_value(bg, data, future_t=12, discount_rate=MONTHLY, time_unit="W")
        out["clv_s"] = time.perf_counter() - t1
        sampler.stop()
        out["n_draws"] = int(res.sizes["chain"] * res.sizes["draw"])
        out["clv_mean"] = float(res.mean(("chain", "draw")).mean())
        out["returns"] = "all draws (chain, draw, customer) as a DataArray"
    out["rss_before_clv_mb"] = before
    out["clv_peak_rss_mb"] = sampler.peaks.get("clv", float("nan"))
    out["clv_extra_rss_mb"] = out["clv_peak_rss_mb"] - before
    out["peak_rss_mb"] = _peak_mb()
    return out


# ---------------------------------------------------------------------------------------------------
# `clv forecast` as a user runs it: a fresh process, timed from outside
# ---------------------------------------------------------------------------------------------------
#: ``clv``'s console script (``from clvmodels.cli import main; sys.exit(main())``), plus this process's own
#: peak memory (VmHWM, reset by the kernel at exec) written on stderr at exit
CLV_WRAPPER = (
    "import atexit, sys\n"
    "def _hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('\\n@@VmHWM_kB ' + line.split()[1] + '\\n')\n"
    "atexit.register(_hwm)\n"
    "from clvmodels.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n")
CDNOW_END = "1998-06-30"
#: the user's note that the scoring kernels compile (clvmodels.models.compile_notice.MESSAGE)
COMPILE_NOTICE = "compiling the scoring kernels"


def loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(v) for v in fh.read().split()[:3]]


def cold_env(tmp: Path) -> dict:
    """Empty compilation caches: numba's (the scoring kernels) and PyTensor's (its compiled modules and
    clvmodels' cached sampler callbacks, under base_compiledir)."""
    (tmp / "numba").mkdir(parents=True, exist_ok=True)
    (tmp / "pytensor").mkdir(parents=True, exist_ok=True)
    return {"NUMBA_CACHE_DIR": str(tmp / "numba"), "PYTENSOR_FLAGS": f"base_compiledir={tmp / 'pytensor'}"}


def _cdnow_csv() -> str:
    return str(ROOT / "clvmodels" / "datasets" / "cdnow_sample.csv")


def cdnow_forecast_argv(out_dir: Path) -> list[str]:
    """`clv forecast` on the bundled CDNOW log with the CLI's defaults: BG/NBD and Gamma-Gamma by NUTS
    4 chains x 1,000 draws after 1,000 tuning, 1,000 scoring draws; 52 weeks, 10% a year."""
    return ["forecast", _cdnow_csv(), "--observation-end", CDNOW_END, "--time-unit", "W", "--horizon", "52",
            "--discount-rate", str(ANNUAL), "--method", "nuts", "--seed", "1", "-o", str(out_dir / "forecast.parquet"),
            "--model-dir", str(out_dir / "models")]


def run_clv(argv: list[str], env_extra: dict | None = None, timeout: int = 1800) -> dict:
    """One ``clv`` command in a fresh interpreter: wall time from outside (imports included), its VmHWM,
    exit code, and the lines it printed that start with ``[clv]``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore", **(env_extra or {}))
    before = loadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLV_WRAPPER, *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    err = proc.stderr or ""
    hwm = [int(x.split()[1]) for x in err.splitlines() if x.startswith("@@VmHWM_kB ")]
    return {"argv": ["clv", *argv], "rc": proc.returncode, "wall_s": wall, "peak_rss_mb": hwm[-1] / 1024 if hwm else None,
            "started": started, "loadavg_before": before, "loadavg_after": loadavg(),
            "said_compiling": COMPILE_NOTICE in err,
            "clv_lines": [x for x in err.splitlines() if x.startswith("[clv]")][-12:],
            "stderr_tail": err.strip().splitlines()[-3:] if proc.returncode else []}


def cli_forecast_run(out_dir: Path, env_extra: dict | None = None) -> dict:
    """``clv forecast`` on CDNOW, with the sidecar's per-stage timings and both fits' diagnostics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    r = run_clv(cdnow_forecast_argv(out_dir), env_extra)
    meta_path = out_dir / "forecast.parquet.meta.json"
    if r["rc"] == 0 and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        r["timings_seconds"] = meta.get("timings_seconds", {})
        for name, key in (("bgnbd", "bgnbd"), ("gamma_gamma", "gamma_gamma")):
            d = meta.get("models", {}).get(key, {}).get("diagnostics", {})
            r[f"{name}_fit_s"] = d.get("seconds")
            r[f"{name}_compile_s"] = d.get("compile_seconds")
            r[f"{name}_compiled"] = d.get("compiled")
            r[f"{name}_ok"] = d.get("ok")
        r["n_draws"] = meta.get("clv", {}).get("n_draws")
    return r


def child_score_probe(model_dir: str) -> dict:
    """The first scoring call of a fresh process against a second, identical one: the models saved by a
    ``clv forecast`` run, the CDNOW summary, ``clvmodels.scoring.score`` with the job's settings. The first
    call's extra time is what it spends compiling (or loading compiled kernels from the disk cache)."""
    t0 = time.perf_counter()
    import clvmodels
    import clvmodels.scoring.arrays as arrays
    from clvmodels.models.compile_notice import kernels_to_compile
    from clvmodels.pipeline import load_models
    from clvmodels.scoring import score

    import_s = time.perf_counter() - t0
    said = []
    announce = arrays.announce_compile

    def recording(*scorers, **kw):
        todo, n = kernels_to_compile(*scorers, modules=kw.get("modules", ()))
        said.append({"announced": bool(announce(*scorers, **kw)), "kernels_to_compile": todo, "kernels": n})
        return said[-1]["announced"]

    arrays.announce_compile = recording
    summary = clvmodels.summarize(_cdnow_csv(), observation_end=CDNOW_END, time_unit="W")
    bg, gg = load_models(model_dir)
    times = []
    for _ in range(2):
        t1 = time.perf_counter()
        table = score(summary, bg, gg, "52W", discount_rate=ANNUAL, max_draws=1000, segment_summary=True)
        times.append(time.perf_counter() - t1)
    return {"import_s": import_s, "first_call_s": times[0], "second_call_s": times[1],
            "compile_or_load_s": times[0] - times[1], "announcements": said, "clv_total": float(table["clv"].sum()),
            "peak_rss_mb": _hwm_mb()}


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def score_probe(model_dir: Path, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore", **(env_extra or {}))
    before = loadavg()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "score", "--model-dir",
                           str(model_dir)], capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        return {"error": " | ".join((proc.stderr or "").strip().splitlines()[-3:])}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r.update({"loadavg_before": before, "loadavg_after": loadavg()})
    return r


def run_cli_part(args) -> list[dict]:
    """Warm rounds of `clv forecast` (after one untimed warm-up), each followed by the scoring probe in a
    fresh process; with ``--cold``: the first run on empty caches without ``clv compile``, then, on other
    empty caches, ``clv compile`` and the first ``clv forecast`` after it (and the scoring probe there)."""
    import tempfile

    runs = []
    batch = time.strftime("%H%M", time.gmtime())

    def note(r):
        print("  " + json.dumps({k: r.get(k) for k in ("kind", "wall_s", "timings_seconds", "bgnbd_fit_s",
                                                         "bgnbd_compile_s", "bgnbd_compiled", "peak_rss_mb",
                                                         "said_compiling", "compile_or_load_s", "loadavg_before",
                                                         "rc", "error", "stderr_tail")}, default=float),
              file=sys.stderr, flush=True)
        runs.append(r)

    with tempfile.TemporaryDirectory(prefix="clv-bench-") as tmp:
        work = Path(tmp) / "warm"
        if args.warmup:
            print("clv forecast: warm-up (untimed)", file=sys.stderr, flush=True)
            cli_forecast_run(work)
        if args.cold:
            env = cold_env(Path(tmp) / "cold1")
            print("clv forecast: cold caches, no clv compile", file=sys.stderr, flush=True)
            note({"kind": "forecast, cold caches, no clv compile", "caches": "cold", "round": f"{batch}-cold",
                  **cli_forecast_run(Path(tmp) / "c1", env)})
            env = cold_env(Path(tmp) / "cold2")
            print("clv compile on empty caches", file=sys.stderr, flush=True)
            note({"kind": "clv compile, empty caches", "caches": "cold", "round": f"{batch}-cold", **run_clv(["compile"], env)})
            print("clv forecast: first run after clv compile", file=sys.stderr, flush=True)
            note({"kind": "forecast, first run after clv compile", "caches": "after compile", "round": f"{batch}-cold",
                  **cli_forecast_run(Path(tmp) / "c2", env)})
            note({"kind": "scoring probe, after clv compile", "caches": "after compile", "round": f"{batch}-cold",
                  **score_probe(Path(tmp) / "c2" / "models", env)})
            env = cold_env(Path(tmp) / "cold3")
            note({"kind": "scoring probe, cold caches", "caches": "cold", "round": f"{batch}-cold",
                  **score_probe(Path(tmp) / "c2" / "models", env)})
        for i in range(args.rounds):
            print(f"clv forecast: warm round {i + 1}", file=sys.stderr, flush=True)
            note({"kind": "forecast, warm caches", "caches": "warm", "round": f"{batch}-{i + 1}", **cli_forecast_run(work)})
            note({"kind": "scoring probe, warm caches", "caches": "warm", "round": f"{batch}-{i + 1}",
                  **score_probe(work / "models")})
    return runs


# ---------------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------------
def run_child(python: str, args: list[str], timeout: int, ours: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) if ours else "", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout} s (killed)"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


def table_forecast(rows) -> str:
    lines = ["| log | customers | draws | summary (s) | fit (s) | predict (s) | write (s) | job total (s) | process (s) | "
             "peak MB summary / fit / predict / write | peak RSS (MB) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['source']} | failed: {r['error']} ||||||||||")
            continue
        t = dict(r["timings_seconds"])
        if "write" not in t:  # clv forecast adds 'write' after writing the .meta.json: the rest of the job
            t["write"] = r["job_s"] - sum(t.get(k, 0.0) for k in ("summary", "fit", "predict"))
        pk = r["stage_peak_rss_mb"]
        lines.append(f"| {r['source']} | {r['n_customers']:,} | {r['n_draws'] or ''} | {t.get('summary', 0):.1f} | "
                     f"{t.get('fit', 0):.1f} | {t.get('predict', 0):.1f} | {t.get('write', 0):.1f} | {r['job_s']:.1f} | "
                     f"{r['process_wall_s']:.1f} | "
                     + " / ".join(f"{pk.get(k, float('nan')):.0f}" for k in ("summary", "fit", "predict", "write"))
                     + f" | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def table_clv(rows) -> str:
    lines = ["| tool | customers | draws | fitted on | CLV (s) | CLV peak RSS (MB) | above pre-call level (MB) | mean CLV | returns |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tool']} | {r['n_customers']:,} | failed: {r['error']} |||||||")
            continue
        lines.append(f"| {r['tool']} | {r['n_customers']:,} | {r['n_draws']} | {r['fit_on_customers']:,} | {r['clv_s']:.2f} | "
                     f"{r['clv_peak_rss_mb']:.0f} | {r['clv_extra_rss_mb']:.0f} | {r['clv_mean']:.2f} | {r['returns']} |")
    ours = {r["n_customers"]: r for r in rows if r["tool"] == "clvmodels" and "error" not in r}
    for r in rows:
        if r["tool"] == "pymc-marketing" and "error" not in r and r["n_customers"] in ours:
            c = ours[r["n_customers"]]
            ratio = r["clv_s"] / c["clv_s"]
            speed = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x SLOWER"
            lines.append(f"\n{r['n_customers']:,} customers: clvmodels {speed} than pymc-marketing; peak RSS during "
                         f"the call {c['clv_peak_rss_mb'] / r['clv_peak_rss_mb']:.2f}x pymc-marketing's "
                         f"(memory added by the call {c['clv_extra_rss_mb'] / max(r['clv_extra_rss_mb'], 1):.3f}x)")
    return "\n".join(lines)


def _median(xs):
    """The median of the rounds that ran (None where none did)."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _rest(r) -> float:
    """Wall time of a `clv forecast` process outside its job's stages: interpreter start, imports, checks, exit."""
    t = r.get("timings_seconds") or {}
    return r["wall_s"] - sum(t.get(k, 0.0) for k in ("summary", "fit", "predict", "write"))


def table_cli(runs) -> str:
    """Medians of the warm `clv forecast` rounds, then every run (warm, cold, clv compile, probes)."""
    warm = [r for r in runs if r.get("kind") == "forecast, warm caches" and r.get("rc") == 0]
    lines = []
    st = ("summary", "fit", "predict", "write")
    if warm:
        # one median per batch of rounds (one invocation; the load differs between batches), then all
        batches = {}
        for r in warm:
            batches.setdefault(r.get("round", "").split("-")[0], []).append(r)
        groups = [(f"batch {b}, load {min(r['loadavg_before'][0] for r in rs):.1f}-"
                   f"{max(r['loadavg_before'][0] for r in rs):.1f}", rs) for b, rs in batches.items()]
        if len(groups) > 1:
            groups.append(("all batches", warm))
        lines += ["| `clv forecast`, CDNOW, warm caches: medians | rounds | wall, fresh process (s) | "
                  + " | ".join(f"{k} (s)" for k in st)
                  + " | imports and the rest (s) | BG/NBD fit (s) | its compile (s) | Gamma-Gamma fit (s) | its compile (s) | peak RSS (MB) |",
                  "|---|---:|---:|" + "---:|" * len(st) + "---:|---:|---:|---:|---:|---:|"]
        for label, rs in groups:
            med = lambda f, rs=rs: _median([f(r) for r in rs])  # noqa: E731
            lines.append(f"| {label} | {len(rs)} | {med(lambda r: r['wall_s']):.2f} | "
                         + " | ".join(_fmt(med(lambda r, k=k: r['timings_seconds'].get(k)), ".2f") for k in st)
                         + f" | {med(_rest):.2f}"
                         f" | {_fmt(med(lambda r: r.get('bgnbd_fit_s')), '.2f')} | {_fmt(med(lambda r: r.get('bgnbd_compile_s')), '.2f')}"
                         f" | {_fmt(med(lambda r: r.get('gamma_gamma_fit_s')), '.2f')} | {_fmt(med(lambda r: r.get('gamma_gamma_compile_s')), '.2f')}"
                         f" | {_fmt(med(lambda r: r.get('peak_rss_mb')), '.0f')} |")
        lines.append("")
    probes = [r for r in runs if r.get("kind") == "scoring probe, warm caches" and "error" not in r]
    if probes:
        lines += [f"First scoring call in a fresh process, warm caches ({len(probes)} rounds): median "
                  f"{_median([r['first_call_s'] for r in probes]):.2f} s against {_median([r['second_call_s'] for r in probes]):.2f} s "
                  f"for the same call again; compiling or loading kernels: median {_median([r['compile_or_load_s'] for r in probes]):.2f} s "
                  f"(every round: {', '.join(f'{r[chr(99) + 'ompile_or_load_s']:.2f}' for r in probes)})", ""]
    lines += ["Every run (load average: 1-minute value before / after):", "",
              "| run | round | started (UTC) | load avg | wall (s) | " + " / ".join(st) + " (s) | BG/NBD fit / compile (s) | "
              "compiled | GG fit / compile (s) | peak RSS (MB) | said it compiles |",
              "|---|---|---|---|---:|---|---|---|---|---:|---|"]
    for r in runs:
        la = f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f}" if r.get("loadavg_before") else ""
        if r.get("kind", "").startswith("scoring probe"):
            if "error" in r:
                lines.append(f"| {r['kind']} | {r.get('round', '')} | failed: {r['error']} |||||||||")
                continue
            lines.append(f"| {r['kind']} | {r.get('round', '')} | | {la} | first call {r['first_call_s']:.2f}, second "
                         f"{r['second_call_s']:.2f} | | | | | {r['peak_rss_mb']:.0f} | "
                         f"{'yes' if any(a['announced'] for a in r['announcements']) else 'no'} "
                         f"({sum(len(a['kernels_to_compile']) for a in r['announcements'])} kernels to compile) |")
            continue
        t = r.get("timings_seconds") or {}
        lines.append(f"| {r['kind']} | {r.get('round', '')} | {r.get('started', '')} | {la} | {r['wall_s']:.2f} | "
                     + " / ".join(_fmt(t.get(k), ".2f") for k in st)
                     + f" | {_fmt(r.get('bgnbd_fit_s'), '.2f')} / {_fmt(r.get('bgnbd_compile_s'), '.2f')} | "
                     f"{r.get('bgnbd_compiled') or ''} | {_fmt(r.get('gamma_gamma_fit_s'), '.2f')} / "
                     f"{_fmt(r.get('gamma_gamma_compile_s'), '.2f')} | {_fmt(r.get('peak_rss_mb'), '.0f')} | "
                     f"{'yes' if r.get('said_compiling') else 'no'} |" + ("" if r.get("rc", 0) == 0 else f" exit {r['rc']}"))
    return "\n".join(lines)


def _fmt(v, fmt):
    return "" if v is None else format(v, fmt)



def _merge(path: Path, part: str, rows: list[dict], key) -> None:
    data = json.loads(path.read_text()) if path.exists() else {}
    old = {key(r): r for r in data.get(part, [])}
    for r in rows:
        old[key(r)] = r
    data[part] = list(old.values())
    data["machine"] = f"{os.cpu_count()} cores (shared with other work: timings are noisy), Python {sys.version.split()[0]}"
    data["settings"] = {"annual_discount_rate": ANNUAL, "monthly_discount_rate": MONTHLY, "bgnbd_true": BG,
                        "gamma_gamma_true": GG, "log_period": [START, END], "horizon_ours": "52W",
                        "horizon_peer": "future_t=12 months, time_unit='W'"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="forecast,clv")
    ap.add_argument("--sizes", default="100000,1000000", help="simulated logs for the forecast job (CDNOW always runs)")
    ap.add_argument("--clv-sizes", default="10000,100000", help="customers for the CLV comparison")
    ap.add_argument("--quick", action="store_true", help="forecast CDNOW and 100k; CLV at 10k")
    ap.add_argument("--no-cdnow", action="store_true")
    ap.add_argument("--tools", default="clvmodels,pymc-marketing", help="for the CLV part")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--peer-timeout", type=int, default=1200)
    ap.add_argument("--json", default=str(RESULTS / "bench_forecast.json"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--source", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3, help="cli: warm rounds of `clv forecast` on CDNOW")
    ap.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True,
                    help="cli: one untimed `clv forecast` first, so the warm rounds find the caches filled")
    ap.add_argument("--cold", action="store_true", help="cli: also the runs on empty caches (without and with clv compile)")
    ap.add_argument("--reset", action="store_true", help="cli: forget the runs already in --json")
    ap.add_argument("--report-only", action="store_true", help="cli: print the tables of the runs in --json")
    args = ap.parse_args(argv)
    if args.child == "score":
        print(json.dumps(child_score_probe(args.model_dir), default=float))
        return 0
    if args.child == "forecast":
        print(json.dumps(child_forecast(args.source, args.chains, args.draws, args.tune), default=float))
        return 0
    if args.child:
        print(json.dumps(child_clv(args.child, args.n, args.chains, args.draws, args.tune), default=float))
        return 0
    parts = args.parts.split(",")
    tools = args.tools.split(",")
    if "pymc-marketing" in tools and "clv" in parts:
        ensure_env()
    sizes = [100_000] if args.quick else [int(x) for x in args.sizes.split(",") if x]
    clv_sizes = [10_000] if args.quick else [int(x) for x in args.clv_sizes.split(",") if x]
    common = ["--chains", str(args.chains), "--draws", str(args.draws), "--tune", str(args.tune)]
    out = Path(args.json)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", file=sys.stderr)
    report = []
    if "cli" in parts:
        data = json.loads(out.read_text()) if out.exists() else {}
        runs = [] if args.reset else data.get("cli_runs", [])
        if not args.report_only:
            runs = runs + run_cli_part(args)
            data["cli_runs"] = runs
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(data, indent=1, default=float) + "\n")
        report += ["### `clv forecast` on CDNOW in a fresh process (NUTS 4 x 1,000, both models, 1,000 scoring draws)", "",
                   table_cli(runs), ""]
    if "forecast" in parts:
        rows = []
        sources = ([] if args.no_cdnow else ["cdnow"]) + [str(n) for n in sizes]
        for src in sources:
            if src != "cdnow":
                print(f"simulating the {int(src):,}-customer log (cached)", file=sys.stderr, flush=True)
                tx_path(int(src))
            print(f"clv forecast on {src} ...", file=sys.stderr, flush=True)
            r = run_child(sys.executable, ["--child", "forecast", "--source", src, *common], 3600, True)
            r.setdefault("source", src)
            rows.append(r)
            print("  " + json.dumps(r, default=float), file=sys.stderr, flush=True)
            _merge(out, "forecast", [r], key=lambda r: r["source"])
        report += ["### `clv forecast` end to end (NUTS; CDNOW with the CLI defaults, simulated logs 2 x 500 draws)", "",
                   table_forecast(rows), ""]
    if "clv" in parts:
        rows = []
        for n in clv_sizes:
            print(f"summarising the {n:,}-customer log (cached)", file=sys.stderr, flush=True)
            clv_summary_path(n)
            for tool in tools:
                print(f"CLV: {tool} on {n:,} ...", file=sys.stderr, flush=True)
                py = sys.executable if tool == "clvmodels" else str(ENV_PYMC / "bin" / "python")
                r = run_child(py, ["--child", tool, "--n", str(n), *common],
                              3600 if tool == "clvmodels" else args.peer_timeout, tool == "clvmodels")
                r.setdefault("tool", tool)
                r.setdefault("n_customers", n)
                rows.append(r)
                print("  " + json.dumps(r, default=float), file=sys.stderr, flush=True)
                _merge(out, "clv", [r], key=lambda r: f"{r['tool']}:{r['n_customers']}")
        report += [f"### CLV alone, 12 months, {args.chains * args.draws:,} posterior draws", "", table_clv(rows), ""]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
