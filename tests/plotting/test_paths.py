"""P(alive) paths of many customers (clvmodels.p_alive_paths): the state at each grid date is the
summary's at that date, the numbers are each model's P(alive) at that state averaged over the draws
(computed here directly), they equal what the one-customer function gave before it was rebuilt on them,
deduplicating the states changes no number, and the memory stays bounded on 200,000 customers."""
from __future__ import annotations

import tracemalloc
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import clvmodels  # noqa: E402
from clvmodels import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, summarize  # noqa: E402
from clvmodels import plotting as P  # noqa: E402
from clvmodels.errors import InputError  # noqa: E402
from clvmodels.models.bgnbd import math as bg_math  # noqa: E402
from clvmodels.plotting import paths as paths_module  # noqa: E402

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _models():
    """40 draws around published-scale estimates per model (the generator's order matters: the old
    function's numbers below were recorded with exactly these draws)."""
    rng = np.random.default_rng(5)

    def draws(d, n=40):
        return {k: v * np.exp(rng.normal(0, 0.08, n)) for k, v in d.items()}

    return {
        "bgnbd": BetaGeoModel.from_params(draws({"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}),
                                          time_unit="W"),
        "mbgnbd": ModifiedBetaGeoModel.from_params(draws({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
                                                   time_unit="W"),
        "pareto_nbd": ParetoNBDModel.from_params(draws({"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}),
                                                 time_unit="W"),
    }


@pytest.fixture(scope="module")
def models():
    return _models()


# REFERENCE: customer_history_data as it was before it was rebuilt on p_alive_paths (commit 0ae35aa: a
# daily grid, reduce_over_draws of future_p_alive per day), at the models above with all 40 draws, CDNOW,
# observation_end 1997-09-30, end 1998-06-30: (P(alive) mean, 5% and 95% bounds). The last two dates are
# forecasts.
OLD_HISTORY = {
    ("bgnbd", 1, "1997-03-04"): (0.5800842878128981, 0.5253779947639258, 0.6251178086047443),
    ("bgnbd", 1, "1997-06-24"): (0.3426961003039515, 0.29798339016542497, 0.3881173638456367),
    ("bgnbd", 1, "1997-09-30"): (0.7311634868632821, 0.690936525929599, 0.759667323012339),
    ("bgnbd", 1, "1998-01-06"): (0.6623576220314112, 0.6165488489676325, 0.6958175816483033),
    ("bgnbd", 1, "1998-06-30"): (0.5737394384079529, 0.5231618346458473, 0.6123249661836034),
    ("bgnbd", 18, "1997-03-04"): (0.6677613753790272, 0.6139675967468947, 0.7049565883871304),
    ("bgnbd", 18, "1997-06-24"): (0.43120604052629774, 0.37883209366830256, 0.47717989232909136),
    ("bgnbd", 18, "1997-09-30"): (0.3189718108504759, 0.27477079939591537, 0.36014752396814276),
    ("bgnbd", 18, "1998-01-06"): (0.29805146729638565, 0.2536794540718221, 0.33925985360656635),
    ("bgnbd", 18, "1998-06-30"): (0.2695522216593923, 0.22553456746070508, 0.31033240124916384),
    ("bgnbd", 1516, "1997-03-04"): (0.7315871307404015, 0.6822677388469232, 0.763010496505054),
    ("bgnbd", 1516, "1997-06-24"): (0.8260981983184751, 0.8026950940819522, 0.8449452076209659),
    ("bgnbd", 1516, "1997-09-30"): (0.9693246567442892, 0.9654233217821194, 0.9718544793548173),
    ("bgnbd", 1516, "1998-01-06"): (0.7648699839820564, 0.7373608648298744, 0.7814405652235835),
    ("bgnbd", 1516, "1998-06-30"): (0.5673811124430037, 0.5249918254983793, 0.5926843058309994),
    ("mbgnbd", 1, "1997-03-04"): (0.5507117880147292, 0.518743578151154, 0.5865464635676141),
    ("mbgnbd", 1, "1997-06-24"): (0.2889116792941972, 0.25382716724971693, 0.32991746120733734),
    ("mbgnbd", 1, "1997-09-30"): (0.7024903994465487, 0.6828928111083948, 0.7239031085680583),
    ("mbgnbd", 1, "1998-01-06"): (0.6243840716971809, 0.6008175466618741, 0.6500553622418022),
    ("mbgnbd", 1, "1998-06-30"): (0.5262292363234828, 0.4991934934685755, 0.5556521501857032),
    ("mbgnbd", 18, "1997-03-04"): (0.6416988644531199, 0.6161904303991009, 0.6698739958524847),
    ("mbgnbd", 18, "1997-06-24"): (0.3721789807682096, 0.3376102509012759, 0.41146862117025984),
    ("mbgnbd", 18, "1997-09-30"): (0.2515536697062713, 0.22108581634525257, 0.28930399151985914),
    ("mbgnbd", 18, "1998-01-06"): (0.23048124904132225, 0.20088394616594182, 0.26688227099246137),
    ("mbgnbd", 18, "1998-06-30"): (0.20258934201939582, 0.17450311671077462, 0.2368166719150748),
    ("mbgnbd", 1516, "1997-03-04"): (0.7167004204869943, 0.6967312494644613, 0.7391100601747222),
    ("mbgnbd", 1516, "1997-06-24"): (0.8098590968668595, 0.7961751849830206, 0.8246959420253753),
    ("mbgnbd", 1516, "1997-09-30"): (0.9651825240788471, 0.9619512808923075, 0.9687666506289693),
    ("mbgnbd", 1516, "1998-01-06"): (0.7430393534834158, 0.7201193379902636, 0.7660614571079517),
    ("mbgnbd", 1516, "1998-06-30"): (0.5322595442578466, 0.49802464345047687, 0.5679523588878901),
    ("pareto_nbd", 1, "1997-03-04"): (0.7345370380683122, 0.6981437627141031, 0.776070278318419),
    ("pareto_nbd", 1, "1997-06-24"): (0.33192416735766195, 0.2850001595220361, 0.39271474970442566),
    ("pareto_nbd", 1, "1997-09-30"): (0.8674729871453037, 0.8533355072852752, 0.8868430361195613),
    ("pareto_nbd", 1, "1998-01-06"): (0.7463903183543069, 0.72175994372535, 0.7797576723541229),
    ("pareto_nbd", 1, "1998-06-30"): (0.610322247969816, 0.5769712650246017, 0.6561491919994574),
    ("pareto_nbd", 18, "1997-03-04"): (0.8540571916402071, 0.8332311346239354, 0.8768688160648968),
    ("pareto_nbd", 18, "1997-06-24"): (0.4291898779069342, 0.3825483518448121, 0.49067123247735833),
    ("pareto_nbd", 18, "1997-09-30"): (0.24994531369608558, 0.21195287000536836, 0.3010426912289685),
    ("pareto_nbd", 18, "1998-01-06"): (0.21528298102810686, 0.17934143619508347, 0.26526137286998785),
    ("pareto_nbd", 18, "1998-06-30"): (0.1762771872821574, 0.1433349954577459, 0.2236008640826625),
    ("pareto_nbd", 1516, "1997-03-04"): (0.9711781527323033, 0.9661095593999722, 0.9760054956997538),
    ("pareto_nbd", 1516, "1997-06-24"): (0.9529359746188586, 0.9469965512553761, 0.9601628069163373),
    ("pareto_nbd", 1516, "1997-09-30"): (0.9978436410600011, 0.9975909947400702, 0.9981613322807932),
    ("pareto_nbd", 1516, "1998-01-06"): (0.8381085787363256, 0.8212346647673546, 0.8598656625809947),
    ("pareto_nbd", 1516, "1998-06-30"): (0.669464371738439, 0.6399493164863761, 0.7092992988700826),
}


@pytest.fixture(scope="module")
def cdnow_paths(models, cdnow_transactions):
    """Weekly paths of every CDNOW customer to the calibration end, per model (all 40 draws)."""
    return {name: clvmodels.p_alive_paths(m, cdnow_transactions, observation_end=CAL_END, max_draws=None)
            for name, m in models.items()}


# -- the grid and the states -------------------------------------------------------------------------------
def test_weekly_grid_is_anchored_at_the_observation_end(cdnow_paths, cdnow_transactions):
    ds = cdnow_paths["bgnbd"]
    dates = pd.DatetimeIndex(ds["date"].to_numpy())
    assert dates[-1] == pd.Timestamp(CAL_END) and (np.diff(dates) == pd.Timedelta(days=7)).all()
    first = pd.Timestamp(cdnow_transactions["date"].min())               # 1997-01-01, the cohort's first day
    assert dates[0] >= first and dates[0] - pd.Timedelta(days=7) < first  # the first week end on or after it
    assert ds.sizes == {"customer": 2357, "date": 39} and list(ds["customer"][:3].to_numpy()) == [1, 2, 3]
    # active exactly from the first purchase on; P(alive) NaN before it and only there
    fp = ds["first_purchase"].to_numpy()
    np.testing.assert_array_equal(ds["active"].to_numpy(), ds["date"].to_numpy()[None, :] >= fp[:, None])
    np.testing.assert_array_equal(np.isnan(ds["p_alive"].to_numpy()), ~ds["active"].to_numpy())
    # distinct states are a small part of the cells (19,181 of 78,498 active cells on CDNOW)
    assert ds.attrs["n_active_cells"] == int(ds["active"].sum()) == 78498
    assert ds.attrs["n_states"] < 0.3 * ds.attrs["n_active_cells"]
    later = cdnow_transactions.loc[cdnow_transactions["date"] > CAL_END, ["customer_id", "date"]]
    assert ds.attrs["n_purchase_days_after_end"] == len(later.drop_duplicates()) == 1882  # the holdout's days


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto_nbd"])
def test_paths_are_the_summary_state_and_p_alive_at_each_date(name, models, cdnow_paths, cdnow_transactions):
    """At three grid dates: the state equals clvmodels.summarize's with observation_end = that date, and
    P(alive) equals the model's formula at that state averaged over the draws (BG/NBD: FHL's closed form
    from the math module; the others: the scorer's p_alive), with np.quantile's bounds."""
    m, ds = models[name], cdnow_paths[name]
    draws = m.draws_()
    for when in ["1997-02-11", "1997-05-20", CAL_END]:
        log = cdnow_transactions[cdnow_transactions["date"] <= when]
        s = summarize(log, observation_end=when, time_unit="W")
        cell = ds.sel(date=pd.Timestamp(when), customer=s.index.to_numpy())
        assert cell["active"].all() and int(ds.sel(date=pd.Timestamp(when))["active"].sum()) == len(s)
        np.testing.assert_array_equal(cell["frequency"].to_numpy(), s["frequency"].to_numpy())
        np.testing.assert_allclose(cell["recency"].to_numpy(), s["recency"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(cell["T"].to_numpy(), s["T"].to_numpy(), rtol=1e-12)
        x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        if name == "bgnbd":
            per_draw = bg_math.p_alive(*(draws[k][:, None] for k in ("r", "alpha", "a", "b")), x, tx, T)
        else:
            per_draw = m.scorer().p_alive(x, tx, T)
        assert per_draw.shape == (40, len(s))
        np.testing.assert_allclose(cell["p_alive"].to_numpy(), per_draw.mean(axis=0), rtol=1e-12)
        lo, hi = np.quantile(per_draw, [0.05, 0.95], axis=0)
        np.testing.assert_allclose(cell["p_alive_lower"].to_numpy(), lo, rtol=1e-12)
        np.testing.assert_allclose(cell["p_alive_upper"].to_numpy(), hi, rtol=1e-12)
        # and the model's own per-customer method at that date
        own = m.p_alive(s, max_draws=None)
        np.testing.assert_allclose(cell["p_alive"].to_numpy(), own["p_alive"].to_numpy(), rtol=1e-12)


def test_paths_equal_the_old_one_customer_function(models, cdnow_transactions):
    for name, m in models.items():
        ds = clvmodels.p_alive_paths(m, cdnow_transactions, observation_end=CAL_END, end=OBS_END,
                                     customers=[1516, 18, 1], max_draws=None)
        assert list(ds["customer"].to_numpy()) == [1516, 18, 1]                 # the order asked for
        phase = pd.Series(ds["phase"].to_numpy(), index=ds["date"].to_numpy())
        assert phase[pd.Timestamp(CAL_END)] == "observed" and phase[pd.Timestamp(OBS_END)] == "forecast"
        for c in (1, 18, 1516):
            path, _ = P.customer_history_data(m, cdnow_transactions, c, observation_end=CAL_END, end=OBS_END,
                                              max_draws=None)
            by_day = path.set_index("date")
            for (n, cc, d), old in OLD_HISTORY.items():
                if (n, cc) != (name, c):
                    continue
                cell = ds.sel(customer=c, date=pd.Timestamp(d))
                new = (float(cell["p_alive"]), float(cell["p_alive_lower"]), float(cell["p_alive_upper"]))
                np.testing.assert_allclose(new, old, rtol=1e-12, err_msg=f"{name} customer {c} on {d}")
                row = by_day.loc[pd.Timestamp(d)]
                np.testing.assert_allclose(row[["p_alive", "p_alive_lower", "p_alive_upper"]].to_numpy(float), old,
                                           rtol=1e-12)


def test_deduplication_changes_no_number(models, cdnow_transactions):
    """Every active cell evaluated on its own (no dedup) gives bit-for-bit the same arrays."""
    m = models["pareto_nbd"]
    pdays = paths_module.purchase_days(cdnow_transactions, "customer_id", "date")
    end = paths_module.as_day(CAL_END, "observation_end")
    log = paths_module._cohort_log(pdays, None, end)
    grid = paths_module.grid_days(int(log.first.min()), end, end + 60, "2W")   # with forecast dates
    kw = dict(interval=0.8, max_draws=None, budget_bytes=2**20, progress=False)
    a, ca = paths_module._paths_core(m, log, grid, end, **kw)
    b, cb = paths_module._paths_core(m, log, grid, end, dedup=False, **kw)
    assert cb["n_states"] == cb["n_active_cells"] == ca["n_active_cells"] > 3 * ca["n_states"]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_long_form_is_the_active_cells(cdnow_paths, models, cdnow_transactions):
    ds = cdnow_paths["bgnbd"]
    long = clvmodels.p_alive_paths(models["bgnbd"], cdnow_transactions, observation_end=CAL_END, max_draws=None,
                                   long=True)
    assert len(long) == int(ds["active"].sum()) and not long.isna().any().any()
    wide = ds.to_dataframe().reset_index()
    wide = wide[wide["active"]].rename(columns={"customer": "customer_id"})
    for c in ("p_alive", "p_alive_lower", "p_alive_upper", "frequency", "recency", "T"):
        np.testing.assert_array_equal(long[c].to_numpy(), wide[c].to_numpy(), err_msg=c)
    assert (long["phase"] == "observed").all() and long.attrs["clvmodels"]["n_states"] == ds.attrs["n_states"]


def test_monthly_grid_and_start(models, cdnow_transactions):
    ds = clvmodels.p_alive_paths(models["bgnbd"], cdnow_transactions, observation_end=CAL_END, freq="M",
                                 start="1997-04-01", max_draws=5)
    dates = pd.DatetimeIndex(ds["date"].to_numpy())
    steps = np.diff(dates).astype("timedelta64[D]").astype(int)
    assert dates[-1] == pd.Timestamp(CAL_END) and dates[0] >= pd.Timestamp("1997-04-01")
    assert set(steps) <= {30, 31} and len(dates) == 6
    # customers first seen before the start are followed from the first grid date, with their history
    assert ds["active"].all() and ds.attrs["n_draws"] == 5


def test_bad_arguments_are_named_before_any_work(models, cdnow_transactions):
    m = models["bgnbd"]
    with pytest.raises(InputError, match=r"customers: 4 given, of which 2 have no transactions.*-5.*1 made their "
                                         r"first purchase after observation_end"):
        clvmodels.p_alive_paths(m, cdnow_transactions, observation_end="1997-01-05", customers=[1, -5, -6, 1516])
    with pytest.raises(InputError, match="freq"):
        clvmodels.p_alive_paths(m, cdnow_transactions, observation_end=CAL_END, freq="fortnight")
    with pytest.raises(InputError, match="end must not be before observation_end"):
        clvmodels.p_alive_paths(m, cdnow_transactions, observation_end=CAL_END, end="1997-01-01")
    with pytest.raises(InputError, match="observation_end"):
        clvmodels.p_alive_paths(m, cdnow_transactions, observation_end="not a date")
    with pytest.raises(ValueError, match="interval"):
        clvmodels.p_alive_paths(m, cdnow_transactions, observation_end=CAL_END, interval=1.5)


# -- memory -------------------------------------------------------------------------------------------------
def test_memory_stays_bounded_on_200k_customers_by_52_weeks():
    """200,000 simulated customers x 52 weekly dates x 50 draws: a draws x customers x dates array would be
    4.2 GB, and even draws x distinct states 370 MB more; the computation's peak (tracemalloc) stays under
    its output (about 45 bytes per cell, 450 MB) plus 4 budgets of 16 MB, 100 bytes per distinct state and
    200 per row of the log (its purchase days): about 710 MB (measured: 544 MB)."""
    from clvmodels.simulate import simulate_transactions

    log = simulate_transactions(200_000, r=0.25, alpha=4.0, a=0.8, b=2.5, start="2022-01-01", acquisition_days=180,
                                observation_end="2023-06-30", seed=3)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BetaGeoModel.from_params({k: v * np.exp(rng.normal(0, 0.05, 50))
                                      for k, v in {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}.items()}, time_unit="W")
    budget = 16 * 2**20
    tracemalloc.start()
    try:
        ds = clvmodels.p_alive_paths(m, log, observation_end="2023-06-30", start="2022-07-02", max_draws=None,
                                     budget_bytes=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ds.sizes == {"customer": 200_000, "date": 52}
    naive = 50 * 200_000 * 52 * 8
    bound = ds.nbytes + 4 * budget + 100 * ds.attrs["n_states"] + 200 * len(log)
    assert peak < bound < naive / 5, (peak / 2**20, bound / 2**20)
    assert bound < ds.nbytes + 50 * ds.attrs["n_states"] * 8         # a draws x states array would not fit
    assert ds.attrs["n_states"] < 0.15 * ds.attrs["n_active_cells"]
    # spot check: the last date is the model's P(alive) on the summary at the observation end
    s = summarize(log, observation_end="2023-06-30", time_unit="W", amount=None).iloc[::997]
    got = ds["p_alive"].sel(customer=s.index.to_numpy(), date=pd.Timestamp("2023-06-30")).to_numpy()
    np.testing.assert_allclose(got, m.p_alive(s, max_draws=None)["p_alive"].to_numpy(), rtol=1e-12)


# -- the plot -----------------------------------------------------------------------------------------------
def test_plot_lines_draw_the_paths_with_bands(cdnow_paths):
    ds = cdnow_paths["bgnbd"]
    fig, ax = plt.subplots()
    out = P.plot_p_alive_paths(ds, [1516, 18], ax=ax)
    assert out is fig and fig.axes[0] is ax
    for c in (1516, 18):
        line = next(ln for ln in ax.get_lines() if ln.get_label() == f"customer {c}")
        a = ds["active"].sel(customer=c).to_numpy()
        np.testing.assert_array_equal(line.get_ydata(), ds["p_alive"].sel(customer=c).to_numpy()[a])
    assert len(ax.collections) == 2                                   # one band per customer
    d = fig.clvmodels_data["paths"]
    assert len(d) == int(ds["active"].sel(customer=[1516, 18]).sum()) and not d.isna().any().any()
    with pytest.raises(InputError, match="not in the paths"):
        P.plot_p_alive_paths(ds, [99999])


def test_plot_heatmap_shows_p_alive_blank_before_the_first_purchase(cdnow_paths):
    ds = cdnow_paths["bgnbd"]
    ids = ds["customer"].to_numpy()[1000:1040]
    fig = P.plot_p_alive_paths(ds, ids, kind="heatmap")
    img = fig.axes[0].get_images()[0].get_array()
    sub = ds.sel(customer=ids)
    np.testing.assert_array_equal(img.mask, ~sub["active"].to_numpy())
    np.testing.assert_array_equal(img.filled(-1), np.where(sub["active"], sub["p_alive"], -1))
