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
