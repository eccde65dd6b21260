"""The engine: records operations as a graph and walks that graph backwards.

It knows nothing about any particular operation. Each computed tensor is a node of the graph: it remembers the
primitive that made it and that primitive's inputs (which the derivative rules may read), as micrograd's values
do; leaves are the tensors the user made. The backward pass visits nodes in reverse topological order with an
explicit work list (no recursion, so depth is bounded by memory only), adds up the gradients of a value used
several times, undoes broadcasting in one place, skips inputs that need no gradient, and frees each node's saved
inputs as soon as it has been used. Nodes point only backwards, to their inputs, so a graph holds no reference
cycles and is freed by reference counting alone.
"""

from __future__ import annotations

import heapq
import itertools
import linecache
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backend import SCALAR_TYPES, _module_of_type, array_module
from .errors import AnomalyError, DtypeError, GradientError, InplaceError

if TYPE_CHECKING:
    from .primitive import Primitive

from .tensor import COMPLEX_NOT_YET, FREED, NARY, UNARY, Tensor

# ---------------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------------
# Ticks. One counter numbers every recorded operation and every in-place change. A node's tick is larger than
# the ticks of all its inputs (an operation is recorded after its inputs exist), which is what orders the
# backward pass. A tensor that was changed in place, or shares memory with another, carries a version box
# [tick of the last change, weak set of the tensors viewing this memory], one box per piece of memory, held by
# every tensor that views it. So "was this value changed after the node saved it?" is one comparison, skipped
# for nodes recorded after the last change anywhere.

_ticks = itertools.count(1)
_new = object.__new__
_last_change = [0]


def version_box(t: Tensor) -> list:
    """The version box of ``t``'s memory (made on first need)."""
    box = t._version
    if box is None:
        box = t._version = [0, None]
    return box


def share_memory(view: Tensor, base: Tensor) -> None:
    """``view`` shares ``base``'s memory: a change through either is a change of both."""
    box = version_box(base)
    if box[1] is None:
        box[1] = weakref.WeakSet([base])
    box[1].add(view)
    view._version = box


def shares_memory(t: Tensor) -> bool:
    """Whether another live tensor views the memory of ``t``."""
    box = t._version
    return box is not None and box[1] is not None and any(other is not t for other in box[1])


def mark_changed(t: Tensor) -> None:
    """Record that the memory of ``t`` was changed in place."""
    box = version_box(t)
    box[0] = _last_change[0] = next(_ticks)


def _changed_since_recorded(t: Tensor) -> None:
    """Raise if the node ``t``, or a value it saved, was changed in place after ``t`` was recorded."""
    op, tick = t._op.name, t._tick
    box = t._version
    if box is not None and box[0] > tick:
        raise InplaceError(
            f"the result of '{op}' (shape {t.shape}) was changed in place after it was computed (through a view, "
            "or without recording), so the recorded history no longer matches its values. Change a copy "
            "instead (t = t * 1), or make the change with recorded out-of-place operations (cr.where, ...)."
        )
    for position, value in enumerate(t._inputs):
        if type(value) is not Tensor:
            continue
        changed = value._version is not None and value._version[0] > tick
        if changed or (value._op is not None and value._tick > tick):
            raise InplaceError(
                f"input {position} of '{op}' (shape {value.shape}) was changed in place after '{op}' used it, "
                "but its gradient needs the original. Change a copy instead (t = t * 1), or move the in-place "
                "change after backward()."
            )


# ---------------------------------------------------------------------------------------------------------------
# Forward mode. A forward-mode transform opens a level; a tensor may carry a tangent per open level
# (``_tangents``). Each recorded operation whose inputs carry tangents computes its output's tangent with the
# primitive's forward rule, written in chainrule operations, so tangents are themselves differentiable, by
# reverse mode and by outer levels. While a level's tangent is computed only the levels below it are open: an
# inner perturbation never leaks into an outer one (the classic perturbation-confusion bug).


class _ForwardLevels(threading.local):
    open: tuple[int, ...] = ()
    batch: dict[int, int] | None = None  # level -> number of directions, for batched levels


_forward = _ForwardLevels()
_forward_open = [0]  # levels open in any thread: the recording paths' one cheap test
_level_ids = itertools.count(1)


def open_level(batch: int | None = None) -> int:
    """Open a forward level; with ``batch``, its tangents carry that many directions on a leading axis."""
    level = next(_level_ids)
    _forward.open = (*_forward.open, level)
    if batch is not None:
        _forward.batch = {**(_forward.batch or {}), level: batch}
    _forward_open[0] += 1
    return level


