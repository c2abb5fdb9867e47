"""Checks of a command line before any work: every option value and every output path.

A batch job must fail in its first second, not after an hour of fitting, and must never overwrite what
it reads. :func:`check_arguments` looks at every option and path of a command and raises one
:class:`~clvmodels.errors.InputError` listing every problem (the CLI exits with code 2), each naming its
option. Outputs are checked for: a known extension, not being a directory, a parent directory that
exists and can be written, and not being an input of the run (a file of the transaction log, a model
file read with ``--no-fit``), another output of the same run (a table's ``.meta.json`` sidecar
included), or a file the log's glob or directory would read next time.
"""
from __future__ import annotations

import fnmatch
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, ProblemCollector, UnitError
from ..units import DAYS_PER_UNIT, PERIODS_PER_YEAR, UNIT_NAMES, Duration
from .spark_options import check_spark_options

#: the longest horizon accepted: a customer relationship, discounted, is not valued over centuries, and
#: the CLV sum costs one term per period
MAX_HORIZON_YEARS = 100

#: model files in a --model-dir (the purchase model's is named after it: clvmodels.pipeline.purchase_model_file)
BGNBD_FILE = "bgnbd.clvm"
GAMMA_GAMMA_FILE = "gamma_gamma.clvm"


class ArgumentWarning(UserWarning):
    """An option value that is allowed but probably not meant (a margin above 1)."""


@dataclass
class RunPaths:
    """What a command reads and writes, once checked: outputs as ``(option, path)`` pairs."""

    inputs: list[tuple[str, Path]] = field(default_factory=list)
    outputs: list[tuple[str, Path]] = field(default_factory=list)
    output_dirs: list[tuple[str, Path]] = field(default_factory=list)

    @property
    def directories(self) -> list[Path]:
        """Every directory this run writes into (where a killed run's debris would be)."""
        dirs = [p.parent for _, p in self.outputs] + [p for _, p in self.output_dirs]
        return list(dict.fromkeys(Path(os.path.abspath(d)) for d in dirs))


def horizon_spec(value, unit: str, problems: ProblemCollector, option: str = "--horizon") -> str | None:
    """The horizon of ``--horizon VALUE`` as a Duration text in ``unit``: a number of periods of
    ``--time-unit`` (``52``) or the same with that unit's letter (``52W``). A horizon in another unit is
    refused with the number to pass instead (never a silent rescale)."""
    text = str(value).strip()
    try:
        number = float(text)
        if not math.isfinite(number) or number <= 0:
            problems.add(None, f"{option} {value}: the horizon must be a positive number of periods of "
                               f"--time-unit ({UNIT_NAMES[unit]}), e.g. 52")
            return None
        d = Duration(number, unit)
    except ValueError:
        d = None
    if d is None:
        try:
            d = Duration.parse(text)
        except (UnitError, ValueError):
            problems.add(None, f"{option} {value!r} is not a horizon: give a positive number of periods of "
                               f"--time-unit ({UNIT_NAMES[unit]}), e.g. {option} 52")
            return None
    if not (d.value > 0):
        problems.add(None, f"{option} {value}: the horizon must be positive, e.g. {option} 52")
        return None
    if d.unit != unit:
        converted = d.value * DAYS_PER_UNIT[d.unit] / DAYS_PER_UNIT[unit]
        problems.add(None, f"{option} {value} is in {UNIT_NAMES[d.unit]} but --time-unit is {unit} "
                           f"({UNIT_NAMES[unit]}): pass {option} {converted:.4g} (the same length in "
                           f"{UNIT_NAMES[unit]}), or --time-unit {d.unit} to measure all time in "
                           f"{UNIT_NAMES[d.unit]}")
        return None
    if d.value > MAX_HORIZON_YEARS * PERIODS_PER_YEAR[unit]:
        problems.add(None, f"{option} {value}: longer than {MAX_HORIZON_YEARS} years "
                           f"({MAX_HORIZON_YEARS * PERIODS_PER_YEAR[unit]:.0f} {UNIT_NAMES[unit]}); give a horizon "
                           "of at most that")
        return None
    return str(d)


