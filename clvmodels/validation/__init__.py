"""Validation of fitted models on held-out data."""
from .holdout import pit_uniformity_pvalue, validate_purchases

__all__ = ["validate_purchases", "pit_uniformity_pvalue"]
