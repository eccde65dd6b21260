"""Primitives that move, select or combine elements without arithmetic, and their derivatives.

Their reverse rules are the same kinds of movement in the other direction: reshape back, transpose by the
inverse permutation, sum over broadcast axes, scatter the gradient of a selection back into zeros.
"""

from __future__ import annotations

from ..backend import array_module
from ..primitive import constant, defjvp, defjvp_argnum, defjvp_linear, defvjp, defvjp_argnum, describe_vjp, primitive


@primitive("reshape", is_view=True, hint="The new shape must have the same number of elements.")
def reshape(xp, x, shape=()):
    return xp.reshape(x, shape)


defvjp(reshape, lambda g, ans, x, shape=(): reshape(g, shape=x.shape))
describe_vjp(reshape, "g reshaped back to the shape of {a}")
defjvp_linear(reshape)


@primitive("transpose", is_view=True, hint="axes must be a permutation of range(ndim).")
def transpose(xp, x, axes=None):
    return xp.transpose(x, axes)


def _inverse(axes, ndim):
    if axes is None:
        return None
    inverse = [0] * ndim
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return tuple(inverse)


defvjp(transpose, lambda g, ans, x, axes=None: transpose(g, axes=_inverse(axes, len(x.shape))))
describe_vjp(transpose, "g transposed back")
defjvp_linear(transpose)


@primitive(
    "broadcast_to",
    is_view=True,
    hint="Each axis of the tensor must be 1 or equal to the target's trailing axis; see NumPy broadcasting.",
)
def broadcast_to(xp, x, shape=()):
    return xp.broadcast_to(x, shape)


defvjp(broadcast_to, lambda g, ans, x, shape=(): sum_to(g, shape=x.shape))
describe_vjp(broadcast_to, "g summed over the broadcast axes")
defjvp_linear(broadcast_to)


