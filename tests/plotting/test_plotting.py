"""Plots on the CDNOW sample: each function returns a Figure whose axes show the numbers they should
(published CDNOW counts, brute-force sums, the model's own predictions), not only "it runs"."""
from __future__ import annotations

import copy
import tracemalloc

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from clvmodels import plotting as P  # noqa: E402
from clvmodels.errors import InputError  # noqa: E402
from clvmodels.models import BetaGeoModel, bgnbd  # noqa: E402
from clvmodels.models.fitting import Diagnostics  # noqa: E402

from ..conftest import CDNOW_BGNBD_MLE  # noqa: E402

CAL_END, OBS_END = "1997-09-30", "1998-06-30"
# Published CDNOW figures (REFERENCE: FHL 2005; conditional expectations table of the BTYD literature)
BIN_COUNTS = [1411, 439, 214, 100, 62, 38, 29, 64]
BIN_HOLDOUT_MEANS = [0.237, 0.697, 1.393, 1.560, 2.532, 2.947, 3.862, 6.359]
WALKTHROUGH = {"r": 0.2425982, "alpha": 4.413684, "a": 0.7929899, "b": 2.426167}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def fixed_model(params: dict[str, float], unit: str = "W") -> BetaGeoModel:
    """A BetaGeoModel whose posterior is one draw at ``params`` (a point estimate), for exact checks."""
    m = BetaGeoModel(method="map")
    m.posterior_ = xr.Dataset({k: (("chain", "draw"), np.array([[float(v)]])) for k, v in params.items()},
                              coords={"chain": [0], "draw": [0]})
    m.time_unit_ = unit
    m.diagnostics_ = Diagnostics(method="map", sampler="fixed", chains=1, draws=1, seconds=0.0)
    m.sample_stats_ = None
    m.fit_info_ = {}
    return m


@pytest.fixture(scope="module")
def mle_model():
    return fixed_model(WALKTHROUGH)


@pytest.fixture(scope="module")
def forecast_table(cdnow_split, cdnow_bgnbd, cdnow_gamma_gamma):
    from clvmodels.scoring import score

    return score(cdnow_split, cdnow_bgnbd, cdnow_gamma_gamma, "52W", discount_rate=0.1, max_draws=200)


def line_by_label(ax, label):
    for line in ax.get_lines():
        if line.get_label() == label:
            return line
    raise AssertionError(f"no line labelled {label!r}: {[l.get_label() for l in ax.get_lines()]}")


