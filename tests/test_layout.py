"""The package's shape, checked on its source: the import graph has no circle and exactly one upward
import (the data layer's lazy hook into the optional Spark extra), and no file outside a model's package
names that model's parameters."""
from __future__ import annotations

import re

from .imports import PACKAGE, graph


#: the layers, bottom up: a module may import its own layer and those below
LAYERS = [
    {"", "_renamed", "errors", "units", "io", "draws", "predict", "datasets"},
    {"data"},
    {"models", "simulate"},  # simulate: the models' stories (in their packages) composed
    {"engine", "scoring", "value", "pipeline", "validation", "warmup"},  # warmup: runs the pipeline (clv compile)
    {"plotting", "report"},
    {"cli", "spark", "integrations"},  # integrations: optional tools (MLflow) fed a finished run
]
ALLOWED_UPWARD = {("clvmodels.data.summary", "clvmodels.spark.summary")}  # summarize(engine="spark"), lazy


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in edges[m]:
            assert state.get(t) != 1, " -> ".join(path + [t])
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in edges:
        if m not in state:
            visit(m, [m])


def test_only_the_spark_hook_imports_upward():
    upward = {(m, t) for m, ts in graph().items() for t in ts if _layer(t) > _layer(m)}
    assert upward == ALLOWED_UPWARD


def test_model_parameters_are_named_only_inside_their_packages():
    # a parameter read from a mapping or unpacked by name: p["r"], params["alpha"], ("r", "alpha", "a", "b")
    # each pattern belongs to the packages of the models with those parameters (the BG/NBD and its
    # MBG/NBD variant share r, alpha, a, b)
    patterns = {("bgnbd", "mbgnbd"): re.compile(r"""\[["'](r|alpha|a|b)["']\]|["']alpha["'], ["']a["']"""),
                ("pareto_nbd",): re.compile(r"""\[["'](s|beta)["']\]|["']s["'], ["']beta["']"""),
                # ("v" alone is too common a column name to tell; a file reading the spend parameters reads p and q)
                ("gamma_gamma",): re.compile(r"""\[["'](p|q)["']\]|["']p["'], ["']q["'], ["']v["']""")}
    packages = {p.parent.name for p in (PACKAGE / "models").glob("*/likelihood.py")}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for models, pattern in patterns.items():
            if any(rel.startswith(f"models/{m}/") or rel == f"models/{m}_model.py" for m in models):
                continue  # the model's own package and its old-path re-export
            if any(rel.startswith(f"models/{m}/") for m in packages):
                continue  # another model's package: its own letters (the BG/NBD's latent drop-out p is not the spend's p)
            code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
            assert not pattern.search(code), (rel, pattern.search(code).group(0))
