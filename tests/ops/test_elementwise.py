"""Elementwise primitives: values against NumPy, derivatives against finite differences (first and second
order), on shapes Hypothesis draws, broadcasting pairs included; kinks and extreme inputs."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

import chainrule as cr
from tests.gradients import check_grads


def uniform(lo, hi):
    """Values drawn by Hypothesis in [lo, hi], for an array of a given shape."""
    return lambda shape: arrays(np.float64, shape, elements=st.floats(lo, hi))


def away_from_zero(shape):
    # keep finite differences off the kink at 0
    magnitudes = arrays(np.float64, shape, elements=st.floats(0.1, 2.0))
    signs = arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))
    return st.tuples(magnitudes, signs).map(lambda pair: pair[0] * pair[1])


def reference_sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY = {
    "exp": (np.exp, uniform(-3, 3)),
    "log": (np.log, uniform(0.2, 5)),
    "log1p": (np.log1p, uniform(-0.8, 5)),
    "expm1": (np.expm1, uniform(-3, 3)),
    "sqrt": (np.sqrt, uniform(0.2, 5)),
    "square": (np.square, uniform(-3, 3)),
    "sin": (np.sin, uniform(-4, 4)),
    "cos": (np.cos, uniform(-4, 4)),
    "tan": (np.tan, uniform(-1.2, 1.2)),
    "tanh": (np.tanh, uniform(-3, 3)),
    "sinh": (np.sinh, uniform(-3, 3)),
    "cosh": (np.cosh, uniform(-3, 3)),
    "arcsin": (np.arcsin, uniform(-0.9, 0.9)),
    "arccos": (np.arccos, uniform(-0.9, 0.9)),
    "arctan": (np.arctan, uniform(-3, 3)),
    "sigmoid": (reference_sigmoid, uniform(-6, 6)),
    "relu": (lambda x: np.maximum(x, 0), away_from_zero),
    "softplus": (lambda x: np.log1p(np.exp(x)), uniform(-6, 6)),
    "abs": (np.abs, away_from_zero),
    "negative": (np.negative, uniform(-3, 3)),
    "arcsinh": (np.arcsinh, uniform(-3, 3)),
    "arccosh": (np.arccosh, uniform(1.2, 4)),
    "arctanh": (np.arctanh, uniform(-0.9, 0.9)),
    "exp2": (np.exp2, uniform(-3, 3)),
    "cbrt": (np.cbrt, uniform(0.2, 5)),
    "log2": (np.log2, uniform(0.2, 5)),
    "log10": (np.log10, uniform(0.2, 5)),
    "reciprocal": (np.reciprocal, away_from_zero),
    "deg2rad": (np.deg2rad, uniform(-200, 200)),
    "rad2deg": (np.rad2deg, uniform(-3, 3)),
    "fabs": (np.fabs, away_from_zero),
    "sinc": (np.sinc, away_from_zero),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), seed=st.integers(0, 99))
def test_unary(name, data, shape, seed):
    reference, values = UNARY[name]
    fn = getattr(cr, name)
    x = data.draw(values(shape))
    np.testing.assert_allclose(fn(x).data, reference(x), rtol=1e-12, atol=1e-300)
    assert getattr(cr.tensor(x), name)().shape == np.shape(reference(x))  # the method form
    check_grads(fn, x, seed=seed)


def positive(shape):
    return arrays(np.float64, shape, elements=st.floats(0.5, 2.0))


BINARY = {
    "add": (np.add, uniform(-3, 3), uniform(-3, 3)),
    "subtract": (np.subtract, uniform(-3, 3), uniform(-3, 3)),
    "multiply": (np.multiply, uniform(-3, 3), uniform(-3, 3)),
    "divide": (np.divide, uniform(-3, 3), away_from_zero),
    "power": (np.power, positive, uniform(-2, 2)),
    "maximum": (np.maximum, uniform(-3, 3), uniform(-3, 3)),
    "minimum": (np.minimum, uniform(-3, 3), uniform(-3, 3)),
    "arctan2": (np.arctan2, away_from_zero, away_from_zero),
    "hypot": (np.hypot, away_from_zero, away_from_zero),
    "logaddexp": (np.logaddexp, uniform(-3, 3), uniform(-3, 3)),
    "logaddexp2": (np.logaddexp2, uniform(-3, 3), uniform(-3, 3)),
    "fmax": (np.fmax, uniform(-3, 3), uniform(-3, 3)),
    "fmin": (np.fmin, uniform(-3, 3), uniform(-3, 3)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(
    data=st.data(),
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
    seed=st.integers(0, 99),
)
def test_binary_with_broadcasting(name, data, shapes, seed):
    reference, values_x, values_y = BINARY[name]
    x, y = data.draw(values_x(shapes.input_shapes[0])), data.draw(values_y(shapes.input_shapes[1]))
    if name in ("maximum", "minimum", "fmax", "fmin"):
        assume(np.min(np.abs(np.subtract(x, y)), initial=1.0) > 0.01)  # keep off ties (a kink)
    fn = getattr(cr, name)
    np.testing.assert_allclose(fn(x, y).data, reference(x, y), rtol=1e-12)
    check_grads(fn, x, y, seed=seed)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float32_stays_float32(name):
    x = cr.tensor([1.5, 0.5], dtype=np.float32, requires_grad=True)
    y = cr.tensor([0.7, 2.0], dtype=np.float32, requires_grad=True)
    out = getattr(cr, name)(x, y) * 2.0
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32


OPERATORS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "power": lambda a, b: a**b,
}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_operators_accept_numbers_and_arrays_on_either_side(name):
    op, reference = OPERATORS[name], BINARY[name][0]
    values = np.array([1.5, 2.0, 3.0])
    array = np.array([2.0, 0.5, 1.5])
    t = cr.tensor(values)
    for left, right in [(t, 2.0), (2.0, t), (t, array), (array, t), (t, t), (np.float64(2.0), t)]:
        result = op(left, right)
        assert isinstance(result, cr.Tensor), (type(left), type(right))
        np.testing.assert_allclose(result.data, reference(np.asarray(left), np.asarray(right)))
    # and the gradients are right whichever side the tensor is on
    check_grads(lambda a: op(a, 2.0), values)
    check_grads(lambda a: op(2.0, a), values)
    check_grads(lambda a: op(a, array), values)
    check_grads(lambda a: op(array, a), values)
    check_grads(lambda a: op(a, a), values)


@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 99))
def test_where(shapes, seed):
    rng = np.random.default_rng(seed)
    condition = rng.random(shapes.input_shapes[0]) > 0.5
    x, y = rng.standard_normal(shapes.input_shapes[1]), rng.standard_normal(shapes.input_shapes[2])
    np.testing.assert_allclose(cr.where(condition, x, y).data, np.where(condition, x, y))
    check_grads(lambda a, b: cr.where(condition, a, b), x, y, seed=seed)
    check_grads(lambda a, b: cr.where(cr.tensor(condition), a, b), x, y, seed=seed)  # a Tensor condition too


@given(data=st.data(), shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 99))
def test_clip(data, shape, seed):
    z = data.draw(away_from_zero(shape)) * 2
    z = np.where(np.abs(np.abs(z) - 1) < 0.05, z * 1.2, z)  # keep off the bounds
    np.testing.assert_allclose(cr.clip(z, -1, 1).data, np.clip(z, -1, 1))
    check_grads(lambda a: cr.clip(a, -1.0, 1.0), z, seed=seed)
    check_grads(lambda a: a.clip(None, 1.0), z, seed=seed)
    check_grads(lambda a: a.clip(-1.0, None), z, seed=seed)


def grad_of(fn, *values):
    xs = [cr.tensor(v, requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.data for x in xs]


def test_kink_conventions():
    assert grad_of(cr.relu, [0.0, -1.0, 2.0])[0].tolist() == [0.0, 0.0, 1.0]
    assert grad_of(cr.abs, [0.0, -1.0, 2.0])[0].tolist() == [0.0, -1.0, 1.0]
    gx, gy = grad_of(cr.maximum, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0])
    assert gx.tolist() == [0.5, 0.0, 1.0] and gy.tolist() == [0.5, 1.0, 0.0]
    gx, gy = grad_of(cr.minimum, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0])
    assert gx.tolist() == [0.5, 1.0, 0.0] and gy.tolist() == [0.5, 0.0, 1.0]
    assert grad_of(lambda a: cr.clip(a, -1.0, 1.0), [-1.0, 1.0, 2.0])[0].tolist() == [1.0, 1.0, 0.0]


def test_extreme_inputs_stay_finite():
    extremes = [-800.0, -50.0, 0.0, 50.0, 800.0]
    for fn in (cr.sigmoid, cr.softplus, cr.tanh):
        (g,) = grad_of(fn, extremes)
        assert np.all(np.isfinite(g)), fn
        assert np.all(np.isfinite(fn(extremes).data)), fn
    assert cr.sigmoid(-800.0).item() == 0.0 and cr.sigmoid(800.0).item() == 1.0
    np.testing.assert_allclose(cr.softplus([800.0, -800.0]).data, [800.0, 0.0])
    assert grad_of(cr.softplus, [800.0])[0].tolist() == [1.0]
    # power at x = 0: d/dy 0**y is 0 for y > 0, not NaN
    gx, gy = grad_of(cr.power, [0.0, 2.0], [2.0, 3.0])
    assert gy.tolist()[0] == 0.0 and np.isfinite(gy).all()


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_float32_stays_float32(name, data):
    x = cr.tensor(data.draw(UNARY[name][1]((3,))), dtype=np.float32, requires_grad=True)
    y = getattr(cr, name)(x) * 2.0 + 1  # Python numbers never upcast
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_dtypes_follow_numpy_promotion():
    a = cr.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    b = cr.tensor([1.0, 2.0], requires_grad=True)
    c = a * b
    assert c.dtype == np.result_type(np.float32, np.float64)
    c.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert (cr.tensor([1, 2]) * 0.5).dtype == np.float64


def test_comparisons_give_bool_tensors_without_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2, 2 > x):
        assert isinstance(result, cr.Tensor) and result.dtype == bool and not result.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]
    assert not np.less(x, 2).requires_grad and not np.equal(np.ones(3), x).requires_grad


def test_numpy_ufuncs_on_tensors_return_tensors():
    x = cr.tensor([0.5, 1.0], requires_grad=True)
    y = np.exp(x) + np.sin(x)
    assert isinstance(y, cr.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp([0.5, 1.0]) + np.cos([0.5, 1.0]))
