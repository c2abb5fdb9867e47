"""``clv forecast --calibration-end DATE``: the forecast table stays the forecast from all the data, and a
second fit of the same model on the calibration period is validated on the holdout, as ``clv validate``
does: its numbers go in the sidecar (``validation``) and the report's validation section. Bad options
exit 2 before any work; a failure after the work writes nothing."""
from __future__ import annotations

import contextlib
import io
import json
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from clvmodels.cli import main
from clvmodels.datasets import cdnow_sample_path
from clvmodels.report import SECTIONS

from .test_report import N_FIGURES_WITH_HOLDOUT, parse

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OBS, CAL = "1998-06-30", "1997-09-30"


def _forecast(d, *extra):
    # MAP fits: the test is about what the run does with them, not about sampling
    return ["forecast", str(cdnow_sample_path()), "--observation-end", OBS, "--horizon", "52", "--discount-rate",
            "0.1", "--method", "map", "--seed", "1", "-o", str(d / "f.parquet"), *extra]


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("calibration_end")
    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err):
        rc = main(_forecast(d, "--calibration-end", CAL, "--report", str(d / "r.html")))
    seconds = time.perf_counter() - t0
    assert rc == 0, err.getvalue()
    # the same validation by clv validate, for comparison
    rc = main(["validate", str(cdnow_sample_path()), "--observation-end", OBS, "--calibration-end", CAL,
               "--method", "map", "--seed", "1", "--json", str(d / "v.json"), "--quiet"])
    assert rc == 0
    return d, err.getvalue(), seconds


def test_sidecar_records_the_validation_clv_validate_gives(run):
    d, _, _ = run
    meta = json.loads((d / "f.parquet.meta.json").read_text())
    v, ref = meta["validation"], json.loads((d / "v.json").read_text())
    assert v["calibration_end"] == CAL and v["model"] == "bgnbd" and v["n_customers"] == 2357
    assert v["holdout_actual_total"] == 1882                    # CDNOW's published holdout total (FHL 2005)
    assert v["holdout_length"] == 39 and v["time_unit"] == "W"
    for k in ("holdout_predicted_total", "mae", "rmse", "interval_coverage", "interval_expected_coverage",
              "holdout_log_score", "pit_chi2_pvalue", "spend_holdout_actual_total", "spend_holdout_predicted_total",
              "spend_mae"):
        assert v[k] == ref[k], k
    assert meta["timings_seconds"]["validation"] > 0
    # the Parquet file's own metadata carries it too
    schema = json.loads(pq.read_schema(d / "f.parquet").metadata[b"clvmodels"])
    assert schema["validation"]["holdout_predicted_total"] == v["holdout_predicted_total"]


def test_the_forecast_is_still_the_full_data_forecast(run):
    """The table scores every customer on all 78 weeks (4,339 repeat purchases), not on the 39-week
    calibration period (2,457), and its parameters are the full-data fit's."""
    from clvmodels import summarize

    d, _, _ = run
    table = pd.read_parquet(d / "f.parquet")
    full = summarize(str(cdnow_sample_path()), observation_end=OBS, time_unit="W")
    assert len(table) == 2357 and table["frequency"].sum() == full["frequency"].sum() == 4339
    meta = json.loads((d / "f.parquet.meta.json").read_text())
    assert meta["summary"]["calibration_end"] is None
    assert meta["models"]["bgnbd"]["params"]["r"]["mean"] != meta["validation"]["params"]["r"]["mean"]


def test_the_report_shows_the_holdout_validation(run):
    d, _, _ = run
    html = (d / "r.html").read_text(encoding="utf-8")
    doc = parse(html)
    assert doc.h2 == list(SECTIONS)
    assert len(doc.imgs) == N_FIGURES_WITH_HOLDOUT                 # conditional expectations, PIT, tracking
    assert "Figure not drawn" not in html and "could not be produced" not in html
    v = json.loads((d / "f.parquet.meta.json").read_text())["validation"]
    val = next(dict(r for r in t if len(r) == 2) for t in doc.tables
               if any(r and r[0] == "actual holdout purchases" for r in t))
    assert val["actual holdout purchases"] == "1,882" and val["holdout length"] == "39 weeks"
    assert val["predicted holdout purchases"] == f"{v['holdout_predicted_total']:,.0f}"   # the sidecar's numbers
    assert val["per-customer MAE"] == f"{v['mae']:.4g}"
    assert "from a second fit of the same model, on the calibration period only" in html
    data = dict(row for row in doc.tables[0] if len(row) == 2)
    assert data["repeat purchases (frequency total)"] == "4,339"   # the data section: the full data


def test_stderr_and_help_say_it_costs_a_second_fit(run, capsys):
    _, err, _ = run
    assert f"fitting BG/NBD a second time, on 2,357 customers up to {CAL}" in err
    with pytest.raises(SystemExit):
        main(["forecast", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--calibration-end DATE" in out and "Costs a second fit" in out


CASES = {
    "after the observation end": (["--calibration-end", "1998-07-01"],
                                  ["--calibration-end 1998-07-01 must be before --observation-end 1998-06-30"]),
    "on the observation end": (["--calibration-end", OBS], [f"--calibration-end {OBS} must be before"]),
    "not a date": (["--calibration-end", "1997-13-45"], ["--calibration-end '1997-13-45' is not a date"]),
    "with --no-fit": (["--calibration-end", CAL, "--no-fit", "--model-dir", "{d}"],
                      ["--calibration-end fits the model a second time", "--no-fit runs without fitting"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_calibration_end_exits_2_before_work(case, tmp_path, capsys):
    (tmp_path / "f.parquet").write_bytes(b"an earlier forecast")
    before = snapshot(tmp_path)
    extra, words = CASES[case]
    t0 = time.perf_counter()
    rc = main(_forecast(tmp_path, *[a.replace("{d}", str(tmp_path)) for a in extra]))
    err = capsys.readouterr().err
    assert rc == 2, err
    for w in words:
        assert w in err, (w, err)
    assert "Traceback" not in err and snapshot(tmp_path) == before
    assert time.perf_counter() - t0 < 10


def test_every_problem_at_once(tmp_path, capsys):
    rc = main(_forecast(tmp_path, "--calibration-end", "1999-01-01", "--interval", "2", "--no-fit"))
    err = capsys.readouterr().err
    assert rc == 2 and "--calibration-end 1999-01-01 must be before" in err and "--interval 2" in err, err
    assert "--no-fit runs without fitting" in err


def test_a_failed_report_writes_nothing(tmp_path, monkeypatch):
    """The validation's outputs are staged with the rest: the report failing after both fits leaves the
    earlier table, sidecar and report as they were."""
    import clvmodels.report.render as render

    for name in ("f.parquet", "f.parquet.meta.json", "r.html"):
        (tmp_path / name).write_text(f"earlier {name}")
    before = snapshot(tmp_path)

    def broken(*a, **k):
        raise RuntimeError("the report could not be rendered")

    monkeypatch.setattr(render, "render_report", broken)
    with pytest.raises(RuntimeError, match="could not be rendered"):
        main(_forecast(tmp_path, "--calibration-end", CAL, "--report", str(tmp_path / "r.html"), "--quiet"))
    assert snapshot(tmp_path) == before
