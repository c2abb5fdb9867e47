"""Helpers shared by the plotting modules: axes handling, labels, customer logs as day numbers."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..units import DAYS_PER_UNIT, UNIT_NAMES, check_unit

#: default number of posterior draws the plots use (thinned evenly); means and 90% intervals of
#: smooth curves are stable at this size, and it bounds the work of every plot
PLOT_DRAWS = 200

_DAY = np.timedelta64(1, "D")


def new_axes(ax=None, *, figsize=(7.0, 4.5)):
    """``(figure, ax)``: the given axes and its figure, or a new figure with one axes."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def new_axes_row(n: int, axes=None, *, figsize=None):
    """``(figure, [ax, ...])`` with ``n`` axes side by side, or the given ones (checked)."""
    import matplotlib.pyplot as plt

    if axes is not None:
        axes = list(np.ravel(axes))
        if len(axes) != n:
            raise ValueError(f"this plot needs {n} axes, got {len(axes)}")
        return axes[0].figure, axes
    fig, axs = plt.subplots(1, n, figsize=figsize or (6.0 * n, 4.5), layout="constrained", squeeze=False)
    return fig, list(axs[0])


def unit_label(unit: str) -> str:
    return UNIT_NAMES[check_unit(unit)]


def duration_text(value: float, unit: str) -> str:
    """'1 week', '39 weeks', '2.5 months'."""
    name = unit_label(unit)
    return f"{value:g} {name[:-1] if value == 1 else name}"


def attach_data(fig, name: str, data: Any) -> None:
    """Keep the numbers a figure shows on the figure (``fig.clvmodels_data[name]``), so a caller can
    read exactly what was drawn."""
    store = getattr(fig, "clvmodels_data", None)
    if store is None:
        store = {}
        fig.clvmodels_data = store
    store[name] = data


def model_unit(model) -> str:
    model._check_fitted()
    return model.time_unit_


def unit_days(unit: str) -> float:
    return DAYS_PER_UNIT[check_unit(unit)]


def as_day(value, name: str, date_format: str | None = None) -> int:
    """A period end as a day number (days since 1970-01-01), read as :func:`clvmodels.summarize` reads
    its ends (:func:`clvmodels.data.checks.end_day`: ISO text, text in ``date_format``, dates,
    Timestamps, datetime64, and a Period as its last day); InputError naming ``name`` otherwise."""
    from ..data.checks import parse_end_date
    from ..errors import ProblemCollector

    problems = ProblemCollector("arguments")
    day = parse_end_date(value, name, problems, date_format)
    problems.raise_if_any()
    return int(day.astype(np.int64))


def day_dates(days) -> pd.DatetimeIndex:
    """Day numbers back to dates."""
    return pd.to_datetime(np.asarray(days, dtype=np.int64), unit="D")


def purchase_days(transactions: pd.DataFrame, customer_id: str, date: str) -> pd.DataFrame:
    """Distinct (customer, purchase day) pairs of a transaction log (purchases on the same day merge,
    as in the summary), sorted by customer and day; ``day`` is a day number (days since 1970-01-01)
    and ``is_first`` marks each customer's first day."""
    if not isinstance(transactions, pd.DataFrame):
        raise InputError(f"expected the transaction log as a pandas DataFrame, got {type(transactions).__name__}")
    missing = [c for c in (customer_id, date) if c not in transactions.columns]
    if missing:
        raise InputError(f"the transaction log has no column {missing[0]!r} (columns: {list(transactions.columns)}); "
                         "pass customer_id=/date= to name them")
    days = pd.to_datetime(transactions[date], errors="coerce")
    if days.isna().any():
        raise InputError(f"column {date!r} has {int(days.isna().sum())} missing or unreadable dates")
    d = pd.DataFrame({"customer_id": transactions[customer_id].to_numpy(),
                      "day": days.dt.floor("D").to_numpy().astype("datetime64[D]").astype(np.int64)})
    d = d.drop_duplicates().sort_values(["customer_id", "day"], kind="stable").reset_index(drop=True)
    d["is_first"] = ~d["customer_id"].duplicated()
    return d


def quantiles(block: np.ndarray, interval: float, axis: int = 0):
    from ..draws import interval_bounds

    lo, hi = interval_bounds(interval)
    q = np.quantile(block, [lo, hi], axis=axis)
    return q[0], q[1]


def pct(interval: float) -> str:
    return f"{100 * interval:g}%"


def period_ends(start: int, cal_end: int, end: int, ud: float) -> np.ndarray:
    """Inclusive period-end day numbers, anchored at the end of calibration (so whole periods fall on
    either side of it), from the first period that ends on or after ``start`` up to ``end``."""
    k_lo = -int(np.floor((cal_end - start) / ud)) - 1
    k_hi = int(np.ceil((end - cal_end) / ud)) + 1
    ends = np.unique(np.round(cal_end + np.arange(k_lo, k_hi + 1) * ud).astype(np.int64))
    ends = ends[(ends >= start) & (ends <= end)]
    if len(ends) == 0 or ends[-1] != end:
        ends = np.append(ends, end)
    return ends
