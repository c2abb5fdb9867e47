"""Command-line interface: ``clv <command>``. Batch jobs call the same functions as the Python API.

Exit codes: 0 success, 2 bad input (every problem listed on stderr), 1 any other failure.
"""
from __future__ import annotations

import argparse
import sys

from .errors import ClvError, InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description="Probabilistic customer lifetime value.")
    sub = parser.add_subparsers(dest="command", required=True)
    # Each command module adds its subparser and sets `func`; see the add_* functions below.
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"clv {args.command}: bad input\n{exc}", file=sys.stderr)
        return 2
    except ClvError as exc:
        print(f"clv {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1


if __name__ == "__main__":
    sys.exit(main())
