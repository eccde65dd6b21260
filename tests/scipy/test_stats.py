"""cr.scipy.stats: values against SciPy, and derivatives in the data and every continuous parameter against
central differences (first and second order) at points drawn inside each distribution's support."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_forward, check_grads

scipy_stats = pytest.importorskip("scipy.stats")
import chainrule.scipy.stats as S  # noqa: E402

CASES = {
    # name: (ours, scipy's, data strategy, parameter strategies)
    "norm.logpdf": (S.norm.logpdf, scipy_stats.norm.logpdf, st.floats(-3, 3), [st.floats(-1, 1), st.floats(0.3, 2)]),
    "norm.cdf": (S.norm.cdf, scipy_stats.norm.cdf, st.floats(-3, 3), [st.floats(-1, 1), st.floats(0.3, 2)]),
    "norm.logcdf": (S.norm.logcdf, scipy_stats.norm.logcdf, st.floats(-30, 3), [st.floats(-1, 1), st.floats(0.5, 2)]),
    "norm.logsf": (S.norm.logsf, scipy_stats.norm.logsf, st.floats(-3, 30), [st.floats(-1, 1), st.floats(0.5, 2)]),
    "t.logpdf": (
        S.t.logpdf,
        scipy_stats.t.logpdf,
        st.floats(-3, 3),
        [st.floats(1, 8), st.floats(-1, 1), st.floats(0.5, 2)],
    ),
    "gamma.logpdf": (S.gamma.logpdf, scipy_stats.gamma.logpdf, st.floats(0.2, 5), [st.floats(0.5, 4)]),
    "chi2.logpdf": (S.chi2.logpdf, scipy_stats.chi2.logpdf, st.floats(0.2, 5), [st.floats(1, 6)]),
    "gamma.cdf": (S.gamma.cdf, scipy_stats.gamma.cdf, st.floats(0.2, 5), [st.floats(0.5, 4)]),
    "gamma.logsf": (
        S.gamma.logsf,
        scipy_stats.gamma.logsf,
        st.floats(0.2, 9),
        [st.floats(0.5, 4), st.floats(-0.1, 0.1), st.floats(0.5, 2)],
    ),  # fmt: skip
    "chi2.cdf": (S.chi2.cdf, scipy_stats.chi2.cdf, st.floats(0.2, 5), [st.floats(1, 6)]),
    "chi2.sf": (S.chi2.sf, scipy_stats.chi2.sf, st.floats(0.2, 9), [st.floats(1, 6)]),
    "t.cdf": (S.t.cdf, scipy_stats.t.cdf, st.floats(-6, 6), [st.floats(1, 8), st.floats(-1, 1), st.floats(0.5, 2)]),
    "t.logcdf": (S.t.logcdf, scipy_stats.t.logcdf, st.floats(-30, 3), [st.floats(1, 8)]),
    "t.logsf": (S.t.logsf, scipy_stats.t.logsf, st.floats(-3, 30), [st.floats(1, 8)]),
    "beta.cdf": (S.beta.cdf, scipy_stats.beta.cdf, st.floats(0.02, 0.98), [st.floats(0.5, 4), st.floats(0.5, 4)]),
    "beta.logsf": (
        S.beta.logsf,
        scipy_stats.beta.logsf,
        st.floats(0.02, 0.98),
        [st.floats(0.5, 4), st.floats(0.5, 4)],
    ),  # fmt: skip
    "beta.logpdf": (
        S.beta.logpdf,
        scipy_stats.beta.logpdf,
        st.floats(0.05, 0.95),
        [st.floats(0.5, 4), st.floats(0.5, 4)],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_densities_and_their_derivatives_in_data_and_parameters(name, data):
    ours, theirs, data_strategy, parameters = CASES[name]
    x = np.array(data.draw(st.lists(data_strategy, min_size=1, max_size=3)))
    params = [np.array(data.draw(p)) for p in parameters]
    np.testing.assert_allclose(ours(x, *params).numpy(), theirs(x, *params), rtol=1e-10, atol=1e-12)
    check_grads(ours, x, *params, rtol=1e-4)
    check_forward(ours, x, *params)


ENTROPIES = {
    "norm": [st.floats(-1, 1), st.floats(0.3, 2)],
    "t": [st.floats(0.5, 30), st.floats(-1, 1), st.floats(0.3, 2)],
    "gamma": [st.floats(0.3, 20), st.floats(-1, 1), st.floats(0.3, 2)],
    "chi2": [st.floats(0.5, 20)],
    "beta": [st.floats(0.3, 20), st.floats(0.3, 20)],
    "poisson": [st.floats(0.05, 300)],
}


@pytest.mark.parametrize("name", sorted(ENTROPIES))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_entropies_and_their_derivatives(name, data):
    params = [np.array(data.draw(p)) for p in ENTROPIES[name]]
    ours, theirs = getattr(S, name).entropy, getattr(scipy_stats, name).entropy
    np.testing.assert_allclose(ours(*params).numpy(), theirs(*params), rtol=1e-9, atol=1e-12)
    check_grads(ours, *params, rtol=1e-4)
    check_forward(ours, *params)


def test_the_poisson_distribution_function_in_its_rate():
    k = np.array([-1.0, 0.0, 2.0, 5.5, 12.0])
    mu = np.array(4.1)
    for name in ("cdf", "sf", "logsf"):
        np.testing.assert_allclose(getattr(S.poisson, name)(k, mu).numpy(), getattr(scipy_stats.poisson, name)(k, mu),
                                   rtol=1e-13)  # fmt: skip
        check_grads(lambda m: getattr(S.poisson, name)(k, m), mu)
    np.testing.assert_allclose(S.poisson.logcdf(k, mu).numpy(), scipy_stats.poisson.logcdf(k, mu), rtol=1e-13)
    with pytest.raises(TypeError, match="k \\(a count\\)"):
        S.poisson.cdf(cr.tensor(2.0, requires_grad=True), mu)


def test_multivariate_normal_and_dirichlet_entropies():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert S.multivariate_normal.entropy(None, cov).item() == pytest.approx(
        scipy_stats.multivariate_normal.entropy(None, cov), rel=1e-13
    )
    check_grads(lambda c: S.multivariate_normal.entropy(None, (c + c.T) / 2), cov)
    alpha = np.array([0.5, 2.0, 7.0])
    assert S.dirichlet.entropy(alpha).item() == pytest.approx(scipy_stats.dirichlet.entropy(alpha), rel=1e-13)
    check_grads(S.dirichlet.entropy, alpha)


def test_t_cdf_at_the_centre_and_far_in_the_tails():
    x = np.array([-1e8, -40.0, 0.0, 1e-12, 40.0])
    np.testing.assert_allclose(S.t.cdf(x, 2.5).numpy(), scipy_stats.t.cdf(x, 2.5), rtol=1e-12)
    np.testing.assert_allclose(S.t.logcdf(x, 2.5).numpy(), scipy_stats.t.logcdf(x, 2.5), rtol=1e-9)
    slope = cr.grad(lambda y: cr.sum(S.t.cdf(y, 2.5)))(x).numpy()
    np.testing.assert_allclose(slope, scipy_stats.t.pdf(x, 2.5), rtol=1e-10)
    check_grads(lambda y, d: S.t.cdf(y, d), np.array([0.0, 0.3]), np.array(2.5))


def test_poisson_pmf_in_its_rate():
    k = np.array([0, 1, 3, 7])
    mu = np.array(2.3)
    np.testing.assert_allclose(S.poisson.logpmf(k, mu).numpy(), scipy_stats.poisson.logpmf(k, mu))
    np.testing.assert_allclose(S.poisson.pmf(k, mu).numpy(), scipy_stats.poisson.pmf(k, mu))
    check_grads(lambda m: S.poisson.logpmf(k, m), mu)
    assert S.poisson.logpmf([-1, 2.5], 2.0).numpy().tolist() == [-np.inf, -np.inf]


def test_multivariate_normal_and_dirichlet():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    xs, mean = np.array([[0.1, 0.2], [1.0, -1.0]]), np.array([0.5, 0.1])
    np.testing.assert_allclose(
        S.multivariate_normal.logpdf(xs, mean, cov).numpy(), scipy_stats.multivariate_normal.logpdf(xs, mean, cov)
    )
    check_grads(lambda x, m, c: S.multivariate_normal.logpdf(x, m, (c + c.T) / 2), xs, mean, cov)
    x, alpha = np.array([0.2, 0.3, 0.5]), np.array([1.5, 2.0, 3.0])
    np.testing.assert_allclose(S.dirichlet.logpdf(x, alpha).numpy(), scipy_stats.dirichlet.logpdf(x, alpha))
    check_grads(lambda y, a: S.dirichlet.logpdf(y / cr.sum(y), a), x, alpha)  # (kept on the simplex)


def test_outside_the_support_the_density_is_zero_and_the_gradient_is_too():
    assert S.gamma.logpdf(-1.0, 2.0).item() == -np.inf
    assert S.beta.pdf(np.array([1.5]), 2.0, 2.0).item() == 0.0
    g = cr.grad(lambda a: cr.sum(S.gamma.pdf(np.array([-1.0, 1.0]), a)))(2.0)
    assert np.isfinite(g.item())


def test_the_normal_tails_stay_finite():
    assert S.norm.logcdf(-40.0).item() == pytest.approx(scipy_stats.norm.logcdf(-40.0), rel=1e-12)
    g = cr.grad(lambda x: S.norm.logcdf(x))(-40.0)
    assert g.item() == pytest.approx(40.0250, rel=1e-4)  # the inverse Mills ratio
    assert S.norm.entropy(0.0, 2.0).item() == pytest.approx(scipy_stats.norm.entropy(0.0, 2.0))


def test_gamma_maximum_likelihood_with_a_newton_step():
    """The README's worked example: the log-likelihood of a gamma sample in its shape, one Newton step with
    cr.hessian, against SciPy's fit."""
    sample = scipy_stats.gamma.rvs(3.0, scale=1.0, size=400, random_state=0)

    def loglik(a):
        return cr.sum(S.gamma.logpdf(sample, a))

    a = cr.tensor(2.0)
    for _ in range(8):
        a = a - cr.grad(loglik)(a) / cr.hessian(loglik)(a)
    expected = scipy_stats.gamma.fit(sample, floc=0, fscale=1)[0]
    assert a.item() == pytest.approx(expected, rel=1e-6)


