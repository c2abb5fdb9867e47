"""The Spark path (clvmodels[spark]) gives the single-machine results, not just some results:

* the Spark summary equals ``clvmodels.summarize`` (pandas engine) on CDNOW and on a simulated log,
  with and without a calibration split, in periods mode and with returns; so do
  ``summarize_to_pandas`` and ``summarize(..., engine="spark")`` (the dispatcher calling
  ``aggregate_spark``) on the bundled CSV file;
* bad input raises the same InputError problems (column, message, count) as the pandas engine;
* BG/NBD fitted from the distinct-triplet counts equals BG/NBD fitted on the per-customer summary
  (MAP, exactly), and Gamma-Gamma from the distinct spend rows equals its per-customer fit;
* the forecast scored partition by partition equals ``clvmodels.scoring.score`` column by column,
  segments included, and is written as Parquet atomically.

Spark runs in local mode (``local[2]``, 127.0.0.1, no UI): one session for the module.
"""
from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark"),
              # PySpark 4's own pandas conversions, under pandas 3: noise, not findings
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip("Spark needs Java (17) on the PATH or JAVA_HOME", allow_module_level=True)

from clvmodels.data import ExcludedCustomersWarning, summarize  # noqa: E402
from clvmodels.datasets import cdnow_sample_path, load_cdnow_sample  # noqa: E402
from clvmodels.errors import InputError  # noqa: E402

MONEY = ["monetary_value", "historical_clv", "monetary_value_holdout", "spend_holdout", "first_purchase_value"]
ATTRS = ["time_unit", "time_mode", "observation_end", "calibration_end", "n_customers", "excluded_new_in_holdout",
         "excluded_returns_only", "negative_amounts", "n_negative_amounts", "zero_amounts", "n_zero_amounts",
         "n_zero_spend_repeat", "exact_money_decimals"]


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()[["customer_id", "date", "amount"]]


@pytest.fixture(scope="module")
def cdnow_sdf(spark, cdnow):
    return spark.createDataFrame(cdnow)


@pytest.fixture(scope="module")
def simulated():
    """A simulated log with full-precision amounts (so money is added as floats) and some returns."""
    from clvmodels.simulate import simulate_transactions

    log = simulate_transactions(400, 0.25, 4.0, 0.8, 2.5, 6.0, 3.7, 15.0, start="2020-01-01",
                                acquisition_days=120, observation_end="2020-12-31", seed=7)
    return log


def spark_summary(sdf, **kw) -> pd.DataFrame:
    from clvmodels.spark import summarize_spark, to_pandas_summary

    return to_pandas_summary(summarize_spark(sdf, **kw))


def assert_same_summary(got: pd.DataFrame, expected: pd.DataFrame, exact_money: bool) -> None:
    assert list(got.columns) == list(expected.columns)
    assert got.index.equals(expected.index) and got.index.dtype == expected.index.dtype
    assert (got.dtypes == expected.dtypes).all(), (got.dtypes, expected.dtypes)
    for c in expected.columns:
        if c in MONEY and not exact_money:  # float sums in another order: equal to within rounding
            np.testing.assert_allclose(got[c].to_numpy(), expected[c].to_numpy(), rtol=1e-12, atol=1e-9, err_msg=c)
        else:
            pd.testing.assert_series_equal(got[c], expected[c], check_exact=True, obj=c)
    a, b = got.attrs["clvmodels"], expected.attrs["clvmodels"]
    assert {k: a[k] for k in ATTRS} == {k: b[k] for k in ATTRS}
    assert a["engine"] == "spark"


# --- the summary ------------------------------------------------------------------------------------
@pytest.mark.parametrize("calibration_end", [None, "1997-09-30"])
def test_summary_equals_pandas_engine_on_cdnow(cdnow, cdnow_sdf, calibration_end):
    kw = dict(observation_end="1998-06-30", calibration_end=calibration_end, time_unit="W")
    expected = summarize(cdnow, engine="pandas", **kw)
    got = spark_summary(cdnow_sdf, **kw)
    assert len(got) == 2357
    assert_same_summary(got, expected, exact_money=True)
    assert got.attrs["clvmodels"]["exact_money_decimals"] == 2


