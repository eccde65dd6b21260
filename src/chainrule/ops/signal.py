"""Convolution in any number of dimensions (the scipy extra), one primitive: the full convolution.

y = a * b (full mode: every overlap) is bilinear, so its forward rule is a * t_b + t_a * b, and its reverse rule
is the transpose of each argument's linear map (no conjugation, JAX's convention): ā_i = Σ_k ḡ_{i+k} b_k, the
valid part of ḡ * flip(b), and the same for b̄. The modes "same" and "valid" are cuts of the full result.
"""

from __future__ import annotations

from typing import Any

from ..primitive import constant, defjvp, defvjp, describe_vjp, primitive
from .shape import getitem


@primitive("convolve")
def convolve(xp, a, b):
    import scipy.signal

    return scipy.signal.convolve(a, b, mode="full")


def _window(full: Any, start: tuple, shape: tuple) -> Any:
    return getitem(full, index=tuple(slice(s, s + n) for s, n in zip(start, shape)))


def _transpose(g: Any, other: Any, shape: tuple) -> Any:
    """The part of g * flip(other) that lines up with an input of ``shape``."""
    reversed_other = getitem(other, index=(slice(None, None, -1),) * len(shape))
    full = convolve(g, reversed_other)
    return _window(full, tuple(n - 1 for n in constant(other).shape), shape)


defvjp(
    convolve,
    lambda g, ans, a, b: _transpose(g, b, constant(a).shape),
    lambda g, ans, a, b: _transpose(g, a, constant(b).shape),
)
defjvp(convolve, lambda t, ans, a, b: convolve(t, b), lambda t, ans, a, b: convolve(a, t))
describe_vjp(convolve, "the valid part of g * flip({b})", "the valid part of g * flip({a})")
