"""autograd.scipy.special is chainrule.scipy.special."""

import chainrule.scipy.special as _special

from .._missing import missing

__getattr__ = missing(__name__, lambda: _special)
