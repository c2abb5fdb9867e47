"""Errors a person can act on.

Input checks collect *every* problem they find and raise once (as R's CLVTools does), so a user
fixes a file in one pass instead of one error per run. The CLI maps :class:`InputError` to exit code 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class Problem:
    """One problem found in the input.

    column: the column at fault (None when the problem is about the whole input).
    message: what is wrong and, where it helps, what to do about it.
    rows: the first offending rows, shown to the user (may be None).
    n_rows: how many rows are affected in total (None when not row-based).
    """

    column: str | None
    message: str
    rows: pd.DataFrame | None = None
    n_rows: int | None = None

    def __str__(self) -> str:
        head = f"column '{self.column}': " if self.column else ""
        count = f" ({self.n_rows} row{'s' if self.n_rows != 1 else ''})" if self.n_rows else ""
        text = f"- {head}{self.message}{count}"
        if self.rows is not None and len(self.rows):
            shown = self.rows.head(5).to_string()
            text += "\n    first offending rows:\n" + "\n".join("      " + line for line in shown.splitlines())
        return text


class ClvError(Exception):
    """Base class of every error clvmodels raises on purpose."""


class InputError(ClvError, ValueError):
    """Bad input data: carries every problem found, each naming its column and rows."""

    def __init__(self, problems: list[Problem] | str, *, what: str = "input"):
        if isinstance(problems, str):
            problems = [Problem(None, problems)]
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} found in the {what}:"]
        lines += [str(p) for p in self.problems]
        super().__init__("\n".join(lines))


class FitError(ClvError, RuntimeError):
    """A model could not be fitted (no usable data, sampler failure, optimisation did not converge)."""


class DataError(FitError, ValueError):
    """The data cannot support the fit (every customer new, one-time buyers only, too few spenders): the
    user must bring more data, so the CLI treats it as bad input (exit code 2)."""


class UnitError(ClvError, ValueError):
    """A horizon or duration is in a different time unit from the fitted model's."""


class ModelFileError(ClvError, ValueError):
    """A saved model file is missing, corrupt, or from an incompatible format version."""


class ProblemCollector:
    """Accumulate problems and raise them all at once."""

    def __init__(self, what: str = "input"):
        self.what = what
        self.problems: list[Problem] = []

    def add(self, column: str | None, message: str, rows: pd.DataFrame | None = None, n_rows: int | None = None):
        self.problems.append(Problem(column, message, rows, n_rows))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputError(self.problems, what=self.what)
