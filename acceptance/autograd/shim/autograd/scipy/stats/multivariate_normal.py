"""autograd.scipy.stats.multivariate_normal is chainrule.scipy.stats.multivariate_normal."""

from ._distribution import forward

__getattr__ = forward(__name__)
