"""Reductions over every axis variant (None, int, negative int, tuple; keepdims) against NumPy and finite
differences; ties, zeros and extreme values."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import chainrule as cr
from tests.gradients import check_grads


@st.composite
def shape_and_axis(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "negative", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(0, ndim - 1))
    elif kind == "negative":
        axis = draw(st.integers(-ndim, -1))
    else:
        axis = tuple(
            draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda a: a % ndim))
        )
    return shape, axis, draw(st.booleans()), draw(st.integers(0, 2**16))


def distinct_values(rng, shape):
    # well separated values, so no two tie and finite differences never cross a kink
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.25 + rng.uniform(0, 0.05, n)).reshape(shape) - n / 8


def signed_values(rng, shape):
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


REDUCTIONS = {
    "sum": (np.sum, lambda rng, shape: rng.standard_normal(shape)),
    "mean": (np.mean, lambda rng, shape: rng.standard_normal(shape)),
    "max": (np.max, distinct_values),
    "min": (np.min, distinct_values),
    "prod": (np.prod, signed_values),
    "logsumexp": (None, lambda rng, shape: rng.standard_normal(shape) * 3),
}


def numpy_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(case=shape_and_axis())
def test_reduction(name, case):
    shape, axis, keepdims, seed = case
    reference, sample = REDUCTIONS[name]
    reference = reference or numpy_logsumexp
    x = sample(np.random.default_rng(seed), shape)
    fn = getattr(cr, name)
    result = fn(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(result.data, reference(x, axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)
    assert getattr(cr.tensor(x), name)(axis=axis, keepdims=keepdims).shape == result.shape
    check_grads(lambda t: fn(t, axis=axis, keepdims=keepdims), x, seed=seed)


@pytest.mark.parametrize("name", ["var", "std"])
@given(case=shape_and_axis(), ddof=st.integers(0, 1))
def test_var_std(name, case, ddof):
    shape, axis, keepdims, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    n = x.size if axis is None else int(np.prod([shape[a] for a in np.atleast_1d(axis)]))
    if n - ddof <= 0 or (name == "std" and n == 1):
        return
    fn = getattr(cr, name)
    result = fn(x, axis=axis, ddof=ddof, keepdims=keepdims)
    np.testing.assert_allclose(result.data, getattr(np, name)(x, axis=axis, ddof=ddof, keepdims=keepdims), rtol=1e-10)
    check_grads(lambda t: fn(t, axis=axis, ddof=ddof, keepdims=keepdims), x, seed=seed)


def grad_of(fn, values):
    x = cr.tensor(values, requires_grad=True)
    fn(x).backward()
    return x.grad.data


def test_ties_share_the_gradient_equally():
    assert grad_of(cr.max, [1.0, 3.0, 3.0]).tolist() == [0.0, 0.5, 0.5]
    assert grad_of(cr.min, [2.0, 2.0, 2.0, 5.0]).tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])
    g = grad_of(lambda t: t.max(axis=0).sum(), [[1.0, 4.0], [1.0, 2.0]])
    assert g.tolist() == [[0.5, 1.0], [0.5, 0.0]]


def test_prod_with_zeros_is_exact():
    assert grad_of(cr.prod, [0.0, 2.0, 3.0]).tolist() == [6.0, 0.0, 0.0]
    assert grad_of(cr.prod, [0.0, 2.0, 0.0]).tolist() == [0.0, 0.0, 0.0]
    g = grad_of(lambda t: t.prod(axis=1).sum(), [[0.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert g.tolist() == [[6.0, 0.0, 0.0], [6.0, 3.0, 2.0]]
    # prod is multilinear, so finite differences are exact at zeros too, to second order
    for values in ([[0.0, 2.0, 3.0], [1.5, 2.0, -3.0]], [[0.0, 0.0, 3.0], [0.0, 2.0, 0.0]]):
        check_grads(lambda t: cr.prod(t, axis=1), np.array(values))
        check_grads(lambda t: cr.prod(t, axis=0, keepdims=True), np.array(values))
        check_grads(cr.prod, np.array(values))


def test_prod_hessian_at_zeros_is_symmetric_and_exact():
    x = cr.tensor([0.0, 2.0, 3.0], requires_grad=True)
    cr.prod(x).backward(create_graph=True)
    rows = []
    for i in range(3):
        first = x.grad
        x.grad = None
        first[i].backward(retain_graph=True)
        rows.append(x.grad.tolist())
        x.grad = first
    assert rows == [[0.0, 3.0, 2.0], [3.0, 0.0, 0.0], [2.0, 0.0, 0.0]]


def test_logsumexp_of_huge_values():
    x = cr.tensor([1000.0, 1000.0, 990.0], requires_grad=True)
    y = cr.logsumexp(x)
    assert np.isfinite(y.item()) and y.item() == pytest.approx(1000 + np.log(2 + np.exp(-10)))
    y.backward()
    assert np.all(np.isfinite(x.grad.data)) and x.grad.data.sum() == pytest.approx(1.0)
    assert cr.logsumexp(cr.tensor([-1000.0, -1000.0])).item() == pytest.approx(-1000 + np.log(2))
    assert cr.logsumexp(cr.tensor([-np.inf, 0.0])).item() == 0.0


def test_axis_errors_are_clear():
    x = cr.tensor(np.ones((2, 3)))
    with pytest.raises(cr.ShapeError, match="axis 2 is out of range"):
        x.sum(axis=2)
    with pytest.raises(cr.ShapeError, match="repeats"):
        x.mean(axis=(0, -2))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(), seed=st.integers(0, 99))
def test_softmax_and_log_softmax_over_any_axis(name, shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    shifted = x - x.max(axis=axis, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    expected = log_p if name == "log_softmax" else np.exp(log_p)
    fn = getattr(cr, name)
    np.testing.assert_allclose(fn(x, axis=axis).data, expected, rtol=1e-12, atol=1e-15)
    check_grads(lambda t: fn(t, axis=axis), x, seed=seed)
