"""autograd.scipy.stats.t is chainrule.scipy.stats.t."""

from ._distribution import forward

__getattr__ = forward(__name__)
