"""``cr.scipy.special``: SciPy's special functions on tensors, differentiable in both modes and to any order.

Functions of one variable and the two-argument ones are primitives (``ops/special.py``); the rest are built from
chainrule's operations. An argument that is an order or a count (``polygamma``'s n) is a number, not
differentiable: passing a tensor that requires grad there is an error that says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functions as F
from ..functions import _operand
from ..ops import incomplete as _incomplete
from ..ops import special as _ops
from ..tensor import Tensor


def _tensor(x: Any) -> Tensor:
    """A tensor of x; float32 and complex arrays keep their dtype (as SciPy's functions do), the rest is float64."""
    x = _operand(x)
    if type(x) is Tensor:
        return x
    values = np.asarray(x)
    kind_kept = values.dtype.kind in "fc" and values.dtype.itemsize >= 4
    return Tensor._from_op(values if kind_kept else values.astype(np.result_type(values, np.float64)), None)


def _unary(prim: Any, name: str) -> Any:
    def fn(x: Any) -> Tensor:
        return prim(_tensor(x))

    fn.__name__ = name
    fn.__doc__ = f"scipy.special.{name}, differentiable."
    return fn


# At the poles of gamma (0, -1, -2, ...) gamma and gammaln follow SciPy's value (inf or nan) and their
# derivatives are nan: none exists there (rgamma, below, is smooth through them).
gammaln = _unary(_ops.gammaln, "gammaln")
digamma = psi = _unary(_ops.digamma, "digamma")
gamma = _unary(_ops.gamma, "gamma")
erfc = _unary(_ops.erfc, "erfc")
erfinv = _unary(_ops.erfinv, "erfinv")
erfcinv = _unary(_ops.erfcinv, "erfcinv")
i0 = _unary(_ops.i0, "i0")
i1 = _unary(_ops.i1, "i1")
i0e = _unary(_ops.i0e, "i0e")
i1e = _unary(_ops.i1e, "i1e")
log_ndtr = _unary(_ops.log_ndtr, "log_ndtr")


def ndtr(x: Any) -> Tensor:
    """The standard normal cumulative distribution function."""
    return F.exp(log_ndtr(x))


def _order(n: Any, name: str) -> int:
    if type(n) is Tensor and n.requires_grad:
        raise TypeError(f"{name}: no derivative with respect to the order n (an integer): pass a number")
    _one_number(n, name, "n")
    value = n.item() if type(n) is Tensor else n
    if int(value) != value or value < 0:
        raise ValueError(f"{name}: n must be a non-negative integer, got {value!r}")
    return int(value)


def polygamma(n: Any, x: Any) -> Tensor:
    """The n-th derivative of digamma; differentiable in x."""
    return _ops.polygamma(_tensor(x), n=_order(n, "polygamma"))


def iv(v: Any, x: Any) -> Tensor:
    """The modified Bessel function of the first kind of real order v; differentiable in x (not in v: no closed
    form, an error says so)."""
    return _ops.iv(_tensor(x), v=_real_order(v, "iv"))


def ive(v: Any, x: Any) -> Tensor:
    """iv(v, x) exp(-|x|); differentiable in x."""
    return _ops.ive(_tensor(x), v=_real_order(v, "ive"))


def _one_number(value: Any, name: str, argument: str) -> None:
    if np.size(value.data if type(value) is Tensor else value) != 1:
        raise TypeError(
            f"{name}: the order {argument} must be one number (one function per order); for several orders call it "
            "once per order"
        )


def _real_order(v: Any, name: str) -> float:
    if type(v) is Tensor and v.requires_grad:
        raise TypeError(f"{name}: no derivative with respect to the order v (it has no closed form): pass a number")
    _one_number(v, name, "v")
    return float(v.item() if type(v) is Tensor else v)


def _number(value: Any, name: str, argument: str) -> float:
    """An argument with no closed-form derivative: a number; a tensor that requires grad is refused by name."""
    _one_number(value, name, argument)
    if type(value) is Tensor and value.requires_grad:
        raise TypeError(
            f"{name}: no derivative with respect to {argument} (it has no closed form): pass a number, or a tensor "
            "that does not require grad"
        )
    return float(value.item() if type(value) is Tensor else value)


def jv(v: Any, x: Any) -> Tensor:
    """The Bessel function of the first kind of real order v; differentiable in x."""
    return _ops.jv(_tensor(x), v=_number(v, "jv", "the order v"))


def yv(v: Any, x: Any) -> Tensor:
    """The Bessel function of the second kind of real order v; differentiable in x."""
    return _ops.yv(_tensor(x), v=_number(v, "yv", "the order v"))


def jn(n: Any, x: Any) -> Tensor:
    return jv(_order(n, "jn"), x)


def yn(n: Any, x: Any) -> Tensor:
    return yv(_order(n, "yn"), x)


def j0(x: Any) -> Tensor:
    return jv(0, x)


def j1(x: Any) -> Tensor:
    return jv(1, x)


def y0(x: Any) -> Tensor:
    return yv(0, x)


def y1(x: Any) -> Tensor:
    return yv(1, x)


def gammainc(a: Any, x: Any) -> Tensor:
    """The regularised lower incomplete gamma function P(a, x). Differentiable in x to any order, and in a to
    second order (the derivatives of its series and continued fraction; no closed form exists)."""
    return _incomplete.gammainc(_tensor(a), _tensor(x))


def gammaincc(a: Any, x: Any) -> Tensor:
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x), accurate where P is near 1."""
    return _incomplete.gammaincc(_tensor(a), _tensor(x))


def betainc(a: Any, b: Any, x: Any) -> Tensor:
    """The regularised incomplete beta function I_x(a, b). Differentiable in x to any order, and in a and b to
    second order (the derivatives of its continued fraction; no closed form exists)."""
    return _incomplete.betainc(_tensor(a), _tensor(b), _tensor(x))


def multigammaln(a: Any, d: int) -> Tensor:
    """The log of the multivariate gamma function of dimension d."""
    d = _order(d, "multigammaln")
    a = _tensor(a)
    if np.any(np.asarray(a.data) <= (d - 1) / 2):
        raise ValueError(f"multigammaln: a must be greater than (d - 1)/2 = {(d - 1) / 2} everywhere")
    terms = sum(gammaln(a - j / 2) for j in range(d))
    return terms + d * (d - 1) / 4 * np.log(np.pi)


def rgamma(x: Any) -> Tensor:
    """1/gamma(x), an entire function: 0 at the poles of gamma (0, -1, -2, ...) with its true derivatives there,
    (-1)^n n! at -n. Left of 1/2 by the reflection 1/Γ(x) = Γ(1-x) sin(πx)/π, with sin(πx) taken as
    ±sin(π(x - round(x))) so that it is exactly 0 at the integers."""
    x = _tensor(x)
    left = x < 0.5
    near = F.where(left, x, 0.0)
    k = F.round(near).detach()
    sin_pi_x = F.sin(np.pi * (near - k)) * F.cos(np.pi * k)  # cos(πk) = ±1 exactly
    reflected = gamma(1 - near) * sin_pi_x / np.pi
    return F.where(left, reflected, 1 / gamma(F.where(left, 1.0, x)))


erf = _unary(_ops.erf, "erf")  # SciPy's: complex arguments too


gammasgn = _unary(_ops.gammasgn, "gammasgn")  # the sign of gamma: no rule (constant between the poles)


def betaln(a: Any, b: Any) -> Tensor:
    return _ops.betaln(_tensor(a), _tensor(b))


def beta(a: Any, b: Any) -> Tensor:
    """gamma(a) gamma(b) / gamma(a + b), as exp(betaln) with the sign of the gammas (no overflow in between)."""
    a, b = _tensor(a), _tensor(b)
    # the sign from the signs of the gammas (their values overflow long before beta does)
    sign = _ops.gammasgn(a.data) * _ops.gammasgn(b.data) * _ops.gammasgn(a.data + b.data)
    return sign * F.exp(betaln(a, b))


def xlogy(x: Any, y: Any) -> Tensor:
    """x log(y), 0 where x = 0."""
    return _ops.xlogy(_tensor(x), _tensor(y))


def xlog1py(x: Any, y: Any) -> Tensor:
    """x log(1 + y), 0 where x = 0."""
    return _ops.xlog1py(_tensor(x), _tensor(y))


def expit(x: Any) -> Tensor:
    return F.sigmoid(_tensor(x))


def logit(x: Any) -> Tensor:
    x = _tensor(x)
    return F.log(x) - F.log1p(-x)


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """log(sum(b exp(a))) along ``axis``, computed without overflow; with ``return_sign``, (log|sum|, sign)."""
    a = _tensor(a)
    if b is None and not return_sign:
        return F.logsumexp(a, axis=axis, keepdims=keepdims)
    if b is not None:
        b = _tensor(b)
        a = F.where(b == 0, -np.inf, a)  # a term with weight 0 is no term, even where a is inf (as SciPy)
    shift = F.max(a.detach(), axis=axis, keepdims=True)
    shift = F.where(F.abs(shift) < np.inf, shift, 0.0)  # all -inf, or an inf: no shift (the sum says it)
    terms = F.exp(a - shift) * (b if b is not None else 1.0)
    total = F.sum(terms, axis=axis, keepdims=True)
    result = F.log(F.abs(total)) + shift
    if not keepdims:
        result = F.squeeze(result, axis=axis) if axis is not None else F.reshape(result, ())
        total = F.squeeze(total, axis=axis) if axis is not None else F.reshape(total, ())
    if return_sign:
        return result, F.sign(total)
    return F.where(total < 0, np.nan, result)  # the log of a negative sum, as SciPy: nan


def softmax(x: Any, axis: Any = None) -> Tensor:
    return F.softmax(_tensor(x), axis=axis) if axis is not None else F.exp(_tensor(x) - logsumexp(x, keepdims=True))


def log_softmax(x: Any, axis: Any = None) -> Tensor:
    if axis is not None:
        return F.log_softmax(_tensor(x), axis=axis)
    x = _tensor(x)
    return x - logsumexp(x, keepdims=True)


__all__ = [
    "beta", "betaln", "digamma", "erf", "erfc", "erfcinv", "erfinv", "expit", "gamma", "gammaln", "gammasgn",
    "i0", "i0e", "i1", "i1e", "iv", "ive", "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr", "polygamma", "psi",
    "rgamma", "softmax", "xlog1py", "xlogy", "jv", "yv", "jn", "yn", "j0", "j1", "y0", "y1", "gammainc",
    "gammaincc", "betainc", "multigammaln",
]  # fmt: skip