def close_level(level: int) -> None:
    _forward.open = tuple(lv for lv in _forward.open if lv != level)
    if _forward.batch and level in _forward.batch:
        _forward.batch = {k: v for k, v in _forward.batch.items() if k != level} or None
    _forward_open[0] -= 1


def batched_level_open() -> bool:
    return bool(_forward.batch)


def tangent_of(t: Any, level: int) -> Tensor | None:
    tangents = t._tangents if type(t) is Tensor else None
    return None if tangents is None else tangents.get(level)


def set_tangent(t: Tensor, level: int, tangent: Tensor) -> None:
    t._tangents = {**(t._tangents or {}), level: tangent}


def push_tangents(prim: Primitive, args: tuple, params: dict, out: Tensor) -> None:
    """Give ``out`` its tangent at every open level at which an input has one (forward rules)."""
    levels = _forward.open
    jvps = prim.jvps
    if not levels or jvps is None:
        return
    for position, level in enumerate(levels):
        _forward.open = levels[:position]  # levels open in order, so these are the ones below
        batch = _forward.batch.get(level) if _forward.batch else None
        try:
            total = None
            for i, a in enumerate(args):
                t = tangent_of(a, level)
                if t is None:
                    continue  # a zero tangent: no work
                if batch is not None:
                    from .batching import batched_change

                    change = batched_change(prim, i, t, out, args, params, batch)
                elif type(jvps) is tuple:
                    change = jvps[i](t, out, *args, **params)
                else:
                    change = jvps(i, t, out, *args, **params)
                total = change if total is None else total + change
            if total is not None:
                shape = tuple(out.shape) if batch is None else (batch, *out.shape)
                if total.shape != shape:
                    from .ops.shape import broadcast_to

                    total = broadcast_to(total, shape=shape)
                if total.dtype != out.dtype and out.dtype.kind in "fc":
                    from .ops.elementwise import cast

                    if total.dtype.kind == "c" and out.dtype.kind != "c":
                        raise DtypeError(f"'{prim.name}' gave a complex tangent to a real result: {COMPLEX_NOT_YET}.")

                    total = cast(total, dtype=out.dtype)
                total = total if type(total) is Tensor else Tensor._from_op(total, None)
                if out._tangents is None:
                    out._tangents = {level: total}
                else:
                    set_tangent(out, level, total)
        finally:
            _forward.open = levels


# ---------------------------------------------------------------------------------------------------------------
# Anomaly detection: inside ``with cr.detect_anomaly():`` every recorded operation remembers the line of user code
# that called it, and the first value or gradient that is NaN or infinite raises an error naming both.


class _Anomaly(threading.local):
    on = False


_anomaly = _Anomaly()
_anomaly_open = [0]  # contexts open in any thread: the recording paths' one cheap test
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


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


# ---------------------------------------------------------------------------------------------------------------
# Recording


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
            if operator is not None:
                out = operator(xd) if y is UNARY else operator(xd, yd)
            elif y is UNARY:
                out = prim.forward(_module_of_type.get(type(xd)) or array_module(xd), xd)
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


# ---------------------------------------------------------------------------------------------------------------
# Selections. ``cr.where(c, f(x), y)`` sends the branch not chosen a gradient of exactly zero; the branch's own rule
# then multiplies that zero by its local derivative, which may be infinite or NaN just where the branch was not
# chosen (sqrt at x <= 0): 0 * inf = NaN, and the NaN would flow into x. In a graph that contains a selection,
# elementwise rules therefore keep exact zeros: where the incoming gradient is 0, an infinite or NaN gradient
# becomes 0 (a recorded cr.where under create_graph, so it holds at every order). A selection notes its tick;
# nodes recorded after the last selection anywhere cannot lead into one, and the everyday walk pays nothing.

_last_selection = [0]


def note_selection(t: Tensor) -> None:
    """Record that ``t`` selects between branches (``cr.where``): the walk keeps the zeros it hands them."""
    if type(t) is Tensor and t._op is not None:
        _last_selection[0] = t._tick


