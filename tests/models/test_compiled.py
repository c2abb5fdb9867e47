"""The compiled posterior (clvmodels.models.compiled): its callbacks compute what nutpie's own compile does
(draw for draw), a second fit of the same model in one process reuses the compiled model with the new data
swapped in, anything that changes the graph compiles afresh, and a fresh process loads the callbacks from
the on-disk cache. No timings: what is checked is which path ran and what it computed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from clvmodels.models import compiled as compiled_mod

SMALL = dict(chains=2, draws=150, tune=150, progressbar=False)


def _fit(model_cls, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_cls(**{**SMALL, **kw}).fit(data)


def _built(model_cls, data, priors=None):
    """The PyMC model fit() would sample, for data ``data``."""
    from clvmodels.models.priors import resolve_priors

    m = model_cls(priors=priors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m._pre_fit(data)
    pri = resolve_priors(m.default_priors("W", data), m.priors)
    return m._build_model(data, pri)


def _posterior(fitted):
    return np.column_stack([fitted.posterior_[p].values.ravel() for p in fitted.param_names])


@pytest.fixture
def two_samples(cdnow_split):
    half = cdnow_split.iloc[::2]
    return cdnow_split, half


def test_callbacks_sample_exactly_what_nutpies_compile_samples(cdnow_split):
    import nutpie

    from clvmodels import BetaGeoModel

    compiled_mod.clear()
    ours = compiled_mod.compile_model(_built(BetaGeoModel, cdnow_split))
    assert ours.source == "built", ours.reason
    theirs = nutpie.compile_pymc_model(_built(BetaGeoModel, cdnow_split))
    kw = dict(draws=100, tune=100, chains=2, seed=7, progress_bar=False, adaptation="low_rank")
    a = nutpie.sample(ours.model, **kw)["posterior"].to_dataset()
    b = nutpie.sample(theirs, **kw)["posterior"].to_dataset()
    for p in ("r", "alpha", "a", "b"):
        np.testing.assert_array_equal(a[p].values, b[p].values)


def test_a_second_fit_in_one_process_reuses_the_compiled_model_with_the_new_data(two_samples, monkeypatch):
    from clvmodels import BetaGeoModel, GammaGammaModel

    full, half = two_samples
    build = compiled_mod._build
    for cls in (BetaGeoModel, GammaGammaModel):
        compiled_mod.clear()
        first = _fit(cls, full, seed=3)
        assert first.diagnostics_.compiled == "built"

        def no_build(*a, **k):  # reuse compiles nothing (checked by what runs, not by the clock)
            raise AssertionError("a second fit of the same model built it again")

        monkeypatch.setattr(compiled_mod, "_build", no_build)
        second = _fit(cls, half, seed=3)
        monkeypatch.setattr(compiled_mod, "_build", build)
        assert second.diagnostics_.compiled == "reused"
        # the reused model samples the *new* data: the same draws as a model built for them alone
        compiled_mod.clear()
        alone = _fit(cls, half, seed=3)
        assert alone.diagnostics_.compiled == "built"
        np.testing.assert_array_equal(_posterior(second), _posterior(alone))
        assert not np.allclose(_posterior(second).mean(0), _posterior(first).mean(0), rtol=1e-3)


def test_other_priors_or_another_model_compile_afresh(two_samples):
    from clvmodels import BetaGeoModel, ModifiedBetaGeoModel, Prior

    full, _ = two_samples
    compiled_mod.clear()
    assert _fit(BetaGeoModel, full, seed=1).diagnostics_.compiled == "built"
    other = {"r": Prior("Gamma", alpha=2.0, beta=4.0)}
    assert _fit(BetaGeoModel, full, seed=1, priors=other).diagnostics_.compiled == "built"
    assert _fit(ModifiedBetaGeoModel, full, seed=1).diagnostics_.compiled == "built"
    assert _fit(BetaGeoModel, full, seed=2).diagnostics_.compiled == "reused"


def test_the_fingerprint_leaves_out_the_data_and_nothing_else(two_samples):
    import pymc as pm

    from clvmodels import BetaGeoModel, Prior
    from clvmodels.models.bgnbd.likelihood import BetaGeoLogLike, bgnbd_data
    from clvmodels.models.transaction import summary_triplets

    full, half = two_samples
    fp = compiled_mod.fingerprint
    assert fp(_built(BetaGeoModel, full)) == fp(_built(BetaGeoModel, half)) is not None
    assert fp(_built(BetaGeoModel, full)) != fp(_built(BetaGeoModel, full, {"a": Prior("Gamma", alpha=1.0, beta=2.0)}))
    assert fp(_built(BetaGeoModel, full)) != fp(_built(BetaGeoModel, full, {"a": Prior("Gamma", alpha=1.0, beta=1.0 + 1e-12)}))
    # data given as constants are part of the graph: other values, another fingerprint
    trip = summary_triplets(full[full["T"] > 0])

    def with_constants(scale):
        import pytensor.tensor as pt

        with pm.Model() as m:
            rv = {p: pm.Gamma(p, alpha=1.0, beta=1.0) for p in ("r", "alpha", "a", "b")}
            data = [pt.constant(d * (scale if i == 9 else 1)) for i, d in enumerate(bgnbd_data(trip))]
            pm.Potential("loglike", BetaGeoLogLike()(rv["r"], rv["alpha"], rv["a"], rv["b"], *data)[0])
        return m

    assert fp(with_constants(1.0)) == fp(with_constants(1.0))
    assert fp(with_constants(1.0)) != fp(with_constants(2.0))


def test_a_fresh_process_loads_the_callbacks_from_the_disk_cache(tmp_path):
    """Build here (this writes both callbacks to the on-disk cache, or finds them there), then in a fresh
    interpreter: it loads both from the cache instead of compiling them."""
    script = textwrap.dedent("""
        import warnings
        from clvmodels import BetaGeoModel, summarize
        from clvmodels.datasets import cdnow_sample_path
        from clvmodels.models import compiled
        from clvmodels.models.priors import resolve_priors
        s = summarize(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W")
        m = BetaGeoModel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m._pre_fit(s)
        model = m._build_model(s, resolve_priors(m.default_priors("W", s), m.priors))
        c = compiled.compile_model(model)
        print(c.source, c.cache_hits)
    """)
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    from clvmodels import BetaGeoModel, summarize
    from clvmodels.datasets import cdnow_sample_path

    s = summarize(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W")
    compiled_mod.clear()
    assert compiled_mod.compile_model(_built(BetaGeoModel, s)).source == "built"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    source, hits = res.stdout.split()[-2:]
    assert source == "built" and hits == "2"  # the log density and the map to the parameters, both loaded


def test_a_fit_that_must_compile_says_so_once_and_one_that_loads_does_not(cdnow_split, monkeypatch, capsys):
    from clvmodels import BetaGeoModel

    said = []
    compiled_mod.clear()
    # as on a machine whose cache lacks this model: said once, before the work
    monkeypatch.setattr(compiled_mod, "_in_disk_cache", lambda fn: False)
    compiled_mod.compile_model(_built(BetaGeoModel, cdnow_split), notice=lambda: said.append("built"))
    assert said == ["built"]
    # kept in the process: nothing to say
    compiled_mod.compile_model(_built(BetaGeoModel, cdnow_split), notice=lambda: said.append("reused"))
    assert said == ["built"]
    # found in the on-disk cache: nothing to say
    compiled_mod.clear()
    monkeypatch.setattr(compiled_mod, "_in_disk_cache", lambda fn: True)
    compiled_mod.compile_model(_built(BetaGeoModel, cdnow_split), notice=lambda: said.append("loaded"))
    assert said == ["built"]
    # through fit(): on stderr with the progress bar on, naming the model
    compiled_mod.clear()
    monkeypatch.setattr(compiled_mod, "_in_disk_cache", lambda fn: False)
    _fit(BetaGeoModel, cdnow_split, seed=1, progressbar=True)
    err = capsys.readouterr().err
    assert err.count("[clv] compiling BetaGeoModel for the sampler") == 1 and "clv compile" in err
