"""autograd.scipy.signal is chainrule.scipy.signal."""

import chainrule.scipy.signal as _signal

from .._missing import missing

__getattr__ = missing(__name__, lambda: _signal)
