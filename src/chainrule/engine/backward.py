"""The backward pass: the graph walked from the output back to the leaves, each rule applied once per node."""

from __future__ import annotations

import heapq
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

from ..backend import SCALAR_TYPES, array_module
from ..errors import GradientError
from ..tensor import FREED, NARY, UNARY, Skeletons, Tensor

if TYPE_CHECKING:
    from ..primitive import Primitive
from . import hooks
from .anomaly import _anomaly, _anomaly_open, _check_gradient, _values
from .hooks import HOOKS_USED
from .tracing import _local as _jit_trace
from .versions import _changed_since_recorded, _last_change

# Selections. ``cr.where(c, f(x), y)`` sends the branch not chosen a gradient of exactly zero; the branch's own rule
# then multiplies that zero by its local derivative, which may be infinite or NaN just where the branch was not
# chosen (sqrt at x <= 0): 0 * inf = NaN, and the NaN would flow into x. So the walk keeps, beside a gradient, the
# mask of its entries that are zero by selection: a where makes one (the positions it did not choose), an
# elementwise rule sets those entries of its result to 0 and hands the mask on, and where gradients add up only
# entries masked in every contribution stay masked. A zero that is not the work of a selection (sqrt(x) * sqrt(x)
# at 0) is not masked: there the NaN stays, as the formula says. Under create_graph the zeroing is a recorded
# where, itself a selection, so it holds at every order. Masks can only flow to nodes recorded before the last
# selection anywhere: a graph without one is walked as before, at no cost.

_last_selection = [0]


def note_selection(t: Tensor) -> None:
    """Record that ``t`` selects between branches (``cr.where``): the walk keeps the zeros it hands them."""
    if type(t) is Tensor and t._op is not None:
        _last_selection[0] = t._tick


def _selection_mask(prim: Primitive, i: int, mask: Any, params: dict) -> Any:
    """Where the gradient of input ``i`` is zero by selection (a bool array broadcasting with it), or None."""
    if not prim.elementwise:
        return None  # the mask of a node that mixes elements says nothing about its inputs' gradients
    if prim is where:
        condition = params["condition"]
        away = ~condition if i == 0 else condition  # the positions this input was not chosen at
        return away if mask is None else mask | away
    return mask


# Primitives whose reverse rule only moves, copies or adds up entries of the gradient (a linear map with 0/1
# coefficients): the mask goes through the same rule, as a count of the entries not zero by selection.
_MOVES_ENTRIES = frozenset(
    (
        "identity reshape transpose broadcast_to sum_to getitem scatter_add setitem concatenate sum pad unfold fold "
        "cast"
    ).split()
)


def _moved_mask(node: Tensor, i: int, mask: Any, batch: int | None) -> Any:
    """The mask of input ``i`` of a node that moves entries: where every entry that reaches it is masked."""
    xp = array_module(mask)
    others = (~mask).astype(xp.float64)
    values, params = _arrays(node._inputs), node._params
    if batch is None:
        moved = _input_gradients(node._op, [i], others, _values(node), values, params)[i]
        moved = sum_to(moved, shape=tuple(values[i].shape)) if moved.shape != values[i].shape else moved
    else:
        from ..batching import batched_vjps

        moved = batched_vjps(node._op, [i], others, _values(node), values, params, batch)[i]
    return _values(moved) == 0


def _zero_at(gi: Any, mask: Any) -> Any:
    """``gi`` with the entries at ``mask`` set to exactly 0 (recorded, and itself a selection, for a Tensor)."""
    values = _values(gi)
    if not mask.any():
        return gi
    if type(gi) is Tensor:
        kept = where(0.0, gi, condition=mask)
        note_selection(kept)
        return kept
    xp = array_module(values)
    return xp.where(mask, xp.zeros((), dtype=values.dtype), values)


def _fit_mask(mask: Any, shape: tuple, batch: int | None) -> Any:
    """The mask of a gradient summed down to ``shape`` (as ``fit_gradient`` sums the gradient): an entry stays
    masked only if every entry summed into it was."""
    if tuple(mask.shape) == tuple(shape):
        return mask
    xp = array_module(mask)
    others = (~mask).astype(xp.float64)  # count the entries that are not zero by selection
    if batch is None:
        others = sum_to(others, shape=tuple(shape))
    else:
        from ..batching import fit_batched

        others = fit_batched(others, tuple(shape)[1:], batch)
    return others == 0


# ---------------------------------------------------------------------------------------------------------------
# Backward


def backward(root: Tensor, seed: Any, retain_graph: bool, create_graph: bool) -> None:
    """Accumulate d(root)/d(leaf) . seed into every leaf's ``.grad`` (and retained non-leaves')."""
    if not HOOKS_USED[0]:
        for leaf, g in _propagate(root, seed, retain_graph, create_graph, None).items():
            _accumulate(leaf, g, create_graph)
        return
    with hooks.callbacks():  # callbacks queued by hooks run once the pass has ended
        early = hooks.final_at(root)  # leaves with hooks are finished as soon as their gradient is final
        for leaf, g in _propagate(root, seed, retain_graph, create_graph, None, early=early).items():
            _finish_leaf(leaf, g, create_graph)


