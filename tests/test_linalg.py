"""cr.linalg against NumPy (values) and finite differences (both modes, first and second order), on stacks of
matrices whose batch shape and size Hypothesis draws, with the special points the module documents."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_forward, check_grads

batches = st.sampled_from([(), (2,), (1, 2)])
sizes = st.integers(1, 4)
seeds = st.integers(0, 2**16)


def _mT(x):
    return cr.swapaxes(x, -1, -2)


def well_conditioned(rng, batch, n):
    return rng.standard_normal(batch + (n, n)) + 2 * n * np.eye(n)


def _spd(x):  # a symmetric positive definite matrix from any square x
    return x @ _mT(x) + x.shape[-1] * np.eye(x.shape[-1])


def _symmetric(x):
    return x + _mT(x)


def _both_modes(fn, *arrays, seed=0, **kwargs):
    check_grads(fn, *arrays, seed=seed, **kwargs)
    check_forward(fn, *arrays, seed=seed, jacobians=sum(np.size(a) for a in arrays) <= 40)


# name: (the function under test, NumPy's value for the same inputs, input makers (rng, batch, n) -> array)
SQUARE = {
    "inv": (cr.linalg.inv, np.linalg.inv, [well_conditioned]),
    "det": (cr.linalg.det, np.linalg.det, [well_conditioned]),
    "slogdet": (lambda a: cr.linalg.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a)[1], [well_conditioned]),
    "cholesky": (lambda x: cr.linalg.cholesky(_spd(x)), lambda x: np.linalg.cholesky(_spd(x)), [well_conditioned]),
    "cholesky upper": (
        lambda x: cr.linalg.cholesky(_spd(x), upper=True),
        lambda x: np.linalg.cholesky(_spd(x), upper=True),
        [well_conditioned],
    ),
    "eigvalsh": (
        lambda x: cr.linalg.eigvalsh(_symmetric(x)),
        lambda x: np.linalg.eigvalsh(_symmetric(x)),
        [well_conditioned],
    ),
    "matrix_power 3": (
        lambda a: cr.linalg.matrix_power(a, 3),
        lambda a: np.linalg.matrix_power(a, 3),
        [well_conditioned],
    ),
    "matrix_power -2": (
        lambda a: cr.linalg.matrix_power(a, -2),
        lambda a: np.linalg.matrix_power(a, -2),
        [well_conditioned],
    ),
    "solve": (
        cr.linalg.solve,
        np.linalg.solve,
        [well_conditioned, lambda rng, batch, n: rng.standard_normal(batch + (n, 2))],
    ),
    "solve vector": (
        cr.linalg.solve,
        np.linalg.solve,
        [well_conditioned, lambda rng, batch, n: rng.standard_normal(n)],
    ),
    "solve broadcast": (
        cr.linalg.solve,
        np.linalg.solve,
        [
            lambda rng, batch, n: well_conditioned(rng, (), n),
            lambda rng, batch, n: rng.standard_normal((3, *batch, n, 1)),
        ],
    ),
    "cond": (cr.linalg.cond, np.linalg.cond, [well_conditioned]),
    "cond 1": (lambda a: cr.linalg.cond(a, 1), lambda a: np.linalg.cond(a, 1), [well_conditioned]),
}


@pytest.mark.parametrize("name", sorted(SQUARE))
@settings(max_examples=6, deadline=None)
@given(batch=batches, n=sizes, seed=seeds)
def test_square_matrix_functions(name, batch, n, seed):
    fn, reference, makers = SQUARE[name]
    rng = np.random.default_rng(seed)
    arrays = [make(rng, batch, n) for make in makers]
    np.testing.assert_allclose(fn(*arrays).data, reference(*arrays), rtol=1e-10, atol=1e-12)
    _both_modes(fn, *arrays, seed=seed)


def _distinct_spectrum(rng, batch, n):
    """A symmetric matrix whose eigenvalues are at least 1 apart (its eigenvectors have a derivative)."""
    q, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    w = np.arange(n) * 1.5 + rng.uniform(0, 0.5, batch + (n,))
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


@settings(max_examples=10, deadline=None)
@given(batch=batches, n=sizes, seed=seeds)
def test_eigh(batch, n, seed):
    rng = np.random.default_rng(seed)
    a = _distinct_spectrum(rng, batch, n)
    w, v = cr.linalg.eigh(a)
    np.testing.assert_allclose(w.data, np.linalg.eigvalsh(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose((v.data * w.data[..., None, :]) @ np.swapaxes(v.data, -1, -2), a, atol=1e-10)

    # eigenvectors are defined up to sign: differentiate a sign-free function of them (and of the eigenvalues)
    def loss(x):
        w, v = cr.linalg.eigh(_symmetric(x) * 0.5)
        return v**2 * w[..., None, :] + v[..., :1, :] ** 4

    _both_modes(loss, a, seed=seed)


SVD_SHAPES = st.sampled_from([(3, 3), (4, 2), (2, 5), (1, 3), (3, 1)])


def _distinct_singular_values(rng, batch, shape):
    m, n = shape
    k = min(m, n)
    u, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    v, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    s = 1 + np.arange(k)[::-1] * 1.5 + rng.uniform(0, 0.5, batch + (k,))
    return (u[..., :, :k] * s[..., None, :]) @ np.swapaxes(v[..., :, :k], -1, -2)


@settings(max_examples=10, deadline=None)
@given(batch=batches, shape=SVD_SHAPES, seed=seeds)
def test_svd(batch, shape, seed):
    rng = np.random.default_rng(seed)
    a = _distinct_singular_values(rng, batch, shape)
    u, s, vh = cr.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(s.data, np.linalg.svd(a, compute_uv=False), rtol=1e-10)
    np.testing.assert_allclose((u.data * s.data[..., None, :]) @ vh.data, a, atol=1e-10)
    full = cr.linalg.svd(a)
    assert [t.shape for t in full] == [x.shape for x in np.linalg.svd(a)]

    def loss(x):
        u, s, vh = cr.linalg.svd(x, full_matrices=False)
        return cr.concatenate([cr.flatten(u**2 * s[..., None, :]), cr.flatten(vh[..., :1, :] ** 2)], axis=0)

    _both_modes(loss, a, seed=seed)
    _both_modes(cr.linalg.svdvals, a, seed=seed)


@settings(max_examples=10, deadline=None)
@given(batch=batches, shape=SVD_SHAPES, seed=seeds)
def test_qr(batch, shape, seed):
    rng = np.random.default_rng(seed)
    a = _distinct_singular_values(rng, batch, shape)
    q, r = cr.linalg.qr(a)
    nq, nr = np.linalg.qr(a)
    signs = np.sign(np.diagonal(nr, axis1=-2, axis2=-1))[..., None]  # both follow LAPACK: the same signs
    np.testing.assert_allclose(q.data @ r.data, a, atol=1e-10)
    np.testing.assert_allclose(r.data * signs, nr * signs, atol=1e-10)
    _both_modes(lambda x: cr.linalg.qr(x).Q, a, seed=seed)
    _both_modes(lambda x: cr.linalg.qr(x, mode="r"), a, seed=seed)


@settings(max_examples=10, deadline=None)
@given(batch=batches, shape=SVD_SHAPES, seed=seeds)
def test_pinv_and_lstsq(batch, shape, seed):
    rng = np.random.default_rng(seed)
    a = _distinct_singular_values(rng, batch, shape)
    np.testing.assert_allclose(cr.linalg.pinv(a).data, np.linalg.pinv(a), atol=1e-10)
    _both_modes(cr.linalg.pinv, a, seed=seed)
    if batch == ():
        b = rng.standard_normal((shape[0], 2))
        x, residuals, rank, s = cr.linalg.lstsq(a, b)
        nx, nresiduals, nrank, ns = np.linalg.lstsq(a, b)
        np.testing.assert_allclose(x.data, nx, atol=1e-10)
        np.testing.assert_allclose(residuals.data, nresiduals, atol=1e-10)
        assert rank == nrank
        np.testing.assert_allclose(s.data, ns, atol=1e-10)
        _both_modes(lambda a, b: cr.linalg.lstsq(a, b)[0], a, b, seed=seed)
        if residuals.shape != (0,):
            _both_modes(lambda a, b: cr.linalg.lstsq(a, b)[1], a, b, seed=seed)


VECTOR_ORDS = [None, 1, 2, 3, 0.5, -1, np.inf, -np.inf, 0]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
@settings(max_examples=6, deadline=None)
@given(shape=st.sampled_from([(5,), (3, 4), (2, 3, 2)]), seed=seeds)
def test_vector_norms(ord, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    axis = len(shape) - 1 if len(shape) > 1 else None
    np.testing.assert_allclose(cr.linalg.norm(x, ord, axis=axis).data, np.linalg.norm(x, ord, axis=axis), rtol=1e-12)
    kept = cr.linalg.norm(x, ord, axis=0, keepdims=True)
    np.testing.assert_allclose(kept.data, np.linalg.norm(x, ord, axis=0, keepdims=True), rtol=1e-12)
    if ord != 0:
        _both_modes(lambda x: cr.linalg.norm(x, ord, axis=axis), x, seed=seed)
    else:  # counts the non-zero elements: derivative 0
        assert not np.any(cr.grad(lambda x: cr.linalg.norm(x, 0, axis=axis).sum())(x).data)


@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
@settings(max_examples=6, deadline=None)
@given(shape=st.sampled_from([(3, 4), (2, 3, 3), (4, 2)]), seed=seeds)
def test_matrix_norms(ord, shape, seed):
    rng = np.random.default_rng(seed)
    x = _distinct_singular_values(rng, shape[:-2], shape[-2:]) * rng.choice([-1, 1], shape)
    axes = (-2, -1) if len(shape) > 2 else None
    np.testing.assert_allclose(cr.linalg.norm(x, ord, axis=axes).data, np.linalg.norm(x, ord, axis=axes), rtol=1e-10)
    np.testing.assert_allclose(
        cr.linalg.norm(x, ord, axis=(-1, -2), keepdims=True).data,
        np.linalg.norm(x, ord, axis=(-1, -2), keepdims=True),
        rtol=1e-10,
    )
    _both_modes(lambda x: cr.linalg.norm(x, ord, axis=axes), x, seed=seed)


def test_norm_gradient_at_zero_is_zero():
    for ord in [None, 1, 2, 3, 0.5, np.inf]:
        g = cr.grad(lambda x, ord=ord: cr.linalg.norm(x, ord))(np.zeros(3))
        assert np.array_equal(g.data, np.zeros(3)), ord
    g = cr.grad(lambda x: cr.linalg.norm(x))(np.zeros((2, 2)))
    assert np.array_equal(g.data, np.zeros((2, 2)))
    _, t = cr.jvp(lambda x: cr.linalg.norm(x), (np.zeros(3),), (np.ones(3),))
    assert float(t.data) == 0.0


def test_inf_norm_shares_the_gradient_among_ties():
    g = cr.grad(lambda x: cr.linalg.norm(x, np.inf))(np.array([-2.0, 1.0, 2.0]))
    np.testing.assert_allclose(g.data, [-0.5, 0.0, 0.5])


def test_singular_matrices_raise_a_linalg_error_naming_the_op():
    singular = np.ones((2, 2))
    for fn in (cr.linalg.inv, lambda a: cr.linalg.solve(a, np.ones(2))):
        with pytest.raises(cr.LinAlgError, match=r"(inv|solve).*Singular.*\(2, 2\)"):
            fn(singular)
    with pytest.raises(np.linalg.LinAlgError):  # also NumPy's error class
        cr.linalg.cholesky(-np.eye(2))
    # det itself is fine at a singular matrix (0); its gradient needs the inverse
    x = cr.tensor(singular, requires_grad=True)
    d = cr.linalg.det(x)
    assert float(d.data) == 0.0
    with pytest.raises(cr.LinAlgError, match="inv"):
        d.backward()


def test_shape_mistakes_are_explained():
    with pytest.raises(cr.ShapeError, match=r"inv: needs square matrices.*\(2, 3\)"):
        cr.linalg.inv(np.ones((2, 3)))
    with pytest.raises(cr.ShapeError, match="det: needs a matrix"):
        cr.linalg.det(np.ones(3))
    with pytest.raises(cr.ShapeError, match="solve"):
        cr.linalg.solve(np.eye(3), np.ones(2))


def test_full_svd_of_a_non_square_matrix_refuses_a_loss_on_its_extra_columns():
    a = np.random.default_rng(0).standard_normal((4, 2))
    g = cr.grad(lambda a: cr.linalg.svd(a)[1].sum())(a)  # the singular values alone: fine
    np.testing.assert_allclose(g.data, cr.grad(lambda a: cr.linalg.svdvals(a).sum())(a).data)
    with pytest.raises(cr.GradientError, match="full_matrices=False"):
        cr.grad(lambda a: cr.linalg.svd(a)[0][:, 3].sum())(a)


def test_repeated_eigenvalues_give_the_derivative_of_basis_free_losses():
    # eigenvalues 1, 1, 3: a perturbation splits the pair, so the pair's sum has a derivative (each alone does
    # not), and so has the projector onto their eigenspace (its basis does not)
    a = np.diag([1.0, 1.0, 3.0])

    def clusters(x):
        w = cr.linalg.eigvalsh(_symmetric(x) * 0.5)
        return cr.stack([w[0] + w[1], w[2]])

    def projector(x):
        v = cr.linalg.eigh(_symmetric(x) * 0.5).eigenvectors[:, :2]
        return v @ _mT(v)

    check_grads(clusters, a)
    check_grads(projector, a, order=1)


def test_numpy_linalg_functions_dispatch_to_chainrule():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 3)) + 4 * np.eye(3)
    x = cr.tensor(a, requires_grad=True)
    (np.linalg.det(x) + np.linalg.norm(x) + np.linalg.inv(x).sum() + np.linalg.slogdet(x)[1]).backward()
    expected = cr.grad(
        lambda x: cr.linalg.det(x) + cr.linalg.norm(x) + cr.linalg.inv(x).sum() + cr.linalg.slogdet(x)[1]
    )(a)
    np.testing.assert_allclose(x.grad.data, expected.data)
    w, v = np.linalg.eigh(cr.tensor(a + a.T))
    assert type(w) is cr.Tensor and type(v) is cr.Tensor


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_cholesky_differentiate_what_numpy_computes_from_one_triangle(uplo):
    # NumPy reads one triangle of a matrix that need not be symmetric: the other triangle has no influence
    rng = np.random.default_rng(11)
    a = rng.standard_normal((2, 3, 3)) + 6 * np.eye(3)
    _both_modes(lambda x: cr.linalg.eigvalsh(x, UPLO=uplo), a)
    _both_modes(lambda x: cr.linalg.eigh(x, UPLO=uplo).eigenvectors ** 2, a)
    _both_modes(cr.linalg.cholesky, a + np.swapaxes(a, -1, -2).copy() * 0 + 4 * np.eye(3))
    g = cr.grad(lambda x: cr.sum(cr.linalg.eigvalsh(x, UPLO=uplo) ** 2))(a)
    unread = np.triu(np.ones((3, 3)), 1) if uplo == "L" else np.tril(np.ones((3, 3)), -1)
    assert np.all(g.data * unread == 0)


@pytest.mark.parametrize("lower", [True, False])
def test_triangular_solve_reads_one_triangle(lower):
    from chainrule import ops

    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 3, 3)) + 5 * np.eye(3)
    b = rng.standard_normal((3, 2))
    keep = np.tril if lower else np.triu
    np.testing.assert_allclose(ops.solve_triangular(a, b, lower=lower), np.linalg.solve(keep(a), b), rtol=1e-12)
    _both_modes(lambda a, b: ops.solve_triangular(keep(a), b, lower=lower), a, b)
    g = cr.grad(lambda a: cr.sum(ops.solve_triangular(a, b, lower=lower)))(keep(a))
    assert np.all(g.data == keep(g.data))  # the other triangle is never read
