"""Prior predictive checks (clvmodels.prior_predictive) against computations written here: numpy draws
from the prior distributions with the closed-form pmf of the BG/NBD count (FHL 2005 eq. 8) and the
Gamma-Gamma mean spend drawn from its own law; tight priors against the published CDNOW estimates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln, gammaln

import clvmodels
from clvmodels import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel, Prior
from clvmodels.errors import InputError
from clvmodels.plotting.prior import SPEND_QUANTILES, prior_predictive

from ..conftest import CDNOW_BGNBD_PUBLISHED, CDNOW_GG_MLE

CAL_END = "1997-09-30"


def bgnbd_pmf(r, alpha, a, b, t, K):
    """P(X(t) = k), k = 0..K-1, for a new BG/NBD customer (FHL 2005 eq. 8), written out here.
    Arrays of draws (S,) and ages (n,): returns (S, n, K)."""
    r, alpha, a, b = (np.asarray(v, float)[:, None, None] for v in (r, alpha, a, b))
    t = np.asarray(t, float)[None, :, None]
    k = np.arange(K)[None, None, :]
    lnb = gammaln(r + k) - gammaln(r) - gammaln(k + 1) + r * np.log(alpha / (alpha + t)) + k * np.log(t / (alpha + t))
    nb = np.exp(lnb)
    cum_before = np.concatenate([np.zeros(nb.shape[:2] + (1,)), np.cumsum(nb, axis=-1)[..., :-1]], axis=-1)
    alive = np.exp(betaln(a, b + k) - betaln(a, b)) * nb
    dropped = np.where(k > 0, np.exp(betaln(a + 1, b + np.maximum(k, 1) - 1) - betaln(a, b)), 0.0) * (1 - cum_before)
    return alive + dropped


def half_normal(sigma, n, rng):
    return np.abs(rng.normal(0.0, sigma, n))


def histogram_draws_independent(params, T, max_frequency, rng):
    """Per draw, customers per bin 0..max_frequency-1, max_frequency+: a multinomial over the customers
    sharing each T with eq. 8's probabilities (the randomness of purchasing, as a simulation has)."""
    Ts, nT = np.unique(T, return_counts=True)
    pmf = bgnbd_pmf(params["r"], params["alpha"], params["a"], params["b"], Ts, max_frequency)
    probs = np.concatenate([pmf, np.clip(1 - pmf.sum(-1, keepdims=True), 0, None)], axis=-1)
    probs /= probs.sum(-1, keepdims=True)
    counts = rng.multinomial(np.broadcast_to(nT, probs.shape[:-1]), probs).sum(axis=1)
    expected = (probs * nT[None, :, None]).sum(axis=1)
    return counts, expected


@pytest.fixture(scope="module")
def split(cdnow_split):
    return cdnow_split


def tight(values, cv=0.01):
    """Gamma priors with the given means and coefficient of variation ``cv``."""
    k = 1.0 / cv ** 2
    return {p: Prior("Gamma", alpha=k, beta=k / v) for p, v in values.items()}


# -- the BG/NBD histogram under the default priors, against eq. 8 at numpy draws of the same priors ------
def test_bgnbd_histogram_matches_eq8_at_independent_prior_draws(split):
    S = 1500
    # without first_purchase: the histogram only (the tracking curve has its own tests)
    pp = prior_predictive(BetaGeoModel(), split.drop(columns=["first_purchase"]), draws=S, seed=11)
    hist = pp["prior_predictive"]["period_transactions"].values
    n = len(split)
    assert hist.shape == (S, 8) and np.all(hist.sum(axis=1) == n)
    rng = np.random.default_rng(5)
    params = {"r": half_normal(5.0, S, rng), "alpha": half_normal(52.0, S, rng), "a": half_normal(10.0, S, rng),
              "b": half_normal(10.0, S, rng)}
    ind, _ = histogram_draws_independent(params, split["T"].to_numpy(float), 7, rng)
    for k in range(8):
        a, b = hist[:, k] / n, ind[:, k] / n
        se = np.sqrt(a.var() / S + b.var() / S)
        assert abs(a.mean() - b.mean()) < 4 * se, (k, a.mean(), b.mean(), se)
        # the whole per-draw distribution, not only its mean: two-sample Kolmogorov-Smirnov
        assert stats.ks_2samp(a, b).pvalue > 1e-3, k
    # the priors are wide: the share of customers without a repeat purchase spans most of (0, 1)
    share0 = hist[:, 0] / n
    assert np.quantile(share0, 0.05) < 0.05 and np.quantile(share0, 0.95) > 0.75


