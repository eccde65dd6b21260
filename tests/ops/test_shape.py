"""Shape primitives and indexing: values against NumPy, derivatives against finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, broadcastable_shapes

import chainrule as cr
from tests.gradients import check_grads

rng = np.random.default_rng(0)


@given(shape=array_shapes(min_dims=0, max_dims=4, max_side=4), seed=st.integers(0, 2**16))
def test_reshape_flatten_transpose(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_array_equal(cr.flatten(x).data, x.reshape(-1))
    np.testing.assert_array_equal(cr.transpose(x).data, x.T)
    np.testing.assert_array_equal(cr.tensor(x).T.data, x.T)
    perm = tuple(np.random.default_rng(seed).permutation(len(shape)))
    np.testing.assert_array_equal(cr.tensor(x).transpose(perm).data, np.transpose(x, perm))
    check_grads(lambda t: t.reshape(-1, 1) * t.flatten(), x)
    check_grads(lambda t: t.transpose(*perm) ** 2, x)
    check_grads(lambda t: cr.transpose(t) ** 2, x)


@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_swapaxes_expand_squeeze(shape, data):
    x = rng.standard_normal(shape)
    ndim = len(shape)
    a, b = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    np.testing.assert_array_equal(cr.swapaxes(x, a, b).data, np.swapaxes(x, a, b))
    check_grads(lambda t: cr.swapaxes(t, a, b) ** 2, x)
    e = data.draw(st.integers(-ndim - 1, ndim))
    np.testing.assert_array_equal(cr.expand_dims(x, e).data, np.expand_dims(x, e))
    check_grads(lambda t: cr.expand_dims(t, e) ** 2, x)
    ones = tuple(i for i, n in enumerate(shape) if n == 1)
    np.testing.assert_array_equal(cr.squeeze(x).data, np.squeeze(x))
    if ones:
        np.testing.assert_array_equal(cr.squeeze(x, ones[0]).data, np.squeeze(x, ones[0]))
        np.testing.assert_array_equal(cr.tensor(x).squeeze(ones).data, np.squeeze(x, ones))
        check_grads(lambda t: t.squeeze(ones) ** 2, x)


def test_squeeze_and_expand_errors():
    with pytest.raises(cr.ShapeError, match="length 3, not 1"):
        cr.squeeze(np.ones((1, 3)), 1)
    with pytest.raises(cr.ShapeError, match="out of range"):
        cr.expand_dims(np.ones(3), 5)


@given(shape=broadcastable_shapes((3, 1, 4), min_dims=0, max_dims=3), seed=st.integers(0, 2**16))
def test_broadcast_to(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    target = np.broadcast_shapes(shape, (3, 1, 4))
    np.testing.assert_array_equal(cr.broadcast_to(x, target).data, np.broadcast_to(x, target))
    check_grads(lambda t: cr.broadcast_to(t, target) ** 2, x)


def test_broadcast_error_names_the_op_and_shapes():
    with pytest.raises(cr.ShapeError, match=r"broadcast_to.*\(3,\)"):
        cr.broadcast_to(np.ones(3), (2, 4))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack(axis):
    parts = [rng.standard_normal((2, 3)) for _ in range(3)]
    wide = [rng.standard_normal((2, 2)), rng.standard_normal((2, 1))]
    if axis != 0:
        np.testing.assert_array_equal(cr.concatenate(wide, axis=axis).data, np.concatenate(wide, axis=axis))
        check_grads(lambda a, b: cr.concatenate([a, b], axis=axis) ** 2, *wide)
    np.testing.assert_array_equal(cr.concatenate(parts, axis=axis).data, np.concatenate(parts, axis=axis))
    np.testing.assert_array_equal(cr.stack(parts, axis=axis).data, np.stack(parts, axis=axis))
    check_grads(lambda a, b, c: cr.concatenate([a, b, c], axis=axis) ** 2, *parts)
    check_grads(lambda a, b, c: cr.stack([a, b, c], axis=axis) ** 2, *parts)
    with pytest.raises(cr.ShapeError, match="same shape"):
        cr.stack([np.ones(2), np.ones(3)])


X = rng.standard_normal((4, 5, 3))
INDICES = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, 3),
    "negative step": slice(None, None, -1),
    "step slice tuple": (slice(3, 0, -2), slice(None), 0),
    "None": (None, 0),
    "Ellipsis": (Ellipsis, 1),
    "mixed": (1, Ellipsis, None, slice(0, 2)),
    "integer array": np.array([0, 2, 3]),
    "repeated integers": np.array([0, 0, 3, 0]),
    "integer arrays in two axes": (np.array([0, 1, 1]), np.array([4, 4, 2])),
    "list": [1, 1, 2],
    "boolean mask": X[..., 0] > 0,
    "boolean mask of one axis": np.array([True, False, True, True]),
}


@pytest.mark.parametrize("name", sorted(INDICES))
def test_getitem(name):
    index = INDICES[name]
    expected = X[index] if not isinstance(index, list) else X[np.array(index)]
    np.testing.assert_array_equal(cr.tensor(X)[index].data, expected)
    check_grads(lambda t: t[index] ** 2, X)


def test_repeated_indices_accumulate_and_tensor_masks_work():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    x.grad = None
    mask = x > 1.5
    (x[mask] * 2).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 2.0]
    x.grad = None
    x[cr.tensor([2, 2])].sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 2.0]


def test_index_errors_are_clear():
    with pytest.raises(cr.ShapeError, match="getitem"):
        cr.tensor(np.ones(3))[5]


@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data(), seed=st.integers(0, 99))
def test_concatenate_and_stack_on_drawn_shapes(shape, data, seed):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = [rng.standard_normal(shape[: axis % len(shape)] + (n,) + shape[axis % len(shape) + 1 :]) for n in sizes]
    np.testing.assert_array_equal(cr.concatenate(parts, axis=axis).data, np.concatenate(parts, axis=axis))
    check_grads(lambda *ts: cr.concatenate(ts, axis=axis) ** 2, *parts, seed=seed)
    same = [rng.standard_normal(shape) for _ in sizes]
    np.testing.assert_array_equal(cr.stack(same, axis=axis).data, np.stack(same, axis=axis))
    check_grads(lambda *ts: cr.stack(ts, axis=axis) ** 2, *same, seed=seed)


# -- movements and running totals composed from primitives (a first slice of NumPy's functions) --------------------

MOVEMENTS = {
    "flip": (lambda m, x, a: m.flip(x, a), True),
    "roll": (lambda m, x, a: m.roll(x, 2, a), True),
    "cumsum": (lambda m, x, a: m.cumsum(x, a), True),
    "cumprod": (lambda m, x, a: m.cumprod(x, a), True),
    "diff": (lambda m, x, a: m.diff(x, 1, a if a is not None else -1), True),
    "tril": (lambda m, x, a: m.tril(x, -1 if a is None else 1), False),
    "triu": (lambda m, x, a: m.triu(x, 0), False),
    "diagonal": (lambda m, x, a: m.diagonal(x, 1, 0, -1), False),
    "trace": (lambda m, x, a: m.trace(x, -1, -1, 0), False),
}


@pytest.mark.parametrize("name", sorted(MOVEMENTS))
@given(shape=st.lists(st.integers(2, 4), min_size=2, max_size=3).map(tuple), data=st.data())
def test_movements_against_numpy_and_finite_differences(name, shape, data):
    fn, takes_axis = MOVEMENTS[name]
    axis = data.draw(st.sampled_from([None, *range(-len(shape), len(shape))])) if takes_axis else None
    if name == "diff" and axis is None:
        axis = -1
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    np.testing.assert_allclose(fn(cr, cr.tensor(x), axis).numpy(), fn(np, x, axis))
    check_grads(lambda t: fn(cr, t, axis), x)
    jac_rev = cr.jacobian(lambda t: fn(cr, t, axis))(x).numpy()
    np.testing.assert_allclose(cr.jacobian(lambda t: fn(cr, t, axis), mode="fwd")(x).numpy(), jac_rev)


def test_remainder_and_rounding():
    x = np.array([-2.5, -0.3, 0.4, 3.7])
    np.testing.assert_allclose((cr.tensor(x) % 1.5).numpy(), x % 1.5)
    np.testing.assert_allclose((2.0 % cr.tensor(x + 5)).numpy(), 2.0 % (x + 5))
    check_grads(lambda a, b: cr.remainder(a, b), x, np.array([1.5, -1.3, 0.7, 2.2]))
    for name in ("floor", "ceil", "trunc", "rint"):
        out = getattr(cr, name)(cr.tensor(x, requires_grad=True))
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(x))
        assert not out.requires_grad  # flat between its jumps: derivative 0
    np.testing.assert_array_equal(cr.round(x, 1).numpy(), np.round(x, 1))
