"""Forward mode with a batch of tangents: many directions pushed through one pass.

A batched forward level carries, for each tensor, a tangent with one extra leading axis: one slice per
direction. ``jacobian(mode="fwd")`` and ``hessian`` use it to push all the basis directions at once instead of
running the function once per direction. The forward rules themselves are written for one tangent; this module
says how each kind of primitive takes the extra axis:

- elementwise primitives: the tangent is given axes of length 1 up to the output's rank, and broadcasting does
  the rest;
- reductions and other primitives with an ``axis``: the axis is counted from the end, which the leading batch
  axis does not move;
- primitives with a shape or an index: the batch axis is added in front of it;
- anything else: one rule call per direction, stacked (correct, just not faster).
"""

from __future__ import annotations

from typing import Any

import numpy as np  # shape arithmetic on indices only; arrays are handled by the primitives

from . import ops
from .primitive import JointRule, Primitive


def batched_change(prim: Primitive, i: int, t: Any, out: Any, args: tuple, params: dict, batch: int) -> Any:
    """The change of ``out`` caused by the batch of tangents ``t`` (leading axis ``batch``) of input ``i``."""
    rule = _RULES.get(prim.name)
    if prim.elementwise:
        return _call(prim, i, _lift(t, len(out.shape)), out, args, params)
    if rule is not None:
        result = rule(prim, i, t, out, args, params, batch)
        if result is not NotImplemented:
            return result
    return _forward_one_by_one(prim, i, t, out, args, params, batch)


def _apply(rules: Any, i: int, v: Any, ans: Any, args: Any, params: dict) -> Any:
    """Call a primitive's rule for input ``i`` (one rule per input, or one rule told which input)."""
    if type(rules) is tuple:
        return rules[i](v, ans, *args, **params)
    return rules(i, v, ans, *args, **params)


def _call(prim: Primitive, i: int, t: Any, out: Any, args: tuple, params: dict) -> Any:
    return _apply(prim.jvps, i, t, out, args, params)


def _lift(t: Any, rank: int) -> Any:
    """(B, *shape) -> (B, 1, ..., 1, *shape) with ``rank`` axes after the batch axis."""
    shape = tuple(t.shape)
    missing = rank - (len(shape) - 1)
    return t if missing <= 0 else ops.reshape(t, shape=shape[:1] + (1,) * missing + shape[1:])


def _one_by_one(rules: Any, i: int, v: Any, ans: Any, args: Any, params: dict, batch: int, fit: Any) -> Any:
    """The rule applied to each slice of the batch ``v`` in turn, each result fitted, stacked again."""
    slices = [
        ops.expand_dims(fit(_apply(rules, i, ops.getitem(v, index=b), ans, args, params)), 0) for b in range(batch)
    ]
    return ops.concatenate(*slices, axis=0)


def _forward_one_by_one(prim: Primitive, i: int, t: Any, out: Any, args: tuple, params: dict, batch: int) -> Any:
    shape = tuple(out.shape)

    def fit(change: Any) -> Any:
        return change if tuple(change.shape) == shape else ops.broadcast_to(change, shape=shape)

    return _one_by_one(prim.jvps, i, t, out, args, params, batch, fit)


def _from_end(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(-ndim, 0))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim - ndim for a in axes) if ndim else ()


def _with_axis(prim: Primitive, i: int, t: Any, out: Any, args: tuple, params: dict, batch: int) -> Any:
    ndim = len(args[0].shape)
    if ndim == 0:
        return NotImplemented
    return _call(prim, i, t, out, args, {**params, "axis": _from_end(params.get("axis"), ndim)})


def _reshape(prim, i, t, out, args, params, batch):
    return ops.reshape(t, shape=(batch, *params["shape"]))


def _transpose(prim, i, t, out, args, params, batch):
    ndim = len(args[0].shape)
    axes = params.get("axes")
    axes = tuple(range(ndim - 1, -1, -1)) if axes is None else tuple(a % ndim for a in axes)
    return ops.transpose(t, axes=(0, *(a + 1 for a in axes)))


def _broadcast_to(prim, i, t, out, args, params, batch):
    shape = tuple(params["shape"])
    return ops.broadcast_to(_lift(t, len(shape)), shape=(batch, *shape))


def _sum_to(prim, i, t, out, args, params, batch):
    shape = tuple(params["shape"])
    lead = len(t.shape) - 1 - len(shape)
    if lead < 0:
        return NotImplemented
    if lead:
        t = ops.sum(t, axis=tuple(range(1, 1 + lead)))
    return ops.sum_to(t, shape=(batch, *shape))


