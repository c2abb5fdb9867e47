r"""One fused likelihood node over cells of customers: the covariate models' likelihood.

A model with covariates splits its customers into *cells* (customers with the same covariate row, so
the same parameters; :mod:`clvmodels.models.covariates`). Its log-likelihood is the sum over cells of
the model's own fused likelihood (:class:`~clvmodels.models.numerics.fused_op._FusedLogLike`) of the
cell's distinct rows at the cell's parameters. :func:`cells_op` makes, for a model's Op, the Op that
does this in one node: its inputs are one (cells,) vector per parameter, the model's data arrays of
every cell concatenated, and one array of the cells' offsets into each of them; its numba kernel calls
the model's kernel on each cell's slices and returns the total and, per parameter, the vector of the
cells' partial derivatives. PyTensor then carries the gradient to the base parameters and the
coefficients (each cell's parameter is ``base * exp(sign * z_c . gamma)``).

Why one node and not one per cell: the data enter as shared variables
(:meth:`_FusedLogLike.total`'s design, kept), and a node per cell would make ten shared arrays per
cell: the compiled posterior's callback (:mod:`clvmodels.models.compiled`) calls PyTensor's function
with every shared array as an argument, and numba cannot compile a call of more than 30 arguments. Here
the number of arrays is the model's own plus one, whatever the number of cells. The cost of an
evaluation is the model's kernel over each cell's distinct rows: cells x distinct rows per cell.

The cells kernel's source is generated (its argument list depends on the model), so numba would compile
it again in every process; it is cached on disk instead, as the compiled posterior's callbacks are
(:func:`clvmodels.models.numerics.generated.source_function`), under a key made of its source and of the
model kernel's version (:func:`_version`).
"""
from __future__ import annotations

import hashlib
import importlib

import numpy as np
from numba import njit
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.type import TensorType

from .fused_op import _FusedLogLike, cache_version, op_inputs
from .generated import source_function

__all__ = ["cells_op", "cells_total"]

_scalar = TensorType("float64", shape=())
_vector = TensorType("float64", shape=(None,))
_made: dict[type, type] = {}
#: this file's part of every cells Op's cache version (the generated sources are written here)
_OWN_VERSION = cache_version(__file__)


def _kernel_source(P: int, D: int) -> str:
    """The cells kernel: for each cell c, the model's kernel on the cell's parameters and the slices
    ``d_j[off[j, c]:off[j, c + 1]]`` of each data array (``off`` flattened, D rows of cells + 1)."""
    ps = [f"p{i}" for i in range(P)]
    ds = [f"d{j}" for j in range(D)]
    lines = [f"def cells_kernel({', '.join(ps + ds)}, off):",
             "    n = p0.shape[0]",
             "    m = n + 1",
             "    val = 0.0"]
    lines += [f"    g{i} = np.zeros(n)" for i in range(P)]
    args = [f"p{i}[c]" for i in range(P)] + [f"d{j}[off[{j} * m + c]:off[{j} * m + c + 1]]" for j in range(D)]
    lines += ["    for c in range(n):",
              f"        res = base({', '.join(args)})",
              "        val += res[0]"]
    lines += [f"        g{i}[c] = res[{i + 1}]" for i in range(P)]
    lines += [f"    return val, {', '.join(f'g{i}' for i in range(P))}"]
    return "\n".join(lines) + "\n"


def _make_kernel(base_kernel, P: int, D: int, version: int):
    """The cells kernel around ``base_kernel``, cached on disk by numba (:mod:`.generated`): a later
    process that calls it from Python loads it rather than compiling it again (BG/NBD: 0.10 s against
    0.71 s, benchmarks/README.md; a fit's compiled graph loads the cells node from PyTensor's own cache
    and never calls it). ``version`` names the model's kernel, which the generated source calls but does
    not show: an edited kernel, another key."""
    env = {"__name__": __name__, "np": np, "base": base_kernel}
    fn, key = source_function(_kernel_source(P, D), "cells_kernel", env, key=f"cells kernel {version}")
    return njit(error_model="numpy", fastmath=False, cache=key is not None)(fn)


def _version(base: type) -> int:
    """The cache version of ``base``'s cells Op: the one its model's module registers its own Op with
    (``_CACHE_VERSION``: that file, the files its kernel calls into, fused_op.py) and this file."""
    module = importlib.import_module(base.__module__)
    model = getattr(module, "_CACHE_VERSION", None) or cache_version(module.__file__)
    return int(hashlib.sha256(f"{model} {_OWN_VERSION}".encode()).hexdigest()[:12], 16)


