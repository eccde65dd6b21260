"""autograd's differential operators in terms of chainrule's transforms."""

import inspect
from collections import OrderedDict

import numpy as onp

import chainrule as cr

from .wrap_util import unary_to_nary


def _ones_like(value):
    leaves, spec = cr.tree_flatten(value)
    return cr.tree_unflatten(spec, [onp.ones(onp.shape(onp.asarray(_raw(v))), _dtype(v)) for v in leaves])


def _zeros_like(value):
    leaves, spec = cr.tree_flatten(value)
    return cr.tree_unflatten(spec, [onp.zeros(onp.shape(onp.asarray(_raw(v))), _dtype(v)) for v in leaves])


def _raw(v):
    return v.detach().numpy() if type(v) is cr.Tensor else v


def _dtype(v):
    kind = onp.asarray(_raw(v)).dtype
    return kind if kind.kind in "fc" else onp.float64


def _vjp(fun, x):
    ans, pullback = cr.vjp(fun, x)
    return (lambda g: pullback(g)[0]), ans


def _jvp(fun, x):
    return lambda v: cr.jvp(fun, (x,), (v,))


make_vjp = unary_to_nary(_vjp)
make_jvp = unary_to_nary(_jvp)


def _size(value):
    return sum(int(onp.size(_raw(v))) for v in cr.tree_flatten(value)[0])


def _as_autograd_returns(result):
    """autograd hands back NumPy arrays when nothing outside is being differentiated (SciPy's compiled optimisers
    need them); a result that an outer derivative still follows (a closure over its variable) stays a tensor."""
    out, spec = cr.tree_flatten(result)
    for leaf in out:
        if type(leaf) is cr.Tensor and (leaf.requires_grad or leaf._tangents):
            return result
    return cr.tree_unflatten(spec, [v.numpy() if type(v) is cr.Tensor else v for v in out])


@unary_to_nary
def grad(fun, x):
    return _as_autograd_returns(cr.grad(fun)(x))


@unary_to_nary
def elementwise_grad(fun, x):
    vjp, ans = _vjp(fun, x)
    return vjp(_ones_like(ans))


@unary_to_nary
def deriv(fun, x):
    return _jvp(fun, x)(_ones_like(x))[1]


@unary_to_nary
def jacobian(fun, x):
    return cr.jacobian(fun)(x)


@unary_to_nary
def holomorphic_grad(fun, x):
    return cr.grad(fun, holomorphic=True)(x)


def grad_named(fun, argname):
    names = list(inspect.signature(fun).parameters)
    return grad(fun, names.index(argname))


@unary_to_nary
def hessian(fun, x):
    return cr.hessian(fun)(x)


@unary_to_nary
def make_hvp(fun, x):
    return _vjp(grad(fun), x)


def hessian_tensor_product(fun, argnum=0):
    def product(*args):
        *arguments, v = args
        return cr.vjp(lambda x: grad(fun)(*arguments[:argnum], x, *arguments[argnum + 1 :]), arguments[argnum])[1](v)[0]

    return product


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun, argnum=0):
    """The Jacobian of ``v`` contracted with ``fun``'s output over ``v``'s axes (the leading ones)."""

    def product(*args):
        *arguments, v = args
        contracted = lambda x: cr.tensordot(v, fun(*arguments[:argnum], x, *arguments[argnum + 1 :]), onp.ndim(v))  # noqa: E731
        return cr.jacobian(contracted)(arguments[argnum])

    return product


vector_jacobian_product = tensor_jacobian_product


@unary_to_nary
def make_jvp_reversemode(fun, x):
    vjp, y = _vjp(fun, x)
    vjp_vjp, _ = _vjp(vjp, _zeros_like(y))
    return vjp_vjp


def make_ggnvp(f, g=lambda x: 1.0 / 2 * cr.sum(x**2, axis=-1), f_argnum=0):
    @unary_to_nary
    def _make_ggnvp(f, x):
        f_vjp, f_x = _vjp(f, x)
        g_hvp, grad_g_x = _vjp(grad(g), f_x)
        f_jvp, _ = _vjp(f_vjp, _zeros_like(grad_g_x))

        def ggnvp(v):
            return f_vjp(g_hvp(f_jvp(v)))

        return ggnvp

    return _make_ggnvp(f, f_argnum)


@unary_to_nary
def value_and_grad(fun, x):
    return _as_autograd_returns(cr.value_and_grad(fun)(x))


@unary_to_nary
def grad_and_aux(fun, x):
    return cr.grad(fun, has_aux=True)(x)


def multigrad_dict(fun):
    signature = inspect.signature(fun)

    def gradfun(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        names = list(bound.arguments)

        def of_dict(values):
            return fun(*[values[name] for name in names])

        grads = grad(of_dict)(dict(bound.arguments))
        return OrderedDict((name, grads[name]) for name in names)

    return gradfun


def checkpoint(fun):
    return cr.checkpoint(fun)
