"""Segments a marketer acts on.

- value tiers by predicted CLV: ``high value`` (the top ``high_share`` of customers), ``medium value``
  (the next ``medium_share``), ``low value`` (the rest);
- ``at risk``: customers with high past *or* predicted value (top ``risk_value_share`` by historical or
  predicted CLV) who are unlikely to buy again soon: their probability of at least one purchase within
  the forecast horizon (``p_any_purchase``) is below ``risk_p_any_purchase``, or their probability of
  being alive below ``risk_p_alive``: the retention and rewards list. It takes precedence over the value
  tier. P(alive) alone cannot flag one-time buyers under BG/NBD, which says P(alive) = 1 for every
  customer without a repeat purchase however long ago she bought; ``p_any_purchase`` = P(alive) x
  P(a purchase within the horizon | alive) falls with the time since her purchase under every model.

Ties are never cut: the top share by a column is every customer whose value is at least the value of
the customer ranked at the cut (rank by ``method="min"``), so customers with identical summaries (hence
identical CLVs) always land in the same segment, and a tier holds the requested share of customers or
slightly more when a tie straddles the cut.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("at risk", "high value", "medium value", "low value")


def _top(values: pd.Series, share: float, n: int) -> np.ndarray:
    """True for the customers in the top ``share`` of ``n`` by ``values``, ties kept together: 1 + the
    number of strictly larger values is at most share * n."""
    return values.rank(method="min", ascending=False).to_numpy() <= share * n


def value_segments(table: pd.DataFrame, *, high_share: float = 0.2, medium_share: float = 0.3,
                   risk_value_share: float = 0.3, risk_p_alive: float = 0.5,
                   risk_p_any_purchase: float | None = 0.5) -> pd.Series:
    """Segment label per customer from columns ``clv``, ``p_alive`` and (if present) ``historical_clv``
    and ``p_any_purchase`` (see the module docstring). ``risk_p_any_purchase=None`` leaves
    ``p_any_purchase`` out of the rule (P(alive) alone, the rule before it existed)."""
    for c in ("clv", "p_alive"):
        if c not in table.columns:
            raise ValueError(f"value_segments needs a '{c}' column")
    if not (0 < high_share < 1 and 0 <= medium_share < 1 and high_share + medium_share <= 1):
        raise ValueError("high_share and medium_share must be fractions adding up to at most 1")
    for name, v in (("risk_p_alive", risk_p_alive), ("risk_p_any_purchase", risk_p_any_purchase)):
        if v is not None and not 0 <= v <= 1:
            raise ValueError(f"{name} is a probability threshold: it must be between 0 and 1, not {v}")
    n = len(table)
    tier = np.where(_top(table["clv"], high_share, n), "high value",
                    np.where(_top(table["clv"], high_share + medium_share, n), "medium value", "low value"))
    valuable = _top(table["clv"], risk_value_share, n)
    if "historical_clv" in table.columns:
        valuable |= _top(table["historical_clv"], risk_value_share, n)
    unlikely = table["p_alive"].to_numpy() < risk_p_alive
    if risk_p_any_purchase is not None and "p_any_purchase" in table.columns:
        unlikely |= table["p_any_purchase"].to_numpy() < risk_p_any_purchase
    seg = np.where(valuable & unlikely, "at risk", tier)
    return pd.Series(pd.Categorical(seg, categories=list(SEGMENTS)), index=table.index, name="segment")
