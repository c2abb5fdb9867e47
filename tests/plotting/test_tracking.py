"""The tracking curve's day convention, against a peer and an independent computation.

Convention (README "Tracking plot: the day convention"): at a period end D (inclusive) the curve counts
the actual repeat purchases on days up to and including D and expects sum_c E[X(D - F_c)] (F_c: the
first purchase day), the T a summary with observation_end=D gives each customer. lifetimes puts
E[X(D + 1 - F_c)] beside the same actual count, so its value at D is ours at D + 1.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln, gammaln, hyp2f1

from clvmodels import plotting as P
from clvmodels import summarize
from clvmodels.errors import InputError

from ..conftest import CDNOW_BGNBD_PUBLISHED
from .test_plotting import fixed_model

CAL_END, OBS_END = "1997-09-30", "1998-06-30"

# lifetimes 0.11.3, utils.expected_cumulative_transactions(BetaGeoFitter with params_ = the published
# r 0.243, alpha 4.414 * 7 (per day), a 0.793, b 2.426; the CDNOW sample, freq="D", set_index_date=True),
# produced by benchmarks/peer_lifetimes_tracking.py in a lifetimes environment: row label -> (predicted, actual)
LIFETIMES = {
    "1997-01-01": (0.1408682010932375, 0),
    "1997-01-15": (19.7980145890794, 22),
    "1997-03-31": (710.0482127802705, 812),
    "1997-09-29": (2497.563529487279, 2444),
    "1997-09-30": (2505.1430138667633, 2457),
    "1998-01-31": (3339.2700413601315, 3384),
    "1998-06-29": (4166.372720385681, 4337),
    "1998-06-30": (4171.433582303186, 4339),
}


def expected_purchases_closed_form(r, alpha, a, b, t):
    """FHL (2005) eq. 9, E[X(t)] for a new customer, written out here (not the package's code)."""
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    head = (a + b - 1.0) / (a - 1.0)
    log_ratio = r * np.log(alpha / (alpha + t))
    return head * (1.0 - np.exp(log_ratio) * hyp2f1(r, b, a + b - 1.0, z))


def test_closed_form_helper_is_eq_9():
    # independent of hyp2f1: E[X(t)] = sum_x x P(X(t) = x), with FHL's eq. 8 for P(X(t) = x)
    r, alpha, a, b = (CDNOW_BGNBD_PUBLISHED[k] for k in ("r", "alpha", "a", "b"))
    t = 30.0
    x = np.arange(0, 400)
    lg = gammaln(r + x) - gammaln(r) - gammaln(x + 1)
    nb = np.exp(lg + r * np.log(alpha / (alpha + t)) + x * np.log(t / (alpha + t)))
    # eq. 8: P(X = x) = B(a, b+x)/B(a,b) NB(x) + [x > 0] B(a+1, b+x-1)/B(a,b) (1 - sum_{j<x} NB(j))
    alive = np.exp(betaln(a, b + x) - betaln(a, b)) * nb
    cum_before = np.concatenate(([0.0], np.cumsum(nb)[:-1]))
    dropped = np.where(x > 0, np.exp(betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b)) * (1 - cum_before), 0.0)
    pmf = alive + dropped
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert (x * pmf).sum() == pytest.approx(float(expected_purchases_closed_form(r, alpha, a, b, t)), rel=1e-9)


@pytest.fixture(scope="module")
def daily(cdnow_transactions):
    """The published BG/NBD in days (alpha x 7: the same E[X] at t days as at t/7 weeks) and its daily curve
    from the first day of the log to 1998-07-01, one day past the observation end."""
    p = dict(CDNOW_BGNBD_PUBLISHED, alpha=CDNOW_BGNBD_PUBLISHED["alpha"] * 7.0)
    model = fixed_model(p, unit="D")
    d = P.tracking_data(model, cdnow_transactions, calibration_end=CAL_END, observation_end="1998-07-01")
    return d.set_index("period_end")


def test_lifetimes_at_day_d_is_ours_at_d_plus_1_and_the_actual_counts_agree(daily):
    assert len(daily) == 547 and daily.index[0] == pd.Timestamp("1997-01-01")   # one row per day
    for day, (predicted, actual) in LIFETIMES.items():
        d = pd.Timestamp(day)
        # agreement to 1e-10 relatively (the same closed form, summed in another order)
        assert daily.loc[d + pd.Timedelta(days=1), "cumulative_expected"] == pytest.approx(predicted, rel=1e-10)
        assert daily.loc[d, "cumulative_actual"] == actual
        # ... and not at the same day: lifetimes is a day of exposure ahead
        assert daily.loc[d, "cumulative_expected"] < predicted - 0.1
    # customers' first days add nothing: on the first day of the log the curve is 0 (lifetimes: 0.14)
    assert daily["cumulative_expected"].iloc[0] == 0.0


