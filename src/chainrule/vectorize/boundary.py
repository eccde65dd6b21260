"""The way into and out of a vmap, as primitives (so gradients and tangents cross it): ``batch_in`` stacks the
examples along an axis into one batched value, ``batch_out`` stacks a batched result back along an axis, and
``batch_sum`` sums a gradient over the examples where a shared value fed batched operations."""

from __future__ import annotations

from typing import Any

from .. import ops
from ..errors import ShapeError
from ..primitive import constant, defjvp, defvjp, describe_vjp, primitive
from .batched import ACTIVE_LEVELS, BATCHING_USED, Batched, BatchedValueError


def _to_front(x: Any, axis: int) -> Any:
    ndim = len(x.shape)
    if axis == 0:
        return x
    return ops.transpose(x, axes=(axis, *[a for a in range(ndim) if a != axis]))


def _from_front(x: Any, axis: int) -> Any:
    ndim = len(x.shape)
    if axis == 0:
        return x
    order = list(range(1, ndim))
    order.insert(axis, 0)
    return ops.transpose(x, axes=tuple(order))


@primitive("batch_in")
def batch_in(xp: Any, x: Any, axis: int = 0, level: int = 0) -> Batched:
    """Into a vmap: the examples along ``axis`` become one batched value."""
    BATCHING_USED[0] = True
    return Batched(_to_front(x, axis), level)


@primitive("batch_out")
def batch_out(xp: Any, y: Any, axis: int = 0, level: int = 0, size: int = 0) -> Any:
    """Out of a vmap: the batched result stacked along ``axis`` (a result the same for every example, copied)."""
    if type(y) is Batched and y.level == level:
        return _from_front(y.value, axis)
    if type(y) is Batched and y.level > level:
        raise ShapeError("vmap: a value batched by an inner vmap escaped it (return it from that vmap instead)")
    shape = tuple(y.shape) if hasattr(y, "shape") else ()
    copies = ops.broadcast_to(ops.reshape(y, shape=(1, *shape)), shape=(size, *shape))
    return _from_front(copies, axis)


defvjp(batch_in, lambda g, ans, x, axis=0, level=0: batch_out(g, axis=axis, level=level, size=x.shape[axis]))
defvjp(batch_out, lambda g, ans, y, axis=0, level=0, size=0: _split(g, y, axis, level))
describe_vjp(batch_in, "g's examples stacked along the mapped axis")
describe_vjp(batch_out, "g split into its examples")
defjvp(batch_in, lambda t, ans, x, axis=0, level=0: batch_in(t, axis=axis, level=level))
defjvp(batch_out, lambda t, ans, y, axis=0, level=0, size=0: batch_out(t, axis=axis, level=level, size=size))


def _split(g: Any, y: Any, axis: int, level: int) -> Any:
    """The cotangent of the stacked result split into its examples (summed over them for a result that was the
    same for every example)."""
    value = constant(y)
    if type(value) is Batched and value.level == level:
        return batch_in(g, axis=axis, level=level)
    return ops.sum(g, axis=(axis,))


@primitive("batch_sum")
def batch_sum(xp: Any, x: Any, level: int = 0) -> Any:
    """The sum over the examples of vmap ``level``: the gradient of a value every example shared."""
    if type(x) is not Batched or x.level < level:
        return x
    if x.level == level:
        return ops.sum(x.value, axis=(0,))
    return Batched(batch_sum(x.value, level=level), x.level)


defvjp(batch_sum, lambda g, ans, x, level=0: g)  # every example receives the same gradient
describe_vjp(batch_sum, "g, the same for every example")
defjvp(batch_sum, lambda t, ans, x, level=0: batch_sum(t, level=level))


def levels_of(value: Any) -> set[int]:
    levels = set()
    while type(value) is Batched:
        levels.add(value.level)
        value = value.value
    return levels


def fit_levels(gi: Any, value: Any) -> Any:
    """A gradient batched at levels its input is not (a value shared by the examples that fed batched
    operations) summed over those levels' examples: the levels of vmaps that ran inside the function being
    differentiated. The levels of vmaps running now stay (the backward pass is then one per example)."""
    extra = levels_of(constant(gi)) - levels_of(constant(value)) - set(ACTIVE_LEVELS)
    for level in sorted(extra, reverse=True):
        gi = batch_sum(gi, level=level)
    return gi


def _batched_level(values: Any) -> int:
    level = 0
    for v in values:
        data = constant(v)
        if type(data) is Batched and data.level > level:
            level = data.level
    return level


def looped_when_batched(fn: Any) -> Any:
    """For a public function that computes with NumPy on its data (positions of a sort, masks of finite values):
    given batched arguments, it runs once per example (differentiable through batch_out and batch_in) instead of
    handing batched data to NumPy. Correct for any such function; the rest of vmap stays vectorized."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for v in (*args, *kwargs.values()):
            if isinstance(v, (list, tuple)) and _batched_level(v):
                raise BatchedValueError(
                    f"vmap: {fn.__name__} does not take lists of batched values yet; stack them first (cr.stack)"
                )
        level = _batched_level((*args, *kwargs.values()))
        if not level:
            return fn(*args, **kwargs)
        size = next(constant(v).batch_size for v in (*args, *kwargs.values()) if _batched_level((v,)) == level)

        def unstacked(v: Any) -> Any:
            if _batched_level((v,)) == level and type(constant(v)) is Batched and constant(v).level == level:
                return batch_out(v, axis=0, level=level, size=size)
            return None

        stacks = [unstacked(v) for v in args]
        kw_stacks = {k: unstacked(v) for k, v in kwargs.items()}
        results = []
        for b in range(size):
            own = [s[b] if s is not None else v for s, v in zip(stacks, args)]
            own_kw = {k: (kw_stacks[k][b] if kw_stacks[k] is not None else v) for k, v in kwargs.items()}
            results.append(fn(*own, **own_kw))
        first = results[0]
        if isinstance(first, tuple):
            parts = [_restack([r[k] for r in results], level) for k in range(len(first))]
            return type(first)(*parts) if hasattr(first, "_fields") else tuple(parts)
        return _restack(results, level)

    return wrapper


def _restack(results: list, level: int) -> Any:
    from ..tensor import Tensor

    if not isinstance(results[0], Tensor) and not hasattr(results[0], "shape"):
        return results[0]  # a Python value the same for every example (a rank, say)
    stacked = ops.concatenate(*[ops.expand_dims(r, 0) for r in results], axis=0)
    out = batch_in(stacked, axis=0, level=level)
    return out if isinstance(out, Tensor) else Tensor._from_op(out, None)
