"""The forecast batch job and its Python twin: fixed columns, metadata, saved models, reproducibility,
atomic output and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.datasets import cdnow_sample_path
from clvmodels.io.atomic import read_table_metadata
from clvmodels.scoring import FORECAST_COLUMNS

REQUIRED = ["customer_id", "frequency", "recency", "T", "monetary_value", "historical_clv", "p_alive",
            "expected_purchases", "expected_purchases_lower", "expected_purchases_upper", "purchases_lower",
            "purchases_upper", "expected_spend", "clv", "clv_lower", "clv_upper", "segment"]

ARGS = [str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--time-unit", "W", "--horizon", "52",
        "--method", "map", "--seed", "5", "--discount-rate", "0.1", "--max-draws", "200", "--quiet"]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    d = tmp_path_factory.mktemp("forecast")
    rc = main(["forecast", *ARGS, "-o", str(d / "f.parquet"), "--model-dir", str(d / "models")])
    assert rc == 0
    return d


def test_table_has_fixed_columns_and_one_row_per_customer(job):
    t = pd.read_parquet(job / "f.parquet")
    assert set(REQUIRED) <= set(t.columns)
    assert list(t.columns[:len(FORECAST_COLUMNS)]) == FORECAST_COLUMNS
    assert len(t) == 2357 and t["customer_id"].is_unique
    assert (t["clv_lower"] <= t["clv"]).all() and (t["clv"] <= t["clv_upper"]).all()
    assert (t["purchases_lower"] <= t["purchases_upper"]).all()
    assert t["p_alive"].between(0, 1).all()
    assert set(t["segment"].astype(str)) <= {"at risk", "high value", "medium value", "low value"}


def test_metadata_is_stored_with_the_table(job):
    meta = read_table_metadata(job / "f.parquet")
    side = json.loads((job / "f.parquet.meta.json").read_text())
    for m in (meta, side):
        assert m["settings"]["horizon"] == "52W" and m["settings"]["discount_rate"] == 0.1
        assert m["interval"] == 0.9 and m["time_unit"] == "W"
        assert "pymc" in m["versions"] and "numpy" in m["versions"]
        assert m["models"]["bgnbd"]["diagnostics"]["method"] == "map"
        assert set(m["models"]["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}


def test_saved_models_score_without_refit(job, tmp_path):
    assert (job / "models" / "bgnbd.clvm").exists() and (job / "models" / "gamma_gamma.clvm").exists()
    # model files hold parameter draws only: small whatever the number of customers
    assert (job / "models" / "bgnbd.clvm").stat().st_size < 200_000
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "g.csv"), "--model-dir", str(job / "models"), "--no-fit"])
    assert rc == 0
    a = pd.read_parquet(job / "f.parquet")
    b = pd.read_csv(tmp_path / "g.csv")
    np.testing.assert_allclose(a["clv"], b["clv"], rtol=1e-9)
    np.testing.assert_allclose(a["p_alive"], b["p_alive"], rtol=1e-9)


def test_same_seed_same_table(job, tmp_path):
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "again.parquet")])
    assert rc == 0
    pd.testing.assert_frame_equal(pd.read_parquet(job / "f.parquet"), pd.read_parquet(tmp_path / "again.parquet"))


def test_bad_input_exits_2_and_keeps_the_last_good_table(job, tmp_path, capsys):
    out = tmp_path / "keep.parquet"
    good = pd.read_parquet(job / "f.parquet")
    good.to_parquet(out)
    before = out.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,2020-01-01,10\n2,not-a-date,-5\n3,2020-02-01,\n")
    rc = main(["forecast", str(bad), "--observation-end", "2020-12-31", "--horizon", "52", "-o", str(out),
               "--method", "map", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "'date'" in err and "not-a-date" in err and "'amount'" in err
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".keep.parquet")]
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "table.xlsx")])
    assert rc == 2 and ".parquet or .csv" in capsys.readouterr().err


def test_cli_entry_point_runs_as_a_program(tmp_path):
    exe = Path(sys.executable).with_name("clv")
    if not exe.exists():
        pytest.skip("the clv entry point is not installed in this environment")
    res = subprocess.run([str(exe), "forecast", "nope.csv", "--observation-end", "2020-01-01", "--horizon", "4",
                          "-o", str(tmp_path / "x.parquet")], capture_output=True, text=True)
    assert res.returncode == 2
    assert "nope.csv" in res.stderr


def test_python_forecast_matches_cli(job, cdnow_transactions):
    import clvmodels

    res = clvmodels.forecast(cdnow_transactions, observation_end="1998-06-30", time_unit="W", horizon="52W",
                             discount_rate=0.1, method="map", seed=5, max_draws=200, progress=False)
    cli = pd.read_parquet(job / "f.parquet")
    np.testing.assert_allclose(res.table["clv"].to_numpy(), cli["clv"].to_numpy(), rtol=1e-9)
    assert list(res.table.columns) == list(cli.columns)
