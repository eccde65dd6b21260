"""cr.scipy.special: values against SciPy, reverse and forward rules against central differences, first and
second order, at points Hypothesis draws inside each function's domain."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_forward, check_grads

scipy_special = pytest.importorskip("scipy.special")
import chainrule.scipy.special as S  # noqa: E402

positive = st.floats(0.2, 6.0)
unit = st.floats(-0.9, 0.9)
anywhere = st.floats(-4.0, 4.0)

UNARY = {
    "gammaln": positive,
    "digamma": positive,
    "gamma": st.floats(0.2, 4.0),
    "rgamma": st.floats(0.2, 4.0),
    "erf": anywhere,
    "erfc": anywhere,
    "erfinv": unit,
    "erfcinv": st.floats(0.1, 1.9),
    "i0": anywhere,
    "i1": anywhere,
    "i0e": st.floats(0.05, 4.0) | st.floats(-4.0, -0.05),  # |x| has a kink at 0
    "i1e": st.floats(0.05, 4.0) | st.floats(-4.0, -0.05),
    "expit": anywhere,
    "logit": st.floats(0.05, 0.95),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_functions_of_one_variable(name, data):
    x = np.array(data.draw(st.lists(UNARY[name], min_size=1, max_size=4)))
    ours, theirs = getattr(S, name), getattr(scipy_special, name)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x), rtol=1e-12, atol=1e-14)
    check_grads(ours, x)
    check_forward(ours, x)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_polygamma(n):
    x = np.array([0.4, 1.3, 3.7])
    np.testing.assert_allclose(S.polygamma(n, x).numpy(), scipy_special.polygamma(n, x), rtol=1e-12)
    check_grads(lambda t: S.polygamma(n, t), x)
    check_forward(lambda t: S.polygamma(n, t), x)
    with pytest.raises(TypeError, match="order n"):
        S.polygamma(cr.tensor(1.0, requires_grad=True), x)


@pytest.mark.parametrize("name", ["beta", "betaln"])
def test_beta(name):
    a, b = np.array([0.5, 1.5, 3.0]), np.array([2.0, 0.7, 1.1])
    np.testing.assert_allclose(getattr(S, name)(a, b).numpy(), getattr(scipy_special, name)(a, b), rtol=1e-12)
    check_grads(getattr(S, name), a, b)
    check_forward(getattr(S, name), a, b)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_x_log_functions_and_their_zero(name):
    x, y = np.array([0.0, 1.5, 2.0]), np.array([0.0, 0.7, 1.1])
    np.testing.assert_allclose(getattr(S, name)(x, y).numpy(), getattr(scipy_special, name)(x, y))
    gy = cr.grad(lambda t: cr.sum(getattr(S, name)(x, t)))(y)
    assert gy.numpy()[0] == 0.0  # x = 0: the term is 0 whatever y is
    check_grads(getattr(S, name), x[1:], y[1:] + 0.3)


@pytest.mark.parametrize("v", [0.0, 1.0, 2.5])
def test_bessel_functions_of_any_order(v):
    x = np.array([0.3, 1.2, 3.5])
    np.testing.assert_allclose(S.iv(v, x).numpy(), scipy_special.iv(v, x), rtol=1e-12)
    np.testing.assert_allclose(S.ive(v, x).numpy(), scipy_special.ive(v, x), rtol=1e-12)
    check_grads(lambda t: S.iv(v, t), x)
    check_grads(lambda t: S.ive(v, t), x)
    with pytest.raises(TypeError, match="order v"):
        S.iv(cr.tensor(1.0, requires_grad=True), x)


def test_bessel_functions_at_zero_take_their_limits():
    g = cr.grad(lambda t: cr.sum(S.i1(t) + S.i1e(t)))(np.array([0.0]))
    np.testing.assert_allclose(g.numpy(), [1.0])  # i1'(0) = 1/2, i1e'(0) = 1/2


@pytest.mark.parametrize("b", [None, [1.0, -2.0, 3.0, 0.5]])
@pytest.mark.parametrize("axis", [None, 1])
def test_logsumexp_with_b_and_sign(b, axis):
    a = np.random.default_rng(0).standard_normal((2, 4))
    ours = S.logsumexp(a, axis=axis, b=b, return_sign=True)
    theirs = scipy_special.logsumexp(a, axis=axis, b=b, return_sign=True)
    np.testing.assert_allclose(ours[0].numpy(), theirs[0], rtol=1e-12)
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1])
    check_grads(lambda t: S.logsumexp(t, axis=axis, b=b), a)


def test_softmax_and_log_softmax_match_scipy():
    a = np.random.default_rng(1).standard_normal((3, 4))
    for axis in (None, 0, 1):
        np.testing.assert_allclose(S.softmax(a, axis=axis).numpy(), scipy_special.softmax(a, axis=axis))
        np.testing.assert_allclose(S.log_softmax(a, axis=axis).numpy(), scipy_special.log_softmax(a, axis=axis))
        check_grads(lambda t, axis=axis: S.log_softmax(t, axis=axis), a)


def test_without_scipy_the_module_says_which_extra_to_install():
    code = "import sys; sys.modules['scipy'] = None; import chainrule.scipy"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and "pip install 'chainrule[scipy]'" in result.stderr


@pytest.mark.parametrize("v", [0, 1, 2, 2.5])
def test_bessel_functions_of_both_kinds(v):
    x = np.array([0.7, 1.9, 4.2])
    for ours, theirs in ((S.jv, scipy_special.jv), (S.yv, scipy_special.yv)):
        np.testing.assert_allclose(ours(v, x).numpy(), theirs(v, x), rtol=1e-12)
        check_grads(lambda t, ours=ours: ours(v, t), x)
    for name in ("j0", "j1", "y0", "y1"):
        np.testing.assert_allclose(getattr(S, name)(x).numpy(), getattr(scipy_special, name)(x), rtol=1e-12)
    np.testing.assert_allclose(S.jn(3, x).numpy(), scipy_special.jn(3, x), rtol=1e-12)
    with pytest.raises(TypeError, match="no derivative with respect to the order v"):
        S.jv(cr.tensor(1.0, requires_grad=True), x)


def test_multigammaln():
    a = np.array([3.1, 4.5])
    np.testing.assert_allclose(S.multigammaln(a, 3).numpy(), scipy_special.multigammaln(a, 3), rtol=1e-12)
    check_grads(lambda t: S.multigammaln(t, 3), a)


def test_xlogy_mixed_second_derivative_where_x_is_zero():
    # d/dy xlogy(x, y) = x/y: its derivative in x is 1/y, also at x = 0
    mixed = cr.grad(lambda x: cr.grad(lambda y: S.xlogy(x, y))(0.5))(0.0)
    assert mixed.item() == pytest.approx(2.0)


@pytest.mark.parametrize("seed", range(5))
def test_xlogy_and_xlog1py_to_second_order_where_x_has_zeros(seed):
    """The class behind the beta density's bug: a derivative masked on one operand's zero cut the mixed second
    derivative there. Random points with zeros among x, every derivative to second order."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, 6) * (rng.random(6) < 0.5)
    y = rng.uniform(0.2, 3, 6)
    check_grads(S.xlogy, x, y)
    check_grads(S.xlog1py, x, y - 0.1)


