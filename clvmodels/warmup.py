"""Compile once, at set-up: every model's sampler callbacks and scoring kernels into the on-disk caches.

Why: numba compiles a kernel on its first call and keeps it on disk (the scoring kernels next to their
sources or under ``NUMBA_CACHE_DIR``; PyTensor's compiled log densities and the sampler callbacks of
:mod:`clvmodels.models.compiled` under ``~/.pytensor``). The first ``clv forecast`` after an installation
therefore spends most of its time compiling. :func:`warm_up` (``clv compile``; ``make`` runs it after
installing) pays that once: it runs the forecast pipeline on the bundled CDNOW sample for each purchase
model and each spend model with a short NUTS run (the compiled code does not depend on the number of
draws, the data or the prior values, only on the model), so the caches hold what a real run needs.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

#: the short NUTS run: long enough to call every compiled function, short enough to cost nothing
WARM_UP_SAMPLING = dict(method="nuts", chains=1, draws=20, tune=20, seed=1)


def _fit_pair(purchase: str, spend: str) -> float:
    """One purchase model with one spend model: the forecast pipeline on the bundled sample, short NUTS
    runs (seconds taken)."""
    from .datasets import cdnow_sample_path
    from .models.registry import spend_model
    from .pipeline import forecast

    start = time.perf_counter()
    with warnings.catch_warnings():  # 20 draws: the diagnostics' warnings are expected and beside the point
        warnings.simplefilter("ignore")
        forecast(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W", horizon="52W",
                 discount_rate=0.1, model=purchase, progress=False, max_draws=20, **WARM_UP_SAMPLING,
                 spend_model=spend_model(spend, progressbar=False, **WARM_UP_SAMPLING))
    return time.perf_counter() - start


def _fit_maps(purchase: list[str], spend: list[str]) -> float:
    """method="map" of every model: the posterior mode's log density and gradient, compiled by PyTensor's
    C backend (seconds taken)."""
    from .datasets import cdnow_sample_path
    from .data import summarize
    from .models.registry import spend_model, transaction_model

    start = time.perf_counter()
    summary = summarize(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in purchase:
            transaction_model(p, method="map", seed=1, progressbar=False).fit(summary)
        for s in spend:
            spend_model(s, method="map", seed=1, progressbar=False).fit(summary)
    return time.perf_counter() - start


def default_jobs() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def warm_up(*, purchase_models=None, spend_models=None, stream=sys.stderr, jobs: int = 1) -> dict[str, float]:
    """Fit and score each purchase model (with the Gamma-Gamma) and each further spend model (with the
    BG/NBD) on the bundled CDNOW sample, so their compiled code is cached on disk. Returns the seconds of
    each step, by "purchase/spend" name (and "map"); says each on ``stream`` (None: silent) as it ends.

    ``jobs`` > 1 runs the steps in that many processes of their own at once (``clv compile`` uses every
    core: the compilers are single-threaded). The caches take concurrent writers: numba writes each
    cache file whole and renames it into place, PyTensor locks its compile directory."""
    from .models.registry import SPEND_MODELS, TRANSACTION_MODELS

    purchase = list(purchase_models or TRANSACTION_MODELS)
    spend = list(spend_models or SPEND_MODELS)
    pairs = [(p, "gamma_gamma") for p in purchase] + [(purchase[0], s) for s in spend if s != "gamma_gamma"]
    steps = {f"{p}/{s}": (_fit_pair, (p, s)) for p, s in pairs}
    steps["map"] = (_fit_maps, (purchase, spend))

    def say(name: str, seconds: float) -> None:
        if stream is not None:
            what = "the MAP fits" if name == "map" else name.replace("/", " with ")
            print(f"[clv] compiled {what} in {seconds:.1f} s", file=stream, flush=True)

    seconds: dict[str, float] = {}
    if jobs <= 1:
        for name, (fn, args) in steps.items():
            seconds[name] = round(fn(*args), 2)
            say(name, seconds[name])
        return seconds
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: a fresh interpreter per worker (numba and PyTensor state is not fork-safe)
    with ProcessPoolExecutor(max_workers=min(jobs, len(steps)), mp_context=mp.get_context("spawn")) as pool:
        # the MAP fits, the shortest step, are submitted last: a worker free early takes them
        futures = {pool.submit(fn, *args): name for name, (fn, args) in steps.items()}
        for fut in as_completed(futures):
            name = futures[fut]
            seconds[name] = round(fut.result(), 2)
            say(name, seconds[name])
    return {name: seconds[name] for name in steps}