def test_multivariate_normal_cdf_is_refused_with_the_reason():
    with pytest.raises(NotImplementedError, match="quasi-Monte Carlo"):
        S.multivariate_normal.cdf(np.zeros(2), np.zeros(2), np.eye(2))


@pytest.mark.parametrize("seed", range(3))
def test_parameters_outside_their_domain_give_nan_as_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 0.9, 4)
    shape = rng.uniform(-1, 2, 4)  # some out of the domain
    scale = rng.uniform(-1, 2, 4)
    for ours, theirs in (
        (S.gamma.logpdf(x, shape, 0.0, scale), scipy_stats.gamma.logpdf(x, shape, 0.0, scale)),
        (S.beta.cdf(x, shape, 2.0), scipy_stats.beta.cdf(x, shape, 2.0)),
        (S.t.logpdf(x, shape), scipy_stats.t.logpdf(x, shape)),
        (S.norm.cdf(x, 0.0, scale), scipy_stats.norm.cdf(x, 0.0, scale)),
        (S.chi2.entropy(shape), scipy_stats.chi2.entropy(shape)),
        (S.chi2.pdf(x, shape), scipy_stats.chi2.pdf(x, shape)),
        (S.gamma.pdf(x, shape), scipy_stats.gamma.pdf(x, shape)),
        (S.t.cdf(x, 2.0, 0.0, scale), scipy_stats.t.cdf(x, 2.0, 0.0, scale)),
        (S.beta.logcdf(x, 1.0, 2.0, 0.0, scale), scipy_stats.beta.logcdf(x, 1.0, 2.0, 0.0, scale)),
    ):
        np.testing.assert_array_equal(np.isnan(ours.numpy()), np.isnan(theirs))
    for fn in (S.gamma.logpdf, S.gamma.pdf, S.t.cdf, S.t.logpdf, S.chi2.pdf):
        gradient = cr.grad(lambda a, fn=fn: cr.sum(fn(x, a)))(shape).numpy()
        assert np.all(gradient[shape <= 0] == 0) and np.all(np.isfinite(gradient)), fn


