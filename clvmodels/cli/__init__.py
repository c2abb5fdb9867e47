"""Command-line interface: ``clv <command>``. Batch jobs call the same functions as the Python API.

Exit codes: 0 success, 2 bad input (every problem listed on stderr), 1 any other failure, 3 (`clv forecast
--mlflow`) the outputs are written but logging the run to MLflow failed.

The package: :mod:`~clvmodels.cli.arguments` (the options commands share), :mod:`~clvmodels.cli.checks`
(every option and output path checked before the work), :mod:`~clvmodels.cli.commands` (the commands),
and this module (the parser and :func:`main`, which turns errors into exit codes and warnings into
messages).
"""
from __future__ import annotations

import sys

from ..errors import ClvError, InputError
from .arguments import add_fit_arguments, add_transaction_arguments, summarize_kwargs
from .commands import build_parser

__all__ = ["main", "build_parser", "add_transaction_arguments", "add_fit_arguments", "summarize_kwargs"]


#: warnings that speak to the developers of libraries, not to the person running clv
_LIBRARY_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _show_warning(command: str):
    """Warnings on the command line read as messages (``clv forecast: warning: ...``), not as Python
    warnings with a source file and line."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, _LIBRARY_WARNINGS):
            return
        text = str(message).rstrip()
        print(f"clv {command}: warning: {text}", file=sys.stderr, flush=True)
    return show


def _terminate(signum, frame):
    # SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C: staged outputs are removed and the
    # earlier outputs stay as they were
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import signal
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        old_term = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (e.g. called from a worker thread): leave signals alone
        old_term = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning(args.command)
            return int(args.func(args) or 0)
    except InputError as exc:
        print(f"clv {args.command}: bad input\n{exc}", file=sys.stderr)
        return 2
    except ClvError as exc:
        print(f"clv {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


