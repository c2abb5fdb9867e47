"""The data layer's layout: no import circle inside clvmodels/data, one lazy import up into spark/ (the
dispatcher's hook for engine='spark'), and the old import paths (data.summary, data.validate) still
give the same objects as the new homes."""
from __future__ import annotations

from ..imports import PACKAGE, imports, module_name

DATA = PACKAGE / "data"
#: what data/ may import from the rest of clvmodels at module level: the bottom layer
BELOW = ("clvmodels.errors", "clvmodels.units")


def _in_data(name: str) -> bool:
    return name == "clvmodels.data" or name.startswith("clvmodels.data.")


def test_data_has_no_import_circle_and_one_lazy_hook_into_spark():
    graph: dict[str, set[str]] = {}
    upward = []
    for path in sorted(DATA.glob("*.py")):
        module = module_name(path)
        graph[module] = set()
        for target, lazy in imports(path):
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
