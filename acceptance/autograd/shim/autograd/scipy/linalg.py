"""autograd.scipy.linalg is chainrule.scipy.linalg."""

import chainrule.scipy.linalg as _linalg

from .._missing import missing

__getattr__ = missing(__name__, lambda: _linalg)
