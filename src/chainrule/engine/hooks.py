"""Hooks into the backward pass, as in PyTorch.

- ``t.register_hook(fn)``: ``fn(grad)`` is called with the gradient with respect to ``t`` once it is complete
  (every contribution added), in backward() and in the transforms; a tensor it returns replaces the gradient.
- ``leaf.register_post_accumulate_grad_hook(fn)``: ``fn(leaf)`` is called by backward() as soon as the leaf's
  ``.grad`` holds this pass's gradient — during the pass, not after it: a leaf's gradient is final once the
  node that consumed it first in the forward pass has been walked (every later consumer is walked before it).
  Data-parallel training starts sending gradients there while backward goes on.
- ``queue_callback(fn)``, called during a backward pass (from a hook): ``fn()`` runs when that pass has ended,
  also when it ended with an error.

None of this costs anything until a hook is registered: the engine checks one flag.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..errors import GradientError
from ..tensor import Tensor

HOOKS_USED = [False]  # set once any hook is registered; the engine then takes the walk that calls them
_local = threading.local()  # the callbacks queued by the running backward pass (None: no pass is running)


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def _add(t: Tensor, fn: Callable, kind: str, where: str) -> RemovableHandle:
    """Check and store one hook of ``kind`` (the tensor's attribute for its list) registered by ``where``."""
    if not callable(fn):
        raise TypeError(f"{where}: expected a function, got {type(fn).__name__}")
    if not t._rg:
        raise GradientError(f"{where} on a tensor that does not require grad: it never gets a gradient")
    hooks = t.__dict__.setdefault(kind, [])
    hooks.append(fn)
    HOOKS_USED[0] = True
    return RemovableHandle(hooks, fn)


def register_hook(t: Tensor, fn: Callable[[Tensor], Any]) -> RemovableHandle:
    return _add(t, fn, "_grad_hooks", "register_hook")


def register_post_accumulate_grad_hook(t: Tensor, fn: Callable[[Tensor], Any]) -> RemovableHandle:
    if t._op is not None:
        raise GradientError(
            "register_post_accumulate_grad_hook on a computed tensor: only leaves accumulate a .grad "
            "(use register_hook to see a computed tensor's gradient)"
        )
    return _add(t, fn, "_post_accumulate_hooks", "register_post_accumulate_grad_hook")


def apply_grad_hooks(t: Tensor, g: Any, create_graph: bool) -> Any:
    """``g`` after ``t``'s gradient hooks (each sees the previous one's result)."""
    hooks = t.__dict__.get("_grad_hooks")
    if not hooks:
        return g
    for fn in list(hooks):
        shown = g if type(g) is Tensor else Tensor._from_op(g, None)
        replaced = fn(shown)
        if replaced is not None:
            value = replaced if type(replaced) is Tensor else Tensor._from_op(replaced, None)
            if tuple(value.shape) != tuple(shown.shape):
                raise GradientError(
                    f"a gradient hook returned shape {tuple(value.shape)} for a gradient of shape {tuple(shown.shape)}"
                )
            g = value if create_graph else value.data
    return g


def post_accumulate(t: Tensor) -> None:
    for fn in list(t.__dict__.get("_post_accumulate_hooks", ())):
        fn(t)


def has_leaf_hooks(t: Tensor) -> bool:
    d = t.__dict__
    return bool(d.get("_grad_hooks") or d.get("_post_accumulate_hooks"))


def final_at(root: Tensor) -> dict[int, list[Tensor]]:
    """{tick: leaves with hooks whose gradient is final once the node of that tick has been walked}: the node
    that first consumed the leaf (the lowest tick among its consumers that can carry a gradient)."""
    first: dict[int, tuple[int, Tensor]] = {}
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        if node._op is None:
            continue
        inputs = node._inputs
        if inputs is None:
            continue
        for parent in inputs:
            if type(parent) is not Tensor or not parent._rg:
                continue
            if parent._op is None:
                if has_leaf_hooks(parent):
                    known = first.get(id(parent))
                    if known is None or node._tick < known[0]:
                        first[id(parent)] = (node._tick, parent)
            elif id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    found: dict[int, list[Tensor]] = {}
    for tick, leaf in first.values():
        found.setdefault(tick, []).append(leaf)
    return found


def queue_callback(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` when the backward pass that is running now has ended (call it from a hook)."""
    queue = getattr(_local, "queue", None)
    if queue is None:
        raise GradientError("queue_callback outside a backward pass: call it from a hook that backward() runs")
    queue.append(fn)


class callbacks:
    """The scope of one backward pass: callbacks queued inside run at its end, in order."""

    def __enter__(self) -> None:
        self.outer = getattr(_local, "queue", None)
        _local.queue = []

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        queue = _local.queue
        try:
            # also when the pass failed: a callback may finish what hooks started (data-parallel training must
            # complete the collectives it began, or the processes fall out of step)
            while queue:  # a callback may queue another
                queue.pop(0)()
        finally:
            _local.queue = self.outer
