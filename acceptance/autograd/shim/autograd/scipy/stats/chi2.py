"""autograd.scipy.stats.chi2 is chainrule.scipy.stats.chi2."""

from ._distribution import forward

__getattr__ = forward(__name__)
