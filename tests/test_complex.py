"""Complex numbers, JAX's convention: every elementwise function, reduction and linear algebra function on complex
inputs, in both modes, first and second order, against central differences taken along the real and the imaginary
direction separately; holomorphic derivatives with holomorphic=True; and the mistakes that are refused."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import chainrule as cr
from tests.gradients import check_complex

seeds = st.integers(0, 2**16)


def _complex(shape, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale


HOLOMORPHIC = (
    "exp exp2 log log2 log10 log1p expm1 sqrt square reciprocal sin cos tan tanh sinh cosh arcsin arccos arctan "
    "arcsinh arccosh arctanh sigmoid softplus sinc negative"
).split()
NOT_HOLOMORPHIC = "abs real imag conj angle".split()


@pytest.mark.parametrize("name", HOLOMORPHIC + NOT_HOLOMORPHIC)
@settings(max_examples=5, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=2, max_side=3), seed=seeds)
def test_elementwise(name, shape, seed):
    fn = getattr(cr, name)
    z = _complex(shape, seed) + 0.1  # away from the branch points at 0 and ±1, ±i
    np.testing.assert_allclose(fn(z).data, getattr(np, name)(z) if hasattr(np, name) else fn(z).data, rtol=1e-12)
    check_complex(fn, z, seed=seed)


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_holomorphic_derivative_is_f_prime(name):
    fn = getattr(cr, name)
    z = _complex(4, 1) + 0.1
    derivative = cr.grad(lambda z: cr.sum(fn(z)), holomorphic=True)(z)
    eps = 1e-6
    numeric = (fn(z + eps).data - fn(z - eps).data) / (2 * eps)  # along the real axis: f'(z) for holomorphic f
    np.testing.assert_allclose(derivative.data, numeric, rtol=1e-6, atol=1e-8)
    jac = cr.jacobian(fn, holomorphic=True)(z)
    np.testing.assert_allclose(np.diagonal(jac.data), numeric, rtol=1e-6, atol=1e-8)
    jac_fwd = cr.jacobian(fn, mode="fwd", holomorphic=True)(z)
    np.testing.assert_allclose(jac_fwd.data, jac.data, rtol=1e-12, atol=1e-14)


BINARY = {
    "add": cr.add,
    "subtract": cr.subtract,
    "multiply": cr.multiply,
    "divide": cr.divide,
    "power": cr.power,
    "matmul": lambda a, b: a @ cr.transpose(b),
    "einsum": lambda a, b: cr.einsum("ij,kj->ik", a, b),
    "where": lambda a, b: cr.where(np.array([[True, False, True]]), a, b),
    "concatenate": lambda a, b: cr.concatenate([a, b], axis=1),
    "kron": cr.kron,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("mix", ["complex, complex", "complex, real", "real, complex"])
def test_binary_and_mixed_real_complex(name, mix):
    a, b = _complex((2, 3), 2) + 2.0, _complex((2, 3), 3) + 0.5
    if mix == "complex, real":
        b = b.real
    elif mix == "real, complex":
        a = a.real
    check_complex(BINARY[name], a, b)
    for given_x, g in zip((a, b), cr.grad(lambda a, b: cr.sum(cr.abs(BINARY[name](a, b)) ** 2), (0, 1))(a, b)):
        assert g.dtype == given_x.dtype  # a real input gets a real gradient (the real part)


REDUCTIONS = {
    "sum": lambda z: cr.sum(z, axis=1),
    "mean": lambda z: cr.mean(z, axis=0),
    "prod": lambda z: cr.prod(z, axis=1),
    "cumsum": lambda z: cr.cumsum(z, axis=1),
    "cumprod": lambda z: cr.cumprod(z, axis=0),
    "var": lambda z: cr.var(z, axis=1),
    "std": lambda z: cr.std(z),
    "getitem": lambda z: z[[1, 0, 1], 1:],
    "reshape": lambda z: cr.reshape(z, (3, 2)).T,
    "sort by real part is not a thing": lambda z: cr.flip(z, 0),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_and_shapes(name):
    z = _complex((2, 3), 4)
    check_complex(REDUCTIONS[name], z)


def test_values_follow_numpy():
    z = _complex((2, 3), 5)
    np.testing.assert_allclose(cr.var(z, axis=1).data, np.var(z, axis=1))
    np.testing.assert_allclose(cr.std(z).data, np.std(z))
    np.testing.assert_allclose(cr.linalg.norm(z).data, np.linalg.norm(z))
    np.testing.assert_allclose(cr.angle(z).data, np.angle(z))


def _hermitian(x):
    return (x + cr.conj(cr.swapaxes(x, -1, -2))) * 0.5


def _positive(x):
    return x @ cr.conj(cr.swapaxes(x, -1, -2)) + 3 * np.eye(x.shape[-1])


LINALG = {
    "inv": (lambda a: cr.linalg.inv(a), (3, 3)),
    "solve": (lambda a: cr.linalg.solve(a, np.arange(6.0).reshape(3, 2) * (1 + 1j)), (3, 3)),
    "det": (cr.linalg.det, (2, 3, 3)),
    "slogdet": (lambda a: cr.linalg.slogdet(a).logabsdet, (3, 3)),
    "cholesky": (lambda x: cr.linalg.cholesky(_positive(x)), (3, 3)),
    "eigvalsh": (lambda x: cr.linalg.eigvalsh(_hermitian(x)), (2, 3, 3)),
    "eigh vectors": (lambda x: cr.abs(cr.linalg.eigh(_hermitian(x)).eigenvectors) ** 2, (3, 3)),
    "eigvals": (cr.linalg.eigvals, (3, 3)),
    "eig vectors": (lambda a: cr.abs(cr.linalg.eig(a).eigenvectors) ** 2, (3, 3)),
    "svdvals": (cr.linalg.svdvals, (4, 3)),
    "svd": (lambda x: (lambda u, s, vh: (u * s[..., None, :]) @ vh)(*cr.linalg.svd(x, full_matrices=False)), (2, 5)),
    "svd vectors": (lambda x: cr.abs(cr.linalg.svd(x, full_matrices=False).U) ** 2, (4, 3)),
    "qr": (lambda x: cr.linalg.qr(x).R, (4, 3)),
    "qr wide": (lambda x: cr.linalg.qr(x).Q, (2, 4)),
    "pinv": (cr.linalg.pinv, (3, 4)),
    "norm": (lambda x: cr.linalg.norm(x, axis=-1), (3, 4)),
    "norm 3": (lambda x: cr.linalg.norm(x, 3, axis=0), (3, 4)),
    "norm nuc": (lambda x: cr.linalg.norm(x, "nuc"), (3, 4)),
    "matrix_power": (lambda a: cr.linalg.matrix_power(a, -2), (3, 3)),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg(name):
    fn, shape = LINALG[name]
    z = _complex(shape, 6)
    if shape[-1] == shape[-2]:
        z = z + 2 * np.eye(shape[-1])
    check_complex(fn, z)


def test_linalg_values_follow_numpy():
    z = _complex((3, 3), 7) + 2 * np.eye(3)
    h = (z + z.conj().T) / 2
    np.testing.assert_allclose(cr.linalg.inv(z).data, np.linalg.inv(z))
    np.testing.assert_allclose(cr.linalg.eigvalsh(h).data, np.linalg.eigvalsh(h))
    np.testing.assert_allclose(np.sort_complex(cr.linalg.eigvals(z).data), np.sort_complex(np.linalg.eigvals(z)))
    np.testing.assert_allclose(cr.linalg.svdvals(z).data, np.linalg.svd(z, compute_uv=False))
    assert cr.linalg.eigvals(np.diag([1.0, 2.0])).dtype.kind == "c"  # always complex, unlike NumPy


def test_convention_is_jax():
    z = np.array(3 + 4j)
    assert complex(cr.grad(lambda z: cr.abs(z) ** 2)(z).item()) == pytest.approx(6 - 8j)  # ∂f/∂x - i ∂f/∂y
    assert complex(cr.grad(lambda z: cr.real(z * z))(z).item()) == pytest.approx(6 + 8j)
    # a step of gradient descent goes along the conjugate
    step = z - 0.1 * np.conj(cr.grad(lambda z: cr.abs(z) ** 2)(z).item())
    assert abs(step) < abs(z)


def test_mistakes_are_refused():
    z = np.array([1 + 1j, 2 - 1j])
    with pytest.raises(cr.DtypeError, match="holomorphic=True"):
        cr.grad(lambda z: cr.sum(cr.sin(z)))(z)
    with pytest.raises(cr.DtypeError, match="inputs must be complex"):
        cr.grad(lambda x: cr.sum(cr.sin(x)), holomorphic=True)(np.array([1.0, 2.0]))
    with pytest.raises(cr.DtypeError, match="holomorphic=True"):
        cr.jacobian(cr.sin, mode="fwd")(z)
    with pytest.raises(cr.DtypeError, match="holomorphic=True"):
        cr.jacobian(cr.sin)(z)
    with pytest.raises(cr.DtypeError, match="complex tangent"):
        cr.jvp(cr.sin, (np.ones(2),), (z,))


def test_complex_values_in_vmap_and_backward():
    z = _complex((4, 3), 8)
    per_example = cr.vmap(cr.grad(lambda z: cr.sum(cr.abs(cr.sin(z)) ** 2)))(z)
    for i in range(4):
        one = cr.grad(lambda z: cr.sum(cr.abs(cr.sin(z)) ** 2))(z[i])
        np.testing.assert_allclose(per_example.data[i], one.data)
    t = cr.tensor(z, requires_grad=True)
    cr.sum(cr.abs(t) ** 2).backward()
    np.testing.assert_allclose(t.grad.data, 2 * np.conj(z))


@pytest.mark.parametrize("expression", ["1j * t", "1j + t", "1j - t", "1j / t", "t * 1j", "(2 + 1j) ** t"])
def test_a_python_complex_with_a_0d_tensor_gives_a_numpy_value(expression):
    # np.float64 is a Python float, so 1j * np.float64(2) is Python's complex unless the engine converts it
    result = eval(expression, {"t": cr.tensor(2.0, requires_grad=True)})
    assert isinstance(result.data, np.complexfloating)
    grad = cr.grad(lambda s: cr.real(eval(expression, {"t": s})))(2.0)
    assert np.isfinite(grad.item())
