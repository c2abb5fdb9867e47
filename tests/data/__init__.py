"""Tests of clvmodels.data (mirrors the package; the data files here are fixtures of other tests)."""
