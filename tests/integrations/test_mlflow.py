"""Logging a forecast run to MLflow (the optional extra clvmodels[mlflow]): a real MLflow with its local
SQLite store in tmp_path, read back after logging: parameters, metrics equal to the run's metadata,
artifacts, and model files that reload and predict the same numbers. The checks made before the work
(MLflow missing, a bad tracking URI) and the outputs kept when only the logging fails."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.datasets import cdnow_sample_path
from clvmodels.integrations.mlflow import (INSTALL_HINT, forecast_metrics, forecast_params, log_forecast,
                                           mlflow_installed)

ROOT = Path(__file__).resolve().parents[2]
needs_mlflow = pytest.mark.skipif(not mlflow_installed(),
                                  reason=f"MLflow is not installed (the optional extra): {INSTALL_HINT}")
ARGS = [str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--time-unit", "W", "--horizon", "52",
        "--method", "map", "--seed", "5", "--discount-rate", "0.1", "--max-draws", "200", "--quiet"]


def _uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="module")
def nuts_result():
    """A small NUTS forecast (2 chains x 150 draws): R-hat and ESS are defined, unlike after MAP."""
    from clvmodels import forecast

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return forecast(str(cdnow_sample_path()), observation_end="1998-06-30", time_unit="W", horizon="52W",
                        discount_rate=0.1, chains=2, draws=150, tune=150, seed=5, max_draws=100, progress=False)


def _run(uri, run_id):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)


def _download(uri, run_id, path, dst):
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst),
                                                    tracking_uri=uri))


# ------------------------------------------------------------------------------------------- no MLflow needed

def test_import_clvmodels_does_not_import_mlflow():
    code = ("import sys, clvmodels, clvmodels.integrations.mlflow\n"
            "f = clvmodels.log_to_mlflow\n"
            "from clvmodels.cli import build_parser; build_parser()\n"
            "print('mlflow' in sys.modules, f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "clvmodels.integrations.mlflow"]


def test_mlflow_without_the_extra_exits_2_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails, as when it is not installed
    with pytest.raises(ImportError, match=r"clvmodels\[mlflow\]"):
        importlib.import_module("clvmodels.integrations.mlflow")._import_mlflow()
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "f.parquet"), "--mlflow"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--mlflow: MLflow is not installed" in err and 'pip install "clvmodels[mlflow]"' in err
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_mlflow_options_without_mlflow_are_refused(tmp_path, capsys):
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "f.parquet"), "--mlflow-uri", _uri(tmp_path),
               "--mlflow-experiment", "x"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--mlflow-uri is used only with --mlflow" in err and "--mlflow-experiment is used only with --mlflow" in err
    assert list(tmp_path.iterdir()) == []


def test_metrics_and_params_come_from_the_metadata_and_include_a_validation():
    meta = {"n_customers": 10, "settings": {"horizon": "52W", "discount_rate": 0.1, "seed": None},
            "purchase_model": "bgnbd", "summary": {"observation_end": "1998-06-30", "n_customers": 10},
            "versions": {"numpy": "2.0"},
            "segments": {"all": {"customers": 10, "clv_total": 100.5, "clv_total_lower": 90.0,
                                 "clv_total_upper": 111.0, "historical_clv_total": 70.0},
                         "at risk": {"customers": 3, "clv_total": 7.5}},
            "new_customer": {"clv": 5.0, "clv_lower": 4.0, "margin": 0.3, "expected_purchases": 1.5},
            "models": {"bgnbd": {"diagnostics": {"r_hat": {"r": 1.002, "alpha": 1.013, "a": None},
                                                 "ess_bulk": {"r": 480.0, "alpha": 350.5},
                                                 "ess_tail": {"r": 210.0, "alpha": 199.0},
                                                 "divergences": 3, "seconds": 4.5, "ok": False}},
                       "gamma_gamma": {"diagnostics": {"r_hat": {}, "ess_bulk": {}, "ess_tail": {},
                                                       "divergences": 0, "seconds": 0.3, "ok": True}}},
            "validation": {"calibration_end": "1997-09-30", "mae": 0.784, "rmse": 1.608,
                           "interval_coverage": 0.947, "pit_histogram": [0.1] * 10,
                           "spend": {"mae": 12.5}, "pit_chi2_pvalue": float("nan")}}
    table = pd.DataFrame({"expected_purchases": [0.25, 1.5, 2.0]})
    m = forecast_metrics(meta, table)
    assert m["n_customers"] == 10
    assert (m["total.clv"], m["total.clv_lower"], m["total.clv_upper"], m["total.historical_clv"]) == (100.5, 90, 111, 70)
    assert m["total.expected_purchases"] == 3.75
    assert m["segment.at_risk.customers"] == 3 and m["segment.at_risk.clv_total"] == 7.5
    assert m["new_customer.clv"] == 5.0 and m["new_customer.expected_purchases"] == 1.5
    assert "new_customer.margin" not in m  # a setting, not her value
    assert m["bgnbd.r_hat_max"] == 1.013 and m["bgnbd.ess_bulk_min"] == 350.5 and m["bgnbd.ess_tail_min"] == 199.0
    assert m["bgnbd.divergences"] == 3 and m["bgnbd.diagnostics_ok"] == 0 and m["gamma_gamma.diagnostics_ok"] == 1
    assert "gamma_gamma.r_hat_max" not in m  # MAP: undefined, left out rather than NaN
    assert (m["validation.mae"], m["validation.rmse"], m["validation.interval_coverage"]) == (0.784, 1.608, 0.947)
    assert m["validation.spend.mae"] == 12.5
    assert "validation.pit_chi2_pvalue" not in m and not any(k.startswith("validation.pit_histogram") for k in m)
    assert all(np.isfinite(v) for v in m.values())
    p = forecast_params(meta)
    assert p["horizon"] == "52W" and p["discount_rate"] == "0.1" and p["seed"] == "null"
    assert p["summary.observation_end"] == "1998-06-30" and p["validation.calibration_end"] == "1997-09-30"
    assert p["versions.numpy"] == "2.0" and p["purchase_model"] == "bgnbd"
    # without a validation: no validation metrics, nothing else changes
    del meta["validation"]
    m2 = forecast_metrics(meta, table)
    assert {k: v for k, v in m.items() if not k.startswith("validation.")} == m2


# ------------------------------------------------------------------------------------------- with MLflow

@needs_mlflow
def test_python_run_is_logged_and_its_models_reload(nuts_result, tmp_path, monkeypatch):
    from clvmodels.models.base import BayesianModel
    from clvmodels.pipeline import ForecastResult

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root, ./mlruns, lands here
    res = nuts_result
    meta = dict(res.metadata, validation={"calibration_end": "1997-09-30", "mae": 0.78, "interval_coverage": 0.95,
                                          "holdout_actual_total": 1882})
    res = ForecastResult(res.table, res.summary, res.purchase_model, res.spend_model, metadata=meta)
    uri = _uri(tmp_path)
    run_id = log_forecast(res, tracking_uri=uri, experiment="cdnow", run_name="nightly")
    run = _run(uri, run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "nightly"
    p, m = run.data.params, run.data.metrics
    assert p["horizon"] == "52W" and p["method"] == "nuts" and p["seed"] == "5" and p["discount_rate"] == "0.1"
    assert p["validation.calibration_end"] == "1997-09-30"
    d = meta["models"]["bgnbd"]["diagnostics"]
    assert m["bgnbd.r_hat_max"] == max(d["r_hat"].values()) > 1
    assert m["bgnbd.ess_bulk_min"] == min(d["ess_bulk"].values()) > 0
    assert m["gamma_gamma.ess_tail_min"] == min(meta["models"]["gamma_gamma"]["diagnostics"]["ess_tail"].values())
    assert m["bgnbd.divergences"] == d["divergences"]
    assert m["n_customers"] == 2357 == len(res.table)
    assert m["total.clv"] == pytest.approx(res.table["clv"].sum(), rel=1e-9)
    assert m["total.clv"] == meta["segments"]["all"]["clv_total"]
    assert m["total.expected_purchases"] == pytest.approx(res.table["expected_purchases"].sum(), rel=1e-12)
    assert m["new_customer.clv"] == meta["new_customer"]["clv"]
    assert (m["validation.mae"], m["validation.interval_coverage"], m["validation.holdout_actual_total"]) == (0.78, 0.95, 1882)
    # the artifacts: the models (saved from the result) and the metadata as the sidecar
    side = json.loads((_download(uri, run_id, "forecast/forecast.meta.json", tmp_path / "dl")).read_text())
    assert side == json.loads(json.dumps(meta))
    models = _download(uri, run_id, "models", tmp_path / "dl")
    assert sorted(f.name for f in models.iterdir()) == ["bgnbd.clvm", "gamma_gamma.clvm"]
    bg, gg = BayesianModel.load(models / "bgnbd.clvm"), BayesianModel.load(models / "gamma_gamma.clvm")
    summary = res.summary.head(200)
    pd.testing.assert_frame_equal(bg.predict(summary, "52W"), res.purchase_model.predict(summary, "52W"))
    pd.testing.assert_frame_equal(gg.expected_spend(summary), res.spend_model.expected_spend(summary))


@needs_mlflow
def test_cli_logs_after_the_outputs_and_relogs_from_the_files(tmp_path, monkeypatch, capsys):
    from clvmodels.models.base import BayesianModel
    from clvmodels.scoring import score

    monkeypatch.chdir(tmp_path)
    uri = _uri(tmp_path)
    out = tmp_path / "f.parquet"
    rc = main(["forecast", *ARGS, "-o", str(out), "--model-dir", str(tmp_path / "models"),
               "--report", str(tmp_path / "r.html"), "--mlflow", "--mlflow-uri", uri, "--mlflow-experiment", "cli"])
    assert rc == 0, capsys.readouterr().err
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("cli")
    (run,) = client.search_runs([exp.experiment_id])
    side = json.loads((tmp_path / "f.parquet.meta.json").read_text())
    m = run.data.metrics
    assert m["timing.write"] == side["timings_seconds"]["write"] and m["timing.fit"] == side["timings_seconds"]["fit"]
    assert m["n_customers"] == side["n_customers"] and m["total.clv"] == side["segments"]["all"]["clv_total"]
    assert not any(k.startswith("validation.") for k in m)  # no --calibration-end: no holdout metrics
    assert "bgnbd.r_hat_max" not in m and m["bgnbd.diagnostics_ok"] == 1  # MAP: no R-hat to log
    got = {}
    for art, local in (("forecast/f.parquet.meta.json", out.parent / "f.parquet.meta.json"),
                       ("report/r.html", tmp_path / "r.html"),
                       ("models/bgnbd.clvm", tmp_path / "models" / "bgnbd.clvm"),
                       ("models/gamma_gamma.clvm", tmp_path / "models" / "gamma_gamma.clvm")):
        got[art] = _download(uri, run.info.run_id, art, tmp_path / "dl" / art.split("/")[0])
        assert got[art].read_bytes() == local.read_bytes(), art
    bg = BayesianModel.load(got["models/bgnbd.clvm"])
    gg = BayesianModel.load(got["models/gamma_gamma.clvm"])
    # the reloaded models score the table's customers as the run did (same draws, same thinning)
    table = pd.read_parquet(out).set_index("customer_id")
    rescored = score(table[["frequency", "recency", "T", "monetary_value"]], bg, gg, "52W", discount_rate=0.1,
                     max_draws=200).set_index("customer_id")
    for col in ("p_alive", "expected_purchases", "purchases_upper", "clv", "clv_lower"):
        np.testing.assert_allclose(rescored[col].to_numpy(), table[col].to_numpy(), rtol=1e-9, err_msg=col)
    # the same run logged again from its files (what to do after exit 3): the same numbers
    again = log_forecast(out, model_dir=tmp_path / "models", report=tmp_path / "r.html", tracking_uri=uri,
                         experiment="cli")
    assert _run(uri, again).data.metrics == m
    assert _run(uri, again).data.params == run.data.params


@needs_mlflow
def test_bad_tracking_uri_exits_2_before_the_work(tmp_path, capsys):
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "f.parquet"), "--mlflow", "--mlflow-uri", "nosuch://x"])
    err = capsys.readouterr().err
    assert rc == 2 and "--mlflow: the MLflow tracking URI 'nosuch://x' cannot be used" in err
    rc = main(["forecast", *ARGS, "-o", str(tmp_path / "f.parquet"), "--mlflow", "--mlflow-experiment", " "])
    assert rc == 2 and "experiment name is empty" in capsys.readouterr().err
    assert not (tmp_path / "f.parquet").exists()


@needs_mlflow
def test_a_deleted_experiment_is_refused_before_the_work(tmp_path, monkeypatch):
    import mlflow

    from clvmodels.integrations.mlflow import check_mlflow

    monkeypatch.chdir(tmp_path)
    uri = _uri(tmp_path)
    client = mlflow.MlflowClient(tracking_uri=uri)
    assert check_mlflow(uri, "old") == []  # missing: created when the run is logged
    client.delete_experiment(client.create_experiment("old"))
    (problem,) = check_mlflow(uri, "old")
    assert "experiment 'old' is deleted" in problem
    assert main(["forecast", *ARGS, "-o", str(tmp_path / "f.parquet"), "--mlflow", "--mlflow-uri", uri,
                 "--mlflow-experiment", "old"]) == 2
    assert not (tmp_path / "f.parquet").exists()


@needs_mlflow
def test_failed_logging_keeps_the_outputs_and_exits_3(tmp_path, monkeypatch, capsys):
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = _uri(tmp_path)

    def full_disk(self, run_id, local_path, artifact_path=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mlflow.MlflowClient, "log_artifact", full_disk)
    out = tmp_path / "f.parquet"
    rc = main(["forecast", *ARGS, "-o", str(out), "--mlflow", "--mlflow-uri", uri])
    err = capsys.readouterr().err
    assert rc == 3
    assert "logging to MLflow" in err and "No space left on device" in err and "outputs are written and kept" in err
    t = pd.read_parquet(out)
    assert len(t) == 2357 and (tmp_path / "f.parquet.meta.json").is_file()
    client = mlflow.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("clvmodels").experiment_id])
    assert run.info.status == "FAILED"
