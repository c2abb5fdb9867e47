"""clv compile (clvmodels.warmup): every registered purchase model and every spend model is fitted with NUTS
and scored once, so each one's compiled code (sampler callbacks, scoring kernels) lands in the caches."""
from __future__ import annotations

import io


def test_warm_up_fits_and_scores_every_registered_model(monkeypatch):
    import clvmodels.pipeline as pipeline
    from clvmodels import warmup
    from clvmodels.models.registry import SPEND_MODELS, TRANSACTION_MODELS

    calls = []

    def fake_forecast(path, **kw):
        spend = kw["spend_model"]
        calls.append((kw["model"], type(spend).__name__, kw["method"], spend.method, kw["max_draws"]))

    monkeypatch.setattr(pipeline, "forecast", fake_forecast)
    out = io.StringIO()
    seconds = warmup.warm_up(stream=out)
    purchase = {m for m, *_ in calls}
    spend = {s for _, s, *_ in calls}
    assert purchase == set(TRANSACTION_MODELS)
    assert spend == {c.split(":")[1] for c in SPEND_MODELS.values()}
    assert all(m == s == "nuts" and d > 0 for *_, m, s, d in calls)  # the sampler's code is what gets compiled
    assert len(seconds) == len(calls) == len(TRANSACTION_MODELS) + len(SPEND_MODELS) - 1
    assert out.getvalue().count("[clv] compiled ") == len(calls)


def test_clv_compile_is_a_command():
    from clvmodels.cli import build_parser

    args = build_parser().parse_args(["compile"])
    assert args.func.__name__ == "run_compile"
