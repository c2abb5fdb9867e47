"""Property-based checks of summarize() on random logs: the BTYD invariants, independence from row
order, both engines equal, and agreement with a slow, obviously-correct reference implementation."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clvmodels.data import ExcludedCustomersWarning, summarize
from clvmodels.errors import InputError
from clvmodels.units import DAYS_PER_UNIT

START = pd.Timestamp("2023-01-01")
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw, negatives: bool = False, string_ids: bool = False, zeros: bool = False):
    n = draw(st.integers(1, 40))
    ids = st.sampled_from(["a", "b", "c", "d", "e"]) if string_ids else st.integers(0, 6)
    cents = st.integers(-5000 if negatives else 0, 50000)
    if zeros:  # purchases worth 0 often, not once in 50,000
        cents = st.one_of(st.just(0), cents)
    rows = draw(st.lists(st.tuples(ids, st.integers(0, 400), cents), min_size=n, max_size=n))
    df = pd.DataFrame(rows, columns=["customer_id", "day", "cents"])
    df["date"] = START + pd.to_timedelta(df["day"], unit="D")
    df["amount"] = df["cents"] / 100
    end_day = int(df["day"].max()) + draw(st.integers(0, 30))
    return df[["customer_id", "date", "amount"]], START + pd.Timedelta(days=end_day)


def quiet_summarize(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedCustomersWarning)
        return summarize(*args, **kw)


def reference(df: pd.DataFrame, end: pd.Timestamp, unit: str) -> pd.DataFrame:
    """The definitions, one customer at a time in plain pandas (continuous time, no split)."""
    out = {}
    for cid, g in df.groupby("customer_id"):
        days = g.groupby(g["date"].dt.normalize())["amount"].sum().sort_index()
        first, last = days.index[0], days.index[-1]
        x = len(days) - 1
        scale = DAYS_PER_UNIT[unit]
        out[cid] = {"frequency": x, "recency": (last - first).days / scale, "T": (end - first).days / scale,
                    "monetary_value": days.iloc[1:].mean() if x else 0.0, "historical_clv": g["amount"].sum(),
                    "n_transactions": len(g), "time_since_last_purchase": (end - last).days / scale}
    return pd.DataFrame.from_dict(out, orient="index")


@SETTINGS
@given(data=logs(zeros=True), unit=st.sampled_from(["D", "W", "M"]), zero_policy=st.sampled_from(["keep", "drop"]))
def test_matches_reference_and_invariants(data, unit, zero_policy):
    df, end = data
    try:
        s = summarize(df, observation_end=end, time_unit=unit, zero_amounts=zero_policy)
    except InputError:  # every row worth 0, and dropped
        assert zero_policy == "drop" and (df["amount"] == 0).all()
        return
    assert s.attrs["clvmodels"]["n_zero_amounts"] == int((df["amount"] == 0).sum())
    assert s.attrs["clvmodels"]["n_zero_spend_repeat"] == int(((s["frequency"] > 0) & (s["monetary_value"] <= 0)).sum())
    if zero_policy == "drop":
        df = df[df["amount"] != 0]
    ref = reference(df, end, unit)
    assert list(s.index) == sorted(ref.index)
    for col in ref.columns:
        assert np.allclose(s[col].to_numpy(float), ref.loc[s.index, col].to_numpy(float), rtol=1e-12, atol=1e-9), col
    assert (s["recency"] <= s["T"]).all() and (s["recency"] >= 0).all()
    assert (s["frequency"] < s["n_transactions"]).all()
    assert (s.loc[s["frequency"] == 0, ["recency", "monetary_value"]] == 0).all().all()
    assert int(s["n_transactions"].sum()) == len(df)
    assert s["historical_clv"].sum() == pytest.approx(df["amount"].sum(), abs=1e-6)


@SETTINGS
@given(data=logs(string_ids=True), seed=st.integers(0, 2**32 - 1),
       mode=st.sampled_from(["continuous", "periods"]), unit=st.sampled_from(["D", "W", "M"]))
def test_row_order_does_not_matter(data, seed, mode, unit):
    df, end = data
    shuffled = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    a = summarize(df, observation_end=end, time_unit=unit, time_mode=mode)
    b = summarize(shuffled, observation_end=end, time_unit=unit, time_mode=mode)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@SETTINGS
@given(data=logs(negatives=True, zeros=True), mode=st.sampled_from(["continuous", "periods"]),
       unit=st.sampled_from(["D", "W", "M"]), policy=st.sampled_from(["drop", "net"]),
       zero_policy=st.sampled_from(["keep", "drop"]), split=st.integers(0, 300))
def test_both_engines_are_equal(data, mode, unit, policy, zero_policy, split):
    df, end = data
    kw = dict(observation_end=end, time_unit=unit, time_mode=mode, negative_amounts=policy, zero_amounts=zero_policy)
    cal = START + pd.Timedelta(days=split)
    if cal < end and (df["date"] <= cal).any():
        kw["calibration_end"] = cal
    try:
        a = quiet_summarize(df, engine="pandas", **kw)
    except Exception as exc:  # e.g. every row dropped: both engines must refuse alike
        with pytest.raises(type(exc)) as info:
            quiet_summarize(df, engine="duckdb", **kw)
        assert str(info.value) == str(exc)
        return
    b = quiet_summarize(df, engine="duckdb", **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    a_meta, b_meta = dict(a.attrs["clvmodels"]), dict(b.attrs["clvmodels"])
    assert a_meta.pop("engine") == "pandas" and b_meta.pop("engine") == "duckdb"
    assert a_meta.pop("engine_reason") == "engine='pandas' requested"
    assert b_meta.pop("engine_reason") == "engine='duckdb' requested"
    assert a_meta == b_meta


@SETTINGS
@given(data=logs(), split=st.integers(0, 400), mode=st.sampled_from(["continuous", "periods"]),
       unit=st.sampled_from(["D", "W", "M"]))
def test_calibration_split_invariants(data, split, mode, unit):
    df, end = data
    cal = START + pd.Timedelta(days=split)
    if not (cal < end and (df["date"] <= cal).any()):
        return
    s = quiet_summarize(df, observation_end=end, calibration_end=cal, time_unit=unit, time_mode=mode)
    full = summarize(df, observation_end=end, time_unit=unit, time_mode=mode)
    in_cal = df[df["date"] <= cal]
    # exactly the customers with a calibration purchase; the rest are counted, never silently lost
    assert set(s.index) == set(in_cal["customer_id"])
    assert s.attrs["clvmodels"]["excluded_new_in_holdout"] == len(set(df["customer_id"]) - set(s.index))
    assert (s["recency"] <= s["T"]).all() and (s["frequency"] < s["n_transactions"]).all()
    assert (s["first_purchase"] <= cal).all() and (s["last_purchase"] <= cal).all()
    assert int(s["n_transactions"].sum()) == len(in_cal)
    assert (s["frequency_holdout"] >= 0).all() and s["duration_holdout"].nunique() == 1
    # calibration + holdout spend is all the spend of these customers
    mine = df[df["customer_id"].isin(s.index)]
    assert (s["historical_clv"] + s["spend_holdout"]).sum() == pytest.approx(mine["amount"].sum(), abs=1e-6)
    if mode == "continuous":
        # continuous time: the occasions of the split add up to the occasions of the whole log
        total = full.loc[s.index, "frequency"] + 1
        assert ((s["frequency"] + 1 + s["frequency_holdout"]) == total).all()
    else:
        assert np.array_equal(s["T"], np.round(s["T"])) and np.array_equal(s["recency"], np.round(s["recency"]))