def _keep_structural_zeros(g: Any, gi: Any) -> Any:
    """``gi`` with its non-finite entries set to 0 where the incoming gradient ``g`` is exactly 0."""
    gi_values, g_values = _values(gi), _values(g)
    xp = array_module(gi_values)
    bad = ~xp.isfinite(gi_values)
    if type(gi) is Tensor and gi._tangents:
        # under a forward level (a Hessian) the value may be a finite 0 whose tangent is not: 0 * inf again
        for level, tangent in gi._tangents.items():
            wrong = ~xp.isfinite(_values(tangent))
            if _forward.batch and level in _forward.batch:
                wrong = wrong.any(axis=0)  # the directions, on the leading axis
            bad = bad | wrong
    if not bad.any():
        return gi
    bad &= g_values == 0
    if not bad.any():
        return gi
    if type(gi) is Tensor:  # recorded: itself a selection, whose zeros a walk through this one keeps in turn
        kept = where(0.0, gi, condition=bad)
        note_selection(kept)
        return kept
    return xp.where(bad, xp.zeros((), dtype=gi_values.dtype), gi_values)


# ---------------------------------------------------------------------------------------------------------------
# Backward


def backward(root: Tensor, seed: Any, retain_graph: bool, create_graph: bool) -> None:
    """Accumulate d(root)/d(leaf) . seed into every leaf's ``.grad`` (and retained non-leaves')."""
    for leaf, g in _propagate(root, seed, retain_graph, create_graph, None).items():
        _accumulate(leaf, g, create_graph)


def target_key(t: Tensor) -> Any:
    """What a transform differentiates with respect to, fixed when it makes its input: the tick of a computed
    tensor (an in-place change later moves the tensor object to a new node, but the value the function received
    keeps the tick), the tensor itself for a leaf."""
    return t._tick if t._op is not None else t


def gradients(
    root: Tensor, seed: Any, targets: list, retain_graph: bool, create_graph: bool, batch: int | None = None
) -> list:
    """d(root)/d(target) . seed for each target key (``target_key``; None where root does not depend on it); no
    ``.grad`` is touched. Nodes recorded before every target cannot lead to one, so the walk stops there. With
    ``batch``, ``seed`` holds that many cotangents on a leading axis, and so does each gradient."""
    found = _propagate(root, seed, retain_graph, create_graph, targets, batch)
    return [found.get(key) for key in targets]


def reaches_outside(root: Tensor, targets: list, since: int) -> bool:
    """Whether ``root`` depends, other than through ``targets`` (target keys), on tensors that require grad and
    existed before tick ``since`` (when the asking transform began): then gradients with respect to the targets
    must stay differentiable for an outer derivative (a transform closing over the variable of an enclosing one).
    The inputs of transforms nested inside (born after ``since``) are not variables of this one."""
    ticks, leaves = _split_keys(targets)
    if root._op is None:
        return root._rg and root not in leaves and getattr(root, "_born", 0) <= since
    if root._tick in ticks:
        return False
    seen = {root}
    stack = [root]
    while stack:
        node = stack.pop()
        if node._inputs is None:
            continue
        for parent in node._inputs:
            if type(parent) is not Tensor or not parent._rg or parent in seen:
                continue
            if parent._op is None:
                if parent not in leaves and getattr(parent, "_born", 0) <= since:
                    return True
                continue
            if parent._tick in ticks:
                continue
            if parent._tick < since:
                return True
            seen.add(parent)
            stack.append(parent)
    return False


def _split_keys(targets: list) -> tuple[set, set]:
    """Target keys as two sets, ticks and leaf tensors (never mixed in one set: a tensor's == is elementwise)."""
    ticks = {key for key in targets if type(key) is int}
    leaves = {key for key in targets if type(key) is Tensor}
    return ticks, leaves


