"""cr.scipy.linalg against SciPy, and every matrix argument's derivatives against central differences (first and
second order, forward mode), on random well-conditioned matrices of drawn sizes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_forward, check_grads

scipy_linalg = pytest.importorskip("scipy.linalg")
import chainrule.scipy.linalg as L  # noqa: E402

sizes = st.integers(1, 4)


def spd(a):
    return (a + a.T) / 2 + (a.shape[0] + 1) * np.eye(a.shape[0])


@settings(max_examples=6, deadline=None)
@given(n=sizes, k=sizes, seed=st.integers(0, 2**16), lower=st.booleans())
def test_solve_triangular(n, k, seed, lower):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)) + 3 * np.eye(n)
    b = rng.standard_normal((n, k))
    np.testing.assert_allclose(
        L.solve_triangular(a, b, lower).numpy(), scipy_linalg.solve_triangular(a, b, lower=lower)
    )
    check_grads(lambda x, y: L.solve_triangular(x, y, lower), a, b)
    check_forward(lambda x, y: L.solve_triangular(x, y, lower), a, b)


@settings(max_examples=6, deadline=None)
@given(n=sizes, seed=st.integers(0, 2**16))
def test_expm_and_sqrtm(n, seed):
    a = np.random.default_rng(seed).standard_normal((n, n)) * 0.7
    np.testing.assert_allclose(L.expm(a).numpy(), scipy_linalg.expm(a), rtol=1e-10)
    check_grads(L.expm, a)
    check_forward(L.expm, a)
    np.testing.assert_allclose(L.sqrtm(spd(a)).numpy(), scipy_linalg.sqrtm(spd(a)), rtol=1e-8)
    check_grads(lambda x: L.sqrtm(spd(x)), a)
    check_forward(lambda x: L.sqrtm(spd(x)), a)


@settings(max_examples=6, deadline=None)
@given(n=sizes, m=sizes, seed=st.integers(0, 2**16))
def test_solve_sylvester_and_cholesky(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, n)) + 3 * np.eye(n), rng.standard_normal((m, m)) + 3 * np.eye(m)
    q = rng.standard_normal((n, m))
    np.testing.assert_allclose(L.solve_sylvester(a, b, q).numpy(), scipy_linalg.solve_sylvester(a, b, q))
    check_grads(L.solve_sylvester, a, b, q)
    check_forward(L.solve_sylvester, a, b, q)
    for lower in (False, True):
        factor = L.cho_factor(spd(a), lower=lower)
        np.testing.assert_allclose(
            L.cho_solve(factor, q).numpy(), scipy_linalg.cho_solve(scipy_linalg.cho_factor(spd(a), lower=lower), q)
        )
    check_grads(lambda x, y: L.cho_solve(L.cho_factor(spd(x)), y), a, q)


def test_solve_banded():
    rng = np.random.default_rng(0)
    ab = rng.standard_normal((4, 6)) + np.array([[0], [5], [0], [0]])
    b = rng.standard_normal(6)
    np.testing.assert_allclose(L.solve_banded((2, 1), ab, b).numpy(), scipy_linalg.solve_banded((2, 1), ab, b))
    check_grads(lambda x, y: L.solve_banded((2, 1), x, y), ab, b)


@pytest.mark.parametrize("trans", [0, 1, 2, "T"])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular_takes_scipys_trans_and_unit_diagonal(trans, unit_diagonal):
    rng = np.random.default_rng(0)
    a = np.triu(rng.standard_normal((4, 4))) + 4 * np.eye(4)
    b = rng.standard_normal(4)
    ours = L.solve_triangular(a, b, trans, unit_diagonal=unit_diagonal).numpy()
    np.testing.assert_allclose(ours, scipy_linalg.solve_triangular(a, b, trans, unit_diagonal=unit_diagonal))
    check_grads(lambda m, v: L.solve_triangular(m, v, trans, unit_diagonal=unit_diagonal), a, b)


def test_solve_banded_scales_to_large_systems():
    rng = np.random.default_rng(0)
    n = 1500
    ab = rng.standard_normal((3, n))
    ab[1] += 5.0
    b = rng.standard_normal(n)
    np.testing.assert_allclose(L.solve_banded((1, 1), ab, b).numpy(), scipy_linalg.solve_banded((1, 1), ab, b))
    assert cr.grad(lambda m: cr.sum(L.solve_banded((1, 1), m, b)))(ab).shape == (3, n)


@pytest.mark.parametrize("lower, upper, columns", [(1, 1, None), (2, 1, 3), (0, 2, None), (1, 0, 2), (0, 0, None)])
def test_solve_banded_by_bands_in_both_modes_to_second_order(lower, upper, columns):
    rng = np.random.default_rng(lower * 10 + upper)
    n = 7
    ab = rng.standard_normal((lower + upper + 1, n))
    ab[upper] += 5.0  # the diagonal
    b = rng.standard_normal((n, columns) if columns else n)
    ours = L.solve_banded((lower, upper), ab, b).numpy()
    np.testing.assert_allclose(ours, scipy_linalg.solve_banded((lower, upper), ab, b), rtol=1e-12, atol=1e-14)
    assert cr.gradcheck(lambda m, v: L.solve_banded((lower, upper), m, v), ab, b, order=2)
