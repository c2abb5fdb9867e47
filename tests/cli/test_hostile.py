"""The CLI against ordinary mistakes: each hostile command line exits 2 with a message naming what is
wrong, before any work, and leaves every earlier output byte-identical with no debris beside it."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main

from ..live_logs import earlier_run

pytestmark = pytest.mark.xdist_group("cli_hostile")

LOG_ARGS = ["--observation-end", "1998-06-30", "--time-unit", "W"]
FIT = ["--method", "map", "--seed", "3", "--quiet"]
QUICK = FIT + ["--max-draws", "100"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones included: debris would show) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """An earlier, successful run's outputs: table, sidecar, report, models; and a small log."""
    return earlier_run(tmp_path_factory.mktemp("earlier"))


@pytest.fixture
def run(earlier, tmp_path):
    """A copy of the earlier outputs in a fresh folder, and a runner that returns (rc, stderr)."""
    for name, data in snapshot(earlier).items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def call(*argv):
        return main([str(a) for a in argv])

    call.dir = tmp_path
    return call


def _forecast(d: Path, *extra):
    return ["forecast", str(d / "log.csv"), *LOG_ARGS, "--horizon", "52", *QUICK, "-o", str(d / "f.parquet"),
            "--report", str(d / "r.html"), "--model-dir", str(d / "models"), *extra]


def _replace(argv: list[str], option: str, value) -> list[str]:
    out = list(argv)
    out[out.index(option) + 1] = str(value)
    return out


