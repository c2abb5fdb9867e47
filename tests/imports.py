"""The package's imports read from its source (ast), for the layout tests: each file's imports of
clvmodels modules, top-level and lazy (inside a function) alike."""
from __future__ import annotations

import ast
from pathlib import Path

import clvmodels

PACKAGE = Path(clvmodels.__file__).parent


def module_name(path: Path) -> str:
    """``clvmodels/models/bgnbd/__init__.py`` -> ``clvmodels.models.bgnbd``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported clvmodels module, lazy: inside a function) for every import of a file; ``from . import
    x`` counts as an import of the submodule x when there is one, else of the package."""
    module, is_package = module_name(path), path.name == "__init__.py"
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
                named = [f"{target}.{a.name}" for a in child.names if f"{target}.{a.name}" in MODULES]
                found.extend((t, inner) for t in (named or [target]))
            elif isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return [(t, lazy) for t, lazy in found if t == "clvmodels" or t.startswith("clvmodels.")]


def graph() -> dict[str, set[str]]:
    """Module -> the clvmodels modules it imports (each import resolved to the nearest module)."""
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        m = module_name(path)
        edges[m] = set()
        for t, _ in imports(path):
            while t not in MODULES and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in MODULES and t != m:
                edges[m].add(t)
    return edges