def _advanced_shape(index: Any) -> tuple | None:
    """The broadcast shape of the advanced parts of ``index`` when NumPy moves them to the front of the result
    (advanced parts not side by side; an int counts as advanced once an array is present), else None."""
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [k for k, p in enumerate(parts) if not (p is None or p is Ellipsis or isinstance(p, (int, slice)))]
    if not arrays:
        return None
    advanced = [k for k, p in enumerate(parts) if k in arrays or (isinstance(p, int) and not isinstance(p, bool))]
    if advanced == list(range(advanced[0], advanced[-1] + 1)):
        return None  # side by side: the result keeps them in place, after the batch axis
    shapes = []
    for k in advanced:
        p = parts[k]
        kind = getattr(getattr(p, "dtype", None), "kind", "")
        shapes.append((int(p.sum()),) if kind == "b" else np.shape(p))
    return np.broadcast_shapes(*shapes)


def _batch_index(index: Any) -> tuple:
    """The index with a leading slice for the batch axis."""
    return (slice(None), *(index if isinstance(index, tuple) else (index,)))


def _getitem(prim, i, t, out, args, params, batch):
    # t[:, *index] puts the batch axis behind advanced axes that NumPy moves to the front: move it back first
    moved = _advanced_shape(params["index"])
    selected = ops.getitem(t, index=_batch_index(params["index"]))
    if moved is None:
        return selected
    ndim = len(selected.shape)
    at = len(moved)
    return ops.transpose(selected, axes=(at, *range(at), *range(at + 1, ndim)))


def _matmul(prim, i, t, out, args, params, batch):
    # matmul is linear in each operand: the change is the product with the tangent in its place. The batch axis
    # must lead the result, so a vector operand becomes a matrix (squeezed again after) and the tangent is given
    # axes of length 1 up to the product's rank: the batch axis then never meets the other operand's batch axes.
    a, b = args
    vector_a, vector_b = len(a.shape) == 1, len(b.shape) == 1
    if vector_a:
        a, t = (ops.expand_dims(a, 0), ops.expand_dims(t, 1)) if i == 0 else (ops.expand_dims(a, 0), t)
    if vector_b:
        b, t = (ops.expand_dims(b, 1), ops.expand_dims(t, 2)) if i == 1 else (ops.expand_dims(b, 1), t)
    rank = max(len(a.shape), len(b.shape))
    t = _lift(t, rank)
    change = ops.matmul(t, b) if i == 0 else ops.matmul(a, t)
    if vector_b:
        change = ops.squeeze(change, -1)
    if vector_a:
        change = ops.squeeze(change, -1 if vector_b else -2)
    return change


def _einsum(prim, i, t, out, args, params, batch):
    inputs, output = params["subscripts"].split("->")
    inputs = inputs.split(",")
    letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in params["subscripts"])
    inputs[i] = letter + inputs[i]
    operands = list(args)
    operands[i] = t
    return ops.einsum(*operands, subscripts=",".join(inputs) + "->" + letter + output)


_RULES = {
    "sum": _with_axis,
    "max": _with_axis,
    "min": _with_axis,
    "prod": _with_axis,
    "logsumexp": _with_axis,
    "softmax": _with_axis,
    "log_softmax": _with_axis,
    "reshape": _reshape,
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "sum_to": _sum_to,
    "getitem": _getitem,
    "matmul": _matmul,
    "einsum": _einsum,
    "identity": lambda prim, i, t, out, args, params, batch: t,
    "cumsum": lambda prim, i, t, out, args, params, batch: ops.cumsum(
        t, axis=params["axis"] % len(args[0].shape) - len(args[0].shape)
    ),
    "cast": lambda prim, i, t, out, args, params, batch: ops.cast(t, dtype=params["dtype"]),
}


# -- reverse mode with a batch of cotangents (jacobian(mode="rev")): the same idea, backwards -------------------


