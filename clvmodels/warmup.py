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

import sys
import time
import warnings

#: the short NUTS run: long enough to call every compiled function, short enough to cost nothing
WARM_UP_SAMPLING = dict(method="nuts", chains=1, draws=20, tune=20, seed=1)


def warm_up(*, purchase_models=None, spend_models=None, stream=sys.stderr) -> dict[str, float]:
    """Fit and score each purchase model (with the Gamma-Gamma) and each further spend model (with the
    BG/NBD) on the bundled CDNOW sample, so their compiled code is cached on disk. Returns the seconds of
    each step, by "purchase/spend" name; says each on ``stream`` (None: silent)."""
    from .datasets import cdnow_sample_path
    from .data import summarize
    from .models.registry import SPEND_MODELS, TRANSACTION_MODELS, spend_model, transaction_model
    from .pipeline import forecast

    purchase = list(purchase_models or TRANSACTION_MODELS)
    spend = list(spend_models or SPEND_MODELS)
    pairs = [(p, "gamma_gamma") for p in purchase] + [(purchase[0], s) for s in spend if s != "gamma_gamma"]
    seconds = {}
    for p, s in pairs:
        start = time.perf_counter()
        with warnings.catch_warnings():  # 20 draws: the diagnostics' warnings are expected and beside the point
            warnings.simplefilter("ignore")
            forecast(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W", horizon="52W",
                     discount_rate=0.1, model=p, progress=False, max_draws=20, **WARM_UP_SAMPLING,
                     spend_model=spend_model(s, progressbar=False, **WARM_UP_SAMPLING))
        seconds[f"{p}/{s}"] = round(time.perf_counter() - start, 2)
        if stream is not None:
            print(f"[clv] compiled {p} with {s} in {seconds[f'{p}/{s}']:.1f} s", file=stream, flush=True)
    # method="map": the posterior mode's log density and gradient, compiled by PyTensor's C backend
    start = time.perf_counter()
    summary = summarize(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in purchase:
            transaction_model(p, method="map", seed=1, progressbar=False).fit(summary)
        for s in spend:
            spend_model(s, method="map", seed=1, progressbar=False).fit(summary)
    seconds["map"] = round(time.perf_counter() - start, 2)
    if stream is not None:
        print(f"[clv] compiled the MAP fits in {seconds['map']:.1f} s", file=stream, flush=True)
    return seconds
