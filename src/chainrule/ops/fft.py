"""Discrete Fourier transforms along one axis: the primitives the n-dimensional transforms are made of.

Every transform here is linear, so its forward rule is itself applied to the tangent, and its reverse rule is its
transpose applied to the cotangent (JAX's convention for complex numbers: no conjugation). Written as a matrix,
the DFT is symmetric, F^T = F, so:

- ``fft(x, n)``: y = s·F·resize_n(x); x̄ = resize_back(s·F·ḡ) = resize_back(fft(ḡ)) with the same norm;
- ``ifft``: the same with the inverse transform;
- ``rfft(x, n)`` (real x, the first n//2 + 1 outputs of fft): x̄ = resize_back(fft(ḡ padded to n));
- ``irfft(x, n)`` (a half spectrum to n real values, y_j = s·Σ_k c_k Re(x_k e^{2πijk/n}) with c_k = 2 except
  c_0 = 1 and, for even n, c_{n/2} = 1): x̄_k = c_k · ifft(ḡ)_k for k < n//2 + 1, resized back.

``s`` is the scale of ``norm``: "backward" (forward 1, inverse 1/n), "ortho" (1/√n both), "forward" (1/n, 1).
The transposes keep the same norm because the scales are the same numbers on both sides of the transpose.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..primitive import constant, defjvp_linear, defvjp, describe_vjp, primitive
from .elementwise import multiply
from .shape import getitem, pad

NORMS = ("backward", "ortho", "forward")


def resize(x: Any, length: int, axis: int) -> Any:
    """``x`` cut to ``length`` along ``axis``, or padded there with zeros (chainrule operations: differentiable)."""
    shape = constant(x).shape
    have = shape[axis]
    if have == length:
        return x
    if have > length:
        return getitem(x, index=(slice(None),) * (axis % len(shape)) + (slice(0, length),))
    widths = tuple((0, length - have) if i == axis % len(shape) else (0, 0) for i in range(len(shape)))
    return pad(x, widths=widths)


def _transform(name: str):
    """The primitive whose forward is ``xp.fft.<name>`` along one axis."""
    return primitive(name)(
        lambda xp, x, n=None, axis=-1, norm="backward": getattr(xp.fft, name)(x, n=n, axis=axis, norm=norm)
    )


fft, ifft, rfft, irfft = (_transform(name) for name in ("fft", "ifft", "rfft", "irfft"))


def _fft_vjp(g, ans, x, n=None, axis=-1, norm="backward"):
    return resize(fft(g, axis=axis, norm=norm), constant(x).shape[axis], axis)


def _ifft_vjp(g, ans, x, n=None, axis=-1, norm="backward"):
    return resize(ifft(g, axis=axis, norm=norm), constant(x).shape[axis], axis)


def _rfft_vjp(g, ans, x, n=None, axis=-1, norm="backward"):
    length = constant(x).shape[axis] if n is None else n
    return resize(fft(resize(g, length, axis), axis=axis, norm=norm), constant(x).shape[axis], axis)


def _irfft_vjp(g, ans, x, n=None, axis=-1, norm="backward"):
    out = constant(ans)
    length = out.shape[axis]  # n, or 2 (m - 1)
    half = length // 2 + 1
    xp = array_module(out)
    shape = [1] * out.ndim
    shape[axis] = half
    weights = xp.full(shape, 2, dtype=out.dtype)  # c_k: 2, but 1 at 0 and at n/2 for even n
    weights[_at(out.ndim, axis, 0)] = 1
    if length % 2 == 0:
        weights[_at(out.ndim, axis, length // 2)] = 1
    spectrum = getitem(ifft(g, axis=axis, norm=norm), index=_first(out.ndim, axis, half))
    return resize(multiply(spectrum, weights), constant(x).shape[axis], axis)


def _at(ndim: int, axis: int, k: int) -> tuple:
    return (slice(None),) * (axis % ndim) + (slice(k, k + 1),)


def _first(ndim: int, axis: int, length: int) -> tuple:
    return (slice(None),) * (axis % ndim) + (slice(0, length),)


defvjp(fft, _fft_vjp)
defvjp(ifft, _ifft_vjp)
defvjp(rfft, _rfft_vjp)
defvjp(irfft, _irfft_vjp)
for _prim in (fft, ifft, rfft, irfft):
    defjvp_linear(_prim)
describe_vjp(fft, "fft(g), cut or padded back to the input's length")
describe_vjp(ifft, "ifft(g), cut or padded back to the input's length")
describe_vjp(rfft, "fft(g padded to n), cut back to the input's length")
describe_vjp(irfft, "c_k · ifft(g)_k for the first n//2 + 1 k (c_k = 2 but 1 at 0 and n/2)")
