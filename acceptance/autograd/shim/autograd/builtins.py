"""autograd.builtins: Python's containers (chainrule's transforms take them as they are)."""

import builtins as _builtins

import numpy as _np

import chainrule as _cr

dict = _builtins.dict


def isinstance(value, kinds):
    """Python's isinstance, with a tensor counted as the ndarray it stands for."""
    if type(value) is _cr.Tensor and _np.ndarray in (kinds if _builtins.isinstance(kinds, tuple) else (kinds,)):
        return True
    return _builtins.isinstance(value, kinds)


list = _builtins.list
tuple = _builtins.tuple