@pytest.mark.parametrize("calibration_end", [None, "2020-08-31"])
def test_summary_equals_pandas_engine_on_a_simulated_log(spark, simulated, calibration_end):
    kw = dict(observation_end="2020-12-31", calibration_end=calibration_end, time_unit="W")
    with warnings.catch_warnings(record=True) as w_pandas:
        warnings.simplefilter("always")
        expected = summarize(simulated, engine="pandas", **kw)
    with warnings.catch_warnings(record=True) as w_spark:
        warnings.simplefilter("always")
        got = spark_summary(spark.createDataFrame(simulated), **kw)
    assert expected.attrs["clvmodels"]["exact_money_decimals"] is None  # full-precision amounts
    assert_same_summary(got, expected, exact_money=False)
    assert sum(frequency > 0 for frequency in got["frequency"]) > 50

    def excluded(ws):
        return [str(w.message) for w in ws if issubclass(w.category, ExcludedCustomersWarning)]

    assert excluded(w_spark) == excluded(w_pandas)


@pytest.mark.parametrize("unit", ["W", "M"])
def test_periods_mode_and_returns_equal_pandas_engine(spark, simulated, unit):
    log = simulated.copy()
    log["amount"] = log["amount"].round(2)
    # returns: a same-day return for some purchases, and a customer with nothing but a return
    ret = log.iloc[::9].copy()
    ret["amount"] = -ret["amount"] / 2
    only = pd.DataFrame({"customer_id": [10_000], "date": [pd.Timestamp("2020-06-01")], "amount": [-5.0]})
    log = pd.concat([log, ret, only], ignore_index=True)
    kw = dict(observation_end="2020-12-31", calibration_end="2020-09-30", time_unit=unit, time_mode="periods",
              negative_amounts="net")
    with pytest.warns(ExcludedCustomersWarning):
        expected = summarize(log, engine="pandas", **kw)
    with pytest.warns(ExcludedCustomersWarning):
        got = spark_summary(spark.createDataFrame(log), **kw)
    assert expected.attrs["clvmodels"]["n_negative_amounts"] == len(ret) + 1
    assert_same_summary(got, expected, exact_money=True)


def test_summary_of_csv_files_and_the_engine_hook(spark):
    """Files read by Spark (CSV as text, parsed by clvmodels' rules) give the pandas engine's summary,
    both as a Spark DataFrame and through ``summarize_to_pandas`` (what ``engine="spark"`` returns)."""
    from clvmodels.spark import summarize_to_pandas

    path = str(cdnow_sample_path())
    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    expected = summarize(path, engine="pandas", **kw)
    assert_same_summary(spark_summary(path, spark=spark, **kw), expected, exact_money=True)
    hooked = summarize_to_pandas(path, spark=spark, **kw)
    pd.testing.assert_frame_equal(hooked, expected, check_exact=True)
    assert hooked.attrs["clvmodels"] == {**expected.attrs["clvmodels"], "engine": "spark",
                                         "engine_reason": "engine='spark' requested"}


def test_summarize_engine_spark_goes_through_aggregate_spark(spark, simulated):
    """``clvmodels.summarize(..., engine="spark")`` calls the Spark engine's ``aggregate_spark`` as it
    calls the DuckDB engine's, and finishes the summary itself: the pandas engine's summary, warnings
    and problems, with ``engine="spark"`` in the attrs."""
    from clvmodels.spark import summarize_to_pandas

    path = str(cdnow_sample_path())
    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    expected = summarize(path, engine="pandas", **kw)
    got = summarize(path, engine="spark", **kw)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs["clvmodels"] == {**expected.attrs["clvmodels"], "engine": "spark",
                                      "engine_reason": "engine='spark' requested"}
    kw = dict(observation_end="2020-12-31", calibration_end="2020-08-31", time_unit="D")
    with warnings.catch_warnings(record=True) as w_pandas:
        warnings.simplefilter("always")
        expected = summarize(simulated, engine="pandas", **kw)
    with warnings.catch_warnings(record=True) as w_spark:
        warnings.simplefilter("always")
        got = summarize(simulated, engine="spark", **kw)
    assert_same_summary(got, expected, exact_money=False)
    assert [str(w.message) for w in w_spark if issubclass(w.category, ExcludedCustomersWarning)] == [
        str(w.message) for w in w_pandas if issubclass(w.category, ExcludedCustomersWarning)]
    log = pd.DataFrame({"customer_id": [1, None, 2], "date": ["2024-01-01", "x", "2025-01-01"],
                        "amount": ["1", "2", "-3"]})
    with pytest.raises(InputError) as hooked:
        summarize_to_pandas(log, spark=spark, observation_end="2024-06-30")
    with pytest.raises(InputError) as got:
        summarize(log, engine="spark", observation_end="2024-06-30")
    assert str(got.value) == str(hooked.value)
    assert [p.column for p in got.value.problems] == ["customer_id", "date", "amount", "date"]


