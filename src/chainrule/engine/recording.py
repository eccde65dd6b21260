"""Recording: each operation on tensors that may need a gradient becomes a node of the graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import _module_of_type, array_module
from ..tensor import UNARY, Tensor
from ..vectorize.batched import BATCHING_USED, Batched

if TYPE_CHECKING:
    from ..primitive import Primitive
from .anomaly import _anomaly_open, check_forward
from .forward import _forward_open, push_tangents
from .grad_mode import _mode
from .versions import _new, _ticks, share_memory


def _node(out: Any, prim: Primitive, inputs: tuple, params: dict) -> Tensor:
    t = Tensor._from_op(out, prim)
    t._inputs = inputs
    if params:
        t._params = params
    t._tick = next(_ticks)
    return t


def record(prim: Primitive, args: tuple, params: dict) -> Tensor:
    """Apply ``prim`` to arguments of which at least one is a Tensor; record a node if a gradient may flow."""
    arrays = [a.data if type(a) is Tensor else a for a in args]
    out = prim.run(arrays, params)
    if prim.rules is not None and _mode.enabled and any([type(a) is Tensor and a._rg for a in args]):
        result = _node(out, prim, args, params)
    else:
        result = Tensor._from_op(out, None)
    if prim.is_view and getattr(out, "base", None) is not None:
        share_memory(result, args[0])
    if _forward_open[0]:
        push_tangents(prim, args, params, result)
    if _anomaly_open[0]:
        check_forward(prim, result)
    return result


# The two shapes of call that dominate real programs, unary f(t) and binary t (op) u, without the generic
# loops above: per-operation overhead is what small-tensor and scalar workloads pay for. Each primitive gets a
# recorder of its own, with the primitive and its operator bound, and the Tensor's operators are these recorders
# themselves: one Python frame per operation.


def recorder(prim: Primitive) -> Callable[..., Tensor]:
    """``record(x)`` or ``record(x, y)``: ``prim`` applied to its one or two operands, at least one a tensor, and
    recorded when a gradient may flow (a one-operand node holds UNARY in its second input slot)."""
    operator = prim.operator

    def record(x: Any, y: Any = UNARY) -> Tensor:
        if type(x) is Tensor:
            xd, needs_grad = x.data, x._rg
        else:
            xd, needs_grad = x, False
        if type(y) is Tensor:
            yd = y.data
            needs_grad = needs_grad or y._rg
        else:
            yd = y
        try:
            if operator is not None:  # (batched data answers the operator itself)
                out = operator(xd) if y is UNARY else operator(xd, yd)
                if type(out) is complex:  # 1j * np.float64(2): Python's complex answers, not NumPy
                    out = np.complex128(out)
            elif y is UNARY:
                out = (
                    prim.forward(xd_module, xd) if (xd_module := _module_of_type.get(type(xd))) else prim.run((xd,), {})
                )
            elif BATCHING_USED[0] and (type(xd) is Batched or type(yd) is Batched):
                out = prim.run((xd, yd), _NO_PARAMS)
            else:
                xp = _module_of_type.get(type(xd)) or _module_of_type.get(type(yd)) or array_module(xd, yd)
                out = prim.forward(xp, xd, yd)
        except (ValueError, IndexError, TypeError) as error:
            raise prim.error(error, (xd,) if y is UNARY else (xd, yd)) from error
        t = _new(Tensor)  # Tensor._from_op, inlined: this runs once per operation
        t.data = out
        if needs_grad and _mode.enabled and prim.rules is not None:
            t._rg = True
            t._op = prim
            t._in0, t._in1 = x, y
            t._tick = next(_ticks)
        else:
            t._rg = False
            t._op = None
        if _forward_open[0]:
            push_tangents(prim, (x,) if y is UNARY else (x, y), _NO_PARAMS, t)
        if _anomaly_open[0]:
            check_forward(prim, t)
        return t

    return record


_NO_PARAMS: dict = {}
