"""autograd.numpy.fft: NumPy's (chainrule's FFT is a later issue)."""

from numpy.fft import *  # noqa: F403
