"""The models' layout: each model a package (math, likelihood, model), the shared numerics once in
models/numerics/, no import circle inside clvmodels/models, each fused Op registered with numba once and
by its own model's likelihood module, and the old import paths (models.bgnbd and models.gamma_gamma as
modules, models.special, models.likelihood_ops, models.bgnbd_model, models.gamma_gamma_model,
engine._select/_interval) still give the same objects as the new homes."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import clvmodels

from ..imports import PACKAGE, imports, module_name

MODELS = PACKAGE / "models"


def _defined(path: Path) -> set[str]:
    """Names a module defines at top level (functions, classes, assignments), not those it imports."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
    return names - {"__all__"}


def test_each_model_is_a_package_and_the_numerics_live_once():
    packages = model_packages()
    assert {"bgnbd", "gamma_gamma"} <= packages
    for model in packages:  # its mathematics, likelihood Op, scorer, estimator and generative story
        assert {p.name for p in (MODELS / model).glob("*.py")} == {"__init__.py", "math.py", "likelihood.py",
                                                                    "scoring.py", "model.py", "simulate.py"}, model
    assert {p.name for p in (MODELS / "numerics").glob("*.py")} == {"__init__.py", "special.py", "fused_op.py",
                                                                     "quantiles.py", "chebyshev.py", "cells_op.py",
                                                                     "generated.py"}
    # the old module paths are thin re-exports: they define nothing of their own
    for shim in ("special", "likelihood_ops", "bgnbd_model", "gamma_gamma_model"):
        assert _defined(MODELS / f"{shim}.py") <= {"__all__"}, shim
    # the numerics know no model: they import nothing from clvmodels
    for path in (MODELS / "numerics").glob("*.py"):  # the bottom of the package: numerics import only numerics
        assert all(m.startswith("clvmodels.models.numerics.") for m, _ in imports(path)), path.name


def test_models_have_no_import_circle():
    graph: dict[str, set[str]] = {}
    for path in sorted(MODELS.rglob("*.py")):
        module = module_name(path)
        graph[module] = {t for t, _ in imports(path) if t.startswith("clvmodels.models.") and t != module}

    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        assert node not in path, f"import circle: {' -> '.join(path[path.index(node):] + [node])}"
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, path + [node])
        done.add(node)

    for module in graph:
        visit(module, [])
    # a model's package reaches its siblings only through the shared parts; the one deliberate exception
    # is a variant built on its parent's kernels (MBG/NBD is the BG/NBD with a drop-out chance at time 0)
    packages = model_packages()
    builds_on = {"mbgnbd": {"bgnbd"}}
    for module, targets in graph.items():
        for model in packages:
            if module.startswith(f"clvmodels.models.{model}."):
                for other in packages - {model} - builds_on.get(model, set()):
                    assert not any(t.startswith(f"clvmodels.models.{other}") for t in targets), (module, targets)
    # a likelihood module stands on the shared Op machinery alone (a variant: and its parent's likelihood)
    for model in packages:
        mod = f"clvmodels.models.{model}.likelihood"
        allowed = {"clvmodels.models.numerics.fused_op"} | {f"clvmodels.models.{p}.likelihood" for p in builds_on.get(model, ())}
        assert "clvmodels.models.numerics.fused_op" in graph[mod] and graph[mod] <= allowed, (mod, graph[mod])


def model_packages() -> set[str]:
    """The model packages: folders of clvmodels/models with a likelihood.py."""
    return {p.parent.name for p in MODELS.glob("*/likelihood.py")}


def test_each_fused_op_is_registered_with_numba_once_by_its_own_module():
    from pytensor.link.numba.dispatch.basic import numba_funcify, numba_funcify_default_op_cache_key

    from clvmodels.models.bgnbd.likelihood import BetaGeoLogLike
    from clvmodels.models.gamma_gamma.likelihood import GammaGammaLogLike

    for op, home in ((BetaGeoLogLike, "clvmodels.models.bgnbd.likelihood"),
                     (GammaGammaLogLike, "clvmodels.models.gamma_gamma.likelihood")):
        assert numba_funcify_default_op_cache_key.dispatch(op).__module__ == home
        assert numba_funcify.dispatch(op).__module__ == home
    from clvmodels.models.numerics.fused_op import _FusedLogLike

    registering = {}
    for path in MODELS.rglob("*.py"):
        n = path.read_text().count("@register_funcify_default_op_cache_key(")
        if n:
            registering[module_name(path)] = n
    # one registration per fused Op, each in the likelihood module of the package that defines it (the
    # Gamma-Gamma package holds two: the plain Op and the frequency-scaled one)
    ops = {}
    for p in model_packages():
        module = importlib.import_module(f"clvmodels.models.{p}.likelihood")
        ops[module.__name__] = sum(isinstance(c, type) and issubclass(c, _FusedLogLike) and c.__module__ == module.__name__
                                   for c in vars(module).values())
    # and one more: the covariates' cells Op (numerics/cells_op.py), which runs any of those kernels once per
    # cell of customers sharing a covariate row, registered once for every model
    assert registering.pop("clvmodels.models.numerics.cells_op", 0) == 1
    assert registering == ops and all(n >= 1 for n in ops.values())
    assert {"bgnbd", "gamma_gamma"} <= model_packages()


