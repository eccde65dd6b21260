"""autograd.numpy.linalg: chainrule's cr.linalg, NumPy's for the rest."""

import numpy.linalg as _np_linalg

import chainrule as _cr

# autograd's own helper names in this module
_dot = _cr.matmul


def T(x):
    return _cr.swapaxes(x, -1, -2)


def __getattr__(name):
    if hasattr(_cr.linalg, name):
        return getattr(_cr.linalg, name)
    return getattr(_np_linalg, name)
