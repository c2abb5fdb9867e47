"""The data layer's layout: no import circle inside clvmodels/data, one lazy import up into spark/ (the
dispatcher's hook for engine='spark'), and the old import paths (data.summary, data.validate) still
give the same objects as the new homes."""
from __future__ import annotations

import ast
from pathlib import Path

import clvmodels

PACKAGE = Path(clvmodels.__file__).parent
DATA = PACKAGE / "data"
#: what data/ may import from the rest of clvmodels at module level: the bottom layer
BELOW = ("clvmodels.errors", "clvmodels.units")


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported clvmodels module, lazy: inside a function) for every import of a file."""
    module, is_package = _module(path), path.name == "__init__.py"
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    found: list[tuple[str, bool]] = []

    def visit(node, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")[: len(module.split(".")) - (child.level - 1) - (not is_package)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                named = [f"{target}.{a.name}" for a in child.names if f"{target}.{a.name}" in modules]
                found.extend((t, inner) for t in (named or [target]))
            elif isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return [(t, lazy) for t, lazy in found if t == "clvmodels" or t.startswith("clvmodels.")]


def _in_data(name: str) -> bool:
    return name == "clvmodels.data" or name.startswith("clvmodels.data.")


def test_data_has_no_import_circle_and_one_lazy_hook_into_spark():
    graph: dict[str, set[str]] = {}
    upward = []
    for path in sorted(DATA.glob("*.py")):
        module = _module(path)
        graph[module] = set()
        for target, lazy in _imports(path):
            if _in_data(target):
                if target != module:
                    graph[module].add(target)
            elif not target.startswith(BELOW):
                upward.append((module, target, lazy))
    assert upward == [("clvmodels.data.summary", "clvmodels.spark.summary", True)]

    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        assert node not in path, f"import circle: {' -> '.join(path[path.index(node):] + [node])}"
        if node in done:
            return
        for nxt in graph.get(node, ()):
            visit(nxt, path + [node])
        done.add(node)

    for module in graph:
        visit(module, [])
    # the contract and the shared rules import no engine and not the dispatcher
    assert graph["clvmodels.data.aggregates"] == set()
    assert graph["clvmodels.data.checks"] == set()


def test_old_import_paths_give_the_new_objects():
    from clvmodels.data import aggregates, checks, pandas_engine, summary, validate

    for name in ("CustomerAggregates", "finish_summary", "period_index", "warn_excluded", "SUMMARY_COLUMNS",
                 "HOLDOUT_COLUMNS", "WEEK_ORIGIN_DAY", "ExcludedCustomersWarning"):
        assert getattr(summary, name) is getattr(aggregates, name)
    assert summary.aggregate_pandas is pandas_engine.aggregate_pandas
    for name in validate.__all__:
        home = pandas_engine if hasattr(pandas_engine, name) and not hasattr(checks, name) else checks
        assert getattr(validate, name) is getattr(home, name), name
    assert {"check_frame", "parse_dates", "ParsedLog", "exact_money", "msg_bad_dates"} <= set(validate.__all__)
