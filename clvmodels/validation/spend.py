"""Holdout validation of value: predicted against actual spend over the holdout, per customer and in
total, with the coverage of a predictive interval of each customer's holdout spend.

The predicted spend is undiscounted: E[purchases in the holdout] x E[spend per transaction] per joint
posterior draw. Its interval must contain the *amount* a customer spends, not only its expectation, so it
is taken from the posterior predictive distribution, simulated per draw from the generative stories:
alive at T with P(alive); lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x) given alive; the
holdout count is min(Poisson(lambda h), Geometric(p)) (the purchase after which the customer drops out
still happens); the customer's spend rate nu ~ Gamma(q + p x, v + x zbar) (the Gamma-Gamma posterior);
the holdout total given Y purchases is Gamma(p Y, nu).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..models import bgnbd, gamma_gamma
from ..predict import DEFAULT_SCORING_DRAWS, chunk_rows, interval_bounds
from ..value.clv import joint_draws
from .holdout import _holdout_length


def simulate_holdout_spend(pb: dict, pg: dict, x, tx, T, mv, h: float, rng) -> np.ndarray:
    """One posterior-predictive draw of holdout spend per (draw, customer): arrays (S, n)."""
    r, alpha, a, b = pb["r"], pb["alpha"], pb["a"], pb["b"]
    p, q, v = pg["p"], pg["q"], pg["v"]
    shape = np.broadcast_shapes(r.shape, x.shape)
    alive = rng.uniform(size=shape) < bgnbd.p_alive(r, alpha, a, b, x, tx, T)
    lam = rng.gamma(r + x, 1.0 / (alpha + T), size=shape)
    drop = rng.beta(a * np.ones(shape), b + x)
    n_potential = rng.poisson(lam * h)
    n_until_drop = rng.geometric(np.clip(drop, 1e-12, 1.0))
    y = np.where(alive, np.minimum(n_potential, n_until_drop), 0)
    nu = rng.gamma(q + p * x, 1.0 / (v + x * mv), size=shape)
    total = np.zeros(shape)
    pos = y > 0
    sh = np.broadcast_to(p * y, shape)[pos]
    total[pos] = rng.gamma(sh, 1.0) / np.broadcast_to(nu, shape)[pos]
    return total


def validate_spend(bgnbd_model, gamma_gamma_model, summary: pd.DataFrame, *, interval: float = 0.9,
                   seed: int = 0, max_draws: int | None = DEFAULT_SCORING_DRAWS) -> dict[str, Any]:
    """Spend holdout metrics: ``spend_holdout_actual_total``, ``spend_holdout_predicted_total``,
    ``spend_interval_coverage`` (share of customers whose actual holdout spend lies inside the central
    predictive interval), ``spend_mae``; per-customer table in ``["table"]``."""
    if "spend_holdout" not in summary.columns:
        raise InputError("spend validation needs 'spend_holdout': build the summary with calibration_end")
    from ..models.base import check_data_unit

    bg, gg = bgnbd_model, gamma_gamma_model
    check_data_unit(summary, bg.time_unit_, who="the models were")
    h = _holdout_length(summary)
    lo_q, hi_q = interval_bounds(interval)
    draws_bg, draws_gg = joint_draws(bg, gg, max_draws)
    S = len(draws_bg["r"])
    pb = {k: v[:, None] for k, v in draws_bg.items()}
    pg = {k: v[:, None] for k, v in draws_gg.items()}
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    mv = np.where(x > 0, summary["monetary_value"].to_numpy(float), 0.0)
    n = len(summary)
    pred = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    rng = np.random.default_rng(seed)
    step = chunk_rows(S, 12)
    for s0 in range(0, n, step):
        sl = slice(s0, s0 + step)
        e_y = bgnbd.conditional_expected_purchases(pb["r"], pb["alpha"], pb["a"], pb["b"], x[sl], tx[sl], T[sl], h)
        e_z = gamma_gamma.conditional_expected_spend(pg["p"], pg["q"], pg["v"], x[sl], mv[sl])
        pred[sl] = (e_y * e_z).mean(axis=0)
        sim = simulate_holdout_spend(pb, pg, x[sl], tx[sl], T[sl], mv[sl], h, rng)
        q = np.quantile(sim, [lo_q, hi_q], axis=0)
        lower[sl], upper[sl] = q[0], q[1]
    actual = summary["spend_holdout"].to_numpy(float)
    inside = (actual >= lower - 1e-9) & (actual <= upper + 1e-9)
    table = pd.DataFrame({"spend_holdout": actual, "spend_holdout_predicted": pred,
                          "spend_holdout_lower": lower, "spend_holdout_upper": upper}, index=summary.index)
    return {
        "spend_holdout_actual_total": float(actual.sum()),
        "spend_holdout_predicted_total": float(pred.sum()),
        "spend_interval_coverage": float(inside.mean()),
        "spend_mae": float(np.mean(np.abs(pred - actual))),
        "spend_params": {p: {"mean": float(r_["mean"]), "lower": float(r_["lower"]), "upper": float(r_["upper"])}
                         for p, r_ in gg.summary(interval).iterrows()},
        "spend_diagnostics": gg.diagnostics_.to_dict(),
        "table": table,
    }
