"""The public functions ``cr.NAME(...)`` and the Tensor methods ``t.NAME(...)``.

Primitives live in ``ops``; here they get NumPy-style signatures (axis normalisation, varargs shapes), composite
functions are built from them (their derivatives come for free), and every result is a Tensor, also when the
inputs are plain numbers or NumPy arrays.
"""

from __future__ import annotations

import builtins
import functools
import math
import string
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .engine import recorder
from .errors import ShapeError
from .tensor import Tensor
from .vectorize.batched import Batched
from .vectorize.boundary import looped_when_batched

Axis = int | Sequence[int] | None


def _public(fn: Callable[..., Any]) -> Callable[..., Tensor]:
    @functools.wraps(fn)
    def public(*args: Any, **kwargs: Any) -> Tensor:
        out = fn(*args, **kwargs)
        return out if type(out) is Tensor else Tensor._from_op(out, None)

    return public


def _operand(x: Any) -> Any:
    """Tensors, arrays and numbers pass as they are; lists and tuples become arrays, stacked with chainrule's own
    operations when they hold tensors (so ``cr.mean([x, y])`` differentiates through both)."""
    if not isinstance(x, (list, tuple)):
        return x
    if not _holds_tensor(x):
        return np.asarray(x)
    items = [_operand(item) for item in x]
    if len(items) == 0:
        return np.asarray(x)
    return stack([item if type(item) is Tensor else np.asarray(item, dtype=np.float64) for item in items])


def _holds_tensor(x: Any) -> bool:
    if type(x) is Tensor:
        return True
    return isinstance(x, (list, tuple)) and builtins.any(_holds_tensor(item) for item in x)


def _axis(op: str, axis: Axis, ndim: int) -> tuple[int, ...] | None:
    """Normalise ``axis`` to None or a tuple of distinct non-negative ints, with a clear error if out of range."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normal = []
    for a in axes:
        if not -ndim <= a < ndim and not (ndim == 0 and a in (0, -1)):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        normal.append(int(a) % ndim if ndim else 0)
    if len(set(normal)) != len(normal):
        raise ShapeError(f"{op}: axis {axis} repeats an axis")
    return tuple(sorted(normal)) if ndim else None


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    return math.prod(shape) if axis is None else math.prod(shape[a] for a in axis)


# -- elementwise ------------------------------------------------------------------------------------------------


def _unary(prim: Any) -> Callable[[Any], Tensor]:
    record = recorder(prim)

    def fn(x: Any) -> Tensor:
        if type(x) is not Tensor:
            x = _operand(x)  # a list of tensors becomes one, stacked
            if type(x) is not Tensor:
                return Tensor._from_op(prim(x), None)
        return record(x)

    fn.__name__ = prim.name
    fn.__doc__ = f"Elementwise {prim.name}, differentiable."
    return fn


def _binary(prim: Any) -> Callable[[Any, Any], Tensor]:
    record = recorder(prim)

    def fn(x: Any, y: Any) -> Tensor:
        return record(_operand(x), _operand(y))

    fn.__name__ = prim.name
    fn.__doc__ = f"Elementwise {prim.name} with NumPy broadcasting, differentiable."
    return fn


exp = _unary(ops.exp)
log = _unary(ops.log)
log1p = _unary(ops.log1p)
expm1 = _unary(ops.expm1)
sqrt = _unary(ops.sqrt)
square = _unary(ops.square)
sin = _unary(ops.sin)
cos = _unary(ops.cos)
tan = _unary(ops.tan)
tanh = _unary(ops.tanh)
sinh = _unary(ops.sinh)
cosh = _unary(ops.cosh)
arcsin = _unary(ops.arcsin)
arccos = _unary(ops.arccos)
arctan = _unary(ops.arctan)
erf = _unary(ops.erf)
sigmoid = _unary(ops.sigmoid)
relu = _unary(ops.relu)
softplus = _unary(ops.softplus)
abs = _unary(ops.absolute)
negative = _unary(ops.negative)
sign = _unary(ops.sign)
arcsinh = _unary(ops.arcsinh)
arccosh = _unary(ops.arccosh)
arctanh = _unary(ops.arctanh)
exp2 = _unary(ops.exp2)
cbrt = _unary(ops.cbrt)
log2 = _unary(ops.log2)
log10 = _unary(ops.log10)
reciprocal = _unary(ops.reciprocal)
deg2rad = _unary(ops.deg2rad)
rad2deg = _unary(ops.rad2deg)
fabs = abs
add = _binary(ops.add)
subtract = _binary(ops.subtract)
multiply = _binary(ops.multiply)
divide = _binary(ops.divide)
power = _binary(ops.power)
maximum = _binary(ops.maximum)
minimum = _binary(ops.minimum)
remainder = mod = _binary(ops.remainder)
arctan2 = _binary(ops.arctan2)
hypot = _binary(ops.hypot)
logaddexp = _binary(ops.logaddexp)
logaddexp2 = _binary(ops.logaddexp2)
fmax = _binary(ops.fmax)
fmin = _binary(ops.fmin)


@_public
def clip(x: Any, lo: Any = None, hi: Any = None, *, a_min: Any = None, a_max: Any = None, **bounds: Any) -> Tensor:
    """Limit values to [lo, hi] (either bound may be None; NumPy's names ``a_min``/``a_max`` and ``min``/``max``
    work too); the gradient passes where lo <= x <= hi."""
    lo = lo if lo is not None else a_min if a_min is not None else bounds.pop("min", None)
    hi = hi if hi is not None else a_max if a_max is not None else bounds.pop("max", None)
    if bounds:
        raise TypeError(f"clip: unexpected arguments {sorted(bounds)}")
    if lo is None and hi is None:
        raise ShapeError("clip: give at least one of lo and hi")
    x, lo, hi = _operand(x), _operand(lo), _operand(hi)
    if _traced(lo) or _traced(hi):
        # bounds that need a gradient: as PyTorch's clamp, each element's gradient goes to whichever of x, lo and
        # hi it took its value from (x where lo <= x <= hi; at lo > hi, the result and gradient are hi's)
        if lo is not None:
            x = where(np.asarray(ops.constant(x) < ops.constant(lo)), lo, x)
        if hi is not None:
            x = where(np.asarray(ops.constant(x) > ops.constant(hi)), hi, x)
        return x
    return ops.clip(x, lo=ops.constant(lo), hi=ops.constant(hi))


def _kind(x: Any) -> str:
    """The dtype kind of ``x`` (a tensor, an array, a Python or NumPy number)."""
    dtype = getattr(ops.constant(x), "dtype", None)
    return np.dtype(dtype).kind if dtype is not None else np.asarray(x).dtype.kind


def _traced(x: Any) -> bool:
    """Whether ``x`` is a tensor that a derivative must go through (requires grad, or carries a tangent)."""
    return type(x) is Tensor and (x._rg or bool(x._tangents))


def _mask(condition: Any) -> Any:
    """A condition's truth values (a vmap's batched ones as they are)."""
    values = ops.constant(_operand(condition))
    return values.astype(bool) if type(values) is Batched else np.asarray(values, dtype=bool)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """Elements of ``x`` where ``condition`` is true, of ``y`` elsewhere. The gradient follows the choice, and the
    branch not chosen gets exactly 0 even where its own derivative is infinite or NaN: ``cr.where(x > 0,
    cr.sqrt(x), 0.0)`` has gradient 0 at x <= 0, in every mode and at every order (see the README). With the
    condition alone, the indices where it holds (as ``np.nonzero``)."""
    if x is None and y is None:
        return tuple(Tensor(i) for i in np.nonzero(np.asarray(ops.constant(_operand(condition)))))
    if x is None or y is None:
        raise TypeError("where: give both x and y, or neither")
    return _where(condition, x, y)


@_public
def _where(condition: Any, x: Any, y: Any) -> Tensor:
    out = ops.where(_operand(x), _operand(y), condition=_mask(condition))
    engine.note_selection(out)
    return out


# -- reductions -------------------------------------------------------------------------------------------------


def _reduction(prim: Any) -> Callable[..., Tensor]:
    def fn(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
        x = _operand(x)
        return prim(x, axis=_axis(prim.name, axis, np.ndim(ops.constant(x))), keepdims=keepdims)

    fn.__name__ = prim.name
    fn.__doc__ = f"{prim.name} over ``axis`` (None: all; int or tuple, negative counts from the end)."
    return _public(fn)


sum = _reduction(ops.sum)
max = _reduction(ops.max)
min = _reduction(ops.min)
prod = _reduction(ops.prod)
logsumexp = _reduction(ops.logsumexp)


@_public
def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    x = _operand(x)
    axes = _axis("mean", axis, np.ndim(ops.constant(x)))
    return ops.sum(x, axis=axes, keepdims=keepdims) / _count(np.shape(ops.constant(x)), axes)


@_public
def var(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance, sum((x - mean)^2) / (n - ddof), as in NumPy (``ddof=0`` by default)."""
    x = _operand(x)
    axes = _axis("var", axis, np.ndim(ops.constant(x)))
    n = _count(np.shape(ops.constant(x)), axes)
    centred = x - ops.sum(x, axis=axes, keepdims=True) / n
    if _kind(x) == "c":  # |x - mean|², as NumPy: a real variance
        squares = ops.real(centred * ops.conjugate(centred))
    else:
        squares = centred * centred
    return ops.sum(squares, axis=axes, keepdims=keepdims) / (n - ddof)


