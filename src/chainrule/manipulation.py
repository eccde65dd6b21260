"""NumPy's array manipulation routines on tensors: gathering (take, repeat, tile), rearranging (rot90, flips,
rollaxis), joining (hstack and friends, append), splitting (split and friends), padding (every mode of
``np.pad``) and ``diag``.

Each is composed from the primitives (indexing, reshaping, concatenation, padding, products), so its derivatives
in both modes, to any order, come from theirs. Index arithmetic is done by NumPy on integer arrays: it describes
where each element comes from, never a value that carries a gradient.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .errors import ShapeError
from .functions import (
    _axis,
    _operand,
    _public,
    concatenate,
    diagonal,
    flip,
    moveaxis,
    register_numpy,
    tensordot,
    transpose,
)
from .tensor import Tensor
from .vectorize.boundary import looped_when_batched


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(ops.constant(x)))


def _one_axis(op: str, axis: Any, ndim: int) -> int:
    return _axis(op, axis, ndim)[0]


def _along(axis: int, index: Any) -> tuple:
    return (slice(None),) * axis + (index,)


def _flat(x: Any) -> Any:
    return ops.reshape(x, shape=(-1,))


# -- gathering ---------------------------------------------------------------------------------------------------


@looped_when_batched
@_public
def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Tensor:
    """Elements at ``indices`` along ``axis`` (of the flattened tensor when None); mode "wrap" or "clip" as NumPy."""
    a = _operand(a)
    if axis is None:
        a, axis = _flat(a), 0
    shape = _shape(a)
    axis = _one_axis("take", axis, len(shape))
    index = np.asarray(ops.constant(indices))
    if index.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got dtype {index.dtype}")
    n = shape[axis]
    if mode == "wrap":
        index = index % n
    elif mode == "clip":
        index = np.clip(index, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return ops.getitem(a, index=_along(axis, index))


@looped_when_batched
@_public
def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Tensor:
    """``arr`` picked at ``indices`` along ``axis``, the other axes matched element by element (argsort's partner)."""
    arr = _operand(arr)
    index = np.asarray(ops.constant(indices))
    if axis is None:
        arr, axis = _flat(arr), 0
    shape = _shape(arr)
    if index.ndim != len(shape):
        raise ShapeError(f"take_along_axis: indices need {len(shape)} dimensions like arr, got shape {index.shape}")
    axis = _one_axis("take_along_axis", axis, len(shape))
    grids = []
    for d, n in enumerate(shape):
        if d == axis:
            grids.append(index)
        else:
            grids.append(np.arange(n).reshape([n if k == d else 1 for k in range(len(shape))]))
    return ops.getitem(arr, index=tuple(np.broadcast_arrays(*grids)))


@_public
def repeat(a: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Each element repeated ``repeats`` times along ``axis`` (of the flattened tensor when None)."""
    a = _operand(a)
    if axis is None:
        a, axis = _flat(a), 0
    shape = _shape(a)
    axis = _one_axis("repeat", axis, len(shape))
    return ops.getitem(a, index=_along(axis, np.repeat(np.arange(shape[axis]), repeats)))


@_public
def tile(A: Any, reps: int | Sequence[int]) -> Tensor:
    """``A`` repeated ``reps`` times along each axis (as NumPy, the shorter of the two padded with leading ones)."""
    a = _operand(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    shape = _shape(a)
    ndim = builtins.max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    a = ops.reshape(a, shape=shape)
    if ndim == 0:
        return a
    return ops.getitem(a, index=np.ix_(*[np.tile(np.arange(n), r) for n, r in zip(shape, reps)]))


# -- rearranging -------------------------------------------------------------------------------------------------


@_public
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, from the first axis towards the second."""
    m = _operand(m)
    ndim = len(_shape(m))
    if len(axes) != 2:
        raise ShapeError(f"rot90: axes must name two axes, got {axes!r}")
    a0, a1 = (_one_axis("rot90", a, ndim) for a in axes)
    if a0 == a1:
        raise ShapeError(f"rot90: axes must differ, got {axes!r}")
    k %= 4
    if k == 0:
        return ops.identity(m)
    if k == 2:
        return flip(flip(m, a0), a1)
    order = list(range(ndim))
    order[a0], order[a1] = order[a1], order[a0]
    if k == 1:
        return transpose(flip(m, a1), axes=order)
    return flip(transpose(m, axes=order), a1)


@_public
def fliplr(m: Any) -> Tensor:
    """Reverse the columns (axis 1)."""
    m = _operand(m)
    if len(_shape(m)) < 2:
        raise ShapeError(f"fliplr: needs at least 2 dimensions, got shape {_shape(m)}")
    return flip(m, 1)


@_public
def flipud(m: Any) -> Tensor:
    """Reverse the rows (axis 0)."""
    m = _operand(m)
    if len(_shape(m)) < 1:
        raise ShapeError("flipud: needs at least 1 dimension")
    return flip(m, 0)


@_public
def rollaxis(a: Any, axis: int, start: int = 0) -> Tensor:
    """Move ``axis`` to just before position ``start`` (NumPy's older form of moveaxis)."""
    a = _operand(a)
    ndim = len(_shape(a))
    axis = _one_axis("rollaxis", axis, ndim)
    if not -ndim <= start <= ndim:
        raise ShapeError(f"rollaxis: start {start} is out of range for {ndim} dimensions")
    if start < 0:
        start += ndim
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else ops.identity(a)


def _at_least(name: str, rank: int, expand: Any) -> Any:
    def fn(*arys: Any) -> Any:
        results = []
        for x in arys:
            x = _operand(x)
            shape = _shape(x)
            if len(shape) < rank:
                x = ops.reshape(x, shape=expand(shape))
            results.append(x if type(x) is Tensor else Tensor._from_op(np.asarray(x), None))
        return results[0] if len(results) == 1 else tuple(results)

    fn.__name__ = name
    fn.__doc__ = f"Each input with at least {rank} dimensions (axes of length 1 added as NumPy adds them)."
    return fn


atleast_1d = _at_least("atleast_1d", 1, lambda shape: (1,))
atleast_2d = _at_least("atleast_2d", 2, lambda shape: (1,) * (2 - len(shape)) + shape)
atleast_3d = _at_least("atleast_3d", 3, lambda shape: {0: (1, 1, 1), 1: (1, *shape, 1), 2: (*shape, 1)}[len(shape)])


# -- joining and splitting ---------------------------------------------------------------------------------------


def _sequence(name: str, tup: Any) -> list:
    items = list(tup)
    if not items:
        raise ShapeError(f"{name}: needs at least one array")
    return items


@_public
def hstack(tup: Sequence[Any]) -> Tensor:
    """Join along the second axis (the first for 1-D inputs)."""
    items = [atleast_1d(x) for x in _sequence("hstack", tup)]
    return concatenate(items, axis=0 if items[0].ndim == 1 else 1)


@_public
def vstack(tup: Sequence[Any]) -> Tensor:
    """Join along the first axis, 1-D inputs as rows."""
    return concatenate([atleast_2d(x) for x in _sequence("vstack", tup)], axis=0)


@_public
def dstack(tup: Sequence[Any]) -> Tensor:
    """Join along the third axis."""
    return concatenate([atleast_3d(x) for x in _sequence("dstack", tup)], axis=2)


@_public
def column_stack(tup: Sequence[Any]) -> Tensor:
    """Join 1-D inputs as columns (and 2-D ones as they are) side by side."""
    items = []
    for x in _sequence("column_stack", tup):
        x = _operand(x)
        shape = _shape(x)
        items.append(ops.reshape(x, shape=(shape[0] if shape else 1, 1)) if len(shape) < 2 else x)
    return concatenate(items, axis=1)


@_public
def append(arr: Any, values: Any, axis: int | None = None) -> Tensor:
    """``values`` joined after ``arr`` along ``axis`` (both flattened when None)."""
    arr, values = _operand(arr), _operand(values)
    if axis is None:
        return concatenate([_flat(arr), _flat(values)], axis=0)
    return concatenate([arr, values], axis=axis)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Pieces along ``axis``: ``n`` nearly equal ones (the first ``len % n`` one longer), or cut at the indices."""
    x = _operand(ary)
    shape = _shape(x)
    axis = _one_axis("array_split", axis, len(shape))
    n = shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"array_split: the number of sections must be larger than 0, got {sections}")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        cuts = list(np.cumsum([0, *sizes]))
    else:
        cuts = [0, *[int(i) for i in indices_or_sections], n]
    pieces = []
    for start, stop in zip(cuts[:-1], cuts[1:]):
        piece = ops.getitem(x, index=_along(axis, slice(int(start), int(stop))))
        pieces.append(piece if type(piece) is Tensor else Tensor._from_op(piece, None))
    return pieces


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """``array_split``, but a number of sections must divide the axis exactly."""
    if isinstance(indices_or_sections, (int, np.integer)):
        shape = _shape(_operand(ary))
        n = shape[_one_axis("split", axis, len(shape))]
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ShapeError(
                f"split: an axis of length {n} does not split into {indices_or_sections} equal parts; "
                "use array_split for unequal parts"
            )
    return array_split(ary, indices_or_sections, axis)


def _split_along(name: str, axis_of: Any, least: int) -> Any:
    def fn(ary: Any, indices_or_sections: Any) -> list[Tensor]:
        shape = _shape(_operand(ary))
        if len(shape) < least:
            raise ShapeError(f"{name}: needs at least {least} dimensions, got shape {shape}")
        return split(ary, indices_or_sections, axis_of(len(shape)))

    fn.__name__ = name
    fn.__doc__ = f"``split`` along axis {axis_of(3)} (NumPy's {name})."
    return fn


hsplit = _split_along("hsplit", lambda ndim: 1 if ndim > 1 else 0, 1)
vsplit = _split_along("vsplit", lambda ndim: 0, 2)
dsplit = _split_along("dsplit", lambda ndim: 2, 3)


# -- padding -----------------------------------------------------------------------------------------------------
# NumPy pads one axis after the other, each on the result of the previous ones; so does this. Every mode but the
# order statistics is affine along the axis: out = M x + c, with M and c found by padding an identity matrix and a
# zero vector with NumPy's own np.pad. Where each row of M picks one element, it is a gather; otherwise a product.

_STATISTICS = ("maximum", "minimum", "mean", "median")
_AFFINE = ("constant", "edge", "linear_ramp", "reflect", "symmetric", "wrap", "empty")


def _per_axis(name: str, value: Any, ndim: int, default: Any) -> np.ndarray:
    if value is None:
        value = default
    try:
        return np.broadcast_to(np.asarray(value, dtype=object), (ndim, 2))
    except ValueError:
        raise ShapeError(
            f"pad: {name} {value!r} does not give a (before, after) pair for each of {ndim} axes"
        ) from None


@_public
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Tensor:
    """NumPy's ``np.pad`` with every named mode: constant (``constant_values``), edge, linear_ramp (``end_values``),
    maximum, mean, median, minimum (``stat_length``), reflect and symmetric (``reflect_type``), wrap and empty
    (zeros here)."""
    x = _operand(array)
    shape = _shape(x)
    ndim = len(shape)
    if callable(mode) or mode not in _STATISTICS + _AFFINE:
        raise ValueError(f"pad: mode {mode!r} is not one of {', '.join(_AFFINE + _STATISTICS)}")
    allowed = {"constant": {"constant_values"}, "linear_ramp": {"end_values"}, "reflect": {"reflect_type"}}
    allowed |= {"symmetric": {"reflect_type"}, **{m: {"stat_length"} for m in _STATISTICS}}
    unknown = set(kwargs) - allowed.get(mode, set())
    if unknown:
        raise ValueError(f"pad: mode {mode!r} takes no argument {', '.join(sorted(unknown))}")
    widths = _per_axis("pad_width", pad_width, ndim, None).astype(int)
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    values = _per_axis("constant_values", kwargs.get("constant_values"), ndim, 0)
    ends = _per_axis("end_values", kwargs.get("end_values"), ndim, 0)
    lengths = _per_axis("stat_length", kwargs.get("stat_length"), ndim, None)
    for axis in range(ndim):
        before, after = (int(w) for w in widths[axis])
        if before == after == 0:
            continue
        if mode in _STATISTICS:
            x = _pad_statistic(x, axis, before, after, mode, lengths[axis])
        else:
            options = {"reflect_type": kwargs["reflect_type"]} if "reflect_type" in kwargs else {}
            extra = {"constant": ("constant_values", values[axis]), "linear_ramp": ("end_values", ends[axis])}
            x = _pad_affine(x, axis, before, after, "constant" if mode == "empty" else mode, options, extra.get(mode))
    return x if type(x) is Tensor else ops.identity(x)


def _pad_affine(x: Any, axis: int, before: int, after: int, mode: str, options: dict, extra: Any) -> Any:
    n = _shape(x)[axis]
    dtype = np.result_type(ops.constant(x).dtype, np.float64) if mode == "linear_ramp" else ops.constant(x).dtype
    if mode == "constant":
        out = ops.pad(x, widths=tuple((before, after) if d == axis else (0, 0) for d in range(len(_shape(x)))))
    else:
        zeros = {extra[0]: 0} if extra else {}
        matrix = np.pad(np.eye(n, dtype=np.float64), ((before, after), (0, 0)), mode=mode, **options, **zeros)
        if np.all(np.sum(matrix != 0, axis=1) == 1) and np.all(matrix[matrix != 0] == 1):
            out = ops.getitem(x, index=_along(axis, np.argmax(matrix, axis=1)))
        else:
            out = moveaxis(tensordot(matrix.astype(dtype, copy=False), x, axes=([1], [axis])), 0, axis)
    if extra is not None:
        offset = np.pad(np.zeros(n, dtype=dtype), (before, after), mode=mode, **options, **{extra[0]: tuple(extra[1])})
        if offset.any():
            out = out + offset.reshape([-1 if d == axis else 1 for d in range(len(_shape(x)))]).astype(
                ops.constant(x).dtype
            )
    return out


def _pad_statistic(x: Any, axis: int, before: int, after: int, mode: str, lengths: Any) -> Any:
    from .sorting import median

    n = _shape(x)[axis]
    if n == 0:
        raise ValueError(f"pad: mode {mode!r} needs a non-empty axis {axis} to take its statistic")
    reduce = {"maximum": ops.max, "minimum": ops.min, "mean": None, "median": None}[mode]
    pieces = []
    for width, at_start, length in ((before, True, lengths[0]), (after, False, lengths[1])):
        if width == 0:
            pieces.append(None)
            continue
        length = n if length is None else builtins.max(1, builtins.min(int(length), n))
        window = ops.getitem(x, index=_along(axis, slice(0, length) if at_start else slice(n - length, n)))
        if mode == "mean":
            stat = ops.sum(window, axis=(axis,), keepdims=True) / length
        elif mode == "median":
            stat = median(window, axis=axis, keepdims=True)
        else:
            stat = reduce(window, axis=(axis,), keepdims=True)
        shape = list(_shape(x))
        shape[axis] = width
        pieces.append(ops.broadcast_to(stat, shape=tuple(shape)))
    parts = [p for p in (pieces[0], x, pieces[1]) if p is not None]
    return ops.concatenate(*parts, axis=axis)


@_public
def diag(v: Any, k: int = 0) -> Tensor:
    """A 1-D input as the k-th diagonal of a square matrix; a 2-D input's k-th diagonal."""
    v = _operand(v)
    shape = _shape(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ShapeError(f"diag: needs a 1-D or 2-D input, got shape {shape}")
    n = shape[0]
    size = n + abs(k)
    rows = np.arange(n) + builtins.max(-k, 0)
    return ops.scatter_add(v, index=(rows, rows + k), shape=(size, size))


_SPLITS = ("split", "array_split", "hsplit", "vsplit", "dsplit")
for _name, _accepted in {
    "take": {"axis", "mode"},
    "take_along_axis": {"axis"},
    "repeat": {"axis"},
    "tile": set(),
    "rot90": {"k", "axes"},
    "fliplr": set(),
    "flipud": set(),
    "rollaxis": {"start"},
    "atleast_1d": set(),
    "atleast_2d": set(),
    "atleast_3d": set(),
    "hstack": set(),
    "vstack": set(),
    "dstack": set(),
    "column_stack": set(),
    "append": {"axis"},
    "pad": {"mode", "constant_values", "end_values", "stat_length", "reflect_type"},
    "diag": {"k"},
    **{name: {"axis"} for name in _SPLITS},
}.items():
    register_numpy(getattr(np, _name), globals()[_name], *_accepted)

for _name in ("repeat", "take"):
    setattr(Tensor, _name, globals()[_name])


class _Joiner:
    """``cr.r_[...]`` and ``cr.c_[...]``: NumPy's index tricks for joining, with tensors joined differentiably.
    Items are tensors, arrays, numbers and slices (``1:10`` for a range, ``0:1:5j`` for 5 points)."""

    def __init__(self, columns: bool) -> None:
        self.columns = columns

    def __getitem__(self, key: Any) -> Tensor:
        items = key if isinstance(key, tuple) else (key,)
        axis = -1 if self.columns else 0
        if items and isinstance(items[0], str):
            axis, items = int(items[0].split(",")[0]), items[1:]
        pieces = []
        for item in items:
            if isinstance(item, slice):
                start, stop, step = (0 if item.start is None else item.start), item.stop, item.step or 1
                if isinstance(step, complex):
                    piece = np.linspace(start, stop, int(abs(step)))
                else:
                    piece = np.arange(start, stop, step)
            else:
                piece = _operand(item)
            pieces.append(atleast_1d(piece))
        if self.columns:
            pieces = [ops.reshape(p, shape=(-1, 1)) if p.ndim == 1 else p for p in pieces]
        return concatenate(pieces, axis=axis)


r_ = _Joiner(columns=False)
c_ = _Joiner(columns=True)
