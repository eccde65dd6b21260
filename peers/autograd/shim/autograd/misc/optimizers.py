"""autograd's functional optimizers, ``adam(grad, x0, callback, num_iters, step_size, b1, b2, eps)`` and
``sgd(grad, x0, callback, num_iters, step_size, mass)``, driven by chainrule.optim's Adam and SGD.

chainrule has no functional optimizers, only PyTorch-style classes: this module is the loop around them (ask
``grad(x, i)``, hand ``callback(x, i, g)`` the parameters and gradient as autograd does, then ``step()``); the
update rules are chainrule's. Parameters may be nested tuples, lists and dicts, as in autograd. SGD's ``mass``
is PyTorch's ``momentum`` with ``dampening`` equal to it; PyTorch's rule starts the momentum buffer at the first
gradient. chainrule has no RMSprop, so ``rmsprop`` and ``adagrad`` are not mapped.
"""

import numpy as np

import chainrule as _cr

from .._missing import missing


def _run(make_optimizer, grad, x0, callback, num_iters):
    leaves, spec = _cr.tree_flatten(x0)
    params = [_cr.tensor(np.array(leaf, dtype=np.float64), requires_grad=True) for leaf in leaves]
    optimizer = make_optimizer(params)

    def current():
        return _cr.tree_unflatten(spec, [p.detach().numpy().copy() for p in params])

    for i in range(num_iters):
        x = current()
        g = grad(x, i)
        for p, gi in zip(params, _cr.tree_flatten(g)[0]):
            p.grad = gi if isinstance(gi, _cr.Tensor) else _cr.tensor(np.asarray(gi, dtype=np.float64))
        if callback:
            callback(x, i, g)
        optimizer.step()
    return current()


def adam(grad, x0, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=10**-8):
    return _run(lambda ps: _cr.optim.Adam(ps, lr=step_size, betas=(b1, b2), eps=eps), grad, x0, callback, num_iters)


def sgd(grad, x0, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    return _run(
        lambda ps: _cr.optim.SGD(ps, lr=step_size, momentum=mass, dampening=mass), grad, x0, callback, num_iters
    )


__getattr__ = missing(__name__)
