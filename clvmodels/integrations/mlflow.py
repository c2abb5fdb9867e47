"""Log a forecast run to MLflow: its settings as parameters, its diagnostics, totals, new-customer value
and holdout metrics as metrics, and its model files, JSON sidecar and report as artifacts.

The optional extra ``clvmodels[mlflow]`` (``pip install "clvmodels[mlflow]"``) installs MLflow
(``mlflow-skinny`` with SQLAlchemy and Alembic, so that MLflow's default local store, ``sqlite:///mlflow.db``,
works; the full ``mlflow`` package does too). This module imports MLflow only when its functions run:
``import clvmodels`` never does.

- :func:`log_forecast` logs a :class:`clvmodels.ForecastResult` (or a forecast table written by
  ``clv forecast``, with its ``.meta.json`` sidecar) as one MLflow run and returns the run id.
  ``clv forecast --mlflow`` calls it once the run's outputs are in place.
- :func:`forecast_params` and :func:`forecast_metrics` are what it logs, from the run's metadata.
- :func:`check_mlflow` lists what stops logging (MLflow missing, a tracking URI MLflow cannot use, a
  deleted experiment), for the checks made before any work.

Where the run goes: the tracking URI is ``tracking_uri`` (``--mlflow-uri``), else the environment's
``MLFLOW_TRACKING_URI``, else MLflow's default (``sqlite:///mlflow.db`` in the working directory, its
artifacts under ``./mlruns``). The experiment is ``experiment`` (``--mlflow-experiment``), else
``MLFLOW_EXPERIMENT_NAME``, else ``"clvmodels"``; it is created when missing.

Artifacts of a run: ``models/`` (the model files, ``bgnbd.clvm`` etc. and ``gamma_gamma.clvm``:
``BayesianModel.load`` reads them back after ``mlflow.artifacts.download_artifacts``), ``forecast/`` (the
table's JSON sidecar ``<table>.meta.json``, or ``forecast.meta.json`` for a result that was not written;
the table itself with ``log_table=True``) and ``report/`` (the HTML report, when given).
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ClvError

#: the optional dependency group that installs MLflow
EXTRA = "clvmodels[mlflow]"
INSTALL_HINT = f'pip install "{EXTRA}"'
#: the experiment runs go to when neither ``experiment`` nor ``MLFLOW_EXPERIMENT_NAME`` names one
DEFAULT_EXPERIMENT = "clvmodels"

# MLflow's own limits (mlflow.utils.validation): parameter values, key lengths, entries per batch
_MAX_PARAM_VALUE = 6000
_MAX_KEY = 250
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


class MlflowLoggingError(ClvError, RuntimeError):
    """Logging a run to MLflow failed. ``run_id`` is the MLflow run left in state FAILED (None when no run
    was created). The forecast's own outputs are not affected."""

    def __init__(self, message: str, run_id: str | None = None):
        super().__init__(message)
        self.run_id = run_id