def batched_vjps(prim: Primitive, needed: list[int], g: Any, ans: Any, values: Any, params: dict, batch: int) -> dict:
    """{input position: its batched gradient} for the inputs in ``needed``; a joint rule (one call gives every
    input's gradient) is called once per direction, not once per direction and input."""
    if type(prim.rules) is not JointRule:
        return {i: batched_vjp(prim, i, g, ans, values, params, batch) for i in needed}
    from .engine import fit_gradient

    per_direction = [prim.rules.rule(ops.getitem(g, index=b), ans, *values, **params) for b in range(batch)]
    handed = {}
    for i in needed:
        value = values[i]
        slices = []
        for grads in per_direction:
            gi = grads[i]
            if gi is None:
                gi = ops.constant(value) * 0
            elif tuple(gi.shape) != tuple(value.shape):
                gi = fit_gradient(gi, value, prim.name, i)
            slices.append(ops.expand_dims(gi, 0))
        handed[i] = ops.concatenate(*slices, axis=0)
    return handed


def batched_vjp(prim: Primitive, i: int, g: Any, ans: Any, values: Any, params: dict, batch: int) -> Any:
    """The gradient of input ``i`` for a batch of cotangents ``g`` (leading axis ``batch``)."""
    rule = _REVERSE.get(prim.name)
    if prim.elementwise:
        gi = _reverse_call(prim, i, g, ans, values, params)
    elif rule is not None:
        gi = rule(prim, i, g, ans, values, params, batch)
        if gi is NotImplemented:
            gi = _reverse_one_by_one(prim, i, g, ans, values, params, batch)
    else:
        gi = _reverse_one_by_one(prim, i, g, ans, values, params, batch)
    return fit_batched(gi, tuple(values[i].shape), batch)


def fit_batched(gi: Any, shape: tuple, batch: int) -> Any:
    """Sum a batched gradient down to (batch, *shape), as the engine's fit does for one gradient."""
    if tuple(gi.shape) == (batch, *shape):
        return gi
    if len(gi.shape) - 1 < len(shape):
        gi = _lift(gi, len(shape))
    lead = len(gi.shape) - 1 - len(shape)
    if lead:
        gi = ops.sum(gi, axis=tuple(range(1, 1 + lead)))
    return ops.sum_to(gi, shape=(batch, *shape))


def _reverse_call(prim: Primitive, i: int, g: Any, ans: Any, values: Any, params: dict) -> Any:
    return _apply(prim.rules, i, g, ans, values, params)


def _reverse_one_by_one(prim, i, g, ans, values, params, batch):
    from .engine import fit_gradient

    def fit(gi: Any) -> Any:
        return gi if tuple(gi.shape) == tuple(values[i].shape) else fit_gradient(gi, values[i], prim.name, i)

    return _one_by_one(prim.rules, i, g, ans, values, params, batch, fit)


def _reverse_matmul(prim, i, g, ans, values, params, batch):
    # the reverse rules put the cotangents' batch axis in front of the other operand's axes by themselves (a
    # vector's gradient is an outer product or a matrix-vector product), except for two vectors: their g is 0-d
    a, b = values
    if len(a.shape) == 1 and len(b.shape) == 1:
        return NotImplemented
    return _reverse_call(prim, i, g, ans, values, params)


def _reverse_reshape(prim, i, g, ans, values, params, batch):
    return ops.reshape(g, shape=(batch, *values[0].shape))


def _reverse_transpose(prim, i, g, ans, values, params, batch):
    ndim = len(values[0].shape)
    axes = params.get("axes")
    axes = tuple(range(ndim - 1, -1, -1)) if axes is None else tuple(a % ndim for a in axes)
    inverse = [0] * ndim
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return ops.transpose(g, axes=(0, *(a + 1 for a in inverse)))


def _reverse_getitem(prim, i, g, ans, values, params, batch):
    # the transpose of _getitem: put the batch axis where t[:, *index] would have it, then scatter
    moved = _advanced_shape(params["index"])
    if moved is not None:
        at = len(moved)
        g = ops.transpose(g, axes=(*range(1, at + 1), 0, *range(at + 1, len(g.shape))))
    return ops.scatter_add(g, index=_batch_index(params["index"]), shape=(batch, *values[0].shape))


def _reverse_sum(prim, i, g, ans, values, params, batch):
    shape = tuple(values[0].shape)
    if params.get("axis") is not None or params.get("keepdims"):
        return NotImplemented
    return ops.broadcast_to(_lift(g, len(shape)), shape=(batch, *shape))


_REVERSE = {
    "matmul": _reverse_matmul,
    "reshape": _reverse_reshape,
    "transpose": _reverse_transpose,
    "broadcast_to": lambda prim, i, g, ans, values, params, batch: g,  # fit_batched sums the broadcast axes
    "getitem": _reverse_getitem,
    "identity": lambda prim, i, g, ans, values, params, batch: g,
    "sum": _reverse_sum,
}
