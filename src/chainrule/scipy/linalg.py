"""``cr.scipy.linalg``: solve_triangular, cho_factor / cho_solve, expm, sqrtm, solve_sylvester and
solve_banded on tensors, differentiable in every matrix argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functions as F
from .. import linalg as _linalg
from ..errors import ShapeError
from ..ops import scipy_linalg as _ops
from ..tensor import Tensor
from .special import _tensor


def _square(name: str, a: Tensor) -> None:
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"{name}: needs a square matrix, got shape {a.shape}")


def solve_triangular(
    a: Any, b: Any, trans: Any = 0, lower: bool = False, unit_diagonal: bool = False, **ignored: Any
) -> Tensor:
    """x with a x = b (``trans`` 0/'N'), aᵀ x = b (1/'T') or aᴴ x = b (2/'C'), ``a`` triangular: only its
    ``lower`` or upper triangle is read, and with ``unit_diagonal`` not its diagonal (taken as ones), as SciPy."""
    a, b = _tensor(a), _tensor(b)
    _square("solve_triangular", a)
    if b.shape[0] != a.shape[0]:
        raise ShapeError(f"solve_triangular: b has {b.shape[0]} rows, a is {a.shape[0]} x {a.shape[0]}")
    kinds = {0: 0, "N": 0, 1: 1, "T": 1, 2: 2, "C": 2}
    if trans not in kinds:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    if unit_diagonal:
        eye = np.eye(a.shape[0], dtype=bool)
        a = F.where(eye, 1.0, a)
    if kinds[trans]:
        a = a.T if kinds[trans] == 1 else F.conj(a).T
        lower = not lower
    return _ops.solve_triangular(a, b, lower=bool(lower))


def cho_factor(a: Any, lower: bool = False) -> tuple[Tensor, bool]:
    """(c, lower): the Cholesky factor of a positive-definite ``a`` (upper unless ``lower``), for cho_solve."""
    c = _linalg.cholesky(_tensor(a))  # lower
    return (c if lower else c.T), bool(lower)


def cho_solve(c_and_lower: tuple, b: Any) -> Tensor:
    """x with a x = b, from cho_factor's result."""
    c, lower = c_and_lower
    c = _tensor(c)
    if not lower:
        c = c.T
    return solve_triangular(c.T, solve_triangular(c, b, lower=True), lower=False)


def expm(a: Any) -> Tensor:
    a = _tensor(a)
    _square("expm", a)
    return _ops.expm(a)


def sqrtm(a: Any) -> Tensor:
    a = _tensor(a)
    _square("sqrtm", a)
    return _ops.sqrtm(a)


def solve_sylvester(a: Any, b: Any, q: Any) -> Tensor:
    """x with a x + x b = q."""
    a, b, q = _tensor(a), _tensor(b), _tensor(q)
    _square("solve_sylvester", a)
    _square("solve_sylvester", b)
    if q.shape != (a.shape[0], b.shape[0]):
        raise ShapeError(f"solve_sylvester: q must have shape {(a.shape[0], b.shape[0])}, got {q.shape}")
    return _ops.solve_sylvester(a, b, q)


def solve_banded(
    l_and_u: tuple, ab: Any, b: Any, overwrite_ab: bool = False, overwrite_b: bool = False, check_finite: bool = True
) -> Tensor:
    """x with a x = b, ``a`` given by its bands in LAPACK's layout (``ab[u + i - j, j] = a[i, j]``), by SciPy's
    banded solver; its rules are banded solves and gathers too (SciPy's options are accepted; nothing is
    overwritten)."""
    lower, upper = (int(v) for v in l_and_u)
    ab, b = _tensor(ab), _tensor(b)
    n = ab.shape[1]
    if ab.ndim != 2 or ab.shape[0] != lower + upper + 1:
        raise ShapeError(f"solve_banded: ab must have {lower + upper + 1} rows for (l, u) = {l_and_u}, got {ab.shape}")
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ShapeError(f"solve_banded: b must have {n} rows (ab has {n} columns), got shape {b.shape}")
    columns = b if b.ndim == 2 else F.reshape(b, (n, 1))
    x = _ops.solve_banded(ab, columns, lower=lower, upper=upper)
    return x if b.ndim == 2 else F.reshape(x, (n,))


__all__ = ["cho_factor", "cho_solve", "expm", "solve_banded", "solve_sylvester", "solve_triangular", "sqrtm"]
