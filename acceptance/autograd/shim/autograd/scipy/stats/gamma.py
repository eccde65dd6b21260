"""autograd.scipy.stats.gamma is chainrule.scipy.stats.gamma."""

from ._distribution import forward

__getattr__ = forward(__name__)