def test_summary_of_parquet_files_written_by_pandas(spark, simulated, tmp_path):
    """pandas writes nanosecond timestamps, which Spark cannot read as timestamps: they are read as
    integers and floored, so every transaction keeps its calendar day (one a nanosecond before
    midnight included)."""
    log = simulated.copy()
    log["amount"] = log["amount"].round(2)
    log["date"] = log["date"].astype("datetime64[ns]")
    log.loc[3, "date"] = log.loc[3, "date"] + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    half = len(log) // 2
    log.iloc[:half].to_parquet(tmp_path / "part-0.parquet")
    log.iloc[half:].to_parquet(tmp_path / "part-1.parquet")
    kw = dict(observation_end="2020-12-31", calibration_end="2020-08-31", time_unit="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        expected = summarize(str(tmp_path), engine="pandas", **kw)
        got = spark_summary(str(tmp_path / "*.parquet"), spark=spark, **kw)
    assert_same_summary(got, expected, exact_money=True)


def test_summary_is_lazy_and_keeps_its_metadata_through_parquet(spark, cdnow_sdf, tmp_path):
    from clvmodels.spark import summarize_spark, summary_metadata

    s = summarize_spark(cdnow_sdf, observation_end="1998-06-30", time_unit="W", persist=False)
    assert summary_metadata(s)["n_customers"] is None  # nothing counted without persist
    s.write.parquet(str(tmp_path / "summary.parquet"))
    back = spark.read.parquet(str(tmp_path / "summary.parquet"))
    assert summary_metadata(back)["time_unit"] == "W"
    assert back.count() == 2357
    types = dict(back.dtypes)
    assert types["customer_id"] == "bigint" and types["frequency"] == "bigint"
    assert types["first_purchase"] == "date" and types["T"] == "double"


def problems_of(exc: InputError) -> list[tuple]:
    return [(p.column, p.message, p.n_rows) for p in exc.problems]


def test_bad_input_raises_the_pandas_engine_problems(spark):
    log = pd.DataFrame({
        "cust": ["a", "b", " ", "c", "d", "e", "f"],
        "day": ["2021-01-03", "2021-02-30", "2021-01-05", None, "2021-01-04", "2021-01-09", "2021-03-01"],
        "value": ["10", "12.5", "3", "4", "x1", "-2", "7"],
    })
    kw = dict(customer_id="cust", date="day", amount="value", observation_end="2021-02-01", time_unit="W")
    with pytest.raises(InputError) as ref:
        summarize(log, engine="pandas", **kw)
    from clvmodels.spark import summarize_spark

    with pytest.raises(InputError) as got:
        summarize_spark(spark.createDataFrame(log), **kw)
    assert problems_of(got.value) == problems_of(ref.value)
    columns = {p.column for p in got.value.problems}
    assert columns == {"cust", "day", "value"}
    shown = {p.message: p.rows for p in got.value.problems}
    assert shown[next(m for m in shown if m.startswith("non-numeric"))]["value"].tolist() == ["x1"]
    assert "cust" in str(got.value) and "2021-02-30" in str(got.value)


def test_summary_zero_amounts_on_the_cdnow_master_log(spark):
    """The full CDNOW log (80 purchases worth $0) read by Spark: kept, a $0 purchase is a purchase
    occasion (customer 10244's only repeat purchase) and the counts in the metadata are the pandas
    engine's; dropped, the summary is the pandas engine's too."""
    from clvmodels.datasets import cdnow_master_path
    from clvmodels.spark import summarize_to_pandas

    path = str(cdnow_master_path())
    expected = summarize(path, engine="pandas", observation_end="1998-06-30")
    got = spark_summary(path, spark=spark, observation_end="1998-06-30")
    assert_same_summary(got, expected, exact_money=True)
    assert got.loc[10244, ["frequency", "monetary_value"]].tolist() == [1, 0.0]
    meta = got.attrs["clvmodels"]
    assert (meta["zero_amounts"], meta["n_zero_amounts"], meta["n_zero_spend_repeat"]) == ("keep", 80, 1)
    dropped = summarize_to_pandas(path, spark=spark, observation_end="1998-06-30", zero_amounts="drop")
    pd.testing.assert_frame_equal(dropped, summarize(path, engine="pandas", observation_end="1998-06-30",
                                                     zero_amounts="drop"), check_exact=True)
    assert len(dropped) == 23_502 and dropped.attrs["clvmodels"]["n_zero_spend_repeat"] == 0


def test_summary_refuses_out_of_range_dates_huge_amounts_and_ragged_rows(spark, tmp_path):
    """Dates outside 1678-01-01..2261-12-31, amounts beyond 2**53 and CSV rows with the wrong number of
    fields are the pandas engine's problems in Spark too (Spark would silently drop extra fields)."""
    from clvmodels.spark import summarize_spark

    log = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                        "date": ["2024-01-01", "0001-01-01", "2263-05-01", "2024-01-02", "0000-01-01"],
                        "amount": ["1", "2", "1e300", "-1e308", "5"]})
    with pytest.raises(InputError) as ref:
        summarize(log, engine="pandas", observation_end="2024-06-30")
    with pytest.raises(InputError) as got:
        summarize_spark(spark.createDataFrame(log), observation_end="2024-06-30")
    assert problems_of(got.value) == problems_of(ref.value)
    assert [(p.column, p.message[:30], p.n_rows) for p in got.value.problems] == [
        ("date", "dates outside the supported ra", 3), ("amount", "amounts too large to be money:", 2)]
    # Parquet timestamps of year 1 (beyond datetime64[ns]): counted and shown, not an Arrow overflow
    stamps = pd.DataFrame({"customer_id": [1, 2], "amount": [1.0, 2.0],
                           "date": np.array(["2024-01-01", "0001-01-01"], dtype="datetime64[us]")})
    stamps.to_parquet(tmp_path / "stamps.parquet", index=False)
    with pytest.raises(InputError) as got:
        summarize_spark(str(tmp_path / "stamps.parquet"), spark=spark, observation_end="2024-06-30")
    assert [(p.column, p.n_rows) for p in got.value.problems] == [("date", 1)]
    assert got.value.problems[0].rows["date"].tolist() == ["0001-01-01 00:00:00"]
    path = tmp_path / "ragged.csv"
    path.write_text("customer_id,date,amount,channel\n1,2024-01-01,10,web\n1,2024-01-02,2,50,web\n2,2024-01-03,4\n")
    with pytest.raises(InputError) as ref:
        summarize(str(path), engine="duckdb", observation_end="2024-06-30")
    with pytest.raises(InputError) as got:
        summarize_spark(str(path), spark=spark, observation_end="2024-06-30")
    assert str(got.value) == str(ref.value)
    assert got.value.problems[0].rows[["row", "fields"]].values.tolist() == [[2, 5], [3, 3]]


