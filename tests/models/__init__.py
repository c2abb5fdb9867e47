"""Tests of clvmodels.models (mirrors the package: a model's math, likelihood and class, the shared numerics)."""
