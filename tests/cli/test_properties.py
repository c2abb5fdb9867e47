"""Property-based: broken logs and odd option values never crash ``clv`` (exit 1 with a traceback) and
never touch an existing output unless the run succeeds; a run that succeeds writes no NaN or inf."""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.cli import main

from ..live_logs import earlier_run

pytestmark = pytest.mark.xdist_group("cli_hostile")

GOOD_IDS = ["1", "2", "3", "17", "007"]
BAD_IDS = ["", " "]
GOOD_DATES = ["1998-01-05", "1998-03-01", "1998-06-30", "1998-06-29 10:00:00", "1998-06-29T23:59:59Z",
              "1997-12-31"]
BAD_DATES = ["0001-01-01", "1600-02-03", "2263-01-01", "1998-13-01", "1998-02-30", "", "19980105", "1999-01-01"]
GOOD_AMOUNTS = ["10", "0", "0.00", "12.345", "3", "1e6"]
BAD_AMOUNTS = ["-5", "1e300", "1e308", "-1e308", "abc", "", "nan", "inf", "$5"]

def _mostly(good: list[str], bad: list[str]):
    """Good values four times as often as bad ones: a log with one bad field is already a bad log."""
    return st.one_of(*([st.sampled_from(good)] * 4), st.sampled_from(bad))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return earlier_run(tmp_path_factory.mktemp("models"), n_customers=400) / "models"


good_row = st.tuples(st.sampled_from(GOOD_IDS), st.sampled_from(GOOD_DATES), st.sampled_from(GOOD_AMOUNTS))
any_row = st.tuples(_mostly(GOOD_IDS, BAD_IDS), _mostly(GOOD_DATES, BAD_DATES), _mostly(GOOD_AMOUNTS, BAD_AMOUNTS))
# good rows with none, one or two rows that may be broken (any broken field makes a broken log)
rows = st.tuples(st.lists(good_row, min_size=0, max_size=10), st.lists(any_row, max_size=2)).map(
    lambda t: t[0] + t[1])
random_options = st.fixed_dictionaries({
    "--horizon": _mostly(["52", "52W", "0.5", "13"], ["0", "-1", "abc", "365D", "1e9", "nan"]),
    "--observation-end": _mostly(["1998-06-30", "1998-07-15"], ["1998-01-01", "2263-01-01", "June", "1998-06-31"]),
    "--time-unit": _mostly(["W"], ["D", "M"]),
    "--discount-rate": _mostly(["0", "0.1", "1e308"], ["-0.5", "nan"]),
    "--margin": _mostly(["1", "0.3", "2"], ["0", "-1"]),
    "--interval": _mostly(["0.9", "0.5", "0.999"], ["1", "0", "1.5"]),
    "--max-draws": _mostly(["0", "20"], ["-3"]),
    "--engine": st.sampled_from(["pandas", "duckdb"]),
    "--negative-amounts": st.sampled_from(["error", "drop", "net"]),
    "--zero-amounts": st.sampled_from(["keep", "drop"]),
})
options = st.one_of(st.just({"--horizon": "52", "--observation-end": "1998-06-30"}), random_options)


def test_clv_exits_0_or_2_and_keeps_outputs_unless_it_succeeds(models):
    outcomes: dict[int, int] = {}

    @settings(max_examples=80, deadline=None)
    @given(rows=rows, opts=options, output_kind=st.sampled_from(["f.csv", "f.parquet"]))
    def run(rows, opts, output_kind):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            log = d / "log.csv"
            log.write_text("customer_id,date,amount\n" + "".join(f"{i},{t},{a}\n" for i, t, a in rows))
            out = d / output_kind
            out.write_bytes(b"an earlier run's table")
            before = {p.name: p.read_bytes() for p in d.iterdir()}
            argv = ["forecast", str(log), "-o", str(out), "--no-fit", "--model-dir", str(models), "--quiet"]
            for k, v in opts.items():
                argv += [k, v]
            try:
                rc = main(argv)
            except SystemExit as exc:  # argparse's own refusals exit 2 too
                rc = exc.code
            assert rc in (0, 2)
            outcomes[rc] = outcomes.get(rc, 0) + 1
            after = {p.name: p.read_bytes() for p in d.iterdir()}
            if rc != 0:
                assert after == before  # byte-identical, no debris
                return
            assert set(after) == {"log.csv", out.name, out.name + ".meta.json"}
            table = pd.read_csv(out) if out.suffix == ".csv" else pd.read_parquet(out)
            numeric = table.select_dtypes("number").to_numpy(float)
            assert np.isfinite(numeric).all()
            json.loads((d / (out.name + ".meta.json")).read_text(),
                       parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(c)))

    run()
    # both branches were exercised: runs that succeed and runs that are refused
    assert outcomes.get(0, 0) >= 3 and outcomes.get(2, 0) >= 3, outcomes


@settings(max_examples=60, deadline=None)
@given(rows=rows, engine=st.sampled_from(["pandas", "duckdb"]),
       negative=st.sampled_from(["error", "drop", "net"]), zero=st.sampled_from(["keep", "drop"]))
def test_summarize_exits_0_or_2_on_broken_logs(rows, engine, negative, zero):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = d / "log.csv"
        log.write_text("customer_id,date,amount\n" + "".join(f"{i},{t},{a}\n" for i, t, a in rows))
        out = d / "s.parquet"
        out.write_bytes(b"old")
        rc = main(["summarize", str(log), "--observation-end", "1998-06-30", "-o", str(out), "--quiet",
                   "--engine", engine, "--negative-amounts", negative, "--zero-amounts", zero])
        assert rc in (0, 2)
        if rc != 0:
            assert out.read_bytes() == b"old"
            assert sorted(p.name for p in d.iterdir()) == ["log.csv", "s.parquet"]
        else:
            s = pd.read_parquet(out)
            assert np.isfinite(s.select_dtypes("number").to_numpy(float)).all()
            assert math.isfinite(float(s["historical_clv"].sum()))

