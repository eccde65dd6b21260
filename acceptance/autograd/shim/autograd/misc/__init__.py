"""autograd.misc: flatten as chainrule's ravel_pytree; optimizers as autograd's examples use them."""

import chainrule as cr

from .optimizers import adam, rmsprop, sgd  # noqa: F401


def flatten(value):
    flat, unravel = cr.ravel_pytree(value)
    return flat.numpy(), unravel
