"""Function transforms and forward mode: every primitive's forward rule against finite differences and
against its reverse rule (the dot-product identity <u, J v> = <J^T u, v>), composition to any order, no
perturbation confusion, nested structures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr
from chainrule import ops
from chainrule.nn import functional as F

rng = np.random.default_rng(0)


def positive(shape):
    return rng.uniform(0.5, 2.0, shape)


def normal(shape):
    return rng.standard_normal(shape)


def distinct(shape):
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.3).reshape(shape) - n * 0.1


def away(shape):
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# (function of tensors, input makers): one entry per primitive, reached through the public API
CASES = {
    "add": (cr.add, [normal, normal]),
    "subtract": (cr.subtract, [normal, normal]),
    "multiply": (cr.multiply, [normal, normal]),
    "divide": (cr.divide, [normal, away]),
    "negative": (cr.negative, [normal]),
    "power": (cr.power, [positive, normal]),
    "square": (cr.square, [normal]),
    "sqrt": (cr.sqrt, [positive]),
    "exp": (cr.exp, [normal]),
    "expm1": (cr.expm1, [normal]),
    "log": (cr.log, [positive]),
    "log1p": (cr.log1p, [positive]),
    "sin": (cr.sin, [normal]),
    "cos": (cr.cos, [normal]),
    "tan": (cr.tan, [lambda s: rng.uniform(-1, 1, s)]),
    "arcsin": (cr.arcsin, [lambda s: rng.uniform(-0.8, 0.8, s)]),
    "arccos": (cr.arccos, [lambda s: rng.uniform(-0.8, 0.8, s)]),
    "arctan": (cr.arctan, [normal]),
    "sinh": (cr.sinh, [normal]),
    "cosh": (cr.cosh, [normal]),
    "tanh": (cr.tanh, [normal]),
    "sigmoid": (cr.sigmoid, [normal]),
    "softplus": (cr.softplus, [normal]),
    "relu": (cr.relu, [away]),
    "abs": (cr.abs, [away]),
    "maximum": (cr.maximum, [distinct, lambda s: distinct(s) + 0.1]),
    "minimum": (cr.minimum, [distinct, lambda s: distinct(s) + 0.1]),
    "clip": (lambda x: cr.clip(x, -0.5, 0.5), [lambda s: away(s) * 0.45 + np.sign(away(s)) * 0.0]),
    "where": (lambda x, y: cr.where(np.arange(12).reshape(3, 4) % 2 == 0, x, y), [normal, normal]),
    "cast": (lambda x: cr.tensor(1.0, dtype=np.float32) * 0 + x, [normal]),
    "sum": (lambda x: cr.sum(x, axis=1), [normal]),
    "max": (lambda x: cr.max(x, axis=0, keepdims=True), [distinct]),
    "min": (lambda x: cr.min(x, axis=(0, 1)), [distinct]),
    "prod": (lambda x: cr.prod(x, axis=-1), [away]),
    "logsumexp": (lambda x: cr.logsumexp(x, axis=1), [normal]),
    "softmax": (lambda x: cr.softmax(x, axis=0), [normal]),
    "log_softmax": (lambda x: cr.log_softmax(x, axis=1), [normal]),
    "reshape": (lambda x: cr.reshape(x, (4, 3)), [normal]),
    "transpose": (cr.transpose, [normal]),
    "broadcast_to": (lambda x: cr.broadcast_to(x, (2, 3, 4)), [normal]),
    "getitem": (lambda x: x[np.array([0, 0, 2]), 1:3], [normal]),
    "setitem": (lambda x, y: _set(x, y), [normal, lambda s: rng.standard_normal((3, 2))]),
    "concatenate": (lambda x, y: cr.concatenate([x, y], axis=1), [normal, normal]),
    "matmul": (lambda x, y: x @ cr.transpose(y), [normal, normal]),
    "einsum": (lambda x, y: cr.einsum("ij,kj->ik", x, y), [normal, normal]),
    "erf": (cr.erf, [normal]),
    "arcsinh": (cr.arcsinh, [normal]),
    "sinc": (cr.sinc, [normal]),
    "arccosh": (cr.arccosh, [lambda s: positive(s) + 1.0]),
    "arctanh": (cr.arctanh, [lambda s: rng.uniform(-0.8, 0.8, s)]),
    "exp2": (cr.exp2, [normal]),
    "log2": (cr.log2, [positive]),
    "log10": (cr.log10, [positive]),
    "reciprocal": (cr.reciprocal, [away]),
    "deg2rad": (cr.deg2rad, [normal]),
    "rad2deg": (cr.rad2deg, [normal]),
    "arctan2": (cr.arctan2, [away, away]),
    "hypot": (cr.hypot, [away, away]),
    "logaddexp": (cr.logaddexp, [normal, normal]),
    "logaddexp2": (cr.logaddexp2, [normal, normal]),
    "fmax": (cr.fmax, [distinct, lambda s: distinct(s) + 0.1]),
    "fmin": (cr.fmin, [distinct, lambda s: distinct(s) + 0.1]),
    "linear": (lambda x, y, z: F.linear(x, y, z[0, :3]), [normal, normal, normal]),
    "linear_weight_grad": (lambda x, y: ops.linear_weight_grad(x, y, layout="F"), [normal, normal]),
    "pad": (lambda x: F.pad(x, (1, 2)), [normal]),
    "unfold": (lambda x: F.unfold(x, (2, 3), stride=(1, 2)), [normal]),
    "fold": (lambda x: _fold(x), [normal]),
    "softmax_cross_entropy": (lambda x: F.cross_entropy(x, [0, 3, 1]), [normal]),
}


def _fold(x):
    # (3, 4) read as 3 maps with one 2x2 window each, added back into 3 maps of 2x2
    return ops.fold(cr.reshape(x, (3, 1, 1, 2, 2)), kernel=(2, 2), stride=(1, 1), shape=(3, 2, 2))


def _set(x, y):
    out = cr.multiply(x, 1.0)
    out[:, 1:3] = y
    return out


def _inputs(name):
    fn, makers = CASES[name]
    return fn, [maker((3, 4)) for maker in makers]


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_rule_matches_finite_differences_and_reverse_rule(name):
    fn, xs = _inputs(name)
    vs = [rng.standard_normal(x.shape) for x in xs]
    out, jv = cr.jvp(fn, tuple(xs), tuple(vs))
    eps = 1e-6
    plus = fn(*[cr.tensor(x + eps * v) for x, v in zip(xs, vs)]).data
    minus = fn(*[cr.tensor(x - eps * v) for x, v in zip(xs, vs)]).data
    np.testing.assert_allclose(jv.data, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-7)
    u = rng.standard_normal(out.shape)
    _, pullback = cr.vjp(fn, *xs)
    jtu = pullback(u)
    left = float(np.sum(u * jv.data))
    right = sum(float(np.sum(g.data * v)) for g, v in zip(jtu, vs))
    assert left == pytest.approx(right, rel=1e-10, abs=1e-10)


@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 99))
def test_dot_product_identity_over_broadcast_shapes(shapes, seed):
    r = np.random.default_rng(seed)
    x, y = r.uniform(0.5, 2, shapes.input_shapes[0]), r.standard_normal(shapes.input_shapes[1])

    def fn(a, b):
        return cr.tanh(a * b) + a**b / (1 + b * b)

    vx, vy = r.standard_normal(x.shape), r.standard_normal(y.shape)
    out, jv = cr.jvp(fn, (x, y), (vx, vy))
    u = r.standard_normal(out.shape)
    gx, gy = cr.vjp(fn, x, y)[1](u)
    assert float(np.sum(u * jv.data)) == pytest.approx(
        float(np.sum(gx.data * vx) + np.sum(gy.data * vy)), rel=1e-9, abs=1e-9
    )


def test_grad_argnums_and_errors():
    def f(x, y):
        return cr.sum(x * y**2)

    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert cr.grad(f)(x, y).tolist() == [9.0, 16.0]
    gx, gy = cr.grad(f, argnums=(0, 1))(x, y)
    assert gy.tolist() == [6.0, 16.0]
    (only,) = cr.grad(f, argnums=(1,))(x, y)
    assert only.tolist() == [6.0, 16.0]
    value, g = cr.value_and_grad(f)(x, y)
    assert value.item() == 41.0 and g.tolist() == [9.0, 16.0]
    g, aux = cr.grad(lambda a: (cr.sum(a * a), "aux"), has_aux=True)(x)
    assert aux == "aux" and g.tolist() == [2.0, 4.0]
    with pytest.raises(cr.GradientError, match="single-element"):
        cr.grad(lambda a: a * 2)(x)


def test_higher_derivatives_by_composition():
    f = cr.sin
    x0 = 0.7
    assert cr.grad(cr.grad(cr.grad(f)))(x0).item() == pytest.approx(-np.cos(x0), rel=1e-12)
    g = cr.grad(lambda x: x**4)
    assert cr.jvp(g, (2.0,), (1.0,))[1].item() == pytest.approx(48.0)  # jvp of grad
    assert cr.grad(lambda x: cr.jvp(cr.exp, (x,), (1.0,))[1])(0.5).item() == pytest.approx(np.exp(0.5))  # grad of jvp
    assert cr.jacobian(cr.grad(lambda x: cr.sum(x**3)), mode="fwd")(np.array([1.0, 2.0])).tolist() == [
        [6.0, 0.0],
        [0.0, 12.0],
    ]


def test_no_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = 1 at any x, in forward mode and in reverse mode
    for x0 in (0.5, 3.0):
        inner_fwd = lambda x: x * cr.jvp(lambda y: x + y, (2.0,), (1.0,))[1]  # noqa: E731
        assert cr.jvp(inner_fwd, (x0,), (1.0,))[1].item() == 1.0
        inner_rev = lambda x: x * cr.grad(lambda y: x + y)(2.0)  # noqa: E731
        assert cr.grad(inner_rev)(x0).item() == 1.0


def test_hessian_and_hvp_against_analytic():
    a = np.random.default_rng(1).standard_normal((5, 3))

    def f(x):
        return cr.sum(cr.log(1 + cr.exp(a @ x))) + 0.5 * cr.sum(x * x)

    x0 = np.array([0.1, -0.2, 0.3])
    s = 1 / (1 + np.exp(-(a @ x0)))
    expected = a.T @ np.diag(s * (1 - s)) @ a + np.eye(3)
    np.testing.assert_allclose(cr.hessian(f)(x0).data, expected, rtol=1e-12)
    v = np.array([1.0, -1.0, 2.0])
    value, product = cr.hvp(f, (x0,), (v,))
    assert value.item() == pytest.approx(float(f(x0).item()))
    np.testing.assert_allclose(product.data, expected @ v, rtol=1e-12)


def test_jacobian_both_modes_agree_with_the_analytic_one():
    a = np.random.default_rng(2).standard_normal((4, 3))
    x0 = np.array([0.3, -0.1, 0.2])
    expected = a * (1 - np.tanh(x0) ** 2)
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(cr.jacobian(lambda x: a @ cr.tanh(x), mode=mode)(x0).data, expected, rtol=1e-12)
    assert cr.jacobian(lambda x: x * 2)(np.ones((2, 2))).shape == (2, 2, 2, 2)
    assert cr.jacobian(lambda x: cr.ones(3) * 1.0)(np.ones(2)).tolist() == [[0.0, 0.0]] * 3


def test_nested_structures_of_parameters():
    params = {"w": np.array([1.0, 2.0]), "b": (0.5, [np.array(3.0)])}
    x = np.array([3.0, 4.0])

    def loss(p, inputs):
        return cr.sum(p["w"] * inputs) + p["b"][0] * p["b"][1][0]

    g = cr.grad(loss)(params, x)
    assert g["w"].tolist() == [3.0, 4.0] and g["b"][0].item() == 3.0 and g["b"][1][0].item() == 0.5
    assert isinstance(g["b"], tuple) and isinstance(g["b"][1], list)
    out, tangent = cr.jvp(lambda p: p["w"] * 2, (params,), ({"w": np.ones(2), "b": (0.0, [np.array(0.0)])},))
    assert tangent.tolist() == [2.0, 2.0]


def test_transforms_leave_leaf_grads_alone():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.grad(lambda x: cr.sum(x * w))(np.array([3.0, 4.0]))
    assert g.tolist() == [1.0, 2.0] and w.grad is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_batched_forward_jacobian_matches_reverse_jacobian(name):
    # jacobian(mode="fwd") pushes every direction at once through each primitive's batching
    fn, xs = _inputs(name)
    for position in range(len(xs)):

        def of_one(v, position=position):
            return fn(*xs[:position], v, *xs[position + 1 :])

        forward = cr.jacobian(of_one, mode="fwd")(xs[position])
        reverse = cr.jacobian(of_one, mode="rev")(xs[position])
        np.testing.assert_allclose(forward.data, reverse.data, rtol=1e-10, atol=1e-12)
        x = xs[position]
        numeric = np.zeros(forward.shape)
        for j in np.ndindex(x.shape):
            step = np.zeros(x.shape)
            step[j] = 1e-6
            numeric[(...,) + j] = (np.asarray(of_one(x + step)) - np.asarray(of_one(x - step))) / 2e-6
        np.testing.assert_allclose(reverse.data, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: cr.sum(cr.softmax(x.reshape(2, 3), axis=1) ** 2),
        lambda x: cr.logsumexp(cr.outer(x, x)),
        lambda x: cr.prod(x[1:4]) + cr.sum(cr.sigmoid(x) * x[::-1]),
        lambda x: cr.sum(cr.tanh(cr.stack([x, x * 2], axis=0).T @ np.ones(2))),
        lambda x: cr.einsum("i,j,ij->", x, x, np.arange(36.0).reshape(6, 6) / 36),
    ],
)
def test_hessian_is_symmetric_and_matches_finite_differences_of_the_gradient(f):
    x0 = np.random.default_rng(3).standard_normal(6) * 0.5
    h = cr.hessian(f)(x0).data
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-12)
    eps = 1e-6
    g = cr.grad(f)
    for j in range(6):
        e = np.zeros(6)
        e[j] = eps
        column = (g(x0 + e).data - g(x0 - e).data) / (2 * eps)
        np.testing.assert_allclose(h[:, j], column, rtol=1e-5, atol=1e-7)


def test_transforms_work_inside_no_grad():
    with cr.no_grad():
        assert cr.grad(lambda x: x**2)(3.0).item() == 6.0
        assert cr.hessian(lambda x: cr.sum(x**3))(np.array([1.0, 2.0])).tolist() == [[6.0, 0.0], [0.0, 12.0]]
        value, product = cr.hvp(lambda x: x * cr.grad(lambda y: x * y)(2.0), (3.0,), (1.0,))
        assert value.item() == 9.0 and product.item() == 2.0


def test_dicts_are_matched_by_key_not_by_order():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    _, tangent = cr.jvp(
        lambda p: cr.sum(p["a"] * 10 + p["b"]), ({"a": x, "b": y},), ({"b": np.ones(2), "a": np.zeros(2)},)
    )
    assert tangent.item() == 2.0
    (g,) = cr.vjp(lambda a: {"p": a * 1.0, "q": a * 10.0}, np.ones(2))[1]({"q": np.zeros(2), "p": np.ones(2)})
    assert g.tolist() == [1.0, 1.0]
    with pytest.raises(cr.ShapeError, match="structure"):
        cr.jvp(lambda p: p["k"], ({"k": x},), ([x],))


def test_jacobian_of_nested_outputs_and_inputs():
    x = np.array([1.0, 2.0])
    for mode in ("rev", "fwd"):
        twice, thrice = cr.jacobian(lambda a: (a * 2, a * 3), mode=mode)(x)
        assert twice.tolist() == [[2.0, 0.0], [0.0, 2.0]] and thrice.tolist() == [[3.0, 0.0], [0.0, 3.0]]
        jac = cr.jacobian(lambda p: p["w"] * p["b"], mode=mode)({"w": x, "b": np.array(3.0)})
        assert jac["w"].tolist() == [[3.0, 0.0], [0.0, 3.0]] and jac["b"].tolist() == [1.0, 2.0]
    h = cr.hessian(lambda p: cr.sum(p["w"] ** 2) * p["b"])({"w": x, "b": np.array(3.0)})
    assert h["w"]["w"].tolist() == [[6.0, 0.0], [0.0, 6.0]] and h["w"]["b"].tolist() == [2.0, 4.0]
    assert h["b"]["b"].item() == 0.0


def test_argument_mistakes_are_explained():
    def f(a, b):
        return cr.sum(a * b)

    x = np.ones(2)
    with pytest.raises(cr.ShapeError, match="twice"):
        cr.grad(f, argnums=(0, 0))(x, x)
    with pytest.raises(cr.ShapeError, match="out of range"):
        cr.grad(f, argnums=3)(x, x)
    with pytest.raises(cr.ShapeError, match="out of range"):
        cr.jacobian(f, argnums=2)(x, x)
    with pytest.raises(TypeError, match="argnums"):
        cr.grad(f, argnums="0")(x, x)
    with pytest.raises(cr.GradientError, match="pair"):
        cr.grad(lambda a: cr.sum(a), has_aux=True)(x)
    with pytest.raises(TypeError, match="tuples"):
        cr.jvp(cr.sin, x, x)
    with pytest.raises(TypeError, match="NoneType"):
        cr.grad(lambda a: a)(None)
    assert cr.jacobian(f, argnums=(0,))(x, x)[0].tolist() == [1.0, 1.0]


def test_value_and_grad_returns_plain_aux():
    (value, aux), g = cr.value_and_grad(lambda a: (cr.sum(a * a), a * 2), has_aux=True)(np.ones(2))
    assert not aux.requires_grad and not value.requires_grad and g.tolist() == [2.0, 2.0]


def test_reverse_through_batched_matrix_products():
    x0 = np.array([0.5, -1.0, 2.0])
    g = cr.grad(lambda x: cr.sum(cr.jacobian(lambda v: v @ v, mode="fwd")(x)))(x0)
    assert g.tolist() == [2.0, 2.0, 2.0]
    third = cr.jacobian(cr.hessian(lambda v: (v @ v) * cr.sum(v)))(x0)
    # d3/dxi dxj dxk of (v.v)(sum v) = 2 (delta_ij + delta_ik + delta_jk)
    eye = np.eye(3)
    expected = 2 * (eye[:, :, None] + eye[:, None, :] + eye[None, :, :])
    np.testing.assert_allclose(third.data, expected)


@pytest.mark.parametrize("outer", ["jvp", "grad", "jacfwd", "jacrev"])
@pytest.mark.parametrize("inner", ["jvp", "grad", "jacfwd", "jacrev"])
def test_no_perturbation_confusion_in_any_combination(outer, inner):
    def d(f, kind, at):
        if kind == "jvp":
            return cr.jvp(f, (at,), (np.ones_like(at),))[1]
        if kind == "grad":
            return cr.grad(lambda v: cr.sum(f(v)))(at)
        return cr.jacobian(f, mode="fwd" if kind == "jacfwd" else "rev")(at).reshape(at.shape)

    def h(x):
        return x * d(lambda y: x + y, inner, np.array([2.0]))

    assert d(h, outer, np.array([3.0])).tolist() == [1.0]


def test_reverse_over_transforms_that_close_over_the_outer_variable():
    x2 = np.array([1.0, 2.0])
    assert cr.grad(lambda x: x * cr.grad(lambda y: x * y)(2.0))(3.0).item() == 6.0
    assert cr.grad(lambda x: cr.grad(lambda y: x * y)(2.0))(3.0).item() == 1.0
    assert cr.grad(lambda x: cr.jvp(lambda y: x * y * y, (2.0,), (1.0,))[1])(3.0).item() == 4.0
    assert cr.grad(lambda x: cr.vjp(lambda y: x * y * y, 2.0)[1](1.0)[0])(3.0).item() == 4.0
    for mode in ("fwd", "rev"):
        assert cr.grad(lambda x, mode=mode: cr.sum(cr.jacobian(lambda y: x * y * y, mode=mode)(x2)))(3.0).item() == 6.0
    assert cr.grad(lambda x: cr.hvp(lambda y: x * y**3, (2.0,), (1.0,))[1])(3.0).item() == 12.0
    assert cr.grad(lambda a: cr.sum(cr.hessian(lambda y: a * cr.sum(y**3))(x2)))(2.0).item() == 18.0
    inner = cr.jacobian(lambda x: cr.grad(lambda y: cr.sum(x * y * y))(x2))(np.array([3.0, 4.0]))
    assert inner.tolist() == [[2.0, 0.0], [0.0, 4.0]]
    # with the tape: a transform inside a recorded computation stays differentiable
    x = cr.tensor(3.0, requires_grad=True)
    g = cr.grad(lambda y: x * y * y)(2.0)
    (x * g).backward()
    assert x.grad.item() == 24.0
    # and a plain call gives a plain result
    assert not cr.grad(lambda v: v**2)(3.0).requires_grad


def test_einsum_ellipsis_against_an_operand_without_one():
    x = np.random.default_rng(4).standard_normal((3, 4))
    assert cr.gradcheck(lambda a, b: cr.einsum("...j,j->...", a, b), x, x[0], order=2)


@pytest.mark.parametrize("seed", range(4))
def test_a_tangent_that_depends_on_the_outer_variable_keeps_that_dependence(seed):
    # jvp(f, (x,), (h(x),)) differentiated again: the tangent's own derivative must not be dropped
    rng = np.random.default_rng(seed)
    x0, v = rng.standard_normal(3), rng.standard_normal(3)

    def inner(x):
        return cr.jvp(lambda y: cr.sin(y) * y, (x,), (x * x,))[1]  # (cos x * x + sin x) * x^2

    def expected(x):
        return (np.cos(x) * x + np.sin(x)) * x * x

    eps = 1e-6
    numeric = (expected(x0 + eps * v) - expected(x0 - eps * v)) / (2 * eps)
    for mode in ("fwd", "rev"):
        np.testing.assert_allclose(cr.jacobian(inner, mode=mode)(x0).numpy() @ v, numeric, rtol=1e-6)
    np.testing.assert_allclose(cr.jvp(inner, (x0,), (v,))[1].numpy(), numeric, rtol=1e-6)
    np.testing.assert_allclose(cr.grad(lambda x: cr.sum(inner(x) * v))(x0).numpy() @ v, numeric @ v, rtol=1e-6)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 4), cols=st.integers(1, 4))
def test_vjp_fn_is_differentiable_in_its_cotangent(seed, rows, cols):
    # vjp_fn is linear in the cotangent: differentiating it gives the transposed Jacobian back (it used to give 0)
    rng = np.random.default_rng(seed)
    a, x = rng.standard_normal((rows, cols)), rng.standard_normal(cols)
    _, pullback = cr.vjp(lambda x: cr.tanh(a @ x) * cr.sum(x), x)
    jac = cr.jacobian(lambda x: cr.tanh(a @ x) * cr.sum(x))(x).data
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(cr.jacobian(lambda c: pullback(c)[0], mode=mode)(np.zeros(rows)).data, jac.T)
    v = rng.standard_normal(cols)
    np.testing.assert_allclose(cr.vjp(lambda c: pullback(c)[0], np.zeros(rows))[1](v)[0].data, jac @ v)


def test_comparisons_have_derivative_zero_and_python_bools_none():
    _, pullback = cr.vjp(lambda x: x > 0, np.ones(2))
    assert pullback(np.ones(2))[0].tolist() == [0.0, 0.0]
    assert float(cr.grad(lambda x: cr.sum(x == x))(np.ones(2)).sum()) == 0.0
    for fn in (cr.grad, lambda f: lambda x: cr.vjp(f, x)):
        with pytest.raises(TypeError, match="bool"):
            fn(lambda x: np.allclose(x, x))(np.ones(2))
    rows, cols = cr.where(np.array([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]
