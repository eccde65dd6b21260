"""``cr.scipy.signal``: ``convolve`` and ``correlate`` of n-dimensional tensors, modes "full", "same" and
"valid" as SciPy's, differentiable in both arguments (one primitive, the full convolution; the modes cut it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functions as F
from ..ops import signal as _ops
from ..tensor import Tensor
from .special import _tensor

MODES = ("full", "same", "valid")


def convolve(in1: Any, in2: Any, mode: str = "full", *, axes: Any = None, dot_axes: Any = ((), ())) -> Tensor:
    """SciPy's convolve; beyond SciPy (as HIPS autograd's), ``axes=(axes_of_in1, axes_of_in2)`` pairs the axes to
    convolve along and ``dot_axes`` pairs axes to sum over; the remaining axes of in1, then of in2, come first in
    the result (an outer product), then the convolved axes."""
    a, b = _tensor(in1), _tensor(in2)
    if mode not in MODES:
        raise ValueError(f"convolve: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if a.size == 0 or b.size == 0:
        raise ValueError("convolve: in1 and in2 must not be empty")
    if axes is None and not any(dot_axes):
        if a.ndim != b.ndim:
            raise ValueError(
                f"convolve: in1 and in2 must have the same number of axes, got shapes {a.shape}, {b.shape} "
                "(or say which to convolve with axes=)"
            )
        return _cut(_ops.convolve(a, b), a.shape, b.shape, mode, 0)
    (a_conv, b_conv), (a_dot, b_dot) = _pairs(a, b, axes, dot_axes)
    a_rest = [i for i in range(a.ndim) if i not in a_conv + a_dot]
    b_rest = [i for i in range(b.ndim) if i not in b_conv + b_dot]
    dots = [a.shape[i] for i in a_dot]
    # one full n-d convolution: the other axes meet size-1 axes (an outer product), the dot axes meet their
    # reversed partners (the middle of a full convolution is the sum of products)
    a_moved = F.reshape(
        F.transpose(a, a_rest + a_dot + a_conv),
        [a.shape[i] for i in a_rest] + [1] * len(b_rest) + dots + [a.shape[i] for i in a_conv],
    )
    b_moved = F.transpose(b, b_rest + b_dot + b_conv)
    b_moved = b_moved[(slice(None),) * len(b_rest) + (slice(None, None, -1),) * len(b_dot)]
    b_moved = F.reshape(b_moved, [1] * len(a_rest) + list(b_moved.shape))
    full = _ops.convolve(a_moved, b_moved)
    outer = len(a_rest) + len(b_rest)
    full = full[(slice(None),) * outer + tuple(n - 1 for n in dots)]
    return _cut(full, [a.shape[i] for i in a_conv], [b.shape[i] for i in b_conv], mode, outer)


def _pairs(a: Tensor, b: Tensor, axes: Any, dot_axes: Any) -> tuple:
    """The convolved and summed axes of each input, checked."""
    a_dot, b_dot = ([_axis(i, t) for i in part] for part, t in zip(dot_axes, (a, b)))
    if axes is None:
        axes = ([i for i in range(a.ndim) if i not in a_dot], [i for i in range(b.ndim) if i not in b_dot])
    a_conv, b_conv = ([_axis(i, t) for i in part] for part, t in zip(axes, (a, b)))
    for name, (left, right) in (("axes", (a_conv, b_conv)), ("dot_axes", (a_dot, b_dot))):
        if len(left) != len(right):
            raise ValueError(f"convolve: {name} must pair as many axes of in1 as of in2, got {left} and {right}")
    for used, which in ((a_conv + a_dot, "in1"), (b_conv + b_dot, "in2")):
        if len(set(used)) != len(used):
            raise ValueError(f"convolve: an axis of {which} is used twice in axes and dot_axes: {used}")
    for i, j in zip(a_dot, b_dot):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"convolve: dot_axes pair axis {i} of in1 (size {a.shape[i]}) with axis {j} of in2 "
                f"(size {b.shape[j]}); they must have the same size"
            )
    return (a_conv, b_conv), (a_dot, b_dot)


def _axis(i: int, t: Tensor) -> int:
    if not -t.ndim <= i < t.ndim:
        raise ValueError(f"convolve: axis {i} is out of range for an input of shape {t.shape}")
    return i % t.ndim


def _cut(full: Tensor, a_shape: Any, b_shape: Any, mode: str, skip: int) -> Tensor:
    """The mode's window of the full convolution along its last axes (the first ``skip`` axes are kept)."""
    keep = (slice(None),) * skip
    if mode == "full":
        return full
    if mode == "same":  # the middle of the full result, the size of in1, as SciPy centres it
        return full[keep + tuple(slice((n - 1) // 2, (n - 1) // 2 + m) for m, n in zip(a_shape, b_shape))]
    if not (all(m >= n for m, n in zip(a_shape, b_shape)) or all(m <= n for m, n in zip(a_shape, b_shape))):
        raise ValueError(
            "convolve: for mode='valid' one input must be at least as large as the other in every convolved axis, "
            f"got {tuple(a_shape)} and {tuple(b_shape)}"
        )
    return full[keep + tuple(slice(min(m, n) - 1, max(m, n)) for m, n in zip(a_shape, b_shape))]


def correlate(in1: Any, in2: Any, mode: str = "full") -> Tensor:
    """Cross-correlation: convolve with in2 reversed (and conjugated, for complex in2), as SciPy."""
    b = _tensor(in2)
    reversed_b = b[(slice(None, None, -1),) * b.ndim]
    if np.iscomplexobj(b.data):
        reversed_b = F.conj(reversed_b)
    return convolve(in1, reversed_b, mode)


__all__ = ["convolve", "correlate"]
