"""Reductions and their derivatives.

``axis`` arrives normalised (None or a tuple of non-negative ints; see ``functions.py``). The reverse rules
put the reduced axes back (``unreduce``) and broadcast the gradient over them.

Conventions: ties of max and min share the gradient equally among the tied elements; prod's gradient is exact
when some inputs are zero (no division by zero).
"""

from __future__ import annotations

from ..primitive import constant, defvjp, primitive
from .elementwise import exp, where
from .shape import broadcast_to, reshape


def unreduce(g, shape, axis, keepdims):
    """Broadcast the gradient of a reduction back to the input's shape."""
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


def _extremum_vjp(g, ans, x, axis=None, keepdims=False):
    tied = x == _kept(ans, x.shape, axis, keepdims)
    count = sum(tied, axis=axis, keepdims=True)
    return unreduce(g, x.shape, axis, keepdims) * tied / count


@primitive("max", hint="max of an empty axis is undefined.")
def max(xp, x, axis=None, keepdims=False):
    return xp.max(x, axis=axis, keepdims=keepdims)


defvjp(max, _extremum_vjp)


@primitive("min", hint="min of an empty axis is undefined.")
def min(xp, x, axis=None, keepdims=False):
    return xp.min(x, axis=axis, keepdims=keepdims)


defvjp(min, _extremum_vjp)


@primitive("prod")
def prod(xp, x, axis=None, keepdims=False):
    return xp.prod(x, axis=axis, keepdims=keepdims)


def _prod_vjp(g, ans, x, axis=None, keepdims=False):
    # d prod / d x_i is the product of the other elements. Dividing ans by x_i fails at zeros, so count them:
    # no zero -> ans / x_i; exactly one zero -> the product of the non-zeros, at the zero only; more -> 0.
    zero = constant(x == 0)
    zeros = sum(zero, axis=axis, keepdims=True)
    safe = where(1.0, x, condition=zero)
    others = unreduce(prod(safe, axis=axis, keepdims=keepdims), x.shape, axis, keepdims)
    lone_zero = zero * constant(zeros == 1)
    local = where(others / safe, where(others, 0.0, condition=lone_zero), condition=constant(zeros == 0))
    return unreduce(g, x.shape, axis, keepdims) * local


defvjp(prod, _prod_vjp)


@primitive("logsumexp")
def logsumexp(xp, x, axis=None, keepdims=False):
    # shift by the maximum so no exp overflows; an infinite maximum is left unshifted (its result is that inf)
    shift = xp.max(x, axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)
    out = xp.log(xp.sum(xp.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else xp.squeeze(out, axis=axis)


defvjp(
    logsumexp,
    lambda g, ans, x, axis=None, keepdims=False: (
        unreduce(g, x.shape, axis, keepdims) * exp(x - _kept(ans, x.shape, axis, keepdims))
    ),
)


# softmax and log_softmax have rules of their own: one node instead of several, and a gradient that never
# exponentiates anything large.


@primitive("log_softmax")
def log_softmax(xp, x, axis=None):
    return x - logsumexp.forward(xp, x, axis=axis, keepdims=True)


defvjp(log_softmax, lambda g, ans, x, axis=None: g - exp(ans) * sum(g, axis=axis, keepdims=True))


@primitive("softmax")
def softmax(xp, x, axis=None):
    return xp.exp(x - logsumexp.forward(xp, x, axis=axis, keepdims=True))


defvjp(softmax, lambda g, ans, x, axis=None: ans * (g - sum(g * ans, axis=axis, keepdims=True)))
