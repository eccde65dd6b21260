"""autograd.scipy: chainrule.scipy's modules under autograd's names."""

from . import integrate, linalg, signal, special, stats  # noqa: F401
