"""clv compile (clvmodels.warmup): every registered purchase model and every spend model is fitted with NUTS
and scored once, so each one's compiled code (sampler callbacks, scoring kernels) lands in the caches."""
from __future__ import annotations

import io


def test_warm_up_fits_and_scores_every_registered_model(monkeypatch):
    import clvmodels.models.registry as registry
    import clvmodels.pipeline as pipeline
    from clvmodels import warmup
    from clvmodels.models.registry import SPEND_MODELS, TRANSACTION_MODELS

    calls = []

    def fake_forecast(path, **kw):
        spend = kw["spend_model"]
        calls.append((kw["model"], type(spend).__name__, kw["method"], spend.method, kw["max_draws"]))

    class Fake:
        def __init__(self, name, **config):
            self.name, self.config = name, config

        def fit(self, data):
            calls.append((self.name, self.config["method"], len(data)))
            return self

    monkeypatch.setattr(pipeline, "forecast", fake_forecast)
    monkeypatch.setattr(registry, "transaction_model", lambda name, **kw: Fake(name, **kw))
    out = io.StringIO()
    seconds = warmup.warm_up(stream=out)
    maps = [c for c in calls if len(c) == 3]
    calls = [c for c in calls if len(c) == 5]
    # the MAP fits: every purchase model (the spend models' MAP fits are real: cheap, and they check the data)
    assert {m for m, method, n in maps} == set(TRANSACTION_MODELS)
    assert all(method == "map" and n == 2357 for _, method, n in maps)
    purchase = {m for m, *_ in calls}
    spend = {s for _, s, *_ in calls}
    assert purchase == set(TRANSACTION_MODELS)
    assert spend == {c.split(":")[1] for c in SPEND_MODELS.values()}
    assert all(m == s == "nuts" and d > 0 for *_, m, s, d in calls)  # the sampler's code is what gets compiled
    assert len(seconds) - 1 == len(calls) == len(TRANSACTION_MODELS) + len(SPEND_MODELS) - 1
    assert out.getvalue().count("[clv] compiled ") == len(calls) + 1


def test_clv_compile_is_a_command():
    from clvmodels.cli import build_parser

    args = build_parser().parse_args(["compile"])
    assert args.func.__name__ == "run_compile"


def test_warm_up_in_processes_of_their_own_runs_every_step(tmp_path):
    """jobs=2: the steps run in two spawned processes at once; each is said once and timed, and the
    result has the same steps, in the same order, as a run in this process."""
    import subprocess
    import sys

    code = ("import io, json, os, sys\n"
            "from clvmodels import warmup\n"
            "out = io.StringIO()\n"
            "s = warmup.warm_up(purchase_models=['bgnbd'], spend_models=['gamma_gamma'], stream=out, jobs=2)\n"
            "print(json.dumps({'seconds': s, 'said': out.getvalue()}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(got["seconds"]) == ["bgnbd/gamma_gamma", "map"]
    assert all(v > 0 for v in got["seconds"].values())
    said = got["said"].splitlines()
    assert sorted(said) == sorted(["[clv] compiled bgnbd with gamma_gamma in "
                                   f"{got['seconds']['bgnbd/gamma_gamma']:.1f} s",
                                   f"[clv] compiled the MAP fits in {got['seconds']['map']:.1f} s"])


def test_clv_compile_refuses_no_jobs(capsys):
    from clvmodels.cli import main

    assert main(["compile", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err
