"""autograd.scipy.stats.poisson is chainrule.scipy.stats.poisson."""

from ._distribution import forward

__getattr__ = forward(__name__)
