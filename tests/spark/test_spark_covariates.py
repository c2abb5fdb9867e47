"""Models with static covariates on Spark give the single-machine results:

* ``triplet_counts`` / ``spend_counts`` with ``covariates=`` are the distinct (covariates, triplet) rows
  with their customer counts (checked against a pandas group-by of the per-customer summary);
* ``fit_models_spark`` passes each model's configured covariate columns and its MAP fit equals the fit on
  the per-customer pandas summary (every posterior mean, the design's weighted means/sds/reference levels,
  the cells and triplets);
* ``score_spark`` with covariate models equals ``clvmodels.scoring.score`` column by column, the covariate
  columns included (text, bool, double and long columns);
* bad covariates (a level the fit did not see, NaN, null, a missing column, a date column) raise
  :class:`InputError` on the driver naming the column, its customers and their count, before any work.

The log: the CDNOW calibration summary (2,357 customers) with simulated customer attributes.
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
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip("Spark needs Java (17) on the PATH or JAVA_HOME", allow_module_level=True)

from clvmodels.data import summarize  # noqa: E402
from clvmodels.datasets import load_cdnow_sample  # noqa: E402
from clvmodels.errors import InputError  # noqa: E402

PURCHASE = dict(purchase_covariates=["channel", "income"], dropout_covariates=["channel", "income"])
SPEND = dict(spend_covariates=["member", "tenure"])
MAP = dict(method="map", seed=3, progressbar=False)


@pytest.fixture(scope="module")
def attributes():
    """Per customer: channel (text, 3 levels, 'organic' the most frequent), income (double, 5 values),
    member (bool), tenure (long, 2 values), country (text, 4 levels: a pooled group)."""
    cdnow = load_cdnow_sample()
    ids = np.sort(cdnow["customer_id"].unique())
    rng = np.random.default_rng(1)
    return pd.DataFrame({"customer_id": ids,
                         "channel": rng.choice(["ads", "organic", "tv"], len(ids), p=[0.3, 0.5, 0.2]),
                         "income": rng.choice([20.0, 35.5, 50.0, 71.25, 90.0], len(ids)),
                         "member": rng.random(len(ids)) < 0.4,
                         "tenure": rng.choice([1, 3], len(ids)).astype(np.int64),
                         "country": np.random.default_rng(2).choice(["de", "fr", "it", "nl"], len(ids),
                                                                    p=[0.5, 0.3, 0.15, 0.05])})


@pytest.fixture(scope="module")
def summaries(spark, attributes):
    """(Spark summary with the attributes joined, the pandas engine's summary with them)."""
    from clvmodels.spark import summarize_spark

    cdnow = load_cdnow_sample()[["customer_id", "date", "amount"]]
    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    sdf = summarize_spark(spark.createDataFrame(cdnow), **kw).join(spark.createDataFrame(attributes), "customer_id")
    pdf = summarize(cdnow, engine="pandas", **kw)
    attrs = pdf.attrs
    pdf = pdf.join(attributes.set_index("customer_id"))
    pdf.attrs = attrs
    return sdf, pdf


@pytest.fixture(scope="module")
def local_fits(summaries):
    from clvmodels import BetaGeoModel, GammaGammaModel

    _, pdf = summaries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BetaGeoModel(**MAP, **PURCHASE).fit(pdf), GammaGammaModel(**MAP, **SPEND).fit(pdf)


def test_counts_are_the_distinct_covariate_rows(summaries):
    from clvmodels.spark import spend_counts, triplet_counts

    sdf, pdf = summaries
    counts = triplet_counts(sdf, covariates=["channel", "income"])
    assert list(counts.columns) == ["channel", "income", "frequency", "recency", "T", "n_customers"]
    expected = (pdf.groupby(["channel", "income", "frequency", "recency", "T"]).size().rename("n_customers")
                .reset_index())
    # more rows than the distinct triplets (each cell has its own), fewer than the customers
    assert len(triplet_counts(sdf)) < len(counts) == len(expected) < len(pdf)
    got = counts.sort_values(["channel", "income", "frequency", "recency", "T"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert counts["n_customers"].sum() == 2357 and counts.attrs["clvmodels"]["time_unit"] == "W"
    spend = spend_counts(sdf, covariates="channel, member")
    assert list(spend.columns) == ["channel", "member", "frequency", "monetary_value", "n_customers"]
    assert spend["member"].dtype == bool
    repeat = pdf[pdf["frequency"] > 0]
    n_pairs = len(repeat.groupby(["channel", "member", "frequency", "monetary_value"]).size())
    one_time = pdf.loc[pdf["frequency"] == 0].groupby(["channel", "member"]).size()  # one row per cell
    assert len(spend) == n_pairs + len(one_time)
    assert spend.loc[spend["frequency"] == 0, "n_customers"].sum() == one_time.sum() == 1411


def test_fit_on_spark_equals_the_fit_on_the_pandas_summary(summaries, local_fits):
    from clvmodels.spark import fit_models_spark

    sdf, pdf = summaries
    bg_ref, gg_ref = local_fits
    # the covariate options go to the model they configure (spend_covariates to the Gamma-Gamma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg, gg = fit_models_spark(sdf, **MAP, **PURCHASE, **SPEND)
    assert bg.purchase_covariates == PURCHASE["purchase_covariates"]
    assert gg.spend_covariates == SPEND["spend_covariates"]
    # BG/NBD: the same distinct triplets per cell with the same weights and the same design: the same MAP.
    # Gamma-Gamma: the same likelihood (below, to 1e-12), but its prior scale is a mean spend summed in
    # another order (per customer vs per distinct row), and L-BFGS-B (gtol 1e-9) stops on the flat p-v
    # ridge within ~3e-8 of the optimum (measured: 2.7e-8 relative on p, 3e-9 absolute on a coefficient of
    # 0.02): 1e-7 relative / 1e-8 absolute there, as for the Gamma-Gamma without covariates (test_spark.py)
    for got, ref, rtol, atol in ((bg, bg_ref, 1e-8, 1e-10), (gg, gg_ref, 1e-7, 1e-8)):
        assert got.param_names == ref.param_names and len(got.param_names) > 4
        for p in ref.param_names:
            np.testing.assert_allclose(float(got.posterior_[p].mean()), float(ref.posterior_[p].mean()),
                                       rtol=rtol, atol=atol, err_msg=p)
        assert got.fit_info_["n_cells"] == ref.fit_info_["n_cells"]
        assert got.fit_info_["n_customers"] == ref.fit_info_["n_customers"] == 2357
        assert got.fit_info_["covariates"]["roles"] == ref.fit_info_["covariates"]["roles"]
        for a, b in zip(got.fit_info_["covariates"]["covariates"], ref.fit_info_["covariates"]["covariates"]):
            assert (a["name"], a["kind"], a["levels"], a["reference"]) == (b["name"], b["kind"], b["levels"],
                                                                           b["reference"])
            np.testing.assert_allclose([a["mean"], a["sd"]], [b["mean"], b["sd"]], rtol=1e-12)
    assert bg.fit_info_["n_cells"] == 15 and gg.fit_info_["n_cells"] == 4
    assert bg.fit_info_["n_triplets"] == bg_ref.fit_info_["n_triplets"]
    # the likelihoods themselves: per-customer rows and distinct Spark rows, at the same parameters
    from clvmodels.spark import spend_counts, triplet_counts

    at = dict(gg_ref.params_)
    rows = spend_counts(sdf, covariates=SPEND["spend_covariates"])
    np.testing.assert_allclose(gg.log_likelihood(rows, at), gg_ref.log_likelihood(pdf, at), rtol=1e-12)
    at = dict(bg_ref.params_)
    rows = triplet_counts(sdf, covariates=PURCHASE["purchase_covariates"])
    np.testing.assert_allclose(bg.log_likelihood(rows, at), bg_ref.log_likelihood(pdf, at), rtol=1e-12)
    # the design's weighted statistics are those of the fitted customers themselves (T > 0; repeat buyers
    # with a positive mean spend for the Gamma-Gamma), computed here directly
    income = bg.covariates_.covariates["income"]
    fitted = pdf.loc[pdf["T"] > 0, "income"]
    np.testing.assert_allclose([income.mean, income.sd], [fitted.mean(), fitted.std(ddof=0)], rtol=1e-12)
    assert bg.covariates_.covariates["channel"].reference == "organic"
    tenure = gg.covariates_.covariates["tenure"]
    spenders = pdf.loc[(pdf["frequency"] > 0) & (pdf["monetary_value"] > 0), "tenure"]
    np.testing.assert_allclose([tenure.mean, tenure.sd], [spenders.mean(), spenders.std(ddof=0)], rtol=1e-12)
    assert gg.covariates_.covariates["member"].levels == ["False", "True"]


def test_score_spark_with_covariates_equals_score(summaries, local_fits):
    from pyspark.sql import types as T

    from clvmodels.scoring import score
    from clvmodels.spark import score_spark

    sdf, pdf = summaries
    bg, gg = local_fits
    kw = dict(discount_rate=0.1, margin=0.3, max_draws=40)
    expected = score(pdf, bg, gg, "26W", **kw)
    scored = score_spark(sdf, bg, gg, "26W", **kw)
    got = scored.toPandas().sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    assert list(got.columns[-4:]) == ["channel", "income", "member", "tenure"]  # as score() appends them
    assert [type(scored.schema[c].dataType) for c in ("channel", "income", "member", "tenure")] == [
        T.StringType, T.DoubleType, T.BooleanType, T.LongType]
    assert len(got) == 2357
    for c in expected.columns:
        if c in ("segment", "channel"):
            assert got[c].astype(str).tolist() == expected[c].astype(str).tolist(), c
        elif c in ("customer_id", "frequency", "member", "tenure"):
            np.testing.assert_array_equal(got[c].to_numpy(), expected[c].to_numpy(), err_msg=c)
        elif c == "last_purchase":
            assert (pd.to_datetime(got[c]) == pd.to_datetime(expected[c])).all()
        else:
            np.testing.assert_allclose(got[c].to_numpy(float), expected[c].to_numpy(float), rtol=1e-9, atol=1e-9,
                                       err_msg=c)
    # the covariates change the numbers: customers with the same history differ by channel
    same = got[(got["frequency"] == 0) & (got["T"] == got["T"].max())]
    assert same.groupby("channel")["expected_purchases"].mean().nunique() == 3


def test_bad_covariates_raise_on_the_driver_naming_the_column(spark, summaries, local_fits):
    from pyspark.sql import functions as F

    from clvmodels.spark import fit_models_spark, score_spark, triplet_counts

    sdf, _ = summaries
    bg, gg = local_fits
    cid = F.col("customer_id")
    radio = sdf.withColumn("channel", F.when(cid.isin(3, 7, 11), F.lit("radio")).otherwise(F.col("channel")))
    with pytest.raises(InputError) as err:
        score_spark(radio, bg, gg, "26W")
    assert [p.column for p in err.value.problems] == ["channel"]
    assert "'radio' not seen in the fit" in str(err.value) and err.value.problems[0].n_rows == 3
    assert sorted(err.value.problems[0].rows.index) == [3, 7, 11]  # the customers, by id
    # every problem at once: null level, NaN income, a bool level the spend model did not see (none here)
    bad = (sdf.withColumn("channel", F.when(cid == 5, F.lit(None)).otherwise(F.col("channel")))
           .withColumn("income", F.when(cid.isin(8, 9), F.lit(float("nan"))).otherwise(F.col("income"))))
    with pytest.raises(InputError) as err:
        score_spark(bad, bg, gg, "26W")
    assert [(p.column, p.n_rows) for p in err.value.problems] == [("channel", 1), ("income", 2)]
    with pytest.raises(InputError) as err:
        triplet_counts(bad, covariates=["channel", "income"])
    assert [(p.column, p.n_rows) for p in err.value.problems] == [("channel", 1), ("income", 2)]
    # fitting: both models' covariates, before either fit (a NaN spend covariate too)
    bad_spend = bad.withColumn("tenure", F.when(cid == 4, F.lit(None)).otherwise(F.col("tenure")))
    with pytest.raises(InputError) as err:
        fit_models_spark(bad_spend, **MAP, **PURCHASE, **SPEND)
    assert [(p.column, p.n_rows) for p in err.value.problems] == [("channel", 1), ("income", 2), ("tenure", 1)]
    assert list(err.value.problems[2].rows.index) == [4]
    # a missing covariate column and a date column: named, before any fit
    from clvmodels import BetaGeoModel

    dated = sdf.drop("tenure").withColumn("signup", F.current_date())
    with pytest.raises(InputError) as err:
        fit_models_spark(dated, bgnbd=BetaGeoModel(**MAP, purchase_covariates=["signup"]),
                         gamma_gamma=gg.__class__(**MAP, spend_covariates=["tenure"]))
    assert [p.column for p in err.value.problems] == ["signup", "tenure"]
    assert "a covariate must be a number, text or bool column; this one is date" in str(err.value)


def test_score_spark_with_a_pooled_group_equals_score(summaries, local_fits):
    """A pooled group has no reference level (the probe takes its first level); its customers are scored per
    group on the executors, as by score(); a country the fit did not see is named."""
    from pyspark.sql import functions as F

    from clvmodels import BetaGeoModel
    from clvmodels.scoring import score
    from clvmodels.spark import score_spark

    sdf, pdf = summaries
    _, gg = local_fits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoModel(method="mode", seed=3, progressbar=False, group="country").fit(pdf)
    assert bg.covariates_.covariates["country"].reference is None and bg.fit_info_["n_cells"] == 4
    expected = score(pdf, bg, gg, "26W", max_draws=40)
    got = score_spark(sdf, bg, gg, "26W", max_draws=40).toPandas().sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == list(expected.columns) and list(got.columns[-3:]) == ["country", "member", "tenure"]
    for c in ("p_alive", "expected_purchases", "purchases_upper", "clv", "clv_lower", "clv_upper"):
        np.testing.assert_allclose(got[c].to_numpy(float), expected[c].to_numpy(float), rtol=1e-9, atol=1e-9,
                                   err_msg=c)
    assert got["segment"].tolist() == expected["segment"].astype(str).tolist()
    moved = sdf.withColumn("country", F.when(F.col("customer_id") == 10, F.lit("pl")).otherwise(F.col("country")))
    with pytest.raises(InputError, match="'pl' not seen in the fit"):
        score_spark(moved, bg, gg, "26W")


def test_a_spend_model_pooled_by_group_fits_and_scores_on_spark_as_locally(summaries):
    """GammaGammaModel(group=) on Spark: spend_counts keeps the group column (fit_models_spark reads it
    from the model), the fit equals the local one (its mode; the pooled sd is a flat direction, so to
    1e-5), and score_spark scores each country's customers with their own scale, as score()."""
    from clvmodels import BetaGeoModel, GammaGammaModel
    from clvmodels.scoring import score
    from clvmodels.spark import fit_models_spark, score_spark

    sdf, pdf = summaries
    cfg = dict(method="mode", seed=3, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = GammaGammaModel(group="country", **cfg).fit(pdf)
        bg, gg = fit_models_spark(sdf, bgnbd=BetaGeoModel(**cfg), gamma_gamma=GammaGammaModel(group="country", **cfg))
    assert gg.fit_info_["n_cells"] == local.fit_info_["n_cells"] == 4
    names = ["p", "q", "v", "group_sd_v"] + [f"group_effect_v[country={c}]" for c in ("de", "fr", "it", "nl")]
    for n in names:
        assert float(gg.posterior_[n].mean()) == pytest.approx(float(local.posterior_[n].mean()), rel=1e-5, abs=1e-6), n
    assert len({round(float(gg.posterior_[n].mean()), 6) for n in names[4:]}) == 4  # four different scales
    expected = score(pdf, bg, gg, "26W", max_draws=40)
    got = score_spark(sdf, bg, gg, "26W", max_draws=40).toPandas().sort_values("customer_id").reset_index(drop=True)
    for c in ("expected_spend", "clv", "clv_lower", "clv_upper"):
        np.testing.assert_allclose(got[c].to_numpy(float), expected[c].to_numpy(float), rtol=1e-9, atol=1e-9,
                                   err_msg=c)
