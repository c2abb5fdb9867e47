"""nutpie's compiled model of a PyMC model, loaded from disk in a fresh process and reused in memory for a
second fit of the same model.

Why not ``nutpie.compile_pymc_model`` alone. It builds two numba C callbacks around PyTensor's compiled
function on every call (the log density with its gradient, and the map from the unconstrained point to
the parameters), and numba keeps no cache of them: on the CDNOW sample that was 2.6 s of a 2.9 s BG/NBD
fit with warm caches (4.4 s cold), against 0.2 s of sampling, and a second fit in the same process paid
0.8 s again. Here:

- the model's data enter as shared variables (:meth:`~clvmodels.models.numerics.fused_op._FusedLogLike.total`),
  so PyTensor's compiled function does not depend on the data and its on-disk cache hits for any data set;
- the two C callbacks are generated here as source and cached on disk by numba, under a key made of
  PyTensor's own cache key of the function they call and of their source (PyTensor's cache locator, in
  ``~/.pytensor/numba``; :func:`clvmodels.models.numerics.generated.source_function`, which the
  covariates' cells kernel uses too), so a later process loads them in a fraction of a second;
- the compiled model is kept in memory under a :func:`fingerprint` of the model's graph with the data left
  out (priors, transforms, initial values and the likelihood's Ops are in it), and a later fit of the same
  model to other data swaps the arrays in (nutpie's ``with_data``) and only samples.

The callbacks compute exactly what nutpie's own do (the same PyTensor function; return codes 3 and 4 for a
non-finite gradient or value), which the tests check draw for draw. Where a step does not apply (a nutpie
whose internals differ, data that are not one-dimensional arrays, a PyTensor function without a cache key)
the model is compiled by ``nutpie.compile_pymc_model`` as before: slower, never wrong.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("clvmodels")

#: compiled models kept per process, most recently used last (each holds its functions and the arrays of
#: the data it was last given: a few MB at most, the distinct rows of one summary)
MAX_KEPT = 8
_kept: "OrderedDict[str, object]" = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Compiled:
    """What :func:`compile_model` returns: the nutpie model, how it was obtained and how long that took.

    ``source``: ``"reused"`` (kept in this process; only the data were swapped), ``"built"`` (compiled
    here; its callbacks loaded from or written to the on-disk cache, ``cache_hits`` says which) or
    ``"nutpie"`` (``nutpie.compile_pymc_model``, the fallback; ``reason`` says why)."""

    model: object
    source: str
    seconds: float
    cache_hits: int = 0
    reason: str = ""


class _NotApplicable(Exception):
    """This model cannot take the cached path; compile it with nutpie's own function."""


def clear() -> None:
    """Forget the compiled models kept in this process (the on-disk caches stay)."""
    with _lock:
        _kept.clear()


def compile_model(model, *, notice=None) -> Compiled:
    """nutpie's compiled model of the PyMC ``model``: reused when this process compiled the same model
    before (other data are swapped in), else built with cached callbacks, else nutpie's own compile.
    ``notice``: called once, before the work, when the model will be compiled rather than loaded (not in
    the on-disk cache, or nutpie's own compile), so the caller can say why the fit pauses."""
    start = time.perf_counter()
    key = fingerprint(model)
    if key is not None:
        with _lock:
            kept = _kept.get(key)
            if kept is not None:
                _kept.move_to_end(key)
        if kept is not None:
            compiled = _reuse(kept, model)
            return Compiled(compiled, "reused", time.perf_counter() - start)
    try:
        compiled, hits = _build(model, notice)
    except _NotApplicable as exc:
        import nutpie

        log.debug("compiling with nutpie.compile_pymc_model: %s", exc)
        if notice is not None:
            notice()
        return Compiled(nutpie.compile_pymc_model(model), "nutpie", time.perf_counter() - start, reason=str(exc))
    if key is not None:
        with _lock:
            _kept[key] = compiled
            while len(_kept) > MAX_KEPT:
                _kept.popitem(last=False)
    return Compiled(compiled, "built", time.perf_counter() - start, cache_hits=hits)


