"""autograd.misc.flatten."""

from . import flatten  # noqa: F401
