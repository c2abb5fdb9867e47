"""Bad input (the rules of clvmodels.data.checks): every problem is found in one run, named by column,
counted, and shown with its first offending rows, identically by both engines, for a DataFrame and for
a CSV file; and the shared problem reporter (``report_log_problems``, ``rows_to_drop``) on its own."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import summarize
from clvmodels.errors import InputError

SOURCES = ["frame-pandas", "frame-duckdb", "csv-pandas", "csv-duckdb"]
INDEX = [100, 101, 102, 103, 104, 105]  # frame rows are shown by these labels, CSV rows by file and row


def run(source: str, df: pd.DataFrame, tmp_path, **kw) -> InputError:
    kw.setdefault("observation_end", "2024-06-30")
    kind, engine = source.split("-")
    if kind == "csv":
        path = tmp_path / "log.csv"
        df.to_csv(path, index=False)
        target = str(path)
    else:
        target = df
    with pytest.raises(InputError) as info:
        summarize(target, engine=engine, **kw)
    return info.value


def good(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"c{i % 3}" for i in range(n)],
                         "date": [f"2024-01-{i + 1:02d}" for i in range(n)],
                         "amount": [f"{10 + i}.5" for i in range(n)]}, index=INDEX[:n])


def problem(err: InputError, column, fragment: str):
    found = [p for p in err.problems if p.column == column and fragment in p.message]
    assert found, f"no problem on {column!r} containing {fragment!r} in:\n{err}"
    return found[0]


def shows_row(err_text: str, source: str, label: int, raw: str) -> bool:
    """The message shows the offending row: its raw value, with its index label (frames) or file/row."""
    if source.startswith("frame"):
        return re.search(rf"^\s*{label}\s.*{re.escape(raw)}", err_text, re.M) is not None
    row = INDEX.index(label) + 1
    return re.search(rf"log\.csv\s+{row}\s.*{re.escape(raw)}", err_text) is not None


@pytest.mark.parametrize("source", SOURCES)
def test_missing_columns_are_all_listed(source, tmp_path):
    df = good().rename(columns={"customer_id": "cust", "amount": "value"})
    err = run(source, df, tmp_path)
    p1 = problem(err, "customer_id", "required customer id column is missing")
    p2 = problem(err, "amount", "required amount column is missing")
    assert "'cust'" in p1.message and "'value'" in p2.message  # the columns that are there
    assert "--customer-id" in p1.message
    assert len(err.problems) == 2


@pytest.mark.parametrize("source", SOURCES)
def test_missing_customer_ids(source, tmp_path):
    df = good()
    df.loc[102, "customer_id"] = None
    df.loc[104, "customer_id"] = "  "
    err = run(source, df, tmp_path)
    p = problem(err, "customer_id", "missing customer ids")
    assert p.n_rows == 2
    assert shows_row(str(err), source, 102, "2024-01-03") and shows_row(str(err), source, 104, "2024-01-05")


@pytest.mark.parametrize("source", SOURCES)
def test_missing_dates(source, tmp_path):
    df = good()
    df.loc[103, "date"] = None
    err = run(source, df, tmp_path)
    p = problem(err, "date", "missing dates")
    assert p.n_rows == 1 and shows_row(str(err), source, 103, "13.5")


@pytest.mark.parametrize("source", SOURCES)
def test_unparseable_dates_show_the_raw_values(source, tmp_path):
    df = good()
    df.loc[101, "date"] = "not a date"
    df.loc[103, "date"] = "2024-02-30"     # no such day
    df.loc[105, "date"] = "31/01/2024"     # day-first, not ISO
    err = run(source, df, tmp_path)
    p = problem(err, "date", "unparseable dates")
    assert p.n_rows == 3
    assert "date_format" in p.message
    text = str(err)
    for label, raw in ((101, "not a date"), (103, "2024-02-30"), (105, "31/01/2024")):
        assert shows_row(text, source, label, raw), (label, text)


@pytest.mark.parametrize("source", SOURCES)
def test_dates_not_matching_date_format(source, tmp_path):
    df = good()
    df["date"] = ["01/01/2024", "02/01/2024", "2024-01-03", "04/01/2024", "05/01/2024", "06/01/2024"]
    err = run(source, df, tmp_path, date_format="%d/%m/%Y")
    p = problem(err, "date", "do not match date_format='%d/%m/%Y'")
    assert p.n_rows == 1 and shows_row(str(err), source, 102, "2024-01-03")


@pytest.mark.parametrize("source", SOURCES)
def test_non_numeric_and_missing_amounts(source, tmp_path):
    df = good()
    df.loc[100, "amount"] = "$12.50"
    df.loc[102, "amount"] = "1,000"
    df.loc[103, "amount"] = None
    df.loc[105, "amount"] = "inf"
    err = run(source, df, tmp_path)
    bad = problem(err, "amount", "non-numeric amounts")
    missing = problem(err, "amount", "missing amounts")
    assert bad.n_rows == 3 and missing.n_rows == 1
    text = str(err)
    assert shows_row(text, source, 100, "$12.50") and shows_row(text, source, 102, "1,000")
    assert shows_row(text, source, 105, "inf")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_numeric_amount_columns_with_nan_and_infinity(engine):
    df = pd.DataFrame({"customer_id": [1, 2, 3], "date": pd.to_datetime(["2024-01-01"] * 3),
                       "amount": [1.0, np.nan, np.inf]}, index=[7, 8, 9])
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="2024-01-31", engine=engine)
    assert problem(info.value, "amount", "missing amounts").n_rows == 1
    assert problem(info.value, "amount", "non-numeric amounts").n_rows == 1
    assert re.search(r"^\s*9\s+3\s", str(info.value), re.M)


@pytest.mark.parametrize("source", SOURCES)
def test_negative_amounts_are_an_error_by_default_with_the_options_named(source, tmp_path):
    df = good()
    df.loc[104, "amount"] = "-4.5"
    err = run(source, df, tmp_path)
    p = problem(err, "amount", "negative amounts")
    assert "negative_amounts='drop'" in p.message and "negative_amounts='net'" in p.message
    assert p.n_rows == 1 and shows_row(str(err), source, 104, "-4.5")


@pytest.mark.parametrize("source", SOURCES)
def test_transactions_after_the_observation_end(source, tmp_path):
    df = good()
    df.loc[103, "date"] = "2024-07-01"
    df.loc[105, "date"] = "2024-08-15"
    err = run(source, df, tmp_path, observation_end="2024-06-30")
    p = problem(err, "date", "2 transactions are after the observation end 2024-06-30")
    assert "the last is on 2024-08-15" in p.message
    assert "filter the log" in p.message and "later observation_end" in p.message
    assert p.n_rows == 2 and shows_row(str(err), source, 103, "2024-07-01")


@pytest.mark.parametrize("source", SOURCES)
def test_observation_end_before_every_purchase(source, tmp_path):
    err = run(source, good(), tmp_path, observation_end="2023-12-31")
    p = problem(err, "date", "observation_end 2023-12-31 is before every purchase")
    assert "the first is on 2024-01-01" in p.message
    assert len(err.problems) == 1  # not also "6 transactions after the end"


@pytest.mark.parametrize("source", SOURCES)
def test_calibration_end_before_every_purchase_or_after_the_observation_end(source, tmp_path):
    err = run(source, good(), tmp_path, calibration_end="2023-06-30")
    problem(err, "date", "calibration_end 2023-06-30 is before every purchase")
    err = run(source, good(), tmp_path, calibration_end="2024-06-30")
    problem(err, None, "calibration_end 2024-06-30 must be before observation_end 2024-06-30")


@pytest.mark.parametrize("source", SOURCES)
def test_empty_log(source, tmp_path):
    err = run(source, good().iloc[:0], tmp_path)
    problem(err, None, "the transaction log is empty")


@pytest.mark.parametrize("source", SOURCES)
def test_every_problem_is_reported_together(source, tmp_path):
    df = good()
    df.loc[100, "customer_id"] = None
    df.loc[101, "date"] = "yesterday"
    df.loc[102, "amount"] = "ten"
    df.loc[103, "amount"] = "-1"
    df.loc[105, "date"] = "2025-01-01"
    err = run(source, df, tmp_path)
    kinds = {(p.column, p.message.split(":")[0].split(" (")[0][:20]) for p in err.problems}
    assert len(err.problems) == 5, str(err)
    assert {c for c, _ in kinds} == {"customer_id", "date", "amount"}
    assert str(err).startswith("5 problems found in the transaction log:")


def test_both_engines_report_the_same_problems(tmp_path):
    df = good()
    df.loc[100, "customer_id"] = None
    df.loc[101, "date"] = "yesterday"
    df.loc[102, "amount"] = "ten"
    df.loc[103, "amount"] = "-1"
    df.loc[105, "date"] = "2025-01-01"
    msgs = {}
    for source in SOURCES:
        err = run(source, df, tmp_path)
        msgs[source] = [(p.column, p.message, p.n_rows) for p in err.problems]
    assert msgs["frame-pandas"] == msgs["frame-duckdb"] == msgs["csv-pandas"] == msgs["csv-duckdb"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_integer_dates_need_a_format(engine):
    df = pd.DataFrame({"customer_id": [1, 2], "date": [19970101, 19970102], "amount": [1.0, 2.0]})
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="1997-09-30", engine=engine)
    p = problem(info.value, "date", "the dates are integers (e.g. 19970101)")
    assert "date_format" in p.message and "'%Y%m%d'" in p.message


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_boolean_amounts_and_float_dates_are_refused(engine):
    df = pd.DataFrame({"customer_id": [1, 2], "date": [1.5, 2.5], "amount": [True, False]})
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="1997-09-30", engine=engine)
    problem(info.value, "date", "dates must be dates, timestamps or text")
    problem(info.value, "amount", "amounts must be numbers")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_bad_observation_end(engine):
    with pytest.raises(InputError) as info:
        summarize(good(), observation_end="30/06/2024", engine=engine)
    problem(info.value, None, "observation_end '30/06/2024' is not a date")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_dropping_every_row_leaves_nothing(engine):
    df = pd.DataFrame({"customer_id": [1, 2], "date": ["2024-01-01", "2024-01-02"], "amount": [-1.0, -2.0]})
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="2024-06-30", negative_amounts="drop", engine=engine)
    problem(info.value, "amount", "no transactions are left after dropping")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_files_that_do_not_exist(engine, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        summarize(str(tmp_path / "nope.csv"), observation_end="2024-06-30", engine=engine)
    with pytest.raises(InputError, match="no files match"):
        summarize(str(tmp_path / "nope-*.parquet"), observation_end="2024-06-30", engine=engine)
    (tmp_path / "log.json").write_text("{}")
    with pytest.raises(InputError, match="cannot tell the format"):
        summarize(str(tmp_path / "log.json"), observation_end="2024-06-30", engine=engine)


def test_offending_rows_of_a_second_file_are_numbered_within_that_file(tmp_path):
    good().iloc[:3].to_csv(tmp_path / "a.csv", index=False)
    second = good().iloc[3:].copy()
    second.loc[104, "amount"] = "oops"
    second.to_csv(tmp_path / "b.csv", index=False)
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as info:
            summarize(str(tmp_path / "*.csv"), observation_end="2024-06-30", engine=engine)
        assert re.search(r"b\.csv\s+2\s+c1\s+2024-01-05\s+oops", str(info.value)), str(info.value)


def test_typed_parquet_with_nulls_is_checked_like_a_frame(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "customer_id": pa.array([1, 2, None, 4], pa.int64()),
        "date": pa.array([pd.Timestamp("2024-01-01"), None, pd.Timestamp("2024-01-03"),
                          pd.Timestamp("2024-01-04")], pa.timestamp("ms")),
        "amount": pa.array([1.0, 2.0, None, float("nan")], pa.float64()),
    })
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    msgs = {}
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as info:
            summarize(str(path), observation_end="2024-01-31", engine=engine)
        err = info.value
        assert problem(err, "customer_id", "missing customer ids").n_rows == 1
        assert problem(err, "date", "missing dates").n_rows == 1
        assert problem(err, "amount", "missing amounts").n_rows == 2
        assert re.search(r"typed\.parquet\s+3\s", str(err)), str(err)
        msgs[engine] = [(p.column, p.message, p.n_rows) for p in err.problems]
    assert msgs["pandas"] == msgs["duckdb"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_file_without_any_of_the_columns(engine, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,when,value\n1,2024-01-01,3\n")
    with pytest.raises(InputError) as info:
        summarize(str(path), observation_end="2024-06-30", engine=engine)
    assert {p.column for p in info.value.problems} == {"customer_id", "date", "amount"}
    assert "'id', 'when', 'value'" in str(info.value) and "empty" not in str(info.value)


# --- values no engine can hold: amounts beyond 2**53, dates outside 1678-01-01 .. 2261-12-31 --------
@pytest.mark.parametrize("source", SOURCES)
def test_amounts_too_large_to_be_money(source, tmp_path):
    df = good()
    df.loc[101, "amount"] = "1e300"
    df.loc[103, "amount"] = "-1e308"          # too large, and not also reported as a negative amount
    df.loc[104, "amount"] = "9007199254740994"  # 2**53 + 2
    df.loc[105, "amount"] = "9007199254740992"  # 2**53 itself is fine
    err = run(source, df, tmp_path)
    p = problem(err, "amount", "amounts too large to be money")
    assert "2**53 = 9,007,199,254,740,992" in p.message
    assert p.n_rows == 3 and len(err.problems) == 1, str(err)
    text = str(err)
    for label, raw in ((101, "1e300"), (103, "-1e308"), (104, "9007199254740994")):
        assert shows_row(text, source, label, raw), (label, text)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_numeric_amounts_too_large_and_infinite_are_told_apart(engine):
    df = pd.DataFrame({"customer_id": [1, 2, 3, 4], "date": pd.to_datetime(["2024-01-01"] * 4),
                       "amount": [1e300, -np.inf, 2.0**53, -(2.0**60)]}, index=[7, 8, 9, 10])
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="2024-01-31", engine=engine, negative_amounts="net")
    assert problem(info.value, "amount", "amounts too large to be money").n_rows == 2
    assert problem(info.value, "amount", "non-numeric amounts").n_rows == 1
    assert len(info.value.problems) == 2
    assert re.search(r"^\s*10\s+4\s", str(info.value), re.M)


@pytest.mark.parametrize("source", SOURCES)
def test_dates_outside_the_supported_range(source, tmp_path):
    df = good()
    df.loc[100, "date"] = "0001-01-01"   # the usual "no date" placeholder
    df.loc[102, "date"] = "1600-05-01"
    df.loc[103, "date"] = "2263-01-01"   # not also "after the observation end"
    df.loc[105, "date"] = "9999-12-31"
    err = run(source, df, tmp_path, observation_end="2024-06-30")
    p = problem(err, "date", "dates outside the supported range 1678-01-01 to 2261-12-31")
    assert "placeholders for \"no date\"" in p.message
    assert p.n_rows == 4 and len(err.problems) == 1, str(err)  # not "unparseable", not "after the end"
    text = str(err)
    for label, raw in ((100, "0001-01-01"), (102, "1600-05-01"), (103, "2263-01-01")):
        assert shows_row(text, source, label, raw), (label, text)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_range_edges_and_formatted_dates(engine):
    df = pd.DataFrame({"customer_id": [1, 1, 2, 3], "date": ["16780101", "22611231", "16771231", "00000101"],
                       "amount": [1.0, 2.0, 3.0, 4.0]}, index=[5, 6, 7, 8])
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="2261-12-31", date_format="%Y%m%d", engine=engine)
    p = problem(info.value, "date", "dates outside the supported range")
    assert p.n_rows == 2 and p.rows.index.tolist() == [7, 8]  # the edges themselves are accepted
    s = summarize(df.loc[[5, 6]], observation_end="2261-12-31", date_format="%Y%m%d", engine=engine, time_unit="D")
    assert s.loc[1, "first_purchase"] == pd.Timestamp("1678-01-01")
    assert s.loc[1, "last_purchase"] == pd.Timestamp("2261-12-31")
    assert s.loc[1, "recency"] == float((np.datetime64("2261-12-31") - np.datetime64("1678-01-01")).astype(int))


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_datetime_columns_outside_the_range(engine, tmp_path):
    """datetime64 columns of another unit than ns (pandas frames, Parquet timestamps and dates) can hold
    0001-01-01: reported as out of range, never converted with an overflow."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"customer_id": [1, 2, 3],
                          "date": np.array(["2024-01-01", "0001-01-01", "2300-06-01"], dtype="datetime64[s]"),
                          "amount": [1.0, 2.0, 3.0]})
    table = pa.table({"customer_id": pa.array([1, 2, 3, 4]),
                      "date": pa.array([datetime.date(2024, 1, 1), datetime.date(1, 1, 1), None,
                                        datetime.date(2024, 1, 2)], pa.date32()),
                      "amount": pa.array([1.0, 2.0, 3.0, 4.0])})
    pq.write_table(table, tmp_path / "dates.parquet")
    stamps = pa.table({"customer_id": pa.array([1, 2]), "amount": pa.array([1.0, 2.0]),
                       "date": pa.array([datetime.datetime(2024, 1, 1), datetime.datetime(1, 1, 1)], pa.timestamp("ms"))})
    pq.write_table(stamps, tmp_path / "stamps.parquet")
    for src, n_out, row in ((frame, 2, r"^\s*1\s+2\s+0001-01-01"), (str(tmp_path / "dates.parquet"), 1,
                                                                     r"dates\.parquet\s+2\s+2\s+0001-01-01"),
                            (str(tmp_path / "stamps.parquet"), 1, r"stamps\.parquet\s+2\s+2\s+")):
        with pytest.raises(InputError) as info:
            summarize(src, observation_end="2024-06-30", engine=engine)
        assert problem(info.value, "date", "dates outside the supported range").n_rows == n_out
        assert re.search(row, str(info.value), re.M), str(info.value)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_period_ends_outside_the_range(engine):
    for kw, name in ((dict(observation_end="0001-01-01"), "observation_end 0001-01-01"),
                     (dict(observation_end="2300-01-01"), "observation_end 2300-01-01"),
                     (dict(observation_end="2024-06-30", calibration_end="1000-01-01"), "calibration_end 1000-01-01")):
        with pytest.raises(InputError) as info:
            summarize(good(), engine=engine, **kw)
        p = problem(info.value, None, f"{name} is outside the supported range of dates, 1678-01-01 to 2261-12-31")
        assert len(info.value.problems) == 1, str(info.value)
        assert p.rows is None


