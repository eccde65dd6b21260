"""Ticks and versions: the order of recorded operations, and in-place changes caught before they give a wrong
gradient."""

from __future__ import annotations

import collections
import gc
import itertools
import sys
import weakref

from ..errors import InplaceError
from ..tensor import Tensor
from .tracing import _local as _jit_trace

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


def _held_by_graph_only(values: list) -> bool:
    """Whether nothing but recorded operations (other tensors' nodes) holds any of ``values``: no variable,
    container or closure of the program's, so no code can read them again except the backward pass. The references
    the graph accounts for are counted and compared with all there are (a variable in a running function is not an
    object the garbage collector lists, but it counts). One scan of the collector's objects for all of them."""
    from_graph = [0] * len(values)  # (plain loops throughout: a generator expression would hold them in a cell)
    found = gc.get_referrers(*values)
    for referrer in found:
        if referrer is values:
            continue
        if type(referrer) is Tensor:
            for k in range(len(values)):  # (not enumerate: it keeps its last pair, a reference of its own)
                from_graph[k] += (referrer._in0 is values[k]) + (referrer._in1 is values[k])
            continue
        if type(referrer) is tuple:  # the inputs of an operation with many, if tensors alone hold the tuple
            for holder in gc.get_referrers(referrer):
                if type(holder) is not Tensor and holder is not found:
                    return False
            for k in range(len(values)):
                for item in referrer:
                    from_graph[k] += item is values[k]
            continue
        return False
    del found
    for k in range(len(values)):
        # besides the graph: ``values`` and getrefcount's argument
        if sys.getrefcount(values[k]) != from_graph[k] + 2:
            return False
    return True


def separate_memory(t: Tensor) -> bool:
    """Before an in-place change of ``t`` whose memory other live tensors share: where only recorded operations
    still hold them (``x = np.reshape(a * b, s); x -= c``: the product is held by the reshape alone), ``t`` gets
    memory of its own and the change is made there. The others keep their values, which the graph reads as it
    recorded them. Returns False, changing nothing, where the program still holds one of them (a variable, a
    leaf, a constant): NumPy would show it the change, so the change is refused instead."""
    box = t._version
    others = []
    for other in box[1] if box is not None and box[1] is not None else ():
        if other is not t:
            if other._op is None:
                return False
            others.append(other)
    del other
    if not _held_by_graph_only(others):
        return False
    t.data = t.data.copy()
    if box is not None:
        box[1] = weakref.WeakSet(others)  # (rebuilt, not discarded from: a tensor's == is elementwise)
        t._version = [box[0], None]
    return True


def mark_changed(t: Tensor) -> None:
    """Record that the memory of ``t`` was changed in place."""
    box = version_box(t)
    box[0] = _last_change[0] = next(_ticks)
    trace = _jit_trace.trace
    if trace is not None:  # (a traced call's replays move the version on too)
        trace.note_changed(t)


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
    inputs, rewritten = t._inputs, None
    for position, value in enumerate(inputs):
        if type(value) is not Tensor:
            continue
        changed = value._version is not None and value._version[0] > tick
        if changed or (value._op is not None and value._tick > tick):
            earlier = version_used(value, tick)
            if earlier is not None:  # a recorded change kept the version this node used: the node reads that one
                rewritten = list(inputs) if rewritten is None else rewritten
                rewritten[position] = earlier
                continue
            raise InplaceError(
                f"input {position} of '{op}' (shape {value.shape}) was changed in place after '{op}' used it, "
                "without being recorded (under no_grad, through .data, or by a view), and its gradient needs the "
                "original. Change a copy instead (t = t * 1), or move the in-place change after backward()."
            )
    if rewritten is not None:
        t._inputs = tuple(rewritten)


def supersede(t: Tensor, old: Tensor, at: int, changed_before: int) -> None:
    """A recorded in-place change turned ``t`` into a new node at tick ``at``; ``old`` keeps the version it
    replaced (its node and a copy of its values). Nodes recorded before ``at`` that read ``t`` read ``old``: the
    backward pass finds it here (``version_used``) and points them at it, unless the memory was changed without
    recording after they read it (``changed_before``, the tick of the last change before this one): then ``old``
    holds those changed values, and the pass refuses. Held weakly: the new node holds ``old`` as its input for as
    long as anything needs it."""
    history = t._superseded
    if not history:
        history = t._superseded = collections.deque()
    while history and history[0][2]() is None:  # versions nothing needs any more (their graph was freed)
        history.popleft()
    history.append((at, changed_before, weakref.ref(old)))


def version_used(t: Tensor, tick: int) -> Tensor | None:
    """The version of ``t`` that a node recorded at ``tick`` read, if a recorded change replaced it since."""
    for superseded_at, changed_before, old in t._superseded:
        if tick < superseded_at:
            return old() if changed_before < tick else None  # (changed unrecorded since the node read it: None)
    return None
