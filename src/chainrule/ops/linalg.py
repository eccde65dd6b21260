"""Linear algebra primitives: matrix products and Einstein summation, with their derivatives."""

from __future__ import annotations

from string import ascii_letters

from ..backend import array_module, triangular_solver
from ..primitive import (
    constant,
    defjvp,
    defjvp_argnum,
    defvjp,
    defvjp_argnum,
    defvjp_joint,
    describe_vjp,
    primitive,
)
from .elementwise import absolute, conjugate, imag, real, sign, where
from .reductions import _kept, sum, unreduce
from .reductions import max as max_of
from .shape import broadcast_to, concatenate, expand_dims, getitem, reshape, squeeze, swapaxes

MATMUL_HINT = (
    "The last axis of the first operand must equal the second-to-last axis of the second (or its only axis); "
    "transpose one operand (t.T or swapaxes) or check their order."
)


@primitive("matmul", hint=MATMUL_HINT)
def matmul(xp, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not take 0-d operands; use * to multiply by a scalar")
    return xp.matmul(a, b)


def _matmul_vjp_a(g, ans, a, b):
    if len(b.shape) == 1:
        return g * b if len(a.shape) == 1 else expand_dims(g, -1) * b
    if len(a.shape) == 1:
        return squeeze(matmul(b, expand_dims(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _matmul_vjp_b(g, ans, a, b):
    if len(a.shape) == 1:
        return g * a if len(b.shape) == 1 else expand_dims(a, -1) * expand_dims(g, -2)
    if len(b.shape) == 1:
        return squeeze(matmul(swapaxes(a, -1, -2), expand_dims(g, -1)), -1)
    return matmul(swapaxes(a, -1, -2), g)


defvjp(matmul, _matmul_vjp_a, _matmul_vjp_b)
describe_vjp(matmul, "g @ {b}ᵀ", "{a}ᵀ @ g")
defjvp(matmul, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))


@primitive("linear", hint="x (..., in_features), weight (out_features, in_features), bias (out_features,).")
def linear(xp, x, weight, *bias):
    """x @ weight.T (+ bias): a dense layer as one node, as PyTorch's addmm, so its weight gradient is a fresh
    contiguous product rather than the transpose of one."""
    out = xp.matmul(x, weight.T)
    if not bias:
        return out
    if xp.can_cast(bias[0].dtype, out.dtype, casting="same_kind") and xp.result_type(out, bias[0]) == out.dtype:
        out += bias[0]  # in place when that changes no dtype
        return out
    return out + bias[0]


def _linear_vjp(i, g, ans, x, weight, *bias):
    if i == 0:
        return matmul(g, weight)
    if i == 1:
        layout = (
            "F" if getattr(constant(weight), "flags", None) is not None and constant(weight).flags.f_contiguous else "C"
        )
        return linear_weight_grad(g, x, layout=layout)
    return g  # the engine sums it over the broadcast axes


@primitive("linear_weight_grad")
def linear_weight_grad(xp, g, x, layout="C"):
    """gᵀ x summed over every leading axis: (..., out) and (..., in) give (out, in), laid out in memory like the
    weight it is the gradient of (Linear keeps its weight column-major, as x @ w wants it), so that the
    optimizer's elementwise update walks both in the same order."""
    rows, columns = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    if layout == "C":
        return xp.matmul(rows.T, columns)
    out = xp.empty((rows.shape[1], columns.shape[1]), dtype=xp.result_type(rows, columns), order="F")
    xp.matmul(columns.T, rows, out=out.T)
    return out


defvjp(
    linear_weight_grad,
    lambda h, ans, g, x, layout="C": matmul(x, swapaxes(h, -1, -2)),
    lambda h, ans, g, x, layout="C": matmul(g, h),
)
describe_vjp(linear_weight_grad, "{b} @ gᵀ", "{a} @ g")
defjvp(
    linear_weight_grad,
    lambda t, ans, g, x, layout="C": linear_weight_grad(t, x, layout=layout),
    lambda t, ans, g, x, layout="C": linear_weight_grad(g, t, layout=layout),
)


def _linear_jvp(i, t, ans, x, weight, *bias):
    if i == 0:
        return linear(t, weight)
    if i == 1:
        return linear(x, t)
    return broadcast_to(t, shape=ans.shape)


defvjp_argnum(linear, _linear_vjp)
describe_vjp(linear, "g @ {b}", "gᵀ @ {a}", "g summed over the batch")
defjvp_argnum(linear, _linear_jvp)


@primitive("einsum", hint="Each operand needs one letter per axis, and a letter's axes must agree.")
def einsum(xp, *operands, subscripts=""):
    """Einstein summation over named axes only (``cr.einsum`` names the axes of a '...' before it gets here)."""
    return xp.einsum(subscripts, *operands, optimize=len(operands) > 2)


def _einsum_vjp(i, g, ans, *operands, subscripts=""):
    # The gradient of operand i is itself an einsum: the output's gradient contracted with the other operands,
    # written out in operand i's letters. A letter i sums away alone gets a vector of ones; a repeated letter
    # (a diagonal) gets a fresh twin joined by an identity matrix.
    inputs, output = subscripts.split("->")
    inputs = inputs.split(",")
    x = operands[i]
    mine = inputs[i]
    others = inputs[:i] + inputs[i + 1 :]
    xp = array_module(constant(x))
    dtype = constant(g).dtype
    sizes = dict(zip(mine, x.shape))
    fresh = (c for c in ascii_letters if c not in subscripts)
    present = set(output) | set("".join(others))
    target, extra_subscripts, extra_operands, seen = "", [], [], set()
    for c in mine:
        if c in seen:
            twin = next(fresh)
            target += twin
            extra_subscripts.append(c + twin)
            extra_operands.append(xp.eye(sizes[c], dtype=dtype))
        else:
            seen.add(c)
            target += c
            if c not in present:
                extra_subscripts.append(c)
                extra_operands.append(xp.ones(sizes[c], dtype=dtype))
                present.add(c)
    spec = ",".join([output, *others, *extra_subscripts]) + "->" + target
    grad = einsum(g, *operands[:i], *operands[i + 1 :], *extra_operands, subscripts=spec)
    if grad.shape != x.shape:
        # a letter of length 1 here and longer in another operand was broadcast: spread the gradient back out
        shape = tuple(max(a, b) for a, b in zip(grad.shape, x.shape)) if len(grad.shape) == len(x.shape) else None
        if shape is not None and shape != grad.shape:
            grad = broadcast_to(grad, shape=shape)
    return grad


defvjp_argnum(einsum, _einsum_vjp)
describe_vjp(einsum, "einsum of g with the other operands")
defjvp_argnum(  # multilinear: the tangent takes the place of its operand
    einsum,
    lambda i, t, ans, *operands, subscripts="": einsum(*operands[:i], t, *operands[i + 1 :], subscripts=subscripts),
)


# -- matrix functions (NumPy's linalg), batched over the leading axes --------------------------------------------
# The rules solve linear systems rather than form inverses, and are written with chainrule's operations, so they
# can be differentiated again. A decomposition with several results (eigh, svd, qr) is one primitive whose output
# packs them side by side along one last axis; ``unpack`` gives them back as separate values (views of it), so a
# loss that uses one of them sends zeros to the others' part of the cotangent.

SQUARE_HINT = "The last two axes must be a square matrix (..., n, n)."


def matrix_transpose(x):
    return swapaxes(x, -1, -2)


def _identity(x, n=None):
    value = constant(x)
    return array_module(value).eye(value.shape[-1] if n is None else n, dtype=value.dtype)


def diagonal_part(x):
    """The diagonals of a stack of matrices, (..., n, n) -> (..., n)."""
    return sum(x * _identity(x), axis=(len(x.shape) - 1,))


def diagonal_matrix(v):
    """Diagonal matrices from a stack of vectors, (..., n) -> (..., n, n)."""
    return expand_dims(v, -1) * _identity(v)


def _trace(x):
    return sum(diagonal_part(x), axis=(len(x.shape) - 2,))


def _as_matrix_of(x, v):
    """Scalars per matrix (...) given two trailing axes of length 1, to scale a stack of matrices (..., n, n)."""
    return reshape(v, shape=tuple(x.shape[:-2]) + (1, 1))


def _mask(x, keep):
    """A constant matrix (dtype of ``x``) to multiply the last two axes of ``x`` by."""
    value = constant(x)
    xp = array_module(value)
    return keep(xp, xp.ones(value.shape[-2:], dtype=value.dtype))


def _lower_half_diagonal(x):
    """Φ(x): the lower triangle of each matrix, its diagonal halved (the part of a symmetric product in L)."""
    return x * _mask(x, lambda xp, ones: xp.tril(ones) - 0.5 * xp.eye(ones.shape[0], dtype=ones.dtype))


def _strictly_lower(x):
    return x * _mask(x, lambda xp, ones: xp.tril(ones, -1))


def _strictly_upper(x):
    return x * _mask(x, lambda xp, ones: xp.triu(ones, 1))


def _from_triangle(t, lower=True):
    """The symmetric (Hermitian) matrix that LAPACK reads from one triangle of ``t`` and its real diagonal."""
    part = _strictly_lower(t) if lower else _strictly_upper(t)
    diagonal = diagonal_part(t)
    return part + adjoint(part) + diagonal_matrix(real(diagonal) if _is_complex(diagonal) else diagonal)


def _onto_triangle(g, lower=True):
    """The gradient with respect to the full matrix of a function of ``_from_triangle(a)``, given the gradient
    ``g`` with respect to that symmetric matrix: twice the off-diagonal triangle read, the diagonal once."""
    g = (g + matrix_transpose(g)) * 0.5
    part = _strictly_lower(g) if lower else _strictly_upper(g)
    return part * 2.0 + diagonal_matrix(diagonal_part(g))


def _is_complex(x):
    return constant(x).dtype.kind == "c"


def adjoint(x):
    """The conjugate transpose of a stack of matrices (the transpose for real data)."""
    return conjugate(matrix_transpose(x)) if _is_complex(x) else matrix_transpose(x)


def _imaginary_diagonal(x):
    """i Im(diag x) as a diagonal matrix (zero for real data): the phase part complex decompositions fix."""
    if not _is_complex(x):
        return x * 0.0
    diagonal = diagonal_part(x)
    return diagonal_matrix(diagonal - real(diagonal))


def complex_by_transposing(real_vjp, jvp, always=False):
    """A reverse rule: ``real_vjp`` for real data; for complex data, the transpose of the forward rule ``jvp``
    (the reverse pass through it: Re Σ g·jvp(t) differentiated in t), which holds JAX's convention by
    construction and needs no second set of formulas."""

    def rule(g, ans, a, **params):
        if not always and not _is_complex(a):
            return real_vjp(g, ans, a, **params)
        from ..transforms import grad

        start = array_module(constant(a)).zeros(constant(a).shape, dtype=constant(a).dtype)
        return grad(lambda t: sum(real(g * jvp(t, ans, a, **params)), axis=None))(start)

    return rule


# Values closer than this (relative to the largest) count as repeated: LAPACK returns a repeated eigenvalue as
# values a few rounding errors apart, and 1 / (their difference) would turn rounding noise into the derivative.
REPEATED = 1e3 * 2.220446049250313e-16


def _inverse_gaps(w, scale=None):
    """F[..., i, j] = 1 / (w_j - w_i), and 0 where w_j and w_i are equal to rounding (the diagonal, and repeated
    values: see eigh). ``scale``: what "to rounding" is relative to (the largest |w| by default)."""
    gaps = expand_dims(w, -2) - expand_dims(w, -1)
    values = constant(w)  # (primitives on constants: they take a vmap's batched values too)
    size = absolute(values) if scale is None else constant(scale)
    ndim = len(values.shape)
    largest = expand_dims(max_of(size, axis=(ndim - 1,), keepdims=True), -1) if values.shape[-1] else 0.0
    equal = absolute(constant(gaps)) <= largest * REPEATED
    return where(1.0 / where(1.0, gaps, condition=equal), 0.0, condition=~equal)


def _safe_reciprocal(s):
    """1 / s, and 0 where s == 0 (a rank-deficient matrix: the terms it scales are undefined there)."""
    zero = constant(s) == 0
    return where(1.0 / where(1.0, s, condition=zero), 0.0, condition=~zero)


def pack(xp, parts, lead):
    """Several results of one decomposition side by side along one last axis: (*lead, total)."""
    return xp.concatenate([p.reshape(lead + (-1,)) for p in parts], axis=-1)


def unpack(packed, shapes):
    """The results packed by ``pack``, each of shape (*lead, *shapes[k]); works on arrays and Tensors."""
    lead = tuple(packed.shape[:-1])
    parts, start = [], 0
    for shape in shapes:
        size = 1
        for n in shape:
            size *= n
        part = getitem(packed, index=(Ellipsis, slice(start, start + size)))
        parts.append(reshape(part, shape=lead + tuple(shape)))
        start += size
    return parts


def pack_tangents(parts, lead):
    """``pack`` for forward rules: tangents (arrays or Tensors) concatenated with chainrule's operations."""
    lead = tuple(lead)
    flat = [reshape(p, shape=lead + (-1,)) for p in parts]
    return concatenate(*flat, axis=len(lead))


@primitive("inv", hint=SQUARE_HINT)
def inv(xp, a):
    return xp.linalg.inv(a)


defvjp(inv, lambda g, ans, a: -matmul(matmul(matrix_transpose(ans), g), matrix_transpose(ans)))
describe_vjp(inv, "-{out}ᵀ @ g @ {out}ᵀ")
defjvp(inv, lambda t, ans, a: -matmul(matmul(ans, t), ans))


@primitive("solve", hint="a is (..., n, n) and b (..., n, k), their leading axes broadcasting.")
def solve(xp, a, b):
    return xp.linalg.solve(a, b)


def _solve_vjp(g, ans, a, b):
    gb = solve(matrix_transpose(a), g)  # aᵀ gb = g
    return -matmul(gb, matrix_transpose(ans)), gb


defvjp_joint(solve, _solve_vjp)
describe_vjp(solve, "-solve({a}ᵀ, g) @ {out}ᵀ", "solve({a}ᵀ, g)")
defjvp(solve, lambda t, ans, a, b: -solve(a, matmul(t, ans)), lambda t, ans, a, b: solve(a, t))


@primitive("solve_triangular", hint="a is a triangular (..., n, n) and b (..., n, k).")
def solve_triangular(xp, a, b, lower=True):
    """x with a x = b, reading only the triangle of ``a`` (lower or upper)."""
    return triangular_solver(xp)(a, b, lower)


def _triangle_of(x, lower):
    return x * _mask(x, lambda xp, ones: xp.tril(ones) if lower else xp.triu(ones))


def _solve_triangular_vjp(g, ans, a, b, lower=True):
    gb = solve_triangular(matrix_transpose(a), g, lower=not lower)
    return _triangle_of(-matmul(gb, matrix_transpose(ans)), lower), gb


defvjp_joint(solve_triangular, _solve_triangular_vjp)
describe_vjp(solve_triangular, "the triangle of -solve({a}ᵀ, g) @ {out}ᵀ", "solve({a}ᵀ, g)")
defjvp(
    solve_triangular,
    lambda t, ans, a, b, lower=True: -solve_triangular(a, matmul(_triangle_of(t, lower), ans), lower=lower),
    lambda t, ans, a, b, lower=True: solve_triangular(a, t, lower=lower),
)


@primitive("det", hint=SQUARE_HINT)
def det(xp, a):
    return xp.linalg.det(a)


# d det(A) = det(A) tr(A⁻¹ dA): the gradient is det(A) A⁻ᵀ, which needs A invertible (a clear error otherwise)
defvjp(det, lambda g, ans, a: _as_matrix_of(a, g * ans) * matrix_transpose(inv(a)))
describe_vjp(det, "g · {out} · {a}⁻ᵀ")
defjvp(det, lambda t, ans, a: ans * _trace(solve(a, t)))


@primitive("logabsdet", hint=SQUARE_HINT)
def logabsdet(xp, a):
    return xp.linalg.slogdet(a)[1]


defvjp(logabsdet, lambda g, ans, a: _as_matrix_of(a, g) * matrix_transpose(inv(a)))
describe_vjp(logabsdet, "g · {a}⁻ᵀ")
defjvp(logabsdet, lambda t, ans, a: _trace(solve(a, t)))


@primitive("sign_of_det", hint=SQUARE_HINT)
def sign_of_det(xp, a):
    return xp.linalg.slogdet(a)[0]


def _sign_of_det_vjp(g, ans, a):
    # d sign = sign · i Im tr(A⁻¹ dA): zero for real matrices (a sign of ±1 is flat), a phase for complex ones
    if not _is_complex(a):
        return a * 0.0
    return _as_matrix_of(a, imag(g * ans) * 1j) * matrix_transpose(inv(a))


defvjp(sign_of_det, _sign_of_det_vjp)
describe_vjp(sign_of_det, "i Im(g · {out}) {a}⁻ᵀ (zero for real matrices)")
defjvp(
    sign_of_det,
    lambda t, ans, a: ans * (imag(_trace(solve(a, t))) * 1j) if _is_complex(a) else ans * 0.0,
)


@primitive("cholesky", hint="The matrix must be symmetric positive definite, (..., n, n).")
def cholesky(xp, a):
    return xp.linalg.cholesky(a)


def _cholesky_vjp(g, ans, a):
    # A = L Lᵀ, read as a symmetric matrix: Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), two triangular systems per side
    lower_t = matrix_transpose(ans)
    half = solve_triangular(lower_t, _lower_half_diagonal(matmul(lower_t, g)), lower=False)  # L⁻ᵀ Φ(Lᵀ L̄)
    return _onto_triangle(matrix_transpose(solve_triangular(lower_t, matrix_transpose(half), lower=False)))


def _cholesky_jvp(t, ans, a):
    # dL = L Φ(L⁻¹ dS L⁻ᴴ), dS the change of the symmetric matrix read from the lower triangle
    inner = solve_triangular(ans, adjoint(solve_triangular(ans, _from_triangle(t))))
    return matmul(ans, _lower_half_diagonal(inner))


defvjp(cholesky, complex_by_transposing(_cholesky_vjp, _cholesky_jvp))
describe_vjp(cholesky, "sym(Lᵀ⁻¹ Φ(Lᵀ g) L⁻¹), Φ: the lower triangle with half its diagonal")
defjvp(cholesky, _cholesky_jvp)


@primitive("eigh", hint="The matrix must be symmetric, (..., n, n).")
def eigh(xp, a, UPLO="L"):
    w, v = xp.linalg.eigh(a, UPLO=UPLO)
    return pack(xp, (w, v), a.shape[:-2])


def eigh_parts(packed, n):
    return unpack(packed, ((n,), (n, n)))


def _eigh_vjp(g, ans, a, UPLO="L"):
    # Ā = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ, symmetrised; F_ij = 1/(w_j - w_i), 0 at repeated eigenvalues
    n = a.shape[-1]
    w, v = eigh_parts(ans, n)
    gw, gv = eigh_parts(g, n)
    inner = diagonal_matrix(gw) + _inverse_gaps(w) * matmul(matrix_transpose(v), gv)
    return _onto_triangle(matmul(matmul(v, inner), matrix_transpose(v)), lower=UPLO == "L")


def _eigh_jvp(t, ans, a, UPLO="L"):
    # dw = Re diag(Vᴴ dA V), dV = V (F ∘ Vᴴ dA V) (the phase of each eigenvector held: Im diag(Vᴴ dV) = 0)
    n = a.shape[-1]
    w, v = eigh_parts(ans, n)
    rotated = matmul(matmul(adjoint(v), _from_triangle(t, lower=UPLO == "L")), v)
    dw = diagonal_part(rotated)
    return pack_tangents([real(dw) if _is_complex(dw) else dw, matmul(v, _inverse_gaps(w) * rotated)], a.shape[:-2])


defvjp(eigh, complex_by_transposing(_eigh_vjp, _eigh_jvp))
describe_vjp(eigh, "V (diag(w̄) + F ∘ Vᵀ V̄) Vᵀ, F_ij = 1/(w_j - w_i)")
defjvp(eigh, _eigh_jvp)


@primitive("eig", hint="The matrix must be square, (..., n, n).")
def eig(xp, a):
    w, v = xp.linalg.eig(a)
    kind = xp.result_type(a.dtype, xp.complex64)  # always complex, whether or not the eigenvalues happen to be real
    return pack(xp, (w.astype(kind), v.astype(kind)), a.shape[:-2])


def _eig_jvp(t, ans, a):
    # V⁻¹ dA V = D: dw = diag D, dV = V (F ∘ D) with F_ij = 1/(w_j - w_i), then each column kept of unit length
    # (as NumPy returns them); their phase is any, so only losses that do not depend on it have a derivative
    n = a.shape[-1]
    w, v = eigh_parts(ans, n)
    rotated = solve(v, matmul(t, v))
    dv = matmul(v, _inverse_gaps(w) * rotated)
    dv = dv - v * real(sum(conjugate(v) * dv, axis=(len(v.shape) - 2,), keepdims=True))
    return pack_tangents([diagonal_part(rotated), dv], a.shape[:-2])


defvjp(eig, complex_by_transposing(None, _eig_jvp, always=True))
describe_vjp(eig, "the transpose of dw = diag(V⁻¹ dA V), dV = V (F ∘ V⁻¹ dA V)")
defjvp(eig, _eig_jvp)


@primitive("svd")
def svd(xp, a, full_matrices=False):
    u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
    return pack(xp, (u, s, vh), a.shape[:-2])


def svd_parts(packed, m, n, full_matrices=False):
    k = min(m, n)
    return unpack(packed, ((m, m if full_matrices else k), (k,), (n if full_matrices else k, n)))


def _reduced(parts, m, n, what):
    """The parts of a full SVD that have a derivative: the first k = min(m, n) columns of U and rows of Vh. The
    others are any orthonormal basis of a complement; a loss that reads them has no derivative."""
    u, s, vh = parts
    k = min(m, n)
    if m == n:
        return u, s, vh
    extra_u, extra_vh = (
        getitem(u, index=(Ellipsis, slice(k, None))),
        getitem(vh, index=(Ellipsis, slice(k, m), slice(None))),
    )
    if what is not None and (constant(extra_u).any() or constant(extra_vh).any()):
        raise what
    return getitem(u, index=(Ellipsis, slice(None, k))), s, getitem(vh, index=(Ellipsis, slice(None, k), slice(None)))


FULL_SVD_ERROR = (
    "svd: the columns that full_matrices=True adds to U (or rows to Vh) of a non-square matrix have no derivative "
    "(they are any orthonormal basis of a complement; forward mode gives them NaN tangents); use "
    "full_matrices=False"
)


def _svd_vjp(g, ans, a, full_matrices=False):
    # Townsend (2016): Ā = U [(F∘(UᵀŪ - ŪᵀU)) S + diag(s̄) + S (F∘(VᵀV̄ - V̄ᵀV))] Vᵀ
    #                      + (I - UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I - VVᵀ),   F_ij = 1/(s_j² - s_i²)
    from ..errors import GradientError

    m, n = a.shape[-2:]
    u, s, vh = _reduced(svd_parts(ans, m, n, full_matrices), m, n, None)
    gu, gs, gvh = _reduced(svd_parts(g, m, n, full_matrices), m, n, GradientError(FULL_SVD_ERROR))
    ut, v, gv = matrix_transpose(u), matrix_transpose(vh), matrix_transpose(gvh)
    f = _inverse_gaps(s * s)  # (s_j - s_i)(s_j + s_i): repeated to rounding where s² are
    ut_gu, vt_gv = matmul(ut, gu), matmul(vh, gv)
    inner = (
        f * (ut_gu - matrix_transpose(ut_gu)) * expand_dims(s, -2)
        + diagonal_matrix(gs)
        + expand_dims(s, -1) * (f * (vt_gv - matrix_transpose(vt_gv)))
    )
    ga = matmul(matmul(u, inner), vh)
    s_inv = _safe_reciprocal(s)
    if m > n:  # U is not square: the part of Ū outside its columns
        gu_scaled = gu * expand_dims(s_inv, -2)
        ga = ga + matmul(gu_scaled - matmul(u, matmul(ut, gu_scaled)), vh)
    if n > m:  # V is not square
        gvh_scaled = expand_dims(s_inv, -1) * gvh
        ga = ga + matmul(u, gvh_scaled - matmul(matmul(gvh_scaled, v), vh))
    return ga


def _svd_jvp(t, ans, a, full_matrices=False):
    m, n = a.shape[-2:]
    u, s, vh = _reduced(svd_parts(ans, m, n, full_matrices), m, n, None)
    ut, v = adjoint(u), adjoint(vh)
    f = _inverse_gaps(s * s)
    rotated = matmul(matmul(ut, t), v)  # dP = Uᴴ dA V
    ds = diagonal_part(rotated)
    dp_s = rotated * expand_dims(s, -2)  # dP S
    s_dp = expand_dims(s, -1) * rotated  # S dP
    s_inv = expand_dims(_safe_reciprocal(s), -2)
    # the phase of U's columns follows the imaginary diagonal of dP (zero for real data)
    du = matmul(u, f * (dp_s + adjoint(dp_s)) + _imaginary_diagonal(rotated) * s_inv)
    dv = matmul(v, f * (s_dp + adjoint(s_dp)))
    if m > n:
        spill = matmul(t, v) * s_inv
        du = du + spill - matmul(u, matmul(ut, spill))
    if n > m:
        spill = matmul(adjoint(t), u) * s_inv
        dv = dv + spill - matmul(v, matmul(vh, spill))
    dvh = adjoint(dv)
    if full_matrices and m != n:  # the columns full_matrices adds have no derivative: their tangents are NaN
        du, dvh = _undefined_beyond(du, m, -1), _undefined_beyond(dvh, n, -2)
    return pack_tangents([du, real(ds) if _is_complex(ds) else ds, dvh], a.shape[:-2])


def _undefined_beyond(change, size, axis):
    """``change`` padded with NaN along ``axis`` up to ``size``: the tangent of parts that have no derivative."""
    value = constant(change)
    shape = list(value.shape)
    shape[axis] = size - shape[axis]
    missing = array_module(value).full(tuple(shape), float("nan"), dtype=value.dtype)
    return concatenate(change, missing, axis=len(shape) + axis)


defvjp(svd, complex_by_transposing(_svd_vjp, _svd_jvp))
describe_vjp(svd, "U [(F∘(UᵀŪ-ŪᵀU))S + diag(s̄) + S(F∘(VᵀV̄-V̄ᵀV))] Vᵀ + the parts outside U's and V's columns")
defjvp(svd, _svd_jvp)


@primitive("qr", hint="qr's primitive takes a tall or square matrix (..., m, n), m >= n.")
def qr(xp, a, complete=False):
    q, r = xp.linalg.qr(a, mode="complete" if complete else "reduced")
    return pack(xp, (q, r), a.shape[:-2])


def qr_parts(packed, m, n, complete=False):
    return unpack(packed, ((m, m), (m, n)) if complete else ((m, n), (n, n)))


COMPLETE_QR_ERROR = (
    "qr: the columns that mode='complete' adds to Q of a tall matrix have no derivative (they are any orthonormal "
    "basis of a complement; forward mode gives them NaN tangents); use mode='reduced'"
)


def _reduced_qr(packed, m, n, complete, what):
    """Q's first n columns and R's first n rows (the rest of R is zeros; the rest of Q has no derivative)."""
    q, r = qr_parts(packed, m, n, complete)
    if not complete or m == n:
        return q, r
    if what is not None and constant(getitem(q, index=(Ellipsis, slice(n, None)))).any():
        raise what
    return getitem(q, index=(Ellipsis, slice(None, n))), getitem(r, index=(Ellipsis, slice(None, n), slice(None)))


def _qr_vjp(g, ans, a, complete=False):
    # M = R R̄ᵀ - Q̄ᵀ Q; Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ, copyltu: the lower triangle mirrored to the upper
    from ..errors import GradientError

    m, n = a.shape[-2:]
    q, r = _reduced_qr(ans, m, n, complete, None)
    gq, gr = _reduced_qr(g, m, n, complete, GradientError(COMPLETE_QR_ERROR))
    mm = matmul(r, matrix_transpose(gr)) - matmul(matrix_transpose(gq), q)
    lower = _strictly_lower(mm)
    copied = lower + matrix_transpose(lower) + diagonal_matrix(diagonal_part(mm))
    b = gq + matmul(q, copied)
    return matrix_transpose(solve_triangular(r, matrix_transpose(b), lower=False))


def _qr_jvp(t, ans, a, complete=False):
    m, n = a.shape[-2:]
    q, r = _reduced_qr(ans, m, n, complete, None)
    t_rinv = matrix_transpose(solve_triangular(matrix_transpose(r), matrix_transpose(t)))  # dA R⁻¹
    qt_t_rinv = matmul(adjoint(q), t_rinv)
    lower = _strictly_lower(qt_t_rinv)
    skew = lower - adjoint(lower) + _imaginary_diagonal(qt_t_rinv)  # (R's diagonal stays real)
    dq = matmul(q, skew - qt_t_rinv) + t_rinv
    dr = matmul(qt_t_rinv - skew, r)
    if complete and m != n:  # R's added rows are zeros; Q's added columns have no derivative
        dq = _undefined_beyond(dq, m, -1)
        dr = concatenate(dr, dr[..., : m - n, :] * 0.0, axis=len(dr.shape) - 2)
    return pack_tangents([dq, dr], a.shape[:-2])


defvjp(qr, complex_by_transposing(_qr_vjp, _qr_jvp))
describe_vjp(qr, "(Q̄ + Q copyltu(R R̄ᵀ - Q̄ᵀ Q)) R⁻ᵀ")
defjvp(qr, _qr_jvp)


@primitive("pinv")
def pinv(xp, a, rtol=None, hermitian=False):
    return xp.linalg.pinv(a, rtol=rtol, hermitian=hermitian)


def _pinv_vjp(g, ans, a, rtol=None, hermitian=False):
    # d(A⁺) = -A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I - AA⁺) + (I - A⁺A) dAᵀ A⁺ᵀA⁺ (where the rank does not change)
    p, pt, gt = ans, matrix_transpose(ans), matrix_transpose(g)
    left = _identity(a, a.shape[-2]) - matmul(a, p)  # I - AA⁺, (m, m)
    right = _identity(a, a.shape[-1]) - matmul(p, a)  # I - A⁺A, (n, n)
    return (
        -matmul(matmul(pt, g), pt) + matmul(matmul(left, gt), matmul(p, pt)) + matmul(matmul(pt, p), matmul(gt, right))
    )


def _pinv_jvp(t, ans, a, rtol=None, hermitian=False):
    p, pt, tt = ans, adjoint(ans), adjoint(t)
    left = _identity(a, a.shape[-2]) - matmul(a, p)
    right = _identity(a, a.shape[-1]) - matmul(p, a)
    return -matmul(matmul(p, t), p) + matmul(matmul(p, pt), matmul(tt, left)) + matmul(right, matmul(tt, matmul(pt, p)))


defvjp(pinv, complex_by_transposing(_pinv_vjp, _pinv_jvp))
describe_vjp(pinv, "-A⁺ᵀ g A⁺ᵀ + (I - AA⁺) gᵀ A⁺A⁺ᵀ + A⁺ᵀA⁺ gᵀ (I - A⁺A)")
defjvp(pinv, _pinv_jvp)


@primitive("vector_norm")
def vector_norm(xp, x, ord=2, axis=None, keepdims=False):
    return xp.linalg.vector_norm(x, ord=ord, axis=axis, keepdims=keepdims)


def _norm_slope(ans, x, ord=2, axis=None, keepdims=False):
    """d‖x‖/dx elementwise, defined as 0 where the norm is 0 (and, for ord < 1, where an element is 0); the
    ∞-norms share the slope equally among the elements that reach the maximum (minimum) magnitude. For complex x
    the direction of each element is conj(x)/|x| (the change of the norm is Re Σ slope·dx)."""
    kept = broadcast_to(_kept(ans, x.shape, axis, keepdims), shape=tuple(x.shape))
    size = absolute(x)
    if _is_complex(x):  # conj(x)/|x|, which (unlike the sign of a real number) changes with x
        at_zero = constant(size) == 0
        direction = where(0.0, conjugate(x) / where(1.0, size, condition=at_zero), condition=at_zero)
    else:
        direction = sign(x)
    if ord == 0:
        return size * 0.0
    if ord in (float("inf"), float("-inf")):
        reached = constant(size) == constant(kept)
        return direction * reached / sum(reached, axis=axis, keepdims=True)
    if ord == 1:
        return direction
    zero = constant(kept) == 0
    ratio = size / where(1.0, kept, condition=zero)
    if ord == 2:
        slope = (conjugate(x) if _is_complex(x) else x) / where(1.0, kept, condition=zero)
    else:
        if ord < 1:
            zero = zero | (constant(x) == 0)
            ratio = where(1.0, ratio, condition=zero)
        slope = direction * ratio ** (ord - 1)
    return where(0.0, slope, condition=zero)


defvjp(
    vector_norm,
    lambda g, ans, x, **p: unreduce(g, x.shape, p.get("axis"), p.get("keepdims", False)) * _norm_slope(ans, x, **p),
)
describe_vjp(vector_norm, "g · sign({a}) |{a}|^(p-1) / ‖{a}‖^(p-1), 0 where the norm is 0")
defjvp(
    vector_norm,
    lambda t, ans, x, **p: sum(_norm_slope(ans, x, **p) * t, axis=p.get("axis"), keepdims=p.get("keepdims", False)),
)
