"""The trace open in this thread, if any (``cr.jit``): the engine tells it what a call leaves behind."""

from __future__ import annotations

import threading
from typing import Any


class _Local(threading.local):
    trace: Any = None  # the jit.trace.Trace recording in this thread


_local = _Local()


def check_values(failed: Any, error: Any, *values: Any) -> None:
    """Raise ``error(*values)`` if ``failed`` (a check of array values, such as labels in range). Under cr.jit
    the check becomes part of the program, so every replay makes it too."""
    trace = _local.trace
    if trace is None:
        if failed:
            raise error(*values)
    else:
        trace.check(failed, error, values)
