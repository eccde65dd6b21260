"""autograd.numpy.linalg: chainrule's cr.linalg, NumPy's for the rest."""

import numpy.linalg as _np_linalg

import chainrule as _cr


def __getattr__(name):
    if hasattr(_cr.linalg, name):
        return getattr(_cr.linalg, name)
    return getattr(_np_linalg, name)
