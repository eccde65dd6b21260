"""Batching rules: how each primitive applies to a batch of examples at once.

``run(prim, args, params)`` is called when a primitive meets ``Batched`` data. The innermost ``vmap`` (the highest
level present) is taken off: its operands give their stacked values (batch axis first), the others are the same
for every example. The primitive's rule then computes the stacked result with the primitives themselves, which
handle the enclosing levels the same way. A rule ``rule(prim, values, batched, params, size)`` gets the values, a
flag per value saying which carry the batch axis, and the batch size.

The kinds of rule, as for the batched tangents of ``jacobian`` (``batching.py``):

- elementwise: the batched operands get axes of length 1 after the batch axis up to the rank of the result, and
  broadcasting does the rest;
- an ``axis`` parameter is moved past the batch axis;
- a shape or an index parameter gets the batch axis in front;
- linear algebra treats leading axes as a stack already: the batch axis is one more;
- a primitive made at run time (``custom_vjp``, ``checkpoint``) or a batched parameter the rule cannot take is
  applied one example at a time and stacked (correct, not faster).
"""

from __future__ import annotations

from typing import Any

import numpy as np  # index and shape arithmetic only; the data goes through the primitives

from .. import ops
from ..batching import _advanced_shape
from .batched import Batched


def _level(args: Any, params: dict) -> int:
    level = 0
    for a in args:
        if type(a) is Batched and a.level > level:
            level = a.level
    for v in params.values():
        for part in v if type(v) is tuple else (v,):
            if type(part) is Batched and part.level > level:
                level = part.level
    return level


def run(prim: Any, args: tuple, params: dict) -> Batched:
    """``prim`` applied to operands of which some are batched: one operation for the whole batch."""
    if prim.name in SELF_BATCHING:
        return prim.forward(None, *args, **params)
    level = _level(args, params)
    values, batched, size = [], [], None
    for a in args:
        if type(a) is Batched and a.level == level:
            values.append(a.value)
            batched.append(True)
            size = a.batch_size
        else:
            values.append(a)
            batched.append(False)
    if params:
        own = {}
        for k, v in params.items():
            if type(v) is Batched and v.level == level:
                own[k] = Stacked(v.value)
                size = v.batch_size
            elif type(v) is tuple and any(type(p) is Batched and p.level == level for p in v):
                own[k] = tuple(Stacked(p.value) if type(p) is Batched and p.level == level else p for p in v)
                size = next(p.batch_size for p in v if type(p) is Batched and p.level == level)
            else:
                own[k] = v
        params = own
    rule = rule_of(prim) or one_by_one
    if rule not in TAKES_BATCHED_PARAMS and any(_has_stacked(v) for v in params.values()):
        rule = one_by_one
    return Batched(rule(prim, values, batched, params, size), level)


def _has_stacked(value: Any) -> bool:
    return type(value) is Stacked or (type(value) is tuple and any(type(p) is Stacked for p in value))


def _example(value: Any, b: int) -> Any:
    """Example ``b`` of a parameter that may be stacked (or an index holding stacked arrays)."""
    if type(value) is Stacked:
        return ops.getitem(value.value, index=b)
    if type(value) is tuple and any(type(p) is Stacked for p in value):
        return tuple(_example(p, b) for p in value)
    return value


class Stacked:
    """A parameter (a mask, an index) that differs between examples: its values stacked, batch axis first."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def elementwise_values(function: Any, a: Any, b: Any) -> Any:
    """A NumPy elementwise function (of one or two arguments) on batched values, level by level."""
    level = _level((a, b), {})
    if level == 0:
        return function(a) if b is None else function(a, b)
    rank = max(_rank(x, type(x) is Batched and x.level == level) for x in (a, b))
    unwrapped = [lift(x.value, rank) if type(x) is Batched and x.level == level else x for x in (a, b)]
    return Batched(elementwise_values(function, *unwrapped), level)


# -- helpers -----------------------------------------------------------------------------------------------------


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def _rank(v: Any, batched: bool) -> int:
    return len(_shape(v)) - (1 if batched else 0)


def lift(v: Any, rank: int) -> Any:
    """A stacked value (B, *shape) given axes of length 1 after the batch axis, up to ``rank`` per example."""
    shape = _shape(v)
    missing = rank - (len(shape) - 1)
    return v if missing <= 0 else ops.reshape(v, shape=shape[:1] + (1,) * missing + shape[1:])


def stacked(v: Any, batched: bool, size: int) -> Any:
    """A value with the batch axis in front, copied to every example if it had none."""
    if batched:
        return v
    shape = _shape(v)
    return ops.broadcast_to(ops.reshape(v, shape=(1, *shape)), shape=(size, *shape))


def _after_batch(axis: Any, ndim: int) -> Any:
    """An ``axis`` parameter of one example, for the stacked value (axes counted from the end stay as they are)."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


