"""SciPy's linear algebra beyond NumPy's (the scipy extra): triangular solves, the matrix exponential and square
root, and Sylvester's equation, each a primitive with its rules written in chainrule's operations.

- ``solve_triangular(A, B)``: X = A⁻¹B with A triangular. B̄ = A⁻ᵀḡ (a triangular solve with the transpose);
  Ā = -B̄Xᵀ kept on A's triangle (the other entries are not read).
- ``expm(A)``: the Fréchet derivative L(A, E) is the top-right block of expm([[A, E], [0, A]]); the reverse rule
  is L(Aᵀ, ḡ) (the adjoint of L(A, ·) is L(Aᵀ, ·)), computed the same way, so it differentiates again.
- ``solve_sylvester(A, B, Q)``: AX + XB = Q. Q̄ solves AᵀQ̄ + Q̄Bᵀ = ḡ; Ā = -Q̄Xᵀ, B̄ = -XᵀQ̄.
- ``sqrtm(A)``: X² = A, so X dX + dX X = dA: Ā solves XᵀĀ + ĀXᵀ = ḡ.
- ``solve_banded(ab, B)``: X = A⁻¹B with A given by its bands (LAPACK's layout ab[u + i - j, j] = A[i, j]).
  B̄ = A⁻ᵀḡ, a banded solve with the transpose's bands (l and u swapped); āb = -B̄Xᵀ read on the bands. Forward:
  Ẋ = A⁻¹(Ḃ - Ȧ X), Ȧ X gathered from the bands. No dense matrix anywhere.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..primitive import constant, defjvp, defvjp, describe_vjp, primitive
from .elementwise import where
from .linalg import matmul, matrix_transpose
from .reductions import sum as sum_
from .shape import concatenate, getitem


def _la():
    import scipy.linalg

    return scipy.linalg


@primitive("solve_triangular")
def solve_triangular(xp, a, b, lower=False):
    return _la().solve_triangular(a, b, lower=lower)


def _triangle(x: Any, lower: bool) -> Any:
    value = constant(x)
    xp = array_module(value)
    n = value.shape[-1]
    mask = xp.tril(xp.ones((n, n), dtype=bool)) if lower else xp.triu(xp.ones((n, n), dtype=bool))
    return where(x, 0.0, condition=mask)


def _solve_triangular_b(g, ans, a, b, lower=False):
    return solve_triangular(matrix_transpose(a), g, lower=not lower)


def _solve_triangular_a(g, ans, a, b, lower=False):
    gb = _solve_triangular_b(g, ans, a, b, lower)
    x = ans if constant(ans).ndim == 2 else getitem(ans, index=(slice(None), None))
    gb = gb if constant(gb).ndim == 2 else getitem(gb, index=(slice(None), None))
    return _triangle(-matmul(gb, matrix_transpose(x)), lower)


defvjp(solve_triangular, _solve_triangular_a, _solve_triangular_b)
defjvp(
    solve_triangular,
    lambda t, ans, a, b, lower=False: -solve_triangular(a, matmul(_triangle(t, lower), ans), lower=lower),
    lambda t, ans, a, b, lower=False: solve_triangular(a, t, lower=lower),
)
describe_vjp(solve_triangular, "-tri(B̄ Xᵀ)", "solve_triangular(Aᵀ, g)")


@primitive("expm")
def expm(xp, a):
    return _la().expm(a)


def frechet(a: Any, e: Any) -> Any:
    """L(A, E), the derivative of expm at A along E: the top-right block of expm([[A, E], [0, A]])."""
    n = constant(a).shape[-1]
    zeros = 0 * a
    block = concatenate(concatenate(a, e, axis=1), concatenate(zeros, a, axis=1), axis=0)
    return getitem(expm(block), index=(slice(0, n), slice(n, 2 * n)))


defvjp(expm, lambda g, ans, a: frechet(matrix_transpose(a), g))
defjvp(expm, lambda t, ans, a: frechet(a, t))
describe_vjp(expm, "L(Aᵀ, g), the top-right block of expm([[Aᵀ, g], [0, Aᵀ]])")


@primitive("solve_sylvester")
def solve_sylvester(xp, a, b, q):
    return _la().solve_sylvester(a, b, q)


def _sylvester_q(g, ans, a, b, q):
    return solve_sylvester(matrix_transpose(a), matrix_transpose(b), g)


defvjp(
    solve_sylvester,
    lambda g, ans, a, b, q: -matmul(_sylvester_q(g, ans, a, b, q), matrix_transpose(ans)),
    lambda g, ans, a, b, q: -matmul(matrix_transpose(ans), _sylvester_q(g, ans, a, b, q)),
    _sylvester_q,
)
defjvp(
    solve_sylvester,
    lambda t, ans, a, b, q: solve_sylvester(a, b, -matmul(t, ans)),
    lambda t, ans, a, b, q: solve_sylvester(a, b, -matmul(ans, t)),
    lambda t, ans, a, b, q: solve_sylvester(a, b, t),
)
describe_vjp(solve_sylvester, "-Q̄ Xᵀ", "-Xᵀ Q̄", "Q̄: Aᵀ Q̄ + Q̄ Bᵀ = g")


@primitive("sqrtm")
def sqrtm(xp, a):
    out = _la().sqrtm(a)
    if xp.isrealobj(a) and xp.iscomplexobj(out) and not xp.any(out.imag):
        return out.real  # a real square root SciPy returned with a zero imaginary part
    return out


defvjp(sqrtm, lambda g, ans, a: solve_sylvester(matrix_transpose(ans), matrix_transpose(ans), g))
defjvp(sqrtm, lambda t, ans, a: solve_sylvester(ans, ans, t))
describe_vjp(sqrtm, "Ā: Xᵀ Ā + Ā Xᵀ = g")


@primitive("solve_banded")
def solve_banded(xp, ab, b, lower=0, upper=0):
    return _la().solve_banded((lower, upper), ab, b)


def _band_positions(xp: Any, lower: int, upper: int, n: int) -> tuple:
    """For each band entry (k, j): its row i = k + j - u in A, clipped into range, and whether it is in A."""
    k = xp.arange(lower + upper + 1)[:, None]
    rows = k + xp.arange(n)[None, :] - upper
    inside = (rows >= 0) & (rows < n)
    return xp.clip(rows, 0, n - 1), inside


def _transposed_bands(ab: Any, lower: int, upper: int) -> Any:
    """Aᵀ's bands (its lower and upper widths swapped): abᵀ[l + i - j, j] = A[j, i] = ab[u + l - k', j + k' - l]."""
    xp = array_module(constant(ab))
    n = constant(ab).shape[1]
    k = xp.arange(lower + upper + 1)[:, None]
    columns = k + xp.arange(n)[None, :] - lower
    inside = (columns >= 0) & (columns < n)
    rows = xp.broadcast_to(upper + lower - k, columns.shape)
    return where(getitem(ab, index=(rows, xp.clip(columns, 0, n - 1))), 0.0, condition=inside)