def test_rgamma_is_smooth_through_the_poles_of_gamma():
    """1/Γ is entire: at 0, -1, -2, ... its value is 0 (as SciPy) and its derivatives are finite, (-1)^n n! at -n;
    first and second derivatives against a 30-digit reference, under vmap too."""
    mpmath = pytest.importorskip("mpmath")
    x = np.array([0.0, -1.0, -2.0, -3.0, -2.5, -0.4, 0.3, 3.0])
    np.testing.assert_allclose(S.rgamma(x).numpy(), scipy_special.rgamma(x), rtol=1e-13, atol=1e-300)
    first = cr.vmap(cr.grad(S.rgamma))(x).numpy()
    second = cr.vmap(cr.grad(cr.grad(S.rgamma)))(x).numpy()
    np.testing.assert_allclose(first[:4], [1.0, -1.0, 2.0, -6.0], rtol=1e-13)
    for order, got in ((1, first), (2, second)):
        expected = [float(mpmath.diff(mpmath.rgamma, v, order)) for v in x]
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_erf_of_complex_numbers_and_gammasgn():
    z = np.array([0.4 + 0.3j, -1.0 + 2.0j])
    for name, sign in (("erf", 1), ("erfc", -1)):
        ours = getattr(S, name)
        np.testing.assert_allclose(ours(z).numpy(), getattr(scipy_special, name)(z), rtol=1e-14)
        pulled = cr.vjp(ours, z)[1](np.ones(2))[0].numpy()  # holomorphic: g·f'(z)
        np.testing.assert_allclose(pulled, sign * 2 / np.sqrt(np.pi) * np.exp(-z * z), rtol=1e-14)
        tangent = cr.jvp(ours, (z,), (np.ones(2) * (1 + 1j),))[1].numpy()
        np.testing.assert_allclose(tangent, (1 + 1j) * sign * 2 / np.sqrt(np.pi) * np.exp(-z * z), rtol=1e-14)
    with pytest.raises(cr.DtypeError, match="cr.scipy.special.erf"):
        cr.erf(cr.tensor(z))
    x = np.array([-2.5, -0.5, 0.5, 3.0])
    np.testing.assert_array_equal(S.gammasgn(x).numpy(), scipy_special.gammasgn(x))
    np.testing.assert_array_equal(cr.vmap(S.gammasgn)(x).numpy(), scipy_special.gammasgn(x))


@pytest.mark.parametrize("a, b", [(200.0, 200.0), (0.5, 200.0), (170.0, 5.0), (-0.5, 2.0), (-2.5, 1.2)])
def test_beta_where_the_gammas_overflow(a, b):
    assert S.beta(a, b).item() == pytest.approx(scipy_special.beta(a, b), rel=1e-12)
    assert np.isfinite(cr.grad(lambda s: S.beta(s, b))(a).item())


@pytest.mark.parametrize(
    "a, b, return_sign",
    [([1.0, 2.0], [2.0, -1.0], False), ([1.0, 2.0], [2.0, -1.0], True), ([-np.inf, -np.inf], None, True),
     ([np.inf, 1.0], None, True), ([1.0, np.inf], [1.0, 0.0], False)],
)  # fmt: skip
def test_logsumexp_edges_as_scipy(a, b, return_sign):
    ours = S.logsumexp(np.array(a), b=None if b is None else np.array(b), return_sign=return_sign)
    theirs = scipy_special.logsumexp(a, b=b, return_sign=return_sign)
    if return_sign:
        np.testing.assert_array_equal([o.item() for o in ours], theirs)
    else:
        np.testing.assert_array_equal(ours.item(), theirs)


def test_multigammaln_refuses_its_dimension_as_a_variable_and_a_below_its_domain():
    with pytest.raises(TypeError, match="multigammaln"):
        cr.grad(lambda d: S.multigammaln(3.0, d))(2.0)
    with pytest.raises(ValueError, match="greater than"):
        S.multigammaln(0.4, 3)
