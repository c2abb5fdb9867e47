r"""The machinery every fused log-likelihood Op shares: numerics that numba vectorises and the Op base.

Why fused Ops. PyTensor differentiates a likelihood graph node by node: every gather ``v[idx]`` of a
per-level quantity becomes a scatter-add in the gradient, every elementwise step keeps its own
temporary, and a logp + gradient evaluation walks the data several times. For the BG/NBD on 340
thousand distinct triplets that cost 30 to 50 ns per triplet and gradient (numba backend, 10 to 17 ms).
A model's fused Op instead computes the total weighted log-likelihood *and* its gradient with respect
to the model's parameters in one single-threaded numba loop over the data (no ``prange``: nutpie
already runs the chains in parallel threads), with the derivatives written out by hand: about 8 ns
per triplet (3 ms) for the BG/NBD. Each model's kernel, data preparation and Op live in its own
package (:mod:`clvmodels.models.bgnbd.likelihood`, :mod:`clvmodels.models.gamma_gamma.likelihood`);
this module holds what they share:

- :func:`digamma` (within 1e-14 relative of ``scipy.special.digamma``), for the gradients of the
  log-gamma terms;
- :func:`_exp_nonpos` and :func:`_log1p_unit`: polynomial exp and log1p (within 2 units in the last
  place of libm) that LLVM vectorises, where libm's pair would cost about 10 ns per element, with the
  llvmlite intrinsics that build 2^k from its exponent bits;
- :class:`_FusedLogLike`, the Op base. An Op takes the parameters (float64 scalars) and the data
  (arrays prepared once by the model's ``*_data`` function, entering as shared variables through
  :meth:`_FusedLogLike.total`, so the compiled posterior does not depend on them) and has ``1 + n_params`` scalar
  outputs: the value and its partial derivatives. Its gradient is ``g * d_output`` for each parameter
  (and disconnected for the data), so a compiled logp + dlogp function applies the node once and reads
  both value and gradient from it. Second derivatives are not implemented: differentiating one of the
  derivative outputs raises PyTensor's ``NullTypeGradError`` (NUTS, nutpie and L-BFGS need first
  derivatives only);
- :func:`cache_version`, for the numba registration.

Backends. ``perform`` calls the model's numba kernel from Python (PyTensor's C/Python linkers,
``FAST_COMPILE``); for the numba linker (nutpie, PyMC's own sampler and PyTensor's default
``FAST_RUN`` mode in PyTensor 3) each likelihood module registers its own Op's kernel with
:func:`pytensor.link.numba.dispatch.basic.register_funcify_default_op_cache_key`, so the compiled logp
function calls it natively (no object mode). The registration's cache key is :func:`cache_version` of
that module (a hash of it and of this file), so PyTensor's on-disk cache of compiled graphs never
reuses a stale kernel.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.type import TensorType

__all__ = ["digamma", "cache_version"]

_JIT = dict(cache=True, error_model="numpy", fastmath=False)

# -- digamma ----------------------------------------------------------------------------------------
#: the positive root of digamma, as a double (hi) plus the rest (lo)
_ROOT_HI = 1.4616321449683622
_ROOT_LO = 9.549995429965697e-17  # x0 = 1.461632144968362341262659542325721328468...
#: Taylor coefficients psi^(k)(x0)/k! at the root x0, k = 1..26 (mpmath, 50 digits); they shrink like
#: 0.684^k, so within |x - x0| < 1/4 the omitted terms are below 1e-17 of the value
_ROOT_TAYLOR = np.array([
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928, -0.0015769367714301972,
    0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602, -0.0003454680251063077,
    0.00023635601564027053, -0.00016170622091974803, 0.0001106337276874741, -7.569179582195066e-05,
    5.178575795222081e-05, -3.5430070947659604e-05,
])


@njit(**_JIT)
def digamma(x):
    """psi(x) = d log Gamma(x) / dx for real x (nan at 0, -1, -2, ...).

    x >= 10: the asymptotic series log x - 1/(2x) - sum_k B_2k / (2k x^2k) through x^-14 (the first
    omitted term is below 5e-17 there); smaller x: the recurrence psi(x) = psi(x + 1) - 1/x up to 10;
    x < 0: the reflection psi(x) = psi(1 - x) - pi / tan(pi x). Within 1/4 of the positive root
    x0 = 1.4616..., where the recurrence's sum cancels, a 26-term Taylor series about x0 keeps the
    relative accuracy. Relative error against scipy.special.digamma below 1e-14
    (tests/models/test_likelihood_ops.py).
    """
    if x != x:
        return x
    if x <= 0.0:
        if x == math.floor(x):
            return math.nan
        return digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    t = (x - _ROOT_HI) - _ROOT_LO
    if abs(t) < 0.25:
        acc = 0.0
        for k in range(_ROOT_TAYLOR.size - 1, -1, -1):
            acc = acc * t + _ROOT_TAYLOR[k]
        return acc * t
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    inv = 1.0 / x
    z = inv * inv
    series = z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (
        691.0 / 32760 - z / 12.0))))))
    return acc + math.log(x) - 0.5 * inv - series


@njit(**_JIT)
def _digamma_many(x, out):
    for i in range(x.size):
        out[i] = digamma(x[i])


# -- exp and log1p that vectorise ------------------------------------------------------------------
# numba calls libm's exp and log1p one element at a time (about 10 ns for the pair). Written out as
# polynomials with the scaling by 2^k done on the bits, LLVM runs them four lanes at a time (AVX2)
# for about a third of that. Both are within 2 units in the last place of libm on their domains.
@intrinsic
def _bits_to_float(typingctx, v):
    if not isinstance(v, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, v):
    if not isinstance(v, types.Float):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of log 2: k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2^52: (u + _ROUND) - _ROUND rounds u to the nearest integer
_BIASED = 4503599627370496.0 + 1023.0  # 2^52 + exponent bias: the low bits of k + _BIASED hold k + 1023


@njit(inline="always", **_JIT)
def _exp_nonpos(y):
    """exp(y) for y <= 0 (arguments below -708 are taken as -708: exp(-708) = 3e-308 stands in for
    anything smaller). Cody-Waite reduction y = k log 2 + r, |r| <= log(2)/2, the degree-13 Taylor
    polynomial of exp(r) (truncation below 5e-18 relative) and 2^k built from its exponent bits."""
    y = max(y, -708.0)
    k = (y * _LOG2E + _ROUND) - _ROUND
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_to_float(_float_to_bits(k + _BIASED) << 52)


@njit(inline="always", **_JIT)
def _log1p_unit(e):
    """log(1 + e) for 0 <= e <= 1: 2 atanh(s), s = e / (2 + e) <= 1/3 (no cancellation), by its
    series 2 s sum_k s^2k / (2k + 1) through k = 17 (truncation below 2e-18 relative)."""
    s = e / (2.0 + e)
    z = s * s
    p = 1.0 / 35
    p = p * z + 1.0 / 33
    p = p * z + 1.0 / 31
    p = p * z + 1.0 / 29
    p = p * z + 1.0 / 27
    p = p * z + 1.0 / 25
    p = p * z + 1.0 / 23
    p = p * z + 1.0 / 21
    p = p * z + 1.0 / 19
    p = p * z + 1.0 / 17
    p = p * z + 1.0 / 15
    p = p * z + 1.0 / 13
    p = p * z + 1.0 / 11
    p = p * z + 1.0 / 9
    p = p * z + 1.0 / 7
    p = p * z + 1.0 / 5
    p = p * z + 1.0 / 3
    return 2.0 * s + (2.0 * s) * (z * p)


# -- the Op base -------------------------------------------------------------------------------------
_scalar = TensorType("float64", shape=())


def op_inputs(op, inputs, *, ndim: int, what: str):
    """An Op's (parameters, data) as tensors: the first ``len(op.param_names)`` inputs, each of ``ndim``
    dimensions (else ``TypeError`` naming it as ``what``) and cast to float64, then the data."""
    n = len(op.param_names)
    params = []
    for name, v in zip(op.param_names, inputs[:n]):
        v = pt.as_tensor_variable(v)
        if v.ndim != ndim:
            raise TypeError(f"{type(op).__name__}: parameter {name} must be {what}, got ndim={v.ndim}")
        params.append(v if v.dtype == "float64" else pt.cast(v, "float64"))
    return params, [pt.as_tensor_variable(d) for d in inputs[n:]]


class _FusedLogLike(Op):
    """Base: inputs (params..., data...), outputs (value, d value / d param for each param)."""

    __props__ = ()
    param_names: tuple[str, ...] = ()
    data_names: tuple[str, ...] = ()

    @staticmethod
    def _kernel(*args):  # pragma: no cover - set by subclasses
        raise NotImplementedError

    @classmethod
    def total(cls, *params, data):
        """The total weighted log-likelihood as a PyTensor scalar of ``params``; ``data``, the arrays of
        the model's ``*_data`` function, enter as shared variables named ``<Op>.<data name>``.

        Why shared variables and not constants: the compiled log density is then a function of the
        parameters *and* the data, so its on-disk compilation cache (PyTensor's and the sampler
        callbacks', :mod:`clvmodels.models.compiled`) hits for any data set, and a model compiled once in
        a process is refitted to other data by swapping the arrays in."""
        import pytensor

        if len(data) != len(cls.data_names):
            raise TypeError(f"{cls.__name__} takes {len(cls.data_names)} data arrays, got {len(data)}")
        shared = [pytensor.shared(np.ascontiguousarray(d), name=f"{cls.__name__}.{name}",
                                  shape=(None,) * np.ndim(d))
                  for name, d in zip(cls.data_names, data)]
        return cls()(*params, *shared)[0]

    def make_node(self, *inputs):
        n, m = len(self.param_names), len(self.data_names)
        if len(inputs) != n + m:
            names = ", ".join(self.param_names + self.data_names)
            raise TypeError(f"{type(self).__name__} takes {n + m} inputs ({names}), got {len(inputs)}")
        params, data = op_inputs(self, inputs, ndim=0, what="a scalar")
        return Apply(self, params + data, [_scalar() for _ in range(n + 1)])

    def perform(self, node, inputs, output_storage):
        n = len(self.param_names)
        res = type(self)._kernel(*(float(v) for v in inputs[:n]), *inputs[n:])
        for store, value in zip(output_storage, res):
            store[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node, input_shapes):
        return [()] * len(node.outputs)

    def connection_pattern(self, node):
        n, k = len(self.param_names), len(node.outputs)
        return [[True] * k for _ in range(n)] + [[False] * k for _ in range(len(node.inputs) - n)]

    def pullback(self, inputs, outputs, cotangents):
        """d cost / d param = g * (d value / d param), g the cotangent of the value. The derivative
        outputs have no gradient of their own (no second derivatives): asking for one is an error."""
        n = len(self.param_names)
        g = cotangents[0]
        second = [not isinstance(c.type, DisconnectedType) for c in cotangents[1:]]
        out = []
        for i in range(n):
            if any(second):
                out.append(grad_not_implemented(
                    self, i, inputs[i], "second derivatives of the fused log-likelihood are not implemented"))
            elif isinstance(g.type, DisconnectedType):
                out.append(disconnected_type())
            else:
                out.append(g * outputs[1 + i])
        out.extend(disconnected_type() for _ in inputs[n:])
        return out


# -- numba backend (nutpie; PyTensor's default FAST_RUN mode) ----------------------------------------
def cache_version(*files) -> int:
    """A number for PyTensor's cache key of a compiled fused node: a hash of this file and of ``files``
    (the likelihood module that defines the kernel), so an edited kernel, or an edited shared helper,
    is never taken from the on-disk cache of an older one."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for f in files:
        digest.update(Path(f).read_bytes())
    return int(digest.hexdigest()[:12], 16)


#: this file's own :func:`cache_version` (each likelihood module folds its own file in as well)
_CACHE_VERSION = cache_version()