@primitive("sum_to")
def sum_to(xp, x, shape=()):
    """Sum ``x`` over the axes along which an array of ``shape`` was broadcast to get ``x``'s shape."""
    lead = x.ndim - len(shape)
    if lead == 1 and x.shape[1:] == tuple(shape):  # a bias's gradient: summed over the batch
        return x.sum(axis=0)
    if lead < 0 and all(n == 1 for n in shape[:-lead]):
        # the target only adds leading axes of length 1 (as when (1, 3) values fill a (3,) selection)
        return xp.reshape(sum_to.forward(xp, x, shape=shape[-lead:]), shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {x.shape} down to the larger shape {shape}")
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if axes:
        x = xp.sum(x, axis=axes, keepdims=True)
    if lead:
        x = xp.reshape(x, shape)
    if x.shape != tuple(shape):
        raise ValueError(f"cannot sum shape {x.shape} down to shape {shape}")
    return x


def _sum_to_vjp(g, ans, x, shape=()):
    extra = len(g.shape) - len(x.shape)  # leading axes of length 1 that sum_to added
    return broadcast_to(reshape(g, shape=tuple(g.shape)[extra:]) if extra > 0 else g, shape=x.shape)


defvjp(sum_to, _sum_to_vjp)
describe_vjp(sum_to, "g broadcast back to the shape of {a}")
defjvp_linear(sum_to)


def _is_basic(index):
    # Basic indices (ints, slices, None, Ellipsis) never select an element twice.
    parts = index if type(index) is tuple else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


@primitive("getitem", is_view=True, hint="Check the index against the tensor's shape.")
def getitem(xp, x, index=None):
    return x[index]


defvjp(getitem, lambda g, ans, x, index=None: scatter_add(g, index=index, shape=x.shape))
describe_vjp(getitem, "g placed at the indexed positions of zeros shaped like {a}")
defjvp_linear(getitem)


@primitive("scatter_add")
def scatter_add(xp, g, index=None, shape=()):
    """Zeros of ``shape`` with ``g`` added at ``index``; an element selected twice receives both values."""
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(index) or getattr(getattr(index, "dtype", None), "kind", "") == "b":
        out[index] = g
    else:
        xp.add.at(out, index, g)
    return out


defvjp(scatter_add, lambda g, ans, x, index=None, shape=(): getitem(g, index=index))
describe_vjp(scatter_add, "g at the index")
defjvp_linear(scatter_add)


@primitive("setitem", hint="The value must broadcast to the selected elements.")
def setitem(xp, x, value, index=None):
    out = x.copy()
    out[index] = value
    return out


def _untouched(x, index):
    """True where ``x[index] = value`` left ``x`` alone, False where it wrote."""
    values = constant(x)
    mask = array_module(values).ones(values.shape, dtype=bool)
    mask[index] = False
    return mask


def _kept_writes(x, index):
    """For each element of ``x[index]``, whether ``x[index] = value`` kept what it wrote there: where an index
    repeats, one write overwrites the others (NumPy keeps the last), and only the one kept gets a gradient.
    None where nothing repeats (basic indices and masks never do)."""
    if _is_basic(index) or getattr(getattr(index, "dtype", None), "kind", "") == "b":
        return None
    values = constant(x)
    xp = array_module(values)
    writes = xp.arange(values[index].size).reshape(values[index].shape)
    owner = xp.full(values.shape, -1)
    owner[index] = writes  # the same assignment as the forward: the write NumPy keeps wins
    kept = owner[index] == writes
    return None if kept.all() else kept


def _setitem_vjp_value(g, ans, x, value, index=None):
    selected = getitem(g, index=index)
    kept = _kept_writes(x, index)
    return selected if kept is None else selected * kept


defvjp(setitem, lambda g, ans, x, value, index=None: g * _untouched(x, index), _setitem_vjp_value)
describe_vjp(setitem, "g, zero where {a} was overwritten", "g at the written positions")
defjvp(
    setitem,
    lambda t, ans, x, value, index=None: t * _untouched(x, index),
    lambda t, ans, x, value, index=None: setitem(_zeros_like(ans), t, index=index),
)


def _zeros_like(t):
    values = constant(t)
    return array_module(values).zeros(values.shape, dtype=values.dtype)


@primitive("concatenate", hint="All tensors must have the same shape except along the concatenation axis.")
def concatenate(xp, *xs, axis=0):
    return xp.concatenate(xs, axis=axis)


def _concatenate_vjp(i, g, ans, *xs, axis=0):
    start = 0
    for x in xs[:i]:
        start += x.shape[axis]
    index = (slice(None),) * (axis % len(g.shape)) + (slice(start, start + xs[i].shape[axis]),)
    return getitem(g, index=index)


defvjp_argnum(concatenate, _concatenate_vjp)
describe_vjp(concatenate, "the slice of g that came from this operand")
defjvp_argnum(
    concatenate,
    lambda i, t, ans, *xs, axis=0: concatenate(*[t if k == i else _zeros_like(x) for k, x in enumerate(xs)], axis=axis),
)


# -- movements composed from the primitives above (work on arrays and Tensors alike) -----------------------------


def expand_dims(x, axis):
    """Insert axes of length 1 at the positions ``axis`` (an int or tuple, negative counts from the end)."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = len(x.shape) + len(axes)
    positions = sorted(a % ndim if -ndim <= a < ndim else _axis_error("expand_dims", a, ndim) for a in axes)
    shape = list(x.shape)
    for p in positions:
        shape.insert(p, 1)
    return reshape(x, shape=tuple(shape))


def squeeze(x, axis=None):
    """Remove axes of length 1 (all of them, or those in ``axis``, an int or tuple)."""
    ndim = len(x.shape)
    if axis is None:
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = {a % ndim if -ndim <= a < ndim else _axis_error("squeeze", a, ndim) for a in _as_tuple(axis)}
        wrong = [a for a in axes if x.shape[a] != 1]
        if wrong:
            from ..errors import ShapeError

            raise ShapeError(
                f"squeeze: axis {wrong[0]} has length {x.shape[wrong[0]]}, not 1 (shape {tuple(x.shape)}); "
                "only axes of length 1 can be squeezed"
            )
    return reshape(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


def swapaxes(x, axis1, axis2):
    ndim = len(x.shape)
    perm = list(range(ndim))
    a, b = axis1 % ndim if ndim else 0, axis2 % ndim if ndim else 0
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, axes=tuple(perm))


def _as_tuple(axis):
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _axis_error(op, axis, ndim):
    from ..errors import ShapeError

    raise ShapeError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")


@primitive("identity")
def identity(xp, x):
    """The same values under a new node, in memory of their own: what a transform differentiates with respect to
    (an in-place change inside the function then never reaches the caller's array) and what a ``.grad`` recorded
    with create_graph holds (never the very tensor of another ``.grad`` or of the seed)."""
    return x.copy(order="K") if hasattr(x, "__setitem__") else x


defvjp(identity, lambda g, ans, x: g)
describe_vjp(identity, "g")
defjvp_linear(identity)


# -- windows: padding, and the sliding windows that convolution and pooling read ------------------------------


@primitive("pad")
def pad(xp, x, widths=()):
    """Zeros around ``x``: ``widths`` holds a (before, after) pair for every axis."""
    return xp.pad(x, widths)


def _unpad(g, x, widths):
    return getitem(g, index=tuple(slice(before, before + n) for (before, _), n in zip(widths, x.shape)))


defvjp(pad, lambda g, ans, x, widths=(): _unpad(g, x, widths))
describe_vjp(pad, "g without the padding")
defjvp_linear(pad)


@primitive("unfold", is_view=True, hint="The kernel must fit in the last two axes.")
def unfold(xp, x, kernel=(1, 1), stride=(1, 1)):
    """The windows of the last two axes: (..., H, W) -> (..., OH, OW, kh, kw), a view without copies."""
    if x.shape[-2] < kernel[0] or x.shape[-1] < kernel[1]:
        raise ValueError(f"a {kernel[0]}x{kernel[1]} kernel does not fit in {x.shape[-2]}x{x.shape[-1]}")
    windows = xp.lib.stride_tricks.sliding_window_view(x, kernel, axis=(-2, -1))
    return windows[..., :: stride[0], :: stride[1], :, :]


defvjp(unfold, lambda g, ans, x, kernel=(1, 1), stride=(1, 1): fold(g, kernel=kernel, stride=stride, shape=x.shape))
describe_vjp(unfold, "g added back from every window to the place it read")
defjvp_linear(unfold)


@primitive("fold")
def fold(xp, g, kernel=(1, 1), stride=(1, 1), shape=()):
    """The transpose of ``unfold``: each window's values added back where the window read them. One pass per
    kernel offset (kh * kw passes), never one per pixel."""
    out = xp.zeros(shape, dtype=g.dtype)
    rows, cols = g.shape[-4], g.shape[-3]
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            down = slice(i, i + stride[0] * (rows - 1) + 1, stride[0])
            across = slice(j, j + stride[1] * (cols - 1) + 1, stride[1])
            out[..., down, across] += g[..., i, j]
    return out


defvjp(fold, lambda g, ans, x, kernel=(1, 1), stride=(1, 1), shape=(): unfold(g, kernel=kernel, stride=stride))
describe_vjp(fold, "the windows of g")
defjvp_linear(fold)
