"""The Gamma-Gamma's generative story as a simulator (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis"): each transaction's value is Gamma(p, rate nu), with
``nu ~ Gamma(q, rate v)`` per customer, so a customer's mean spend is p/nu and the population's
p v/(q - 1) (currency units)."""
from __future__ import annotations

import numpy as np

__all__ = ["simulate_amounts", "simulate_spend_summary"]


def simulate_amounts(customer, n_customers: int, p: float, q: float, v: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Amounts of transactions made by ``customer`` (0-based customer index per transaction, each in
    0..n_customers-1): returns ``(amount, nu)``, the amount of each transaction and each customer's
    nu. Draws nu for every customer first, then the amounts, from the Generator ``rng``."""
    for k, val in (("p", p), ("q", q), ("v", v)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{k} must be a positive finite number, got {val!r}")
    customer = np.asarray(customer)
    nu = rng.gamma(q, 1.0 / v, int(n_customers))
    return rng.gamma(p, 1.0, customer.size) / nu[customer], nu


def simulate_spend_summary(frequency, p: float, q: float, v: float, gamma: float = 0.0, rng=None, *,
                           covariates=None, coefficients=None):
    """The spend columns of a summary for customers with the given ``frequency`` (repeat purchases x):
    each customer's nu ~ Gamma(q, rate v_i (x + 1)^gamma) (gamma = 0: the Gamma-Gamma; otherwise the scale
    of :class:`~clvmodels.models.gamma_gamma.model.GammaGammaFrequencyModel`), and each of her x + 1
    purchases Gamma(p, rate nu). Returns a DataFrame with ``frequency``, ``monetary_value`` (mean of the x
    repeat purchases, 0 when x = 0), ``first_purchase_value`` and ``nu`` (currency units; nu in 1/currency),
    and the ``covariates``' columns when given.

    ``covariates`` (a DataFrame, one row per customer) and ``coefficients`` (``{"spend_coefficient_v":
    {"segment=b": 0.4, "size": 0.3}}``): v_i = v exp(sum_j gamma_j z_ij) on the *raw* covariates (a numeric
    column as its value, ``col=level`` as the indicator of that level; see
    :func:`clvmodels.models.covariates.simulation_params`), so ``v`` is the scale of a customer with every
    covariate 0. Group scales (``group=``) are simulated the same way, one indicator per level."""
    import pandas as pd

    from ..covariates import simulation_params

    for k, val in (("p", p), ("q", q), ("v", v)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{k} must be a positive finite number, got {val!r}")
    if not np.isfinite(gamma):
        raise ValueError(f"gamma must be a finite number, got {gamma!r}")
    rng = np.random.default_rng(rng)
    x = np.asarray(frequency, dtype=np.int64)
    if np.any(x < 0):
        raise ValueError("frequency must be 0 or more")
    vi = simulation_params({"v": v}, covariates, coefficients, {"v": 1.0}, x.size)["v"]
    nu = rng.gamma(q, 1.0 / (vi * (x + 1.0) ** gamma))
    first = rng.gamma(p, 1.0, x.size) / nu
    # the sum of x Gamma(p, nu) amounts is Gamma(p x, nu)
    repeat_sum = np.where(x > 0, rng.gamma(np.maximum(p * x, 1e-300), 1.0) / nu, 0.0)
    out = pd.DataFrame({"frequency": x, "monetary_value": np.where(x > 0, repeat_sum / np.maximum(x, 1), 0.0),
                        "first_purchase_value": first, "nu": nu})
    if covariates is not None:
        for c in covariates.columns:
            out[c] = covariates[c].to_numpy()
    return out