def _solve_banded_b(g, ans, ab, b, lower=0, upper=0):
    return solve_banded(_transposed_bands(ab, lower, upper), g, lower=upper, upper=lower)


def _solve_banded_ab(g, ans, ab, b, lower=0, upper=0):
    gb = _solve_banded_b(g, ans, ab, b, lower, upper)
    xp = array_module(constant(ab))
    n = constant(ab).shape[1]
    rows, inside = _band_positions(xp, lower, upper, n)  # āb[k, j] = -Σ_c B̄[i, c] X[j, c]
    products = getitem(gb, index=(rows,)) * ans[None, :, :]
    return where(-sum_(products, axis=(2,)), 0.0, condition=inside)


def _band_times(ab_dot: Any, x: Any, lower: int, upper: int) -> Any:
    """(Ȧ X)[i, c] = Σ_k ȧb[k, j] X[j, c] with j = i - k + u."""
    xp = array_module(constant(ab_dot))
    n = constant(ab_dot).shape[1]
    k = xp.arange(lower + upper + 1)[:, None]
    columns = xp.arange(n)[None, :] - k + upper
    inside = (columns >= 0) & (columns < n)
    clipped = xp.clip(columns, 0, n - 1)
    entries = where(getitem(ab_dot, index=(xp.broadcast_to(k, clipped.shape), clipped)), 0.0, condition=inside)
    return sum_(entries[:, :, None] * getitem(x, index=(clipped,)), axis=(0,))


defvjp(solve_banded, _solve_banded_ab, _solve_banded_b)
defjvp(
    solve_banded,
    lambda t, ans, ab, b, lower=0, upper=0: (
        -solve_banded(ab, _band_times(t, ans, lower, upper), lower=lower, upper=upper)
    ),
    lambda t, ans, ab, b, lower=0, upper=0: solve_banded(ab, t, lower=lower, upper=upper),
)
describe_vjp(solve_banded, "-B̄ Xᵀ on the bands, B̄ = A⁻ᵀ g", "A⁻ᵀ g (a banded solve with the transpose)")
