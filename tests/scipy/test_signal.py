"""cr.scipy.signal: convolve and correlate against SciPy in every mode and number of axes, with both arguments'
derivatives against central differences (first and second order, forward mode, complex inputs)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gradients import check_complex, check_forward, check_grads

scipy_signal = pytest.importorskip("scipy.signal")
import chainrule.scipy.signal as S  # noqa: E402


@pytest.mark.parametrize("name", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_against_scipy_and_differences(name, mode, data):
    ndim = data.draw(st.integers(1, 3))
    big = tuple(data.draw(st.lists(st.integers(2, 5), min_size=ndim, max_size=ndim)))
    small = tuple(data.draw(st.integers(1, n)) for n in big)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    a, b = rng.standard_normal(big), rng.standard_normal(small)
    if data.draw(st.booleans()):
        a, b = b, a  # the smaller first: "valid" swaps them, as SciPy does
    ours, theirs = getattr(S, name), getattr(scipy_signal, name)
    if mode == "valid" and not (
        all(m >= n for m, n in zip(a.shape, b.shape)) or all(m <= n for m, n in zip(a.shape, b.shape))
    ):
        return
    np.testing.assert_allclose(ours(a, b, mode).numpy(), theirs(a, b, mode), rtol=1e-10, atol=1e-12)
    check_grads(lambda x, y: ours(x, y, mode), a, b)
    check_forward(lambda x, y: ours(x, y, mode), a, b)


def test_complex_inputs():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    b = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    np.testing.assert_allclose(S.correlate(a, b).numpy(), scipy_signal.correlate(a, b))
    check_complex(lambda x, y: S.correlate(x, y, "same"), a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        S.convolve(np.ones(3), np.ones(2), mode="circular")
    with pytest.raises(ValueError, match="same number of axes"):
        S.convolve(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least as large"):
        S.convolve(np.ones((3, 1)), np.ones((1, 3)), mode="valid")


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("seed", range(3))
def test_convolve_along_chosen_axes_with_summed_axes(mode, seed):
    """axes= and dot_axes= (HIPS autograd's generalisation): against SciPy slice by slice, and differentiated."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, 5, 3))  # axes: 0 summed, 1 convolved, 2 kept
    b = rng.standard_normal((4, 2, 3))  # axes: 0 kept, 1 summed, 2 convolved
    ours = S.convolve(a, b, mode=mode, axes=([1], [2]), dot_axes=([0], [1])).numpy()
    expected = np.array(
        [
            [sum(scipy_signal.convolve(a[d, :, i], b[j, d, :], mode) for d in range(2)) for j in range(4)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(ours, expected, atol=1e-12)
    check_grads(lambda x, y: S.convolve(x, y, mode=mode, axes=([1], [2]), dot_axes=([0], [1])), a, b)


def test_convolve_axes_are_checked():
    a, b = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="dot_axes pair axis 0 of in1 \\(size 2\\) with axis 0 of in2 \\(size 4\\)"):
        S.convolve(a, b, axes=([1], [1]), dot_axes=([0], [0]))
    with pytest.raises(ValueError, match="used twice"):
        S.convolve(a, b, axes=([1], [1]), dot_axes=([1], [1]))
    with pytest.raises(ValueError, match="as many axes"):
        S.convolve(a, b, axes=([0, 1], [1]))
