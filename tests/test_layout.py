"""The package's shape, checked on its source: the import graph has no circle and exactly one upward
import (the data layer's lazy hook into the optional Spark extra), and no file outside a model's package
names that model's parameters."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "clvmodels"

#: the layers, bottom up: a module may import its own layer and those below
LAYERS = [
    {"", "errors", "units", "io", "predict", "datasets", "simulate"},
    {"data"},
    {"models"},
    {"engine", "scoring", "value", "pipeline", "validation"},
    {"plotting", "report"},
    {"cli", "spark"},
]
ALLOWED_UPWARD = {("clvmodels.data.summary", "clvmodels.spark.summary")}  # summarize(engine="spark"), lazy


def _modules() -> dict[str, Path]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    return mods


def _graph() -> dict[str, set[str]]:
    """Module -> clvmodels modules it imports, at the top or inside functions (lazy imports count)."""
    mods = _modules()
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        pkg = m if path.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = (pkg.split(".")[:len(pkg.split(".")) - node.level + 1] if node.level else [])
                mod = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t not in mods and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != m:
                    edges[m].add(t)
    return edges


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_no_import_circle():
    edges = _graph()
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
    upward = {(m, t) for m, ts in _graph().items() for t in ts if _layer(t) > _layer(m)}
    assert upward == ALLOWED_UPWARD


def test_model_parameters_are_named_only_inside_their_packages():
    # a parameter read from a mapping or unpacked by name: p["r"], params["alpha"], ("r", "alpha", "a", "b")
    patterns = {"bgnbd": re.compile(r"""\[["'](r|alpha|a|b)["']\]|["']alpha["'], ["']a["']"""),
                # ("v" alone is too common a column name to tell; a file reading the spend parameters reads p and q)
                "gamma_gamma": re.compile(r"""\[["'](p|q)["']\]|["']p["'], ["']q["'], ["']v["']""")}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for model, pattern in patterns.items():
            if rel.startswith(f"models/{model}/") or rel in (f"models/{model}_model.py", "simulate.py"):
                continue  # the model's own package, its old-path re-export, and the simulator of its story
            code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
            assert not pattern.search(code), (rel, pattern.search(code).group(0))
