"""Segments a marketer acts on.

- value tiers by predicted CLV: ``high value`` (top ``high_share`` of customers), ``medium value`` (the
  next ``medium_share``), ``low value`` (the rest);
- ``at risk``: customers with high past *or* predicted value (top ``risk_value_share`` by historical or
  predicted CLV) whose probability of being alive is below ``risk_p_alive``: the retention and rewards
  list. It takes precedence over the value tier.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("at risk", "high value", "medium value", "low value")


def value_segments(table: pd.DataFrame, *, high_share: float = 0.2, medium_share: float = 0.3,
                   risk_value_share: float = 0.3, risk_p_alive: float = 0.5) -> pd.Series:
    """Segment label per customer from columns ``clv``, ``p_alive`` and (if present) ``historical_clv``."""
    for c in ("clv", "p_alive"):
        if c not in table.columns:
            raise ValueError(f"value_segments needs a '{c}' column")
    if not (0 < high_share < 1 and 0 <= medium_share < 1 and high_share + medium_share <= 1):
        raise ValueError("high_share and medium_share must be fractions adding up to at most 1")
    n = len(table)
    # rank-based tiers: exactly the requested shares, ties broken by order (stable)
    rank = table["clv"].rank(method="first", ascending=False).to_numpy()
    tier = np.where(rank <= high_share * n, "high value",
                    np.where(rank <= (high_share + medium_share) * n, "medium value", "low value"))
    valuable = table["clv"].rank(method="first", ascending=False).to_numpy() <= risk_value_share * n
    if "historical_clv" in table.columns:
        valuable |= table["historical_clv"].rank(method="first", ascending=False).to_numpy() <= risk_value_share * n
    at_risk = valuable & (table["p_alive"].to_numpy() < risk_p_alive)
    seg = np.where(at_risk, "at risk", tier)
    return pd.Series(pd.Categorical(seg, categories=list(SEGMENTS)), index=table.index, name="segment")