def test_missing_columns_and_wrong_types_are_named(spark, cdnow):
    from clvmodels.spark import summarize_spark

    with pytest.raises(InputError) as got:
        summarize_spark(spark.createDataFrame(cdnow.rename(columns={"amount": "value"})),
                        observation_end="1998-06-30")
    assert [p.column for p in got.value.problems] == ["amount"]
    assert "'value'" in got.value.problems[0].message
    log = cdnow.head(20).assign(amount=True)
    with pytest.raises(InputError) as got:
        summarize_spark(spark.createDataFrame(log), observation_end="1998-06-30")
    assert [p.column for p in got.value.problems] == ["amount"]
    assert got.value.problems[0].message.startswith("amounts must be numbers")


# --- fitting from counts ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def calibration(cdnow, cdnow_sdf):
    from clvmodels.spark import summarize_spark

    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    return summarize_spark(cdnow_sdf, **kw), summarize(cdnow, engine="pandas", **kw)


@pytest.fixture(scope="module")
def map_models(calibration):
    from clvmodels import BetaGeoModel, GammaGammaModel

    _, pdf = calibration
    return (BetaGeoModel(method="map", seed=3, progressbar=False).fit(pdf),
            GammaGammaModel(method="map", seed=3, progressbar=False).fit(pdf))


