"""autograd.numpy: NumPy's names, each answered by chainrule's function of that name where chainrule has one,
by NumPy's otherwise (NumPy's functions hand tensors to chainrule through its dispatch where it implements them)."""

import numpy as _np

import chainrule as _cr

from . import linalg, random  # noqa: F401
from . import fft  # noqa: F401

# chainrule names that differ from NumPy's, or NumPy names whose chainrule version has another name
_RENAMED = {"array": _cr.array, "asarray": _cr.array, "concatenate": _cr.concatenate}
# NumPy names that chainrule also uses for other things (its own creation functions take no NumPy dtypes first)
_NUMPY_FIRST = {"zeros", "ones", "zeros_like", "ones_like", "ndarray", "dtype", "linalg", "random", "fft", "pi", "e"}


def __getattr__(name):
    if name in _RENAMED:
        return _RENAMED[name]
    if name not in _NUMPY_FIRST and hasattr(_cr, name) and callable(getattr(_cr, name)):
        return getattr(_cr, name)
    return getattr(_np, name)