def one_by_one(prim: Any, values: list, batched: list, params: dict, size: int) -> Any:
    """The primitive applied to each example in turn, the results stacked (for what no rule vectorizes)."""
    results = []
    for b in range(size):
        args = [ops.getitem(v, index=b) if flag else v for v, flag in zip(values, batched)]
        own = {k: _example(v, b) for k, v in params.items()}
        results.append(ops.expand_dims(prim(*args, **own), 0))
    return ops.concatenate(*results, axis=0)


# -- the rules ---------------------------------------------------------------------------------------------------


def elementwise(prim: Any, values: list, batched: list, params: dict, size: int) -> Any:
    rank = max(_rank(v, b) for v, b in zip(values, batched))
    return prim(*[lift(v, rank) if b else v for v, b in zip(values, batched)], **params)


def _where(prim: Any, values: list, batched: list, params: dict, size: int) -> Any:
    condition = params.get("condition")
    stacked_condition = type(condition) is Stacked
    if stacked_condition:
        condition = condition.value
    rank = max([_rank(v, b) for v, b in zip(values, batched)] + [_rank(condition, stacked_condition)])
    lifted = [lift(v, rank) if b else v for v, b in zip(values, batched)]
    return prim(*lifted, condition=lift(condition, rank) if stacked_condition else condition)


def _with_axis(prim: Any, values: list, batched: list, params: dict, size: int) -> Any:
    (x,) = values
    ndim = len(_shape(x)) - 1
    return prim(x, **{**params, "axis": _after_batch(params.get("axis"), ndim)})


def _reshape(prim, values, batched, params, size):
    return prim(values[0], shape=(size, *params["shape"]))


def _transpose(prim, values, batched, params, size):
    ndim = len(_shape(values[0])) - 1
    axes = params.get("axes")
    axes = tuple(range(ndim - 1, -1, -1)) if axes is None else tuple(a % ndim for a in axes)
    return prim(values[0], axes=(0, *(a + 1 for a in axes)))


def _broadcast_to(prim, values, batched, params, size):
    shape = tuple(params["shape"])
    return prim(lift(values[0], len(shape)), shape=(size, *shape))


def _sum_to(prim, values, batched, params, size):
    shape = tuple(params["shape"])
    x = values[0]
    lead = len(_shape(x)) - 1 - len(shape)
    if lead > 0:
        x = ops.sum(x, axis=tuple(range(1, 1 + lead)))
    return prim(x, shape=(size, *shape))


def _batch_index(index: Any) -> tuple:
    return (slice(None), *(index if isinstance(index, tuple) else (index,)))


def _getitem(prim, values, batched, params, size):
    index = params["index"]
    if _has_stacked(index):
        return _gather_per_example(prim, values, batched, params, size)
    selected = prim(values[0], index=_batch_index(index))
    moved = _advanced_shape(index)
    if moved is None:
        return selected
    at, ndim = len(moved), len(_shape(selected))  # NumPy put the advanced axes in front of the batch axis
    return ops.transpose(selected, axes=(at, *range(at), *range(at + 1, ndim)))


