"""autograd.numpy: NumPy's names, each answered by chainrule's function of that name where chainrule has one,
by NumPy's otherwise (NumPy's functions hand tensors to chainrule through its dispatch where it implements them)."""

import numpy as _np

import chainrule as _cr

from . import (  # noqa: F401
    fft,  # noqa: F401
    linalg,
    random,
)

# chainrule names that differ from NumPy's, or NumPy names whose chainrule version has another name
_RENAMED = {"array": _cr.array, "asarray": _cr.array, "concatenate": _cr.concatenate, "r_": _cr.r_, "c_": _cr.c_}
# NumPy names that chainrule also uses for other things (its own creation functions take no NumPy dtypes first)
_NUMPY_FIRST = {"zeros", "ones", "zeros_like", "ones_like", "ndarray", "dtype", "linalg", "random", "fft", "pi", "e"}


def make_diagonal(D, offset=0, axis1=-1, axis2=-2):
    """autograd's own function (not NumPy's): matrices with ``D`` on the diagonal of the last two axes. The one
    name here that is not a renaming: three chainrule operations."""
    if offset != 0 or {axis1 % (D.ndim + 1), axis2 % (D.ndim + 1)} != {D.ndim - 1, D.ndim}:
        raise NotImplementedError("make_diagonal: only offset 0 on the last two axes")
    return _cr.expand_dims(D, -1) * _np.eye(D.shape[-1])


def __getattr__(name):
    if name in _RENAMED:
        return _RENAMED[name]
    if name not in _NUMPY_FIRST and hasattr(_cr, name) and callable(getattr(_cr, name)):
        return getattr(_cr, name)
    return getattr(_np, name)
