"""autograd.scipy.stats.dirichlet is chainrule.scipy.stats.dirichlet."""

from ._distribution import forward

__getattr__ = forward(__name__)