def mlflow_installed() -> bool:
    """Whether MLflow can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("mlflow") is not None
    except ValueError:  # in sys.modules without a spec (None: imports of it are blocked)
        import sys

        return sys.modules.get("mlflow") is not None


def _import_mlflow():
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError(f"logging to MLflow needs MLflow, the optional extra {EXTRA}: {INSTALL_HINT}") from exc
    return mlflow


def _experiment_name(experiment: str | None) -> str:
    return experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def check_mlflow(tracking_uri: str | None = None, experiment: str | None = None) -> list[str]:
    """What would stop :func:`log_forecast`, as sentences (empty when nothing does): MLflow not installed
    (naming the extra), a tracking URI MLflow cannot open (an unknown scheme, a database without SQLAlchemy,
    MLflow's file store without ``MLFLOW_ALLOW_FILE_STORE=true``, a folder that cannot be written, a server
    that does not answer), an empty experiment name or a deleted experiment.

    It opens the tracking store, as logging will: for a local SQLite URI that creates the database
    file (MLflow's tables, no run); for a server it asks for the experiment, with MLflow's retries."""
    if experiment is not None and not str(experiment).strip():
        return ["the experiment name is empty: give a name, e.g. --mlflow-experiment clv-nightly"]
    if not mlflow_installed():
        return [f"MLflow is not installed: install the optional extra with {INSTALL_HINT}"]
    mlflow = _import_mlflow()
    uri = tracking_uri or mlflow.get_tracking_uri()
    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(_experiment_name(experiment))
    except Exception as exc:  # any failure to open the store is the user's to fix before the run
        hint = ""
        if uri.startswith(("sqlite:", "postgresql", "mysql", "mssql")) and not importlib.util.find_spec("sqlalchemy"):
            hint = f" (a database store needs SQLAlchemy and Alembic: {INSTALL_HINT})"
        return [f"the MLflow tracking URI {uri!r} cannot be used{hint}: {_first_line(exc)}"]
    if found is not None and found.lifecycle_stage == "deleted":
        return [f"the MLflow experiment {found.name!r} is deleted: restore it (mlflow experiments restore) or "
                "choose another name"]
    return []


# ---------------------------------------------------------------------------------------------- what is logged

def _key(text: str) -> str:
    """An MLflow key: only the characters MLflow accepts (others become '_'), at most its length."""
    return _BAD_KEY_CHARS.sub("_", str(text))[:_MAX_KEY]


def _number(value) -> float | None:
    """A finite float, or None for anything else (None, text, booleans, NaN: not a metric)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _param_text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_PARAM_VALUE]


