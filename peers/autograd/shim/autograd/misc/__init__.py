"""autograd.misc: flatten and the optimizers (see each module)."""

from .flatten import flatten  # noqa: F401
