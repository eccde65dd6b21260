"""The engine: records operations as nodes of a graph and walks that graph backwards.

It knows nothing about any particular operation. A node holds the primitive that made it, the inputs its
derivative rules may read, and one edge per input to the node (or leaf tensor) the gradient must reach. The
backward pass visits nodes in reverse topological order with an explicit work list (no recursion, so depth is
bounded by memory only), adds up the gradients of a value used several times, undoes broadcasting in one place,
and frees each node's saved values as soon as it has been used.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backend import _module_of_type, array_module
from .errors import GradientError, InplaceError

if TYPE_CHECKING:
    from .primitive import Primitive

from .tensor import Tensor

# ---------------------------------------------------------------------------------------------------------------
# Grad mode (thread-local: one thread's no_grad never affects another)


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations are being recorded in this thread."""
    return _mode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode for its block and restores it afterwards."""

    _value: bool

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


# ---------------------------------------------------------------------------------------------------------------
# In-place changes. A global counter ticks at every mutation; a tensor that was changed (or shares memory with
# one that was) carries a one-element list holding the tick of its last change, shared by all views of the same
# memory. A node remembers the tick at which it was recorded, so "was this input changed after I saved it?" is
# one comparison, and nodes recorded after the last mutation skip the check altogether.

_clock = [0]


def version_box(t: Tensor) -> list[int]:
    """The version counter shared by ``t`` and the tensors that view its memory (made on first need)."""
    box = t._version
    if box is None:
        box = t._version = [0]
        node = t._node
        if node is not None and node.out is t.data and node.prim.uses_output:
            node.out_version = box  # the node's saved output is this very array
    return box


def mark_changed(t: Tensor) -> None:
    """Record that the memory of ``t`` was changed in place."""
    box = version_box(t)
    _clock[0] += 1
    box[0] = _clock[0]


# ---------------------------------------------------------------------------------------------------------------
# The graph


class Node:
    """One recorded application of a primitive.

    ``parents[i]`` is where the gradient of input ``i`` goes: the node that made it, the leaf tensor itself, or
    None when input ``i`` needs no gradient. ``inputs`` and ``out`` are the saved values the derivative rules
    read; they are dropped after the node's backward step unless the graph is retained. Nodes point only
    backwards (to their inputs), never to the tensor they produced, so the graph holds no reference cycles.
    """

    __slots__ = (
        "prim",
        "inputs",
        "arrays",
        "parents",
        "params",
        "out",
        "tick",
        "out_version",
        "retained",
        "__weakref__",
    )

    def __init__(self, prim: Primitive, inputs: tuple, arrays: Any, parents: tuple, params: dict, out: Any) -> None:
        self.prim = prim
        self.inputs: tuple | None = inputs  # as given (Tensors), for create_graph and the in-place checks
        self.arrays = arrays  # the same inputs as backend arrays, for a plain backward
        self.parents = parents
        self.params = params
        self.out = out
        self.tick = _clock[0]
        self.out_version: list[int] | None = None
        self.retained: list[weakref.ref] | None = None

    @property
    def name(self) -> str:
        return self.prim.name

    def __repr__(self) -> str:
        return f"<{self.prim.name} node>"

    def check_saved_values(self) -> None:
        """Raise if a value this node saved was changed in place after it was recorded."""
        if self.inputs is None:
            raise GradientError(
                f"backward through '{self.prim.name}' a second time: its saved values were freed by the first "
                "backward(). Pass retain_graph=True to the first backward() if you need to go back twice."
            )
        if self.tick == _clock[0]:
            return
        box = self.out_version
        if box is not None and box[0] > self.tick:
            raise InplaceError(
                f"the output of '{self.prim.name}' was changed in place after it was computed, but its "
                "derivative needs that output. Change a copy instead (t = t * 1, or compute into a new tensor)."
            )
        for position, value in enumerate(self.inputs):
            if type(value) is Tensor and value._version is not None and value._version[0] > self.tick:
                raise InplaceError(
                    f"input {position} of '{self.prim.name}' (shape {value.shape}) was changed in place after "
                    f"'{self.prim.name}' used it, but its derivative needs the original values. Change a copy "
                    "instead, or move the in-place change after backward()."
                )


def record(prim: Primitive, args: tuple, params: dict) -> Tensor:
    """Apply ``prim`` to arguments of which at least one is a Tensor; record a node if a gradient may flow."""
    arrays = [a.data if type(a) is Tensor else a for a in args]
    out = prim.run(arrays, params)
    node = None
    if prim.rules is not None and _mode.enabled:
        parents = tuple([(a._node or a) if type(a) is Tensor and a._rg else None for a in args])
        for parent in parents:
            if parent is not None:
                node = Node(prim, args, arrays, parents, params, out)
                break
    result = Tensor._from_op(out, node)
    if prim.is_view and getattr(out, "base", None) is not None:
        # The result shares memory with its input: a change through either must be seen by both.
        result._version = version_box(args[0])
    return result


# The two shapes of call that dominate real programs, unary f(t) and binary t (op) u, without the generic
# loops above: per-operation overhead is what small-tensor and scalar workloads pay for.

_NO_PARAMS: dict = {}


def record_unary(prim: Primitive, x: Tensor) -> Tensor:
    data = x.data
    try:
        out = prim.forward(_module_of_type.get(type(data)) or array_module(data), data)
    except (ValueError, IndexError, TypeError) as error:
        raise prim.error(error, (data,)) from error
    if x._rg and _mode.enabled and prim.rules is not None:
        return Tensor._from_op(out, Node(prim, (x,), (data,), (x._node or x,), _NO_PARAMS, out))
    return Tensor._from_op(out, None)


def record_binary(prim: Primitive, x: Any, y: Any) -> Tensor:
    if type(x) is Tensor:
        xd = x.data
        px = (x._node or x) if x._rg else None
    else:
        xd, px = x, None
    if type(y) is Tensor:
        yd = y.data
        py = (y._node or y) if y._rg else None
    else:
        yd, py = y, None
    try:
        xp = _module_of_type.get(type(xd)) or _module_of_type.get(type(yd)) or array_module(xd, yd)
        out = prim.forward(xp, xd, yd)
    except (ValueError, IndexError, TypeError) as error:
        raise prim.error(error, (xd, yd)) from error
    if (px is not None or py is not None) and _mode.enabled:
        return Tensor._from_op(out, Node(prim, (x, y), (xd, yd), (px, py), _NO_PARAMS, out))
    return Tensor._from_op(out, None)


# ---------------------------------------------------------------------------------------------------------------
# Backward


def backward(root: Tensor, seed: Any, retain_graph: bool, create_graph: bool) -> None:
    """Accumulate d(root)/d(leaf) . seed into every leaf's ``.grad`` (and retained non-leaves')."""
    if root._node is None:
        _accumulate_leaf(root, seed if create_graph else seed.copy(), create_graph)
        return
    order_counts = _consumer_counts(root._node)
    grads: dict[Node, Any] = {root._node: seed}
    ready = [root._node]
    while ready:
        node = ready.pop()
        g = grads.pop(node)
        if node.inputs is None or node.tick != _clock[0]:
            node.check_saved_values()
        if node.retained is not None:
            for ref in node.retained:
                t = ref()
                if t is not None:
                    _accumulate_leaf(t, g, create_graph)
        if create_graph:
            inputs = node.inputs
            out = Tensor._from_op(node.out, node)
        else:
            inputs = node.arrays
            out = node.out
        rules = node.prim.rules
        params = node.params
        for i, parent in enumerate(node.parents):
            if parent is None:
                continue
            if type(rules) is not tuple:  # one rule for every input of a variadic primitive
                gi = rules(i, g, out, *inputs, **params)
            elif params:
                gi = rules[i](g, out, *inputs, **params)
            else:
                gi = rules[i](g, out, *inputs)
            value = inputs[i]
            if gi.shape != value.shape or gi.dtype is not value.dtype:
                gi = fit_gradient(gi, value, node.prim.name, i)
            if type(parent) is Node:
                previous = grads.get(parent)
                grads[parent] = gi if previous is None else previous + gi
                order_counts[parent] -= 1
                if order_counts[parent] == 0:
                    ready.append(parent)
            else:
                if not create_graph and (gi is g or getattr(gi, "base", None) is not None):
                    gi = gi.copy()  # a leaf's .grad must not alias an array that also flows elsewhere
                _accumulate_leaf(parent, gi, create_graph)
        if not retain_graph:
            node.inputs = node.arrays = node.out = None


def _consumer_counts(root: Node) -> dict[Node, int]:
    """How many nodes of the graph below ``root`` consume each node (iterative depth-first walk)."""
    counts = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if type(parent) is Node:
                if parent in counts:
                    counts[parent] += 1
                else:
                    counts[parent] = 1
                    stack.append(parent)
    return counts


def fit_gradient(g: Any, value: Any, op: str, position: int) -> Any:
    """Undo broadcasting (sum over the broadcast axes) and restore the dtype of ``value``: the one place for it."""
    shape = value.shape
    if g.shape != shape:
        from .ops.shape import sum_to

        try:
            g = sum_to(g, shape)
        except ValueError as error:
            raise GradientError(
                f"the derivative rule of '{op}' gave a gradient of shape {g.shape} for input {position} of shape "
                f"{shape}; the shapes cannot be reconciled by summing broadcast axes"
            ) from error
    if g.dtype != value.dtype and getattr(value.dtype, "kind", "") in "fc":
        from .ops.elementwise import cast

        g = cast(g, dtype=value.dtype)
    return g


def _accumulate_leaf(t: Tensor, g: Any, create_graph: bool) -> None:
    if type(g) is not Tensor:
        g = Tensor._from_op(g, None)
    elif not create_graph:
        g = g.detach()
    if t.grad is None:
        t.grad = g
    elif create_graph or t.grad.requires_grad:
        t.grad = t.grad + g
    else:
        t.grad = Tensor._from_op(t.grad.data + g.data, None)


def retain(t: Tensor) -> None:
    """Make backward() fill ``t.grad`` although ``t`` is not a leaf."""
    node = t._node
    if node is None:
        return
    if node.retained is None:
        node.retained = []
    if not any(ref() is t for ref in node.retained):
        node.retained.append(weakref.ref(t))
