"""``cr.fft``: NumPy's discrete Fourier transforms on tensors, differentiable in both modes and to any order.

The one-dimensional transforms are primitives (``ops/fft.py``, with their rules); the n-dimensional ones apply
them axis after axis, as the transforms factor; the shifts are rolls. Arguments and results follow ``np.fft``:
``n`` pads with zeros or cuts, ``axis``/``axes``, ``s``, and ``norm`` ("backward", "ortho", "forward").
``np.fft.fft(t)`` and the others on a tensor come here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .functions import _operand, register_numpy, roll
from .ops import fft as _ops
from .tensor import Tensor


def _norm(norm: str | None, name: str) -> str:
    norm = "backward" if norm is None else norm
    if norm not in _ops.NORMS:
        raise ValueError(f"{name}: norm must be one of {', '.join(_ops.NORMS)} or None, got {norm!r}")
    return norm


def _axis(x: Any, axis: int, name: str) -> int:
    ndim = np.ndim(_value(x))
    if ndim == 0:
        raise ValueError(f"{name}: a transform needs at least one axis; got a 0-d input")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for an input of {ndim} axes")
    return axis % ndim


def _length(n: int | None, name: str) -> int | None:
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ValueError(f"{name}: n must be a positive integer, got {n!r}")
    return None if n is None else int(n)


def _value(x: Any) -> Any:
    return x.data if type(x) is Tensor else x


def _one(prim: Any, name: str, x: Any, n: Any, axis: int, norm: Any, real_input: bool = False) -> Tensor:
    x = _operand(x)
    if type(x) is not Tensor:  # arrays and numbers give tensors too, as every chainrule function does
        x = Tensor._from_op(np.asarray(x), None)
    if real_input and np.iscomplexobj(_value(x)):
        raise TypeError(f"{name}: the input must be real (use fft for complex input)")
    return prim(x, n=_length(n, name), axis=_axis(x, axis, name), norm=_norm(norm, name))


def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Tensor:
    return _one(_ops.fft, "fft", a, n, axis, norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Tensor:
    return _one(_ops.ifft, "ifft", a, n, axis, norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Tensor:
    return _one(_ops.rfft, "rfft", a, n, axis, norm, real_input=True)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Tensor:
    return _one(_ops.irfft, "irfft", a, n, axis, norm)


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Tensor:
    """The FFT of a signal with Hermitian symmetry: irfft of the conjugate, with the dual norm."""
    dual = {"backward": "forward", "ortho": "ortho", "forward": "backward"}[_norm(norm, "hfft")]
    from .functions import conj

    return irfft(conj(_operand(a)), n, axis, dual)


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of hfft: the conjugate of rfft, with the dual norm."""
    dual = {"backward": "forward", "ortho": "ortho", "forward": "backward"}[_norm(norm, "ihfft")]
    from .functions import conj

    return conj(rfft(a, n, axis, dual))


def _plan(x: Any, s: Any, axes: Any, name: str, last_only: bool = False) -> list[tuple[int, int | None]]:
    """(axis, n) pairs in NumPy's order for the n-dimensional transforms."""
    ndim = np.ndim(_value(x))
    if axes is None:
        axes = list(range(ndim)) if s is None else list(range(ndim - len(s), ndim))
    axes = [_axis(x, a, name) for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axes {axes}")
    if s is not None and len(s) != len(axes):
        raise ValueError(f"{name}: s and axes must have the same length, got {len(s)} and {len(axes)}")
    lengths = [None] * len(axes) if s is None else [_length(v, name) for v in s]
    return list(zip(axes, lengths))


def fftn(a: Any, s: Any = None, axes: Any = None, norm: str | None = None) -> Tensor:
    out = _operand(a)
    for axis, n in reversed(_plan(out, s, axes, "fftn")):
        out = fft(out, n, axis, norm)
    return out


def ifftn(a: Any, s: Any = None, axes: Any = None, norm: str | None = None) -> Tensor:
    out = _operand(a)
    for axis, n in reversed(_plan(out, s, axes, "ifftn")):
        out = ifft(out, n, axis, norm)
    return out


def rfftn(a: Any, s: Any = None, axes: Any = None, norm: str | None = None) -> Tensor:
    out = _operand(a)
    plan = _plan(out, s, axes, "rfftn")
    axis, n = plan[-1]
    out = rfft(out, n, axis, norm)  # the real transform on the last axis, then complex ones
    for axis, n in reversed(plan[:-1]):
        out = fft(out, n, axis, norm)
    return out


def irfftn(a: Any, s: Any = None, axes: Any = None, norm: str | None = None) -> Tensor:
    out = _operand(a)
    plan = _plan(out, s, axes, "irfftn")
    for axis, n in plan[:-1]:
        out = ifft(out, n, axis, norm)
    axis, n = plan[-1]
    return irfft(out, n, axis, norm)


def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None) -> Tensor:
    return fftn(a, s, axes, norm)


def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None) -> Tensor:
    return ifftn(a, s, axes, norm)


def rfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None) -> Tensor:
    return rfftn(a, s, axes, norm)


def irfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None) -> Tensor:
    return irfftn(a, s, axes, norm)


def _shift(x: Any, axes: Any, inverse: bool) -> Tensor:
    x = _operand(x)
    if type(x) is not Tensor:
        x = Tensor._from_op(np.asarray(x), None)
    shape = np.shape(_value(x))
    axes = list(range(len(shape))) if axes is None else [axes] if isinstance(axes, int) else list(axes)
    shifts = [(-(shape[a] // 2) if inverse else shape[a] // 2) for a in axes]
    return roll(x, tuple(shifts), axis=tuple(axes))


def fftshift(x: Any, axes: Any = None) -> Tensor:
    """The zero-frequency term moved to the middle (a roll: its derivative rolls back)."""
    return _shift(x, axes, inverse=False)


def ifftshift(x: Any, axes: Any = None) -> Tensor:
    return _shift(x, axes, inverse=True)


fftfreq = np.fft.fftfreq  # sample frequencies: numbers, not functions of tensors
rfftfreq = np.fft.rfftfreq

for _name, _accepted in {
    "fft": ("n", "axis", "norm"),
    "ifft": ("n", "axis", "norm"),
    "rfft": ("n", "axis", "norm"),
    "irfft": ("n", "axis", "norm"),
    "hfft": ("n", "axis", "norm"),
    "ihfft": ("n", "axis", "norm"),
    "fftn": ("s", "axes", "norm"),
    "ifftn": ("s", "axes", "norm"),
    "rfftn": ("s", "axes", "norm"),
    "irfftn": ("s", "axes", "norm"),
    "fft2": ("s", "axes", "norm"),
    "ifft2": ("s", "axes", "norm"),
    "rfft2": ("s", "axes", "norm"),
    "irfft2": ("s", "axes", "norm"),
    "fftshift": ("axes",),
    "ifftshift": ("axes",),
}.items():
    register_numpy(getattr(np.fft, _name), globals()[_name], *_accepted)

__all__ = [
    "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
    "hfft", "ihfft", "fftshift", "ifftshift", "fftfreq", "rfftfreq",
]  # fmt: skip
