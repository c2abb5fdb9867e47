"""Period ends (observation_end, calibration_end) accept what the date column accepts, mean the same
calendar day in every form, and give the same summary in every engine; anything else is refused with
a message naming the option and listing the accepted forms (the CLI: exit 2, before the log is read)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.data import summarize
from clvmodels.data.checks import END_FORMS, end_day, parse_period_ends
from clvmodels.errors import InputError, ProblemCollector

CAL, OBS = np.datetime64("1997-09-30"), np.datetime64("1997-12-31")

# every accepted form of 1997-09-30; (value, date_format)
FORMS_OF_CAL = [
    ("1997-09-30", None),
    (" 1997-09-30 ", None),
    ("1997-09-30 23:59", None),
    ("1997-09-30T18:00:00Z", None),
    ("1997-09-30", "%Y%m%d"),            # ISO still reads with a date_format it does not match
    ("19970930", "%Y%m%d"),
    (19970930, "%Y%m%d"),                # as an integer date column with date_format
    (np.int64(19970930), "%Y%m%d"),
    ("30/09/1997", "%d/%m/%Y"),
    ("1997-09-30T23:30:00+02:00", "%Y-%m-%dT%H:%M:%S%z"),   # 21:30 UTC
    (dt.date(1997, 9, 30), None),
    (dt.datetime(1997, 9, 30, 23, 59), None),
    (pd.Timestamp("1997-09-30 12:00"), None),
    (pd.Timestamp("1997-10-01 01:00", tz="Europe/Berlin"), None),   # 1997-09-30 23:00 UTC
    (np.datetime64("1997-09-30"), None),
    (np.datetime64("1997-09-30T22:15:00"), None),
    (pd.Period("1997-09", "M"), None),   # a month: its last day, the end being inclusive
    (pd.Period("1997Q3"), None),
    (pd.Period("1997-09-30", "D"), None),
]


@pytest.mark.parametrize("value,date_format", FORMS_OF_CAL)
def test_every_accepted_form_is_the_same_day(value, date_format):
    assert end_day(value, date_format) == CAL


def test_offsets_and_time_zones_are_read_in_utc_as_the_date_column():
    # 23:30 at UTC-2 is 01:30 UTC the next day
    assert end_day("1997-09-30T23:30:00-02:00", "%Y-%m-%dT%H:%M:%S%z") == np.datetime64("1997-10-01")
    assert end_day(pd.Timestamp("1997-09-30 23:30", tz="America/New_York")) == np.datetime64("1997-10-01")


def test_a_period_is_its_last_day_and_coarse_datetime64_is_refused():
    assert end_day(pd.Period("1997-09", "M")) == np.datetime64("1997-09-30")
    assert end_day(pd.Period("1996-02", "M")) == np.datetime64("1996-02-29")   # leap year
    assert end_day(pd.Period("1997", "Y")) == np.datetime64("1997-12-31")
    assert end_day(pd.Period("1997-09-29", "W-SUN")) == np.datetime64("1997-10-05")  # week ending Sunday
    p = ProblemCollector("x")
    assert parse_period_ends(np.datetime64("1997-09"), None, p) == (None, None)
    assert "unit 'M' is not one day" in p.problems[0].message


@pytest.mark.parametrize("value,date_format,why", [
    ("19970930", None, "need date_format"),
    (19970930, None, "an integer needs date_format"),       # never nanoseconds since 1970
    ("30/09/1997", "%Y%m%d", "'%Y%m%d'"),
    (20150231, "%Y%m%d", "does not match date_format"),
    ("1997-09-10", "%Y-%d-%m", "ambiguous: 1997-10-09 under date_format '%Y-%d-%m', 1997-09-10 as ISO 8601"),
    ("June", None, "need date_format"),
    (1.5, None, "Accepted"),
    (True, None, "Accepted"),
    (pd.NaT, None, "NaT"),
    (np.datetime64("NaT", "D"), None, "NaT"),
])
def test_unaccepted_values_name_the_option_and_list_the_forms(value, date_format, why):
    p = ProblemCollector("x")
    assert parse_period_ends("1998-06-30", value, p, date_format) == (np.datetime64("1998-06-30"), None)
    assert len(p.problems) == 1
    msg = p.problems[0].message
    assert msg.startswith(f"calibration_end {value!r} is not a date")
    assert END_FORMS in msg and why in msg


def _log() -> pd.DataFrame:
    """Purchases on the boundary days (the calibration end, the day after it, the observation end) and
    a customer first seen in the holdout, with dates as text in %Y%m%d."""
    rows = [(1, "19970101", 10.0), (1, "19970930", 20.0), (1, "19971001", 5.0), (1, "19971231", 7.5),
            (2, "19970315", 3.0), (2, "19970929", 4.0),
            (3, "19970930", 8.0), (3, "19971231", 1.0),
            (4, "19971115", 2.0)]
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


ENGINE_FORMS = [  # (observation_end, calibration_end) as different forms of 1997-12-31, 1997-09-30
    ("1997-12-31", "1997-09-30"),
    ("19971231", "19970930"),
    (19971231, 19970930),
    (pd.Period("1997-12", "M"), pd.Period("1997Q3")),
    (dt.date(1997, 12, 31), pd.Timestamp("1997-09-30 17:45")),
    (np.datetime64("1997-12-31T23:59"), dt.datetime(1997, 9, 30)),
]


@pytest.mark.parametrize("source", ["frame-pandas", "frame-duckdb", "csv-pandas", "csv-duckdb"])
def test_every_form_gives_the_same_summary_in_every_engine(source, tmp_path):
    kind, engine = source.split("-")
    target = _log()
    if kind == "csv":
        target = tmp_path / "log.csv"
        _log().to_csv(target, index=False)
        target = str(target)
    kw = dict(date_format="%Y%m%d", time_unit="D", engine=engine)
    with pytest.warns(UserWarning, match="first purchase after calibration_end"):
        ref = summarize(target, observation_end="1997-12-31", calibration_end="1997-09-30", **kw)
    # the boundary days, by hand: the end days are inclusive
    assert ref.loc[1, "frequency"] == 1 and ref.loc[1, "T"] == 272 and ref.loc[1, "frequency_holdout"] == 2
    assert ref.loc[3, "T"] == 0 and ref.loc[3, "frequency_holdout"] == 1
    assert ref.loc[2, "recency"] == 198 and 4 not in ref.index
    assert ref.attrs["clvmodels"]["observation_end"] == "1997-12-31"
    for obs, cal in ENGINE_FORMS:
        with pytest.warns(UserWarning, match="first purchase after calibration_end"):
            got = summarize(target, observation_end=obs, calibration_end=cal, **kw)
        pd.testing.assert_frame_equal(got, ref)
        assert got.attrs["clvmodels"]["calibration_end"] == "1997-09-30"
    # a month's Period as the calibration end is its last day, not its first: purchases on 09-30 count
    with pytest.warns(UserWarning):
        first_day = summarize(target, observation_end="1997-12-31", calibration_end="1997-09-01", **kw)
    assert first_day.loc[1, "frequency"] == 0 and ref.loc[1, "frequency"] == 1


def test_the_dispatcher_passes_date_format_to_the_ends():
    with pytest.raises(InputError) as info:
        summarize(_log(), observation_end="31/12/1997", date_format="%Y%m%d")
    assert "observation_end '31/12/1997' is not a date" in str(info.value)
    assert "date_format '%Y%m%d', e.g. '19970930'" in str(info.value)


def test_cli_reads_ends_in_the_date_format_and_refuses_bad_ones_before_the_log(tmp_path, capsys):
    log = tmp_path / "log.csv"
    _log().to_csv(log, index=False)
    out_iso, out_fmt = tmp_path / "iso.parquet", tmp_path / "fmt.parquet"
    common = ["--date-format", "%Y%m%d", "--time-unit", "D", "--quiet"]
    assert main(["summarize", str(log), "--observation-end", "1997-12-31", "--calibration-end", "1997-09-30",
                 "-o", str(out_iso), *common]) == 0
    assert main(["summarize", str(log), "--observation-end", "19971231", "--calibration-end", "19970930",
                 "-o", str(out_fmt), *common]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out_fmt), pd.read_parquet(out_iso))
    capsys.readouterr()
    # a broken log AND bad ends: only the ends are reported, so they were checked before the log was read
    bad_log = tmp_path / "bad.csv"
    bad_log.write_text("customer_id,date,amount\n1,notadate,abc\n")
    out = tmp_path / "never.parquet"
    rc = main(["summarize", str(bad_log), "--observation-end", "June", "--calibration-end", "19970930",
               "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert "--observation-end 'June' is not a date" in err and "--calibration-end '19970930' is not a date" in err
    assert "pandas.Period" in err and "need date_format" in err
    assert "unparseable dates" not in err and "non-numeric amounts" not in err
    # a calibration end after the observation end is named with the options too
    rc = main(["summarize", str(log), "--observation-end", "1997-09-30", "--calibration-end", "19971231",
               "-o", str(out), *common])
    assert rc == 2 and "--calibration-end 1997-12-31 must be before --observation-end 1997-09-30" in capsys.readouterr().err


@pytest.mark.spark
def test_spark_engine_gives_the_same_summary_for_every_form():
    pytest.importorskip("pyspark")
    import shutil

    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    from clvmodels.spark import local_session

    from clvmodels.spark.summary import summarize_to_pandas

    session = local_session(1, driver_memory="1g", shuffle_partitions=2, app_name="clvmodels-test-dates")
    kw = dict(date_format="%Y%m%d", time_unit="D")
    with pytest.warns(UserWarning):
        ref = summarize(_log(), observation_end="1997-12-31", calibration_end="1997-09-30", engine="pandas", **kw)
    for obs, cal in ENGINE_FORMS:
        with pytest.warns(UserWarning):
            got = summarize(_log(), observation_end=obs, calibration_end=cal, engine="spark", **kw)
        pd.testing.assert_frame_equal(got[ref.columns], ref, check_dtype=False)
    # the Spark API's own entry point parses the ends with the date_format too
    with pytest.warns(UserWarning):
        got = summarize_to_pandas(session.createDataFrame(_log()), observation_end=19971231,
                                  calibration_end=pd.Period("1997Q3"), spark=session, **kw)
    pd.testing.assert_frame_equal(got[ref.columns], ref, check_dtype=False)


@pytest.mark.parametrize("command", ["summarize", "forecast", "validate", "compare"])
def test_every_command_checks_the_ends_before_the_log(command, tmp_path, capsys):
    """A broken log and a bad end: only the end is reported (the log was not read), naming the option."""
    bad_log = tmp_path / "bad.csv"
    bad_log.write_text("customer_id,date,amount\n1,notadate,abc\n")
    extra = {"summarize": ["-o", tmp_path / "s.parquet"],
             "forecast": ["--horizon", "52", "-o", tmp_path / "f.parquet"],
             "validate": ["--calibration-end", "1997-13-01", "--json", tmp_path / "v.json"],
             "compare": ["--calibration-end", "1997-13-01", "--json", tmp_path / "c.json"]}[command]
    rc = main([command, str(bad_log), "--observation-end", "31/12/1997", "--quiet", *map(str, extra)])
    err = capsys.readouterr().err
    assert rc == 2 and "--observation-end '31/12/1997' is not a date" in err and "pandas.Period" in err
    if command in ("validate", "compare"):
        assert "--calibration-end '1997-13-01' is not a date" in err
    assert "unparseable dates" not in err and list(tmp_path.iterdir()) == [bad_log]


def test_forecast_reads_the_log_and_the_end_in_date_format(cdnow_transactions):
    from clvmodels import forecast

    text = cdnow_transactions[["customer_id", "date", "amount"]].assign(
        date=cdnow_transactions["date"].dt.strftime("%d/%m/%Y"))
    res = forecast(text, observation_end="30/06/1998", date_format="%d/%m/%Y", method="map", horizon="13W",
                   max_draws=20, progress=False)
    ref = summarize(cdnow_transactions, observation_end="1998-06-30")
    pd.testing.assert_frame_equal(res.summary, ref)
    assert res.summary["frequency"].sum() == 4339
