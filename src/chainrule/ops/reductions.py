"""Reductions and their derivatives.

``axis`` arrives normalised (None or a tuple of non-negative ints; see ``functions.py``). The reverse rules
put the reduced axes back (``unreduce``) and broadcast the gradient over them.

Conventions: ties of max and min share the gradient equally among the tied elements; prod's gradient is exact
when some inputs are zero (no division by zero).
"""

from __future__ import annotations

from ..backend import array_module
from ..primitive import constant, defjvp, defjvp_linear, defvjp, describe_vjp, primitive
from .elementwise import exp
from .shape import broadcast_to, concatenate, expand_dims, getitem, reshape, transpose


def unreduce(g, shape, axis, keepdims):
    """Broadcast the gradient of a reduction back to the input's shape."""
    if axis is not None:
        axis = tuple(a % len(shape) for a in axis)  # axes may be counted from the end
    if not keepdims and axis is not None:
        kept = tuple(1 if i in axis else n for i, n in enumerate(shape))
        g = reshape(g, shape=kept)
    elif not keepdims:
        g = reshape(g, shape=(1,) * len(shape))
    return broadcast_to(g, shape=shape)


def _kept(ans, shape, axis, keepdims):
    """The reduction's result with the reduced axes present (size 1), to compare against the input."""
    return unreduce(ans, shape, axis, keepdims) if not keepdims else ans


@primitive("sum")
def sum(xp, x, axis=None, keepdims=False):
    return xp.sum(x, axis=axis, keepdims=keepdims)


defvjp(sum, lambda g, ans, x, axis=None, keepdims=False: unreduce(g, x.shape, axis, keepdims))
describe_vjp(sum, "g spread back over the summed axes")
defjvp_linear(sum)


def _reduction_jvp(vjp):
    """Each input element of a reduction feeds one output element, so its local derivative is what the reverse
    rule gives for a cotangent of ones; the output's change sums them times the tangent."""

    def jvp(t, ans, x, axis=None, keepdims=False):
        values = constant(ans)
        ones = array_module(values).ones(values.shape, dtype=values.dtype)
        return sum(vjp(ones, ans, x, axis=axis, keepdims=keepdims) * t, axis=axis, keepdims=keepdims)

    return jvp


def _extremum_vjp(g, ans, x, axis=None, keepdims=False):
    tied = x == _kept(ans, x.shape, axis, keepdims)
    count = sum(tied, axis=axis, keepdims=True)
    return unreduce(g, x.shape, axis, keepdims) * tied / count


@primitive("max", hint="max of an empty axis is undefined.")
def max(xp, x, axis=None, keepdims=False):
    return xp.max(x, axis=axis, keepdims=keepdims)


defvjp(max, _extremum_vjp)
describe_vjp(max, "g shared among the maxima (ties equally)")
defjvp(max, _reduction_jvp(_extremum_vjp))


@primitive("min", hint="min of an empty axis is undefined.")
def min(xp, x, axis=None, keepdims=False):
    return xp.min(x, axis=axis, keepdims=keepdims)


defvjp(min, _extremum_vjp)
describe_vjp(min, "g shared among the minima (ties equally)")
defjvp(min, _reduction_jvp(_extremum_vjp))


@primitive("prod")
def prod(xp, x, axis=None, keepdims=False):
    return xp.prod(x, axis=axis, keepdims=keepdims)


def _prod_vjp(g, ans, x, axis=None, keepdims=False):
    # d prod / d x_i is the product of the other elements: ans / x_i while no element is zero; with zeros,
    # the products of the others built by multiplication alone, exact there and differentiable again
    if not constant(x == 0).any():
        return unreduce(g, x.shape, axis, keepdims) * _kept(ans, x.shape, axis, keepdims) / x
    return unreduce(g, x.shape, axis, keepdims) * _products_of_others(x, axis)


def _products_of_others(x, axis):
    """For every element, the product of the other elements along ``axis`` (prefix times suffix products)."""
    ndim = len(x.shape)
    reduced = tuple(range(ndim)) if axis is None else tuple(sorted(a % ndim for a in axis))
    kept = tuple(a for a in range(ndim) if a not in reduced)
    perm = kept + reduced
    moved = transpose(x, axes=perm)
    kept_shape = tuple(x.shape[a] for a in kept)
    flat = reshape(moved, shape=kept_shape + (-1,))
    n = flat.shape[-1]
    column = [getitem(flat, index=(Ellipsis, k)) for k in range(n)]
    one = array_module(constant(x)).ones(kept_shape, dtype=constant(x).dtype)
    before, after = [one], [one]
    for k in range(1, n):
        before.append(before[-1] * column[k - 1])
        after.append(after[-1] * column[n - k])
    others = [expand_dims(before[k] * after[n - 1 - k], -1) for k in range(n)]
    joined = reshape(concatenate(*others, axis=-1), shape=tuple(moved.shape))
    return transpose(joined, axes=tuple(sorted(range(ndim), key=perm.__getitem__)))


