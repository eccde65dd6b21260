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


def convolve(in1: Any, in2: Any, mode: str = "full") -> Tensor:
    a, b = _tensor(in1), _tensor(in2)
    if mode not in MODES:
        raise ValueError(f"convolve: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if a.ndim != b.ndim:
        raise ValueError(f"convolve: in1 and in2 must have the same number of axes, got shapes {a.shape}, {b.shape}")
    if a.size == 0 or b.size == 0:
        raise ValueError("convolve: in1 and in2 must not be empty")
    if mode == "valid":
        if all(m <= n for m, n in zip(a.shape, b.shape)) and a.shape != b.shape:
            a, b = b, a  # convolution commutes: the larger one is the one slid over
        elif not all(m >= n for m, n in zip(a.shape, b.shape)):
            raise ValueError(
                f"convolve: for mode='valid' one input must be at least as large as the other in every axis, "
                f"got shapes {a.shape} and {b.shape}"
            )
    full = _ops.convolve(a, b)
    if mode == "full":
        return full
    if mode == "same":  # the middle of the full result, the size of in1, as SciPy centres it
        start = [(full_n - m) // 2 for full_n, m in zip(full.shape, a.shape)]
        return full[tuple(slice(s, s + m) for s, m in zip(start, a.shape))]
    return full[tuple(slice(n - 1, m) for m, n in zip(a.shape, b.shape))]


def correlate(in1: Any, in2: Any, mode: str = "full") -> Tensor:
    """Cross-correlation: convolve with in2 reversed (and conjugated, for complex in2), as SciPy."""
    b = _tensor(in2)
    reversed_b = b[(slice(None, None, -1),) * b.ndim]
    if np.iscomplexobj(b.data):
        reversed_b = F.conj(reversed_b)
    return convolve(in1, reversed_b, mode)


__all__ = ["convolve", "correlate"]
