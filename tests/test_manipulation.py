"""Array manipulation routines (gathering, rearranging, joining, splitting, padding) against NumPy and finite
differences in both modes, first and second order, on shapes, axes and arguments Hypothesis draws."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import chainrule as cr
from tests.gradients import check_function

seeds = st.integers(0, 2**16)
shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, data=st.data())
def test_take_and_take_along_axis(shape, seed, data):
    x = _data(shape, seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    indices = np.asarray(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5)))
    check_function(lambda a: cr.take(a, indices, axis=axis), lambda a: np.take(a, indices, axis=axis), x)
    wrapped = indices * 3 + 1
    for mode in ("wrap", "clip"):
        check_function(lambda a: cr.take(a, wrapped, mode=mode), lambda a: np.take(a, wrapped, mode=mode), x, order=1)
    order = np.argsort(_data(shape, seed + 1), axis=axis)
    check_function(
        lambda a: cr.take_along_axis(a, order, axis=axis), lambda a: np.take_along_axis(a, order, axis=axis), x
    )


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, data=st.data())
def test_repeat_and_tile(shape, seed, data):
    x = _data(shape, seed)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    length = x.size if axis is None else shape[axis]
    repeats = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=length, max_size=length)))
    check_function(lambda a: cr.repeat(a, repeats, axis=axis), lambda a: np.repeat(a, repeats, axis=axis), x)
    reps = data.draw(st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=4)))
    check_function(lambda a: cr.tile(a, reps), lambda a: np.tile(a, reps), x)


@settings(max_examples=25, deadline=None)
@given(shape=array_shapes(min_dims=2, max_dims=4, max_side=4), seed=seeds, data=st.data())
def test_rearranging(shape, seed, data):
    x = _data(shape, seed)
    ndim = len(shape)
    k = data.draw(st.integers(-5, 5))
    axes = tuple(data.draw(st.permutations(range(ndim)))[:2])
    check_function(lambda a: cr.rot90(a, k, axes), lambda a: np.rot90(a, k, axes), x)
    check_function(cr.fliplr, np.fliplr, x)
    check_function(cr.flipud, np.flipud, x)
    axis, start = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim))
    check_function(lambda a: cr.rollaxis(a, axis, start), lambda a: np.rollaxis(a, axis, start), x)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 2)], ids=str)
def test_atleast(shape):
    x = _data(shape, 0)
    for ours, theirs in (
        (cr.atleast_1d, np.atleast_1d),
        (cr.atleast_2d, np.atleast_2d),
        (cr.atleast_3d, np.atleast_3d),
    ):
        check_function(ours, theirs, x)
    both = cr.atleast_2d(x, x)
    assert isinstance(both, tuple) and [t.shape for t in both] == [np.atleast_2d(x).shape] * 2


JOINS = {
    "hstack 1-d": (cr.hstack, np.hstack, [(3,), (2,)]),
    "hstack": (cr.hstack, np.hstack, [(2, 3), (2, 1)]),
    "vstack 1-d": (cr.vstack, np.vstack, [(3,), (3,)]),
    "vstack": (cr.vstack, np.vstack, [(2, 3), (3,)]),
    "dstack": (cr.dstack, np.dstack, [(2, 3), (2, 3)]),
    "dstack 1-d": (cr.dstack, np.dstack, [(3,), (3,)]),
    "column_stack": (cr.column_stack, np.column_stack, [(3,), (3, 2)]),
}


@pytest.mark.parametrize("name", sorted(JOINS))
def test_joining(name):
    ours, theirs, shapes = JOINS[name]
    arrays = [_data(s, k) for k, s in enumerate(shapes)]
    check_function(lambda *xs: ours(list(xs)), lambda *xs: theirs(list(xs)), *arrays)


def test_append():
    a, b = _data((2, 3), 0), _data((1, 3), 1)
    check_function(cr.append, np.append, a, b)
    check_function(lambda a, b: cr.append(a, b, axis=0), lambda a, b: np.append(a, b, axis=0), a, b)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, data=st.data())
def test_splitting(shape, seed, data):
    x = _data(shape, seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    how = data.draw(st.one_of(st.integers(1, 5), st.lists(st.integers(0, n), max_size=3).map(sorted)))
    weights = [1.0, -2.0, 0.5, 3.0, 1.5, -1.0]

    def joined(split, a):  # the pieces weighted differently, so each piece's gradient is checked
        pieces = split(a, how, axis=axis)
        return [p * w for p, w in zip(pieces, weights)]

    check_function(
        lambda a: cr.concatenate(joined(cr.array_split, a), axis=axis),
        lambda a: np.concatenate(joined(np.array_split, a), axis=axis),
        x,
    )
    if isinstance(how, int) and n % how == 0:
        assert [p.shape for p in cr.split(x, how, axis=axis)] == [p.shape for p in np.split(x, how, axis=axis)]
    elif isinstance(how, int):
        with pytest.raises(cr.ShapeError, match="array_split"):
            cr.split(x, how, axis=axis)


def test_hsplit_vsplit_dsplit():
    x = _data((4, 2, 6), 0)
    for ours, theirs, how, axis in (
        (cr.hsplit, np.hsplit, 2, 1),
        (cr.vsplit, np.vsplit, [1, 3], 0),
        (cr.dsplit, np.dsplit, 3, 2),
    ):
        check_function(
            lambda a: cr.concatenate([p * (k + 1) for k, p in enumerate(ours(a, how))], axis=axis),
            lambda a: np.concatenate([p * (k + 1) for k, p in enumerate(theirs(a, how))], axis=axis),
            x,
        )
    with pytest.raises(cr.ShapeError, match="dsplit"):
        cr.dsplit(np.ones((2, 2)), 2)


PAD_MODES = [
    ("constant", {}),
    ("constant", {"constant_values": ((1.5, -2.0), (3.0, 4.0), (0.5, 0.25))}),
    ("edge", {}),
    ("linear_ramp", {}),
    ("linear_ramp", {"end_values": ((1.0, -2.0), (0.5, 3.0), (2.0, 2.0))}),
    ("maximum", {}),
    ("minimum", {"stat_length": 2}),
    ("mean", {"stat_length": ((1, 2), (2, 1), (3, 3))}),
    ("median", {}),
    ("median", {"stat_length": 2}),
    ("reflect", {}),
    ("reflect", {"reflect_type": "odd"}),
    ("symmetric", {}),
    ("symmetric", {"reflect_type": "odd"}),
    ("wrap", {}),
]


@pytest.mark.parametrize("mode, options", PAD_MODES, ids=[f"{m} {sorted(o)}" for m, o in PAD_MODES])
@settings(max_examples=8, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), seed=seeds, data=st.data())
def test_pad_every_mode(mode, options, shape, seed, data):
    x = _data(shape, seed)
    widths = [tuple(data.draw(st.lists(st.integers(0, 7), min_size=2, max_size=2))) for _ in shape]
    options = {key: value[: len(shape)] if isinstance(value, tuple) else value for key, value in options.items()}
    check_function(
        lambda a: cr.pad(a, widths, mode=mode, **options), lambda a: np.pad(a, widths, mode=mode, **options), x
    )


def test_pad_width_forms_and_mistakes():
    x = _data((2, 3), 0)
    for widths in (1, (1,), (1, 2), ((1, 2),), ((1, 2), (0, 3))):
        np.testing.assert_array_equal(cr.pad(x, widths).data, np.pad(x, widths))
    assert cr.pad(x, 2, mode="empty").shape == (6, 7)
    with pytest.raises(ValueError, match="mode 'bogus'"):
        cr.pad(x, 1, mode="bogus")
    with pytest.raises(ValueError, match="no argument stat_length"):
        cr.pad(x, 1, mode="edge", stat_length=2)
    with pytest.raises(ValueError, match="negative"):
        cr.pad(x, -1)


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_diag(k):
    check_function(lambda v: cr.diag(v, k), lambda v: np.diag(v, k), _data(3, 0))
    check_function(lambda m: cr.diag(m, k), lambda m: np.diag(m, k), _data((3, 4), 1))


def test_numpy_dispatches_to_the_differentiable_versions():
    x = cr.tensor(_data((3, 4), 0), requires_grad=True)
    pieces = np.array_split(np.pad(np.tile(x, 2), 1, mode="reflect"), 2, axis=1)
    total = cr.sum(np.vstack(pieces) ** 2) + cr.sum(np.take(x, [1, 1]) ** 3) + cr.sum(np.rot90(x)[0])
    total.backward()
    expected = cr.grad(
        lambda x: (
            cr.sum(cr.vstack(cr.array_split(cr.pad(cr.tile(x, 2), 1, mode="reflect"), 2, axis=1)) ** 2)
            + cr.sum(cr.take(x, [1, 1]) ** 3)
            + cr.sum(cr.rot90(x)[0])
        )
    )(x.detach())
    np.testing.assert_allclose(x.grad.data, expected.data)
    assert x.repeat(2, axis=0).shape == (6, 4) and x.take([0]).shape == (1,)