# --- CSV rows with more or fewer fields than the header ------------------------------------------------
FOREIGN_OPTIONS = ("ignore_errors", "null_padding", "strict_mode", "invalid_row_handler", "store_rejects",
                   "skip=", "Possible fixes")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_ragged_csv_rows_are_named_by_file_and_row(engine, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("customer_id,date,amount\n"
                    "1,2024-01-01,10\n"
                    "\n"                          # blank lines are no rows, for either engine
                    "1,2024-01-02,2,50\n"         # an unquoted decimal comma: one field too many
                    "2,2024-01-03\n"              # truncated
                    "3,\"2024-01-04\",\"1,5\"\n")  # quoted: fine
    with pytest.raises(InputError) as info:
        summarize(str(path), observation_end="2024-06-30", engine=engine)
    err = info.value
    assert len(err.problems) == 1
    p = err.problems[0]
    assert p.column is None and p.n_rows == 2
    assert p.message.startswith("ragged.csv: rows with more or fewer fields than the header's 3 columns")
    assert p.rows[["row", "fields", "line"]].values.tolist() == [[2, 4, "1,2024-01-02,2,50"], [3, 2, "2,2024-01-03"]]
    text = str(err)
    assert re.search(r"ragged\.csv\s+2\s+4\s+1,2024-01-02,2,50", text), text
    assert not any(opt in text for opt in FOREIGN_OPTIONS), text


def test_ragged_rows_are_found_anywhere_and_reported_alike(tmp_path):
    """Beyond DuckDB's sniffing sample, in the second file of a log, and a line of blanks: both engines
    say the same thing, row numbers counted within each file."""
    lines = [f"{i % 50},2024-01-{1 + i % 28:02d},{i % 9}.5" for i in range(30_000)]
    lines.insert(25_000, "7,2024-01-02")
    (tmp_path / "a.csv").write_text("customer_id,date,amount\n" + "\n".join(lines) + "\n")
    (tmp_path / "b.csv").write_text("customer_id,date,amount\n1,2024-01-01,1\n   \n2,2024-01-02,2,3\n")
    msgs = {}
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as info:
            summarize(str(tmp_path / "*.csv"), observation_end="2024-06-30", engine=engine)
        msgs[engine] = str(info.value)
        assert [(p.column, p.n_rows) for p in info.value.problems] == [(None, 1), (None, 2)]
        assert info.value.problems[0].rows[["file", "row", "fields"]].values.tolist() == [["a.csv", 25_001, 2]]
        assert info.value.problems[1].rows[["file", "row", "fields"]].values.tolist() == [["b.csv", 2, 1],
                                                                                           ["b.csv", 3, 4]]
        assert not any(opt in msgs[engine] for opt in FOREIGN_OPTIONS), msgs[engine]
    assert msgs["pandas"] == msgs["duckdb"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_integer_ids_beyond_int64(engine):
    df = pd.DataFrame({"customer_id": np.array([2**64 - 1, 5, 2**63], dtype=np.uint64),
                       "date": ["2024-01-01", "2024-01-02", "2024-01-03"], "amount": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError) as info:
        summarize(df, observation_end="2024-06-30", engine=engine)
    p = problem(info.value, "customer_id", "integer customer ids outside the int64 range")
    assert p.n_rows == 2 and p.rows.index.tolist() == [0, 2] and "store the ids as text" in p.message
    ok = df.iloc[[1]].assign(customer_id=np.array([2**63 - 1], dtype=np.uint64))
    s = summarize(ok, observation_end="2024-06-30", engine=engine)
    assert s.index.dtype == np.int64 and s.index.tolist() == [2**63 - 1]


def test_reader_advice_about_options_clv_lacks_is_cut():
    from clvmodels.data.readers import engine_reason

    duckdb_like = ("Invalid Input Error: CSV Error on Line: 4\nOriginal Line: \n1,2,3,4\n"
                   "Expected Number of Columns: 3 Found: 4\nPossible fixes:\n"
                   "* Enable null padding (null_padding=true) to replace missing values with NULL\n"
                   "* Enable ignore errors (ignore_errors=true) to skip this row\n\n  file = log.csv")
    assert engine_reason(RuntimeError(duckdb_like)) == (
        "Invalid Input Error: CSV Error on Line: 4 Original Line: 1,2,3,4 Expected Number of Columns: 3 Found: 4")
    assert engine_reason(ValueError("bad row; set invalid_row_handler to skip it")) == "bad row"


# --- the shared reporter on its own -----------------------------------------------------------------
def _report(counts, whole=None, whole_first=True, **kw):
    from clvmodels.data.checks import report_log_problems
    from clvmodels.errors import ProblemCollector

    problems, shown = ProblemCollector("transaction log"), []

    def show_rows(key):
        shown.append(key)
        return pd.DataFrame({"key": [key]})

    args = dict(customer_id="cid", date="day", amount="value", date_format=None, negative_amounts="error",
                observation_end=np.datetime64("2024-06-30"), calibration_end=None)
    report_log_problems(problems, counts, show_rows, whole_column=whole, whole_column_first=whole_first,
                        **{**args, **kw})
    return [(p.column, p.message[:20], p.n_rows) for p in problems.problems], shown


def test_reporter_words_counts_in_one_order_and_fetches_rows_only_for_reported_problems():
    from clvmodels.data.checks import MSG_EMPTY, day_number

    calls = []

    def integer_dates():
        calls.append(1)
        return "the dates are integers"

    counts = {"n_rows": 9, "missing_id": 2, "big_id": 0, "missing_date": 5, "bad_amount": None, "negative": 1,
              "huge_amount": 3, "after_end": 4, "first_day": day_number(np.datetime64("2024-01-01")),
              "last_day": day_number(np.datetime64("2024-07-02"))}
    got, shown = _report(counts, whole={"date": integer_dates})
    assert got == [("day", "the dates are intege", 9), ("cid", "missing customer ids", 2),
                   ("value", "amounts too large to", 3), ("value", "negative amounts (re", 1),
                   ("day", "4 transactions are a", 4)]
    assert shown == [None, "missing_id", "huge_amount", "negative", "after_end"] and calls == [1]
    # pandas' order: whole-column problems in the place of their column's row checks
    got, _ = _report(counts, whole={"date": integer_dates}, whole_first=False)
    assert [g[1] for g in got[:2]] == ["missing customer ids", "the dates are intege"]
    # negative amounts are a problem only under negative_amounts='error'
    got, _ = _report(counts, negative_amounts="net")
    assert [g[1] for g in got] == ["missing customer ids", "missing dates: every", "amounts too large to",
                                   "4 transactions are a"]
    # an observation end before every purchase is one problem, not every row "after the end"
    got, shown = _report({**counts, "missing_id": 0, "missing_date": 0, "huge_amount": 0, "negative": 0},
                         observation_end=np.datetime64("2023-12-31"), calibration_end=np.datetime64("2023-06-30"))
    assert got == [("day", "observation_end 2023", None)] and shown == []
    got, _ = _report({"n_rows": 3, "first_day": counts["first_day"], "last_day": counts["first_day"]},
                     calibration_end=np.datetime64("2023-06-30"))
    assert got == [("day", "calibration_end 2023", None)]
    # an empty log is that and nothing else
    got, shown = _report({"n_rows": 0}, whole={"date": integer_dates})
    assert got == [(None, MSG_EMPTY[:20], None)] and shown == [] and calls == [1, 1]


def test_rows_to_drop_says_when_nothing_is_left():
    from clvmodels.data.checks import rows_to_drop
    from clvmodels.errors import ProblemCollector

    def drop(counts, negative_amounts="drop", zero_amounts="drop"):
        problems = ProblemCollector()
        flags = rows_to_drop(problems, counts, lambda key: pd.DataFrame({"first": [key]}), amount="value",
                             negative_amounts=negative_amounts, zero_amounts=zero_amounts)
        return flags, [(p.column, p.message, p.n_rows) for p in problems.problems]

    assert drop({"n_rows": 5, "negative": 2, "zero": 1}) == ((True, True), [])
    assert drop({"n_rows": 3, "negative": 2, "zero": 1})[1][0][::2] == ("value", 3)
    assert "zero_amounts='drop'" in drop({"n_rows": 1, "negative": 0, "zero": 1})[1][0][1]
    assert drop({"n_rows": 2, "negative": 2, "zero": 0}, negative_amounts="net") == ((False, False), [])
    assert drop({"n_rows": 2, "negative": 2, "zero": 0}, zero_amounts="keep")[0] == (True, False)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_frame_with_none_of_the_columns_names_them_all(engine):
    """A DataFrame holding none of the three columns: an InputError naming each, in every engine."""
    from clvmodels import summarize

    with pytest.raises(InputError) as err:
        summarize(pd.DataFrame({"a": [1], "b": [2]}), observation_end="2020-01-01", engine=engine)
    text = str(err.value)
    assert "3 problems" in text
    for col in ("customer_id", "date", "amount"):
        assert f"column '{col}'" in text
