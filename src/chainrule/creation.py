"""Making tensors: from data, or filled with zeros or ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backend import array_module
from .errors import DtypeError, ShapeError
from .tensor import Tensor


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (a number, nested list, NumPy array or Tensor).

    Python floats give float64, Python ints int64; ``dtype`` overrides. Only floating-point tensors can
    require grad.
    """
    if type(data) is Tensor:
        data = data.data
    xp = array_module(data)
    try:
        array = xp.array(data, dtype=dtype, copy=True)
    except (ValueError, TypeError) as error:
        raise ShapeError(
            f"tensor(): cannot make an array of {type(data).__name__} data ({error}); nested lists must be "
            "rectangular and hold numbers only"
        ) from error
    if array.dtype.kind not in "biufc":
        raise DtypeError(f"tensor(): data must be numeric, got dtype {array.dtype} from {type(data).__name__} data")
    return Tensor(array, requires_grad=requires_grad, name=name)


def zeros(shape: int | Sequence[int], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(shape: int | Sequence[int], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    data = t.data if type(t) is Tensor else np.asarray(t)
    return Tensor(array_module(data).zeros_like(data, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    data = t.data if type(t) is Tensor else np.asarray(t)
    return Tensor(array_module(data).ones_like(data, dtype=dtype), requires_grad=requires_grad)