@_public
def std(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation, sqrt(var(x, axis, ddof)). Where every element is equal the derivative is taken as 0,
    as PyTorch does (the function is flat there only along the all-equal direction; sqrt alone would give NaN)."""
    return ops.root_of_variance(var(x, axis=axis, ddof=ddof, keepdims=keepdims))


@_public
def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, computed without overflow."""
    x = _operand(x)
    return ops.softmax(x, axis=_axis("softmax", axis, np.ndim(ops.constant(x))))


@_public
def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``: the log of softmax, stable for any input."""
    x = _operand(x)
    return ops.log_softmax(x, axis=_axis("log_softmax", axis, np.ndim(ops.constant(x))))


# -- shape ------------------------------------------------------------------------------------------------------


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    if not builtins.all(isinstance(n, (int, np.integer)) for n in shape):
        raise ShapeError(f"a shape or axes must be integers, got {shape!r}")
    return tuple(int(n) for n in shape)


@_public
def reshape(x: Any, *shape: Any) -> Tensor:
    """The same elements in a new shape (one axis may be -1); ``reshape(x, (2, 3))`` or ``reshape(x, 2, 3)``."""
    return ops.reshape(_operand(x), shape=_shape_arg(shape))


@_public
def transpose(x: Any, *axes: Any, **kwargs: Any) -> Tensor:
    """Permute the axes (reverse them when no ``axes`` are given): ``transpose(x)``, ``transpose(x, (1, 0))``,
    ``transpose(x, 1, 0)`` or ``transpose(x, axes=(1, 0))``."""
    if kwargs.keys() - {"axes"}:
        raise TypeError(f"transpose() got unexpected arguments {sorted(kwargs.keys() - {'axes'})}")
    given = kwargs.get("axes")
    if given is None and axes and axes != (None,):
        given = axes
    perm = None if given is None else _shape_arg(tuple(given) if not isinstance(given, int) else (given,))
    return ops.transpose(_operand(x), axes=perm)


@_public
def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    x = _operand(x)
    ndim = np.ndim(ops.constant(x))
    _axis("swapaxes", (axis1,), ndim)
    _axis("swapaxes", (axis2,), ndim)
    return ops.swapaxes(x, axis1, axis2)


@_public
def expand_dims(x: Any, axis: int | Sequence[int]) -> Tensor:
    return ops.expand_dims(_operand(x), axis)


@_public
def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Tensor:
    return ops.squeeze(_operand(x), axis)


@_public
def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    return ops.broadcast_to(_operand(x), shape=tuple(shape))


@_public
def flatten(x: Any) -> Tensor:
    return ops.reshape(_operand(x), shape=(-1,))


@_public
def concatenate(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    if len(seq) == 0:
        raise ShapeError("concatenate: needs at least one tensor")
    return ops.concatenate(*[_operand(x) for x in seq], axis=axis)


def _rounding(prim: Any) -> Callable[[Any], Tensor]:
    """floor, ceil, trunc, rint: flat between their jumps, so their derivative is 0 (as PyTorch's): primitives
    without rules, whose result is a tensor that needs no gradient."""
    fn = _unary(prim)
    fn.__doc__ = f"Elementwise {prim.name}; its derivative is 0 (it is flat between its jumps), so it records nothing."
    return fn


floor, ceil, trunc, rint = (_rounding(getattr(ops, name)) for name in ("floor", "ceil", "trunc", "rint"))


def round(x: Any, decimals: int = 0) -> Tensor:
    """Round to ``decimals`` places as NumPy (halves to even); derivative 0, so it records nothing."""
    result = ops.round_(_operand(x), decimals=decimals)
    return result if type(result) is Tensor else Tensor._from_op(result, None)


# -- movements and running totals, composed from the primitives (their derivatives come for free) --------------


@_public
def flip(x: Any, axis: Axis = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    x = _operand(x)
    ndim = np.ndim(ops.constant(x))
    axes = _axis("flip", axis, ndim)
    axes = tuple(range(ndim)) if axes is None else axes
    return ops.getitem(x, index=tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(ndim)))


@_public
def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    """Shift elements along ``axis`` by ``shift`` places, those falling off one end coming back at the other (the
    flattened tensor when ``axis`` is None; tuples of shifts and axes, as NumPy)."""
    x = _operand(x)
    shape = np.shape(ops.constant(x))
    if axis is None:
        if not isinstance(shift, (int, np.integer)):
            raise ShapeError("roll: a tuple of shifts needs a tuple of axes")
        return reshape(roll(ops.reshape(x, shape=(-1,)), shift, 0), shape)
    if not isinstance(axis, (int, np.integer)) or not isinstance(shift, (int, np.integer)):
        shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
        for k, a in zip(shifts.ravel(), axes.ravel()):
            x = roll(x, int(k), int(a))
        return x
    (a,) = _axis("roll", axis, len(shape))
    n = shape[a]
    if n == 0:
        return x
    k = int(shift) % n
    before = (slice(None),) * a
    return ops.concatenate(
        ops.getitem(x, index=(*before, slice(n - k, None))), ops.getitem(x, index=(*before, slice(0, n - k))), axis=a
    )


def _running(prim: Any, what: str) -> Callable[..., Tensor]:
    def fn(x: Any, axis: int | None = None) -> Tensor:
        x = _operand(x)
        if axis is None:
            x, axis = ops.reshape(x, shape=(-1,)), 0
        (a,) = _axis(prim.name, axis, np.ndim(ops.constant(x)))
        return prim(x, axis=a)

    fn.__name__ = prim.name
    fn.__doc__ = f"Running {what} along ``axis`` (of the flattened tensor when None, as NumPy)."
    return _public(fn)


cumsum = _running(ops.cumsum, "sums")
cumprod = _running(ops.cumprod, "products (their gradient is exact also at zeros)")


@_public
def diff(x: Any, n: int = 1, axis: int = -1) -> Tensor:
    """The n-th differences along ``axis``: x[1:] - x[:-1], n times."""
    x = _operand(x)
    ndim = np.ndim(ops.constant(x))
    (a,) = _axis("diff", axis, ndim)
    before = (slice(None),) * a
    for _ in range(n):
        x = ops.getitem(x, index=(*before, slice(1, None))) - ops.getitem(x, index=(*before, slice(None, -1)))
    return x


def _triangle(name: str, keep: Callable[..., Any]) -> Callable[..., Tensor]:
    def fn(x: Any, k: int = 0) -> Tensor:
        x = _operand(x)
        shape = np.shape(ops.constant(x))
        if len(shape) < 2:
            raise ShapeError(f"{name}: needs at least 2 dimensions, got shape {shape}")
        mask = keep(np.ones(shape[-2:], dtype=bool), k)
        return ops.where(x, 0.0, condition=np.broadcast_to(mask, shape))

    fn.__name__ = name
    fn.__doc__ = f"The {'lower' if name == 'tril' else 'upper'} triangle of the last two axes (k: the diagonal)."
    return _public(fn)


tril = _triangle("tril", np.tril)
triu = _triangle("triu", np.triu)


@_public
def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal of the plane of ``axis1`` and ``axis2`` (moved to the last axis, as NumPy)."""
    x = _operand(x)
    shape = np.shape(ops.constant(x))
    a1, a2 = (_axis("diagonal", a, len(shape))[0] for a in (axis1, axis2))
    if a1 == a2:
        raise ShapeError("diagonal: axis1 and axis2 must differ")
    rest = [a for a in range(len(shape)) if a not in (a1, a2)]
    moved = ops.transpose(x, axes=(*rest, a1, a2))
    rows = np.arange(builtins.max(0, -offset), builtins.max(0, builtins.min(shape[a1], shape[a2] - offset)))
    return ops.getitem(moved, index=(Ellipsis, rows, rows + offset))


@_public
def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The sum of the diagonal (see ``diagonal``)."""
    return ops.sum(diagonal(x, offset, axis1, axis2), axis=(-1,))


@_public
def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """Move axes to new places, the others keeping their order (as NumPy)."""
    x = _operand(x)
    ndim = np.ndim(ops.constant(x))
    sources = [a % ndim for a in ((source,) if isinstance(source, (int, np.integer)) else source)]
    targets = [a % ndim for a in ((destination,) if isinstance(destination, (int, np.integer)) else destination)]
    if len(sources) != len(targets) or len(set(sources)) != len(sources) or len(set(targets)) != len(targets):
        raise ShapeError(f"moveaxis: source {source} and destination {destination} must name as many distinct axes")
    order = [a for a in range(ndim) if a not in sources]
    for target, axis in sorted(zip(targets, sources)):
        order.insert(target, axis)
    return ops.transpose(x, axes=tuple(order))


@_public
def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Tensor:
    """Sum products over the last ``axes`` axes of ``a`` and the first of ``b`` (or the pairs of axes given)."""
    a, b = _operand(a), _operand(b)
    da, db = np.ndim(ops.constant(a)), np.ndim(ops.constant(b))
    if isinstance(axes, (int, np.integer)):
        pairs_a, pairs_b = list(range(da - axes, da)), list(range(axes))
    else:
        pairs_a, pairs_b = ([axes_part] if isinstance(axes_part, int) else list(axes_part) for axes_part in axes)
    pairs_a, pairs_b = [p % da for p in pairs_a], [p % db for p in pairs_b]
    letters = iter(string.ascii_letters)
    left = [next(letters) for _ in range(da)]
    right = [next(letters) for _ in range(db)]
    for i, j in zip(pairs_a, pairs_b):
        right[j] = left[i]
    kept = [c for k, c in enumerate(left) if k not in pairs_a] + [c for k, c in enumerate(right) if k not in pairs_b]
    return ops.einsum(a, b, subscripts=f"{''.join(left)},{''.join(right)}->{''.join(kept)}")


@_public
def inner(a: Any, b: Any) -> Tensor:
    """Sum of products over the last axes of ``a`` and ``b`` (a product where one is 0-d)."""
    a, b = _operand(a), _operand(b)
    if np.ndim(ops.constant(a)) == 0 or np.ndim(ops.constant(b)) == 0:
        return ops.multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


@_public
def stack(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    if len(seq) == 0:
        raise ShapeError("stack: needs at least one tensor")
    items = [_operand(x) for x in seq]
    shapes = {np.shape(ops.constant(x)) for x in items}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return ops.concatenate(*[ops.expand_dims(x, axis) for x in items], axis=axis)


# -- linear algebra ---------------------------------------------------------------------------------------------


@_public
def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: batch axes broadcast, 1-D operands are vectors."""
    return ops.matmul(_operand(a), _operand(b))


@_public
def dot(a: Any, b: Any) -> Tensor:
    """NumPy's dot: products of scalars, inner product of vectors, matrix product, or a sum over the last axis
    of ``a`` and the second-to-last of ``b``."""
    a, b = _operand(a), _operand(b)
    da, db = np.ndim(ops.constant(a)), np.ndim(ops.constant(b))
    if da == 0 or db == 0:
        return ops.multiply(a, b)
    if da <= 2 and db <= 2:
        return ops.matmul(a, b)
    left = "abcdefghijklmnopqrstuvwxy"[: da - 1] + "z"
    right = "ABCDEFGHIJKLMNOPQRSTUVWXY"[: db - 2] + "z" + "Z" if db >= 2 else "z"
    return ops.einsum(a, b, subscripts=f"{left},{right}->{left[:-1]}{right.replace('z', '')}")


@_public
def outer(a: Any, b: Any) -> Tensor:
    """Outer product of the flattened inputs."""
    return ops.multiply(ops.reshape(_operand(a), shape=(-1, 1)), ops.reshape(_operand(b), shape=(1, -1)))


@_public
def einsum(subscripts: Any, *operands: Any) -> Tensor:
    """Einstein summation as in NumPy, with ``...``, the implicit output form and the sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts, *operands))
    spec = _explicit_einsum(subscripts.replace(" ", ""), len(operands))
    operands = tuple(_operand(x) for x in operands)
    return ops.einsum(*operands, subscripts=_named_ellipsis(spec, [np.ndim(ops.constant(x)) for x in operands]))


def _from_sublists(args: tuple) -> tuple[str, tuple]:
    """NumPy's sublist form (operand, axes, operand, axes, ..., [output axes]) as a subscripts string."""

    def letters(sublist: Any) -> str:
        out = ""
        for axis in sublist:
            if axis is Ellipsis:
                out += "..."
            elif isinstance(axis, (int, np.integer)) and 0 <= axis < len(string.ascii_letters):
                out += string.ascii_letters[int(axis)]
            else:
                raise ShapeError(f"einsum: a sublist names axes by integers 0-51 or Ellipsis, got {axis!r}")
        return out

    operands, parts = args[0::2], args[1::2]
    output = None
    if len(args) % 2:  # an odd count: the last item is the output's sublist
        operands, output = operands[:-1], args[-1]
    spec = ",".join(letters(p) for p in parts)
    if output is not None:
        spec += "->" + letters(output)
    return spec, operands


def _named_ellipsis(spec: str, ndims: list[int]) -> str:
    """``spec`` with every ``...`` replaced by letters of its own, aligned from the right as NumPy broadcasts
    them. The primitive and its rules then see only named axes: an ellipsis that covers no axes in one operand
    and some in another needs no bookkeeping of its own anywhere."""
    if "..." not in spec:
        return spec
    inputs, output = spec.split("->")
    parts = inputs.split(",")
    covered = []
    for part, ndim in zip(parts, ndims):
        named = len(part.replace("...", ""))
        if "..." not in part:
            covered.append(0)
        elif ndim < named:
            raise ShapeError(f"einsum: '{part}' names {named} axes but its operand has only {ndim}")
        else:
            covered.append(ndim - named)
    width = builtins.max(covered, default=0)
    if width and "..." not in output:
        raise ShapeError(f"einsum: '{spec}': the '...' axes of the operands must appear in the output; add '...' to it")
    spare = [c for c in string.ascii_letters if c not in spec]
    if len(spare) < width:
        raise ShapeError(f"einsum: '{spec}' uses too many letters to name its '...' axes")
    letters = "".join(spare[:width])
    parts = [part.replace("...", letters[width - n :]) for part, n in zip(parts, covered)]
    return ",".join(parts) + "->" + output.replace("...", letters)


def _explicit_einsum(subscripts: str, count: int) -> str:
    inputs = subscripts.split("->")[0].split(",")
    if len(inputs) != count:
        raise ShapeError(f"einsum: '{subscripts}' names {len(inputs)} operands but {count} were given")
    if "->" in subscripts:
        return subscripts
    letters = [c for c in "".join(inputs) if c.isalpha()]
    once = sorted(c for c in set(letters) if letters.count(c) == 1)  # NumPy's order: ASCII, capitals first
    ellipsis = "..." if "..." in subscripts else ""
    return f"{subscripts}->{ellipsis}{''.join(once)}"


# -- more of NumPy's numerical functions, composed from the primitives ---------------------------------------------

sinc = _unary(ops.sinc)


def gradient(f: Any, *varargs: Any, axis: Axis = None, edge_order: int = 1) -> Any:
    """NumPy's ``gradient``: second-order central differences inside, one-sided ones (first or second order) at the
    ends, along each axis; spacings as NumPy takes them (one scalar, one per axis, or coordinates)."""
    f = _operand(f)
    shape = np.shape(ops.constant(f))
    axes = tuple(range(len(shape))) if axis is None else _axis("gradient", axis, len(shape))
    if len(varargs) == 0:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError(f"gradient: give one spacing or one per axis ({len(axes)}), got {len(varargs)}")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    results = [_gradient_along(f, a, h, edge_order, shape[a]) for a, h in zip(axes, spacings)]
    return results[0] if len(results) == 1 else results


def _gradient_along(f: Any, axis: int, h: Any, edge_order: int, n: int) -> Tensor:
    if n < edge_order + 1:
        raise ValueError(f"gradient: an axis of length {n} is too short for edge_order={edge_order}")

    def part(start: int | None, stop: int | None) -> Any:
        return ops.getitem(f, index=(slice(None),) * axis + (slice(start, stop),))

    def column(values: Any) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).reshape((-1,) + (1,) * (len(np.shape(ops.constant(f))) - axis - 1))

    if np.ndim(h) == 0:  # uniform spacing
        h = float(ops.constant(h))
        inside = (part(2, None) - part(None, -2)) / (2 * h)
        if edge_order == 1:
            first = (part(1, 2) - part(0, 1)) / h
            last = (part(-1, None) - part(-2, -1)) / h
        else:
            first = (part(0, 1) * -1.5 + part(1, 2) * 2.0 - part(2, 3) * 0.5) / h
            last = (part(-3, -2) * 0.5 - part(-2, -1) * 2.0 + part(-1, None) * 1.5) / h
    else:  # coordinates
        x = np.asarray(ops.constant(h), dtype=np.float64)
        if x.shape != (n,):
            raise ShapeError(f"gradient: coordinates of shape {x.shape} for an axis of length {n}")
        dx = np.diff(x)
        dx1, dx2 = dx[:-1], dx[1:]
        a = -dx2 / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        inside = part(None, -2) * column(a) + part(1, -1) * column(b) + part(2, None) * column(c)
        if edge_order == 1:
            first = (part(1, 2) - part(0, 1)) / dx[0]
            last = (part(-1, None) - part(-2, -1)) / dx[-1]
        else:
            d1, d2 = dx[0], dx[1]
            first = part(0, 1) * (-(2.0 * d1 + d2) / (d1 * (d1 + d2))) + part(1, 2) * ((d1 + d2) / (d1 * d2))
            first = first + part(2, 3) * (-d1 / (d2 * (d1 + d2)))
            d1, d2 = dx[-2], dx[-1]
            last = part(-3, -2) * (d2 / (d1 * (d1 + d2))) + part(-2, -1) * (-(d2 + d1) / (d1 * d2))
            last = last + part(-1, None) * ((2.0 * d2 + d1) / (d2 * (d1 + d2)))
    return ops.concatenate(first, inside, last, axis=axis)


def array(object: Any, dtype: Any = None) -> Tensor:
    """A tensor from ``object``, as ``np.array``: nested lists and tuples of numbers, arrays and tensors, the tensors
    stacked with chainrule's operations (so a gradient flows through them, as ``jnp.array`` does for JAX)."""
    x = _operand(object)
    if type(x) is Tensor:
        return x if dtype is None else astype(x, dtype)
    return Tensor(np.array(x, dtype=dtype))


@_public
def kron(a: Any, b: Any) -> Tensor:
    """The Kronecker product: blocks of ``b`` scaled by each element of ``a``."""
    a, b = _operand(a), _operand(b)
    sa, sb = np.shape(ops.constant(a)), np.shape(ops.constant(b))
    ndim = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (ndim - len(sa)) + sa, (1,) * (ndim - len(sb)) + sb
    if ndim == 0:
        return ops.multiply(a, b)
    left, right = string.ascii_letters[:ndim], string.ascii_letters[ndim : 2 * ndim]
    spec = f"{left},{right}->{''.join(i + j for i, j in zip(left, right))}"
    product = ops.einsum(ops.reshape(a, shape=sa), ops.reshape(b, shape=sb), subscripts=spec)
    return ops.reshape(product, shape=tuple(i * j for i, j in zip(sa, sb)))


@_public
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Tensor:
    """The cross product of vectors of 3 (or 2) components along the given axes, broadcasting the others."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_operand(a), axisa, -1), moveaxis(_operand(b), axisb, -1)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ShapeError(f"cross: vectors need 2 or 3 components, got {na} and {nb}")

    def part(v: Any, k: int, n: int) -> Any:
        return ops.getitem(v, index=(Ellipsis, k)) if k < n else 0.0

    a0, a1, a2 = (part(a, k, na) for k in range(3))
    b0, b1, b2 = (part(b, k, nb) for k in range(3))
    z = a0 * b1 - a1 * b0
    if na == nb == 2:
        return z
    result = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, z], axis=-1)
    return moveaxis(result, -1, axisc)


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop`` (as NumPy), differentiable in both ends."""
    start, stop = _operand(start), _operand(stop)
    if num < 0:
        raise ValueError(f"linspace: num must not be negative, got {num}")
    div = (num - 1) if endpoint else num
    lead = np.broadcast_shapes(np.shape(ops.constant(start)), np.shape(ops.constant(stop)))
    steps = np.arange(num, dtype=np.float64).reshape((-1,) + (1,) * len(lead))
    delta = subtract(stop, start)
    step = delta / div if div > 0 else delta * np.nan
    samples = steps * step + start if div > 0 else steps * delta + start
    if endpoint and num > 1:
        samples = concatenate([samples[:-1], broadcast_to(stop, (1, *lead))], axis=0)
    if axis != 0:
        samples = moveaxis(samples, 0, axis)
    if dtype is not None:
        samples = samples.astype(dtype)
    if retstep:
        return samples, step if type(step) is Tensor and hasattr(step.data, "dtype") else Tensor(
            np.asarray(ops.constant(step))
        )
    return samples


@_public
def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (differentiable in it when it is a tensor)."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    fill = _operand(fill_value)
    if type(fill) is not Tensor:
        return Tensor(np.full(shape, fill, dtype=dtype))
    out = ops.identity(ops.broadcast_to(fill, shape=shape))
    return out if dtype is None else out.astype(dtype)


@looped_when_batched
@_public
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Tensor:
    """NaN and infinities replaced by numbers (NumPy's defaults); the replaced elements get no gradient."""
    x = _operand(x)
    values = np.asarray(ops.constant(x))
    replaced = np.nan_to_num(values, nan=nan, posinf=posinf, neginf=neginf)
    return ops.where(x, replaced, condition=np.isfinite(values))


@_public
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Tensor:
    """Elementwise, the choice of the first true condition (``default`` where none is)."""
    if len(condlist) != len(choicelist):
        raise ShapeError(f"select: {len(condlist)} conditions but {len(choicelist)} choices")
    result = _operand(default)
    for condition, choice in reversed(list(zip(condlist, choicelist))):
        result = ops.where(_operand(choice), result, condition=_mask(condition))
    return result


def real(x: Any) -> Tensor:
    """The real part (the tensor itself when it is real)."""
    x = _operand(x)
    if _kind(x) != "c":
        return x if type(x) is Tensor else Tensor(np.asarray(x))
    return _public(ops.real)(x)


def real_if_close(a: Any, tol: float = 100) -> Tensor:
    """The real part where every imaginary part is within ``tol`` machine epsilons of zero, else ``a`` as it is."""
    a = _operand(a)
    if _kind(a) != "c":
        return a if type(a) is Tensor else Tensor(np.asarray(a))
    values = np.asarray(ops.constant(a))
    limit = tol * np.finfo(values.dtype).eps if tol > 1 else tol
    return real(a) if bool(np.all(np.abs(np.imag(values)) < limit)) else _public(lambda v: v)(a)


@_public
def imag(x: Any) -> Tensor:
    """The imaginary part (zeros when the tensor is real)."""
    return ops.imag(_operand(x))


def conj(x: Any) -> Tensor:
    """The complex conjugate (the tensor itself when it is real)."""
    x = _operand(x)
    if _kind(x) != "c":
        return x if type(x) is Tensor else Tensor(np.asarray(x))
    return _public(ops.conjugate)(x)


conjugate = conj


@_public
def angle(z: Any, deg: bool = False) -> Tensor:
    """The argument of each complex number, in radians (degrees with ``deg``); 0 or π for real numbers."""
    out = ops.angle(_operand(z))
    return out * (180 / math.pi) if deg else out


# -- NumPy ufuncs on Tensors (np.exp(t), ndarray + t) ------------------------------------------------------------

UFUNCS: dict[str, Callable[..., Tensor]] = {
    "add": add,
    "subtract": subtract,
    "multiply": multiply,
    "divide": divide,
    "true_divide": divide,
    "power": power,
    "negative": negative,
    "absolute": abs,
    "maximum": maximum,
    "minimum": minimum,
    "matmul": matmul,
    "exp": exp,
    "log": log,
    "log1p": log1p,
    "expm1": expm1,
    "sqrt": sqrt,
    "square": square,
    "sin": sin,
    "cos": cos,
    "tan": tan,
    "tanh": tanh,
    "sinh": sinh,
    "cosh": cosh,
    "arcsin": arcsin,
    "arccos": arccos,
    "arctan": arctan,
    "sign": sign,
    "remainder": remainder,
    **{
        name: globals()[name]
        for name in (
            "arcsinh arccosh arctanh exp2 cbrt log2 log10 reciprocal deg2rad rad2deg "
            "arctan2 hypot logaddexp logaddexp2 fmax fmin fabs"
        ).split()
    },
    "radians": deg2rad,
    "degrees": rad2deg,
    "conjugate": conj,
    "less": _binary(ops.less),
    "less_equal": _binary(ops.less_equal),
    "greater": _binary(ops.greater),
    "greater_equal": _binary(ops.greater_equal),
    "equal": _binary(ops.equal),
    "not_equal": _binary(ops.not_equal),
}


# -- NumPy functions on Tensors (np.sum(t), np.where(c, t, 0), ...) -------------------------------------------------
# The NumPy functions chainrule implements dispatch to it (differentiable); their extra arguments (out=, dtype=,
# ...) only at their defaults. Any other NumPy function sees plain arrays and gives plain arrays (no gradient).

ARRAY_FUNCTIONS: dict[Any, tuple[Callable[..., Tensor], frozenset[str]]] = {
    np.sum: (sum, frozenset({"axis", "keepdims"})),
    np.mean: (mean, frozenset({"axis", "keepdims"})),
    np.var: (var, frozenset({"axis", "ddof", "keepdims"})),
    np.std: (std, frozenset({"axis", "ddof", "keepdims"})),
    np.max: (max, frozenset({"axis", "keepdims"})),
    np.min: (min, frozenset({"axis", "keepdims"})),
    np.prod: (prod, frozenset({"axis", "keepdims"})),
    np.reshape: (lambda a, shape: reshape(a, shape), frozenset({"shape"})),
    np.transpose: (lambda a, axes=None: transpose(a, axes=axes), frozenset({"axes"})),
    np.swapaxes: (swapaxes, frozenset()),
    np.expand_dims: (expand_dims, frozenset({"axis"})),
    np.squeeze: (squeeze, frozenset({"axis"})),
    np.broadcast_to: (broadcast_to, frozenset({"shape"})),
    np.ravel: (flatten, frozenset()),
    np.concatenate: (concatenate, frozenset({"axis"})),
    np.stack: (stack, frozenset({"axis"})),
    np.dot: (dot, frozenset()),
    np.outer: (outer, frozenset()),
    np.einsum: (einsum, frozenset()),
    np.where: (where, frozenset()),
    np.clip: (
        lambda a, a_min=None, a_max=None, **bounds: clip(a, a_min, a_max, **bounds),
        frozenset({"a_min", "a_max", "min", "max"}),
    ),
}

for _name, _accepted in {
    "cumsum": {"axis"},
    "cumprod": {"axis"},
    "diff": {"n", "axis"},
    "flip": {"axis"},
    "roll": {"shift", "axis"},
    "tril": {"k"},
    "triu": {"k"},
    "diagonal": {"offset", "axis1", "axis2"},
    "trace": {"offset", "axis1", "axis2"},
    "moveaxis": {"source", "destination"},
    "tensordot": {"axes"},
    "inner": set(),
    "kron": set(),
    "cross": {"axisa", "axisb", "axisc", "axis"},
    "linspace": {"num", "endpoint", "retstep", "dtype", "axis"},
    "nan_to_num": {"copy", "nan", "posinf", "neginf"},
    "select": {"default"},
    "real": set(),
    "imag": set(),
    "angle": {"deg"},
    "sinc": set(),
    "gradient": {"axis", "edge_order"},
    "real_if_close": {"tol"},
    "round": {"decimals"},
    "around": {"decimals"},
}.items():
    if hasattr(np, _name):
        ARRAY_FUNCTIONS[getattr(np, _name)] = (globals()["round" if _name == "around" else _name], frozenset(_accepted))


def register_numpy(numpy_function: Any, fn: Callable[..., Any], *accepted: str) -> None:
    """``numpy_function(tensor, ...)`` calls ``fn`` (differentiable) when only ``accepted`` keywords are given."""
    ARRAY_FUNCTIONS[numpy_function] = (fn, frozenset(accepted))


for _alias, _target in ((getattr(np, "amax", None), np.max), (getattr(np, "amin", None), np.min)):
    if _alias is not None and _alias is not _target:
        ARRAY_FUNCTIONS[_alias] = ARRAY_FUNCTIONS[_target]


# ufuncs whose derivative is zero wherever it exists (or whose result is not a number): on tensors they give
# tensors that need no gradient, as in PyTorch
CONSTANT_UFUNCS = frozenset(
    "floor ceil trunc rint sign signbit isnan isinf isfinite isnat logical_and logical_or logical_xor logical_not "
    "greater greater_equal less less_equal equal not_equal floor_divide bitwise_and bitwise_or bitwise_xor invert "
    "left_shift right_shift".split()
)


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    fn = UFUNCS.get(ufunc.__name__)
    if method == "__call__" and fn is not None and not kwargs:
        return fn(*inputs)
    if method == "__call__" and ufunc.__name__ in CONSTANT_UFUNCS and "out" not in kwargs:
        return _constant_result(getattr(np, ufunc.__name__)(*_values(inputs), **kwargs))
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    _refuse_if_traced(name, (inputs, kwargs))
    result = getattr(ufunc, method)(*_values(inputs), **_values(kwargs))
    return _constant_result(result) if "out" not in kwargs else result


# NumPy functions that only read shapes, dtypes or truth values: no gradient to drop, so they see the values
VALUE_READERS = frozenset(
    "ndim shape size iscomplexobj isrealobj iscomplex isreal allclose isclose array_equal array_equiv result_type "
    "can_cast count_nonzero nonzero flatnonzero argwhere searchsorted any all isscalar".split()
)


@functools.cache
def _numpy_defaults(func: Any) -> dict:
    import inspect

    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _is_default(func: Any, key: str, value: Any) -> bool:
    if value is None or value is np._NoValue:
        return True
    default = _numpy_defaults(func).get(key, np._NoValue)
    return default is not np._NoValue and isinstance(value, (str, bool, int, float)) and value == default


def array_function(func: Any, args: tuple, kwargs: dict) -> Any:
    entry = ARRAY_FUNCTIONS.get(func)
    if entry is not None:
        fn, accepted = entry
        if builtins.all(key in accepted or _is_default(func, key, value) for key, value in kwargs.items()):
            return fn(*args, **{k: v for k, v in kwargs.items() if k in accepted})
    if func.__name__ in VALUE_READERS and func.__module__ in (
        "numpy",
        "numpy._core.numeric",
        "numpy._core.fromnumeric",
    ):
        return _constant_result(func(*_values(args), **_values(kwargs)))
    name = f"{func.__module__.replace('numpy.', 'np.') if func.__module__ != 'numpy' else 'np'}.{func.__name__}"
    _refuse_if_traced(name, (args, kwargs))
    return func(*_values(args), **_values(kwargs))


def _refuse_if_traced(name: str, value: Any) -> None:
    """A NumPy function chainrule does not differentiate, handed a tensor that needs a gradient: a short error."""
    traced = _first_traced(value)
    if traced is None:
        return
    own = name.rsplit(".", 1)[-1]
    instead = f"use cr.{own}" if own in globals() and not own.startswith("_") else "write it with chainrule operations"
    raise TypeError(
        f"{name} is not differentiable by chainrule and was given a tensor that requires grad (shape "
        f"{traced.shape}): {instead}, or pass t.detach() if no gradient should flow through it"
    )


def _first_traced(value: Any) -> Tensor | None:
    if type(value) is Tensor:
        return value if (value._rg or value._tangents) else None
    if isinstance(value, (tuple, list)):
        items: Any = value
    elif isinstance(value, dict):
        items = value.values()
    else:
        return None
    for item in items:
        found = _first_traced(item)
        if found is not None:
            return found
    return None


def _constant_result(result: Any) -> Any:
    """A NumPy result handed back as a tensor that needs no gradient (tuples of results element by element)."""
    if isinstance(result, tuple):
        return tuple(_constant_result(r) for r in result)
    return Tensor(result) if isinstance(result, (np.ndarray, np.generic)) else result


def _values(value: Any) -> Any:
    """Tensors replaced by their arrays, inside tuples, lists and dicts too."""
    if type(value) is Tensor:
        return value.data
    if isinstance(value, (tuple, list)):
        return type(value)(_values(v) for v in value)
    if isinstance(value, dict):
        return {k: _values(v) for k, v in value.items()}
    return value


# -- methods ----------------------------------------------------------------------------------------------------


def astype(x: Any, dtype: Any, copy: bool = True) -> Tensor:
    """The values in another dtype: differentiable between floating dtypes, real or complex (to a real dtype: the
    real part); any other result needs no gradient."""
    x = _operand(x)
    dtype = np.dtype(dtype)
    values = ops.constant(x)
    if type(x) is Tensor and dtype.kind in "fc" and np.dtype(values.dtype).kind in "fc":
        return ops.cast(x, dtype=dtype) if (dtype != values.dtype or copy) else x
    return Tensor(np.asarray(values).astype(dtype))


ravel = flatten


def copy(x: Any) -> Tensor:
    """A copy in memory of its own; the gradient passes through it."""
    x = _operand(x)
    return ops.identity(x) if type(x) is Tensor else Tensor(np.array(x))


def nonzero(x: Any) -> tuple:
    """The indices of the non-zero elements, one integer tensor per axis (no gradient)."""
    return tuple(Tensor(i) for i in np.nonzero(np.asarray(ops.constant(_operand(x)))))


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether any element is true (along ``axis``): a boolean tensor, no gradient."""
    return Tensor(np.any(np.asarray(ops.constant(_operand(x))), axis=axis, keepdims=keepdims))


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether every element is true (along ``axis``): a boolean tensor, no gradient."""
    return Tensor(np.all(np.asarray(ops.constant(_operand(x))), axis=axis, keepdims=keepdims))


_METHODS = (
    "negative exp log log1p expm1 sqrt square sin cos tan tanh sinh cosh arcsin arccos arctan sigmoid relu softplus "
    "abs maximum minimum power clip sum mean var std max min prod logsumexp reshape transpose swapaxes expand_dims "
    "squeeze broadcast_to flatten matmul dot outer softmax log_softmax arcsinh arccosh arctanh exp2 cbrt log2 log10 "
    "reciprocal deg2rad rad2deg fabs arctan2 hypot logaddexp logaddexp2 fmax fmin astype ravel cumsum cumprod "
    "diagonal trace conj conjugate round sinc any all copy nonzero"
).split()


def attach_methods(cls: type) -> None:
    """``t.NAME(...)`` is ``cr.NAME(t, ...)`` for every function that takes a tensor first."""
    for name in _METHODS:
        setattr(cls, name, globals()[name])
