"""autograd.test_util: derivatives against central differences, autograd's way (random directions, both modes,
higher orders through the derivative functions themselves), computed with chainrule's transforms."""

import itertools

import numpy as onp

import chainrule as cr

from .wrap_util import unary_to_nary

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6


def scalar_close(a, b):
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


def _leaves(x):
    leaves, spec = cr.tree_flatten(x)
    return [onp.asarray(v.detach().numpy() if type(v) is cr.Tensor else v) for v in leaves], spec


def _random_like(x):
    leaves, spec = _leaves(x)
    out = []
    for v in leaves:
        r = onp.asarray(onp.random.randn(*v.shape))
        if onp.iscomplexobj(v):
            r = r + 1j * onp.asarray(onp.random.randn(*v.shape))
        out.append(r if v.shape else r[()])
    return cr.tree_unflatten(spec, out)


def _combine(x, v, scale):
    xs, spec = _leaves(x)
    vs, _ = _leaves(v)
    return cr.tree_unflatten(spec, [a + scale * b for a, b in zip(xs, vs)])


def _inner(a, b):
    """Re Σ conj(a)·b over every leaf: autograd's inner product of its vector spaces."""
    la, _ = _leaves(a)
    lb, _ = _leaves(b)
    return sum(float(onp.real(onp.sum(onp.conj(x) * y))) for x, y in zip(la, lb))


def _numerical_jvp(f, x):
    def jvp(v):
        plus = f(_combine(x, v, EPS / 2))
        minus = f(_combine(x, v, -EPS / 2))
        pl, spec = _leaves(plus)
        mi, _ = _leaves(minus)
        return cr.tree_unflatten(spec, [(a - b) / EPS for a, b in zip(pl, mi)])

    return jvp


def _conj(x):
    leaves, spec = _leaves(x)
    return cr.tree_unflatten(spec, [onp.conj(v) for v in leaves])


def check_vjp(f, x):
    y, pullback = cr.vjp(f, x)
    x_v, y_v = _random_like(x), _random_like(y)
    exact = _inner(x_v, _conj(pullback(_conj(y_v))[0]))
    numeric = _inner(y_v, _numerical_jvp(f, x)(x_v))
    assert scalar_close(numeric, exact), f"VJP check failed: analytic {exact} numeric {numeric}"


def check_jvp(f, x):
    v = _random_like(x)
    check_equivalent(cr.jvp(f, (x,), (v,))[1], _numerical_jvp(f, x)(v))


def check_equivalent(x, y):
    v = _random_like(x)
    assert scalar_close(_inner(x, v), _inner(y, v)), f"Value mismatch:\nx: {x}\ny: {y}"


@unary_to_nary
def check_grads(f, x, modes=["fwd", "rev"], order=2):  # noqa: B006  (autograd's signature)
    assert all(m in ["fwd", "rev"] for m in modes)
    if "fwd" in modes:
        check_jvp(f, x)
        if order > 1:

            def jvp_f(x, v):
                return cr.jvp(f, (x,), (v,))[1]

            check_grads(jvp_f, (0, 1), modes, order=order - 1)(x, _random_like(x))
    if "rev" in modes:
        check_vjp(f, x)
        if order > 1:

            def vjp_f(x, v):
                return cr.vjp(f, x)[1](v)[0]

            check_grads(vjp_f, (0, 1), modes, order=order - 1)(x, _random_like(f(x)))


def combo_check(fun, *args, **kwargs):
    def _combo_check(*arg_values, **kwarg_values):
        pairs = [[(k, x) for x in xs] for k, xs in kwarg_values.items()]
        for _args in itertools.product(*arg_values):
            for _kwargs in itertools.product(*pairs):
                check_grads(fun, *args, **kwargs)(*_args, **dict(_kwargs))

    return _combo_check
