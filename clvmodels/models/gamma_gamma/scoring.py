"""Gamma-Gamma scoring: the expected spend per transaction at each posterior draw, for the forecast
engine (:mod:`clvmodels.engine`), through the spend-model protocol (:mod:`clvmodels.models.protocol`).

E[spend | x, zbar] = p (v + x zbar) / (p x + q - 1) (Fader, Hardie & Lee 2005, "RFM and CLV"): the
population mean p v/(q - 1) for a customer without repeat purchases, and the limit as zbar -> 0 for
one whose repeat purchases were all worth 0. q > 1 in every fitted draw (the model's constraint), so
the denominator is positive; a draw where it is not gives inf, which the engine refuses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange


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
    """S posterior draws of (p, q, v), scored by the forecast engine through :meth:`spend`."""

    p: np.ndarray
    q: np.ndarray
    v: np.ndarray

    @classmethod
    def from_mapping(cls, params) -> "GammaGammaDraws":
        return cls(*(np.ascontiguousarray(params[k], dtype=float) for k in ("p", "q", "v")))

    @property
    def n_draws(self) -> int:
        return int(self.p.size)

    def spend(self, x, mv) -> np.ndarray:
        """(rows, S): expected spend per transaction of each row (frequency x, mean repeat spend mv)."""
        x = np.ascontiguousarray(x, dtype=float)
        mv = np.ascontiguousarray(mv, dtype=float)
        out = np.empty((len(x), self.n_draws))
        _spend_kernel(self.p, self.q, self.v, x, mv, out)
        return out