def _flatten_numbers(prefix: str, obj, out: dict[str, float]) -> None:
    """Every finite number in a nested dict, under dotted keys (lists are left out: not one number)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten_numbers(f"{prefix}.{k}" if prefix else str(k), v, out)
        return
    x = _number(obj)
    if x is not None:
        out[_key(prefix)] = x


def forecast_params(metadata: dict[str, Any]) -> dict[str, str]:
    """The run's settings as MLflow parameters (text; JSON for non-text values, ``null`` for None): every
    entry of ``settings`` (horizon, discount_rate, margin, method, draws, seed, ...), ``purchase_model``,
    ``time_unit``, ``currency``, ``created_by``, the summary's settings and counts as ``summary.<key>``
    (observation_end, engine, time_mode, ...), the validation's text entries as ``validation.<key>``
    (e.g. its calibration end) and the library versions as ``versions.<package>``."""
    out: dict[str, Any] = {}
    for k, v in (metadata.get("settings") or {}).items():
        out[k] = v
    for k in ("purchase_model", "time_unit", "currency", "created_by"):
        if k in metadata:
            out[k] = metadata[k]
    for k, v in (metadata.get("summary") or {}).items():
        if not isinstance(v, (dict, list)):
            out[f"summary.{k}"] = v
    for k, v in (metadata.get("validation") or {}).items():
        if isinstance(v, str):
            out[f"validation.{k}"] = v
    for k, v in (metadata.get("versions") or {}).items():
        out[f"versions.{k}"] = v
    return {_key(k): _param_text(v) for k, v in out.items()}


def forecast_metrics(metadata: dict[str, Any], table=None) -> dict[str, float]:
    """The run's numbers as MLflow metrics, each equal to its value in the metadata (finite numbers only:
    an R-hat that is null after a MAP fit is left out, not logged as NaN):

    - ``n_customers``;
    - totals over all customers (currency; purchases in the horizon): ``total.clv`` with
      ``total.clv_lower``/``_upper`` (the interval of the total from the joint draws, the ``segments``
      summary's ``all``), ``total.historical_clv``, and ``total.expected_purchases`` (the table's sum,
      when ``table`` is given);
    - per segment: ``segment.<name>.<key>`` (customers, clv_total with bounds, clv_mean, ...; spaces in
      names become '_');
    - the new customer's value: ``new_customer.<key>`` (expected_purchases, clv, clv_lower, clv_upper,
      max_acquisition_cost, ...);
    - per model (``bgnbd``, ``gamma_gamma``, ...): ``<model>.r_hat_max``, ``<model>.ess_bulk_min``,
      ``<model>.ess_tail_min`` (draws), ``<model>.divergences``, ``<model>.fit_seconds``,
      ``<model>.diagnostics_ok`` (1 or 0);
    - the holdout validation, when the metadata has one (``clv forecast --calibration-end``): every
      number under ``validation`` as ``validation.<key>`` (nested keys dotted);
    - ``timing.<stage>`` (seconds), when the metadata has ``timings_seconds`` (``clv forecast``'s).
    """
    out: dict[str, float] = {}

    def put(key: str, value) -> None:
        x = _number(value)
        if x is not None:
            out[_key(key)] = x

    put("n_customers", metadata.get("n_customers"))
    segments = metadata.get("segments") or {}
    everyone = segments.get("all") or {}
    for src, dst in (("clv_total", "clv"), ("clv_total_lower", "clv_lower"), ("clv_total_upper", "clv_upper"),
                     ("historical_clv_total", "historical_clv")):
        put(f"total.{dst}", everyone.get(src))
    for name, seg in segments.items():
        if name != "all" and isinstance(seg, dict):
            for k, v in seg.items():
                put(f"segment.{str(name).replace(' ', '_')}.{k}", v)
    if table is not None and "expected_purchases" in getattr(table, "columns", ()):
        put("total.expected_purchases", float(table["expected_purchases"].sum()))
    for k, v in (metadata.get("new_customer") or {}).items():
        if k.startswith(("expected_", "clv", "max_acquisition_cost")):  # her value, not the settings it used
            put(f"new_customer.{k}", v)
    for model, info in (metadata.get("models") or {}).items():
        d = (info or {}).get("diagnostics") or {}
        for src, dst, reduce in (("r_hat", "r_hat_max", max), ("ess_bulk", "ess_bulk_min", min),
                                 ("ess_tail", "ess_tail_min", min)):
            values = [x for x in map(_number, (d.get(src) or {}).values()) if x is not None]
            if values:
                put(f"{model}.{dst}", reduce(values))
        put(f"{model}.divergences", d.get("divergences"))
        put(f"{model}.fit_seconds", d.get("seconds"))
        if "ok" in d:
            put(f"{model}.diagnostics_ok", 1.0 if d["ok"] else 0.0)
    validation = metadata.get("validation")
    if isinstance(validation, dict):
        _flatten_numbers("validation", validation, out)
    for k, v in (metadata.get("timings_seconds") or {}).items():
        put(f"timing.{k}", v)
    return out


# ---------------------------------------------------------------------------------------------- logging

def _read_forecast(path: Path):
    """The metadata and the expected-purchases column of a forecast table written by ``clv forecast``."""
    import pandas as pd

    from ..io.atomic import metadata_path, read_table_metadata, table_format

    side = metadata_path(path)
    if side.is_file():
        metadata = json.loads(side.read_text(encoding="utf-8"))
    else:
        metadata = read_table_metadata(path)
    try:
        if table_format(path) == "parquet":
            table = pd.read_parquet(path, columns=["expected_purchases"])
        else:
            table = pd.read_csv(path, usecols=["expected_purchases"])
    except (KeyError, ValueError):  # a purchases-only or custom table: no total of expected purchases
        table = None
    return metadata, table


def _model_files(result, metadata: dict, model_dir, scratch: Path) -> list[Path]:
    """The model files to log: those the run wrote in ``model_dir`` (the purchase model's and
    gamma_gamma.clvm), else the result's models saved into ``scratch``."""
    from ..pipeline import GAMMA_GAMMA_FILE, PURCHASES_FILE, purchase_model_file

    if model_dir is not None:
        d = Path(model_dir)
        purchase = d / purchase_model_file(result.purchase_model) if result is not None else \
            d / purchase_model_file(str(metadata.get("purchase_model") or ""))
        if not purchase.is_file():
            purchase = d / PURCHASES_FILE
        files = [p for p in (purchase, d / GAMMA_GAMMA_FILE) if p.is_file()]
        if result is None or files:
            return files
    if result is None:
        return []
    files = []
    for model, name in ((result.purchase_model, purchase_model_file(result.purchase_model)),
                        (result.spend_model, GAMMA_GAMMA_FILE)):
        if model is not None and hasattr(model, "save"):
            model.save(scratch / name)
            files.append(scratch / name)
    return files


def log_forecast(result, *, output=None, model_dir=None, report=None, experiment: str | None = None,
                 tracking_uri: str | None = None, run_name: str | None = None, tags: dict[str, str] | None = None,
                 log_table: bool = False) -> str:
    """Log a forecast run to MLflow as one run; returns its run id.

    ``result``: a :class:`clvmodels.ForecastResult`, or the path of a forecast table written by ``clv
    forecast`` (its metadata is read from the ``.meta.json`` sidecar beside it; use this to log a run
    whose MLflow logging failed, without refitting). ``output``: the table's path, when the result was
    written (its sidecar, and with ``log_table=True`` the table, are logged). ``model_dir``: the folder
    the models were saved in (those files are logged; without it the result's models are saved to a
    temporary folder and logged; a table path without ``model_dir`` logs no models). ``report``: the HTML report's path. ``experiment``,
    ``tracking_uri``: where the run goes (see the module's docstring); ``run_name`` and ``tags`` as in
    MLflow.

    Parameters are :func:`forecast_params`, metrics :func:`forecast_metrics`, artifacts ``models/``,
    ``forecast/`` and ``report/``. A failure raises :class:`MlflowLoggingError` (the run, once created,
    is marked FAILED); nothing of the forecast's own outputs is touched.
    """
    mlflow = _import_mlflow()
    from mlflow.entities import Metric, Param, RunTag

    from .. import __version__
    from ..io.atomic import dumps, metadata_path

    if isinstance(result, (str, os.PathLike)):
        output = Path(result) if output is None else output
        metadata, table = _read_forecast(Path(output))
        result = None
    else:
        metadata, table = result.metadata, result.table
    uri = tracking_uri or mlflow.get_tracking_uri()
    name = _experiment_name(experiment)
    run_id = None
    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                experiment_id = client.create_experiment(name)
            except Exception:  # created meanwhile by another run: use it
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
                experiment_id = found.experiment_id
        elif found.lifecycle_stage == "deleted":
            raise MlflowLoggingError(f"the MLflow experiment {name!r} is deleted: restore it or choose another name")
        else:
            experiment_id = found.experiment_id
        run_tags = {"clvmodels.version": __version__,
                    "clvmodels.purchase_model": str(metadata.get("purchase_model", "")), **(tags or {})}
        run = client.create_run(experiment_id, run_name=run_name, tags=run_tags)
        run_id = run.info.run_id
        params = [Param(k, v) for k, v in forecast_params(metadata).items()]
        stamp = int(time.time() * 1000)
        metrics = [Metric(k, v, stamp, 0) for k, v in forecast_metrics(metadata, table).items()]
        for i in range(0, len(params), _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[i:i + _PARAMS_PER_BATCH])
        for i in range(0, len(metrics), _METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + _METRICS_PER_BATCH])
        with tempfile.TemporaryDirectory(prefix="clv-mlflow-") as tmp:
            scratch = Path(tmp)
            for f in _model_files(result, metadata, model_dir, scratch):
                client.log_artifact(run_id, str(f), "models")
            side = metadata_path(output) if output is not None else None
            if side is not None and side.is_file():
                client.log_artifact(run_id, str(side), "forecast")
            else:  # a result not written to disk: its metadata as the sidecar clv forecast would write
                (scratch / "forecast.meta.json").write_text(dumps(metadata, indent=2) + "\n", encoding="utf-8")
                client.log_artifact(run_id, str(scratch / "forecast.meta.json"), "forecast")
            if log_table and output is not None:
                client.log_artifact(run_id, str(output), "forecast")
            if report is not None:
                client.log_artifact(run_id, str(report), "report")
        client.set_terminated(run_id, "FINISHED")
    except Exception as exc:
        if run_id is not None:
            try:
                client.set_terminated(run_id, "FAILED")
            except Exception:  # the store is gone: the original error is what matters
                pass
        if isinstance(exc, MlflowLoggingError):
            exc.run_id = run_id
            raise
        where = f"run {run_id} of " if run_id else ""
        raise MlflowLoggingError(f"logging to MLflow ({where}experiment {name!r} at {uri}) failed: "
                                 f"{_first_line(exc)}", run_id=run_id) from exc
    return run_id
