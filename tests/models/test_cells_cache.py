"""The covariates' cells kernel cached on disk (clvmodels.models.numerics.cells_op through
clvmodels.models.numerics.generated, the helper the compiled posterior's callbacks use too): a fresh
interpreter loads each transaction model's cells kernel from numba's on-disk cache (numba's own hit and
miss counts), and what the loaded kernel computes, value and gradient per cell, is bit for bit what the
kernel compiled afresh from the same generated source (the code before the cache) computes. The cache key
follows the model's kernel version and the source. No timings here (benchmarks/README.md has them)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# each call: the three transaction models' cells kernels on 3 cells of simulated BG/NBD customers, with
# numba's cache statistics; "compare" also compiles the uncached kernel from the same source and runs it
_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba import njit
    from clvmodels.models.bgnbd.likelihood import BetaGeoLogLike, bgnbd_data
    from clvmodels.models.bgnbd.simulate import simulate_summary
    from clvmodels.models.mbgnbd.likelihood import ModifiedBetaGeoLogLike, mbgnbd_data
    from clvmodels.models.numerics import cells_op as co
    from clvmodels.models.pareto_nbd.likelihood import ParetoNBDLogLike, pnbd_data
    from clvmodels.models.transaction import summary_triplets, t0_mask

    n = 1500
    T = np.random.default_rng(2).uniform(20, 52, n).round()
    df = simulate_summary(n, 0.8, 8.0, 0.8, 3.0, T=T, seed=1)
    df["recency"] = df["recency"].round(2)
    df = df[~t0_mask(df)]
    params = [np.array([0.9, 0.7, 1.3]), np.array([7.0, 9.0, 5.5]), np.array([0.7, 0.9, 0.5]),
              np.array([2.5, 3.5, 1.5])]
    out = {}
    for op, make in ((BetaGeoLogLike, bgnbd_data), (ModifiedBetaGeoLogLike, mbgnbd_data),
                     (ParetoNBDLogLike, pnbd_data)):
        cells = [make(summary_triplets(df.iloc[i::3])) for i in range(3)]
        D = len(cells[0])
        off = np.zeros((D, 4), dtype=np.int64)
        arrays = []
        for j in range(D):
            off[j, 1:] = np.cumsum([c[j].size for c in cells])
            arrays.append(np.concatenate([c[j] for c in cells]))
        args = (*params, *arrays, off.ravel())
        kernel = co.cells_op(op)._kernel
        res = kernel(*args)
        entry = {"hits": sum(kernel.stats.cache_hits.values()), "misses": sum(kernel.stats.cache_misses.values()),
                 "value": float(res[0]).hex(), "grad": [[x.hex() for x in g.tolist()] for g in res[1:]]}
        if sys.argv[1] == "compare":  # the kernel as it was made before the cache: exec, njit, no cache
            env = {"np": np, "base": op._kernel}
            exec(co._kernel_source(len(params), D), env)
            old = njit(error_model="numpy", fastmath=False)(env["cells_kernel"])(*args)
            entry["before_value"] = float(old[0]).hex()
            entry["before_grad"] = [[x.hex() for x in g.tolist()] for g in old[1:]]
        out[op.__name__] = entry
    print(json.dumps(out))
""")


def _run(mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_a_fresh_interpreter_loads_the_cells_kernels_and_they_compute_what_the_uncached_ones_do():
    from pytensor.configdefaults import config

    if not config.numba__cache:
        pytest.skip("PyTensor's numba cache is off (config.numba__cache): nothing is cached on disk")
    first = _run("plain")  # compiles and writes the kernels, or finds them from an earlier run
    second = _run("compare")
    assert set(second) == {"BetaGeoLogLike", "ModifiedBetaGeoLogLike", "ParetoNBDLogLike"}
    for name, entry in second.items():
        # loaded from the disk, not compiled: one hit, no miss (numba's own counts)
        assert (entry["hits"], entry["misses"]) == (1, 0), name
        # bit for bit: the loaded kernel, the kernel compiled afresh from the source, the first process
        assert entry["value"] == entry["before_value"] == first[name]["value"], name
        assert entry["grad"] == entry["before_grad"] == first[name]["grad"], name
        value = float.fromhex(entry["value"])
        assert value < 0 and len(entry["grad"]) == 4 and all(len(g) == 3 for g in entry["grad"]), name
    # the three models' kernels differ (each cache entry holds its own model's kernel)
    assert len({e["value"] for e in second.values()}) == 3


def test_the_cache_key_follows_the_source_and_the_models_kernel_version(monkeypatch):
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    from clvmodels.models.bgnbd import likelihood as bg
    from clvmodels.models.mbgnbd import likelihood as mbg
    from clvmodels.models.numerics import cells_op as co
    from clvmodels.models.numerics.generated import source_function

    src = "def f(x):\n    return x + 1\n"
    f1, k1 = source_function(src, "f", {}, key="v1")
    f2, k2 = source_function(src, "f", {}, key="v2")
    f3, k3 = source_function(src.replace("+ 1", "+ 2"), "f", {}, key="v1")
    f4, k4 = source_function(src, "f", {}, key=None)
    assert f1(1) == 2 and f3(1) == 3
    assert len({k1, k2, k3}) == 3 and k4 is None
    assert CACHED_SRC_FUNCTIONS[f1] == k1 and f4 not in CACHED_SRC_FUNCTIONS
    assert source_function(src, "f", {}, key="v1")[1] == k1  # the same source and key: the same entry
    # the cells Op's version is its model module's registration version (MBG/NBD's folds the BG/NBD
    # likelihood file in, whose kernels it calls), combined with cells_op.py's
    v_bg, v_mbg = co._version(bg.BetaGeoLogLike), co._version(mbg.ModifiedBetaGeoLogLike)
    assert v_bg != v_mbg
    monkeypatch.setattr(mbg, "_CACHE_VERSION", mbg._CACHE_VERSION + 1)
    assert co._version(mbg.ModifiedBetaGeoLogLike) != v_mbg
    monkeypatch.setattr(co, "_OWN_VERSION", co._OWN_VERSION + 1)
    assert co._version(bg.BetaGeoLogLike) != v_bg
