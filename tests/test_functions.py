"""NumPy's numerical functions composed from the primitives (kron, cross, linspace, full, nan_to_num, select,
cumprod at zeros, the complex-part functions on real tensors, einsum's sublist form) and the ndarray-like methods,
against NumPy and finite differences in both modes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import chainrule as cr
from tests.gradients import check_function

seeds = st.integers(0, 2**16)


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@settings(max_examples=20, deadline=None)
@given(
    a=array_shapes(min_dims=0, max_dims=3, max_side=3), b=array_shapes(min_dims=0, max_dims=3, max_side=3), seed=seeds
)
def test_kron(a, b, seed):
    check_function(cr.kron, np.kron, _data(a, seed), _data(b, seed + 1))


@settings(max_examples=20, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3), seed=seeds, data=st.data()
)
def test_cross(shapes, seed, data):
    na, nb = data.draw(st.sampled_from([(3, 3), (2, 3), (3, 2)]))
    a, b = _data(shapes.input_shapes[0] + (na,), seed), _data(shapes.input_shapes[1] + (nb,), seed + 1)
    check_function(cr.cross, np.cross, a, b)
    moved = np.moveaxis(a, -1, 0)
    check_function(
        lambda a, b: cr.cross(a, b, axisa=0, axisc=0), lambda a, b: np.cross(a, b, axisa=0, axisc=0), moved, b
    )


def test_cross_of_plane_vectors_is_the_z_component():
    a, b = _data((4, 2), 0), _data((4, 2), 1)
    with pytest.warns(DeprecationWarning):  # NumPy 2 deprecates 2-vectors; the value is still defined
        expected = np.cross(a, b)
    np.testing.assert_allclose(cr.cross(a, b).data, expected)
    with pytest.raises(cr.ShapeError, match="2 or 3 components"):
        cr.cross(np.ones(4), np.ones(3))


@pytest.mark.parametrize(
    "num, endpoint, axis", [(5, True, 0), (4, False, 0), (1, True, 0), (3, True, -1), (2, False, 1)]
)
def test_linspace(num, endpoint, axis):
    start, stop = _data(3, 0), _data(3, 1)
    check_function(
        lambda a, b: cr.linspace(a, b, num, endpoint=endpoint, axis=axis),
        lambda a, b: np.linspace(a, b, num, endpoint=endpoint, axis=axis),
        start,
        stop,
    )
    samples, step = cr.linspace(0.0, cr.tensor(2.0), 5, retstep=True)
    assert step.item() == 0.5 and samples.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_full():
    check_function(lambda v: cr.full((2, 3), v), lambda v: np.full((2, 3), v), np.array(1.5))
    check_function(lambda v: cr.full((2, 3), v), lambda v: np.full((2, 3), v), _data(3, 0))
    assert cr.full(3, 7, dtype=np.int64).tolist() == [7, 7, 7]


def test_nan_to_num_passes_the_gradient_of_finite_elements_only():
    holes = np.array([0.0, np.nan, np.inf, -np.inf, 0.0])
    x = _data(5, 0)
    nans = np.where(np.isnan(holes), np.nan, 0.0)  # (the default stand-ins for infinities, ±1.8e308, swamp a sum)
    check_function(lambda a: cr.nan_to_num(a + nans), lambda a: np.nan_to_num(a + nans), x)
    check_function(
        lambda a: cr.nan_to_num(a + holes, nan=1.0, posinf=9.0, neginf=-9.0),
        lambda a: np.nan_to_num(a + holes, nan=1.0, posinf=9.0, neginf=-9.0),
        x,
    )
    g = cr.grad(lambda a: cr.sum(cr.nan_to_num(a + holes)))(x)
    assert g.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_select_takes_the_first_true_condition():
    x = _data((3, 4), 0)
    conditions = [x > 0.5, x > 0, x < -1]
    check_function(
        lambda a: cr.select(conditions, [a, a**2, a**3], default=a * 3),
        lambda a: np.select(conditions, [a, a**2, a**3], default=a * 3),
        x,
    )


def test_cumprod_is_exact_at_zeros_in_both_modes():
    x = _data((3, 5), 0)
    x[0, 1] = 0.0
    x[1, 1] = x[1, 3] = 0.0
    for axis in (0, 1, -1, None):
        check_function(lambda a: cr.cumprod(a, axis), lambda a: np.cumprod(a, axis), x)


def test_complex_part_functions_on_real_tensors():
    x = cr.tensor(_data(4, 0), requires_grad=True)
    assert cr.real(x) is x and cr.conj(x) is x and x.conj() is x and x.real is x
    assert cr.imag(x).tolist() == [0.0] * 4
    np.testing.assert_array_equal(cr.angle(x).data, np.angle(x.data))
    np.testing.assert_array_equal(np.real(x).data, x.data)
    cr.sum(cr.imag(x) + cr.angle(x)).backward()  # both flat along the real axis (away from 0)
    assert x.grad.tolist() == [0.0] * 4 and x.grad.dtype == np.float64
    z = cr.tensor(np.array([1 + 2j, -3j]))
    np.testing.assert_array_equal(cr.imag(z).data, [2.0, -3.0])
    np.testing.assert_array_equal(np.conj(z).data, [1 - 2j, 3j])
    np.testing.assert_allclose(cr.angle(z, deg=True).data, np.angle(z.data, deg=True))


EINSUM_SUBLISTS = [
    ((0, 1), (1, 2), (0, 2)),
    ((0, 1), (1, 2), None),
    ((Ellipsis, 0, 1), (Ellipsis, 1, 2), (Ellipsis, 0, 2)),
    ((0, 0), None, ()),
]


@pytest.mark.parametrize("sublists", EINSUM_SUBLISTS, ids=str)
def test_einsum_sublist_form(sublists):
    first, second, out = sublists
    a = _data((2, 3, 3) if Ellipsis in first else (3, 3), 0)
    b = _data((2, 3, 4) if Ellipsis in first else (3, 4), 1)
    if second is None:
        check_function(
            lambda x: cr.einsum(x, list(first), list(out)), lambda x: np.einsum(x, list(first), list(out)), a
        )
        return
    args = lambda x, y: (x, list(first), y, list(second)) + (() if out is None else (list(out),))  # noqa: E731
    check_function(lambda x, y: cr.einsum(*args(x, y)), lambda x, y: np.einsum(*args(x, y)), a, b)


def test_ndarray_methods_and_conversions():
    x = cr.tensor(_data((2, 3), 0), requires_grad=True)
    assert x.ravel().shape == (6,) and x.ravel().requires_grad
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.requires_grad
    assert x.astype(np.int64).dtype == np.int64 and not x.astype(np.int64).requires_grad
    (y.astype(np.float64) * 2).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2
    assert format(cr.tensor([2.0]), ".3f") == "2.000" and f"{cr.tensor(1.23456):.2f}" == "1.23"
    assert cr.tensor(1.0) == pytest.approx(1.0) and cr.tensor([1.0, 2.0]).tolist() == [1.0, 2.0]
    assert x.cumsum(axis=1).shape == (2, 3) and x.cumprod().shape == (6,) and x.trace().shape == ()
