"""Command-line interface: ``clv <command>``. Batch jobs call the same functions as the Python API.

Exit codes: 0 success, 2 bad input (every problem listed on stderr), 1 any other failure.
"""
from __future__ import annotations

import argparse
import sys

from .errors import ClvError, InputError


def add_transaction_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every command that reads a transaction log shares (summarize, forecast, validate).

    Adds the positional ``transactions`` (one or more CSV/Parquet files, globs or directories; a list)
    and ``--customer-id``, ``--date``, ``--amount``, ``--observation-end``, ``--time-unit``,
    ``--negative-amounts``, ``--zero-amounts``, ``--time-mode``, ``--engine`` and ``--date-format``, whose destinations are the keyword names
    of :func:`clvmodels.data.summarize` (``args.customer_id``, ``args.observation_end``, ...).
    Commands pass them on with :func:`summarize_kwargs`.
    """
    parser.add_argument("transactions", nargs="+", metavar="TRANSACTIONS",
                        help="transaction log: CSV (comma-separated, with a header) or Parquet files, globs "
                             "(quote them) or directories")
    parser.add_argument("--customer-id", default="customer_id", metavar="COL",
                        help="column of customer ids (default: customer_id)")
    parser.add_argument("--date", default="date", metavar="COL", help="column of transaction dates (default: date)")
    parser.add_argument("--amount", default="amount", metavar="COL",
                        help="column of transaction values (default: amount)")
    parser.add_argument("--observation-end", required=True, metavar="DATE",
                        help="last day of the observation period, inclusive (YYYY-MM-DD); later transactions "
                             "are an error")
    parser.add_argument("--time-unit", choices=["D", "W", "M"], default="W",
                        help="unit of recency, T and horizons: days, weeks (default) or months")
    parser.add_argument("--negative-amounts", choices=["error", "drop", "net"], default="error",
                        help="negative amounts (returns): report them as bad input (default), drop those rows, "
                             "or net them against the customer's spend")
    parser.add_argument("--zero-amounts", choices=["keep", "drop"], default="keep",
                        help="purchases worth 0 (free items, vouchers): keep them as purchases (default; they "
                             "count in frequency, and customers whose repeat purchases are all worth 0 are left "
                             "out of the spend model's fit) or drop those rows")
    parser.add_argument("--time-mode", choices=["continuous", "periods"], default="continuous",
                        help="continuous time, days / days per unit (default, unbiased), or whole periods as "
                             "lifetimes' freq option (fewer distinct (frequency, recency, T): cheaper fits)")
    parser.add_argument("--engine", choices=["auto", "pandas", "duckdb", "spark"], default="auto",
                        help="summary engine; auto (default) uses DuckDB for files: bounded memory; spark runs "
                             "the summary on Spark (needs clvmodels[spark]; the active Spark session, else a local "
                             "one; for a cluster use clvmodels.spark from a Spark application)")
    parser.add_argument("--date-format", default=None, metavar="FMT",
                        help="strptime format of the dates, e.g. %%Y%%m%%d (default: ISO 8601, YYYY-MM-DD)")


def summarize_kwargs(args: argparse.Namespace) -> dict:
    """The :func:`clvmodels.data.summarize` keyword arguments from :func:`add_transaction_arguments`'s."""
    transactions = args.transactions
    if isinstance(transactions, (list, tuple)) and len(transactions) == 1:
        transactions = transactions[0]
    return dict(transactions=transactions, customer_id=args.customer_id, date=args.date, amount=args.amount,
                observation_end=args.observation_end, time_unit=args.time_unit,
                negative_amounts=getattr(args, "negative_amounts", "error"),
                zero_amounts=getattr(args, "zero_amounts", "keep"), engine=getattr(args, "engine", "auto"),
                date_format=getattr(args, "date_format", None), time_mode=getattr(args, "time_mode", "continuous"))


def _add_summarize(sub) -> None:
    p = sub.add_parser(
        "summarize", help="per-customer RFM summary (frequency, recency, T, monetary value, historical CLV)",
        description="Summarise a transaction log into one row per customer: frequency (repeat purchase "
                    "occasions), recency (BTYD: first to last purchase), T, monetary_value, historical_clv, "
                    "time_since_last_purchase (RFM's recency), and with --calibration-end the holdout columns. "
                    "Bad input exits with code 2 and lists every problem; the output is written atomically.")
    add_transaction_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="summary table, .csv or .parquet")
    p.add_argument("--calibration-end", default=None, metavar="DATE",
                   help="last day of a calibration period (inclusive): adds holdout columns up to --observation-end")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=run_summarize)


def run_summarize(args: argparse.Namespace) -> int:
    """``clv summarize``: check the arguments, summarise, write the table and its sidecar together."""
    from .cli_checks import check_summarize
    from .data import summarize
    from .io.atomic import recover, staged_outputs, write_table

    paths = check_summarize(args)  # fail before the work, not after
    recover(paths.directories)
    summary = summarize(**summarize_kwargs(args), calibration_end=args.calibration_end)
    meta = dict(summary.attrs.get("clvmodels", {}))
    with staged_outputs():
        write_table(summary, args.output, metadata=meta)
    if not args.quiet:
        print(f"clv summarize: {len(summary):,} customers ({meta.get('engine')} engine, time unit "
              f"{meta.get('time_unit')}) written to {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description="Probabilistic customer lifetime value.")
    sub = parser.add_subparsers(dest="command", required=True)
    # Each command module adds its subparser and sets `func`; see the add_* functions below.
    _add_summarize(sub)
    from .cli_jobs import add_job_commands

    add_job_commands(sub, add_transaction_arguments)
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