def test_dirichlet_and_multivariate_normal_follow_scipys_layouts():
    alpha = np.array([1.5, 2.0, 3.0])
    x = scipy_stats.dirichlet.rvs(alpha, size=4, random_state=0).T  # (K, N)
    np.testing.assert_allclose(S.dirichlet.logpdf(x, alpha).numpy(), scipy_stats.dirichlet.logpdf(x, alpha))
    np.testing.assert_allclose(S.dirichlet.logpdf(x[:2, 0], alpha).item(), scipy_stats.dirichlet.logpdf(x[:, 0], alpha))
    mvn = scipy_stats.multivariate_normal
    for args in (([0.3, 0.5], 0.0, 2.0), (0.3, 0.0, 2.0), ([0.1, 0.2], [0.0, 0.0], [2.0, 3.0])):
        np.testing.assert_allclose(S.multivariate_normal.logpdf(*args).numpy(), mvn.logpdf(*args), rtol=1e-13)
    assert S.multivariate_normal.entropy(np.zeros(3), 2.0).item() == pytest.approx(mvn.entropy(np.zeros(3), 2.0))


def test_t_with_infinite_degrees_of_freedom_is_the_normal_and_its_cdf_reaches_0_and_1():
    x = np.array([-np.inf, -2.0, 0.3, np.inf])
    np.testing.assert_allclose(S.t.cdf(x, np.inf).numpy(), scipy_stats.t.cdf(x, np.inf), rtol=1e-14)
    np.testing.assert_allclose(S.t.cdf(x, 3.0).numpy(), scipy_stats.t.cdf(x, 3.0), rtol=1e-13)
    assert S.t.logpdf(0.3, np.inf).item() == pytest.approx(scipy_stats.t.logpdf(0.3, np.inf), rel=1e-14)
    assert S.t.entropy(np.inf).item() == pytest.approx(scipy_stats.t.entropy(np.inf), rel=1e-14)
    slope = cr.grad(lambda y: cr.sum(S.t.cdf(y, np.array([3.0, np.inf]))))(np.array([0.3, 0.3])).numpy()
    np.testing.assert_allclose(slope, scipy_stats.t.pdf(0.3, [3.0, np.inf]), rtol=1e-12)


