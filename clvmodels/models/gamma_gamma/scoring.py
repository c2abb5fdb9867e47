"""Gamma-Gamma scoring: the expected spend per transaction at each posterior draw, for the forecast
engine (:mod:`clvmodels.scoring.arrays`), through the spend-model protocol (:mod:`clvmodels.models.protocol`).

E[spend | x, zbar] = p (v + x zbar) / (p x + q - 1) (Fader, Hardie & Lee 2005, "RFM and CLV"): the
population mean p v/(q - 1) for a customer without repeat purchases, and the limit as zbar -> 0 for
one whose repeat purchases were all worth 0. q > 1 in every fitted draw (the model's constraint), so
the denominator is positive; a draw where it is not gives inf, which the engine refuses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from . import math as _math


@njit(cache=True, error_model="numpy", parallel=True)
def _spend_kernel(p, q, v, x, mv, out):
    """out[c, s] = p_s (v_s + x_c zbar_c)/(p_s x_c + q_s - 1), zbar_c = mv_c if x_c > 0 else 0."""
    S = p.size
    for c in prange(x.size):
        xc = x[c]
        z = mv[c] if xc > 0.0 else 0.0
        for s in range(S):
            den = p[s] * xc + q[s] - 1.0
            out[c, s] = p[s] * (v[s] + xc * z) / den if den > 0.0 else np.inf


@dataclass(frozen=True)
class GammaGammaDraws:
    """S posterior draws of (p, q, v), scored by the scoring computation through :meth:`spend`."""

    p: np.ndarray
    q: np.ndarray
    v: np.ndarray

    @classmethod
    def from_mapping(cls, params) -> "GammaGammaDraws":
        return cls(*(np.ascontiguousarray(params[k], dtype=float) for k in ("p", "q", "v")))

    @property
    def n_draws(self) -> int:
        return int(self.p.size)

    def spend(self, x, mv, out=None) -> np.ndarray:
        """(rows, S): expected spend per transaction of each row (frequency x, mean repeat spend mv),
        written into ``out`` when given (the engine reuses one buffer)."""
        x = np.ascontiguousarray(x, dtype=float)
        mv = np.ascontiguousarray(mv, dtype=float)
        if out is None:
            out = np.empty((len(x), self.n_draws))
        _spend_kernel(self.p, self.q, self.v, x, mv, out)
        return out

    # -- the mathematics at these draws, for model-agnostic callers (validation, CLV reference) --------
    def _cols(self):
        def col(v):
            v = np.asarray(v, dtype=float)
            return v[:, None] if v.ndim == 1 else v
        return col(self.p), col(self.q), col(self.v)

    def expected_spend(self, x, mv):
        """(S, rows): the conditional expected spend per transaction (as :meth:`spend`, draws first)."""
        return _math.conditional_expected_spend(*self._cols(), x, mv)

    def simulate_total(self, y, x, mv, rng) -> np.ndarray:
        """One posterior-predictive draw of the total spend of y purchases per (draw, row): the
        customer's spend rate nu ~ Gamma(q + p x, v + x zbar) (her posterior), the total given y
        purchases Gamma(p y, nu). Arrays (S, rows)."""
        p, q, v = self._cols()
        shape = np.broadcast_shapes(p.shape, np.shape(x), np.shape(y))
        nu = rng.gamma(q + p * x, 1.0 / (v + x * mv), size=shape)
        total = np.zeros(shape)
        pos = y > 0
        sh = np.broadcast_to(p * y, shape)[pos]
        total[pos] = rng.gamma(sh, 1.0) / np.broadcast_to(nu, shape)[pos]
        return total
