"""The optimizers autograd's example programs call (``grad(x, i)`` a gradient function, ``x`` any tree)."""

import numpy as onp

import chainrule as cr


def _flat(grad, x0):
    flat, unravel = cr.ravel_pytree(x0)

    def flat_grad(x, i):
        return cr.ravel_pytree(grad(unravel(x), i))[0].numpy()

    return flat.numpy(), unravel, flat_grad


def sgd(grad, x0, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    x, unravel, g = _flat(grad, x0)
    velocity = onp.zeros(len(x))
    for i in range(num_iters):
        gradient = g(x, i)
        if callback:
            callback(unravel(x), i, unravel(gradient))
        velocity = mass * velocity - (1.0 - mass) * gradient
        x = x + step_size * velocity
    return unravel(x)


def rmsprop(grad, x0, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=10**-8):
    x, unravel, g = _flat(grad, x0)
    average = onp.ones(len(x))
    for i in range(num_iters):
        gradient = g(x, i)
        if callback:
            callback(unravel(x), i, unravel(gradient))
        average = average * gamma + gradient**2 * (1 - gamma)
        x = x - step_size * gradient / (onp.sqrt(average) + eps)
    return unravel(x)


def adam(grad, x0, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=10**-8):
    x, unravel, g = _flat(grad, x0)
    m, v = onp.zeros(len(x)), onp.zeros(len(x))
    for i in range(num_iters):
        gradient = g(x, i)
        if callback:
            callback(unravel(x), i, unravel(gradient))
        m = (1 - b1) * gradient + b1 * m
        v = (1 - b2) * gradient**2 + b2 * v
        m_hat = m / (1 - b1 ** (i + 1))
        v_hat = v / (1 - b2 ** (i + 1))
        x = x - step_size * m_hat / (onp.sqrt(v_hat) + eps)
    return unravel(x)
