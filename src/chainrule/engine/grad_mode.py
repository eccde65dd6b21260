"""Grad mode: whether operations are recorded, per thread (``no_grad``, ``enable_grad``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# Grad mode (thread-local: one thread's no_grad never affects another)


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations are being recorded in this thread."""
    return _mode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode for its block and restores it afterwards.

    ``with cr.no_grad():``, ``@cr.no_grad()`` and ``@cr.no_grad`` all work.
    """

    _value: bool

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        return self(fn) if fn is not None else self

    def __enter__(self) -> None:
        self._previous = _mode.enabled
        _mode.enabled = self._value

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._previous

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        value = self._value

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _mode.enabled
            _mode.enabled = value
            try:
                return fn(*args, **kwargs)
            finally:
                _mode.enabled = previous

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper


class no_grad(_SetGradMode):
    """``with cr.no_grad():`` computes values without recording anything for backward."""

    _value = False


class enable_grad(_SetGradMode):
    """``with cr.enable_grad():`` records operations again inside a ``no_grad`` block."""

    _value = True
