"""``cr.linalg``: NumPy's ``numpy.linalg``, differentiable in both modes and to any order.

Every function takes stacks of matrices (the last two axes) and broadcasts over the leading axes as NumPy does;
the results match NumPy's, with the same named tuples. The primitives and their rules are in ``ops/linalg.py``.

Where a derivative does not exist the documented choice is:

- ``det`` and ``slogdet`` at a singular matrix, ``solve``, ``inv`` and ``cholesky`` of a singular (or, for
  ``cholesky``, not positive definite) matrix: ``cr.LinAlgError`` (also a ``np.linalg.LinAlgError``).
- ``cholesky`` and ``eigh`` read one triangle of the matrix (and the real part of its diagonal), as NumPy; their
  derivatives are those of what NumPy computes: only that triangle gets a gradient. For a symmetric matrix and a
  symmetric change this is the usual derivative (JAX and PyTorch instead assume the input symmetric).
- ``eigh`` at repeated eigenvalues: the eigenvectors are any basis of the eigenspace, so only losses that do not
  depend on that choice (eigenvalues, projections onto the eigenspace) have a derivative; the rules drop the
  terms 1/(w_j - w_i) where w_j and w_i are equal to rounding, which is that derivative for such losses.
- ``svd``: the same at repeated singular values; at a zero singular value the terms scaled by 1/s are dropped;
  with ``full_matrices=True`` the extra columns of U (rows of Vh) of a non-square matrix have no derivative (a
  clear error if a loss uses them in reverse mode; NaN tangents in forward mode). So have the columns that
  ``qr(mode="complete")`` adds to Q of a tall matrix.
- ``norm``: the gradient at the zero vector (or matrix) is 0; the ∞-norms share it among tied elements.
- ``pinv`` and ``lstsq``: the derivative where the rank stays the same (singular values below the cut-off are
  treated as exactly zero).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import ops
from .errors import ShapeError
from .functions import _operand, _public, concatenate, matmul, max, min, register_numpy, sum
from .ops.linalg import eigh_parts, qr_parts, svd_parts
from .tensor import Tensor
from .vectorize.batched import on_stacked
from .vectorize.boundary import looped_when_batched

__all__ = [
    "cholesky",
    "cond",
    "det",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "lstsq",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vector_norm",
]


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class EigResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


def _tensor(x: Any) -> Tensor:
    return x if type(x) is Tensor else Tensor._from_op(x, None)


def _matrices(name: str, a: Any, square: bool = True) -> Any:
    a = _operand(a)
    shape = np.shape(ops.constant(a))
    if len(shape) < 2:
        raise ShapeError(f"{name}: needs a matrix or a stack of matrices (..., m, n), got shape {shape}")
    if square and shape[-1] != shape[-2]:
        raise ShapeError(f"{name}: needs square matrices (..., n, n), got shape {shape}")
    return a


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(ops.constant(x)))


@_public
def inv(a: Any) -> Tensor:
    """The inverse of each square matrix."""
    return ops.inv(_matrices("inv", a))


@_public
def solve(a: Any, b: Any) -> Tensor:
    """x with a @ x = b; b is a vector (n,) or a stack of matrices (..., n, k), as NumPy 2 reads it."""
    a, b = _matrices("solve", a), _operand(b)
    if len(_shape(b)) == 1:
        return ops.squeeze(ops.solve(a, ops.expand_dims(b, -1)), -1)
    return ops.solve(a, b)


@_public
def det(a: Any) -> Tensor:
    """The determinant of each square matrix."""
    return ops.det(_matrices("det", a))


def slogdet(a: Any) -> SlogdetResult:
    """(sign, log|det|) of each square matrix; the sign of a real matrix is flat (derivative 0), that of a complex
    one is the phase of the determinant, differentiable."""
    a = _matrices("slogdet", a)
    return SlogdetResult(_tensor(ops.sign_of_det(a)), _tensor(ops.logabsdet(a)))


@_public
def cholesky(a: Any, upper: bool = False) -> Tensor:
    """L with a = L Lᵀ (lower triangular), or Lᵀ with ``upper=True``; a symmetric positive definite."""
    lower = ops.cholesky(_matrices("cholesky", a))
    return ops.swapaxes(lower, -1, -2) if upper else lower


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors (columns) of each symmetric matrix. See the module's notes for
    repeated eigenvalues."""
    a = _matrices("eigh", a)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, v = eigh_parts(ops.eigh(a, UPLO=UPLO), _shape(a)[-1])
    return EighResult(_tensor(w), _tensor(v))


