"""The incomplete gamma and beta functions: values against SciPy, derivatives in every argument (the shapes by
the differentiated series and continued fractions) against a 30-digit mpmath reference and against central
differences, first and second order, both modes, in both regions of each algorithm."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_forward, check_grads

scipy_special = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")
import chainrule.scipy.special as S  # noqa: E402
from chainrule.ops.incomplete import betainc_jet, gammainc_jet  # noqa: E402

mpmath.mp.dps = 30


def _lower_gamma(a, x):
    return mpmath.gammainc(a, 0, x, regularized=True)


def _beta(a, b, x):
    return mpmath.betainc(a, b, 0, x, regularized=True)


# (a, x): the series (x < a + 1) and the continued fraction, small and large shapes, both tails
GAMMA_POINTS = [(0.05, 1e-3), (0.3, 0.1), (0.3, 5.0), (2.5, 1.0), (2.5, 3.6), (10.0, 9.0), (10.0, 12.0),
                (50.0, 45.0), (50.0, 60.0), (5.0, 40.0), (3.0, 0.01), (400.0, 380.0)]  # fmt: skip
BETA_POINTS = [(2.0, 3.0, 0.3), (2.0, 3.0, 0.8), (0.5, 0.5, 0.1), (20.0, 30.0, 0.4), (200.0, 100.0, 0.66),
               (1.5, 0.7, 0.99), (0.2, 5.0, 0.01)]  # fmt: skip


@pytest.mark.parametrize("a, x", GAMMA_POINTS)
def test_gammainc_shape_derivatives_match_a_30_digit_reference(a, x):
    jet = gammainc_jet(np, np.array(a), np.array(x))
    for order, got in ((1, jet.a), (2, jet.aa)):
        expected = float(mpmath.diff(lambda s: _lower_gamma(s, x), a, order))
        assert got == pytest.approx(expected, rel=1e-11, abs=1e-300), (order, got, expected)


@pytest.mark.parametrize("a, b, x", BETA_POINTS)
def test_betainc_shape_derivatives_match_a_30_digit_reference(a, b, x):
    jet = betainc_jet(np, np.array(a), np.array(b), np.array(x))
    for order, got in (((1, 0), jet.a), ((0, 1), jet.b), ((2, 0), jet.aa), ((1, 1), jet.ab), ((0, 2), jet.bb)):
        expected = float(mpmath.diff(lambda s, t: _beta(s, t, x), (a, b), order))
        assert got == pytest.approx(expected, rel=1e-11), (order, got, expected)


shape = st.floats(0.3, 30.0)


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_gammainc_and_gammaincc_in_both_arguments(data):
    n = data.draw(st.integers(1, 4))
    a = np.array(data.draw(st.lists(shape, min_size=n, max_size=n)))
    x = a * np.array(data.draw(st.lists(st.floats(0.1, 3.0), min_size=n, max_size=n)))  # both regions
    np.testing.assert_allclose(S.gammainc(a, x).numpy(), scipy_special.gammainc(a, x), rtol=1e-13)
    np.testing.assert_allclose(S.gammaincc(a, x).numpy(), scipy_special.gammaincc(a, x), rtol=1e-13)
    for fn in (S.gammainc, S.gammaincc):
        check_grads(fn, a, x, rtol=1e-4)
        check_forward(fn, a, x)


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_betainc_in_all_three_arguments(data):
    n = data.draw(st.integers(1, 4))
    a, b = (np.array(data.draw(st.lists(shape, min_size=n, max_size=n))) for _ in range(2))
    x = np.array(data.draw(st.lists(st.floats(0.02, 0.98), min_size=n, max_size=n)))
    np.testing.assert_allclose(S.betainc(a, b, x).numpy(), scipy_special.betainc(a, b, x), rtol=1e-13)
    check_grads(S.betainc, a, b, x, rtol=1e-4)
    check_forward(S.betainc, a, b, x)


def test_broadcasting_and_vmap_over_the_shape():
    a = np.array([[0.7], [2.0], [9.0]])
    x = np.array([0.5, 3.0, 11.0])
    check_grads(S.gammainc, a, x)
    per_row = cr.vmap(cr.grad(lambda s: cr.sum(S.gammainc(s, x))))(np.array([0.7, 2.0, 9.0]))
    whole = cr.grad(lambda s: cr.sum(S.gammainc(s, x)))(a)
    np.testing.assert_allclose(per_row.numpy(), whole.numpy()[:, 0], rtol=1e-13)


def test_edges_follow_scipy_and_have_finite_derivatives():
    a = cr.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x = np.array([0.0, 1.0, np.inf])
    value = S.gammainc(a, x)
    np.testing.assert_array_equal(value.numpy(), scipy_special.gammainc(2.0, x))
    value.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy()[[0, 2]], [0.0, 0.0])
    assert np.isfinite(a.grad.numpy()).all()
    assert np.isnan(S.gammainc(-1.0, 1.0).item()) and np.isnan(scipy_special.gammainc(-1.0, 1.0))


def test_a_third_derivative_in_a_shape_is_refused_by_name():
    third = cr.grad(cr.grad(cr.grad(lambda s: S.gammainc(s, 2.0))))
    with pytest.raises(cr.ChainruleError, match="gammainc: a third derivative in a shape"):
        third(1.5)
    # in x the third derivative is a closed form
    assert np.isfinite(cr.grad(cr.grad(cr.grad(lambda t: S.gammainc(1.5, t))))(2.0).item())