def _number(args, name: str, problems: ProblemCollector, *, low=None, high=None, low_open=False,
            high_open=False, what: str = "") -> None:
    """A numeric option within bounds (None = unbounded); NaN and infinities are refused."""
    value = getattr(args, name, None)
    if value is None:
        return
    opt = "--" + name.replace("_", "-")
    bad = not math.isfinite(value)
    if not bad and low is not None:
        bad = value <= low if low_open else value < low
    if not bad and high is not None:
        bad = value >= high if high_open else value > high
    if bad:
        problems.add(None, f"{opt} {value:g}: {what}")


def _same(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_output_file(option: str, path: Path, problems: ProblemCollector, *, table: bool = False) -> None:
    from ..io.atomic import table_format

    if table:
        try:
            table_format(path)
        except ValueError:
            problems.add(None, f"{option} {str(path)!r}: use a .parquet or .csv extension")
    if path.is_dir():
        problems.add(None, f"{option} {str(path)!r} is a directory: give a file name")
        return
    parent = path.parent
    if not parent.exists():
        problems.add(None, f"{option} {str(path)!r}: the directory {str(parent)!r} does not exist (create it first)")
    elif not parent.is_dir():
        problems.add(None, f"{option} {str(path)!r}: {str(parent)!r} is not a directory")
    elif not os.access(parent, os.W_OK | os.X_OK):
        problems.add(None, f"{option} {str(path)!r}: the directory {str(parent)!r} cannot be written")


def _check_output_dir(option: str, path: Path, problems: ProblemCollector) -> None:
    if path.exists() and not path.is_dir():
        problems.add(None, f"{option} {str(path)!r} is a file, not a directory")
        return
    existing = path
    while not existing.exists():  # created by the run: the nearest existing ancestor must be writable
        existing = existing.parent
    if not existing.is_dir():
        problems.add(None, f"{option} {str(path)!r}: {str(existing)!r} is not a directory")
    elif not os.access(existing, os.W_OK | os.X_OK):
        problems.add(None, f"{option} {str(path)!r}: {str(existing)!r} cannot be written")


def _log_would_read(spec: str, path: Path) -> bool:
    """Would the transaction-log argument ``spec`` (file, glob or directory) read ``path`` next time?"""
    from ..data.readers import _kind

    if _kind(str(path)) is None:
        return False
    if any(ch in spec for ch in "*?["):
        return fnmatch.fnmatch(os.path.abspath(path), os.path.abspath(spec))
    if os.path.isdir(spec):
        root = os.path.realpath(spec)
        return os.path.commonpath([root, os.path.realpath(path)]) == root
    return False


def check_paths(paths: RunPaths, problems: ProblemCollector, log_specs: list[str] = ()) -> None:
    """Outputs must not be inputs, the same file twice, or files the log argument would read later."""
    seen: list[tuple[str, Path]] = []
    for opt, out in paths.outputs:
        for iopt, inp in paths.inputs:
            if _same(out, inp):
                problems.add(None, f"{opt} {str(out)!r} is also an input of this run ({iopt}): it would be "
                                   "overwritten; write the output elsewhere")
        for sopt, other in seen:
            if _same(out, other):
                problems.add(None, f"{opt} {str(out)!r} is also the output of {sopt}: give each output its own file")
        for spec in log_specs:
            if not any(_same(out, inp) for _, inp in paths.inputs) and _log_would_read(spec, out):
                problems.add(None, f"{opt} {str(out)!r} lies where the transaction log {spec!r} is read from: the "
                                   "next run would read it as transactions; write it elsewhere")
        seen.append((opt, out))


def log_inputs(transactions, problems: ProblemCollector) -> list[tuple[str, Path]]:
    """The files of the transaction-log argument (a missing file is a problem here, not later)."""
    from ..data.readers import resolve_source

    try:
        source = resolve_source(transactions)
    except InputError as exc:
        problems.problems.extend(exc.problems)
        return []
    return [("TRANSACTIONS", Path(p)) for p in source.paths]


def check_period_ends(args, problems: ProblemCollector) -> None:
    """--observation-end and --calibration-end (when the command has it), read as the summary reads them
    (any form the date column takes: ISO, or text in --date-format), before the log is read: a typo in a
    date must not cost a scan of the log."""
    from ..data.checks import parse_period_ends

    parse_period_ends(getattr(args, "observation_end", None), getattr(args, "calibration_end", None), problems,
                      getattr(args, "date_format", None), names=("--observation-end", "--calibration-end"))


def check_amount_options(args, problems: ProblemCollector) -> None:
    """--no-amount says the log has no amounts: the options that read or treat amounts contradict it."""
    if not getattr(args, "no_amount", False):
        return
    clash = [f"--amount {args.amount}" if getattr(args, "amount", "amount") != "amount" else None,
             f"--zero-amounts {args.zero_amounts}" if getattr(args, "zero_amounts", "keep") != "keep" else None,
             f"--negative-amounts {args.negative_amounts}"
             if getattr(args, "negative_amounts", "error") != "error" else None]
    clash = [c for c in clash if c]
    if clash:
        problems.add(None, f"{', '.join(clash)} and --no-amount contradict each other: --no-amount says the log has "
                           "no amounts; leave out --no-amount to use the amounts, or the other option")


def check_fit_options(args, problems: ProblemCollector) -> None:
    """--chains, --draws, --tune, --seed, --target-accept and --interval."""
    for name in ("chains", "draws", "tune"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            problems.add(None, f"--{name} {value}: must be a whole number of at least 1")
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        problems.add(None, f"--seed {seed}: must be a non-negative whole number")
    _number(args, "target_accept", problems, low=0, high=1, low_open=True, high_open=True,
            what="the NUTS target acceptance rate must be between 0 and 1 (exclusive), e.g. 0.95")
    _number(args, "interval", problems, low=0, high=1, low_open=True, high_open=True,
            what="the interval level must be between 0 and 1 (exclusive), e.g. 0.9 for a 90% interval")


def check_forecast(args) -> tuple[RunPaths, str | None]:
    """Every option and path of ``clv forecast``; returns the paths and the horizon (e.g. '52W')."""
    from ..io.atomic import metadata_path

    problems = ProblemCollector("arguments")
    check_period_ends(args, problems)
    check_amount_options(args, problems)
    check_spark_options(args, problems)
    horizon = horizon_spec(args.horizon, args.time_unit, problems)
    _number(args, "discount_rate", problems, low=0,
            what="the annual discount rate must be 0 or more (0.1 is 10% a year)")
    _number(args, "margin", problems, low=0, low_open=True,
            what="the margin is the fraction of revenue kept: above 0, at most 1 (e.g. 0.3)")
    if args.margin is not None and math.isfinite(args.margin) and args.margin > 1:
        warnings.warn(f"--margin {args.margin:g} is above 1: the CLV will be more than the revenue (a margin is "
                      "the fraction of revenue kept, e.g. 0.3)", ArgumentWarning, stacklevel=2)
    _number(args, "cost_to_serve", problems, low=0, what="the cost to serve must be 0 or more")
    _number(args, "acquisition_cost", problems, low=0, low_open=True,
            what="the acquisition cost must be above 0 (clv_cac_ratio divides by it); leave the option out when there is none")
    if args.max_draws is not None and args.max_draws < 0:
        problems.add(None, f"--max-draws {args.max_draws}: must be 0 (all draws) or a positive number")
    check_fit_options(args, problems)
    paths = RunPaths(inputs=log_inputs(args.transactions, problems))
    args.spend_values = check_spend_options(args, problems, paths)  # --spend, --no-amount, --currency
    out = Path(args.output)
    paths.outputs += [("-o/--output", out), ("-o/--output (its sidecar)", metadata_path(out))]
    _check_output_file("-o/--output", out, problems, table=True)
    if args.report:
        rep = Path(args.report)
        paths.outputs.append(("--report", rep))
        _check_output_file("--report", rep, problems)
    if args.no_fit and not args.model_dir:
        problems.add(None, "--no-fit scores with saved models: give --model-dir with the models of an earlier run")
    check_forecast_calibration_end(args, problems)
    if getattr(args, "prior_checks", False) and not args.report:
        problems.add(None, "--prior-checks adds a 'Prior predictive' section to the HTML report: give --report FILE too")
    check_spend_model_options(args, problems)
    from .covariate_options import check_covariate_options

    check_covariate_options(args, problems)  # --covariates, --spend-covariates, --customers
    if args.model_dir:
        from ..errors import ModelFileError
        from ..models.registry import DEFAULT_MODEL
        from ..pipeline import find_purchase_model_file, purchase_model_file

        md = Path(args.model_dir)
        models = [md / purchase_model_file(args.model or DEFAULT_MODEL), md / GAMMA_GAMMA_FILE]
        if getattr(args, "spend", None) or getattr(args, "no_amount", False):
            models = models[:1]  # no spend model is fitted, saved or loaded
        if args.no_fit:
            if md.exists() and not md.is_dir():
                problems.add(None, f"--model-dir {str(md)!r} is a file, not a directory")
            else:
                if args.model is None:  # without --model: the one purchase model saved there, if any
                    try:
                        models[0] = find_purchase_model_file(md)
                    except ModelFileError as exc:
                        if "several" in str(exc):
                            problems.add(None, f"--model-dir: {exc}")
                            models = models[1:]
                for m in models:
                    if not m.is_file():
                        problems.add(None, f"--model-dir {str(md)!r} has no {m.name}: run clv forecast with "
                                           "--model-dir (and without --no-fit) first to fit and save the models")
            paths.inputs += [("--model-dir", m) for m in models]
        else:
            _check_output_dir("--model-dir", md, problems)
            paths.outputs += [("--model-dir", m) for m in models]
            paths.output_dirs.append(("--model-dir", md))
    check_mlflow_options(args, problems)
    check_paths(paths, problems, list(args.transactions))
    problems.raise_if_any()
    return paths, horizon


def check_spend_model_options(args, problems: ProblemCollector) -> None:
    """``--spend-model`` and ``--first-purchase`` choose the spend model that is fitted: refused where
    none is (--spend, --no-amount) or where the saved one is used as it is (--no-fit)."""
    given = [o for o, on in (("--spend-model", getattr(args, "spend_model", None) is not None),
                             ("--first-purchase", getattr(args, "first_purchase", False))) if on]
    if not given:
        return
    opts = " and ".join(given)
    if getattr(args, "spend", None):
        problems.add(None, f"{opts} choose the spend model to fit, and --spend FILE supplies the spend instead of "
                           "one: give one or the other")
    if getattr(args, "no_amount", False):
        problems.add(None, f"{opts} choose the spend model, which needs amounts: leave "
                           f"{'them' if len(given) > 1 else 'it'} out with --no-amount")
    if getattr(args, "no_fit", False):
        problems.add(None, f"{opts} choose the spend model to fit; --no-fit scores with the one saved in --model-dir "
                           "as it was fitted (its choice is in its file): leave "
                           f"{'them' if len(given) > 1 else 'it'} out, or fit again")


def check_forecast_calibration_end(args, problems: ProblemCollector) -> None:
    """``clv forecast --calibration-end DATE``: not with --no-fit (the holdout validation fits the model again
    on the calibration period). The date itself, and that it is before --observation-end, are checked with
    the other period ends (:func:`check_period_ends`), in any form the date column takes."""
    if getattr(args, "calibration_end", None) is not None and args.no_fit:
        problems.add(None, "--calibration-end fits the model a second time, on the calibration period, to validate "
                           "it on the holdout; --no-fit runs without fitting: leave one of them out")


def check_mlflow_options(args, problems: ProblemCollector) -> None:
    """--mlflow (MLflow installed, the tracking store opens, the experiment is usable), and
    --mlflow-experiment / --mlflow-uri only with it."""
    if getattr(args, "mlflow", False):
        from ..integrations.mlflow import check_mlflow

        for text in check_mlflow(args.mlflow_uri, args.mlflow_experiment):
            problems.add(None, f"--mlflow: {text}")
    else:
        for opt in ("mlflow_experiment", "mlflow_uri"):
            if getattr(args, opt, None) is not None:
                problems.add(None, f"--{opt.replace('_', '-')} is used only with --mlflow: add --mlflow to log the run")


def check_validate(args) -> RunPaths:
    problems = ProblemCollector("arguments")
    check_period_ends(args, problems)
    check_amount_options(args, problems)
    check_spark_options(args, problems)
    check_fit_options(args, problems)
    check_spend_model_options(args, problems)
    from .covariate_options import check_covariate_options

    check_covariate_options(args, problems)  # --covariates, --spend-covariates, --customers
    paths = RunPaths(inputs=log_inputs(args.transactions, problems))
    paths.outputs.append(("--json", Path(args.json_out)))
    _check_output_file("--json", Path(args.json_out), problems)
    if args.table:
        paths.outputs.append(("--table", Path(args.table)))
        _check_output_file("--table", Path(args.table), problems, table=True)
    check_paths(paths, problems, list(args.transactions))
    problems.raise_if_any()
    return paths


def check_compare(args) -> tuple[RunPaths, list[str]]:
    """Every option and path of ``clv compare``: the model list (registered names, no repeats), the fit
    options, ``--json`` and ``--report``. Returns the paths and the model names."""
    from ..validation.compare import model_name_problems

    problems = ProblemCollector("arguments")
    check_period_ends(args, problems)
    check_amount_options(args, problems)
    check_spark_options(args, problems)
    names, bad = model_name_problems(args.models)
    for text in bad:
        problems.add(None, f"--models {args.models!r}: {text}")
    if getattr(args, "method", None) == "mode":
        problems.add(None, "--method mode: clv compare scores each model with PSIS-LOO over posterior draws, and "
                           "the mode alone is one point; use --method map (quick) or nuts")
    check_fit_options(args, problems)
    from .covariate_options import check_covariate_options

    check_covariate_options(args, problems)  # --covariates, --group, --customers (no spend covariates here)
    paths = RunPaths(inputs=log_inputs(args.transactions, problems))
    paths.outputs.append(("--json", Path(args.json_out)))
    _check_output_file("--json", Path(args.json_out), problems)
    if args.report:
        paths.outputs.append(("--report", Path(args.report)))
        _check_output_file("--report", Path(args.report), problems)
    check_paths(paths, problems, list(args.transactions))
    problems.raise_if_any()
    return paths, names


def check_summarize(args) -> RunPaths:
    from ..io.atomic import metadata_path

    problems = ProblemCollector("arguments")
    check_period_ends(args, problems)
    check_amount_options(args, problems)
    check_spark_options(args, problems)
    paths = RunPaths(inputs=log_inputs(args.transactions, problems))
    out = Path(args.output)
    paths.outputs += [("-o/--output", out), ("-o/--output (its sidecar)", metadata_path(out))]
    _check_output_file("-o/--output", out, problems, table=True)
    check_paths(paths, problems, list(args.transactions))
    problems.raise_if_any()
    return paths


def check_demo(args) -> RunPaths:
    problems = ProblemCollector("arguments")
    out = Path(args.out)
    _check_output_dir("--out", out, problems)
    problems.raise_if_any()
    paths = RunPaths(output_dirs=[("--out", out), ("--out", out / "models")])
    return paths


#: --currency: three capital letters, as ISO 4217 codes are (USD, EUR, JPY)
CURRENCY_PATTERN = r"[A-Z]{3}"


def check_spend_options(args, problems: ProblemCollector, paths: RunPaths):
    """``clv forecast``'s --spend FILE (with --spend-column, --customer-id), --no-amount and --currency,
    before any work: the file readable (CSV or Parquet), with the customer-id and spend columns, one
    spend per customer, every spend a finite number of 0 or more; without amounts and without --spend,
    no option that only shapes the CLV; the currency a 3-letter code. Returns the spends as a Series
    indexed by customer id (None without --spend); whether every customer of the log has one is checked
    once the log is summarised (:func:`check_spend_coverage`), before the fit."""
    import re

    currency = getattr(args, "currency", None)
    if currency is not None and not re.fullmatch(CURRENCY_PATTERN, currency):
        problems.add(None, f"--currency {currency!r}: give a 3-letter ISO 4217 currency code in capitals, e.g. USD, "
                           "EUR or GBP")
    spend_file = getattr(args, "spend", None)
    if getattr(args, "no_amount", False) and spend_file is None:
        shaping = [opt for opt, bad in (("--margin", args.margin != 1.0), ("--cost-to-serve", args.cost_to_serve != 0.0),
                                        ("--acquisition-cost", args.acquisition_cost is not None)) if bad]
        if shaping:
            problems.add(None, f"{', '.join(shaping)} appl{'y' if len(shaping) > 1 else 'ies'} to CLV, and --no-amount "
                               "without --spend forecasts the purchases only: leave "
                               f"{'them' if len(shaping) > 1 else 'it'} out, or give --spend FILE for CLV")
    if spend_file is None:
        if getattr(args, "spend_column", "spend") != "spend":
            problems.add(None, "--spend-column names the spend column of --spend FILE: give --spend FILE too")
        return None
    path = Path(spend_file)
    paths.inputs.append(("--spend", path))
    return read_spend_file(path, args.customer_id, args.spend_column, problems)


def read_spend_file(path: Path, customer_id: str, column: str, problems: ProblemCollector):
    """The spend per purchase by customer id from a CSV/Parquet file (--spend), every problem added to
    ``problems`` (None is returned then)."""
    import numpy as np
    import pandas as pd

    from ..data.readers import _kind

    opt = f"--spend {str(path)!r}"
    kind = _kind(str(path))
    if kind is None:
        problems.add(None, f"{opt}: use a .csv or .parquet file")
        return None
    if not path.is_file():
        problems.add(None, f"{opt}: no such file")
        return None
    try:
        if kind == "csv":
            head = pd.read_csv(path, nrows=0).columns
            frame = pd.read_csv(path, dtype={customer_id: str, column: str}, usecols=lambda c: c in (customer_id, column),
                                keep_default_na=False)
        else:
            import pyarrow.parquet as pq

            head = pq.read_schema(path).names
            frame = pd.read_parquet(path, columns=[c for c in (customer_id, column) if c in head])
    except Exception as exc:  # unreadable: say why, exit 2 (not a traceback)
        problems.add(None, f"{opt} cannot be read as {kind.upper()}: {type(exc).__name__}: {exc}")
        return None
    missing = [(c, o) for c, o in ((customer_id, "--customer-id"), (column, "--spend-column")) if c not in head]
    for c, o in missing:
        problems.add(c, f"{opt} has no column {c!r} ({o}); its columns: {', '.join(map(repr, list(head)[:20]))}")
    if missing:
        return None
    ids = frame[customer_id]
    blank = ids.isna() | (ids.astype(str).str.strip() == "")
    raw = frame[column]
    values = pd.to_numeric(raw.astype(str).str.strip() if raw.dtype == object else raw, errors="coerce").to_numpy(float)
    checks = [(blank.to_numpy(), "rows without a customer id"),
              (ids.duplicated(keep=False).to_numpy() & ~blank.to_numpy(), "customers with more than one spend (give one "
                                                                           "spend per purchase per customer)"),
              (np.isnan(values), "spends missing or not a number"),
              (np.isinf(values), "spends infinite"),
              (values < 0, "spends negative (a spend per purchase is 0 or more)")]
    ok = True
    for mask, what in checks:
        if mask.any():
            ok = False
            rows = frame.loc[mask, [customer_id, column]].head(5)
            rows.index = rows.index + 2 if kind == "csv" else rows.index  # CSV line numbers (header is line 1)
            problems.add(column, f"{opt}: {what}", rows, int(mask.sum()))
    if not ok:
        return None
    return pd.Series(values, index=pd.Index(ids.to_numpy()), name=column)


def check_spend_coverage(spend, summary, option: str = "--spend"):
    """The --spend values aligned to the summary's customer ids (the file's ids read as the log's: text
    ids of a CSV matched to integer ids of the summary), and an :class:`InputError` naming ``option``
    and a few customers of the log that have no spend (exit 2, before the fit)."""
    import pandas as pd

    idx = spend.index
    if pd.api.types.is_integer_dtype(summary.index.dtype) and not pd.api.types.is_integer_dtype(idx.dtype):
        conv = pd.to_numeric(pd.Series(idx.astype(str)).str.strip(), errors="coerce")
        keep = conv.notna().to_numpy() & (conv.round() == conv).to_numpy()
        spend = pd.Series(spend.to_numpy()[keep], index=pd.Index(conv[keep].astype("int64").to_numpy()), name=spend.name)
    elif not pd.api.types.is_integer_dtype(summary.index.dtype) and pd.api.types.is_integer_dtype(idx.dtype):
        spend = pd.Series(spend.to_numpy(), index=pd.Index(idx.astype(str)), name=spend.name)
    missing = ~summary.index.isin(spend.index)
    if missing.any():
        ids = list(summary.index[missing][:5])
        raise InputError(f"{option}: {int(missing.sum())} customers of the transaction log have no spend "
                         f"(column {spend.name!r}), e.g. {ids}: give every customer a spend", what="arguments")
    return spend
