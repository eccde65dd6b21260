"""gradcheck: compare a function's automatic derivatives with central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import DtypeError, GradientError
from .tensor import Tensor
from .transforms import _as_tensor, jvp, tree_flatten, tree_unflatten, vjp


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    order: int = 1,
    allow_float32: bool = False,
    seed: int = 0,
    modes: tuple[str, ...] = ("rev", "fwd"),
) -> bool:
    """Check reverse mode (vector-Jacobian products) and forward mode (Jacobian-vector products) of ``f``
    against central finite differences along random directions, one input at a time; with ``order=2`` the
    derivatives of the reverse-mode gradient as well. Returns True, or raises ``GradientError`` naming the
    input and the worst mismatch. float32 inputs are refused unless ``allow_float32=True``: finite differences
    in single precision cannot resolve ``atol``. ``modes=("rev",)`` checks reverse mode only (second order then
    as reverse over reverse), for functions whose forward mode is refused.
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    if not modes or set(modes) - {"rev", "fwd"}:
        raise ValueError(f"gradcheck: modes must name 'rev' and/or 'fwd', got {modes!r}")
    leaves, spec = tree_flatten(list(inputs))
    if spec != (list, tuple((1, None) for _ in inputs)):  # nested inputs: check the function of their leaves
        return gradcheck(
            lambda *xs: f(*tree_unflatten(spec, list(xs))), *leaves, eps=eps, atol=atol, rtol=rtol, order=order,
            allow_float32=allow_float32, seed=seed, modes=modes,
        )  # fmt: skip
    tensors = [_as_tensor(x) for x in inputs]
    for i, t in enumerate(tensors):
        allowed = (np.float64, np.float32) if allow_float32 else (np.float64,)
        if t.dtype not in allowed:
            raise DtypeError(
                f"gradcheck: input {i} is {t.dtype}; finite differences need float64 inputs"
                + ("" if allow_float32 or t.dtype != np.float32 else ", or pass allow_float32=True")
            )
    rng = np.random.default_rng(seed)
    values = [np.asarray(t.data, dtype=t.dtype) for t in tensors]
    out = _as_tensor(f(*[Tensor(v) for v in values]))
    u = rng.standard_normal(out.shape)

    def along(i: int, direction: np.ndarray, fn: Callable[..., Any]) -> np.ndarray:
        def at(step: float) -> np.ndarray:
            moved = [v + step * direction if k == i else v for k, v in enumerate(values)]
            return np.asarray(_as_tensor(fn(*[Tensor(m) for m in moved])).data)

        return (at(eps) - at(-eps)) / (2 * eps)

    def pulled(*xs: Tensor) -> Any:
        return np.sum(np.asarray(_as_tensor(f(*xs)).data) * u)

    directions = [rng.standard_normal(v.shape) for v in values]
    if "rev" in modes:
        reverse = vjp(f, *values)[1](u)
        for i, direction in enumerate(directions):
            numeric = float(along(i, direction, pulled))
            _compare("reverse mode (vjp)", i, float(np.sum(reverse[i].data * direction)), numeric, atol, rtol)
    if "fwd" not in modes:
        if order >= 2:
            _reverse_over_reverse(f, values, u, directions, rng, along, eps, atol, rtol)
        return True
    for i, direction in enumerate(directions):
        tangents = [direction if k == i else np.zeros_like(w) for k, w in enumerate(values)]
        forward = jvp(f, tuple(values), tuple(tangents))[1]
        fd = along(i, direction, lambda *xs: _as_tensor(f(*xs)).data)
        _compare_arrays("forward mode (jvp)", i, np.asarray(forward.data), fd, atol, rtol)
    if order >= 2:
        # the change of the whole gradient along all inputs' directions at once: mixed terms included
        def first(*xs: Any) -> tuple:
            return vjp(f, *xs)[1](u)

        second = jvp(first, tuple(values), tuple(directions))[1]
        plus = first(*[v + eps * d for v, d in zip(values, directions)])
        minus = first(*[v - eps * d for v, d in zip(values, directions)])
        for i, block in enumerate(second):
            fd2 = (np.asarray(plus[i].data) - np.asarray(minus[i].data)) / (2 * eps)
            _compare_arrays("second order (jvp of vjp)", i, np.asarray(block.data), fd2, atol, rtol)
    return True


def _reverse_over_reverse(f, values, u, directions, rng, along, eps, atol, rtol) -> None:
    """Second order in reverse mode only: the gradient of <w, vjp(u)> against its central differences."""
    weights = [rng.standard_normal(v.shape) for v in values]

    def weighted(*xs: Any) -> Any:
        grads = vjp(f, *xs)[1](u)
        return sum((g * w).sum() for g, w in zip(grads, weights))

    second = vjp(weighted, *values)[1](np.float64(1.0))
    for i, direction in enumerate(directions):
        numeric = float(along(i, direction, lambda *xs: _as_tensor(weighted(*xs)).data))
        _compare("second order (vjp of vjp)", i, float(np.sum(second[i].data * direction)), numeric, atol, rtol)


def _compare(what: str, i: int, analytic: float, numeric: float, atol: float, rtol: float) -> None:
    if abs(analytic - numeric) > atol + rtol * abs(numeric):
        raise GradientError(
            f"gradcheck: {what} of input {i} disagrees with finite differences: analytic {analytic:.10g}, "
            f"numeric {numeric:.10g} (difference {abs(analytic - numeric):.3g})"
        )


def _compare_arrays(what: str, i: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if error.size and np.max(error) > 0:
        worst = np.unravel_index(int(np.argmax(error)), error.shape)
        raise GradientError(
            f"gradcheck: {what} of input {i} disagrees with finite differences; worst at index "
            f"{tuple(map(int, worst))}: analytic {analytic[worst]:.10g}, numeric {numeric[worst]:.10g}"
        )
