"""summarize() on logs shaped like production: the full CDNOW master log (zero-value purchases, mostly
one-time buyers), the zero_amounts policy, and the shapes real exports take (everyone new on the last
day, timestamps with 'Z' or UTC offsets, blank lines, CRLF, a byte-order mark, database-driver
objects, pyarrow-backed columns), each in both engines with identical results."""
from __future__ import annotations

import datetime
import decimal
import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import ExcludedCustomersWarning, summarize
from clvmodels.datasets import cdnow_master_path, load_cdnow_master
from clvmodels.errors import InputError

END = "1998-06-30"


@pytest.fixture(scope="module")
def master() -> pd.DataFrame:
    return load_cdnow_master()


@pytest.fixture(scope="module")
def kept(master):
    """The master log summarised with zero_amounts='keep' by each engine and source."""
    path = str(cdnow_master_path())
    return {
        "pandas-frame": summarize(master, observation_end=END, engine="pandas"),
        "duckdb-frame": summarize(master, observation_end=END, engine="duckdb"),
        "pandas-csv": summarize(path, observation_end=END, engine="pandas"),
        "duckdb-csv": summarize(path, observation_end=END, engine="duckdb"),
    }


def both(df, **kw) -> pd.DataFrame:
    """Summaries from both engines, checked identical (attrs too, but the engine); returns pandas'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        a = summarize(df, engine="pandas", **kw)
        b = summarize(df, engine="duckdb", **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert ({**a.attrs["clvmodels"], "engine": None, "engine_reason": None}
            == {**b.attrs["clvmodels"], "engine": None, "engine_reason": None})
    return a


# --- the CDNOW master log ------------------------------------------------------------------------------
def test_cdnow_master_is_bundled_whole(master):
    assert cdnow_master_path().name == "cdnow_master.csv.gz"
    assert list(master.columns) == ["customer_id", "date", "n_cds", "amount"]
    assert [str(t) for t in master.dtypes] == ["int64", "datetime64[ns]", "int64", "float64"]
    assert len(master) == 69_659 and master["customer_id"].nunique() == 23_570
    assert int((master["amount"] == 0).sum()) == 80
    assert str(master["date"].min().date()) == "1997-01-01" and str(master["date"].max().date()) == END
    # the first rows of CDNOW_master.txt: customer 00002 bought 1 and 5 CDs on 1997-01-12
    assert master.iloc[1:3][["customer_id", "n_cds", "amount"]].values.tolist() == [[2, 1, 12.0], [2, 5, 77.0]]
    assert master["amount"].sum() == pytest.approx(2_500_315.63, abs=0.005)


@pytest.mark.parametrize("which", ["pandas-frame", "duckdb-frame", "pandas-csv", "duckdb-csv"])
def test_zero_value_repeat_purchase_is_kept(kept, which):
    s = kept[which]
    # customer 10244: $15.96 on 1997-02-07, then a purchase worth $0 on 1997-03-07
    row = s.loc[10244]
    assert row["frequency"] == 1 and row["monetary_value"] == 0.0
    assert row["recency"] == 28 / 7 and row["historical_clv"] == 15.96 and row["n_transactions"] == 2
    meta = s.attrs["clvmodels"]
    assert meta["zero_amounts"] == "keep" and meta["n_zero_amounts"] == 80
    assert meta["n_zero_spend_repeat"] == 1 == int(((s["frequency"] > 0) & (s["monetary_value"] <= 0)).sum())
    # one-time buyers: 11,908 customers with one transaction, and 146 with several on one day
    assert len(s) == 23_570 and int((s["frequency"] == 0).sum()) == 12_054
    pd.testing.assert_frame_equal(s, kept["pandas-frame"], check_exact=True)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_zero_amounts_drop_equals_removing_the_rows_by_hand(master, engine):
    src = str(cdnow_master_path()) if engine == "duckdb" else master
    dropped = summarize(src, observation_end=END, engine=engine, zero_amounts="drop")
    by_hand = summarize(master[master["amount"] != 0], observation_end=END, engine="pandas")
    pd.testing.assert_frame_equal(dropped, by_hand, check_exact=True)
    assert len(dropped) == 23_502  # 68 customers bought nothing but $0 items: not in the log any more
    assert dropped.loc[10244, "frequency"] == 0 and dropped.loc[10244, "historical_clv"] == 15.96
    meta = dropped.attrs["clvmodels"]
    assert meta["zero_amounts"] == "drop" and meta["n_zero_amounts"] == 80 and meta["n_zero_spend_repeat"] == 0


# --- the zero_amounts policy on hand-made logs ------------------------------------------------------------
def log(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def test_zero_purchases_are_occasions_and_enter_the_mean():
    df = log([(1, "2024-01-01", 10.0), (1, "2024-01-05", 0.0), (1, "2024-01-09", 6.0),
              (2, "2024-01-02", 5.0), (2, "2024-01-04", 0.0), (2, "2024-01-04", 0.0), (2, "2024-01-08", 0.0),
              (3, "2024-01-03", 0.0)])
    kw = dict(observation_end="2024-01-31", time_unit="D")
    keep = both(df, **kw)
    assert keep.loc[1, ["frequency", "recency", "monetary_value"]].tolist() == [2, 8.0, 3.0]  # (0 + 6) / 2
    assert keep.loc[2, ["frequency", "recency", "monetary_value", "n_transactions"]].tolist() == [2, 6.0, 0.0, 4]
    assert keep.loc[3, ["frequency", "monetary_value", "historical_clv"]].tolist() == [0, 0.0, 0.0]
    assert keep.attrs["clvmodels"]["n_zero_amounts"] == 5 and keep.attrs["clvmodels"]["n_zero_spend_repeat"] == 1
    drop = both(df, zero_amounts="drop", **kw)
    assert list(drop.index) == [1, 2]  # customer 3 bought only a $0 item
    assert drop.loc[1, ["frequency", "recency", "monetary_value"]].tolist() == [1, 8.0, 6.0]
    assert drop.loc[2, ["frequency", "recency", "T", "n_transactions"]].tolist() == [0, 0.0, 29.0, 1]
    assert drop.attrs["clvmodels"]["n_zero_amounts"] == 5 and drop.attrs["clvmodels"]["n_zero_spend_repeat"] == 0
    assert drop.attrs["clvmodels"]["excluded_returns_only"] == 0


def test_zero_amounts_with_netted_returns():
    """Under negative_amounts='net' a purchase returned the same day nets to a purchase occasion worth 0
    under either zero policy ('drop' removes rows worth 0, not occasions); a $0 row beside a return is
    a purchase occasion under 'keep' and is dropped, leaving a return only, under 'drop'."""
    df = log([(1, "2024-01-01", 10.0), (1, "2024-01-04", 5.0), (1, "2024-01-04", -5.0),
              (2, "2024-01-01", 8.0), (2, "2024-01-06", 0.0), (2, "2024-01-06", -3.0),
              (3, "2024-01-02", 0.0), (3, "2024-01-02", -1.0)])
    kw = dict(observation_end="2024-01-31", time_unit="D", negative_amounts="net")
    keep = both(df, **kw)
    assert keep.loc[1, ["frequency", "monetary_value", "historical_clv"]].tolist() == [1, 0.0, 10.0]
    assert keep.loc[2, ["frequency", "recency", "monetary_value"]].tolist() == [1, 5.0, -3.0]
    assert keep.loc[3, ["frequency", "historical_clv"]].tolist() == [0, -1.0]
    assert keep.attrs["clvmodels"]["n_zero_spend_repeat"] == 2  # customers 1 and 2
    with pytest.warns(ExcludedCustomersWarning, match="1 customer has only returns"):
        summarize(df, zero_amounts="drop", engine="pandas", **kw)
    drop = both(df, zero_amounts="drop", **kw)
    assert list(drop.index) == [1, 2]
    assert drop.loc[1, ["frequency", "monetary_value"]].tolist() == [1, 0.0]
    assert drop.loc[2, ["frequency", "recency", "historical_clv"]].tolist() == [0, 0.0, 5.0]
    assert drop.attrs["clvmodels"]["excluded_returns_only"] == 1
    assert drop.attrs["clvmodels"]["n_zero_spend_repeat"] == 1


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_dropping_every_row_says_which_policy(engine):
    zeros = pd.DataFrame({"customer_id": [1, 2], "date": ["2024-01-01", "2024-01-02"], "amount": [0.0, 0.0]})
    with pytest.raises(InputError) as info:
        summarize(zeros, observation_end="2024-06-30", zero_amounts="drop", engine=engine)
    assert [(p.column, p.message, p.n_rows) for p in info.value.problems] == [
        ("amount", "no transactions are left after dropping the rows with amount 0 (zero_amounts='drop')", 2)]
    mixed = zeros.assign(amount=[0.0, -2.0])
    with pytest.raises(InputError) as info:
        summarize(mixed, observation_end="2024-06-30", zero_amounts="drop", negative_amounts="drop", engine=engine)
    assert info.value.problems[0].message == (
        "no transactions are left after dropping the rows with negative amounts (negative_amounts='drop') "
        "and the rows with amount 0 (zero_amounts='drop')")


def test_zero_amounts_option_is_checked():
    with pytest.raises(ValueError, match=r"zero_amounts must be one of \('keep', 'drop'\), got 'ignore'"):
        summarize(log([(1, "2024-01-01", 1.0)]), observation_end="2024-01-31", zero_amounts="ignore")


# --- production shapes --------------------------------------------------------------------------------
def test_one_time_buyers_only():
    df = log([(i, f"2024-01-{i:02d}", float(i)) for i in range(1, 11)] + [(11, "2024-01-05", 0.0)])
    s = both(df, observation_end="2024-01-31", time_unit="D")
    assert (s["frequency"] == 0).all() and (s["recency"] == 0).all() and (s["monetary_value"] == 0).all()
    assert s["T"].tolist() == [float(31 - i) for i in range(1, 11)] + [26.0]
    assert s.attrs["clvmodels"]["n_zero_spend_repeat"] == 0 and s.attrs["clvmodels"]["n_zero_amounts"] == 1


def test_everyone_first_seen_on_the_last_day_has_T_zero(tmp_path):
    path = tmp_path / "today.csv"
    path.write_text("customer_id,date,amount\n"
                    "a,2024-01-31,5\n"
                    "b,2024-01-31T10:00:00Z,2.5\n"
                    "b,2024-01-31 23:59:59,0\n")
    for src in (str(path), pd.read_csv(path, dtype=str)):
        s = both(src, observation_end="2024-01-31", time_unit="W")
        assert s[["frequency", "recency", "T", "time_since_last_purchase"]].values.tolist() == [[0, 0.0, 0.0, 0.0]] * 2
        assert s["n_transactions"].tolist() == [1, 2] and s["historical_clv"].tolist() == [5.0, 2.5]
    split = both(str(path), observation_end="2024-02-29", calibration_end="2024-01-31", time_unit="D")
    assert split["T"].tolist() == [0.0, 0.0] and split["duration_holdout"].tolist() == [29.0, 29.0]


def test_messy_export_crlf_bom_blank_lines_and_times(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeffcustomer_id,date,amount\r\n"
                     "\r\n"
                     "17,2024-01-01T08:00:00Z,10.00\r\n"
                     "17, 2024-01-01 23:59:59.999 ,5\r\n"
                     "\r\n"
                     "17,2024-01-15T00:00:00.000000Z,2.50\r\n"
                     "18,\"2024-01-20\",\" 3 \"\r\n"
                     "18,2024-01-20T12:30Z,oops\r\n"
                     "\r\n".encode("utf-8"))
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as info:
            summarize(str(path), observation_end="2024-01-31", engine=engine)
        p = info.value.problems[0]
        assert (p.column, p.n_rows) == ("amount", 1)
        assert p.rows[["file", "row", "amount"]].values.tolist() == [["export.csv", 5, "oops"]]
    path.write_bytes(path.read_bytes().replace(b"oops", b"1"))
    s = both(str(path), observation_end="2024-01-31", time_unit="D")
    assert s.index.tolist() == [17, 18] and s.index.dtype == np.int64
    assert s.loc[17, ["frequency", "recency", "monetary_value", "historical_clv", "n_transactions"]].tolist() == \
        [1, 14.0, 2.5, 17.5, 3]
    assert s.loc[18, ["frequency", "historical_clv"]].tolist() == [0, 4.0]


def test_timestamps_with_utc_offsets(tmp_path):
    """ISO timestamps with offsets need a date_format with %z; offsets differing between rows (which
    pandas cannot hold in one column) and a final Z become UTC days in both engines."""
    df = pd.DataFrame({"customer_id": [1, 1, 1, 2],
                       "date": ["2024-01-01T23:30:00+00:00", "2024-01-01T23:30:00-02:00",
                                "2024-01-02T01:30:00+0300", "2024-01-01T23:30:00Z"],
                       "amount": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="2024-01-31")
    assert "'%Y-%m-%dT%H:%M:%S%z' for times with a UTC offset" in info.value.problems[0].message
    assert info.value.problems[0].n_rows == 3
    s = both(df, observation_end="2024-01-31", time_unit="D", date_format="%Y-%m-%dT%H:%M:%S%z")
    # UTC days: 01-01 (1.0 and 3.0, one occasion), 01-02 (2.0)
    assert s.loc[1, ["frequency", "recency", "monetary_value", "historical_clv"]].tolist() == [1, 1.0, 2.0, 6.0]
    assert s.loc[2, "first_purchase"] == pd.Timestamp("2024-01-01")


def test_database_driver_objects_and_arrow_columns():
    """Python ints, dates, tz-aware datetimes and Decimals in object columns, and pyarrow-backed columns,
    as database drivers and pandas' pyarrow backend hand them over: read alike by both engines."""
    import pyarrow as pa

    paris = datetime.timezone(datetime.timedelta(hours=1))
    objects = pd.DataFrame({
        "customer_id": pd.Series([3, 3, 12], dtype=object),
        "date": pd.Series([datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 5, 0, 30, tzinfo=paris),
                           datetime.date(2024, 1, 3)], dtype=object),
        "amount": [decimal.Decimal("1.50"), decimal.Decimal("2.25"), decimal.Decimal("0")]})
    s = both(objects, observation_end="2024-01-31", time_unit="D")
    assert s.index.dtype == np.int64 and s.index.tolist() == [3, 12]
    # 00:30 in Paris on 01-05 is 23:30 UTC on 01-04
    assert s.loc[3, ["frequency", "recency", "monetary_value"]].tolist() == [1, 3.0, 2.25]
    arrow = pd.DataFrame({
        "customer_id": pd.array([3, 3, 12], dtype=pd.ArrowDtype(pa.int64())),
        "date": pd.array([datetime.date(2024, 1, 1), datetime.date(2024, 1, 4), datetime.date(2024, 1, 3)],
                         dtype=pd.ArrowDtype(pa.date32())),
        "amount": pd.array([1.5, 2.25, 0.0], dtype=pd.ArrowDtype(pa.float64()))})
    pd.testing.assert_frame_equal(both(arrow, observation_end="2024-01-31", time_unit="D"), s, check_exact=True)
    stamps = arrow.assign(date=pd.array(pd.to_datetime(["2024-01-01 12:00", "2024-01-04 23:30", "2024-01-03 00:00"]),
                                        dtype=pd.ArrowDtype(pa.timestamp("us"))))
    pd.testing.assert_frame_equal(both(stamps, observation_end="2024-01-31", time_unit="D"), s, check_exact=True)
