"""Gamma-Gamma scoring: the expected spend per transaction at each posterior draw, for the forecast
engine (:mod:`clvmodels.scoring.arrays`), through the spend-model protocol (:mod:`clvmodels.models.protocol`).

E[spend | n, zbar] = p (v_i + n zbar) / (p n + q - 1) (Fader, Hardie & Lee 2005, "RFM and CLV", with n
transactions of mean zbar): the population mean p v_i/(q - 1) for a customer without transactions in
the mean, and the limit as zbar -> 0 for one whose transactions were all worth 0. q > 1 in every fitted
draw (the model's constraint), so the denominator is positive; a draw where it is not gives inf, which
the engine refuses.

Which transactions (``first_purchase``): False (the convention) averages the x repeat purchases
(n = x, ``mv`` = monetary_value, 0 when x = 0); True averages all x + 1 purchase occasions (n = x + 1,
``mv`` = their mean, so a one-time buyer's first purchase counts). The scale: v_i = v for the plain
Gamma-Gamma; with a frequency effect (a draw of ``gamma``), v_i = v (x + 1)^gamma, x + 1 the customer's
purchase occasions (see :class:`~clvmodels.models.gamma_gamma.model.GammaGammaFrequencyModel`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from . import math as _math


@njit(cache=True, error_model="numpy", parallel=True)
def _spend_kernel(p, q, v, gamma, x, mv, offset, use_gamma, out):
    """out[c, s] = p_s (v_cs + n_c zbar_c)/(p_s n_c + q_s - 1) with n_c = x_c + offset transactions in the
    mean, zbar_c = mv_c if n_c > 0 else 0, and the scale v_cs = v_s (x_c + 1)^gamma_s when ``use_gamma``,
    else v_s (the plain Gamma-Gamma: no exp per draw). One kernel for every configuration, so a first
    scoring run compiles (and caches) all of it."""
    S = p.size
    for c in prange(x.size):
        n = x[c] + offset
        z = mv[c] if n > 0.0 else 0.0
        lz = np.log(x[c] + 1.0)
        for s in range(S):
            den = p[s] * n + q[s] - 1.0
            vi = v[s] * np.exp(gamma[s] * lz) if use_gamma else v[s]
            out[c, s] = p[s] * (vi + n * z) / den if den > 0.0 else np.inf


@dataclass(frozen=True)
class GammaGammaDraws:
    """S posterior draws of (p, q, v) (and of ``gamma`` with a frequency effect), scored by the scoring
    computation through :meth:`spend`. ``first_purchase``: the spend statistic ``mv`` is the mean over
    all x + 1 purchase occasions (n = x + 1) instead of the x repeat purchases (n = x)."""

    p: np.ndarray
    q: np.ndarray
    v: np.ndarray
    gamma: np.ndarray | None = None
    first_purchase: bool = False

    @classmethod
    def from_mapping(cls, params, *, first_purchase: bool = False) -> "GammaGammaDraws":
        p, q, v = (np.ascontiguousarray(params[k], dtype=float) for k in ("p", "q", "v"))
        gamma = np.ascontiguousarray(params["gamma"], dtype=float) if "gamma" in params else None
        return cls(p, q, v, gamma, bool(first_purchase))

    def for_new_customers(self) -> "GammaGammaDraws":
        """The scorer of a customer not yet seen (x = 0, no purchase value observed): with
        ``first_purchase`` her first purchase would otherwise count as one worth 0. Her expected spend is
        the population mean p v/(q - 1) (the scale at x + 1 = 1 occasions: v)."""
        return GammaGammaDraws(self.p, self.q, self.v, self.gamma, False)

    @property
    def n_draws(self) -> int:
        return int(self.p.size)

    def spend(self, x, mv, out=None) -> np.ndarray:
        """(rows, S): expected spend per transaction of each row (frequency x, spend statistic mv),
        written into ``out`` when given (the engine reuses one buffer)."""
        x = np.ascontiguousarray(x, dtype=float)
        mv = np.ascontiguousarray(mv, dtype=float)
        if out is None:
            out = np.empty((len(x), self.n_draws))
        gamma = self.p if self.gamma is None else self.gamma  # not read without a frequency effect
        _spend_kernel(self.p, self.q, self.v, gamma, x, mv, 1.0 if self.first_purchase else 0.0,
                      self.gamma is not None, out)
        return out

    # -- the mathematics at these draws, for model-agnostic callers (validation, CLV reference) --------
    def _cols(self):
        def col(v):
            v = np.asarray(v, dtype=float)
            return v[:, None] if v.ndim == 1 else v
        return col(self.p), col(self.q), col(self.v)

    def _rows(self, x, mv):
        """(p, q, v_i, n, zbar) per (draw, row): the Gamma-Gamma's arguments for these customers."""
        p, q, v = self._cols()
        x = np.asarray(x, dtype=float)
        n = x + 1.0 if self.first_purchase else x
        if self.gamma is not None:
            g = np.asarray(self.gamma, dtype=float)
            v = v * np.exp((g[:, None] if g.ndim == 1 else g) * np.log(x + 1.0))
        return p, q, v, n, np.where(n > 0, np.asarray(mv, dtype=float), 0.0)

    def expected_spend(self, x, mv):
        """(S, rows): the conditional expected spend per transaction (as :meth:`spend`, draws first)."""
        return _math.conditional_expected_spend(*self._rows(x, mv))

    def simulate_total(self, y, x, mv, rng) -> np.ndarray:
        """One posterior-predictive draw of the total spend of y purchases per (draw, row): the
        customer's spend rate nu ~ Gamma(q + p n, v_i + n zbar) (her posterior), the total given y
        purchases Gamma(p y, nu). Arrays (S, rows)."""
        p, q, v, n, z = self._rows(x, mv)
        shape = np.broadcast_shapes(p.shape, np.shape(n), np.shape(y))
        nu = rng.gamma(q + p * n, 1.0 / (v + n * z), size=shape)
        total = np.zeros(shape)
        pos = y > 0
        sh = np.broadcast_to(p * y, shape)[pos]
        total[pos] = rng.gamma(sh, 1.0) / np.broadcast_to(nu, shape)[pos]
        return total
