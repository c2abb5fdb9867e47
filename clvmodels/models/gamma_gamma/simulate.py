"""The Gamma-Gamma's generative story as a simulator (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis"): each transaction's value is Gamma(p, rate nu), with
``nu ~ Gamma(q, rate v)`` per customer, so a customer's mean spend is p/nu and the population's
p v/(q - 1) (currency units)."""
from __future__ import annotations

import numpy as np

__all__ = ["simulate_amounts"]


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
