"""Holdout validation of value: predicted against actual spend over the holdout, per customer and in
total, with the coverage of a predictive interval of each customer's holdout spend.

The predicted spend is undiscounted: E[purchases in the holdout] x E[spend per transaction] per joint
posterior draw. Its interval must contain the *amount* a customer spends, not only its expectation, so it
is taken from the posterior predictive distribution, simulated per draw from the models' generative
stories: the purchase model's holdout count (``simulate_holdout`` of its scorer) and the spend model's
total given that count (``simulate_total``); see :mod:`clvmodels.models.protocol`.

The spend model alone is judged on the *mean spend per transaction* in the holdout
(``monetary_value_holdout``) of the customers who bought there, one-time buyers of the calibration
period included: the posterior mean of the expected spend per transaction against the actual mean
(MAE, RMSE), and the coverage of the central predictive interval of the mean of the customer's
``frequency_holdout`` holdout purchases (her spend rate nu drawn from her posterior at each draw, the
mean of y purchases Gamma(p y, rate nu y)). This is what separates the spend models (``first_purchase``,
the frequency effect); the total holdout spend mixes in the purchase model's errors.
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
    predictive interval), ``spend_mae``; the spend model alone (see the module docstring):
    ``mean_spend_holdout`` (dict: ``customers`` with holdout purchases, ``mae``, ``rmse`` (currency
    units), ``coverage``, each also for ``one_time`` (frequency 0) and ``repeat`` buyers), and
    ``spend_model`` (its class, ``first_purchase``, ``frequency_effect``); per-customer table in
    ``["table"]`` (with ``mean_spend_holdout_predicted`` and its interval).

    Models with covariates (either or both): the customers go cell by cell (customers sharing every
    parameter of both models, :func:`clvmodels.scoring.table._model_cells`), each cell with its own pair
    of scorers at the same thinned joint draws; the per-customer numbers are put back in the summary's
    order and the total's interval comes from per-draw sums over all cells. A covariate missing, NaN or
    at a level the fits did not see raises :class:`InputError` naming the column and the customers."""
    if "spend_holdout" not in summary.columns:
        raise InputError("spend validation needs 'spend_holdout': build the summary with calibration_end")
    from ..models.base import check_data_unit

    bg, gg = purchase_model, spend_model
    check_data_unit(summary, bg.time_unit_, who="the models were")
    gg.check_data(summary, "summary to validate the spend on")
    h = _holdout_length(summary)
    lo_q, hi_q = interval_bounds(interval)
    from ..scoring.table import _model_cells

    # models with covariates: each cell of customers (one set of parameters in both models) with its own
    # pair of scorers, the results put back in the customers' order; without: one cell, every customer
    cells = _model_cells(bg, gg, summary, what="summary to validate the spend on")
    if cells is None:
        cells = [(np.arange(len(summary)), bg, gg)]
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    # the spend statistic the spend model's scorer takes (the mean of repeat purchases, or of all occasions)
    mv = (gg.spend_values(summary) if hasattr(gg, "spend_values")
          else np.where(x > 0, summary["monetary_value"].to_numpy(float), 0.0))
    y_h = summary["frequency_holdout"].to_numpy(float) if "frequency_holdout" in summary.columns else np.zeros(len(x))
    m_pred = np.empty(len(x))
    m_lower = np.empty(len(x))
    m_upper = np.empty(len(x))
    n = len(summary)
    pred = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    total_sim = None  # (S,): the simulated holdout spend of all customers at each joint draw
    rng = np.random.default_rng(seed)
    for pos, pm, sm in cells:
        pb, pg = joint_scorers(pm, sm, max_draws)
        S = pb.n_draws
        if total_sim is None:
            total_sim = np.zeros(S)
        elif S != len(total_sim):  # every cell model has its model's posterior shape: cannot happen
            raise RuntimeError(f"cells with {S} and {len(total_sim)} joint draws")
        step = chunk_rows(S, 12)
        for s0 in range(0, len(pos), step):
            sl = pos[s0:s0 + step]
            e_y = pb.expected_purchases(x[sl], tx[sl], T[sl], h)
            e_z = pg.expected_spend(x[sl], mv[sl])
            pred[sl] = (e_y * e_z).mean(axis=0)
            sim = simulate_holdout_spend(pb, pg, x[sl], tx[sl], T[sl], mv[sl], h, rng)
            # the total's interval: per-draw sums over customers (and cells), quantiles taken at the end
            total_sim += sim.sum(axis=1)
            q = np.quantile(sim, [lo_q, hi_q], axis=0)
            lower[sl], upper[sl] = q[0], q[1]
            # the mean of the y holdout purchases: total of y purchases / y (y = 0: the expectation alone)
            m_pred[sl] = e_z.mean(axis=0)
            y = y_h[sl]
            mean_sim = pg.simulate_total(np.broadcast_to(y, e_z.shape), x[sl], mv[sl], rng) / np.maximum(y, 1.0)
            q = np.quantile(mean_sim, [lo_q, hi_q], axis=0)
            m_lower[sl], m_upper[sl] = q[0], q[1]
    actual = summary["spend_holdout"].to_numpy(float)
    inside = (actual >= lower - 1e-9) & (actual <= upper + 1e-9)
    table = pd.DataFrame({"spend_holdout": actual, "spend_holdout_predicted": pred,
                          "spend_holdout_lower": lower, "spend_holdout_upper": upper,
                          "mean_spend_holdout_predicted": m_pred, "mean_spend_holdout_lower": m_lower,
                          "mean_spend_holdout_upper": m_upper}, index=summary.index)
    mean_spend = {}
    if "monetary_value_holdout" in summary.columns:
        bought = y_h > 0
        m_act = summary["monetary_value_holdout"].to_numpy(float)
        for name, sel in (("all", bought), ("one_time", bought & (x == 0)), ("repeat", bought & (x > 0))):
            err = m_pred[sel] - m_act[sel]
            inside_m = (m_act[sel] >= m_lower[sel] - 1e-9) & (m_act[sel] <= m_upper[sel] + 1e-9)
            k = int(sel.sum())
            mean_spend[name] = {"customers": k,
                                "mae": float(np.mean(np.abs(err))) if k else None,
                                "rmse": float(np.sqrt(np.mean(err ** 2))) if k else None,
                                "coverage": float(inside_m.mean()) if k else None}
        mean_spend = {**mean_spend.pop("all"), "one_time": mean_spend["one_time"], "repeat": mean_spend["repeat"]}
    return {
        "spend_holdout_actual_total": float(actual.sum()),
        "spend_holdout_predicted_total": float(pred.sum()),
        "spend_holdout_total_lower": float(np.quantile(total_sim, lo_q)),
        "spend_holdout_total_upper": float(np.quantile(total_sim, hi_q)),
        "spend_interval_coverage": float(inside.mean()),
        "spend_mae": float(np.mean(np.abs(pred - actual))),
        "mean_spend_holdout": mean_spend,
        "spend_model": {"model": type(gg).__name__, "first_purchase": bool(getattr(gg, "first_purchase", False)),
                        "frequency_effect": bool(getattr(gg, "frequency_effect", False))},
        "spend_params": {p: {"mean": float(r_["mean"]), "lower": float(r_["lower"]), "upper": float(r_["upper"])}
                         for p, r_ in gg.summary(interval).iterrows()},
        "spend_diagnostics": gg.diagnostics_.to_dict(),
        "table": table,
    }