# -- the fingerprint: the model's graph without its data ------------------------------------------------
def _is_rng(var) -> bool:
    return "RandomGenerator" in type(var.type).__name__ or "RandomState" in type(var.type).__name__


def fingerprint(model) -> str | None:
    """A hash of everything in ``model`` that its compiled log density depends on, except the values of
    its shared data: the graphs of the free variables, potentials, observed and deterministic variables
    (every Op with its properties, every constant's bytes, every shared variable's name and type), the
    transforms, initial values, value variables, coordinates and dims. Two models with the same
    fingerprint compile to the same functions of (point, data). None when some part cannot be told
    reliably (an Op without ``__props__``, an object printed by address, two shared variables with one
    name): such a model is compiled afresh every time."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import toposort

    outputs = [*model.free_RVs, *model.potentials, *model.observed_RVs, *model.deterministics]
    h = hashlib.sha256()
    ids: dict = {}
    shared_names: set = set()

    def token(text: str) -> None:
        if " at 0x" in text:
            raise _NotApplicable(f"unstable description {text[:80]!r}")
        h.update(text.encode())
        h.update(b"\0")

    def root(var) -> None:
        if var in ids:
            return
        ids[var] = len(ids)
        if isinstance(var, Constant):
            data = np.asarray(var.data)
            token(f"const {var.type} {data.dtype} {data.shape}")
            h.update(hashlib.sha256(np.ascontiguousarray(data).tobytes()).digest())
        elif isinstance(var, SharedVariable):
            if _is_rng(var):
                token("rng")
            else:
                if var.name is None or var.name in shared_names:
                    raise _NotApplicable("shared variables without a unique name")
                shared_names.add(var.name)
                token(f"shared {var.name} {var.type}")
        else:
            token(f"input {var.name} {var.type}")

    try:
        for node in toposort(outputs):
            for inp in node.inputs:
                if inp.owner is None:
                    root(inp)
            op = node.op
            props = getattr(op, "__props__", None)
            if props is None:
                raise _NotApplicable(f"Op {type(op).__name__} has no __props__")
            token(f"op {type(op).__module__}.{type(op).__qualname__} {op._props()!r} "
                  f"{[ids[i] for i in node.inputs]}")
            for out in node.outputs:
                ids[out] = len(ids)
                token(f"out {out.name} {out.type}")
        for var in outputs:
            if var.owner is None:
                root(var)
            token(f"output {ids[var]} {var.name}")
        for rv in model.free_RVs:
            tr = model.rvs_to_transforms.get(rv)
            token(f"transform {rv.name} {_describe(tr)}")
            token(f"initval {rv.name} {model.rvs_to_initial_values.get(rv)!r}")
        token(f"values {[v.name for v in model.value_vars]}")
        token(f"coords {sorted((k, tuple(v) if v is not None else None) for k, v in model.coords.items())!r}")
        token(f"dims {sorted(model.named_vars_to_dims.items())!r}")
    except _NotApplicable as exc:
        log.debug("no fingerprint for this model (%s): it is compiled afresh", exc)
        return None
    return h.hexdigest()


def _reuse(kept, model):
    """The kept compiled model with ``model``'s shared values swapped in (data and prior parameters) and
    ``model``'s own initial points (they depend on the prior parameters: the support point, jittered)."""
    import dataclasses

    from nutpie.compile_pymc import _compute_shapes, _rv_dict_to_flat_array_wrapper, _wrap_with_lock

    shapes = _compute_shapes(model)
    names = [v.name for v in model.value_vars]
    initial_point = _rv_dict_to_flat_array_wrapper(
        _initial_point_fn(model, _wrap_with_lock), names=names, shapes=[shapes[n] for n in names])
    return dataclasses.replace(kept.with_data(**_data_updates(model, kept)), initial_point_func=initial_point)


def _initial_point_fn(model, wrap):
    """PyMC's initial points of ``model`` as nutpie's compile makes them: the support point, jittered."""
    from pymc.initial_point import make_initial_point_fn

    return wrap(make_initial_point_fn(model=model, default_strategy="support_point",
                                      jitter_rvs=set(model.free_RVs), return_transformed=True))