def _finish_leaf(leaf: Tensor, g: Any, create_graph: bool) -> None:
    """A leaf's gradient for this pass is final: its hooks, then into ``.grad``, then the hooks that want it."""
    _accumulate(leaf, hooks.apply_grad_hooks(leaf, g, create_graph), create_graph)
    hooks.post_accumulate(leaf)


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
    if HOOKS_USED[0]:
        for key in targets:  # a leaf's hooks see its gradient here too (a computed tensor's saw it in the walk)
            if type(key) is Tensor and found.get(key) is not None:
                found[key] = hooks.apply_grad_hooks(key, found[key], create_graph)
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
    root: Tensor,
    seed: Any,
    retain_graph: bool,
    create_graph: bool,
    targets: list | None,
    batch: int | None = None,
    early: dict | None = None,
) -> dict:
    """The backward pass from ``root``: returns the gradients of the leaves (or of ``targets``).

    The pending nodes wait in a heap ordered by tick, and the highest tick is taken first: every consumer of a
    node has a higher tick than the node, so by the time a node is taken all its contributions have arrived.
    """
    if (
        targets is None
        and batch is None
        and not create_graph
        and not (_anomaly_open[0] and _anomaly.on or HOOKS_USED[0])
    ):
        if root._op is not None and not BATCHING_USED[0]:
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
    stored: dict[int, Any] = {}  # the leaves' gradients so far (see ``_owned``)
    masks: dict[int, Any] = {}  # tick -> where its gradient is zero by selection (see ``_selection_mask``)
    heap = [-root._tick]
    kept = _skeletons(retain_graph)
    held = 3 if create_graph else 2  # this frame's references to a node (see the end of the loop)
    while heap:
        tick = -heapq.heappop(heap)
        node = waiting.pop(tick)
        g = grads.pop(tick)
        mask = masks.pop(tick, None)
        if node._inputs is None:
            raise _freed(node)
        if HOOKS_USED[0] and "_grad_hooks" in node.__dict__:
            g = hooks.apply_grad_hooks(node, g, create_graph)
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
        selecting = tick <= _last_selection[0]  # a mask can reach this node
        if not needed:
            pass
        elif batch is not None and not (selecting and prim.elementwise):
            from ..batching import batched_vjps

            handed = batched_vjps(prim, needed, g, ans, values, params, batch)
        else:  # (elementwise rules take a batch as it is; masked first, then summed down below)
            handed = _input_gradients(prim, needed, g, ans, values, params)
        for i in needed:
            gi = handed[i]
            if gi is None:
                continue
            parent, value = node._inputs[i], values[i]
            given = None
            if selecting and mask is not None and prim.name in _MOVES_ENTRIES:
                given = _moved_mask(node, i, mask, batch)
            elif selecting:
                given = _selection_mask(prim, i, mask, params)
                if given is not None:
                    gi = _zero_at(gi, given)
                    given = array_module(given).broadcast_to(given, _values(gi).shape)
            if BATCHING_USED[0]:
                gi = fit_levels(gi, value)
            if batch is None and (gi.shape != value.shape or gi.dtype is not value.dtype):
                gi = fit_gradient(gi, value, prim.name, i)
            elif batch is not None and tuple(gi.shape) != (batch, *value.shape):
                from ..batching import fit_batched

                gi = fit_batched(gi, tuple(value.shape), batch)
            if _anomaly_open[0] and _anomaly.on:
                _check_gradient(node, i, gi)
            if parent._op is not None:
                t = parent._tick
                if given is not None:
                    given = _fit_mask(given, tuple(gi.shape), batch)
                previous = grads.get(t)
                if previous is None:
                    grads[t] = gi
                    masks[t] = given
                    waiting[t] = parent
                    heapq.heappush(heap, -t)
                else:
                    grads[t] = previous + gi
                    earlier = masks.get(t)
                    masks[t] = None if earlier is None or given is None else earlier & given
            else:
                previous = found.get(parent)
                found[parent] = _owned(gi, g, stored) if previous is None else previous + gi
        if early:
            for leaf in early.pop(tick, ()):  # no contribution to these can come any more
                if leaf in found:
                    _finish_leaf(leaf, found.pop(leaf), create_graph)
        if kept is not None:
            e0, e1 = _kept_inputs(node._in0, node._in1)
            survives = weakref.ref(node) if sys.getrefcount(node) > held else None  # (see _propagate_plain)
            kept.append((tick, prim, params, node.name, e0, e1, survives))
            node._in0, node._in1 = kept, FREED
        elif not retain_graph:
            node._in0, node._in1 = None, FREED
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
    stored: dict[int, Any] = {}  # the leaves' gradients so far (see ``_owned``)
    pop, get = grads.pop, grads.get
    scalar_types = SCALAR_TYPES
    kept = _skeletons(retain_graph)
    keep = kept.append if kept is not None else None
    refcount, ref = sys.getrefcount, weakref.ref
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
            if keep is not None:
                e0, e1 = _kept_inputs(a, b)
        elif b is UNARY:
            x = a.data
            handover = ((a, x, rules[0](g, ans, x), 0),) if a._rg else ()
            if keep is not None:  # (as _kept_inputs, spelled out: it runs once per node)
                e0, e1 = a if a._op is None else a._tick, b
        else:
            ta, tb = type(a) is Tensor, type(b) is Tensor
            x = a.data if ta else a
            y = b.data if tb else b
            if ta and a._rg:
                if tb and b._rg:
                    handover = ((a, x, rules[0](g, ans, x, y), 0), (b, y, rules[1](g, ans, x, y), 1))
                else:
                    handover = ((a, x, rules[0](g, ans, x, y), 0),)
            else:
                handover = ((b, y, rules[1](g, ans, x, y), 1),) if tb and b._rg else ()
            if keep is not None:
                e0 = (a if a._op is None else a._tick) if ta else (a,)
                e1 = (b if b._op is None else b._tick) if tb else (b,)
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
                found[parent] = _owned(gi, g, stored) if previous is None else previous + gi
        if keep is not None:
            # a weak reference where something besides the graph holds the node (more references than this
            # frame's name for it and the call's own: it outlives the pass, and its values can be read again)
            keep((node._tick, node._op, params, node.name, e0, e1, ref(node) if refcount(node) > 2 else None))
            node._in0, node._in1 = kept, FREED
        elif not retain_graph:
            node._in0, node._in1 = None, FREED
    return found


