"""The first scoring call on a machine compiles the numba kernels (15-30 s): it says so, once, and never
on a warm run. Checked with a real empty numba cache (NUMBA_CACHE_DIR) in subprocesses, not by timing."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clvmodels.datasets import cdnow_sample_path
from clvmodels.models import compile_notice

ROOT = Path(__file__).resolve().parents[2]
NOTICE = "compiling the scoring kernels (first run on this machine"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from clvmodels import forecast

    d = tmp_path_factory.mktemp("models")
    forecast(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W", horizon="52W", method="map",
             seed=3, max_draws=100, progress=False, model_dir=d)
    return d


def _clv_forecast(model_dir: Path, out: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", "forecast", str(cdnow_sample_path()),
                           "--observation-end", "1998-06-30", "--time-unit", "W", "--horizon", "52", "--no-fit",
                           "--model-dir", str(model_dir), "--max-draws", "100", "-o", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


def test_the_first_run_on_a_machine_says_it_compiles_and_the_second_does_not(model_dir, tmp_path):
    cache = tmp_path / "numba-cache"  # empty: as on a fresh machine
    first = _clv_forecast(model_dir, tmp_path / "a.parquet", cache)
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stderr.splitlines() if NOTICE in line]
    assert len(lines) == 1 and lines[0].startswith("[clv] ") and "cached for later runs" in lines[0]
    # said before the scoring's own work, after the scoring starts
    err = first.stderr
    assert err.index("scoring customers") < err.index(NOTICE) < err.index("wrote 2,357 customers")
    assert any(p.suffix == ".nbi" for p in cache.rglob("*"))  # numba did write its cache there
    second = _clv_forecast(model_dir, tmp_path / "b.parquet", cache)
    assert second.returncode == 0, second.stderr
    assert NOTICE not in second.stderr and "wrote 2,357 customers" in second.stderr


def test_compiled_kernels_are_not_announced_and_missing_ones_are_logged(model_dir, monkeypatch, caplog, capsys):
    from clvmodels import summarize
    from clvmodels.pipeline import load_models
    from clvmodels.scoring import score

    bg, gg = load_models(model_dir)
    summary = summarize(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W").head(50)
    score(summary, bg, gg, "52W", max_draws=100)  # compiled (or loaded from the cache) in this process now
    scorers = (bg.scorer(100), gg.scorer(100))
    modules = ("clvmodels.models.triplet_scores", "clvmodels.scoring.arrays")
    todo, n = compile_notice.kernels_to_compile(*scorers, modules=modules)
    assert todo == [] and n >= 4
    assert compile_notice.announce_compile(*scorers, modules=modules, progress=True) is False
    assert capsys.readouterr().err == ""
    # as if none were compiled: said on stderr with progress, else logged (never both)
    monkeypatch.setattr(compile_notice, "_needs_compiling", lambda kernel: True)
    with caplog.at_level(logging.INFO, logger="clvmodels"):
        assert compile_notice.announce_compile(*scorers, modules=modules, progress=False) is True
    assert [r.getMessage() for r in caplog.records] == [compile_notice.MESSAGE.format(seconds=20)]
    assert capsys.readouterr().err == ""
    caplog.clear()
    assert compile_notice.announce_compile(*scorers, modules=modules, progress=True) is True
    assert capsys.readouterr().err == "[clv] " + compile_notice.MESSAGE.format(seconds=20) + "\n"
    assert caplog.records == []
    # one kernel of n left: the estimate shrinks with the share still to compile (at least 5 s)
    monkeypatch.setattr(compile_notice, "_needs_compiling", lambda kernel: kernel.__name__ == "_customer_kernel")
    assert compile_notice.kernels_to_compile(*scorers, modules=modules)[0] == ["clvmodels.scoring.arrays._customer_kernel"]
    compile_notice.announce_compile(*scorers, modules=modules, progress=True)
    assert "about 5 s" in capsys.readouterr().err
    # each scorer's own module and the caller's are looked at, nothing else
    assert compile_notice.scoring_modules(*scorers, modules=modules) == [
        type(scorers[0]).__module__, type(scorers[1]).__module__, *modules]
