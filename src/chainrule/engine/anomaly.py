"""Anomaly detection: the first NaN or infinity, forward or backward, named with the line of code that made it."""

from __future__ import annotations

import linecache
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..backend import array_module
from ..errors import AnomalyError
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..primitive import Primitive


# Anomaly detection: inside ``with cr.detect_anomaly():`` every recorded operation remembers the line of user code
# that called it, and the first value or gradient that is NaN or infinite raises an error naming both.


class _Anomaly(threading.local):
    on = False


_anomaly = _Anomaly()
_anomaly_open = [0]  # contexts open in any thread: the recording paths' one cheap test
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the chainrule package


class detect_anomaly:
    """``with cr.detect_anomaly():`` stops at the first NaN or infinity, forward or backward (slow: debugging)."""

    def __enter__(self) -> None:
        self._previous = _anomaly.on
        _anomaly.on = True
        _anomaly_open[0] += 1

    def __exit__(self, *exc: object) -> None:
        _anomaly.on = self._previous
        _anomaly_open[0] -= 1


def _user_line() -> str:
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}: {line}"


def _not_finite(values: Any) -> bool:
    kind = getattr(getattr(values, "dtype", None), "kind", "")
    return kind in "fc" and not array_module(values).isfinite(values).all()


def check_forward(prim: Primitive, t: Tensor) -> None:
    if not _anomaly.on:
        return
    where = _user_line()
    if t._op is not None:
        t._where = where
    if _not_finite(t.data):
        raise AnomalyError(f"'{prim.name}' produced NaN or infinity, at {where}")


def _check_gradient(node: Tensor, position: int, g: Any) -> None:
    if _not_finite(_values(g)):
        raise AnomalyError(
            f"the gradient of input {position} of '{node._op.name}' is NaN or infinite; '{node._op.name}' was "
            f"called at {getattr(node, '_where', '<unknown>')}"
        )


def _values(g: Any) -> Any:
    return g.data if type(g) is Tensor else g
