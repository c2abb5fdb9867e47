"""`clv summarize`: output files (atomic, with metadata), exit code 2 and every problem for bad input,
and a failed run that leaves an earlier good output untouched."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from clvmodels.cli import add_transaction_arguments, main, summarize_kwargs
from clvmodels.data import summarize
from clvmodels.datasets import cdnow_sample_path, load_cdnow_summary
from clvmodels.io.atomic import read_table_metadata

CDNOW = str(cdnow_sample_path())


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("ext", ["parquet", "csv"])
def test_summarize_cdnow_writes_the_summary_and_its_metadata(tmp_path, ext, capsys):
    out = tmp_path / f"summary.{ext}"
    rc = main(["summarize", CDNOW, "--observation-end", "1998-06-30", "--calibration-end", "1997-09-30",
               "--time-unit", "W", "-o", str(out)])
    assert rc == 0
    table = pd.read_parquet(out) if ext == "parquet" else pd.read_csv(out)
    published = load_cdnow_summary()
    assert len(table) == 2357 and list(table.columns[:4]) == ["customer_id", "frequency", "recency", "T"]
    assert (table.set_index("customer_id")["frequency"] == published["x"]).all()
    assert "frequency_holdout" in table.columns and table["frequency_holdout"].sum() == 1882
    meta = json.loads((tmp_path / f"summary.{ext}.meta.json").read_text())
    assert meta["time_unit"] == "W" and meta["calibration_end"] == "1997-09-30"
    # --engine auto: the small CSV log fits in memory, so the pandas engine ran, and the sidecar says why
    assert meta["engine"] == "pandas" and meta["engine_reason"].startswith("auto: in memory, CSV log of")
    if ext == "parquet":
        assert read_table_metadata(out)["n_customers"] == 2357
    err = capsys.readouterr().err
    assert "2,357 customers (pandas engine" in err and "pandas engine: auto: in memory, CSV log of" in err
    assert leftovers(tmp_path) == []


def test_cli_matches_the_python_api_with_every_option(tmp_path):
    log = tmp_path / "log.csv"
    pd.DataFrame({"cust": ["x", "x", "y", "x"], "when": ["20240101", "20240105", "20240102", "20240110"],
                  "value": [10.0, -2.0, 5.0, 3.5]}).to_csv(log, index=False)
    out = tmp_path / "s.csv"
    args = ["summarize", str(log), "--customer-id", "cust", "--date", "when", "--amount", "value",
            "--observation-end", "2024-01-31", "--calibration-end", "2024-01-07", "--time-unit", "D",
            "--time-mode", "periods", "--negative-amounts", "net", "--engine", "pandas",
            "--date-format", "%Y%m%d", "-o", str(out), "--quiet"]
    assert main(args) == 0
    api = summarize(str(log), customer_id="cust", date="when", amount="value", observation_end="2024-01-31",
                    calibration_end="2024-01-07", time_unit="D", time_mode="periods", negative_amounts="net",
                    engine="pandas", date_format="%Y%m%d")
    table = pd.read_csv(out, index_col="customer_id")
    # x: 01-01 purchase, 01-05 a return only (not a purchase occasion, but netted), 01-10 in the holdout
    assert table["frequency"].tolist() == api["frequency"].tolist() == [0, 0]
    assert table["frequency_holdout"].tolist() == api["frequency_holdout"].tolist() == [1, 0]
    assert table["historical_clv"].tolist() == api["historical_clv"].tolist() == [8.0, 5.0]
    assert json.loads((tmp_path / "s.csv.meta.json").read_text())["negative_amounts"] == "net"


def test_bad_input_exits_2_with_every_problem_and_keeps_the_good_output(tmp_path, capsys):
    out = tmp_path / "summary.parquet"
    assert main(["summarize", CDNOW, "--observation-end", "1998-06-30", "-o", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    meta_before = (tmp_path / "summary.parquet.meta.json").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,2024-01-01,10\n,2024-01-02,5\n2,someday,abc\n3,2024-09-01,-1\n")
    capsys.readouterr()
    rc = main(["summarize", str(bad), "--observation-end", "2024-06-30", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "clv summarize: bad input" in err and "5 problems found" in err
    for fragment in ("column 'customer_id': missing customer ids", "column 'date': unparseable dates",
                     "someday", "column 'amount': non-numeric amounts", "abc",
                     "column 'amount': negative amounts", "1 transaction is after the observation end 2024-06-30",
                     "bad.csv"):
        assert fragment in err, fragment
    assert out.read_bytes() == before  # the earlier good output is untouched
    assert (tmp_path / "summary.parquet.meta.json").read_text() == meta_before
    assert leftovers(tmp_path) == []


def test_unknown_output_extension_fails_before_any_work(tmp_path, capsys):
    rc = main(["summarize", CDNOW, "--observation-end", "1998-06-30", "-o", str(tmp_path / "s.xlsx")])
    assert rc == 2 and ".parquet or .csv" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_excluded_customers_are_reported_on_stderr(tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("customer_id,date,amount\n1,2024-01-01,1\n2,2024-02-15,1\n")
    rc = main(["summarize", str(log), "--observation-end", "2024-02-29", "--calibration-end", "2024-01-31",
               "-o", str(tmp_path / "s.csv"), "--quiet"])
    assert rc == 0
    assert "warning: 1 customer made their first purchase after calibration_end" in capsys.readouterr().err


def test_several_files_and_globs(tmp_path):
    tx = pd.read_csv(CDNOW)
    tx.iloc[:3000].to_csv(tmp_path / "a.csv", index=False)
    tx.iloc[3000:].to_csv(tmp_path / "b.csv", index=False)
    out1, out2 = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main(["summarize", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--observation-end", "1998-06-30",
                 "-o", str(out1), "--quiet"]) == 0
    assert main(["summarize", str(tmp_path / "[ab].csv"), "--observation-end", "1998-06-30",
                 "-o", str(out2), "--quiet"]) == 0
    assert out1.read_text() == out2.read_text()
    assert len(pd.read_csv(out1)) == 2357


def test_add_transaction_arguments_is_reusable():
    parser = argparse.ArgumentParser()
    add_transaction_arguments(parser)
    parser.add_argument("--horizon")
    args = parser.parse_args(["log.parquet", "--observation-end", "2024-01-31", "--time-unit", "M",
                              "--engine", "duckdb", "--horizon", "12", "--time-mode", "periods"])
    kw = summarize_kwargs(args)
    assert kw == dict(transactions="log.parquet", customer_id="customer_id", date="date", amount="amount",
                      observation_end="2024-01-31", time_unit="M", negative_amounts="error", zero_amounts="keep",
                      engine="duckdb", date_format=None, time_mode="periods")
    assert summarize_kwargs(parser.parse_args(["l.csv", "--observation-end", "2024-01-31"]))["time_mode"] == "continuous"
    with pytest.raises(SystemExit):
        parser.parse_args(["log.parquet"])  # --observation-end is required


def _clv_executable() -> str | None:
    candidate = Path(sys.executable).parent / "clv"
    return str(candidate) if candidate.exists() else shutil.which("clv")


@pytest.mark.skipif(_clv_executable() is None, reason="the clv entry point is not installed")
def test_real_subprocess(tmp_path):
    exe = _clv_executable()
    out = tmp_path / "s.parquet"
    ok = subprocess.run([exe, "summarize", CDNOW, "--observation-end", "1998-06-30", "-o", str(out)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_parquet(out)) == 2357
    stamp = os.stat(out).st_mtime_ns
    bad = subprocess.run([exe, "summarize", CDNOW, "--observation-end", "1997-09-30", "-o", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "1959 transactions are after the observation end 1997-09-30" in bad.stderr
    assert "cdnow_sample.csv" in bad.stderr and "Traceback" not in bad.stderr
    assert os.stat(out).st_mtime_ns == stamp and leftovers(tmp_path) == []