def test_triplet_counts_are_the_distinct_triplets(calibration):
    from clvmodels.models.triplets import compress
    from clvmodels.spark import triplet_counts

    sdf, pdf = calibration
    counts = triplet_counts(sdf)
    assert list(counts.columns) == ["frequency", "recency", "T", "n_customers"]
    assert counts.attrs["clvmodels"]["time_unit"] == "W"
    trip = compress(pdf["frequency"], pdf["recency"], pdf["T"])
    assert len(counts) == len(trip) < len(pdf)
    assert int(counts["n_customers"].sum()) == len(pdf)
    np.testing.assert_array_equal(counts["frequency"], trip.frequency)
    np.testing.assert_array_equal(counts["T"], trip.T)
    np.testing.assert_array_equal(counts["recency"], trip.recency)
    np.testing.assert_array_equal(counts["n_customers"], trip.weight)


def test_fit_from_counts_equals_fit_on_the_summary(calibration, map_models):
    from clvmodels import BetaGeoModel, GammaGammaModel
    from clvmodels.spark import fit_models_spark

    sdf, _ = calibration
    bg_ref, gg_ref = map_models
    bg, gg = fit_models_spark(sdf, bgnbd=BetaGeoModel(method="map", seed=3, progressbar=False),
                              gamma_gamma=GammaGammaModel(method="map", seed=3, progressbar=False))
    # the BG/NBD likelihood sees the same distinct triplets with the same weights: the same optimum
    np.testing.assert_array_equal(bg.params_.to_numpy(), bg_ref.params_.to_numpy())
    for p in bg.param_names:
        np.testing.assert_array_equal(bg.posterior_[p].values, bg_ref.posterior_[p].values)
    assert bg.fit_info_["n_customers"] == 2357 and bg.fit_info_["n_triplets"] == bg_ref.fit_info_["n_triplets"]
    assert bg.time_unit_ == "W"
    # Gamma-Gamma: the same distinct (frequency, monetary_value) rows; the prior scale is a mean taken
    # in another order, so the optimum agrees to rounding
    np.testing.assert_allclose(gg.params_.to_numpy(), gg_ref.params_.to_numpy(), rtol=1e-7)
    assert gg.fit_info_["n_customers_fitted"] == gg_ref.fit_info_["n_customers_fitted"] == 946


# --- scoring ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def forecasts(calibration, map_models):
    from clvmodels.scoring import score
    from clvmodels.spark import score_spark

    sdf, pdf = calibration
    bg, gg = map_models
    kw = dict(discount_rate=0.1, margin=0.3, max_draws=40)
    expected = score(pdf, bg, gg, "26W", **kw)
    got = score_spark(sdf, bg, gg, "26W", **kw)
    return got, expected


def test_spark_scoring_equals_score(forecasts):
    from clvmodels.scoring import FORECAST_COLUMNS

    sdf, expected = forecasts
    got = sdf.toPandas().sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == list(expected.columns) == FORECAST_COLUMNS
    assert len(got) == len(expected) == 2357
    for c in FORECAST_COLUMNS:
        if c == "segment":
            assert got[c].tolist() == expected[c].astype(str).tolist()
        elif c in ("customer_id", "frequency"):
            np.testing.assert_array_equal(got[c].to_numpy(), expected[c].to_numpy(), err_msg=c)
        elif c == "last_purchase":  # a Spark date, a pandas timestamp at midnight: the same days
            assert (pd.to_datetime(got[c]) == pd.to_datetime(expected[c])).all()
        else:
            np.testing.assert_allclose(got[c].to_numpy(), expected[c].to_numpy(), rtol=1e-12, atol=1e-12,
                                       err_msg=c)
    # ties are never cut, on Spark as in value_segments: equal summaries share the segment
    keys = ["frequency", "recency", "T", "monetary_value", "historical_clv"]
    assert got.groupby(keys)["segment"].nunique().max() == 1
    assert set(got["segment"]) == {"at risk", "high value", "medium value", "low value"}
    meta = sdf.schema["customer_id"].metadata
    assert meta["clvmodels_clv"]["n_draws"] == 40 and meta["clvmodels_clv"]["horizon"] == "26W"
    # each column described with its unit, as in clv forecast's Parquet fields
    assert sdf.schema["clv"].metadata["unit"] == "currency units of the transaction log's amounts"
    assert sdf.schema["p_any_purchase_upper"].metadata["unit"] == "probability"
    assert "26W" in sdf.schema["expected_purchases"].metadata["description"]


