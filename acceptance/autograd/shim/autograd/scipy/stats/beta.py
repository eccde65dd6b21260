"""autograd.scipy.stats.beta is chainrule.scipy.stats.beta."""

from ._distribution import forward

__getattr__ = forward(__name__)
