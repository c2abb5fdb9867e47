"""Choosing the transaction model on the command line: --model on clv forecast, the model file named
after the model, --no-fit finding the saved model by itself in a fresh interpreter, and the choices
checked before any work."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.datasets import cdnow_sample_path

ARGS = ["--observation-end", "1998-06-30", "--time-unit", "W", "--horizon", "26", "--method", "map", "--seed", "2",
        "--max-draws", "200", "--quiet"]


def _clv(*argv) -> subprocess.CompletedProcess:
    """clv in a fresh interpreter: nothing of the model's package imported beforehand."""
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", *map(str, argv)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def mbgnbd_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mbgnbd")
    rc = main(["forecast", str(cdnow_sample_path()), *ARGS, "--model", "mbgnbd", "-o", str(d / "f.parquet"),
               "--model-dir", str(d / "models")])
    assert rc == 0
    return d


def test_the_model_file_is_named_after_the_model_and_the_table_says_which(mbgnbd_run):
    d = mbgnbd_run
    assert sorted(p.name for p in (d / "models").iterdir()) == ["gamma_gamma.clvm", "mbgnbd.clvm"]
    meta = json.loads((d / "f.parquet.meta.json").read_text())
    assert meta["purchase_model"] == "mbgnbd" and "mbgnbd" in meta["models"] and "bgnbd" not in meta["models"]
    table = pd.read_parquet(d / "f.parquet")
    # the MBG/NBD lets customers without repeat purchases be gone (the BG/NBD says 1 for all of them)
    assert (table.loc[table["frequency"] == 0, "p_alive"] < 0.999).all()


def test_no_fit_finds_the_saved_model_in_a_fresh_interpreter(mbgnbd_run):
    d = mbgnbd_run
    res = _clv("forecast", cdnow_sample_path(), *ARGS, "--no-fit", "--model-dir", d / "models", "-o", d / "g.parquet")
    assert res.returncode == 0, res.stderr
    a, b = pd.read_parquet(d / "f.parquet"), pd.read_parquet(d / "g.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_an_unknown_model_and_an_ambiguous_model_dir_exit_2_naming_the_option(mbgnbd_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse's choices: exit 2 before any work
        main(["forecast", str(cdnow_sample_path()), *ARGS, "--model", "pareto", "-o", str(tmp_path / "f.parquet")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--model" in err and "bgnbd" in err and "mbgnbd" in err
    models = tmp_path / "models"
    models.mkdir()
    for f in ("mbgnbd.clvm", "gamma_gamma.clvm"):
        (models / f).write_bytes((mbgnbd_run / "models" / f).read_bytes())
    (models / "bgnbd.clvm").write_bytes((mbgnbd_run / "models" / "mbgnbd.clvm").read_bytes())
    rc = main(["forecast", str(cdnow_sample_path()), *ARGS, "--no-fit", "--model-dir", str(models),
               "-o", str(tmp_path / "g.parquet")])
    err = capsys.readouterr().err
    assert rc == 2 and "several fitted purchase models" in err and "--model" in err
    assert not (tmp_path / "g.parquet").exists()
    # naming one of them is enough
    rc = main(["forecast", str(cdnow_sample_path()), *ARGS, "--no-fit", "--model-dir", str(models), "--model",
               "mbgnbd", "-o", str(tmp_path / "g.parquet")])
    assert rc == 0


def test_without_target_accept_each_model_samples_at_its_own_default(mbgnbd_run, tmp_path):
    """The Pareto/NBD's (s, beta) ridge needs target_accept 0.95, the MBG/NBD 0.9; the BG/NBD samples at 0.8.
    A command line without --target-accept must not override the model's own default (it used to pass 0.8),
    nor must an estimator built in Python without one."""
    meta = json.loads((mbgnbd_run / "f.parquet.meta.json").read_text())
    assert meta["settings"]["target_accept"] == 0.9
    rc = main(["forecast", str(cdnow_sample_path()), *ARGS, "--model", "pnbd", "-o", str(tmp_path / "p.parquet")])
    assert rc == 0
    meta = json.loads((tmp_path / "p.parquet.meta.json").read_text())
    assert meta["settings"]["target_accept"] == 0.95 and meta["purchase_model"] == "pnbd"
    from clvmodels.models.pareto_nbd import ParetoNBDModel

    assert ParetoNBDModel(target_accept=None)._config().target_accept == 0.95
    assert ParetoNBDModel()._config().target_accept == 0.95
    assert ParetoNBDModel(target_accept=0.9)._config().target_accept == 0.9
