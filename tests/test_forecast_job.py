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


def test_columns_describe_themselves_in_the_parquet_schema_and_the_sidecar(job, cdnow_transactions):
    import pyarrow.parquet as pq

    schema = pq.read_schema(job / "f.parquet")
    side = json.loads((job / "f.parquet.meta.json").read_text())
    assert set(side["columns"]) == set(schema.names)
    for name in schema.names:
        md = schema.field(name).metadata
        assert md is not None, name
        assert md[b"description"].decode() == side["columns"][name]["description"] != ""
        assert md[b"unit"].decode() == side["columns"][name]["unit"]
    unit = lambda c: schema.field(c).metadata[b"unit"].decode()  # noqa: E731
    assert "currency" in unit("clv") and "currency" in unit("historical_clv") and "currency" in unit("clv_upper")
    assert unit("p_any_purchase") == unit("p_alive_lower") == "probability"
    assert unit("recency") == unit("T") == "weeks" and unit("expected_purchases") == "purchases"
    assert "52W" in schema.field("clv").metadata[b"description"].decode()
    assert "0.95 quantile" in schema.field("clv_upper").metadata[b"description"].decode()
    assert side["horizon"] == {"value": "52W", "unit": "W", "periods": 52}
    # last_purchase: the date of the customer's last purchase in the log
    t = pd.read_parquet(job / "f.parquet")
    last = cdnow_transactions.groupby("customer_id")["date"].max()
    got = pd.to_datetime(t.set_index("customer_id")["last_purchase"])
    assert (got.dt.normalize() == pd.to_datetime(last.reindex(got.index)).dt.normalize()).all()


def test_new_customer_and_segments_in_the_metadata(job):
    from clvmodels.pipeline import load_models
    from clvmodels.value import new_customer_value

    meta = read_table_metadata(job / "f.parquet")
    side = json.loads((job / "f.parquet.meta.json").read_text())
    bg, gg = load_models(job / "models")
    want = new_customer_value(bg, gg, "52W", discount_rate=0.1, max_draws=200)
    for m in (meta, side):
        nc = m["new_customer"]
        for k in ("expected_purchases", "clv", "clv_lower", "clv_upper", "max_acquisition_cost"):
            assert nc[k] == pytest.approx(want[k], rel=1e-12), k
        assert nc["horizon"] == "52W" and nc["time_unit"] == "W" and "clv_cac_ratio" not in nc
        assert nc["clv_lower"] < nc["clv"] < nc["clv_upper"]
    t = pd.read_parquet(job / "f.parquet")
    seg = side["segments"]
    assert seg == meta["segments"]
    assert sum(v["customers"] for k, v in seg.items() if k != "all") == seg["all"]["customers"] == len(t)
    for name, v in seg.items():
        rows = t if name == "all" else t[t["segment"].astype(str) == name]
        assert v["customers"] == len(rows)
        # the posterior mean of a total is the sum of the customers' posterior means
        assert v["clv_total"] == pytest.approx(rows["clv"].sum(), rel=1e-9)
        assert v["historical_clv_total"] == pytest.approx(rows["historical_clv"].sum(), rel=1e-12)
        assert v["clv_mean"] == pytest.approx(rows["clv"].mean(), rel=1e-9)
        # the interval of a total from the joint draws is far narrower than the sum of the customers' bounds
        assert rows["clv_lower"].sum() < v["clv_total_lower"] < v["clv_total"] < v["clv_total_upper"] < rows["clv_upper"].sum()


def test_acquisition_cost_gives_the_payback_figures(cdnow_transactions):
    import clvmodels

    res = clvmodels.forecast(cdnow_transactions, observation_end="1998-06-30", time_unit="W", horizon="26W",
                             margin=0.3, acquisition_cost=4.0, method="map", seed=5, max_draws=100, progress=False,
                             currency="USD")
    nc = res.metadata["new_customer"]
    assert nc["acquisition_cost"] == 4.0 and nc["clv_cac_ratio"] == pytest.approx(nc["clv"] / 4.0)
    assert nc["max_acquisition_cost_prudent"] == nc["clv_lower"] < nc["max_acquisition_cost"] == nc["clv"]
    assert nc["margin"] == 0.3 and nc["horizon"] == "26W"
    assert res.metadata["columns"]["clv"]["unit"] == "USD"
    assert res.metadata["columns"]["clv_cac_ratio"]["unit"] == "ratio"