def _propagate(
    root: Tensor, seed: Any, retain_graph: bool, create_graph: bool, targets: list | None, batch: int | None = None
) -> dict:
    """The backward pass from ``root``: returns the gradients of the leaves (or of ``targets``).

    The pending nodes wait in a heap ordered by tick, and the highest tick is taken first: every consumer of a
    node has a higher tick than the node, so by the time a node is taken all its contributions have arrived.
    """
    if targets is None and batch is None and not create_graph and not (_anomaly_open[0] and _anomaly.on):
        if root._op is not None:
            found = _propagate_plain(root, seed, retain_graph)
            if found is not None:
                return found
    found = {}
    if targets is not None:
        wanted_ticks, wanted_leaves = _split_keys(targets)
        floor = min(wanted_ticks, default=0) if not wanted_leaves else 0
    else:
        wanted_ticks = wanted_leaves = None
        floor = 0
    if root._op is None:
        if targets is None or root in wanted_leaves:
            found[root] = seed if create_graph else seed.copy()
        return found
    waiting = {root._tick: root}
    grads = {root._tick: seed}
    heap = [-root._tick]
    while heap:
        tick = -heapq.heappop(heap)
        node = waiting.pop(tick)
        g = grads.pop(tick)
        if node._inputs is None:
            raise _freed(node)
        if _last_change[0] > tick:
            _changed_since_recorded(node)
        if wanted_ticks is not None:
            if tick in wanted_ticks:
                found[tick] = g
                continue  # a target's own inputs lie outside what was asked for (and may be walked by another)
        elif node._retained:  # a gradient that also flows on: the retained copy must not share its memory
            _accumulate(node, g if create_graph else g.copy(), create_graph)
        if create_graph:
            values, ans = node._inputs, node
        else:
            values, ans = _arrays(node._inputs), node.data
        prim = node._op
        params = node._params
        needed = [
            i
            for i, parent in enumerate(node._inputs)
            if type(parent) is Tensor
            and parent._rg
            and (  # no target below: no work
                wanted_ticks is None or (parent._tick >= floor if parent._op is not None else parent in wanted_leaves)
            )
        ]
        if not needed:
            pass
        elif batch is not None:
            from .batching import batched_vjps

            handed = batched_vjps(prim, needed, g, ans, values, params, batch)
        else:
            handed = _input_gradients(prim, needed, g, ans, values, params)
        keep_zeros = prim.elementwise and tick < _last_selection[0]
        for i in needed:
            gi = handed[i]
            if gi is None:
                continue
            if keep_zeros:
                gi = _keep_structural_zeros(g, gi)
            parent, value = node._inputs[i], values[i]
            if batch is None and (gi.shape != value.shape or gi.dtype is not value.dtype):
                gi = fit_gradient(gi, value, prim.name, i)
            if _anomaly_open[0] and _anomaly.on:
                _check_gradient(node, i, gi)
            if parent._op is not None:
                t = parent._tick
                previous = grads.get(t)
                if previous is None:
                    grads[t] = gi
                    waiting[t] = parent
                    heapq.heappush(heap, -t)
                else:
                    grads[t] = previous + gi
            else:
                previous = found.get(parent)
                found[parent] = gi if previous is None else previous + gi
        if not retain_graph:
            node._inputs = None
    return found


def _input_gradients(prim: Primitive, needed: list[int], g: Any, ans: Any, values: Any, params: dict) -> dict:
    """{input position: its gradient (None for zero)} for the inputs in ``needed``: a joint rule is called once
    for all of them, other rules once per input."""
    rules = prim.rules
    if type(rules) is JointRule:
        every = rules.rule(g, ans, *values, **params)
        return {i: every[i] for i in needed}
    if type(rules) is tuple:
        return {i: rules[i](g, ans, *values, **params) for i in needed}
    return {i: rules(i, g, ans, *values, **params) for i in needed}


def _freed(node: Tensor) -> GradientError:
    return GradientError(
        f"backward through '{node._op.name}' a second time: its saved values were freed by the first "
        "backward(). Pass retain_graph=True to the first backward() if you need to go back twice."
    )


def _propagate_plain(root: Tensor, seed: Any, retain_graph: bool) -> dict | None:
    """``_propagate`` for the everyday call, ``loss.backward()``: every leaf wanted, plain arrays, no batch and no
    anomaly checks. It runs once per node, so it is written for scalar programs, where this loop is most of the
    time: the nodes are put in order first (one sort instead of a heap push and pop per node), and the rules of
    one- and two-input nodes are called with their arguments spelled out."""
    order = _forward_order(root)
    if order[0]._tick < _last_selection[0]:
        return None  # a selection (cr.where) is recorded after some of these nodes: the general walk keeps its zeros
    grads = {root: seed}
    found: dict[Tensor, Any] = {}
    pop, get = grads.pop, grads.get
    scalar_types = SCALAR_TYPES
    while order:
        node = order.pop()  # the last consumer first; popped, so a node is released once it has been used
        g = pop(node)
        if node._retained:
            _accumulate(node, g.copy(), False)
        a, b = node._in0, node._in1
        ans, rules, params = node.data, node._op.rules, node._params
        handover: Any
        if type(rules) is not tuple or params or b is NARY:
            handover = _handover(node, g)
        elif b is UNARY:
            x = a.data
            handover = ((a, x, rules[0](g, ans, x), 0),) if a._rg else ()
        else:
            x = a.data if type(a) is Tensor else a
            y = b.data if type(b) is Tensor else b
            handover = []
            if type(a) is Tensor and a._rg:
                handover.append((a, x, rules[0](g, ans, x, y), 0))
            if type(b) is Tensor and b._rg:
                handover.append((b, y, rules[1](g, ans, x, y), 1))
        for parent, value, gi, position in handover:
            kind = type(gi)
            # a scalar of the input's own type (NumPy's float64, say) has its shape and dtype; arrays are compared
            if kind is not type(value) or (
                kind not in scalar_types and (gi.shape != value.shape or gi.dtype != value.dtype)
            ):
                gi = fit_gradient(gi, value, node._op.name, position)
            if parent._op is not None:
                previous = get(parent)
                grads[parent] = gi if previous is None else previous + gi
            else:
                previous = found.get(parent)
                found[parent] = gi if previous is None else previous + gi
        if not retain_graph:
            node._in0, node._in1 = None, FREED
    return found