def _describe(obj) -> str:
    """A transform as text: its type and attributes, a function attribute (the Interval transform's
    bounds) by its name and the values it closes over."""
    if obj is None:
        return "None"
    parts = []
    for k, v in sorted(vars(obj).items()):
        if callable(v) and hasattr(v, "__code__"):
            cells = [c.cell_contents for c in (v.__closure__ or ())]
            v = f"{v.__qualname__}{cells!r}"
        parts.append(f"{k}={v!r}")
    return f"{type(obj).__qualname__}({', '.join(parts)})"


def _data_updates(model, kept) -> dict[str, np.ndarray]:
    """The new model's shared data, by name, for the compiled model's shared variables."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    outputs = [*model.free_RVs, *model.potentials, *model.observed_RVs, *model.deterministics]
    values = {v.name: v.get_value(borrow=True) for v in graph_inputs(outputs)
              if isinstance(v, SharedVariable) and not _is_rng(v)}
    return {var.name: values[var.name] for var in kept.shared_var_keys}


# -- building the callbacks -------------------------------------------------------------------------------
def _callback_source(name: str, n_dim: int, n_out: int, slots: list[tuple[int, np.dtype, int]], n_record: int,
                     logp: bool) -> str:
    """The C callback's Python source: it reads each data array from nutpie's user data (for
    arrays of at most one dimension a uint64 record that starts with the ``n_record`` addresses, then
    their sizes), calls the PyTensor function ``inner`` with the arrays at ``slots`` (record index, dtype,
    number of dimensions), in its own order of inputs, and writes its result where nutpie asks."""
    args = "".join(f", a{i}" for i in range(len(slots)))
    if logp:
        lines = [f"def {name}(dim, x_, out_, logp_, user_data_):",
                 f"    if dim != {n_dim}:",
                 "        return -1"]
    else:
        lines = [f"def {name}(dim, expanded, x_, out_, user_data_):",
                 f"    if dim != {n_dim} or expanded != {n_out}:",
                 "        return -1"]
    lines += ["    try:",
              f"        x = carray(x_, ({n_dim},))",
              f"        out = carray(out_, ({n_out},))"]
    if slots:
        lines.append(f"        record = carray(user_data_, ({2 * n_record},), np.uint64)")
    for i, (j, dt, ndim) in enumerate(slots):
        shape = f"(record[{n_record + j}],)" if ndim else "()"
        lines.append(f"        a{i} = carray(as_pointer(record[{j}]), {shape}, np.{dt.name})")
    if logp:
        lines += ["        logp = carray(logp_, ())",
                  f"        value, grad = inner(x{args})",
                  "        logp[()] = value",
                  "        finite = True",
                  f"        for i in range({n_out}):",
                  "            out[i] = grad[i]",
                  "            finite = finite and np.isfinite(grad[i])",
                  "        if not finite:",
                  "            return 3",
                  "        if not np.isfinite(value):",
                  "            return 4"]
    else:
        lines += [f"        (values,) = inner(x{args})",
                  f"        for i in range({n_out}):",
                  "            out[i] = values[i]"]
    lines += ["    except Exception:",
              "        return 1" if logp else "        return -2",
              "    return 0"]
    return "\n".join(lines) + "\n"


def _callback(name, fn_pt, n_dim, n_out, shared_var_keys, logp, notice=None):
    """One cached C callback around the compiled PyTensor function ``fn_pt``; (cfunc, cache hit).
    ``notice`` is called first when the callback is not in the on-disk cache (it will compile)."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    from .numerics.generated import source_function

    inner = fn_pt.vm.jit_fn
    order = list(shared_var_keys.values())
    slots = []
    for v in fn_pt.get_shared():
        value = np.asarray(v.get_value(borrow=True))
        slots.append((order.index(shared_var_keys[v]), value.dtype, value.ndim))
    src = _callback_source(name, n_dim, n_out, slots, len(order), logp)
    # the key names the PyTensor function the callback calls (its own cache key; none: not cached)
    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    fn, key = source_function(src, name, {"__name__": __name__, "carray": numba.carray, "np": np,
                                          "as_pointer": address_as_void_pointer, "inner": inner},
                              key=inner_key)
    cache = key is not None
    if notice is not None and not (cache and _in_disk_cache(fn)):
        notice()
    double_p = numba.types.CPointer(numba.types.double)
    if logp:
        sig = numba.types.int64(numba.types.uint64, double_p, double_p, double_p, numba.types.voidptr)
    else:
        sig = numba.types.int64(numba.types.uint64, numba.types.uint64, double_p, double_p, numba.types.voidptr)
    cfunc = numba.cfunc(sig, cache=cache)(fn)
    return cfunc, int(getattr(cfunc, "cache_hits", 0) or 0)