def test_prior_group_holds_draws_from_the_priors(split):
    from clvmodels.plotting.prior import prior_draws

    draws = prior_draws(BetaGeoModel(), "W", split, draws=4000, seed=3)
    # the default priors: HalfNormal(5), HalfNormal(one year in weeks, 52.18), HalfNormal(10), HalfNormal(10)
    for p, sigma in (("r", 5.0), ("alpha", 365.25 / 7), ("a", 10.0), ("b", 10.0)):
        assert stats.kstest(draws[p], stats.halfnorm(scale=sigma).cdf).pvalue > 1e-3, p
    # a prior the user gives replaces the default
    mine = prior_draws(BetaGeoModel(priors={"r": Prior("Gamma", alpha=2.0, beta=4.0)}), "W", split, draws=4000, seed=3)
    assert stats.kstest(mine["r"], stats.gamma(2.0, scale=0.25).cdf).pvalue > 1e-3
    pp = prior_predictive(BetaGeoModel(), split.drop(columns=["first_purchase"]), draws=30, seed=3)
    assert set(pp["prior"].data_vars) == {"r", "alpha", "a", "b"} and pp["prior"].sizes["draw"] == 30
    assert pp.attrs["time_unit"] == "W" and pp.attrs["n_customers"] == len(split)


# -- a tight prior concentrates where it should; a wide one is much wider --------------------------------
def test_tight_prior_concentrates_at_the_published_estimates(split):
    S = 300
    n = len(split)
    pp = prior_predictive(BetaGeoModel(priors=tight(CDNOW_BGNBD_PUBLISHED)), split, draws=S, seed=7)
    hist = pp["prior_predictive"]["period_transactions"].values
    prior = pp["prior"]
    assert abs(float(prior["r"].mean()) / 0.243 - 1) < 0.003
    # eq. 8 at the published values: the expected customers per bin and the multinomial spread around it
    pub = {k: np.array([v]) for k, v in CDNOW_BGNBD_PUBLISHED.items()}
    _, expected = histogram_draws_independent(pub, split["T"].to_numpy(float), 7, np.random.default_rng(0))
    expected = expected[0]
    sd = np.sqrt(expected * (1 - expected / n))  # at most the multinomial's (customers of different T)
    assert np.all(np.abs(hist.mean(axis=0) - expected) < 4 * sd / np.sqrt(S) + 0.02 * sd)
    # the spread across draws is the purchasing randomness (plus a little of the 1% prior): close to binomial
    ratio = hist.std(axis=0) / sd
    assert np.all((ratio > 0.7) & (ratio < 1.6)), ratio
    # the actual CDNOW histogram is near it: 1411 customers without a repeat purchase, predicted about 1400
    assert abs(expected[0] - 1411) < 60
    wide = prior_predictive(BetaGeoModel(), split, draws=S, seed=7)["prior_predictive"]["period_transactions"].values
    assert wide[:, 0].std() > 20 * hist[:, 0].std()