def _skeletons(retain_graph: bool) -> Skeletons | None:
    """Where a pass that frees the graph keeps what it frees, for drawing (see ``Skeletons``). Not under cr.jit:
    a replay builds no graph to draw, and a trace must not keep the tensors the call made (leaves without grad
    are held by what is kept)."""
    return None if retain_graph or _jit_trace.trace is not None else Skeletons()


def _kept_inputs(first: Any, second: Any) -> tuple:
    """A node's input slots as ``Skeletons`` keeps them: leaves as they are, computed inputs by their tick, and
    constants inside a 1-tuple."""
    if second is NARY:
        return tuple([(p if p._op is None else p._tick) if type(p) is Tensor else (p,) for p in first]), second
    first = (first if first._op is None else first._tick) if type(first) is Tensor else (first,)
    if second is not UNARY:
        second = (second if second._op is None else second._tick) if type(second) is Tensor else (second,)
    return first, second


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
            _changed_since_recorded(node)  # (may point the node at the versions of its inputs it read)
            second = node._in1
        first = node._in0
        if type(first) is Tensor and first._op is not None and first._tick not in by_tick:
            by_tick[first._tick] = first
            found.append(first)
        if type(second) is Tensor:
            if second._op is not None and second._tick not in by_tick:
                by_tick[second._tick] = second
                found.append(second)
        elif second is NARY:
            for parent in first:
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
            g = real(g)  # a real input moves only along the real axis: the imaginary part of its cotangent is moot
        g = cast(g, dtype=value.dtype)
    return g


def _owned(gi: Any, g: Any, stored: dict) -> Any:
    """``gi`` fit to be a leaf's gradient of its own: copied where it may be shared, that is where it is the
    gradient that arrived (a rule that passes it on hands it to every input), a view of another array, or an
    array already given to another leaf in this pass. ``stored`` maps id to array for the arrays given so far;
    they are all alive (held by the pass's results), so an id names one array, which the ``is`` check confirms."""
    if type(gi) is Tensor or not hasattr(gi, "__setitem__"):
        return gi  # a recorded gradient (create_graph: made a node of its own later) or an immutable scalar
    if gi is g or gi.base is not None or stored.get(id(gi)) is gi:
        gi = gi.copy(order="K")  # its layout kept
    stored[id(gi)] = gi
    return gi


_accumulating = threading.Lock()


def _accumulate(t: Tensor, g: Any, create_graph: bool) -> None:
    """Add ``g`` into ``t.grad``. A ``.grad`` is always the tensor's own: the walk hands over arrays of their
    own (``_owned``), and with ``create_graph`` it is a node of its own. Read, add and store happen under one
    lock, so threads running backward() into a shared leaf never lose each other's contributions."""
    with _accumulating:
        if _jit_trace.trace is not None:  # (cr.jit records what a traced call leaves in .grad)
            _jit_trace.trace.note_grad(t)
        previous = t._grad
        if previous is None:
            if create_graph and type(g) is Tensor:
                t._grad = identity(g)
            else:  # (the walk made it the leaf's own: see _owned)
                t._grad = Tensor._from_op(g.data if type(g) is Tensor else g, None)
        elif create_graph or previous._rg:
            t._grad = previous + g
        else:
            t._grad = Tensor._from_op(previous.data + (g.data if type(g) is Tensor else g), None)


# The two primitives the engine applies itself, to fit a gradient to its input (imported last: they are
# defined on top of this module)
from ..ops.elementwise import cast, real, where  # noqa: E402
from ..ops.shape import identity, sum_to  # noqa: E402
from ..primitive import JointRule  # noqa: E402
from ..vectorize.batched import BATCHING_USED  # noqa: E402
from ..vectorize.boundary import fit_levels  # noqa: E402