def _gather_per_example(prim, values, batched, params, size):
    """x[index] where the index arrays differ between examples (a label per example, say). When the index's
    arrays and integers come first, side by side (``x[label]``, ``x[i, j]``, ``x[rows, labels]``), one gather with
    the examples' numbers as one more index array does it; otherwise one example at a time."""
    index = params["index"] if type(params["index"]) is tuple else (params["index"],)
    advanced = 0
    for part in index:
        if type(part) is Stacked or isinstance(part, (int, np.integer)) or hasattr(part, "dtype"):
            advanced += 1
        else:
            break
    rest = index[advanced:]
    if not advanced or any(type(p) is Stacked or hasattr(p, "dtype") for p in rest):
        return one_by_one(prim, values, batched, params, size)
    parts = [p.value if type(p) is Stacked else p for p in index[:advanced]]
    rank = max(len(_shape(p)) - (1 if type(q) is Stacked else 0) for p, q in zip(parts, index[:advanced]))
    examples = np.arange(size).reshape((size,) + (1,) * rank)
    lifted = [lift(p, rank) if type(q) is Stacked else p for p, q in zip(parts, index[:advanced])]
    return prim(stacked(values[0], batched[0], size), index=(examples, *lifted, *rest))


def _selection_layout(v: Any, index: Any) -> Any:
    """A stacked value (B, *selected) laid out as x[:, *index] lays out a selection (see ``_getitem``)."""
    moved = _advanced_shape(index)
    if moved is None:
        return v
    at = len(moved)
    return ops.transpose(v, axes=(*range(1, at + 1), 0, *range(at + 1, len(_shape(v)))))


def _scatter_add(prim, values, batched, params, size):
    index = params["index"]
    return prim(_selection_layout(values[0], index), index=_batch_index(index), shape=(size, *params["shape"]))


def _setitem(prim, values, batched, params, size):
    x, value = values
    index = params["index"]
    x = stacked(x, batched[0], size)
    selected = np.broadcast_to(np.empty((), dtype=bool), _shape(x)[1:])[index].shape
    if batched[1]:
        value = ops.broadcast_to(lift(value, len(selected)), shape=(size, *selected))
    else:
        value = ops.broadcast_to(ops.reshape(value, shape=(1, *_shape(value))), shape=(size, *selected))
    return prim(x, _selection_layout(value, index), index=_batch_index(index))


def _concatenate(prim, values, batched, params, size):
    axis = params.get("axis", 0)
    return prim(*[stacked(v, b, size) for v, b in zip(values, batched)], axis=axis + 1 if axis >= 0 else axis)


def _pad(prim, values, batched, params, size):
    return prim(values[0], widths=((0, 0), *params["widths"]))


def _fold(prim, values, batched, params, size):
    return prim(values[0], kernel=params["kernel"], stride=params["stride"], shape=(size, *params["shape"]))


def _leading_stack(prim, values, batched, params, size):
    """Operations that take stacks of matrices (leading axes): the batch axis is one more leading axis, the
    operands given the same rank so their batch axes line up."""
    rank = max(_rank(v, b) for v, b in zip(values, batched))
    return prim(*[lift(v, rank) if b else v for v, b in zip(values, batched)], **params)


def _matmul(prim, values, batched, params, size):
    a, b = values
    vector_a = _rank(a, batched[0]) == 1
    vector_b = _rank(b, batched[1]) == 1
    if vector_a:  # (.., n) -> (.., 1, n): a row
        a = ops.expand_dims(a, -2)
    if vector_b:  # (.., n) -> (.., n, 1): a column
        b = ops.expand_dims(b, -1)
    rank = max(_rank(a, batched[0]), _rank(b, batched[1]))
    out = prim(lift(a, rank) if batched[0] else a, lift(b, rank) if batched[1] else b)
    if vector_b:
        out = ops.squeeze(out, -1)
    if vector_a:
        out = ops.squeeze(out, -1 if vector_b else -2)
    return out


def _einsum(prim, values, batched, params, size):
    inputs, output = params["subscripts"].split("->")
    inputs = inputs.split(",")
    letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in params["subscripts"])
    inputs = [letter + part if b else part for part, b in zip(inputs, batched)]
    return prim(*values, subscripts=",".join(inputs) + "->" + letter + output)