@pytest.mark.parametrize("cls,params", [
    (ModifiedBetaGeoModel, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    (ParetoNBDModel, {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}),
])
def test_tight_prior_matches_the_models_closed_form(split, cls, params):
    """For the MBG/NBD and Pareto/NBD: at a tight prior the mean histogram is the model's own closed-form
    count distribution (its scorer) at those values, summed over the customers' T."""
    S = 200
    pp = prior_predictive(cls(priors=tight(params)), split, draws=S, seed=2)
    hist = pp["prior_predictive"]["period_transactions"].values
    fixed = cls.from_params(params, time_unit="W")
    Ts, nT = np.unique(split["T"].to_numpy(float), return_counts=True)
    pmf, tail = fixed.scorer().purchases_pmf_new(Ts, 6, return_tail=True)  # counts 0..6 and the mass above 6
    probs = np.concatenate([pmf[0], tail[0][:, None]], axis=-1)
    expected = (probs * nT[:, None]).sum(axis=0)
    sd = np.sqrt(expected * (1 - expected / len(split)))
    assert np.all(np.abs(hist.mean(axis=0) - expected) < 4 * sd / np.sqrt(S) + 0.03 * sd + 0.5), (hist.mean(0), expected)


# -- the tracking curve ----------------------------------------------------------------------------------
def test_tracking_curve_tight_prior_matches_expected_curve(split, cdnow_transactions):
    """At a tight prior, the prior predictive cumulative repeat purchases per period average to the
    expected tracking curve at the published values (plotting.tracking_data: sum_c E[X(end - F_c)], FHL
    eq. 9), and the observed curve is the actual one of that plot."""
    from clvmodels.plotting import tracking_data

    S = 150
    pp = prior_predictive(BetaGeoModel(priors=tight(CDNOW_BGNBD_PUBLISHED)), split, draws=S, seed=4,
                          transactions=cdnow_transactions)
    cum = pp["prior_predictive"]["cumulative_repeat_purchases"]
    fixed = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W")
    td = tracking_data(fixed, cdnow_transactions, calibration_end=CAL_END, observation_end=CAL_END)
    assert list(pd.DatetimeIndex(cum["period_end"].values)) == list(td["period_end"])
    obs = pp["observed_data"]["cumulative_repeat_purchases"].values
    assert np.array_equal(obs, td["cumulative_actual"].to_numpy())
    assert obs[-1] == split["frequency"].sum() == 2457
    m = cum.mean("draw").values
    se = cum.std("draw").values / np.sqrt(S)
    exp = td["cumulative_expected"].to_numpy()
    assert np.all(np.abs(m - exp) < 4 * se + 0.01 * exp + 1), np.c_[m, exp, se]
    # the curve's end and the histogram simulate the same customers at the same T
    last = cum.isel(period=-1).values
    assert abs(last.mean() - exp[-1]) < 4 * last.std() / np.sqrt(S) + 0.01 * exp[-1]


def test_tracking_curve_from_first_purchase_column_without_log(split):
    pp = prior_predictive(BetaGeoModel(), split, draws=20, seed=1)
    assert "cumulative_repeat_purchases" in pp["prior_predictive"]
    assert float(pp["observed_data"]["total_repeat_purchases"]) == 2457
    no_dates = split.drop(columns=["first_purchase"])
    pp2 = prior_predictive(BetaGeoModel(), no_dates, draws=20, seed=1)
    assert "cumulative_repeat_purchases" not in pp2["prior_predictive"]
    # same seed, same histogram, with or without the curve
    assert np.array_equal(pp["prior_predictive"]["period_transactions"], pp2["prior_predictive"]["period_transactions"])


# -- Gamma-Gamma spend, against the mean spend drawn from its own law --------------------------------------
def spend_medians_independent(p, q, v, x, rng):
    """Per draw, the median over customers of zbar ~ Gamma(p x, rate nu x), nu ~ Gamma(q, rate v): the
    law of the mean of x Gamma(p, rate nu) amounts, not a sum of simulated amounts."""
    out = np.empty(len(p))
    for s in range(len(p)):
        nu = rng.gamma(q[s], 1.0 / v[s], len(x))
        out[s] = np.median(rng.gamma(p[s] * x, 1.0 / (nu * x)))
    return out


def test_gamma_gamma_spend_matches_independent_simulation(split):
    S = 800
    pp = prior_predictive(GammaGammaModel(), split, draws=S, seed=9)
    rep = split[(split["frequency"] > 0) & (split["monetary_value"] > 0)]
    x = rep["frequency"].to_numpy(float)
    med = pp["prior_predictive"]["spend_quantiles"].sel(quantile=0.5).values
    rng = np.random.default_rng(1)
    mean_m = rep["monetary_value"].mean()
    p, v = half_normal(20.0, 4 * S, rng), half_normal(20.0 * mean_m, 4 * S, rng)
    q = half_normal(20.0, 8 * S, rng)
    q = q[q > 1][:4 * S]  # the fit truncates q's prior to q > 1, so does the prior predictive
    assert float(pp["prior"]["q"].min()) > 1
    ind = spend_medians_independent(p[:S], q[:S], v[:S], x, rng)
    assert stats.ks_2samp(np.log(med), np.log(ind)).pvalue > 1e-3
    # the ECDF is the per-draw fraction at or below each spend value and ends up consistent with the quantiles
    ecdf = pp["prior_predictive"]["spend_ecdf"]
    assert np.all(np.diff(ecdf.values, axis=1) >= 0)
    obs = pp["observed_data"]
    assert np.allclose(obs["spend_quantiles"].values, np.quantile(rep["monetary_value"], SPEND_QUANTILES))
    assert pp.attrs["n_customers_spend"] == len(rep)


def test_gamma_gamma_tight_prior_at_the_mle(split):
    S = 200
    pp = prior_predictive(GammaGammaModel(priors=tight(CDNOW_GG_MLE)), split, draws=S, seed=9)
    rep = split[(split["frequency"] > 0) & (split["monetary_value"] > 0)]
    x = rep["frequency"].to_numpy(float)
    rng = np.random.default_rng(2)
    mle = CDNOW_GG_MLE
    ind = spend_medians_independent(np.full(S, mle["p"]), np.full(S, mle["q"]), np.full(S, mle["v"]), x, rng)
    med = pp["prior_predictive"]["spend_quantiles"].sel(quantile=0.5).values
    assert abs(med.mean() - ind.mean()) < 4 * np.sqrt(med.var() / S + ind.var() / S) + 0.01 * ind.mean()
    # the CDNOW data's median mean spend (27.5) is where a model at its MLE puts it
    assert abs(float(pp["observed_data"]["spend_quantiles"].sel(quantile=0.5)) - ind.mean()) < 0.25 * ind.mean()


# -- input checks -----------------------------------------------------------------------------------------
def test_refuses_flat_priors_and_bad_arguments(split):
    with pytest.raises(InputError, match="flat priors on r, alpha, a, b are improper"):
        prior_predictive(BetaGeoModel(priors="flat"), split, draws=5)
    with pytest.raises(InputError, match="draws must be a whole number"):
        prior_predictive(BetaGeoModel(), split, draws=0)
    with pytest.raises(InputError, match="max_frequency"):
        prior_predictive(BetaGeoModel(), split, draws=5, max_frequency=0)
    with pytest.raises(InputError, match="the prior of r .*not positive"):
        prior_predictive(BetaGeoModel(priors={"r": Prior("Normal", mu=0, sigma=1)}), split, draws=50, seed=0)
    with pytest.raises(InputError, match="prior of q .*above 1"):
        prior_predictive(GammaGammaModel(priors={"q": Prior("Uniform", lower=0.1, upper=0.9)}), split, draws=5)
    bad = split.copy()
    bad.loc[bad.index[:2], "T"] = -1.0
    with pytest.raises(InputError, match="T"):
        prior_predictive(BetaGeoModel(), bad, draws=5)


def test_exported_at_top_level():
    assert clvmodels.prior_predictive is prior_predictive
    assert "prior_predictive" in clvmodels.__all__


# -- the plots' prior bands are the function's numbers -----------------------------------------------------
def test_period_plot_prior_bands_are_the_prior_predictive(split):
    import matplotlib.pyplot as plt

    from clvmodels.plotting import plot_period_transactions

    fig, ax = plt.subplots()
    out = plot_period_transactions(BetaGeoModel(), split, prior=True, max_draws=120, seed=3, ax=ax)
    assert out is fig
    shown = fig.clvmodels_data["period_transactions"]
    sim = prior_predictive(BetaGeoModel(), split, draws=120, seed=3)["prior_predictive"]["period_transactions"].values
    assert np.allclose(shown["expected"], sim.mean(axis=0))
    assert np.allclose(shown["predicted_lower"], np.quantile(sim, 0.05, axis=0))
    assert np.allclose(shown["predicted_upper"], np.quantile(sim, 0.95, axis=0))
    assert list(shown["actual"]) == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert "prior predictive" in ax.get_legend_handles_labels()[1][1]
    plt.close(fig)


def test_tracking_plot_prior_bands_are_the_prior_predictive(split, cdnow_transactions):
    import matplotlib.pyplot as plt

    from clvmodels.plotting import plot_tracking

    model = ParetoNBDModel()
    fig = plot_tracking(model, cdnow_transactions, calibration_end=CAL_END, prior=True, summary=split,
                        max_draws=60, seed=5)
    shown = fig.clvmodels_data["tracking"]
    cum = prior_predictive(model, split, draws=60, seed=5, transactions=cdnow_transactions)[
        "prior_predictive"]["cumulative_repeat_purchases"].values
    assert np.allclose(shown["cumulative_expected"], cum.mean(axis=0))
    assert np.allclose(shown["cumulative_lower"], np.quantile(cum, 0.05, axis=0))
    assert np.allclose(shown["cumulative_upper"], np.quantile(cum, 0.95, axis=0))
    assert np.allclose(shown["expected"], np.diff(cum, axis=1, prepend=0).mean(axis=0))
    assert shown["cumulative_actual"].iloc[-1] == 2457
    plt.close(fig)
    with pytest.raises(InputError, match="summary="):
        plot_tracking(model, cdnow_transactions, calibration_end=CAL_END, prior=True)
    with pytest.raises(InputError, match="leave out observation_end"):
        plot_tracking(model, cdnow_transactions, calibration_end=CAL_END, observation_end="1998-06-30", prior=True,
                      summary=split)
    with pytest.raises(InputError, match="not the end of the period"):
        plot_tracking(model, cdnow_transactions, calibration_end="1997-08-31", prior=True, summary=split, max_draws=5)


def test_spend_plot_prior_and_posterior(split):
    import matplotlib.pyplot as plt

    from clvmodels.plotting import plot_spend_distribution

    model = GammaGammaModel()
    fig = plot_spend_distribution(model, split, prior=True, max_draws=80, seed=2)
    shown = fig.clvmodels_data["spend_distribution"]
    pp = prior_predictive(model, split, draws=80, seed=2)
    ecdf = pp["prior_predictive"]["spend_ecdf"].values
    assert np.allclose(shown.index, pp["prior_predictive"]["spend"].values)
    assert np.allclose(shown["expected"], ecdf.mean(axis=0))
    assert np.allclose(shown["lower"], np.quantile(ecdf, 0.05, axis=0))
    assert np.allclose(shown["actual"], pp["observed_data"]["spend_ecdf"].values)
    plt.close(fig)
    # posterior predictive at the CDNOW MLE (one draw): the simulated ECDF's median crosses 1/2 near the
    # median the law of the mean spend gives there
    fixed = GammaGammaModel.from_params(CDNOW_GG_MLE)
    fig = plot_spend_distribution(fixed, split, seed=0)
    shown = fig.clvmodels_data["spend_distribution"]
    assert shown.attrs["clvmodels"]["predictive"] == "posterior"
    rep = split[(split["frequency"] > 0) & (split["monetary_value"] > 0)]
    med = spend_medians_independent(np.full(50, CDNOW_GG_MLE["p"]), np.full(50, CDNOW_GG_MLE["q"]),
                                    np.full(50, CDNOW_GG_MLE["v"]), rep["frequency"].to_numpy(float),
                                    np.random.default_rng(0)).mean()
    crossing = np.interp(0.5, shown["expected"].to_numpy(), shown.index.to_numpy())
    assert abs(np.log(crossing / med)) < 0.12
    plt.close(fig)
    with pytest.raises(Exception, match="not fitted"):
        plot_spend_distribution(GammaGammaModel(), split)


# -- the report's section and clv forecast --prior-checks -------------------------------------------------
def _h2(html: str) -> list[str]:
    import re

    return [re.sub("<[^>]+>", "", h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html)]


def test_report_prior_section(split, cdnow_transactions):
    import warnings

    from clvmodels.pipeline import ForecastResult
    from clvmodels.report import SECTIONS, render_report
    from clvmodels.scoring import score

    bg = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W")
    gg = GammaGammaModel.from_params(CDNOW_GG_MLE)
    table = score(split, bg, gg, "52W")
    res = ForecastResult(table=table, summary=split, bgnbd=bg, gamma_gamma=gg, metadata={"interval": 0.9})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = render_report(res, transactions=cdnow_transactions, max_draws=40, prior_predictive=True)
    assert not [w for w in caught if "not drawn" in str(w.message) or "prior predictive" in str(w.message)]
    h2 = _h2(html)
    assert h2[:3] == ["Data summary", "Prior predictive", "Model fit and diagnostics"]
    for alt in ("BG/NBD prior predictive: period transactions", "BG/NBD prior predictive: tracking",
                "Gamma-Gamma prior predictive: spend"):
        assert f'alt="{alt}"' in html
    assert "HalfNormal(sigma=5)" in html and "HalfNormal(sigma=52.1786)" in html   # the priors a fit would use
    assert "Figure not drawn" not in html
    plain = render_report(res, max_draws=40, figures=False)
    assert _h2(plain) == list(SECTIONS) and 'href="#prior"' not in plain
    # a model whose priors cannot be drawn from: a note in the section, the rest of the report stands
    flat = BetaGeoModel.from_params(CDNOW_BGNBD_PUBLISHED, time_unit="W", priors="flat")
    res_flat = ForecastResult(table=table, summary=split, bgnbd=flat, gamma_gamma=gg, metadata={"interval": 0.9})
    with pytest.warns(RuntimeWarning, match="flat priors"):
        html = render_report(res_flat, max_draws=20, figures=False, prior_predictive=True)
    assert "Prior predictive of the BG/NBD model failed" in html and "Top customers" in _h2(html)


def test_cli_prior_checks(tmp_path, capsys):
    from clvmodels.cli import main
    from clvmodels.datasets import cdnow_sample_path

    args = ["forecast", str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--time-unit", "W",
            "--horizon", "26", "--method", "map", "--seed", "1", "--max-draws", "100", "--quiet",
            "-o", str(tmp_path / "f.parquet")]
    # checked before any work: no report, exit 2, nothing written
    assert main([*args, "--prior-checks"]) == 2
    assert "--prior-checks" in capsys.readouterr().err and not (tmp_path / "f.parquet").exists()
    assert main([*args, "--prior-checks", "--report", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert _h2(html)[:3] == ["Data summary", "Prior predictive", "Model fit and diagnostics"]
    assert 'alt="BG/NBD prior predictive: tracking"' in html and "Figure not drawn" not in html


def test_chunked_simulation_gives_the_same_distribution(split, cdnow_transactions, monkeypatch):
    """With tiny chunks (many pieces of customers) every customer is still simulated once: the same
    totals and, at tight priors, the same means within Monte Carlo error as in one piece."""
    import clvmodels.plotting.prior as prior_mod

    S = 60
    bg = BetaGeoModel(priors=tight(CDNOW_BGNBD_PUBLISHED))
    gg = GammaGammaModel(priors=tight(CDNOW_GG_MLE))
    whole = prior_predictive(bg, split, draws=S, seed=1, transactions=cdnow_transactions)["prior_predictive"]
    whole_spend = prior_predictive(gg, split, draws=S, seed=1)["prior_predictive"]
    monkeypatch.setattr(prior_mod, "_CHUNK_CUSTOMERS", 97)
    monkeypatch.setattr(prior_mod, "_CHUNK_CELLS", 39 * 101)
    parts = prior_predictive(bg, split, draws=S, seed=1, transactions=cdnow_transactions)["prior_predictive"]
    parts_spend = prior_predictive(gg, split, draws=S, seed=1)["prior_predictive"]
    assert np.all(parts["period_transactions"].sum("frequency") == len(split))
    for a, b in ((whole["period_transactions"], parts["period_transactions"]),
                 (whole["cumulative_repeat_purchases"], parts["cumulative_repeat_purchases"]),
                 (whole_spend["spend_quantiles"], parts_spend["spend_quantiles"])):
        se = np.sqrt((a.var("draw") + b.var("draw")) / S).values
        assert np.all(np.abs(a.mean("draw").values - b.mean("draw").values) <= 4 * se + 1e-9)
    # every customer got a simulated mean spend (no cell left unfilled): the ECDF reaches 1 on the grid
    assert np.allclose(parts_spend["spend_ecdf"].isel(spend=-1), 1.0)


def test_frequency_scaled_spend_matches_independent_simulation(split):
    """GammaGammaFrequencyModel: nu ~ Gamma(q, rate v (x + 1)^gamma). At tight priors the prior predictive's
    median mean spend is the one simulated directly from that law; gamma > 0 (more purchases, smaller nu,
    higher spend) moves it up against gamma = 0, which is the plain Gamma-Gamma's."""
    from clvmodels.models.gamma_gamma.model import GammaGammaFrequencyModel

    S = 200
    rep = split[(split["frequency"] > 0) & (split["monetary_value"] > 0)]
    x = rep["frequency"].to_numpy(float)
    medians = {}
    for g in (0.0, 0.5):
        values = {**CDNOW_GG_MLE, "gamma": g}
        priors = {**tight(CDNOW_GG_MLE), "gamma": Prior("Normal", mu=g, sigma=0.005)}
        pp = prior_predictive(GammaGammaFrequencyModel(priors=priors), split, draws=S, seed=3)
        med = pp["prior_predictive"]["spend_quantiles"].sel(quantile=0.5).values
        rng = np.random.default_rng(4)
        ind = np.empty(S)
        for s in range(S):  # zbar ~ Gamma(p x, rate nu x), nu ~ Gamma(q, rate v (x + 1)^gamma)
            nu = rng.gamma(values["q"], 1.0 / (values["v"] * (x + 1.0) ** g))
            ind[s] = np.median(rng.gamma(values["p"] * x, 1.0 / (nu * x)))
        assert abs(med.mean() - ind.mean()) < 4 * np.sqrt(med.var() / S + ind.var() / S) + 0.01 * ind.mean(), g
        medians[g] = med.mean()
    assert medians[0.5] > 1.3 * medians[0.0]
