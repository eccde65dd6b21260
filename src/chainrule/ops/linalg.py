"""Linear algebra primitives: matrix products and Einstein summation, with their derivatives."""

from __future__ import annotations

from string import ascii_letters

from ..backend import array_module
from ..primitive import constant, defjvp, defjvp_argnum, defvjp, defvjp_argnum, describe_vjp, primitive
from .shape import broadcast_to, expand_dims, squeeze, swapaxes

MATMUL_HINT = (
    "The last axis of the first operand must equal the second-to-last axis of the second (or its only axis); "
    "transpose one operand (t.T or swapaxes) or check their order."
)


@primitive("matmul", hint=MATMUL_HINT)
def matmul(xp, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not take 0-d operands; use * to multiply by a scalar")
    return xp.matmul(a, b)


def _matmul_vjp_a(g, ans, a, b):
    if len(b.shape) == 1:
        return g * b if len(a.shape) == 1 else expand_dims(g, -1) * b
    if len(a.shape) == 1:
        return squeeze(matmul(b, expand_dims(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _matmul_vjp_b(g, ans, a, b):
    if len(a.shape) == 1:
        return g * a if len(b.shape) == 1 else expand_dims(a, -1) * expand_dims(g, -2)
    if len(b.shape) == 1:
        return squeeze(matmul(swapaxes(a, -1, -2), expand_dims(g, -1)), -1)
    return matmul(swapaxes(a, -1, -2), g)


defvjp(matmul, _matmul_vjp_a, _matmul_vjp_b)
describe_vjp(matmul, "g @ {b}ᵀ", "{a}ᵀ @ g")
defjvp(matmul, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))


@primitive("linear", hint="x (..., in_features), weight (out_features, in_features), bias (out_features,).")
def linear(xp, x, weight, *bias):
    """x @ weight.T (+ bias): a dense layer as one node, as PyTorch's addmm, so its weight gradient is a fresh
    contiguous product rather than the transpose of one."""
    out = xp.matmul(x, weight.T)
    if not bias:
        return out
    if xp.can_cast(bias[0].dtype, out.dtype, casting="same_kind") and xp.result_type(out, bias[0]) == out.dtype:
        out += bias[0]  # in place when that changes no dtype
        return out
    return out + bias[0]


def _linear_vjp(i, g, ans, x, weight, *bias):
    if i == 0:
        return matmul(g, weight)
    if i == 1:
        layout = (
            "F" if getattr(constant(weight), "flags", None) is not None and constant(weight).flags.f_contiguous else "C"
        )
        return linear_weight_grad(g, x, layout=layout)
    return g  # the engine sums it over the broadcast axes


@primitive("linear_weight_grad")
def linear_weight_grad(xp, g, x, layout="C"):
    """gᵀ x summed over every leading axis: (..., out) and (..., in) give (out, in), laid out in memory like the
    weight it is the gradient of (Linear keeps its weight column-major, as x @ w wants it), so that the
    optimizer's elementwise update walks both in the same order."""
    rows, columns = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    if layout == "C":
        return xp.matmul(rows.T, columns)
    out = xp.empty((rows.shape[1], columns.shape[1]), dtype=xp.result_type(rows, columns), order="F")
    xp.matmul(columns.T, rows, out=out.T)
    return out


defvjp(
    linear_weight_grad,
    lambda h, ans, g, x, layout="C": matmul(x, swapaxes(h, -1, -2)),
    lambda h, ans, g, x, layout="C": matmul(g, h),
)
describe_vjp(linear_weight_grad, "{b} @ gᵀ", "{a} @ g")
defjvp(
    linear_weight_grad,
    lambda t, ans, g, x, layout="C": linear_weight_grad(t, x, layout=layout),
    lambda t, ans, g, x, layout="C": linear_weight_grad(g, t, layout=layout),
)


def _linear_jvp(i, t, ans, x, weight, *bias):
    if i == 0:
        return linear(t, weight)
    if i == 1:
        return linear(x, t)
    return broadcast_to(t, shape=ans.shape)


defvjp_argnum(linear, _linear_vjp)
describe_vjp(linear, "g @ {b}", "gᵀ @ {a}", "g summed over the batch")
defjvp_argnum(linear, _linear_jvp)


@primitive("einsum", hint="Each operand needs one letter per axis, and a letter's axes must agree.")
def einsum(xp, *operands, subscripts=""):
    """Einstein summation over named axes only (``cr.einsum`` names the axes of a '...' before it gets here)."""
    return xp.einsum(subscripts, *operands, optimize=len(operands) > 2)


def _einsum_vjp(i, g, ans, *operands, subscripts=""):
    # The gradient of operand i is itself an einsum: the output's gradient contracted with the other operands,
    # written out in operand i's letters. A letter i sums away alone gets a vector of ones; a repeated letter
    # (a diagonal) gets a fresh twin joined by an identity matrix.
    inputs, output = subscripts.split("->")
    inputs = inputs.split(",")
    x = operands[i]
    mine = inputs[i]
    others = inputs[:i] + inputs[i + 1 :]
    xp = array_module(constant(x))
    dtype = constant(g).dtype
    sizes = dict(zip(mine, x.shape))
    fresh = (c for c in ascii_letters if c not in subscripts)
    present = set(output) | set("".join(others))
    target, extra_subscripts, extra_operands, seen = "", [], [], set()
    for c in mine:
        if c in seen:
            twin = next(fresh)
            target += twin
            extra_subscripts.append(c + twin)
            extra_operands.append(xp.eye(sizes[c], dtype=dtype))
        else:
            seen.add(c)
            target += c
            if c not in present:
                extra_subscripts.append(c)
                extra_operands.append(xp.ones(sizes[c], dtype=dtype))
                present.add(c)
    spec = ",".join([output, *others, *extra_subscripts]) + "->" + target
    grad = einsum(g, *operands[:i], *operands[i + 1 :], *extra_operands, subscripts=spec)
    if grad.shape != x.shape:
        # a letter of length 1 here and longer in another operand was broadcast: spread the gradient back out
        shape = tuple(max(a, b) for a, b in zip(grad.shape, x.shape)) if len(grad.shape) == len(x.shape) else None
        if shape is not None and shape != grad.shape:
            grad = broadcast_to(grad, shape=shape)
    return grad


defvjp_argnum(einsum, _einsum_vjp)
describe_vjp(einsum, "einsum of g with the other operands")
defjvp_argnum(  # multilinear: the tangent takes the place of its operand
    einsum,
    lambda i, t, ans, *operands, subscripts="": einsum(*operands[:i], t, *operands[i + 1 :], subscripts=subscripts),
)