def test_curve_is_the_sum_of_the_closed_form_at_each_customers_age(daily, cdnow_transactions):
    p = CDNOW_BGNBD_PUBLISHED
    first = cdnow_transactions.groupby("customer_id")["date"].min()
    for day in ["1997-01-15", "1997-03-31", CAL_END, "1998-01-31", OBS_END]:
        age_days = (pd.Timestamp(day) - first).dt.days.to_numpy()
        age_days = age_days[age_days >= 0]
        brute = expected_purchases_closed_form(p["r"], p["alpha"], p["a"], p["b"], age_days / 7.0).sum()
        assert daily.loc[pd.Timestamp(day), "cumulative_expected"] == pytest.approx(brute, rel=1e-10)


def test_curve_at_the_ends_is_the_models_total_over_the_summarys_T(cdnow_transactions):
    """At the observation end the curve is sum_c E[X(T_c)] with the summary's T (weeks), and the actual
    curve the summary's total frequency; at the calibration end, the same for the calibration summary."""
    p = CDNOW_BGNBD_PUBLISHED
    model = fixed_model(p)   # weeks
    d = P.tracking_data(model, cdnow_transactions, calibration_end=CAL_END, observation_end=OBS_END)
    whole = summarize(cdnow_transactions, observation_end=OBS_END, time_unit="W")
    total = expected_purchases_closed_form(p["r"], p["alpha"], p["a"], p["b"], whole["T"].to_numpy()).sum()
    assert d["cumulative_expected"].iloc[-1] == pytest.approx(total, rel=1e-10)
    assert total == pytest.approx(4166.3727, abs=1e-3)   # = lifetimes' value at 1998-06-29, not at 06-30
    assert d["cumulative_actual"].iloc[-1] == whole["frequency"].sum() == 4339
    cal = summarize(cdnow_transactions, observation_end=OBS_END, calibration_end=CAL_END, time_unit="W")
    at_cal = d.loc[d["period_end"] == pd.Timestamp(CAL_END)].iloc[0]
    cal_total = expected_purchases_closed_form(p["r"], p["alpha"], p["a"], p["b"], cal["T"].to_numpy()).sum()
    assert at_cal["cumulative_expected"] == pytest.approx(cal_total, rel=1e-10)
    assert at_cal["cumulative_actual"] == cal["frequency"].sum() == 2457
    assert cal["frequency"].sum() + cal["frequency_holdout"].sum() == 4339


def test_ends_in_every_form_give_the_same_curve(cdnow_transactions):
    model = fixed_model(CDNOW_BGNBD_PUBLISHED)
    ref = P.tracking_data(model, cdnow_transactions, calibration_end=CAL_END, observation_end=OBS_END)
    for cal, obs, fmt in [(pd.Period("1997Q3"), pd.Period("1998-06", "M"), None),
                          (dt.date(1997, 9, 30), np.datetime64("1998-06-30T10:00"), None),
                          ("19970930", 19980630, "%Y%m%d")]:
        got = P.tracking_data(model, cdnow_transactions, calibration_end=cal, observation_end=obs, date_format=fmt)
        pd.testing.assert_frame_equal(got, ref)
        assert got.attrs["clvmodels"]["calibration_end"] == CAL_END
    # the log's text dates in date_format are read by the summary's rule (day first here, which
    # pd.to_datetime's guess would read month first)
    text = cdnow_transactions.assign(date=cdnow_transactions["date"].dt.strftime("%d/%m/%Y"))
    got = P.tracking_data(model, text, calibration_end="30/09/1997", observation_end="30/06/1998",
                          date_format="%d/%m/%Y")
    pd.testing.assert_frame_equal(got, ref)
    with pytest.raises(InputError, match=r"calibration_end '1997-13-01' is not a date.*pandas\.Period"):
        P.tracking_data(model, cdnow_transactions, calibration_end="1997-13-01")
    with pytest.raises(InputError, match="an integer needs date_format"):
        P.tracking_data(model, cdnow_transactions, calibration_end=19970930)