defvjp(prod, _prod_vjp)
describe_vjp(prod, "g · (product of the other elements)")
defjvp(prod, _reduction_jvp(_prod_vjp))


@primitive("logsumexp")
def logsumexp(xp, x, axis=None, keepdims=False):
    # shift by the maximum so no exp overflows; an infinite maximum is left unshifted (its result is that inf)
    # (array methods rather than module functions: the same work without NumPy's Python-level dispatch)
    if x.size == 0:  # nothing to add up: log(0) = -inf, as PyTorch (and the result is empty unless the axis was)
        out = xp.full_like(x.sum(axis=axis, keepdims=True), -xp.inf, dtype=xp.result_type(x.dtype, 1.0))
        return out if keepdims else out.squeeze(axis=axis)
    shift = x.max(axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)  # (always: no Python branch on the values, for cr.jit)
    out = xp.log(xp.exp(x - shift).sum(axis=axis, keepdims=True)) + shift
    return out if keepdims else out.squeeze(axis=axis)


def _logsumexp_vjp(g, ans, x, axis=None, keepdims=False):
    return unreduce(g, x.shape, axis, keepdims) * exp(x - _kept(ans, x.shape, axis, keepdims))


defvjp(logsumexp, _logsumexp_vjp)
describe_vjp(logsumexp, "g · softmax({a})")
defjvp(logsumexp, _reduction_jvp(_logsumexp_vjp))


# softmax and log_softmax have rules of their own: one node instead of several, and a gradient that never
# exponentiates anything large.


@primitive("log_softmax")
def log_softmax(xp, x, axis=None):
    return x - logsumexp.forward(xp, x, axis=axis, keepdims=True)


defvjp(log_softmax, lambda g, ans, x, axis=None: g - exp(ans) * sum(g, axis=axis, keepdims=True))
describe_vjp(log_softmax, "g - softmax({a})·sum(g)")
defjvp(log_softmax, lambda t, ans, x, axis=None: t - sum(exp(ans) * t, axis=axis, keepdims=True))


@primitive("softmax")
def softmax(xp, x, axis=None):
    return xp.exp(x - logsumexp.forward(xp, x, axis=axis, keepdims=True))


defvjp(softmax, lambda g, ans, x, axis=None: ans * (g - sum(g * ans, axis=axis, keepdims=True)))
describe_vjp(softmax, "{out}·(g - sum(g·{out}))")
defjvp(softmax, lambda t, ans, x, axis=None: ans * (t - sum(t * ans, axis=axis, keepdims=True)))  # J is symmetric


@primitive("cumsum")
def cumsum(xp, x, axis=0):
    return xp.cumsum(x, axis=axis)


def _reverse_cumsum(g, axis):
    # each input adds into every running sum from its place on: the gradient sums g from the end backwards
    ndim = len(g.shape)
    backwards = (slice(None),) * (axis % ndim) + (slice(None, None, -1),)
    return getitem(cumsum(getitem(g, index=backwards), axis=axis), index=backwards)


defvjp(cumsum, lambda g, ans, x, axis=0: _reverse_cumsum(g, axis))
describe_vjp(cumsum, "g summed from the end back to each place")
defjvp_linear(cumsum)


@primitive("cumprod")
def cumprod(xp, x, axis=0):
    return xp.cumprod(x, axis=axis)


def _slices(x, axis):
    ndim = len(x.shape)
    return [getitem(x, index=(slice(None),) * (axis % ndim) + (slice(j, j + 1),)) for j in range(x.shape[axis])]


def _cumprod_vjp(g, ans, x, axis=0):
    # Without zeros, d y_k / d x_j = y_k / x_j for j <= k. With zeros that quotient is 0/0, so the gradient is
    # E_j R_j with E_j = x_0 ... x_(j-1) (the running product before j) and R_j = g_j + x_(j+1) R_(j+1) from the end.
    if not (constant(x) == 0).any():
        return _reverse_cumsum(g * ans, axis) / x
    gs, xs, ys = _slices(g, axis), _slices(x, axis), _slices(ans, axis)
    total = [gs[-1]]
    for j in range(len(gs) - 2, -1, -1):
        total.append(gs[j] + xs[j + 1] * total[-1])
    total.reverse()
    return concatenate(total[0], *[y * r for y, r in zip(ys[:-1], total[1:])], axis=axis % len(x.shape))


def _cumprod_jvp(t, ans, x, axis=0):
    if not (constant(x) == 0).any():
        return ans * cumsum(t / x, axis=axis)
    ts, xs, ys = _slices(t, axis), _slices(x, axis), _slices(ans, axis)
    change = [ts[0]]  # d y_k = d y_(k-1) x_k + y_(k-1) t_k
    for k in range(1, len(ts)):
        change.append(change[-1] * xs[k] + ys[k - 1] * ts[k])
    return concatenate(*change, axis=axis % len(x.shape))


defvjp(cumprod, _cumprod_vjp)
describe_vjp(cumprod, "the running products without each element, times g summed from the end")
defjvp(cumprod, _cumprod_jvp)