def eig(a: Any) -> EigResult:
    """Eigenvalues and right eigenvectors (columns, unit length) of each square matrix, always complex (NumPy
    gives real arrays when the eigenvalues happen to be real). Eigenvectors have any phase: differentiate losses
    that do not depend on it (|v|, eigenvalues, ...); repeated eigenvalues as for ``eigh``."""
    a = _matrices("eig", a)
    w, v = eigh_parts(ops.eig(a), _shape(a)[-1])
    return EigResult(_tensor(w), _tensor(v))


def eigvals(a: Any) -> Tensor:
    """The eigenvalues of each square matrix, complex."""
    return eig(a).eigenvalues


def eigvalsh(a: Any, UPLO: str = "L") -> Tensor:
    """The eigenvalues of each symmetric matrix, ascending."""
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """U, S, Vh with a = U diag(S) Vh, singular values descending (``compute_uv=False``: S alone). As NumPy,
    ``full_matrices`` defaults to True; for a non-square matrix pass False if U's or Vh's extra part does not
    matter (it has no derivative). ``hermitian`` is accepted for NumPy's signature; the same SVD is computed."""
    a = _matrices("svd", a, square=False)
    m, n = _shape(a)[-2:]
    full = builtins.bool(full_matrices) and compute_uv and m != n
    u, s, vh = svd_parts(ops.svd(a, full_matrices=full), m, n, full)
    if not compute_uv:
        return _tensor(s)
    return SVDResult(_tensor(u), _tensor(s), _tensor(vh))


def svdvals(x: Any) -> Tensor:
    """The singular values of each matrix, descending."""
    return svd(x, compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    """Q, R with a = Q R (mode "reduced" or "complete"), or R alone (mode "r")."""
    a = _matrices("qr", a, square=False)
    m, n = _shape(a)[-2:]
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "complete" and m > n:  # Q's added columns have no derivative (see the module's notes)
        q, r = qr_parts(ops.qr(a, complete=True), m, n, complete=True)
    elif m >= n:
        q, r = qr_parts(ops.qr(a), m, n)
    else:  # wide: a = [x | y] = Q [r_x | Qᵀ y], with x square, composed so both modes come from the square case
        x, y = ops.getitem(a, index=(Ellipsis, slice(None, m))), ops.getitem(a, index=(Ellipsis, slice(m, None)))
        q, r_x = qr_parts(ops.qr(x), m, m)
        r = concatenate([r_x, matmul(ops.swapaxes(q, -1, -2), y)], axis=-1)
    return _tensor(r) if mode == "r" else QRResult(_tensor(q), _tensor(r))


@_public
def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Tensor:
    """The Moore-Penrose pseudo-inverse (singular values below ``rtol`` times the largest are dropped)."""
    a = _matrices("pinv", a, square=False)
    cutoff = rcond if rcond is not None else rtol
    if cutoff is None:
        cutoff = builtins.max(_shape(a)[-2:]) * np.finfo(np.result_type(ops.constant(a), np.float64)).eps
    return ops.pinv(a, rtol=cutoff, hermitian=hermitian)


@looped_when_batched
def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Tensor, Tensor, int, Tensor]:
    """x minimising ‖a x - b‖, with NumPy's residuals, rank and singular values; x is pinv(a) @ b."""
    a, b = _matrices("lstsq", a, square=False), _operand(b)
    if len(_shape(a)) != 2:
        raise ShapeError(f"lstsq: a must be one matrix (m, n), got shape {_shape(a)}")
    m, n = _shape(a)
    cutoff = np.finfo(np.float64).eps * builtins.max(m, n) if rcond is None else rcond
    x = matmul(pinv(a, rtol=cutoff), b)
    s = svdvals(a)
    rank = int(np.sum(ops.constant(s) > cutoff * ops.constant(s)[0])) if builtins.min(m, n) else 0
    if rank == n and m > n:
        residuals = sum((matmul(a, x) - b) ** 2, axis=0)
        if residuals.ndim == 0:
            residuals = ops.reshape(residuals, shape=(1,))
    else:
        residuals = Tensor(np.empty((0,), dtype=np.result_type(ops.constant(a), ops.constant(b))))
    return x, _tensor(residuals), rank, s


@_public
def matrix_power(a: Any, n: int) -> Tensor:
    """a multiplied by itself n times (n < 0: of its inverse; n == 0: the identity), by repeated squaring."""
    a = _matrices("matrix_power", a)
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {type(n).__name__}")
    if n == 0:
        shape = _shape(a)
        return Tensor(np.broadcast_to(np.eye(shape[-1], dtype=ops.constant(a).dtype), shape).copy())
    base = ops.inv(a) if n < 0 else a
    result, n = None, abs(int(n))
    while n:
        if n & 1:
            result = base if result is None else ops.matmul(result, base)
        n >>= 1
        if n:
            base = ops.matmul(base, base)
    return result