class _CellsLogLike(Op):
    """Inputs: one (cells,) float64 vector per parameter, the model's data arrays (cells concatenated),
    the (D * (cells + 1),) int64 offsets. Outputs: the total and one (cells,) gradient per parameter."""

    __props__ = ()
    base: type = None  # the model's _FusedLogLike subclass
    param_names: tuple[str, ...] = ()
    data_names: tuple[str, ...] = ()

    @staticmethod
    def _kernel(*args):  # pragma: no cover - set by cells_op
        raise NotImplementedError

    def make_node(self, *inputs):
        n, m = len(self.param_names), len(self.data_names) + 1
        if len(inputs) != n + m:
            raise TypeError(f"{type(self).__name__} takes {n + m} inputs, got {len(inputs)}")
        params, data = op_inputs(self, inputs, ndim=1, what="a vector (one per cell)")
        return Apply(self, params + data, [_scalar()] + [_vector() for _ in range(n)])

    def perform(self, node, inputs, output_storage):
        n = len(self.param_names)
        res = type(self)._kernel(*(np.asarray(v, dtype=np.float64) for v in inputs[:n]), *inputs[n:])
        for store, value in zip(output_storage, res):
            store[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node, input_shapes):
        return [()] + [input_shapes[0]] * len(self.param_names)

    # the same gradient rule as every fused Op (g times the derivative outputs, no second derivatives)
    connection_pattern = _FusedLogLike.connection_pattern
    pullback = _FusedLogLike.pullback


def _class_name(base: type) -> str:
    return f"Cells__{base.__module__.replace('.', '__')}__{base.__name__}"


def cells_op(base: type) -> type:
    """The cells Op of a model's fused Op class ``base`` (made once per process, registered with
    PyTensor's numba backend; importable by name from this module, so a pickled graph unpickles)."""
    if base in _made:
        return _made[base]
    P, D = len(base.param_names), len(base.data_names)
    version = _version(base)
    kernel = _make_kernel(base._kernel, P, D, version)
    name = _class_name(base)
    cls = type(name, (_CellsLogLike,), {"base": base, "param_names": base.param_names,
                                       "data_names": base.data_names, "_kernel": staticmethod(kernel),
                                       "__module__": __name__, "__qualname__": name})
    _register_numba(cls, kernel, P, D, version)
    _made[base] = cls
    globals()[name] = cls
    return cls


def __getattr__(name: str):
    """``Cells__<module>__<Op>``: the cells Op of that model Op (made on first use, e.g. on unpickling)."""
    if name.startswith("Cells__"):
        parts = name[len("Cells__"):].split("__")
        module, op = ".".join(parts[:-1]), parts[-1]
        return cells_op(getattr(importlib.import_module(module), op))
    raise AttributeError(name)


def _register_numba(cls, kernel, P: int, D: int, version: int) -> None:
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    ps = [f"p{i}" for i in range(P)]
    ds = [f"d{j}" for j in range(D)]
    src = "\n".join([
        f"def cells_loglike({', '.join(ps + ds)}, off):",
        f"    res = kernel({', '.join(ps + ds)}, off)",
        "    return (np.array(res[0]), " + ", ".join(f"res[{i + 1}]" for i in range(P)) + ")",
    ]) + "\n"

    @register_funcify_default_op_cache_key(cls)
    def _numba_cells(op, node=None, **kwargs):
        # not cached by itself: PyTensor caches the compiled graph that calls it (under ``version``)
        fn, _ = source_function(src, "cells_loglike", {"np": np, "kernel": kernel}, key=None)
        return numba_njit(fn), version


def cells_total(base: type, params: dict, data_cells: list[tuple], *, n_cells: int):
    """The total log-likelihood over cells as a PyTensor scalar: ``params`` per parameter of ``base``
    a (cells,) PyTensor vector, ``data_cells`` each cell's data arrays (the model's ``*_data``
    output), in cell order. The data enter as shared variables named ``<Op>.<data name>`` (as
    :meth:`_FusedLogLike.total`'s), the offsets as ``<Op>.cell_offsets``."""
    import pytensor

    cls = cells_op(base)
    D = len(base.data_names)
    arrays, offsets = [], np.zeros((D, n_cells + 1), dtype=np.int64)
    for j in range(D):
        parts = [np.ravel(np.asarray(cell[j])) for cell in data_cells]
        if any(np.ndim(cell[j]) > 1 for cell in data_cells):
            raise TypeError(f"{base.__name__}: data array {base.data_names[j]} is not one-dimensional")
        offsets[j, 1:] = np.cumsum([p.size for p in parts])
        dtype = np.result_type(*[p.dtype for p in parts])
        arrays.append(np.ascontiguousarray(np.concatenate(parts).astype(dtype, copy=False)))
    shared = [pytensor.shared(a, name=f"{cls.__name__}.{name}", shape=(None,))
              for name, a in zip(base.data_names, arrays)]
    shared.append(pytensor.shared(offsets.ravel(), name=f"{cls.__name__}.cell_offsets", shape=(None,)))
    return cls()(*(params[p] for p in base.param_names), *shared)[0]