def _in_disk_cache(fn) -> bool:
    """Whether numba's on-disk cache has an entry for ``fn`` (so building its callback loads, not
    compiles); False when that cannot be told. (A name of this module so that tests can stand in for it.)"""
    from .numerics.generated import in_disk_cache

    return in_disk_cache(fn)


def _build(model, notice=None):
    """Compile ``model`` as nutpie's ``compile_pymc_model`` does, with cached callbacks; returns
    (CompiledPyMCModel, callbacks loaded from the disk cache)."""
    try:
        from nutpie.compile_pymc import (CompiledPyMCModel, _compute_shapes, _make_functions,
                                         _prepare_dims_and_coords, _rv_dict_to_flat_array_wrapper,
                                         _wrap_with_lock, make_user_data)
        del _compute_shapes, _rv_dict_to_flat_array_wrapper  # used by _reuse: present in this nutpie
    except ImportError as exc:  # another nutpie or PyMC: their internals moved
        raise _NotApplicable(f"nutpie internals not found ({exc})") from exc
    from uuid import uuid4

    initial_point_fn = _initial_point_fn(model, _wrap_with_lock)
    try:
        n_dim, n_expanded, logp_pt, expand_pt, initial_point, shape_info, reparameterized = _make_functions(
            model, mode="NUMBA", compute_grad=True, join_expanded=True, pymc_initial_point_fn=initial_point_fn,
            var_names=None)
    except TypeError as exc:  # another nutpie: another signature
        raise _NotApplicable(f"nutpie's _make_functions differs ({exc})") from exc
    shared_data, shared_var_keys = {}, {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        value = np.array(var.get_value(), order="C", copy=True)
        if value.ndim > 1:
            raise _NotApplicable(f"shared variable {var.name} has more than one dimension")
        value.flags.writeable = False
        shared_var_keys[var] = uuid4().hex
        shared_data[shared_var_keys[var]] = value
    user_data = make_user_data(shared_var_keys, shared_data)
    _check_record(user_data, shared_data)
    said = []

    def once():
        if notice is not None and not said:
            said.append(True)
            notice()

    logp_c, hit_logp = _callback("clv_logp", logp_pt, n_dim, n_dim, shared_var_keys, logp=True, notice=once)
    expand_c, hit_expand = _callback("clv_expand", expand_pt, n_dim, n_expanded, shared_var_keys, logp=False,
                                     notice=once)
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    compiled = CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_c, compiled_expand_func=expand_c, initial_point_func=initial_point,
        shared_data=shared_data, shared_var_keys=shared_var_keys, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_pt, expand_func=expand_pt, reparameterized_names=reparameterized)
    return compiled, hit_logp + hit_expand


def _check_record(user_data: np.ndarray, shared_data: dict[str, np.ndarray]) -> None:
    """The callbacks read nutpie's user data as a uint64 record that starts with the addresses and then
    the sizes of the shared arrays, in key order: check that this nutpie lays it out so, with the actual
    values."""
    arrays = list(shared_data.values())
    k = len(arrays)
    flat = np.frombuffer(user_data.tobytes(), dtype=np.uint64)
    expected = [a.ctypes.data for a in arrays] + [a.size for a in arrays]
    if flat.size < 2 * k or [int(v) for v in flat[:2 * k]] != expected:
        raise _NotApplicable("nutpie's user-data record is not laid out as expected")
