"""Saying so when the first scoring call of a machine compiles its numba kernels.

The scoring kernels (the scorers' ``score_triplets`` loops, the per-triplet summary, the customer and
segment loops of :mod:`clvmodels.scoring.arrays`) are compiled by numba on their first call and cached on
disk (``cache=True``: next to the sources in ``__pycache__``, or under ``NUMBA_CACHE_DIR``). The first
scoring call on a machine, or after an upgrade, therefore spends 15-30 s compiling (measured on a shared
2-core machine: 14 to 28 s for BG/NBD with Gamma-Gamma; later runs load them in well under a second).
:func:`announce_compile` says so before it happens, and only when it will: a kernel needs compiling when
it has no compiled signature in this process and numba's cache index for it is missing or stale.
"""
from __future__ import annotations

import importlib
import logging
import sys

logger = logging.getLogger("clvmodels")

#: what the first scoring call costs, measured (see the module docstring), scaled by the share of
#: kernels still to compile
FULL_COMPILE_SECONDS = 20.0
MESSAGE = "compiling the scoring kernels (first run on this machine: about {seconds:.0f} s; cached for later runs)"


def _kernels(module_name: str) -> list:
    """The cached, separately compiled numba kernels defined in a module (inlined ones compile into their
    callers)."""
    from numba.core.registry import CPUDispatcher

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    return [v for v in vars(module).values()
            if isinstance(v, CPUDispatcher) and v.__module__ == module_name
            and v.targetoptions.get("inline") != "always"]


def _needs_compiling(kernel) -> bool | None:
    """True when the kernel will be compiled on its next call: no signature compiled in this process and
    no fresh entry in numba's on-disk cache index; None when that cannot be told (a numba whose cache
    internals differ: then nothing is said rather than something wrong)."""
    if kernel.signatures:
        return False
    try:
        cache_file = kernel._cache._cache_file
        return not cache_file._load_index()  # {} when missing, of another numba version, or stale
    except Exception:
        return None


def scoring_modules(*scorers, modules=()) -> list[str]:
    """The modules whose kernels a scoring call compiles: each scorer's own module (its
    ``score_triplets`` loops, or the spend loop) and ``modules``, the caller's (the per-triplet summary of
    :mod:`clvmodels.models.triplet_scores`, the customer loops of :mod:`clvmodels.scoring.arrays`)."""
    names = [type(s).__module__ for s in scorers if s is not None]
    return list(dict.fromkeys([*names, *modules]))


def kernels_to_compile(*scorers, modules=()) -> tuple[list[str], int]:
    """The names of the scoring kernels that the next call with these scorers (and the kernels of
    ``modules``) will compile, and how many kernels were looked at."""
    todo, n = [], 0
    for module in scoring_modules(*scorers, modules=modules):
        for kernel in _kernels(module):
            n += 1
            if _needs_compiling(kernel):
                todo.append(f"{module}.{kernel.__name__}")
    return todo, n


def announce_compile(*scorers, modules=(), progress: bool = False) -> bool:
    """Before a scoring call with these scorers (and the kernels of ``modules``, the caller's): if its
    kernels will compile, say so once, on stderr with ``progress`` (``[clv] compiling the scoring kernels
    ...``) or else as an INFO record of the ``clvmodels`` logger. Returns whether it said so."""
    todo, n = kernels_to_compile(*scorers, modules=modules)
    if not todo:
        return False
    seconds = max(5.0, round(FULL_COMPILE_SECONDS * len(todo) / max(n, 1) / 5.0) * 5.0)
    text = MESSAGE.format(seconds=seconds)
    if progress:
        print(f"[clv] {text}", file=sys.stderr, flush=True)
    else:
        logger.info(text)
    return True
