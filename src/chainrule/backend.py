"""The array module of a computation comes from its data, never from a fixed import in the rules.

NumPy is the only backend today; an array type from another module (CuPy, say) resolves to that module, so a
new backend needs a line here, not a change to any derivative rule.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy

_PYTHON_SCALARS = (bool, int, float, complex)
# NumPy's scalar types (what arithmetic on 0-d arrays returns): each fixes its own shape () and dtype
SCALAR_TYPES = frozenset(numpy.sctypeDict.values())
_module_of_type: dict[type, ModuleType] = {numpy.ndarray: numpy}


def array_module(*arrays: Any) -> ModuleType:
    """The array module (``numpy``-like namespace) that owns the first array among ``arrays``."""
    for a in arrays:
        kind = type(a)
        module = _module_of_type.get(kind)
        if module is not None:
            return module
        if kind in _PYTHON_SCALARS or a is None:
            continue
        return _register(kind)
    return numpy


def _register(kind: type) -> ModuleType:
    own = getattr(kind, "array_module_of_data", None)
    if own is not None:  # data that names its module itself (vmap's batched values), never cached here
        return own
    if issubclass(kind, (numpy.ndarray, numpy.generic)):
        module = numpy
    else:
        root = kind.__module__.split(".")[0]
        try:
            module = importlib.import_module(root)
        except ImportError:
            module = numpy
        if not hasattr(module, "asarray"):
            module = numpy  # lists, tuples and other Python containers are NumPy's to convert
    if kind not in (list, tuple):
        _module_of_type[kind] = module
    return module


_SPECIAL: dict[tuple[str, str], Any] = {}


def special_function(xp: ModuleType, name: str) -> Any:
    """An elementwise special function (``erf``) for the arrays of ``xp``: NumPy has none, so for NumPy it is
    Python's exact ``math`` function applied elementwise; another backend brings its own (CuPy: cupyx)."""
    key = (xp.__name__, name)
    if key not in _SPECIAL:
        if xp is numpy:
            import math

            vectorised = numpy.frompyfunc(getattr(math, name), 1, 1)

            def apply(x: Any) -> Any:
                x = numpy.asarray(x)
                if x.dtype.kind == "c":
                    from .errors import DtypeError

                    raise DtypeError(
                        f"{name}: chainrule's own {name} takes real numbers; for complex ones use "
                        f"cr.scipy.special.{name} (the scipy extra)"
                    )
                dtype = x.dtype if x.dtype.kind == "f" else numpy.dtype(numpy.float64)
                out = vectorised(x)
                return dtype.type(out) if x.ndim == 0 else out.astype(dtype)

            _SPECIAL[key] = apply
        else:
            special = importlib.import_module(f"{xp.__name__}x.scipy.special")
            _SPECIAL[key] = getattr(special, name)
    return _SPECIAL[key]


def triangular_solver(xp: ModuleType) -> Any:
    """``solve(a, b, lower)``: x with a x = b for triangular matrices a (..., n, n) and b (..., n, k), reading only
    the triangle. NumPy has no triangular solve of its own, so it is NumPy's general solve on the triangle.
    (SciPy's LAPACK one was tried: with its own copy of OpenBLAS beside NumPy's, the two thread pools take turns
    on the cores and the whole backward pass of cholesky ran twice as slow.)"""
    return lambda a, b, lower: xp.linalg.solve(xp.tril(a) if lower else xp.triu(a), b)
