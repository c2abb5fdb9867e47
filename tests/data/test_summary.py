"""summarize(): the published CDNOW summary reproduced exactly, both engines identical, and the
definitions (same-day merging, inclusive ends, periods, calibration/holdout, returns) on small logs
whose answers are worked out by hand."""
from __future__ import annotations

import warnings
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import ExcludedCustomersWarning, summarize
from clvmodels.data import readers
from clvmodels.datasets import cdnow_sample_path, load_cdnow_sample, load_cdnow_summary

COLUMNS = ["frequency", "recency", "T", "monetary_value", "historical_clv", "n_transactions",
           "first_purchase", "last_purchase", "time_since_last_purchase", "first_purchase_value"]
HOLDOUT = ["frequency_holdout", "monetary_value_holdout", "spend_holdout", "duration_holdout"]


def half_up(x: float) -> float:
    """Round to cents half up, as the published file does (9 decimals first removes float noise)."""
    return float(Decimal(f"{x:.9f}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()


@pytest.fixture(scope="module")
def published():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def cdnow_splits(cdnow):
    """The CDNOW sample, 39-week calibration to 1997-09-30, holdout to 1998-06-30, from each engine and
    from the DataFrame and the bundled CSV."""
    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    return {
        "pandas-frame": summarize(cdnow, engine="pandas", **kw),
        "duckdb-frame": summarize(cdnow, engine="duckdb", **kw),
        "pandas-csv": summarize(str(cdnow_sample_path()), engine="pandas", **kw),
        "duckdb-csv": summarize(str(cdnow_sample_path()), engine="duckdb", **kw),
    }


# --- the published CDNOW summary ------------------------------------------------------------------
@pytest.mark.parametrize("which", ["pandas-frame", "duckdb-frame", "pandas-csv", "duckdb-csv"])
def test_reproduces_published_cdnow_summary(cdnow_splits, published, which):
    s = cdnow_splits[which]
    assert len(s) == len(published) == 2357
    assert s.index.equals(published.index.rename("customer_id"))
    assert (s["frequency"] == published["x"]).all()
    assert int(s["frequency"].sum()) == 2457 and int((s["frequency"] > 0).sum()) == 946
    # t_x and T to two decimals, exactly; zbar rounded half up to cents equals the published value
    assert [half_up(v) for v in s["recency"]] == published["t_x"].tolist()
    assert [half_up(v) for v in s["T"]] == published["T"].tolist()
    assert [half_up(v) for v in s["monetary_value"]] == published["zbar"].tolist()
    assert np.abs(s["monetary_value"] - published["zbar"]).max() <= 0.005 + 1e-9


def test_cdnow_without_split_on_the_calibration_rows(cdnow, published):
    calib = cdnow[cdnow["date"] <= "1997-09-30"]
    s = summarize(calib, observation_end="1997-09-30", time_unit="W")
    assert (s["frequency"] == published["x"]).all()
    assert np.allclose(s["recency"], published["t_x"], atol=0.005)
    assert np.allclose(s["T"], published["T"], atol=0.005)
    # first purchases on 1997-01-01 have T = 272 days / 7
    assert s.loc[1, "T"] == 272 / 7
    assert s.loc[1, "recency"] == 213 / 7


def test_cdnow_holdout_columns(cdnow_splits):
    s = cdnow_splits["pandas-frame"]
    # REFERENCE.md: 1,882 repeat purchases (distinct purchase days) in the 39-week holdout
    assert int(s["frequency_holdout"].sum()) == 1882
    assert (s["duration_holdout"] == 273 / 7).all()  # 1997-10-01 .. 1998-06-30 is 273 days = 39 weeks
    cdnow = load_cdnow_sample()
    hold = cdnow[cdnow["date"] > "1997-09-30"]
    assert s["spend_holdout"].sum() == pytest.approx(hold["amount"].sum(), abs=1e-6)
    # customer 1: one holdout purchase of $26.48 on 1997-12-12
    assert s.loc[1, ["frequency_holdout", "monetary_value_holdout", "spend_holdout"]].tolist() == [1, 26.48, 26.48]


def test_engines_and_sources_give_identical_summaries(cdnow_splits, tmp_path, cdnow):
    ref = cdnow_splits["pandas-frame"]
    for name, other in cdnow_splits.items():
        pd.testing.assert_frame_equal(ref, other, check_exact=True, obj=name)
    # Parquet, split over several files given as a glob, and as a directory
    shuffled = cdnow.sample(frac=1, random_state=3)
    for i, part in enumerate(np.array_split(np.arange(len(shuffled)), 3)):
        shuffled.iloc[part].to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    for src in (str(tmp_path / "part-*.parquet"), str(tmp_path)):
        for engine in ("pandas", "duckdb"):
            s = summarize(src, observation_end="1998-06-30", calibration_end="1997-09-30", engine=engine)
            pd.testing.assert_frame_equal(ref, s, check_exact=True, obj=f"{engine} {src}")


def test_columns_dtypes_index_and_attrs(cdnow_splits):
    s = cdnow_splits["duckdb-csv"]
    assert list(s.columns) == COLUMNS + HOLDOUT
    assert s.index.name == "customer_id" and s.index.is_monotonic_increasing and s.index.is_unique
    assert s.index.dtype == np.int64
    assert s["frequency"].dtype == np.int64 and s["n_transactions"].dtype == np.int64
    assert s["frequency_holdout"].dtype == np.int64
    for c in ("recency", "T", "monetary_value", "historical_clv", "time_since_last_purchase", "duration_holdout",
              "monetary_value_holdout", "spend_holdout"):
        assert s[c].dtype == np.float64, c
    assert pd.api.types.is_datetime64_dtype(s["first_purchase"])
    assert pd.api.types.is_datetime64_dtype(s["last_purchase"])
    meta = s.attrs["clvmodels"]
    assert meta["time_unit"] == "W" and meta["time_mode"] == "continuous"
    assert meta["observation_end"] == "1998-06-30" and meta["calibration_end"] == "1997-09-30"
    assert meta["engine"] == "duckdb" and meta["n_customers"] == 2357 and meta["excluded_new_in_holdout"] == 0
    # 8 first purchases worth $0 (kept: the published summary counts them), none a repeat purchase
    assert meta["zero_amounts"] == "keep" and meta["n_zero_amounts"] == 8 and meta["n_zero_spend_repeat"] == 0
    assert set(meta) == {"time_unit", "time_mode", "observation_end", "calibration_end", "engine", "n_customers",
                         "excluded_new_in_holdout", "excluded_returns_only", "negative_amounts",
                         "n_negative_amounts", "zero_amounts", "n_zero_amounts", "n_zero_spend_repeat",
                         "exact_money_decimals", "engine_reason"}
    assert meta["engine_reason"] == "engine='duckdb' requested"
    assert cdnow_splits["pandas-frame"].attrs["clvmodels"]["engine"] == "pandas"


def test_rfm_recency_is_a_separate_column(cdnow_splits):
    s = cdnow_splits["pandas-frame"]
    assert np.allclose(s["time_since_last_purchase"], s["T"] - s["recency"], rtol=0, atol=1e-12)
    # customer 1: bought 1997-01-01, 01-18, 08-02: BTYD recency 213 days, 59 days since the last purchase
    assert s.loc[1, "recency"] == 213 / 7 and s.loc[1, "time_since_last_purchase"] == 59 / 7
    assert s.loc[1, "historical_clv"] == pytest.approx(29.33 + 29.73 + 14.96, abs=1e-12)
    assert s.loc[1, "last_purchase"] == pd.Timestamp("1997-08-02")


def test_auto_engine_picks_pandas_for_frames_and_for_files_that_fit_in_memory(cdnow):
    # the choice for files, and DuckDB for those that do not fit: tests/data/test_auto_engine.py
    small = cdnow[cdnow["date"] <= "1997-03-31"]
    meta = summarize(small, observation_end="1997-03-31").attrs["clvmodels"]
    assert meta["engine"] == "pandas" and meta["engine_reason"] == "auto: a DataFrame, already in memory"
    s = summarize(str(cdnow_sample_path()), observation_end="1998-06-30")
    assert s.attrs["clvmodels"]["engine"] == "pandas"
    assert s.attrs["clvmodels"]["engine_reason"].startswith("auto: in memory, CSV log of")


def test_duckdb_engine_never_loads_the_log_into_pandas(monkeypatch, tmp_path, cdnow):
    path = tmp_path / "log.parquet"
    cdnow.to_parquet(path, index=False)
    ref = summarize(cdnow, observation_end="1998-06-30", engine="pandas")

    def forbidden(*a, **k):
        raise AssertionError("the DuckDB engine must not read the log with pandas")

    monkeypatch.setattr(readers, "read_pandas", forbidden)
    monkeypatch.setattr(pd, "read_parquet", forbidden)
    monkeypatch.setattr(pd, "read_csv", forbidden)
    spill = tmp_path / "spill"
    s = summarize(str(path), observation_end="1998-06-30", engine="duckdb",
                  duckdb_config={"memory_limit": "64MB", "temp_directory": str(spill), "threads": 1})
    pd.testing.assert_frame_equal(ref, s, check_exact=True)


# --- definitions on hand-made logs ----------------------------------------------------------------
def log(rows, **kw):
    df = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def both(df, **kw):
    """Summaries from both engines, checked identical; returns the pandas one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        a = summarize(df, engine="pandas", **kw)
        b = summarize(df, engine="duckdb", **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    return a


def test_same_day_purchases_are_one_occasion_and_values_add():
    df = log([(7, "2024-01-01", 10.0), (7, "2024-01-01", 5.0), (7, "2024-01-03", 2.0), (7, "2024-01-03", 4.0),
              (7, "2024-01-10", 1.5)])
    s = both(df, observation_end="2024-01-15", time_unit="D")
    row = s.loc[7]
    assert row["frequency"] == 2 and row["n_transactions"] == 5
    assert row["recency"] == 9.0 and row["T"] == 14.0 and row["time_since_last_purchase"] == 5.0
    assert row["monetary_value"] == pytest.approx((6.0 + 1.5) / 2)  # repeat occasions: 6.0 and 1.5
    assert row["historical_clv"] == pytest.approx(22.5)


def test_observation_end_is_inclusive_and_times_of_day_are_ignored():
    df = pd.DataFrame({"customer_id": ["a", "a"], "amount": [1.0, 2.0],
                       "date": pd.to_datetime(["2024-03-01 23:59:00", "2024-03-08 00:01:00"])})
    s = both(df, observation_end="2024-03-08", time_unit="W")
    assert s.loc["a", "frequency"] == 1 and s.loc["a", "recency"] == 1.0 and s.loc["a", "T"] == 1.0
    assert s.index.dtype == "str"


def test_time_units():
    df = log([(1, "2024-01-01", 1.0), (1, "2024-01-15", 1.0)])
    for unit, days in (("D", 1.0), ("W", 7.0), ("M", 365.25 / 12)):
        s = both(df, observation_end="2024-03-01", time_unit=unit)
        assert s.loc[1, "recency"] == 14 / days and s.loc[1, "T"] == 60 / days
        assert s.attrs["clvmodels"]["time_unit"] == unit


def test_periods_mode_weeks_start_on_monday_and_months_are_calendar_months():
    # 2024-01-01 is a Monday: Mon 01-01 and Sun 01-07 share a week, Mon 01-08 starts the next
    df = log([(1, "2024-01-01", 10.0), (1, "2024-01-07", 5.0), (1, "2024-01-08", 3.0), (1, "2024-02-29", 4.0)])
    w = both(df, observation_end="2024-03-03", time_unit="W", time_mode="periods")
    assert w.loc[1, "frequency"] == 2  # weeks of 01-01, 01-08 and 02-26
    assert w.loc[1, "recency"] == 8.0 and w.loc[1, "T"] == 8.0  # 03-03 is the Sunday of 02-29's week
    assert w.loc[1, "monetary_value"] == pytest.approx(3.5)
    m = both(df, observation_end="2024-03-31", time_unit="M", time_mode="periods")
    assert m.loc[1, "frequency"] == 1 and m.loc[1, "recency"] == 1.0 and m.loc[1, "T"] == 2.0
    assert m.loc[1, "monetary_value"] == pytest.approx(4.0)  # January merged (18.0) is the first purchase
    assert m.loc[1, "first_purchase"] == pd.Timestamp("2024-01-01")
    assert m.loc[1, "last_purchase"] == pd.Timestamp("2024-02-29")
    c = both(df, observation_end="2024-03-31", time_unit="M")
    assert c.loc[1, "frequency"] == 3  # continuous time: every purchase day counts
    assert m.attrs["clvmodels"]["time_mode"] == "periods"


def test_periods_mode_before_1970_floors_correctly():
    # 1969-12-29 is a Monday: 12-29 and 1970-01-04 (Sunday) share a week
    df = log([(1, "1969-12-29", 1.0), (1, "1970-01-04", 1.0), (1, "1970-01-05", 1.0)])
    s = both(df, observation_end="1970-01-05", time_unit="W", time_mode="periods")
    assert s.loc[1, "frequency"] == 1 and s.loc[1, "recency"] == 1.0


def test_calibration_split_excludes_new_customers_with_a_warning():
    df = log([(1, "2024-01-01", 10.0), (1, "2024-02-10", 5.0), (1, "2024-02-10", 1.0), (1, "2024-02-20", 4.0),
              (2, "2024-01-15", 3.0), (3, "2024-02-05", 8.0), (4, "2024-02-06", 2.0)])
    kw = dict(observation_end="2024-02-29", calibration_end="2024-01-31", time_unit="D")
    with pytest.warns(ExcludedCustomersWarning, match="2 customers made their first purchase after calibration_end"):
        s = summarize(df, **kw)
    assert list(s.index) == [1, 2]
    assert s.attrs["clvmodels"]["excluded_new_in_holdout"] == 2
    assert s.loc[1, "T"] == 30.0 and s.loc[1, "frequency"] == 0
    assert s.loc[1, "frequency_holdout"] == 2  # 02-10 (two rows, one occasion) and 02-20
    assert s.loc[1, "monetary_value_holdout"] == pytest.approx(5.0)
    assert s.loc[1, "spend_holdout"] == pytest.approx(10.0)
    assert (s["duration_holdout"] == 29.0).all()
    assert s.loc[1, "n_transactions"] == 1 and s.loc[1, "historical_clv"] == 10.0
    both(df, **kw)


def test_calibration_end_day_belongs_to_the_calibration():
    df = log([(1, "2024-01-01", 1.0), (1, "2024-01-31", 2.0), (1, "2024-02-01", 4.0)])
    s = both(df, observation_end="2024-02-29", calibration_end="2024-01-31", time_unit="D")
    assert s.loc[1, "frequency"] == 1 and s.loc[1, "frequency_holdout"] == 1


def test_negative_amounts_drop_and_net():
    df = log([(1, "2024-01-01", 10.0), (1, "2024-01-05", 6.0), (1, "2024-01-05", -2.0), (1, "2024-01-09", -4.0),
              (2, "2024-01-02", -1.0), (3, "2024-01-03", 5.0)])
    kw = dict(observation_end="2024-01-31", time_unit="D")
    dropped = both(df, negative_amounts="drop", **kw)
    assert list(dropped.index) == [1, 3]
    row = dropped.loc[1, ["frequency", "monetary_value", "historical_clv", "n_transactions"]]
    assert row.tolist() == [1, 6.0, 16.0, 2]
    assert dropped.attrs["clvmodels"]["n_negative_amounts"] == 3
    with pytest.warns(ExcludedCustomersWarning, match="1 customer has only returns"):
        net = summarize(df, negative_amounts="net", **kw)
    both(df, negative_amounts="net", **kw)
    # the same-day return nets into that occasion; the return-only day is not a purchase occasion
    assert net.loc[1, "frequency"] == 1 and net.loc[1, "recency"] == 4.0
    assert net.loc[1, "monetary_value"] == pytest.approx(4.0)
    assert net.loc[1, "historical_clv"] == pytest.approx(10.0)  # 10 + 6 - 2 - 4
    assert net.loc[1, "n_transactions"] == 4
    assert 2 not in net.index and net.attrs["clvmodels"]["excluded_returns_only"] == 1


def test_ids_from_csv_keep_leading_zeros_and_canonical_integers_become_int64(tmp_path):
    p1 = tmp_path / "zeros.csv"
    p1.write_text("customer_id,date,amount\n00042,2024-01-01,1\n42,2024-01-02,2\n")
    for engine in ("pandas", "duckdb"):
        s = summarize(str(p1), observation_end="2024-01-31", engine=engine)
        assert list(s.index) == ["00042", "42"], engine  # two customers, not one
    p2 = tmp_path / "ints.csv"
    p2.write_text("customer_id,date,amount\n10,2024-01-01,1\n9,2024-01-02,2\n10,2024-01-03,2\n")
    for engine in ("pandas", "duckdb"):
        s = summarize(str(p2), observation_end="2024-01-31", engine=engine)
        assert s.index.dtype == np.int64 and list(s.index) == [9, 10]  # numeric order


def test_integer_dates_with_date_format_match_the_published_file(tmp_path, published):
    raw = load_cdnow_sample()
    raw["date"] = raw["date"].dt.strftime("%Y%m%d").astype(int)
    raw = raw[raw["date"] <= 19970930]
    path = tmp_path / "cdnow_int_dates.parquet"
    raw.to_parquet(path, index=False)
    for src in (raw, str(path)):
        for engine in ("pandas", "duckdb"):
            s = summarize(src, observation_end="1997-09-30", date_format="%Y%m%d", engine=engine)
            assert (s["frequency"] == published["x"]).all()
            assert [half_up(v) for v in s["T"]] == published["T"].tolist()


def test_text_dates_and_amounts_parse_alike_in_both_engines(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("customer_id,date,amount\n"
                    "a,2024-01-01,10\n"
                    "a, 2024-01-02T10:30:00Z , 1.5e1 \n"
                    "a,2024-01-03 23:59:59.123,+.5\n"
                    "b,2024-01-04,-0\n")
    a = summarize(str(path), observation_end="2024-01-10", time_unit="D", engine="pandas")
    b = summarize(str(path), observation_end="2024-01-10", time_unit="D", engine="duckdb")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.loc["a", "frequency"] == 2 and a.loc["a", "historical_clv"] == 25.5
    assert a.loc["b", "historical_clv"] == 0.0


def test_day_first_date_format(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("customer_id,date,amount\n1,31/01/2024,1\n1,01/02/2024,1\n")
    for engine in ("pandas", "duckdb"):
        s = summarize(str(path), observation_end="2024-02-29", date_format="%d/%m/%Y", time_unit="D", engine=engine)
        assert s.loc[1, "recency"] == 1.0 and s.loc[1, "T"] == 29.0


def test_timezone_aware_timestamps_use_utc_days():
    # 23:30 in New York on 2024-01-01 is 04:30 UTC on 2024-01-02
    stamps = pd.to_datetime(["2024-01-01 12:00", "2024-01-01 23:30"]).tz_localize("America/New_York")
    df = pd.DataFrame({"customer_id": [1, 1], "amount": [1.0, 1.0], "date": stamps})
    s = both(df, observation_end="2024-01-10", time_unit="D")
    assert s.loc[1, "frequency"] == 1 and s.loc[1, "first_purchase"] == pd.Timestamp("2024-01-01")
    assert s.loc[1, "last_purchase"] == pd.Timestamp("2024-01-02")


def test_money_is_added_exactly_and_inexact_amounts_fall_back_to_floats():
    df = log([(1, "2024-01-01", 0.1), (1, "2024-01-02", 0.2), (1, "2024-01-02", 0.1)])
    s = both(df, observation_end="2024-01-31")
    assert s.loc[1, "historical_clv"] == 0.4 and s.loc[1, "monetary_value"] == 0.3  # not 0.30000000000000004
    assert s.attrs["clvmodels"]["exact_money_decimals"] == 1
    thirds = log([(1, "2024-01-01", 1 / 3), (1, "2024-01-02", 2 / 3), (2, "2024-01-02", 1 / 7)])
    a = summarize(thirds, observation_end="2024-01-31", engine="pandas")
    b = summarize(thirds, observation_end="2024-01-31", engine="duckdb")
    assert a.attrs["clvmodels"]["exact_money_decimals"] is None
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert a.loc[1, "monetary_value"] == pytest.approx(2 / 3, rel=1e-15)


def test_options_are_checked():
    df = log([(1, "2024-01-01", 1.0)])
    with pytest.raises(ValueError, match="time_mode"):
        summarize(df, observation_end="2024-01-31", time_mode="weekly")
    with pytest.raises(ValueError, match="negative_amounts"):
        summarize(df, observation_end="2024-01-31", negative_amounts="ignore")
    with pytest.raises(ValueError, match=r"zero_amounts must be one of \('keep', 'drop'\)"):
        summarize(df, observation_end="2024-01-31", zero_amounts="net")
    with pytest.raises(ValueError, match="engine"):
        summarize(df, observation_end="2024-01-31", engine="polars")
    with pytest.raises(ValueError, match="time unit"):
        summarize(df, observation_end="2024-01-31", time_unit="Y")
    with pytest.raises(TypeError, match="DataFrame or a path"):
        summarize({"customer_id": [1]}, observation_end="2024-01-31")


def test_docstring_example_holds():
    import doctest

    import clvmodels.data.summary as module

    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0
