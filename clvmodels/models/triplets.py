"""Customers compressed to their distinct (frequency, recency, T) rows.

The BG/NBD likelihood of a customer depends on the data only through (x, t_x, T), and many customers
share the same triplet (every customer without repeat purchases and first seen on the same day has
(0, 0, T)). Fitting and predicting per distinct triplet, weighted by the number of customers sharing
it, gives the same totals at a fraction of the cost: 1 million simulated customers have about 189
thousand distinct triplets with times in whole days.

The likelihood is cheaper still when its expensive parts are evaluated once per distinct *level* of
each coordinate: the log-gamma terms depend only on x (there are typically fewer than a hundred
distinct frequencies), ``log(alpha + T)`` only on T and ``log(alpha + t_x)`` only on t_x. So
:class:`Triplets` also carries each coordinate's distinct levels and the index of each triplet's level.

Keys are compared as exact floating-point values (no rounding): two customers share a row only when
their three numbers are identical. Times are in the summary's unit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Triplets", "compress"]


@dataclass(frozen=True)
class Triplets:
    """Distinct (frequency, recency, T) rows of a customer summary.

    Attributes (m = number of distinct rows, n = number of customers):

    - ``frequency``, ``recency``, ``T``: (m,) float64, the distinct rows, sorted lexicographically by
      (frequency, T, recency, extra keys).
    - ``weight``: (m,) float64, the number of customers sharing each row (or the sum of the weights
      given to :func:`compress`).
    - ``inverse``: (n,) intp, each customer's row: per-row values map back as ``values[..., inverse]``.
    - ``x_levels`` (distinct frequencies, sorted), ``x_index`` ((m,) row -> level) and ``x_weight``
      (total weight per level); likewise ``T_levels``/``T_index`` and ``recency_levels``/``recency_index``.
    - ``extra``: the distinct values of any extra key columns, aligned with the rows.
    """

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    inverse: np.ndarray
    x_levels: np.ndarray
    x_index: np.ndarray
    x_weight: np.ndarray
    T_levels: np.ndarray
    T_index: np.ndarray
    recency_levels: np.ndarray
    recency_index: np.ndarray
    extra: tuple[np.ndarray, ...] = ()

    def __len__(self) -> int:
        return int(self.frequency.shape[0])

    @property
    def n_triplets(self) -> int:
        return len(self)

    @property
    def n_customers(self) -> int:
        return int(self.inverse.shape[0])

    @property
    def keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frequency, recency, T) of the distinct rows."""
        return self.frequency, self.recency, self.T

    def expand(self, values):
        """Per-row values (last axis of length m) mapped back to customers (last axis of length n)."""
        return np.asarray(values)[..., self.inverse]


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and the code of each element (hash-based: fast for millions of rows)."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(uniques, dtype=float)


def compress(frequency, recency, T, *extra_keys, weight=None) -> Triplets:
    """Compress customers to their distinct (frequency, recency, T[, extra keys]) rows.

    Parameters
    ----------
    frequency, recency, T: 1-D arrays of equal length n (repeat purchases; time of the last repeat
        purchase and time from the first purchase to the end of observation, in the summary's unit).
    extra_keys: further 1-D arrays that are part of the key (e.g. a holdout length per customer);
        their distinct values are returned in ``Triplets.extra``.
    weight: optional (n,) non-negative weights (e.g. ``n_customers`` of an already aggregated summary);
        the row weight is then the sum of the weights of the customers sharing it.

    Vectorised (hash factorisation of each column, then of the combined integer codes): about a
    second per 10 million customers. Values must be finite; -0.0 and 0.0 are the same key.
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in (frequency, recency, T, *extra_keys)]
    n = cols[0].shape[0]
    for name, c in zip(["frequency", "recency", "T"] + [f"extra_keys[{i}]" for i in range(len(extra_keys))], cols):
        if c.shape[0] != n:
            raise ValueError(f"compress: {name} has {c.shape[0]} values, frequency has {n}")
        if not np.all(np.isfinite(c)):
            raise ValueError(f"compress: {name} has missing or non-finite values")
    if weight is None:
        w = None
    else:
        w = np.asarray(weight, dtype=float).ravel()
        if w.shape[0] != n:
            raise ValueError(f"compress: weight has {w.shape[0]} values, frequency has {n}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("compress: weights must be finite and non-negative")
    cols = [c + 0.0 for c in cols]  # -0.0 + 0.0 == +0.0: one key for both zeros
    x, rec, t_obs = cols[0], cols[1], cols[2]
    x_code, x_levels = _factorize(x)
    T_code, T_levels = _factorize(t_obs)
    r_code, r_levels = _factorize(rec)
    extra_codes = [_factorize(c) for c in cols[3:]]
    # combine codes in lexicographic order (x, T, recency, extras); re-factorise after each step so the
    # mixed-radix int64 key never overflows, and sorting keeps the lexicographic order of the rows
    key = x_code.astype(np.int64)
    for code, levels in [(T_code, T_levels), (r_code, r_levels)] + extra_codes:
        key = key * np.int64(len(levels)) + code
        key, _ = pd.factorize(key, sort=True)
        key = key.astype(np.int64, copy=False)
    inverse = key.astype(np.intp, copy=False)
    m = int(inverse.max()) + 1 if n else 0
    # one representative customer per row (all customers of a row share its key, so any will do)
    rep = np.empty(m, dtype=np.intp)
    rep[inverse] = np.arange(n, dtype=np.intp)
    wt = np.bincount(inverse, weights=w, minlength=m).astype(float)
    x_index = x_code[rep]
    return Triplets(
        frequency=x_levels[x_index], recency=rec[rep], T=t_obs[rep], weight=wt, inverse=inverse,
        x_levels=x_levels, x_index=x_index, x_weight=np.bincount(x_index, weights=wt, minlength=len(x_levels)),
        T_levels=T_levels, T_index=T_code[rep], recency_levels=r_levels, recency_index=r_code[rep],
        extra=tuple(c[rep] for c in cols[3:]),
    )
