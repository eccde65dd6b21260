"""autograd.misc.flatten.flatten is chainrule.ravel_pytree: one flat vector and the function that rebuilds."""

import chainrule as _cr


def flatten(value):
    return _cr.ravel_pytree(value)
