"""The non-randomized PIT of counts (Czado, Gneiting & Held 2009) and the holdout log predictive score:
hand-computed histograms, the expectation of the randomized PIT, the chi-square test's level and power
by simulation (generic count forecasts, and a fitted model's own predictive distribution), the same
numbers for every seed, and the log score against the predictive pmf computed directly."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from clvmodels.errors import InputError
from clvmodels.validation import validate_purchases
from clvmodels.validation.pit import (PIT_BINS, log_scores, pit_bin_masses, pit_chi2, pit_histogram, pit_mean_cdf,
                                      randomized_pit)


# -- the histogram ------------------------------------------------------------------------------------
def test_one_customer_spreads_her_mass_uniformly_over_her_interval():
    # F(y-1) = 0.2, F(y) = 0.6: a quarter of the mass in each of the bins (0.2, 0.3] ... (0.5, 0.6]
    masses = pit_bin_masses([0.2], [0.6])
    np.testing.assert_allclose(masses, [0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0], atol=1e-15)
    np.testing.assert_allclose(pit_mean_cdf([0.0, 0.2, 0.3, 0.45, 0.6, 1.0], [0.2], [0.6]),
                               [0, 0, 0.25, 0.625, 1, 1], atol=1e-15)
    # two customers: the mean of their CDFs; a customer at y = 0 with F(0) = 0.05 lies in the first bin
    masses = pit_bin_masses([0.2, 0.0], [0.6, 0.05])
    np.testing.assert_allclose(masses, [0.5, 0, 0.125, 0.125, 0.125, 0.125, 0, 0, 0, 0], atol=1e-15)
    assert masses.sum() == pytest.approx(1.0, abs=1e-15)


def test_point_masses_give_the_ordinary_histogram():
    rng = np.random.default_rng(3)
    v = rng.uniform(size=500)
    counts, _ = np.histogram(v, bins=10, range=(0, 1))
    np.testing.assert_allclose(500 * pit_bin_masses(v, v), counts, atol=1e-9)
    # a point mass at 0 counts in the first bin, at 1 in the last
    np.testing.assert_allclose(pit_bin_masses([0.0, 1.0], [0.0, 1.0]), [0.5] + [0] * 8 + [0.5], atol=1e-15)


def test_the_histogram_is_the_expectation_of_the_randomized_one():
    """CGH 2009: the non-randomized PIT histogram is the randomized one averaged over the uniform draw."""
    rng = np.random.default_rng(0)
    mu = rng.gamma(0.8, 1.5, 300)
    y = rng.poisson(mu * rng.gamma(2.0, 0.5, 300))         # overdispersed against Poisson(mu)
    lo, hi = stats.poisson.cdf(y - 1, mu), stats.poisson.cdf(y, mu)
    reps = 4000
    mean_hist = np.zeros(10)
    for seed in range(reps):
        mean_hist += np.histogram(randomized_pit(lo, hi, seed), bins=10, range=(0, 1))[0]
    mean_hist /= reps * len(y)
    exact = pit_bin_masses(lo, hi)
    # Monte Carlo error of a bin share: at most sqrt(0.25 / (reps * n)) ~ 4.6e-4
    np.testing.assert_allclose(mean_hist, exact, atol=2.5e-3)
    assert np.abs(exact - 0.1).max() > 0.02   # and the overdispersion shows (a U shape)
    assert exact[0] + exact[-1] > 0.2 + 0.03     # more mass in the end bins than the uniform 0.2


def test_bad_cdf_pairs_are_refused():
    with pytest.raises(InputError, match="not 0 <= F"):
        pit_bin_masses([0.5], [0.4])
    with pytest.raises(InputError, match="finite"):
        pit_chi2([np.nan], [0.5])
    with pytest.raises(InputError, match="differ in length"):
        pit_bin_masses([0.1, 0.2], [0.3])
    with pytest.raises(InputError, match="at least 2 bins"):
        pit_bin_masses([0.1], [0.3], bins=1)


def test_histogram_table_and_band():
    rng = np.random.default_rng(1)
    mu = rng.gamma(1.0, 1.0, 2000)
    y = rng.poisson(mu)
    lo, hi = stats.poisson.cdf(y - 1, mu), stats.poisson.cdf(y, mu)
    h = pit_histogram(lo, hi, band=0.99)
    assert len(h) == PIT_BINS and h["customers"].sum() == pytest.approx(2000)
    assert (h["expected"] == 200).all()
    assert h["lower"].iloc[0] == stats.binom.ppf(0.005, 2000, 0.1)
    assert h["upper"].iloc[0] == stats.binom.ppf(0.995, 2000, 0.1)
    stat, p = pit_chi2(lo, hi)
    assert h.attrs["clvmodels"]["chi2"] == stat and h.attrs["clvmodels"]["pvalue"] == p
    assert stat == pytest.approx(np.sum((h["customers"] - 200) ** 2) / 200)


# -- the test's level and power by simulation ---------------------------------------------------------------
def _nb_forecasts(rng, n):
    """Heterogeneous count forecasts: negative binomial with means 0.05..5 and varying dispersion,
    as holdout counts of a customer base (many likely zeros, a tail of heavy buyers)."""
    mean = rng.gamma(0.6, 1.5, n) + 0.05
    size = rng.uniform(0.3, 3.0, n)
    return size, size / (size + mean)


def test_chi2_level_is_at_most_nominal_and_power_is_high():
    rng = np.random.default_rng(42)
    reps, n = 200, 2000
    p_null, p_wide, p_narrow, p_rand = [], [], [], []
    for _ in range(reps):
        size, prob = _nb_forecasts(rng, n)
        y = rng.negative_binomial(size, prob)                                       # from the forecast itself
        lo, hi = stats.nbinom.cdf(y - 1, size, prob), stats.nbinom.cdf(y, size, prob)
        p_null.append(pit_chi2(lo, hi)[1])
        p_rand.append(stats.chisquare(np.histogram(randomized_pit(lo, hi, rng.integers(1 << 30)), bins=10,
                                                   range=(0, 1))[0]).pvalue)
        # forecasts too narrow: the data have twice the spread of the means the forecast assumes
        y_wide = rng.negative_binomial(size / 3, size / 3 / (size / 3 + (size / prob - size)))
        p_wide.append(pit_chi2(stats.nbinom.cdf(y_wide - 1, size, prob), stats.nbinom.cdf(y_wide, size, prob))[1])
        # forecasts too wide: Poisson data with the forecast's means
        y_narrow = rng.poisson(size / prob - size)
        p_narrow.append(pit_chi2(stats.nbinom.cdf(y_narrow - 1, size, prob),
                                 stats.nbinom.cdf(y_narrow, size, prob))[1])
    p_null, p_rand = np.array(p_null), np.array(p_rand)
    # conservative: at most the nominal 5% rejections; in fact far fewer (measured: none, median p 0.99:
    # most customers' intervals spread over several bins)
    assert np.mean(p_null < 0.05) <= 0.05
    assert np.median(p_null) > 0.5
    # the randomized test holds its level (a check of the simulation itself; binomial sd ~1.5%)
    assert 0.01 <= np.mean(p_rand < 0.05) <= 0.10
    # miscalibration is found
    assert np.mean(np.array(p_wide) < 0.01) > 0.95
    assert np.mean(np.array(p_narrow) < 0.01) > 0.95


@pytest.fixture(scope="module")
def map_bgnbd(cdnow_split):
    from clvmodels import BetaGeoModel

    return BetaGeoModel(method="map", seed=5, progressbar=False).fit(cdnow_split)


def _simulated_holdout(model_scorer, summary, h, rng):
    """One holdout count per customer from the posterior predictive: a draw per customer, then her count."""
    x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    sims = model_scorer.simulate_holdout(x, tx, T, h, rng)                  # (S, customers)
    pick = rng.integers(0, sims.shape[0], sims.shape[1])
    return sims[pick, np.arange(sims.shape[1])].astype(float)


def test_a_fitted_models_own_predictive_passes_and_a_wrong_one_fails(map_bgnbd, cdnow_split):
    """Holdout counts simulated from the fitted BG/NBD's posterior predictive: the PIT test does not
    reject; the same counts judged by a forecast that expects about twice the purchases: it does."""
    rng = np.random.default_rng(7)
    sc = map_bgnbd.scorer(1000)
    pvals = []
    for _ in range(3):
        y = _simulated_holdout(sc, cdnow_split, 39.0, rng)
        c = map_bgnbd.purchases_interval(cdnow_split, "39W", observed=y)
        pvals.append(pit_chi2(c["cdf_below"], c["cdf_at"])[1])
    assert min(pvals) > 0.01, pvals
    # the wrong forecast: the same counts judged against the predictive distribution of twice the window,
    # which expects about twice the purchases (a prior change would not do: with 39 weeks of data each
    # customer's own history dominates her conditional forecast)
    c = map_bgnbd.purchases_interval(cdnow_split, "78W", observed=y)
    stat, p = pit_chi2(c["cdf_below"], c["cdf_at"])
    assert p < 1e-6
    masses = pit_bin_masses(c["cdf_below"], c["cdf_at"])
    # too many purchases expected: few actual counts reach the upper tails of their forecasts
    assert masses[-1] < 0.05 and masses[-2:].sum() < 0.15


# -- validate_purchases: seed-free numbers, and the log score ---------------------------------------------------
@pytest.fixture(scope="module")
def two_seeds(map_bgnbd, cdnow_split):
    return (validate_purchases(map_bgnbd, cdnow_split, seed=1, max_draws=400),
            validate_purchases(map_bgnbd, cdnow_split, seed=2, max_draws=400))


def test_the_same_numbers_whatever_the_seed(two_seeds):
    a, b = two_seeds
    for k in ("pit_histogram", "pit_chi2", "pit_chi2_pvalue", "holdout_log_score", "holdout_log_score_mean"):
        assert a[k] == b[k], k
    assert a["pit_pvalue"] != b["pit_pvalue"]  # the randomized PIT's test moves with the seed
    assert len(a["pit_histogram"]) == 10 and sum(a["pit_histogram"]) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(a["table"]["cdf_below"], b["table"]["cdf_below"])
    # the histogram is the one of the table's (cdf_below, cdf_at)
    np.testing.assert_allclose(a["pit_histogram"], pit_bin_masses(a["table"]["cdf_below"], a["table"]["cdf_at"]))
    # BG/NBD on CDNOW is calibrated by this test
    assert a["pit_chi2_pvalue"] > 0.05


def test_log_score_is_the_log_predictive_pmf_at_the_actual_count(map_bgnbd, cdnow_split, two_seeds):
    from clvmodels.draws import distinct
    from clvmodels.models.transaction import predictive_count_pmf

    v = two_seeds[0]
    y = cdnow_split["frequency_holdout"].to_numpy().astype(int)
    d = distinct(*(cdnow_split[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    pmf = predictive_count_pmf(map_bgnbd.scorer(400), d.keys, 39.0, max_count=int(y.max()))
    direct = np.log(pmf[d.inverse, y])
    np.testing.assert_allclose(v["table"]["log_score"], direct, rtol=1e-9, atol=1e-12)
    assert v["holdout_log_score"] == pytest.approx(direct.sum(), rel=1e-12)
    assert v["holdout_log_score_mean"] == pytest.approx(direct.mean(), rel=1e-12)
    # the customers with unlikely counts were recomputed from the pmf (F(y) - F(y-1) < 1e-6)
    assert (v["table"]["log_score"] < np.log(1e-6)).any()


def test_log_score_of_a_count_beyond_the_summed_range_is_finite(map_bgnbd, cdnow_split):
    """A customer with 60 holdout purchases: beyond the count where the predictive CDF reaches 1 - 1e-10,
    F(y) - F(y-1) is 0 in floating point; the score comes from the pmf itself."""
    s = cdnow_split.head(50).copy()
    s.iloc[0, s.columns.get_loc("frequency_holdout")] = 60
    v = validate_purchases(map_bgnbd, s, max_draws=200)
    t = v["table"]
    assert t["cdf_below"].iloc[0] == pytest.approx(1.0, abs=1e-9)
    from clvmodels.models.transaction import predictive_count_pmf

    row = tuple(np.array([s[c].iloc[0]], float) for c in ("frequency", "recency", "T"))
    p60 = predictive_count_pmf(map_bgnbd.scorer(200), row, 39.0, max_count=60)[0, 60]
    assert 0 < p60 < 1e-10
    assert t["log_score"].iloc[0] == pytest.approx(np.log(p60), rel=1e-9)
    assert np.isfinite(v["holdout_log_score"])


def test_log_scores_of_cdf_pairs():
    np.testing.assert_allclose(log_scores([0.2, 0.0], [0.6, 0.05]), np.log([0.4, 0.05]))
    assert log_scores([1.0], [1.0])[0] == -np.inf   # the caller recomputes these (validate_purchases does)
