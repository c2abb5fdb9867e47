"""The Python worker's cache of the broadcast models (clvmodels.spark.score._worker_models) is keyed by
a token made for each scoring call. A worker-side pyspark Broadcast has no ``id`` (it is rebuilt from
its file), so the old key fell back to ``id(bc)``, a memory address that a reused worker can give a
later call's broadcast: that call then scored with the earlier call's models (seen in the full suite:
a first-purchase spend model scored as the fitted plain one). No Spark needed."""
from __future__ import annotations

import clvmodels.spark.score as spark_score


class _WorkerBroadcast:
    """What a Python worker holds: ``value`` and no ``id``."""

    def __init__(self, value):
        self.value = value


def test_a_new_call_is_never_served_an_earlier_calls_models(monkeypatch):
    monkeypatch.setattr(spark_score, "models_from_bytes", lambda purchase, spend: (purchase, spend))
    monkeypatch.setattr(spark_score, "_MODEL_CACHE", {})
    bc = _WorkerBroadcast({"bgnbd": "bg-1", "gamma_gamma": "gg-1", "token": "call-1"})
    assert spark_score._worker_models(bc) == ("bg-1", "gg-1")
    assert spark_score._worker_models(bc) == ("bg-1", "gg-1")  # the same call: cached
    # the same object (same id()) now carrying another call's models, as a reused address would
    bc.value = {"bgnbd": "bg-2", "gamma_gamma": "gg-2", "token": "call-2"}
    assert spark_score._worker_models(bc) == ("bg-2", "gg-2")
    assert list(spark_score._MODEL_CACHE) == ["call-2"]  # one set of models per worker at a time