def _forward_order(root: Tensor) -> list[Tensor]:
    """The computed tensors behind ``root``, each before all its consumers: every consumer has a higher tick than
    what it consumes, so increasing ticks are such an order (walked from the end for backward). In-place changes
    since recording are caught here, before any work (a re-recorded input would otherwise break the order)."""
    by_tick = {root._tick: root}
    found = [root]
    for node in found:  # the list grows while it is walked: a breadth-first search without recursion
        second = node._in1
        if second is FREED:
            raise _freed(node)
        if _last_change[0] > node._tick:
            _changed_since_recorded(node)
        if second is UNARY:
            parents: Any = (node._in0,)
        elif second is NARY:
            parents = node._in0
        else:
            parents = (node._in0, second)
        for parent in parents:
            if type(parent) is Tensor and parent._op is not None and parent._tick not in by_tick:
                by_tick[parent._tick] = parent
                found.append(parent)
    return [by_tick[tick] for tick in sorted(by_tick)]  # ints sort fast, without a key function


def _handover(node: Tensor, g: Any) -> list:
    """(input, its array, its gradient, its position) for every input of ``node`` that needs one: the general case."""
    inputs = node._inputs
    values = _arrays(inputs)
    needed = [i for i, parent in enumerate(inputs) if type(parent) is Tensor and parent._rg]
    handed = _input_gradients(node._op, needed, g, node.data, values, node._params)
    return [(inputs[i], values[i], handed[i], i) for i in needed if handed[i] is not None]


def _arrays(inputs: tuple) -> Any:
    """The backend arrays of a node's inputs (unrolled for the one- and two-input nodes that dominate)."""
    if len(inputs) == 2:
        x, y = inputs
        return (x.data if type(x) is Tensor else x, y.data if type(y) is Tensor else y)
    if len(inputs) == 1 and type(inputs[0]) is Tensor:
        return (inputs[0].data,)
    return [a.data if type(a) is Tensor else a for a in inputs]


def fit_gradient(g: Any, value: Any, op: str, position: int) -> Any:
    """Undo broadcasting (sum over the broadcast axes) and restore the dtype of ``value``: the one place for it."""
    shape = value.shape
    if g.shape != shape:
        try:
            g = sum_to(g, shape=shape)
        except ValueError as error:
            raise GradientError(
                f"the derivative rule of '{op}' gave a gradient of shape {g.shape} for input {position} of shape "
                f"{shape}; the shapes cannot be reconciled by summing broadcast axes"
            ) from error
    if g.dtype != value.dtype and getattr(value.dtype, "kind", "") in "fc":
        if g.dtype.kind == "c" and value.dtype.kind != "c":
            raise DtypeError(f"'{op}' has a complex result of a real input that requires grad: {COMPLEX_NOT_YET}.")
        g = cast(g, dtype=value.dtype)
    return g


_accumulating = threading.Lock()


def _accumulate(t: Tensor, g: Any, create_graph: bool) -> None:
    """Add ``g`` into ``t.grad``. A ``.grad`` is always the tensor's own: the first gradient stored is copied
    (rules may hand the same array, or a view of one, to several inputs; a seed may be the caller's tensor), and
    with ``create_graph`` it is a node of its own. Read, add and store happen under one lock, so threads running
    backward() into a shared leaf never lose each other's contributions."""
    with _accumulating:
        previous = t._grad
        if previous is None:
            if create_graph and type(g) is Tensor:
                t._grad = identity(g)
            else:
                g = g.data if type(g) is Tensor else g
                t._grad = Tensor._from_op(g.copy() if hasattr(g, "__setitem__") else g, None)
        elif create_graph or previous._rg:
            t._grad = previous + g
        else:
            t._grad = Tensor._from_op(previous.data + (g.data if type(g) is Tensor else g), None)


# The two primitives the engine applies itself, to fit a gradient to its input (imported last: they are
# defined on top of this module)
from .ops.elementwise import cast, where  # noqa: E402
from .ops.shape import identity, sum_to  # noqa: E402
from .primitive import JointRule  # noqa: E402
