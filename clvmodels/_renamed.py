"""Keyword arguments that were renamed keep working: a function's old keyword names map to the new ones,
with a :class:`DeprecationWarning` (deprecate, don't break)."""
from __future__ import annotations

import functools
import warnings


def renamed_keywords(**old_to_new: str):
    """Decorator: ``f(bgnbd_model=m)`` calls ``f(purchase_model=m)`` and warns that the name changed."""

    def wrap(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= and {new}= ({old} is {new}'s old name)")
                    warnings.warn(f"{func.__name__}(): {old}= is now called {new}=", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return inner

    return wrap
