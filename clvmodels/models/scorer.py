"""What every transaction model's scorer shares: its draws as dataclass fields (the parameters, in the
paper's order) and the protocol's direct-formula methods as calls of the model's ``math`` module at
those draws.

A scorer is a frozen dataclass subclassing :class:`DrawsScorer` with one (S,) array per parameter and
``math`` set to the model's mathematics module, whose functions take the parameters first, in the
fields' order (``p_alive(r, alpha, a, b, frequency, recency, T)``). It writes only what is its own:
``score_triplets`` (the fast factorised path) and ``simulate_holdout`` (its story). Every method below
returns arrays shaped (S, rows): draws held as (S,) arrays are broadcast against the rows, draws already
shaped (S, 1) (as :func:`clvmodels.draws.reduce_over_draws` hands them) are used as they are.
"""
from __future__ import annotations

from dataclasses import fields
from types import ModuleType
from typing import ClassVar

import numpy as np


class DrawsScorer:
    #: the model's mathematics module (functions of the parameters, then the data)
    math: ClassVar[ModuleType]

    @classmethod
    def from_mapping(cls, params):
        """The scorer of a mapping parameter name -> draws."""
        return cls(*(np.ascontiguousarray(params[f.name], dtype=float) for f in fields(cls)))

    @property
    def n_draws(self) -> int:
        return int(np.shape(getattr(self, fields(self)[0].name))[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def _flat(self) -> tuple[np.ndarray, ...]:
        """The parameters as contiguous (S,) arrays (whether held as (S,) or (S, 1))."""
        return tuple(np.ascontiguousarray(np.ravel(getattr(self, f.name)), dtype=float) for f in fields(self))

    def _cols(self, extra: int = 0):
        """The parameters shaped (S, 1, ...) with ``1 + extra`` trailing axes, to broadcast against rows."""
        def col(v):
            v = np.asarray(v, dtype=float)
            return v.reshape(v.shape + (1,) * (1 + extra)) if v.ndim == 1 else v
        return tuple(col(getattr(self, f.name)) for f in fields(self))

    def p_alive(self, x, tx, T):
        """P(alive at T | x, t_x, T)."""
        return self.math.p_alive(*self._cols(), x, tx, T)

    def expected_purchases(self, x, tx, T, t, start: float = 0.0):
        """Conditional expected purchases in (T + start, T + t] (with a start, by the model's window
        formula, not as a difference of two)."""
        if np.any(np.asarray(start) != 0):
            return self.math.conditional_expected_purchases_window(*self._cols(), x, tx, T, start, t)
        return self.math.conditional_expected_purchases(*self._cols(), x, tx, T, t)

    def log_likelihood(self, x, tx, T):
        """Each row's log-likelihood at each draw, (S, rows); rows with T = 0 give 0."""
        return self.math.log_likelihood(*self._cols(), x, tx, T)

    def expected_purchases_new(self, t):
        """Expected purchases of a new customer in her first t periods."""
        return self.math.expected_purchases_new(*self._cols(), t)

    def future_p_alive(self, x, tx, T, h):
        """P(still alive at T + h | x, t_x, T)."""
        return self.math.future_p_alive(*self._cols(), x, tx, T, h)

    def purchases_pmf(self, x, tx, T, t, max_count: int):
        """P(Y(t) = k | x, t_x, T), k = 0..max_count: (S, rows, max_count + 1)."""
        return self.math.conditional_purchases_pmf(*self._cols(), x, tx, T, t, max_count)

    def count_upper_bound(self, x, tx, T, t, tail: float = 1e-10):
        """Per (draw, row) a count above which the purchases in (T, T + t] have mass below ``tail``
        (a rigorous bound)."""
        return self.math.purchases_count_upper_bound(*self._cols(), x, tx, T, t, tail=tail)

    def purchases_pmf_new(self, T, max_count: int, return_tail: bool = False):
        """P(X(T) = k) of a new customer observed for T, k = 0..max_count (and the mass beyond)."""
        return self.math.purchases_pmf_new(*self._cols(), T, max_count, return_tail=return_tail)

    def present_values(self, x, tx, T, k0: int, H: int, d: float, with_alive: bool = True):
        """Per draw and row: discounted expected purchases sum_k (E[Y(k)] - E[Y(k-1)]) d^k and discounted
        alive periods sum_k P(alive at T+k-1) d^k, k = k0+1..H, by the direct formulas (the scoring
        computation's reference). Shapes (S, rows). ``with_alive=False`` skips the second (only costs to
        serve use it)."""
        cols = self._cols(extra=1)
        ks = np.arange(k0, H + 1, dtype=float)[None, None, :]
        xx, txx, TT = (np.asarray(v, float)[None, :, None] for v in (x, tx, T))
        cum = self.math.conditional_expected_purchases(*cols, xx, txx, TT, ks)
        per_period = np.diff(cum, axis=2)                        # purchases in period k
        disc = d ** np.arange(k0 + 1, H + 1, dtype=float)        # end-of-period discount factors
        purchases_pv = per_period @ disc
        if not with_alive:
            return purchases_pv, np.zeros_like(purchases_pv)
        alive = self.math.future_p_alive(*cols, xx, txx, TT, ks[..., :-1])
        return purchases_pv, alive @ disc
