"""autograd.misc: flatten as chainrule's ravel_pytree; optimizers as autograd's examples use them."""

import chainrule as cr

from .optimizers import adam, rmsprop, sgd  # noqa: F401


def const_graph(fun, *args, **kwargs):
    """autograd's trace-once-and-replay; chainrule's is cr.jit (issue 12), not there yet."""
    raise NotImplementedError("const_graph: trace and replay is chainrule's cr.jit (issue 12), not built yet")


def flatten(value):
    flat, unravel = cr.ravel_pytree(value)
    return flat.numpy(), unravel
