"""engine="auto" for files: the pandas engine when its estimated memory is at most half the memory
available, DuckDB otherwise; the estimate from Parquet footers and CSV sizes; the same summary either way."""
from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

from clvmodels.cli import main
from clvmodels.data import auto_engine, summarize
from clvmodels.datasets import cdnow_sample_path, load_cdnow_sample
from clvmodels.errors import InputError

KW = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
COLUMNS = ["customer_id", "date", "amount"]


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()


@pytest.fixture(scope="module")
def logs(tmp_path_factory, cdnow):
    """The CDNOW sample as Parquet (int64 ids, datetime64 dates, float64 amounts), as Parquet with text
    ids, and as the bundled CSV, gzip-compressed too."""
    d = tmp_path_factory.mktemp("auto")
    parquet, text_ids, gz = d / "log.parquet", d / "text_ids.parquet", d / "log.csv.gz"
    cdnow.to_parquet(parquet, index=False)
    cdnow.assign(customer_id=cdnow["customer_id"].astype(str)).to_parquet(text_ids, index=False)
    with open(cdnow_sample_path(), "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return {"parquet": str(parquet), "text_ids": str(text_ids), "csv": str(cdnow_sample_path()), "csv.gz": str(gz)}


def tiny_memory(monkeypatch, nbytes: int = 1000) -> None:
    monkeypatch.setattr(auto_engine, "available_memory", lambda: nbytes)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_small_file_gets_pandas_and_duckdb_when_memory_is_tiny_with_the_same_summary(logs, kind, monkeypatch):
    fits = summarize(logs[kind], **KW)
    meta = fits.attrs["clvmodels"]
    assert meta["engine"] == "pandas"
    assert meta["engine_reason"].startswith(f"auto: in memory, {'Parquet' if kind == 'parquet' else 'CSV'} log of")
    tiny_memory(monkeypatch)
    big = summarize(logs[kind], **KW)
    assert big.attrs["clvmodels"]["engine"] == "duckdb"
    assert "more than 50% of the 0.0 MB available" in big.attrs["clvmodels"]["engine_reason"]
    pd.testing.assert_frame_equal(fits, big)  # every column, bit for bit
    assert len(fits) == 2357 and int(fits["frequency"].sum()) == 2457  # the published CDNOW summary's


def test_the_estimate_counts_footer_rows_id_spans_and_file_bytes(logs, cdnow, tmp_path):
    n = len(cdnow)  # 6,919 rows of customers 1 to 2,357
    assert pq.read_metadata(logs["parquet"]).num_rows == n == 6919
    assert (cdnow["customer_id"].min(), cdnow["customer_id"].max()) == (1, 2357)
    src = auto_engine.readers.resolve_source
    need, how = auto_engine.estimate_pandas_bytes(src(logs["parquet"]), COLUMNS)
    # integer ids: 40 bytes per row + 260 per slot of the id range, from the footer's statistics
    assert (auto_engine.BYTES_PER_ROW_FIXED, auto_engine.BYTES_PER_SLOT) == (40, 260)
    assert need == 6919 * 40 + 2357 * 260 and "2,357 customer slots (ids 1 to 2,357)" in how
    need, how = auto_engine.estimate_pandas_bytes(src(logs["text_ids"]), COLUMNS)
    assert need == n * auto_engine.BYTES_PER_ROW_TEXT == 6919 * 600 and "text columns" in how
    # two files: their rows add up, the id range is the union's
    shifted = tmp_path / "shifted.parquet"
    cdnow.assign(customer_id=cdnow["customer_id"] + 10_000).to_parquet(shifted, index=False)
    need, _ = auto_engine.estimate_pandas_bytes(src([logs["parquet"], str(shifted)]), COLUMNS)
    assert need == 2 * 6919 * 40 + 12_357 * 260
    # ids spread wider than the pandas engine's dense rule (2 rows + 1 million): one slot per row at most
    sparse = tmp_path / "sparse.parquet"
    cdnow.assign(customer_id=cdnow["customer_id"] * 10**9).to_parquet(sparse, index=False)
    need, how = auto_engine.estimate_pandas_bytes(src(str(sparse)), COLUMNS)
    assert need == 6919 * (40 + 260) and "sparse ids" in how
    # no statistics: the worst case of the two rules, 2 rows + 1 million slots
    bare = tmp_path / "bare.parquet"
    cdnow.to_parquet(bare, index=False, write_statistics=False)
    assert not pq.read_metadata(bare).row_group(0).column(0).is_stats_set
    need, how = auto_engine.estimate_pandas_bytes(src(str(bare)), COLUMNS)
    assert need == 6919 * 40 + (2 * 6919 + 1_000_000) * 260 and "slots unknown" in how
    size = cdnow_sample_path().stat().st_size
    need, _ = auto_engine.estimate_pandas_bytes(src(logs["csv"]), COLUMNS)
    assert need == 20 * size
    # gzip: the larger of the size in its trailer (the whole CSV here) and 10 times the compressed size
    with gzip.open(logs["csv.gz"], "rb") as fh:
        unpacked = len(fh.read())
    assert unpacked == size
    compressed = auto_engine.os.path.getsize(logs["csv.gz"])
    need, _ = auto_engine.estimate_pandas_bytes(src(logs["csv.gz"]), COLUMNS)
    assert need == 20 * max(size, 10 * compressed)


def test_the_threshold_is_half_the_available_memory(logs, monkeypatch):
    need = 6919 * 40 + 2357 * 260
    tiny_memory(monkeypatch, 2 * need)  # exactly half: still comfortable
    assert auto_engine.choose_engine(logs["parquet"], COLUMNS)[0] == "pandas"
    tiny_memory(monkeypatch, 2 * need - 1)
    engine, reason = auto_engine.choose_engine(logs["parquet"], COLUMNS)
    assert engine == "duckdb" and reason == ("auto: Parquet log of 6,919 rows x 40 bytes + 2,357 customer slots "
                                             "(ids 1 to 2,357) x 260 bytes = 0.9 MB, more than 50% of the 1.8 MB "
                                             "available")
    monkeypatch.setattr(auto_engine, "available_memory", lambda: None)
    assert auto_engine.choose_engine(logs["parquet"], COLUMNS)[0] == "duckdb"  # unknown: the bounded engine


def test_available_memory_is_this_machines(monkeypatch):
    with open("/proc/meminfo") as fh:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
    avail = auto_engine.available_memory()
    assert 0 < avail <= info["MemTotal"]
    # a cgroup limit lowers it to the room left under the limit
    monkeypatch.setattr(auto_engine, "_cgroup_room", lambda: 12345)
    assert auto_engine.available_memory() == 12345


def test_duckdb_settings_mean_duckdb(logs):
    s = summarize(logs["parquet"], duckdb_config={"threads": 1}, **KW)
    assert (s.attrs["clvmodels"]["engine"], s.attrs["clvmodels"]["engine_reason"]) == ("duckdb",
                                                                                       "auto: duckdb_config given")


def test_a_missing_file_is_still_reported_by_the_engine(tmp_path):
    missing = str(tmp_path / "nope.parquet")
    assert auto_engine.choose_engine(missing, COLUMNS) == ("duckdb", "auto: could not size the log (InputError)")
    with pytest.raises(InputError, match="does not exist"):
        summarize(missing, **KW)


def test_cli_prints_the_engine_and_why(logs, tmp_path, monkeypatch, capsys):
    tiny_memory(monkeypatch)
    out = tmp_path / "s.parquet"
    assert main(["summarize", logs["parquet"], "--observation-end", "1998-06-30", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "(duckdb engine" in err and "duckdb engine: auto: Parquet log of 6,919 rows" in err
    assert "more than 50% of the 0.0 MB available" in err
