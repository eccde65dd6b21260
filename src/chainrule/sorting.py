"""Sorting and searching: ``sort``, ``partition`` and ``median`` are differentiable; the positions they are built on
(``argsort``, ``argpartition``, ``argmax``, ``argmin``) are integers, handed back as tensors that need no gradient.

A sorted tensor is its input gathered at the positions ``argsort`` gives, so each output element's gradient goes
to the input element that landed there (at ties, to the one a stable sort puts there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .functions import _operand, _public, register_numpy
from .manipulation import take_along_axis
from .tensor import Tensor
from .vectorize.boundary import looped_when_batched


def _values(a: Any) -> np.ndarray:
    return np.asarray(ops.constant(a))


@looped_when_batched
def argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Tensor:
    """The positions that sort ``a`` along ``axis`` (an integer tensor: no gradient)."""
    return Tensor(np.argsort(_values(_operand(a)), axis=axis, kind=kind, order=order, stable=stable))


@looped_when_batched
def argpartition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Tensor:
    """The positions that partition ``a`` around its ``kth`` element (an integer tensor: no gradient)."""
    return Tensor(np.argpartition(_values(_operand(a)), kth, axis=axis, kind=kind, order=order))


@looped_when_batched
def argmax(a: Any, axis: int | None = None, *, keepdims: bool = False) -> Tensor:
    """The position of the largest element (the first of ties), an integer tensor."""
    return Tensor(np.argmax(_values(_operand(a)), axis=axis, keepdims=keepdims))


@looped_when_batched
def argmin(a: Any, axis: int | None = None, *, keepdims: bool = False) -> Tensor:
    """The position of the smallest element (the first of ties), an integer tensor."""
    return Tensor(np.argmin(_values(_operand(a)), axis=axis, keepdims=keepdims))


@looped_when_batched
@_public
def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Tensor:
    """``a`` sorted along ``axis`` (the flattened tensor when None), differentiable."""
    a = _operand(a)
    if axis is None:
        a, axis = ops.reshape(a, shape=(-1,)), -1
    positions = np.argsort(_values(a), axis=axis, kind="stable" if kind is None else kind, order=order)
    return take_along_axis(a, positions, axis=axis)


@looped_when_batched
@_public
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Tensor:
    """``a`` with its ``kth`` element in sorted place, smaller ones before and larger after, differentiable."""
    a = _operand(a)
    if axis is None:
        a, axis = ops.reshape(a, shape=(-1,)), -1
    positions = np.argpartition(_values(a), kth, axis=axis, kind=kind, order=order)
    return take_along_axis(a, positions, axis=axis)


@_public
def median(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The median along ``axis`` (all elements when None): the middle sorted element, or the mean of the two
    middle ones; its gradient goes to them."""
    a = _operand(a)
    shape = tuple(ops.constant(a).shape)
    if axis is None:
        flat = ops.reshape(a, shape=(-1,))
        out = median(flat, axis=0)
        return ops.reshape(out, shape=(1,) * len(shape)) if keepdims else out
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(sorted(int(x) % len(shape) for x in axes))
    if len(axes) > 1:  # several axes: bring them together at the end, then one
        rest = [d for d in range(len(shape)) if d not in axes]
        moved = ops.transpose(a, axes=(*rest, *axes))
        joined = ops.reshape(moved, shape=tuple(shape[d] for d in rest) + (-1,))
        out = median(joined, axis=-1)
        return ops.expand_dims(out, axes) if keepdims else out
    (axis,) = axes
    n = shape[axis]
    if n == 0:
        raise ValueError(f"median: axis {axis} is empty")
    ordered = sort(a, axis=axis)
    middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    picked = ops.getitem(ordered, index=(slice(None),) * axis + (np.asarray(middle),))
    out = ops.sum(picked, axis=(axis,), keepdims=keepdims) / len(middle)
    return out


for _name, _accepted in {
    "sort": {"axis", "kind", "stable"},
    "partition": {"kth", "axis", "kind"},
    "median": {"axis", "keepdims"},
    "argsort": {"axis", "kind", "stable"},
    "argpartition": {"kth", "axis", "kind"},
    "argmax": {"axis", "keepdims"},
    "argmin": {"axis", "keepdims"},
}.items():
    register_numpy(getattr(np, _name), globals()[_name], *_accepted)

for _name in ("argsort", "argmax", "argmin"):
    setattr(Tensor, _name, globals()[_name])