def _linear(prim, values, batched, params, size):
    x, weight, *bias = values
    if not any(batched[1:]):  # one weight for all: the batch axis is one more leading axis of x
        return prim(x, weight, *bias)
    # a weight per example: x (B, *lead, in) as (B, L, in) rows, times (B, in, out), back to (B, *lead, out)
    x = stacked(x, batched[0], size)
    lead = _shape(x)[1:-1]
    rows = ops.reshape(x, shape=(size, -1, _shape(x)[-1]))
    out = ops.matmul(rows, ops.swapaxes(stacked(weight, True, size), -1, -2))
    out = ops.reshape(out, shape=(size, *lead, _shape(out)[-1]))
    if bias:
        out = out + (lift(bias[0], len(lead) + 1) if batched[2] else bias[0])
    return out


def _linear_weight_grad(prim, values, batched, params, size):
    g, x = (stacked(v, b, size) for v, b in zip(values, batched))
    rows = ops.reshape(g, shape=(size, -1, _shape(g)[-1]))
    columns = ops.reshape(x, shape=(size, -1, _shape(x)[-1]))
    return ops.matmul(ops.swapaxes(rows, -1, -2), columns)


def _softmax_cross_entropy(prim, values, batched, params, size):
    logits = values[0]
    rows, classes = _shape(logits)[1:]
    labels = np.asarray(params["labels"])
    merged = ops.reshape(logits, shape=(size * rows, classes))
    losses = ops.reshape(prim(merged, labels=np.tile(labels, size), reduction="none"), shape=(size, rows))
    reduction = params.get("reduction", "mean")
    if reduction == "none":
        return losses
    total = ops.sum(losses, axis=(1,))
    return total / rows if reduction == "mean" else total


def _vector_norm(prim, values, batched, params, size):
    ndim = len(_shape(values[0])) - 1
    return prim(values[0], **{**params, "axis": _after_batch(params.get("axis"), ndim)})


_ELEMENTWISE_TOO = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "sign", "cast",
                   "floor", "ceil", "trunc", "rint", "round",
                   "bitwise_and", "bitwise_or", "bitwise_xor", "invert")  # fmt: skip
_LINALG = (
    "inv",
    "det",
    "logabsdet",
    "cholesky",
    "eig",
    "eigh",
    "svd",
    "qr",
    "pinv",
    "solve",
    "solve_triangular",
    "sign_of_det",
)


def _one_axis(prim, values, batched, params, size):
    """A transform along one axis: that axis moves past the batch axis (a negative one counts from the end)."""
    axis = params.get("axis", -1)
    return prim(stacked(values[0], batched[0], size), **{**params, "axis": axis if axis < 0 else axis + 1})


RULES: dict[str, Any] = {
    **{name: _one_axis for name in ("fft", "ifft", "rfft", "irfft")},
    **{
        name: one_by_one
        for name in ("convolve", "solve_triangular", "expm", "solve_sylvester", "sqrtm", "solve_banded")
    },
    **{name: elementwise for name in _ELEMENTWISE_TOO},
    "where": _where,
    **{name: _with_axis for name in ("sum", "max", "min", "prod", "logsumexp", "softmax", "log_softmax")},
    "cumsum": _with_axis,
    "cumprod": _with_axis,
    "vector_norm": _vector_norm,
    "reshape": _reshape,
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "sum_to": _sum_to,
    "getitem": _getitem,
    "scatter_add": _scatter_add,
    "setitem": _setitem,
    "concatenate": _concatenate,
    "pad": _pad,
    "unfold": lambda prim, values, batched, params, size: prim(values[0], **params),
    "fold": _fold,
    "identity": lambda prim, values, batched, params, size: prim(values[0]),
    "matmul": _matmul,
    "einsum": _einsum,
    "linear": _linear,
    "linear_weight_grad": _linear_weight_grad,
    "softmax_cross_entropy": _softmax_cross_entropy,
    **{name: _leading_stack for name in _LINALG},
}
TAKES_BATCHED_PARAMS = frozenset({_where})

# primitives that handle batched values in their own forward (vmap's way in and out)
SELF_BATCHING = {"batch_in", "batch_out", "batch_sum"}


def rule_of(prim: Any) -> Any:
    """The batching rule of ``prim`` (None when it has none and would go one example at a time)."""
    if prim.elementwise:
        return elementwise
    return RULES.get(prim.name)
