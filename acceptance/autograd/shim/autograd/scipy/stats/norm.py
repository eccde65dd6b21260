"""autograd.scipy.stats.norm is chainrule.scipy.stats.norm."""

from ._distribution import forward

__getattr__ = forward(__name__)