# each case: (argument edit, the words the message must hold)
CASES = {
    "horizon 0 with --model-dir": (lambda a, d: _replace(a, "--horizon", 0), ["--horizon 0", "positive"]),
    "horizon negative": (lambda a, d: _replace(a, "--horizon", -4), ["--horizon -4", "positive"]),
    "horizon not a number": (lambda a, d: _replace(a, "--horizon", "soon"), ["--horizon 'soon'"]),
    "horizon in days with weeks": (lambda a, d: _replace(a, "--horizon", "365D"),
                                   ["--horizon 365D", "--horizon 52.14", "--time-unit D"]),
    "report is a directory": (lambda a, d: _replace(a, "--report", d), ["--report", "is a directory"]),
    "output is a directory": (lambda a, d: _replace(a, "-o", d / "models"), ["-o/--output", "is a directory"]),
    "output in a missing directory": (lambda a, d: _replace(a, "-o", d / "nope" / "f.csv"),
                                      ["-o/--output", "does not exist"]),
    "output under a file": (lambda a, d: _replace(a, "-o", d / "r.html" / "f.csv"), ["is not a directory"]),
    "output with another extension": (lambda a, d: _replace(a, "-o", d / "f.xlsx"), [".parquet or .csv"]),
    "output is the log": (lambda a, d: _replace(a, "-o", d / "log.csv"), ["-o/--output", "also an input"]),
    "report is the table": (lambda a, d: _replace(a, "--report", d / "f.parquet"), ["--report", "-o/--output"]),
    "report is the sidecar": (lambda a, d: _replace(a, "--report", d / "f.parquet.meta.json"), ["its sidecar"]),
    "model dir is a file": (lambda a, d: _replace(a, "--model-dir", d / "r.html"), ["--model-dir", "is a file"]),
    "no-fit without model dir": (lambda a, d: [x for x in a if x not in ("--model-dir", str(d / "models"))]
                                 + ["--no-fit"], ["--no-fit", "--model-dir"]),
    "no-fit with an empty model dir": (lambda a, d: _replace(a, "--model-dir", d / "empty") + ["--no-fit"],
                                       ["has no bgnbd.clvm"]),
    "discount rate negative": (lambda a, d: a + ["--discount-rate", "-0.1"], ["--discount-rate -0.1"]),
    "margin zero": (lambda a, d: a + ["--margin", "0"], ["--margin 0"]),
    "interval 1": (lambda a, d: a + ["--interval", "1"], ["--interval 1"]),
    "interval above 1": (lambda a, d: a + ["--interval", "90"], ["--interval 90"]),
    "max draws negative": (lambda a, d: _replace(a, "--max-draws", -5), ["--max-draws -5"]),
    "chains, draws, tune": (lambda a, d: a + ["--chains", "0", "--draws", "-1", "--tune", "0"],
                            ["--chains 0", "--draws -1", "--tune 0"]),
    "target accept": (lambda a, d: a + ["--target-accept", "1"], ["--target-accept 1"]),
    "acquisition cost 0": (lambda a, d: a + ["--acquisition-cost", "0"], ["--acquisition-cost 0"]),
    "missing log": (lambda a, d: ["forecast", str(d / "none.csv")] + a[2:],
                    ["none.csv", "does not exist"]),
    "output where the log folder is read": (lambda a, d: ["forecast", str(d / "logs")] + a[2:] + ["-o", str(d / "logs" / "f.csv")],
                                            ["-o/--output", "next run would read it"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_forecast_exits_2_before_work_and_keeps_outputs(case, run, capsys):
    d = run.dir
    (d / "empty").mkdir()
    (d / "logs").mkdir()
    (d / "logs" / "jan.csv").write_bytes((d / "log.csv").read_bytes())
    before = snapshot(d)
    edit, words = CASES[case]
    argv = edit(_forecast(d), d)
    t0 = time.perf_counter()
    rc = run(*argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    for w in words:
        assert w in err, (w, err)
    assert "Traceback" not in err
    assert snapshot(d) == before  # byte-identical, no debris
    assert time.perf_counter() - t0 < 10  # refused before any fitting


def test_every_problem_of_a_command_line_is_listed_at_once(run, capsys):
    d = run.dir
    argv = _forecast(d, "--discount-rate", "-1", "--interval", "2", "--chains", "0")
    rc = run(*_replace(_replace(argv, "--horizon", 0), "--report", d))
    err = capsys.readouterr().err
    assert rc == 2
    assert "5 problems found in the arguments" in err


def test_margin_above_one_is_a_readable_warning(run, capsys):
    d = run.dir
    rc = run(*_replace(_forecast(d, "--margin", "1.5"), "--horizon", 0))  # stop before the work
    err = capsys.readouterr().err
    assert rc == 2
    assert "clv forecast: warning: --margin 1.5 is above 1" in err
    assert not re.search(r"\.py:\d+", err) and "ArgumentWarning" not in err


def test_validate_and_summarize_refuse_clashing_paths(run, capsys):
    d = run.dir
    before = snapshot(d)
    rc = run("validate", d / "log.csv", *LOG_ARGS, "--calibration-end", "1997-09-30", "--json", d / "v.json",
             "--table", d / "v.json", *FIT)
    assert rc == 2 and "--table" in capsys.readouterr().err
    rc = run("validate", d / "log.csv", *LOG_ARGS, "--calibration-end", "1997-09-30", "--json", d / "log.csv", *FIT)
    assert rc == 2 and "also an input" in capsys.readouterr().err
    rc = run("summarize", d / "log.csv", *LOG_ARGS, "-o", d / "log.csv")
    assert rc == 2 and "also an input" in capsys.readouterr().err
    rc = run("demo", "--out", d / "r.html", "--quiet")
    assert rc == 2 and "--out" in capsys.readouterr().err
    assert snapshot(d) == before


def test_failure_after_the_work_keeps_every_earlier_output(run, monkeypatch, capsys):
    """The report fails after the table, sidecar and models were computed: none of them is replaced."""
    import clvmodels.report

    d = run.dir
    before = snapshot(d)

    def broken(*a, **k):
        raise RuntimeError("the report could not be rendered")

    monkeypatch.setattr(clvmodels.report, "write_report", broken)
    with pytest.raises(RuntimeError):
        run(*_forecast(d, "--seed", "99"))
    assert snapshot(d) == before


def test_no_fit_with_models_of_another_time_unit_is_refused(run, capsys):
    d = run.dir
    before = snapshot(d)
    argv = _replace(_forecast(d, "--no-fit"), "--time-unit", "D")
    rc = run(*_replace(argv, "--horizon", 364))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "weeks" in err and "days" in err
    assert snapshot(d) == before


def _rewrite_model(path: Path, edit_header=None, edit_arrays=None):
    import io

    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("model.json"))
        with np.load(io.BytesIO(zf.read("posterior.npz"))) as npz:
            arrays = {k: npz[k] for k in npz.files}
    if edit_header:
        edit_header(header)
    if edit_arrays:
        edit_arrays(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("posterior.npz", buf.getvalue())


def _nan_draw(arrays):
    arrays["r"] = arrays["r"].copy()
    arrays["r"].flat[3] = np.nan


BAD_MODELS = {
    "NaN draws": dict(edit_arrays=_nan_draw),
    "no time unit": dict(edit_header=lambda h: h.pop("time_unit")),
    "wrong shape": dict(edit_header=lambda h: h.__setitem__("shape", [3, 7])),
    "unknown setting": dict(edit_header=lambda h: h["config"].__setitem__("colour", "blue")),
    "not a zip": None,
}


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_bad_model_files_are_refused_with_exit_2(case, run, capsys):
    d = run.dir
    model = d / "models" / "bgnbd.clvm"
    if BAD_MODELS[case] is None:
        model.write_text("not a model")
    else:
        _rewrite_model(model, **BAD_MODELS[case])
    before = snapshot(d)
    rc = run(*_forecast(d, "--no-fit"))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "bgnbd.clvm" in err and "Traceback" not in err
    assert snapshot(d) == before


def test_json_outputs_are_strict(run, capsys):
    d = run.dir
    rc = run("validate", d / "log.csv", *LOG_ARGS, "--calibration-end", "1997-09-30", "--json", d / "v.json", *FIT)
    assert rc == 0, capsys.readouterr().err

    def refuse(name):
        raise AssertionError(f"{name} in JSON")

    for name in ("v.json", "f.parquet.meta.json"):
        json.loads((d / name).read_text(), parse_constant=refuse)


# -- kills ----------------------------------------------------------------------------------------------
def _clv(*argv) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clvmodels.cli", *map(str, argv)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_the_earlier_outputs(sig, run):
    d = run.dir
    before = snapshot(d)
    argv = _replace(_forecast(d, "--seed", "7", "--draws", "4000"), "--method", "nuts")  # long enough to be killed mid-fit
    argv.remove("--quiet")
    proc = _clv(*argv)
    # kill it once it is fitting (its progress line says so), not after a fixed time: on a loaded machine
    # the interpreter may still be importing after seconds, before clv's handler is installed
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "fitting the purchase model" in line:
            break
    assert proc.poll() is None, "".join(seen)
    time.sleep(0.5)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    # SIGTERM unwinds through clv's handler (exit 128 + 15); SIGKILL cannot be caught
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 143), proc.stderr.read()
    assert snapshot(d) == before


def test_a_later_run_finishes_or_removes_what_a_killed_run_left(run, capsys):
    d = run.dir
    dead = _dead_pid()
    # debris of a run killed while staging, and a run killed half-way through putting outputs in place
    stray = d / f".f.parquet.clv-{dead}-abc123.tmp"
    stray.write_bytes(b"half")
    staged = d / f".r.html.clv-{dead}-xyz789.tmp"
    staged.write_text("<html>the killed run's finished report</html>")
    journal = d / f".clv-commit-{dead}-0badc0de.json"
    journal.write_text(json.dumps({"replace": [[str(staged), str(d / "other.html")]]}))
    rc = run(*_forecast(d))
    assert rc == 0, capsys.readouterr().err
    names = {p.name for p in d.iterdir()}
    assert stray.name not in names and staged.name not in names and journal.name not in names
    assert (d / "other.html").read_text() == "<html>the killed run's finished report</html>"
    assert not [n for n in names if n.startswith(".")]


def test_a_log_of_one_time_buyers_is_refused_with_what_to_do(run, capsys):
    """Nobody has bought twice yet: no model can learn repeat buying; exit 2 with the way out."""
    d = run.dir
    log = pd.read_csv(d / "log.csv").groupby("customer_id").head(1)
    log.to_csv(d / "log.csv", index=False)
    before = snapshot(d)
    rc = run(*_forecast(d))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "no customer made a repeat purchase" in err and "--observation-end" in err
    assert "Traceback" not in err and "overflow" not in err
    assert snapshot(d) == before