# -- tracking ------------------------------------------------------------------------------------------
def test_tracking_cumulative_and_weekly_on_cdnow(cdnow_bgnbd, cdnow_transactions):
    fig = P.plot_tracking(cdnow_bgnbd, cdnow_transactions, calibration_end=CAL_END, observation_end=OBS_END,
                          kind="both", max_draws=200)
    assert isinstance(fig, matplotlib.figure.Figure)
    cum_ax, week_ax = fig.axes
    d = fig.clvmodels_data["tracking"]
    # 78 whole weeks: 39 of calibration, 39 of holdout, the last ending on the observation end
    assert len(d) == 78 and (d["phase"] == "calibration").sum() == 39
    assert (d["period_end"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert d["period_end"].iloc[-1] == pd.Timestamp(OBS_END)
    assert d.loc[d["phase"] == "calibration", "period_end"].iloc[-1] == pd.Timestamp(CAL_END)
    # actual repeat transactions (distinct purchase days): 2,457 in calibration, 1,882 in the holdout
    assert d.loc[d["phase"] == "calibration", "actual"].sum() == 2457
    assert d.loc[d["phase"] == "holdout", "actual"].sum() == 1882
    assert d["cumulative_actual"].iloc[-1] == 2457 + 1882
    # the drawn lines are these numbers
    np.testing.assert_array_equal(line_by_label(cum_ax, "actual").get_ydata(), d["cumulative_actual"])
    np.testing.assert_allclose(line_by_label(cum_ax, "model (BG/NBD expectation)").get_ydata(), d["cumulative_expected"])
    np.testing.assert_array_equal(line_by_label(week_ax, "actual").get_ydata(), d["actual"])
    assert "cumulative" in cum_ax.get_ylabel() and "per period" in week_ax.get_ylabel()
    # the model tracks the calibration total closely and the holdout within reason (FHL: slightly under)
    cal_exp = d.loc[d["phase"] == "calibration", "expected"].sum()
    assert abs(cal_exp - 2457) / 2457 < 0.05
    hold_exp = d.loc[d["phase"] == "holdout", "expected"].sum()
    assert 1450 < hold_exp < 1900
    assert (d["cumulative_lower"] <= d["cumulative_expected"] + 1e-9).all()
    assert (d["cumulative_expected"] <= d["cumulative_upper"] + 1e-9).all()
    assert (np.diff(d["cumulative_expected"]) >= -1e-9).all()


def test_tracking_matches_brute_force_sum_over_customers(mle_model, cdnow_transactions, cdnow_split):
    d = P.tracking_data(mle_model, cdnow_transactions, calibration_end=CAL_END, observation_end=OBS_END)
    first = pd.to_datetime(cdnow_split["first_purchase"])
    p = WALKTHROUGH
    for k in (0, 10, 38, 60, 77):
        end = d["period_end"].iloc[k]
        t = ((end - first).dt.days / 7.0).to_numpy()
        t = t[t > 0]
        brute = bgnbd.expected_purchases_new(p["r"], p["alpha"], p["a"], p["b"], t).sum()
        assert d["cumulative_expected"].iloc[k] == pytest.approx(brute, rel=1e-10)
    # chunking does not change the numbers (bounded memory is exact)
    small = P.tracking_data(mle_model, cdnow_transactions, calibration_end=CAL_END, observation_end=OBS_END,
                            budget_bytes=2_000)
    np.testing.assert_allclose(small["cumulative_expected"], d["cumulative_expected"], rtol=1e-12)


def test_tracking_single_panel_into_given_axes_and_bad_input(mle_model, cdnow_transactions):
    fig0, (a0, a1) = plt.subplots(1, 2)
    fig = P.plot_tracking(mle_model, cdnow_transactions, calibration_end=CAL_END, kind="incremental", ax=a1)
    assert fig is fig0 and len(a1.get_lines()) == 3 and len(a0.get_lines()) == 0   # actual, model, calibration end
    with pytest.raises(InputError):
        P.tracking_data(mle_model, cdnow_transactions, calibration_end=CAL_END, customers=[10**9])
    with pytest.raises(ValueError):
        P.plot_tracking(mle_model, cdnow_transactions, calibration_end=CAL_END, kind="weekly")


# -- conditional expectations ---------------------------------------------------------------------------
def test_conditional_expectations_on_cdnow(cdnow_bgnbd, cdnow_split):
    fig = P.plot_conditional_expectations(cdnow_bgnbd, cdnow_split, max_draws=200)
    ax = fig.axes[0]
    d = fig.clvmodels_data["conditional_expectations"]
    assert list(d.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert d["n_customers"].tolist() == BIN_COUNTS
    np.testing.assert_allclose(d["actual"], BIN_HOLDOUT_MEANS, atol=5e-4)
    np.testing.assert_allclose(line_by_label(ax, "actual").get_ydata(), d["actual"])
    np.testing.assert_allclose(line_by_label(ax, "model (BG/NBD)").get_ydata(), d["expected"])
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "7+\n(n=64)"
    assert (d["expected_lower"] <= d["expected"]).all() and (d["expected"] <= d["expected_upper"]).all()
    # predictions grow with calibration frequency and are close to the actual means ("tracks closely")
    assert (np.diff(d["expected"]) > 0).all()
    np.testing.assert_allclose(d["expected"], d["actual"], rtol=0.35, atol=0.1)
    # the per-bin totals are the model's own conditional expectations, summed
    direct = cdnow_bgnbd.expected_purchases(cdnow_split, "39W", max_draws=200)["expected_purchases"]
    assert d["expected_total"].sum() == pytest.approx(direct.sum(), rel=1e-9)


def test_conditional_expectations_at_the_mle_sum_to_the_published_total(mle_model, cdnow_split):
    d = P.conditional_expectations_data(mle_model, cdnow_split, budget_bytes=1_000)
    # REFERENCE: at the published estimates the conditional expectations sum to about 1,653
    assert d["expected_total"].sum() == pytest.approx(1653, abs=3)
    assert d["actual_total"].sum() == 1882


def test_conditional_expectations_needs_holdout(mle_model, cdnow_split):
    with pytest.raises(InputError, match="calibration_end"):
        P.plot_conditional_expectations(mle_model, cdnow_split.drop(columns=["frequency_holdout"]))


# -- frequency / recency matrices ------------------------------------------------------------------------
def test_p_alive_and_expected_purchases_matrices(cdnow_bgnbd, cdnow_split):
    fig = P.plot_p_alive_matrix(cdnow_bgnbd, data=cdnow_split, max_draws=100)
    m = fig.clvmodels_data["matrix"]
    assert m.shape == (int(cdnow_split["frequency"].max()) + 1, 40)          # T = 38.86 weeks -> 40 columns
    assert m.columns[-1] == pytest.approx(cdnow_split["T"].max())
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "probability alive"   # heat map + colour bar
    mesh = fig.axes[0].collections[0]
    np.testing.assert_allclose(np.ma.filled(mesh.get_array(), np.nan).reshape(m.shape), m.to_numpy(), equal_nan=True)
    vals = m.to_numpy()
    assert np.isnan(vals[0, 1:]).all() and vals[0, 0] == pytest.approx(1.0)   # frequency 0: recency must be 0
    inner = vals[1:, 1:]
    assert np.nanmin(inner) >= 0 and np.nanmax(inner) <= 1
    assert (np.diff(inner, axis=1) >= -1e-12).all()        # more recent last purchase: more likely alive
    # one cell against the model's own per-customer prediction
    f, r = 5, float(m.columns[20])
    cust = pd.DataFrame({"frequency": [f], "recency": [r], "T": [m.attrs["clvmodels"]["T"]]})
    assert m.loc[f, m.columns[20]] == pytest.approx(cdnow_bgnbd.p_alive(cust, max_draws=100)["p_alive"].iloc[0])

    fig2 = P.plot_expected_purchases_matrix(cdnow_bgnbd, t="4W", T=30, max_frequency=10, n_recency=16, max_draws=100)
    e = fig2.clvmodels_data["matrix"]
    assert e.shape == (11, 16) and e.columns[-1] == 30
    cust = pd.DataFrame({"frequency": [10], "recency": [30.0], "T": [30.0]})
    assert e.iloc[-1, -1] == pytest.approx(cdnow_bgnbd.expected_purchases(cust, "4W", max_draws=100)
                                           ["expected_purchases"].iloc[0])
    assert "next 4 weeks" in fig2.axes[1].get_ylabel()


def test_matrix_memory_is_bounded(mle_model):
    """A 200 x 200 grid over 2,000 draws would be 640 MB as one draws x cells array; chunked it stays small."""
    draws = {k: np.full((1, 2000), v) for k, v in WALKTHROUGH.items()}
    model = copy.copy(mle_model)
    model.posterior_ = xr.Dataset({k: (("chain", "draw"), v) for k, v in draws.items()})
    tracemalloc.start()
    m = P.frequency_recency_matrix(model, "p_alive", T=52, max_frequency=199, n_recency=200, max_draws=None,
                                   budget_bytes=4 * 2**20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert m.shape == (200, 200)
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.0f} MB"


# -- period transactions --------------------------------------------------------------------------------
def test_period_transactions_on_cdnow(cdnow_bgnbd, cdnow_split):
    fig = P.plot_period_transactions(cdnow_bgnbd, cdnow_split, max_draws=200)
    ax = fig.axes[0]
    d = fig.clvmodels_data["period_transactions"]
    assert d["actual"].tolist() == BIN_COUNTS
    assert d["expected"].sum() == pytest.approx(len(cdnow_split), rel=1e-9)
    heights = [p.get_height() for p in ax.patches]
    assert heights[:8] == BIN_COUNTS and np.allclose(heights[8:16], d["expected"])
    assert ax.get_xlabel().startswith("repeat purchases") and ax.get_ylabel() == "customers"
    # the fitted model reproduces the calibration histogram: actual counts inside the predictive intervals
    inside = (d["actual"] >= d["predicted_lower"]) & (d["actual"] <= d["predicted_upper"])
    assert inside.sum() >= 6, d
    assert (d["predicted_lower"] <= d["expected"]).all() and (d["expected"] <= d["predicted_upper"]).all()


# -- one customer ---------------------------------------------------------------------------------------
def test_customer_history_p_alive_path(mle_model, cdnow_transactions):
    fig = P.plot_customer_history(mle_model, cdnow_transactions, 1516, observation_end=CAL_END, end=OBS_END)
    path, purchases = fig.clvmodels_data["path"], fig.clvmodels_data["purchases"]
    obs = path[path["phase"] == "observed"]
    # REFERENCE: customer 1516 (x = 26, t_x = 30.857, T = 31) has P(alive) 0.968852 at the estimates
    last = obs.iloc[-1]
    assert last["date"] == pd.Timestamp(CAL_END)
    assert (last["frequency"], last["recency"], last["t"]) == (26, pytest.approx(30.85714, abs=1e-5), pytest.approx(31.0))
    assert last["p_alive"] == pytest.approx(0.968852, abs=1e-6)
    # on each purchase day the customer is alive unless she dropped out right after it: 1/(1 + a/(b + x - 1))
    p = WALKTHROUGH
    used_days = purchases.loc[purchases["used"], "date"].iloc[1:]
    on = obs.set_index("date").loc[used_days]
    np.testing.assert_allclose(on["p_alive"], 1 / (1 + p["a"] / (p["b"] + on["frequency"] - 1)), rtol=1e-12)
    fc = path[path["phase"] == "forecast"]
    assert len(fc) == (pd.Timestamp(OBS_END) - pd.Timestamp(CAL_END)).days
    assert (np.diff(fc["p_alive"]) <= 1e-12).all() and fc["p_alive"].iloc[-1] < last["p_alive"]
    ax = fig.axes[0]
    np.testing.assert_allclose(line_by_label(ax, "P(alive)").get_ydata(), obs["p_alive"])
    assert len(line_by_label(ax, "purchases (used)").get_xdata()) == purchases["used"].sum()
    assert len(line_by_label(ax, "purchases after observation end (not used)").get_xdata()) == (~purchases["used"]).sum()
    assert ax.get_ylim() == (0, 1.08)


def test_customer_history_with_posterior_band(cdnow_bgnbd, cdnow_transactions):
    path, _ = P.customer_history_data(cdnow_bgnbd, cdnow_transactions, 1, observation_end=CAL_END, max_draws=100)
    assert (path["p_alive_lower"] <= path["p_alive"] + 1e-12).all() and (path["p_alive"] <= path["p_alive_upper"] + 1e-12).all()
    with pytest.raises(InputError, match="no transactions"):
        P.plot_customer_history(cdnow_bgnbd, cdnow_transactions, -5, observation_end=CAL_END)


# -- value ----------------------------------------------------------------------------------------------
def test_clv_distribution(forecast_table):
    fig = P.plot_clv_distribution(forecast_table, bins=40)
    hist = fig.clvmodels_data["histogram"]
    below = int((forecast_table["clv"] <= 0.01).sum())          # customers left off the log axis, counted
    assert hist["customers"].sum() == len(forecast_table) - below and len(hist) == 40
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"                        # CLV spans orders of magnitude
    share = P.value_concentration(forecast_table["clv"], (0.2,)).iloc[0]
    assert f"top 20% hold {share:.0%}" in ax.get_title()
    assert 0.2 < share < 1
    # the log axis starts near the data, not decades below it
    v = forecast_table["clv"].to_numpy()
    assert ax.get_xlim()[0] >= 0.01 / 1.2 and ax.get_xlim()[0] >= v[v > 0.01].min() / 1.2 * (1 - 1e-9)
    assert fig.clvmodels_data["below_floor"] == below


def test_clv_distribution_floors_the_log_axis_and_counts_the_rest():
    """A CLV of 1e-13 (a customer the model thinks long gone) or 0 does not stretch the log axis over
    empty decades: the axis starts at the smallest value above the floor, and the customers at or below
    it are counted and said on the plot."""
    rng = np.random.default_rng(0)
    v = np.concatenate([np.exp(rng.normal(2, 1.5, 500)), [1e-13, 3e-7, 0.0, 0.004, -2.0]])
    table = pd.DataFrame({"customer_id": np.arange(len(v)), "clv": v})
    fig = P.plot_clv_distribution(table)
    ax = fig.axes[0]
    above = v[v > 0.01]
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    assert lo == pytest.approx(above.min() / 1.2) and hi == pytest.approx(above.max() * 1.2, rel=1e-6)
    assert fig.clvmodels_data["below_floor"] == 5
    assert fig.clvmodels_data["histogram"]["customers"].sum() == len(above)
    texts = [t.get_text() for t in ax.texts]
    assert "5 customers with clv at or below 0.01 not drawn" in texts
    # a higher floor: the count follows it (here 1 currency unit)
    fig = P.plot_clv_distribution(table, floor=1.0, log=True)
    assert fig.clvmodels_data["below_floor"] == int((v <= 1.0).sum()) and fig.axes[0].get_xlim()[0] >= 1 / 1.2
    # without customers below the floor, nothing is said
    fig = P.plot_clv_distribution(table[table["clv"] > 0.01])
    assert fig.clvmodels_data["below_floor"] == 0 and len(fig.axes[0].texts) == 0
    with pytest.raises(InputError, match="floor"):
        P.plot_clv_distribution(table, floor=0)
    # a median at or below the floor is off the log axis: named in the legend, not drawn
    low = pd.DataFrame({"clv": np.concatenate([np.zeros(60), np.geomspace(0.1, 1000, 40)])})
    ax = P.plot_clv_distribution(low, log=True).axes[0]
    assert "median 0.00 (below the axis)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert not [ln for ln in ax.get_lines() if ln.get_label().startswith("median") and len(ln.get_xdata())]
    # mostly at or below the floor (negative CLVs after a cost to serve): a linear axis, every customer drawn
    neg = pd.DataFrame({"clv": np.concatenate([-rng.uniform(0, 5, 300), rng.uniform(0, 500, 100)])})
    fig = P.plot_clv_distribution(neg)
    assert fig.axes[0].get_xscale() == "linear" and fig.clvmodels_data["histogram"]["customers"].sum() == 400


def test_top_customers_with_intervals(forecast_table):
    fig = P.plot_top_customers(forecast_table, n=10)
    ax = fig.axes[0]
    expected = forecast_table.sort_values("clv", ascending=False).head(10)
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]), reverse=True)
    assert [lab for _, lab in ticks] == [str(i) for i in expected["customer_id"]]     # highest at the top
    top = fig.clvmodels_data["top"]
    assert top.index.tolist() == expected["customer_id"].tolist()
    assert (top["clv_lower"] <= top["clv"]).all() and (top["clv"] <= top["clv_upper"]).all()
    # the legend says the period each marker covers: the summary's history (to the calibration end here,
    # up to the oldest customer's age in weeks) and the forecast's horizon and discount
    t_max = round(float(forecast_table["T"].max()))
    hist_label = f"historical value: spend over up to {t_max} weeks to {CAL_END}"
    assert t_max == 39
    marker = line_by_label(ax, hist_label)
    np.testing.assert_allclose(marker.get_xdata(), expected["historical_clv"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "predicted CLV: next 52 weeks, discounted 10%/year (with interval)" in legend
    assert "currency units" in ax.get_xlabel()


def test_historical_vs_predicted(forecast_table):
    fig = P.plot_historical_vs_predicted(forecast_table)
    ax = fig.axes[0]
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(forecast_table)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for seg, n in forecast_table["segment"].astype(str).value_counts().items():
        assert f"{seg} ({n:,})" in legend
    assert ax.get_xscale() == "symlog"
    # each axis says the period its total covers: 39 weeks of history to the calibration end against
    # the 52-week forecast, not two unlabelled "CLV"s
    assert ax.get_xlabel() == f"historical value: spend over up to 39 weeks to {CAL_END}"
    assert ax.get_ylabel() == "predicted CLV: next 52 weeks, discounted 10%/year (posterior mean)"
    assert "different periods" in line_by_label(ax, "y = x (equal totals, different periods)").get_label()
    # a table without the metadata gets generic labels, not wrong ones
    bare = pd.DataFrame(forecast_table[["customer_id", "historical_clv", "clv"]].to_numpy(),
                        columns=["customer_id", "historical_clv", "clv"])
    assert P.value_periods(bare) == ("historical value: spend to the observation end",
                                     "predicted CLV over the forecast horizon")


# -- posterior and diagnostics --------------------------------------------------------------------------
def test_trace_and_posterior_plots_show_diagnostics(cdnow_bgnbd):
    fig = P.plot_trace(cdnow_bgnbd)
    assert len(fig.axes) == 8                                    # 4 parameters x (density, trace)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert len(titles) == 4 and all("R-hat" in t and "ESS bulk" in t for t in titles)
    r_hat = cdnow_bgnbd.diagnostics_.r_hat["r"]
    assert any(t.startswith("r ") and f"{r_hat:.3f}" in t for t in titles)
    sup = fig._suptitle.get_text()
    assert "NUTS" in sup and "divergences" in sup and "diagnostics ok" in sup
    # every chain is drawn in each trace panel
    n_chains = cdnow_bgnbd.posterior_.sizes["chain"]
    assert all(len(a.get_lines()) >= n_chains for a in fig.axes)

    ref = CDNOW_BGNBD_MLE
    fig = P.plot_posterior(cdnow_bgnbd, reference=ref, interval=0.9)
    assert len(fig.axes) == 4
    for ax, name in zip(fig.axes, ["r", "alpha", "a", "b"]):
        assert ax.get_title().startswith(name)
        xs = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert ref[name] in xs
        lo, hi = np.quantile(cdnow_bgnbd.posterior_[name].values, [0.05, 0.95])
        assert lo - 0.5 * (hi - lo) < ref[name] < hi + 0.5 * (hi - lo)   # the MLE sits in the posterior


def test_posterior_plots_flag_problems_and_map_fits(cdnow_bgnbd):
    bad = copy.copy(cdnow_bgnbd)
    bad.diagnostics_ = copy.copy(cdnow_bgnbd.diagnostics_)
    bad.diagnostics_.problems = ["R-hat of alpha is 1.08 (above 1.01)"]
    fig = P.plot_trace(bad, var_names=["r", "alpha"])
    assert len(fig.axes) == 4
    assert "PROBLEMS: R-hat of alpha is 1.08" in fig._suptitle.get_text()
    assert fig._suptitle.get_color() == "C3"
    mle = fixed_model(WALKTHROUGH)
    assert "no sampler diagnostics" in P.diagnostics_text(mle)
    with pytest.raises(ValueError, match="no parameter"):
        P.plot_trace(cdnow_bgnbd, var_names=["p"])


def test_posterior_comparison(cdnow_bgnbd):
    thin = copy.copy(cdnow_bgnbd)
    thin.posterior_ = cdnow_bgnbd.posterior_.isel(chain=[0])
    fig = P.plot_posterior_comparison({"4 chains": cdnow_bgnbd, "1 chain": thin}, var_names=["r", "a"])
    assert len(fig.axes) == 2 and [a.get_title() for a in fig.axes] == ["r", "a"]
    s = fig.clvmodels_data["summaries"]
    assert set(s["fit"]) == {"4 chains", "1 chain"} and len(s) == 4
    assert s.loc[(s["fit"] == "4 chains") & (s["parameter"] == "r"), "mean"].item() == pytest.approx(
        float(cdnow_bgnbd.posterior_["r"].mean()))
    # the interval bars are inside the plotting area (they were drawn below it and clipped away), under
    # the densities, one row per fit, from the draws' 5% to 95% quantiles
    fig.canvas.draw()
    for ax, v in zip(fig.axes, ["r", "a"]):
        bars = [ln for ln in ax.get_lines() if ln.get_label() == "_interval"]
        assert len(bars) == 2
        y0, y1 = ax.get_ylim()
        box = ax.get_window_extent()
        for bar, (label, m) in zip(bars, [("4 chains", cdnow_bgnbd), ("1 chain", thin)]):
            lo, hi = np.quantile(m.draws_()[v], [0.05, 0.95])
            np.testing.assert_allclose(bar.get_xdata(), [lo, hi], rtol=1e-12)
            y = bar.get_ydata()[0]
            assert y0 < y < 0 < y1                                # below the densities, above the axis' bottom
            pts = bar.get_transform().transform(np.column_stack([bar.get_xdata(), bar.get_ydata()]))
            assert (pts[:, 0] >= box.x0 - 1e-6).all() and (pts[:, 0] <= box.x1 + 1e-6).all()
            assert (box.y0 < pts[:, 1]).all() and (pts[:, 1] < box.y1).all()
        assert bars[0].get_ydata()[0] != bars[1].get_ydata()[0]


# -- interval calibration -------------------------------------------------------------------------------
def test_pit_and_interval_coverage(cdnow_bgnbd, cdnow_split):
    from clvmodels.validation import validate_purchases

    v = validate_purchases(cdnow_bgnbd, cdnow_split, max_draws=200)
    fig = P.plot_pit(v)
    pit = fig.clvmodels_data["pit"]
    # the non-randomized PIT: each customer's unit of mass spread over her interval (F(y-1), F(y))
    assert pit["customers"].sum() == pytest.approx(len(cdnow_split)) and len(pit) == 10
    np.testing.assert_allclose(pit["mass"], v["pit_histogram"], rtol=1e-12)
    assert fig.clvmodels_data["pvalue"] == pytest.approx(v["pit_chi2_pvalue"])
    assert f"p = {v['pit_chi2_pvalue']:.3g}" in fig.axes[0].get_title()
    # the same figure whatever the seed of the randomized PIT
    again = P.plot_pit(validate_purchases(cdnow_bgnbd, cdnow_split, max_draws=200, seed=99))
    np.testing.assert_array_equal(again.clvmodels_data["pit"]["customers"], pit["customers"])
    # the band is the binomial range of a bin's count under calibration
    from scipy import stats

    assert pit["upper"].iloc[0] == stats.binom.ppf(0.995, len(cdnow_split), 0.1)
    # readable: the bars are outlines in front of the band (no filled block from zero hides the band),
    # the band spans the binomial range of every bin, and no bin of this calibrated model is outside it
    ax = fig.axes[0]
    bars = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
    assert len(bars) == 1 and not bars[0].get_fill()
    band = [p for p in ax.patches if p.get_label().startswith("99% range")]
    assert len(band) == 1 and band[0].zorder < bars[0].zorder
    corners = band[0].get_transform().transform(band[0].get_path().vertices)
    data_y = ax.transData.inverted().transform(corners)[:, 1]
    assert data_y.min() == pytest.approx(pit["lower"].iloc[0]) and data_y.max() == pytest.approx(pit["upper"].iloc[0])
    assert ax.get_ylim()[1] > pit["upper"].iloc[0]
    assert "at least 90%" in band[0].get_label()                    # 10 bins at 99%: Bonferroni
    assert not pit["outside_band"].any() and line_by_label(ax, "uniform (236 per bin)")
    # a too-confident model (PIT piled at the ends: a U) has bins outside the band, marked in red
    u = np.concatenate([np.full(800, 0.02), np.full(800, 0.98), np.linspace(0.1, 0.9, 757)])
    fig_u = P.plot_pit(u)
    pu = fig_u.clvmodels_data["pit"]
    outside = (pu["customers"] < pu["lower"]) | (pu["customers"] > pu["upper"])
    assert outside.sum() >= 2 and (pu["outside_band"] == outside).all()
    marks = line_by_label(fig_u.axes[0], f"outside the range ({int(outside.sum())} bins)")
    np.testing.assert_allclose(marks.get_ydata(), pu.loc[outside, "customers"])
    # plain PIT values (continuous or randomized) are drawn as the ordinary histogram
    counts = np.histogram(v["table"]["pit"], bins=10, range=(0, 1))[0]
    np.testing.assert_allclose(P.plot_pit(v["table"]["pit"].to_numpy()).clvmodels_data["pit"]["customers"], counts,
                               atol=1e-9)

    fig = P.plot_interval_coverage(cdnow_bgnbd, cdnow_split, levels=(0.5, 0.8, 0.9), max_draws=200)
    c = fig.clvmodels_data["coverage"]
    assert list(c.index) == [0.5, 0.8, 0.9]
    # the same intervals as the model's purchases_interval: coverage at 90% agrees with validate_purchases
    assert c.loc[0.9, "coverage"] == pytest.approx(v["interval_coverage"], abs=1e-12)
    assert c.loc[0.9, "expected_coverage"] == pytest.approx(v["interval_expected_coverage"], rel=1e-9)
    assert (np.diff(c["coverage"]) >= 0).all() and (c["expected_coverage"] >= c.index - 1e-9).all()
    ax = fig.axes[0]
    np.testing.assert_allclose(line_by_label(ax, "actual holdout coverage").get_ydata(), c["coverage"])


def test_single_panel_plots_draw_into_given_axes(mle_model, cdnow_split):
    fig0, axs = plt.subplots(1, 3)
    assert P.plot_conditional_expectations(mle_model, cdnow_split, ax=axs[0]) is fig0
    assert P.plot_period_transactions(mle_model, cdnow_split, ax=axs[1]) is fig0
    assert P.plot_p_alive_matrix(mle_model, data=cdnow_split, ax=axs[2]) is fig0
    assert len(axs[0].get_lines()) == 2 and len(axs[1].patches) == 16 and len(axs[2].collections) == 1
