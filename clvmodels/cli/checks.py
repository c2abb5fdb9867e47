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
    out = Path(args.output)
    paths.outputs += [("-o/--output", out), ("-o/--output (its sidecar)", metadata_path(out))]
    _check_output_file("-o/--output", out, problems, table=True)
    if args.report:
        rep = Path(args.report)
        paths.outputs.append(("--report", rep))
        _check_output_file("--report", rep, problems)
    if args.no_fit and not args.model_dir:
        problems.add(None, "--no-fit scores with saved models: give --model-dir with the models of an earlier run")
    if args.model_dir:
        from ..errors import ModelFileError
        from ..models.registry import DEFAULT_MODEL
        from ..pipeline import find_purchase_model_file, purchase_model_file

        md = Path(args.model_dir)
        models = [md / purchase_model_file(args.model or DEFAULT_MODEL), md / GAMMA_GAMMA_FILE]
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
    check_fit_options(args, problems)
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
    names, bad = model_name_problems(args.models)
    for text in bad:
        problems.add(None, f"--models {args.models!r}: {text}")
    check_fit_options(args, problems)
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
