"""A spend per purchase the user supplies per customer, in place of a spend model.

Some businesses know each customer's expected spend per purchase: a contract price, a subscription
fee, another model's output. Given ``spend=`` (:func:`clvmodels.scoring.score`,
:func:`clvmodels.forecast`), no spend model is fitted and, at joint draw s of the purchase model,

    CLV_s(c) = margin(c) * spend(c) * sum_k d^k (E_s[Y(k) | c] - E_s[Y(k-1) | c])
             - cost_to_serve(c) * sum_k d^k P_s(alive at T + k - 1 | c)

(the formula of :mod:`clvmodels.value.clv` with the spend model's E_s[spend | c] replaced by the
supplied, known spend(c)). The supplied spend is taken as known: the ``expected_spend`` column is the
value given, its interval is that point, and the CLV interval carries the purchase model's
uncertainty only. Units: currency (the same as margin x spend; cost_to_serve per period).

:class:`SuppliedSpend` is the spend scorer of the scoring protocol (:mod:`clvmodels.models.protocol`)
that returns, at every draw, the value passed in the engine's ``monetary_value`` slot: the engine
passes the supplied spend there (for every customer, the first-time buyers included: ``supplied``
tells :func:`clvmodels.scoring.arrays.score_arrays` not to zero it for frequency 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError, Problem

__all__ = ["SuppliedSpend", "supplied_spend_values", "describe_spend"]


@dataclass(frozen=True)
class SuppliedSpend:
    """Spend scorer for a known spend per customer: ``spend(x, mv)[c, s] = mv[c]`` at each of
    ``n_draws`` draws (``mv`` is the supplied spend, currency per purchase; ``x`` is not used)."""

    n_draws: int
    #: read by score_arrays: the values are the spend itself, for every customer (not a mean of repeat
    #: purchases that is 0 without repeat purchases)
    supplied: bool = True

    def spend(self, x, mv, out=None) -> np.ndarray:
        mv = np.asarray(mv, dtype=float)
        if out is None:
            out = np.empty((len(mv), self.n_draws))
        out[:] = mv[:, None]
        return out

    def expected_spend(self, x, mv):
        """(S, rows): the supplied spend at every draw (draws first, as the spend models' method)."""
        mv = np.asarray(mv, dtype=float)
        return np.broadcast_to(mv[None, :], (self.n_draws, len(mv))).copy()


def _rows(index, values, name: str) -> pd.DataFrame:
    return pd.DataFrame({name: values}, index=pd.Index(index, name="customer_id"))


def supplied_spend_values(spend, data: pd.DataFrame, name: str = "spend") -> np.ndarray:
    """The supplied spend per purchase of every customer of ``data`` (indexed by customer id), as an
    array aligned to ``data``: ``spend`` is one number for everyone, the name of a column of ``data``,
    or a Series indexed by customer id (extra customers are ignored).

    Raises :class:`~clvmodels.errors.InputError` naming ``name`` and the first offending customers for
    customers without a spend, and for spends that are missing (NaN), negative or infinite."""
    problems: list[Problem] = []
    if isinstance(spend, str):
        if spend not in data.columns:
            raise InputError([Problem(spend, f"{name}={spend!r} names no column of the summary (columns: "
                                             f"{', '.join(map(str, data.columns))})")], what="supplied spend")
        label = spend
        values = pd.to_numeric(data[spend], errors="coerce").to_numpy(float)
    elif isinstance(spend, pd.Series):
        label = name if spend.name is None else str(spend.name)
        if spend.index.has_duplicates:
            dup = spend.index[spend.index.duplicated()].unique()
            problems.append(Problem(label, f"{name}: customers given more than one spend (one value per customer)",
                                    _rows(dup[:5], [np.nan] * min(5, len(dup)), label), int(len(dup))))
            raise InputError(problems, what="supplied spend")
        missing = ~data.index.isin(spend.index)
        if missing.any():
            ids = data.index[missing]
            problems.append(Problem(label, f"{name}: no spend for {int(missing.sum())} customers of the summary "
                                           f"(give every customer a spend), e.g. {list(ids[:5])}", None,
                                    int(missing.sum())))
            raise InputError(problems, what="supplied spend")
        values = pd.to_numeric(spend.reindex(data.index), errors="coerce").to_numpy(float)
    else:
        label = name
        try:
            v = float(spend)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number, a column name or a Series of spends by customer id, not "
                             f"{type(spend).__name__}", what="supplied spend") from None
        if not np.isfinite(v) or v < 0:
            raise InputError(f"{name}={spend!r}: the spend per purchase must be a finite number of 0 or more",
                             what="supplied spend")
        return np.full(len(data), v)
    for mask, what in ((np.isnan(values), "missing (NaN or not a number)"),
                       (np.isinf(values), "infinite"),
                       (values < 0, "negative: a spend per purchase is 0 or more")):
        if mask.any():
            problems.append(Problem(label, f"{name}: spends {what}", _rows(data.index[mask][:5], values[mask][:5],
                                                                           label), int(mask.sum())))
    if problems:
        raise InputError(problems, what="supplied spend")
    return values


def describe_spend(spend, values: np.ndarray | None = None) -> dict:
    """The metadata's ``spend`` entry: where the spend per purchase came from."""
    if spend is None:
        return {"source": "gamma_gamma", "note": "expected spend per purchase from the Gamma-Gamma model's posterior"}
    given = (f"column {spend!r} of the summary" if isinstance(spend, str)
             else "a value per customer id" if isinstance(spend, pd.Series) else "one value for every customer")
    out = {"source": "supplied", "given_as": given,
           "note": "the spend per purchase was supplied (no spend model fitted): expected_spend is the value "
                   "given and its interval is that point; the CLV intervals carry the purchase model's "
                   "uncertainty only"}
    if values is not None and len(values):
        out.update({"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))})
    return out
