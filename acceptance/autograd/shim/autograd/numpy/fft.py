"""autograd.numpy.fft: NumPy's functions, which hand chainrule's tensors to `chainrule.fft` through NumPy's dispatch."""

from numpy.fft import *  # noqa: F403
