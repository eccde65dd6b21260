"""cr.fft: values against np.fft, and reverse, forward and second-order derivatives against central differences
(JAX's convention for complex numbers), on drawn shapes, lengths n (padding and cutting), axes and norms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_complex

NORMS = [None, "backward", "ortho", "forward"]
ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
MANY_AXES = ["fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2", "rfft2", "irfft2"]
REAL_INPUT = {"rfft", "ihfft", "rfftn", "rfft2"}


def draw_input(data, name, ndim_min=1):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=ndim_min, max_size=3)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal(shape)
    if name not in REAL_INPUT and data.draw(st.booleans()):
        x = x + 1j * rng.standard_normal(shape)
    return x


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(ONE_AXIS), data=st.data())
def test_one_axis_transforms(name, data):
    x = draw_input(data, name)
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = data.draw(st.one_of(st.none(), st.integers(2, 7)))
    if name in ("irfft", "hfft") and n is None and x.shape[axis] < 2:
        n = 2  # NumPy needs an output of at least one value
    norm = data.draw(st.sampled_from(NORMS))
    ours, numpys = getattr(cr.fft, name), getattr(np.fft, name)
    np.testing.assert_allclose(ours(x, n, axis, norm).numpy(), numpys(x, n, axis, norm), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(numpys(cr.tensor(x), n=n, axis=axis, norm=norm).numpy(), numpys(x, n, axis, norm))
    check_complex(lambda t: ours(t, n, axis, norm), x)


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(MANY_AXES), data=st.data())
def test_n_dimensional_transforms(name, data):
    x = draw_input(data, name, ndim_min=2)
    axes = (-2, -1) if name.endswith("2") else data.draw(st.permutations(range(x.ndim)).map(lambda p: tuple(p[:2])))
    s = data.draw(st.one_of(st.none(), st.tuples(st.integers(2, 6), st.integers(2, 6))))
    norm = data.draw(st.sampled_from(NORMS))
    ours, numpys = getattr(cr.fft, name), getattr(np.fft, name)
    np.testing.assert_allclose(ours(x, s, axes, norm).numpy(), numpys(x, s, axes, norm), rtol=1e-12, atol=1e-12)
    check_complex(lambda t: ours(t, s, axes, norm), x)


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("axes", [None, 0, (1,), (0, 1)])
def test_shifts(name, axes):
    x = np.random.default_rng(0).standard_normal((4, 5)) + 1j
    np.testing.assert_array_equal(getattr(cr.fft, name)(x, axes).numpy(), getattr(np.fft, name)(x, axes))
    check_complex(lambda t: getattr(cr.fft, name)(t, axes), x)


def test_inverse_pairs_round_trip_with_gradients():
    x = np.random.default_rng(1).standard_normal(8)
    g = cr.grad(lambda t: cr.sum(cr.fft.irfft(cr.fft.rfft(t), 8) ** 2))(x)
    np.testing.assert_allclose(g.numpy(), 2 * x, rtol=1e-12)
    g = cr.grad(lambda t: cr.sum(cr.abs(cr.fft.ifft(cr.fft.fft(t))) ** 2))(x)
    np.testing.assert_allclose(g.numpy(), 2 * x, rtol=1e-12)


def test_power_spectrum_gradient_is_parseval():
    # sum |rfft(x)|^2 weighted to count every frequency once equals n sum x^2: its gradient is 2 n x
    x = np.random.default_rng(2).standard_normal(16)
    g = cr.grad(lambda t: cr.sum(cr.abs(cr.fft.fft(t)) ** 2))(x)
    np.testing.assert_allclose(g.numpy(), 2 * 16 * x, rtol=1e-12)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: cr.fft.fft(np.ones(4), norm="sideways"), "norm must be one of"),
        (lambda: cr.fft.fft(np.ones(4), n=0), "n must be a positive integer"),
        (lambda: cr.fft.fft(np.ones(4), axis=1), "axis 1 is out of range"),
        (lambda: cr.fft.fft(np.float64(1.0)), "at least one axis"),
        (lambda: cr.fft.rfft(np.ones(4) + 1j), "must be real"),
        (lambda: cr.fft.fftn(np.ones((2, 2)), s=(2,), axes=(0, 1)), "same length"),
        (lambda: cr.fft.fftn(np.ones((2, 2)), axes=(0, 0)), "repeated axes"),
    ],
)
def test_bad_arguments_are_clear_errors(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


def test_vmap_and_jit_of_a_transform():
    x = np.random.default_rng(3).standard_normal((3, 8))
    batched = cr.vmap(lambda t: cr.abs(cr.fft.rfft(t)))(x)
    np.testing.assert_allclose(batched.numpy(), np.abs(np.fft.rfft(x, axis=-1)), rtol=1e-12)
    jitted = cr.jit(lambda t: cr.sum(cr.abs(cr.fft.fft(t)) ** 2))
    for k in range(3):
        np.testing.assert_allclose(jitted(cr.tensor(x + k)).item(), np.sum(np.abs(np.fft.fft(x + k)) ** 2))
