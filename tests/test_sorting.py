"""sort, partition and median (differentiable) and the integer positions (argsort, argmax, ...) against NumPy and
finite differences in both modes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import chainrule as cr
from tests.gradients import check_function

seeds = st.integers(0, 2**16)


@settings(max_examples=30, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), seed=seeds, data=st.data())
def test_sort_partition_median(shape, seed, data):
    x = np.random.default_rng(seed).standard_normal(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    check_function(lambda a: cr.sort(a, axis=axis), lambda a: np.sort(a, axis=axis), x)
    check_function(lambda a: cr.median(a, axis=axis), lambda a: np.median(a, axis=axis), x)
    keep = data.draw(st.booleans())
    check_function(
        lambda a: cr.median(a, axis=axis, keepdims=keep), lambda a: np.median(a, axis=axis, keepdims=keep), x
    )
    if axis is not None:
        kth = data.draw(st.integers(0, shape[axis] - 1))
        # the elements around kth are in no particular order: compare the kth and the sorted halves
        ours = cr.partition(x, kth, axis=axis).data
        np.testing.assert_array_equal(np.take(ours, [kth], axis=axis), np.take(np.sort(x, axis=axis), [kth], axis=axis))
        check_function(
            lambda a: cr.sort(cr.partition(a, kth, axis=axis), axis=axis), lambda a: np.sort(a, axis=axis), x
        )


def test_median_over_several_axes():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for axis in [(0, 2), (1, 2), (0, 1, 2)]:
        for keep in (False, True):
            check_function(
                lambda a: cr.median(a, axis=axis, keepdims=keep), lambda a: np.median(a, axis=axis, keepdims=keep), x
            )


def test_sort_sends_each_gradient_to_the_element_that_landed_there():
    x = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    (cr.sort(x) * cr.tensor([10.0, 20.0, 30.0])).sum().backward()
    assert x.grad.tolist() == [30.0, 10.0, 20.0]


def test_positions_are_integer_tensors_without_gradient():
    x = cr.tensor([[3.0, 1.0], [2.0, 5.0]], requires_grad=True)
    for ours, theirs in ((cr.argsort, np.argsort), (cr.argmax, np.argmax), (cr.argmin, np.argmin)):
        got = ours(x, axis=0)
        assert not got.requires_grad and got.dtype.kind == "i"
        np.testing.assert_array_equal(got.data, theirs(x.data, axis=0))
        np.testing.assert_array_equal(theirs(x, axis=0).data, theirs(x.data, axis=0))  # NumPy's, dispatched
    assert int(x.argmax()) == 3 and x.argsort().shape == (2, 2)
    np.testing.assert_array_equal(cr.argpartition(x, 0, axis=None).data, np.argpartition(x.data, 0, axis=None))


@pytest.mark.parametrize("fn", [np.sort, np.median, lambda a: np.partition(a, 1)])
def test_numpy_calls_differentiate(fn):
    x = cr.tensor(np.random.default_rng(1).standard_normal(5), requires_grad=True)
    out = fn(x)
    assert isinstance(out, cr.Tensor) and out.requires_grad