def test_forecast_is_written_as_parquet_atomically(forecasts, tmp_path):
    from clvmodels.spark import write_forecast_parquet

    sdf, expected = forecasts
    target = tmp_path / "out" / "forecast.parquet"
    write_forecast_parquet(sdf, str(target))
    write_forecast_parquet(sdf, str(target))  # replaces the previous forecast
    assert sorted(os.listdir(tmp_path / "out")) == ["forecast.parquet"]  # no temporary directories left
    back = pd.read_parquet(target).sort_values("customer_id").reset_index(drop=True)
    assert len(back) == len(expected)
    np.testing.assert_allclose(back["clv"], expected["clv"], rtol=1e-12)
    with pytest.raises(FileExistsError):
        write_forecast_parquet(sdf, str(target), overwrite=False)


def test_scoring_options_are_checked_before_any_work(calibration, map_models):
    from clvmodels.errors import UnitError
    from clvmodels.spark import score_spark

    sdf, pdf = calibration
    bg, gg = map_models
    with pytest.raises(UnitError):
        score_spark(sdf, bg, gg, "12M")
    with pytest.raises(InputError, match="margin"):
        score_spark(sdf, bg, gg, "26W", margin="no_such_column")
    with pytest.raises(TypeError, match="column"):
        score_spark(sdf, bg, gg, "26W", margin=pd.Series(0.3, index=pdf.index))


def test_cli_summarize_with_the_spark_engine(spark, tmp_path):
    """``clv summarize --engine spark`` writes the pandas engine's summary (the session in use is reused)."""
    from clvmodels.cli import main

    out = tmp_path / "summary.parquet"
    path = str(cdnow_sample_path())
    assert main(["summarize", path, "--observation-end", "1998-06-30", "--engine", "spark", "--time-mode",
                 "periods", "-o", str(out), "--quiet"]) == 0
    got = pd.read_parquet(out)
    expected = summarize(path, engine="pandas", observation_end="1998-06-30", time_mode="periods")
    pd.testing.assert_frame_equal(got.set_index(expected.index.name) if expected.index.name in got else got,
                                  expected, check_exact=True, check_dtype=False)


def test_spark_scoring_with_a_first_purchase_spend_model(calibration, map_models):
    """A spend model on all purchase occasions reads first_purchase_value from the Spark summary too."""
    from clvmodels import GammaGammaModel
    from clvmodels.scoring import score
    from clvmodels.spark import score_spark

    sdf, pdf = calibration
    bg, _ = map_models
    gg = GammaGammaModel.from_params({"p": 6.0, "q": 3.5, "v": 10.0}, first_purchase=True)
    expected = score(pdf, bg, gg, "26W", max_draws=40)
    got = score_spark(sdf, bg, gg, "26W", max_draws=40).toPandas().sort_values("customer_id").reset_index(drop=True)
    np.testing.assert_allclose(got["expected_spend"], expected["expected_spend"], rtol=1e-12)
    np.testing.assert_allclose(got["clv"], expected["clv"], rtol=1e-12, atol=1e-12)
    assert expected.loc[expected["frequency"] == 0, "expected_spend"].nunique() > 100


def test_fit_models_spark_with_a_first_purchase_spend_model_equals_the_local_fit(calibration):
    """With GammaGammaModel(first_purchase=True) the spend rows that reach the driver keep each one-time
    buyer's first purchase (distinct (frequency, monetary_value, first_purchase_value)), and the MAP fit
    equals the fit on the per-customer pandas summary."""
    from clvmodels import BetaGeoModel, GammaGammaModel
    from clvmodels.spark import fit_models_spark, spend_counts

    sdf, pdf = calibration
    rows = spend_counts(sdf, first_purchase=True)
    assert rows["n_customers"].sum() == len(pdf) and "first_purchase_value" in rows.columns
    assert (rows["frequency"] == 0).sum() > 100  # one-time buyers are no longer one row
    _, gg = fit_models_spark(sdf, bgnbd=BetaGeoModel(method="map", progressbar=False),
                             gamma_gamma=GammaGammaModel(method="map", first_purchase=True, progressbar=False))
    local = GammaGammaModel(method="map", first_purchase=True, progressbar=False).fit(pdf)
    for name in ("p", "q", "v"):
        np.testing.assert_allclose(gg.params_[name], local.params_[name], rtol=1e-6)
