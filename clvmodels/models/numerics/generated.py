"""numba functions made from generated Python source, cached on disk as a module's ``cache=True`` ones are.

Why this is needed. numba's on-disk cache finds a function's entries through its source file (the file's
path names the cache, its modification time validates it). A function defined by ``exec()`` of generated
source has no file, so numba compiles it again in every process. Two places generate source: the
compiled posterior's C callbacks (:mod:`clvmodels.models.compiled`, which call PyTensor's function with
the model's data arrays) and the covariates' cells kernel (:mod:`.cells_op`, which calls a model's fused
kernel once per cell; its argument list depends on the model). Both go through :func:`source_function`.

How. PyTensor has the same problem for the functions it generates and solves it in
:func:`pytensor.link.numba.cache.compile_numba_function_src`: a function defined there with a
``cache_key`` is registered with PyTensor's numba cache locator, which puts the function's cache in
PyTensor's compile directory (``~/.pytensor/numba``) under that key, whatever file it came from. The key
made here is ``sha256(key + "\\n" + source)``: the source is in it, and the caller's ``key`` must name
what the source calls and the source does not show (the version of the kernel it calls, or PyTensor's own
cache key of the function it wraps), so an edit of any of them never loads stale machine code.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

__all__ = ["source_function", "in_disk_cache"]


def source_function(src: str, name: str, env: dict, *, key: str | None) -> tuple[Callable, str | None]:
    """The Python function ``name`` defined by the source ``src`` (``env``: its globals, ``__name__`` the
    importable module they stand for, by default this one), ready for numba.

    With ``key`` (not None or empty) and PyTensor's numba cache on (``config.numba__cache``), the function
    is registered for numba's on-disk cache under ``sha256(key + "\\n" + src)`` and that hash is returned
    as well: decorate the function with ``cache=True`` (``njit``, ``cfunc``) and a later process loads
    its machine code instead of compiling it. Otherwise ``(function, None)``: compile it uncached."""
    from pytensor.configdefaults import config
    from pytensor.link.numba.cache import compile_numba_function_src

    digest = None
    if key and config.numba__cache:
        digest = hashlib.sha256(f"{key}\n{src}".encode()).hexdigest()
    # numba pickles a cached function's globals as the name of a module to import in the loading
    # process (numba.core.environment): without ``__name__`` a cache hit fails to load
    env = {"__name__": __name__, **env}
    return compile_numba_function_src(src, name, global_env=env, cache_key=digest), digest


def in_disk_cache(fn: Callable) -> bool:
    """Whether numba's on-disk cache has an entry for the Python function ``fn`` (so compiling it with
    ``cache=True`` loads, not compiles); False when that cannot be told."""
    try:
        from numba.core.caching import FunctionCache

        return bool(FunctionCache(fn)._cache_file._load_index())
    except Exception:
        return False