def test_old_import_paths_give_the_new_objects():
    from clvmodels import engine
    from clvmodels.models import BetaGeoModel, GammaGammaModel, bgnbd, gamma_gamma
    from clvmodels.models.numerics import quantiles

    # models.bgnbd / models.gamma_gamma, once modules, are packages exporting every name the module had
    for package, model_class in ((bgnbd, BetaGeoModel), (gamma_gamma, GammaGammaModel)):
        math = importlib.import_module(f"{package.__name__}.math")
        for name in _defined(MODELS / package.__name__.rsplit(".", 1)[1] / "math.py"):
            assert getattr(package, name) is getattr(math, name), (package.__name__, name)
        assert set(math.__all__) < set(package.__all__)
        assert getattr(package, model_class.__name__) is model_class
    assert bgnbd.p_alive is bgnbd.math.p_alive and gamma_gamma.conditional_expected_spend is \
        gamma_gamma.math.conditional_expected_spend

    # the shims: every name of the old module, from its new home
    homes = {
        "special": ["numerics.special"],
        "bgnbd_model": ["bgnbd.model"],
        "gamma_gamma_model": ["gamma_gamma.model"],
        "likelihood_ops": ["numerics.fused_op", "bgnbd.likelihood", "gamma_gamma.likelihood"],
    }
    # the likelihood module's registration and cache key are per model now; the old single ones are gone
    not_kept = {"likelihood_ops": {"_register_numba", "_CACHE_VERSION", "cache_version",
                                   # the frequency-scaled spend Op came after the move
                                   "GammaGammaFrequencyLogLike", "gamma_gamma_frequency_loglike",
                                   "gamma_gamma_frequency_data", "_gamma_gamma_frequency_kernel",
                                   # the Ops' shared input check, added after the move (the cells Op uses it too)
                                   "op_inputs"},
                # added to the package after the move: the old module never had them
                "gamma_gamma_model": {"GammaGammaFrequencyModel", "_Scorers", "_class_or_instance_method",
                                      "_correlation", "spend_statistics"}}
    for shim_name, new in homes.items():
        shim = importlib.import_module(f"clvmodels.models.{shim_name}")
        for home_name in new:
            home = importlib.import_module(f"clvmodels.models.{home_name}")
            path = MODELS / (home_name.replace(".", "/") + ".py")
            for name in _defined(path) - not_kept.get(shim_name, set()):
                assert getattr(shim, name) is getattr(home, name), (shim_name, name)
    from clvmodels.models import likelihood_ops, special

    assert likelihood_ops.__all__ == ["digamma", "BetaGeoLogLike", "GammaGammaLogLike", "bgnbd_loglike",
                                      "gamma_gamma_loglike", "bgnbd_data", "gamma_gamma_data", "bin_spend"]
    assert special.__all__ == ["hyp2f1", "log_hyp2f1", "hyp2f1_scaled", "hyp2f1_series", "lbeta", "log1mexp",
                               "softplus"]
    # the private names other modules imported from the old paths
    from clvmodels.models.bgnbd import _alive_expected1, _count_bound_many  # noqa: F401
    from clvmodels.models.special import _NO_CONVERGENCE, _flat, _hyp2f1_1, _report  # noqa: F401

    # the engine's quantile selection, now in numerics/quantiles.py
    assert engine._interval is quantiles._interval and engine._select is quantiles._select
    # and the model classes are the ones the top-level package and the model-file registry find
    assert clvmodels.BetaGeoModel is BetaGeoModel and clvmodels.GammaGammaModel is GammaGammaModel