@_public
def multi_dot(arrays: Sequence[Any]) -> Tensor:
    """The product of a chain of matrices (the first and last may be vectors), left to right."""
    if len(arrays) < 2:
        raise ShapeError("multi_dot: needs at least two arrays")
    result = arrays[0]
    for item in arrays[1:]:
        result = matmul(result, item)
    return result


def matrix_rank(a: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """The rank of each matrix (an integer: no derivative)."""
    return on_stacked(
        lambda values: np.linalg.matrix_rank(values, tol=tol, hermitian=hermitian, rtol=rtol), ops.constant(_operand(a))
    )


_INF = float("inf")


@_public
def vector_norm(x: Any, ord: Any = 2, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The p-norm of the elements along ``axis`` (all of them by default); its gradient at 0 is 0."""
    x = _operand(x)
    ndim = len(_shape(x))
    axes = None if axis is None else tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))
    return ops.vector_norm(x, ord=_INF if ord == np.inf else ord, axis=axes, keepdims=keepdims)


@_public
def matrix_norm(x: Any, ord: Any = "fro", keepdims: bool = False) -> Tensor:
    """A norm of each matrix over the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


@_public
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """NumPy's ``linalg.norm``: a vector norm over one axis, a matrix norm over two ("fro", "nuc", ±1, ±2,
    ±inf); its gradient at 0 is 0."""
    x = _operand(x)
    ndim = len(_shape(x))
    if axis is None:
        if ord is None:
            return vector_norm(x, 2, None, keepdims)
        if ndim not in (1, 2):
            raise ShapeError(f"norm: ord={ord!r} needs a vector or a matrix without axis=, got {ndim} dimensions")
        axis = tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(int(a) % ndim for a in axes)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm; a vector norm takes a number")
        return vector_norm(x, 2 if ord is None else ord, axes, keepdims)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ShapeError(f"norm: axis must name one or two distinct axes, got {axis!r}")
    if ord in (None, "fro"):
        return vector_norm(x, 2, axes, keepdims)
    row, col = axes
    if ord in ("nuc", 2, -2):
        moved = ops.transpose(x, axes=(*[a for a in range(ndim) if a not in axes], row, col))
        s = svdvals(moved)
        value = sum(s, axis=-1) if ord == "nuc" else (max(s, axis=-1) if ord == 2 else min(s, axis=-1))
        # at the zero matrix the singular vectors are any: the gradient there is defined as 0, as for every norm
        zero = ops.constant(max(ops.constant(abs(moved)), axis=(-2, -1))) == 0
        value = ops.where(0.0, value, condition=zero)
        return _keep(value, axes, ndim) if keepdims else value
    if ord in (1, -1, _INF, -_INF):
        summed, over = (col, row) if ord in (_INF, -_INF) else (row, col)
        totals = sum(abs(x), axis=summed, keepdims=True)
        pick = max if ord in (1, _INF) else min
        value = pick(totals, axis=over, keepdims=True)
        return value if keepdims else ops.squeeze(value, axes)
    raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm (use 'fro', 'nuc', 1, -1, 2, -2, inf, -inf)")


def _keep(value: Any, axes: tuple[int, ...], ndim: int) -> Any:
    return ops.expand_dims(value, tuple(sorted(axes)))


@_public
def cond(x: Any, p: Any = None) -> Tensor:
    """The condition number of each matrix: ‖x‖ ‖x⁻¹‖ in the norm ``p`` (None: the ratio of the largest to the
    smallest singular value)."""
    x = _matrices("cond", x, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(x)
        ratio = ops.getitem(s, index=(Ellipsis, 0)) / ops.getitem(s, index=(Ellipsis, -1))
        return ratio if p != -2 else 1 / ratio
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


def _register_numpy_dispatch() -> None:
    """``np.linalg.NAME(t)`` on tensors calls ``cr.linalg.NAME`` (differentiable), its arguments as NumPy's."""
    for name in __all__:
        numpy_function = getattr(np.linalg, name, None)
        if numpy_function is not None:
            register_numpy(numpy_function, globals()[name], *_ACCEPTED.get(name, ()))


_ACCEPTED = {
    "cholesky": frozenset({"upper"}),
    "eigh": frozenset({"UPLO"}),
    "eigvalsh": frozenset({"UPLO"}),
    "svd": frozenset({"full_matrices", "compute_uv", "hermitian"}),
    "qr": frozenset({"mode"}),
    "pinv": frozenset({"rcond", "hermitian", "rtol"}),
    "lstsq": frozenset({"rcond"}),
    "matrix_rank": frozenset({"tol", "hermitian", "rtol"}),
    "norm": frozenset({"ord", "axis", "keepdims"}),
    "vector_norm": frozenset({"ord", "axis", "keepdims"}),
    "matrix_norm": frozenset({"ord", "keepdims"}),
    "cond": frozenset({"p"}),
}
_register_numpy_dispatch()
