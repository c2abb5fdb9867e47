"""Holdout validation of value: predicted against actual spend over the holdout, per customer and in
total, with the coverage of a predictive interval of each customer's holdout spend.

The predicted spend is undiscounted: E[purchases in the holdout] x E[spend per transaction] per joint
posterior draw. Its interval must contain the *amount* a customer spends, not only its expectation, so it
is taken from the posterior predictive distribution, simulated per draw from the models' generative
stories: the purchase model's holdout count (``simulate_holdout`` of its scorer) and the spend model's
total given that count (``simulate_total``); see :mod:`clvmodels.models.protocol`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._renamed import renamed_keywords
from ..errors import InputError
from ..draws import DEFAULT_SCORING_DRAWS, chunk_rows, interval_bounds, joint_scorers
from .holdout import _holdout_length


def simulate_holdout_spend(purchases, spend, x, tx, T, mv, h: float, rng) -> np.ndarray:
    """One posterior-predictive draw of holdout spend per (draw, customer): arrays (S, n). ``purchases``
    and ``spend`` are the models' scorers (:mod:`clvmodels.models.protocol`), paired draw by draw."""
    y = purchases.simulate_holdout(x, tx, T, h, rng)
    return spend.simulate_total(y, x, mv, rng)


@renamed_keywords(bgnbd_model="purchase_model", gamma_gamma_model="spend_model")
def validate_spend(purchase_model, spend_model, summary: pd.DataFrame, *, interval: float = 0.9,
                   seed: int = 0, max_draws: int | None = DEFAULT_SCORING_DRAWS) -> dict[str, Any]:
    """Spend holdout metrics: ``spend_holdout_actual_total``, ``spend_holdout_predicted_total``,
    ``spend_interval_coverage`` (share of customers whose actual holdout spend lies inside the central
    predictive interval), ``spend_mae``; per-customer table in ``["table"]``."""
    if "spend_holdout" not in summary.columns:
        raise InputError("spend validation needs 'spend_holdout': build the summary with calibration_end")
    from ..models.base import check_data_unit

    bg, gg = purchase_model, spend_model
    check_data_unit(summary, bg.time_unit_, who="the models were")
    h = _holdout_length(summary)
    lo_q, hi_q = interval_bounds(interval)
    pb, pg = joint_scorers(bg, gg, max_draws)
    S = pb.n_draws
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
        e_y = pb.expected_purchases(x[sl], tx[sl], T[sl], h)
        e_z = pg.expected_spend(x[sl], mv[sl])
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