@pytest.mark.parametrize("df", [0.5, 1.0, 3.0, np.inf])
def test_distribution_functions_at_infinity_have_slope_zero(df):
    x = np.array([-np.inf, -3.0, 0.5, np.inf])
    np.testing.assert_allclose(S.t.cdf(x, df).numpy(), scipy_stats.t.cdf(x, df), atol=1e-15)
    np.testing.assert_allclose(S.t.sf(x, df).numpy(), scipy_stats.t.sf(x, df), atol=1e-15)
    slope = cr.grad(lambda y: cr.sum(S.t.cdf(y, df)))(x).numpy()
    np.testing.assert_allclose(slope, scipy_stats.t.pdf(x, df), atol=1e-15)
    slope = cr.grad(lambda y: cr.sum(S.norm.cdf(y, 0.2, 1.5)))(x).numpy()
    np.testing.assert_allclose(slope, scipy_stats.norm.pdf(x, 0.2, 1.5), atol=1e-15)


def test_dirichlet_refuses_what_scipy_refuses():
    with pytest.raises(ValueError, match="simplex"):
        S.dirichlet.logpdf(np.array([0.2, 0.3, 0.6]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="positive"):
        S.dirichlet.logpdf(np.array([0.2, 0.3, 0.5]), np.array([1.0, -2.0, 3.0]))
