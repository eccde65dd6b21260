"""The regularised incomplete gamma and beta functions, differentiable in every argument.

    gammainc(a, x) = P(a, x) = 1/Γ(a) ∫_0^x t^(a-1) e^(-t) dt
    betainc(a, b, x) = I_x(a, b) = 1/B(a, b) ∫_0^x t^(a-1) (1-t)^(b-1) dt

Values come from ``scipy.special``. In x the derivative is the integrand: a closed form, differentiable to any
order. In the shapes a and b there is no closed form, so the derivatives are computed by differentiating the
algorithm itself: the power series and continued fractions that define P and I are evaluated on ``Jet``s,
truncated Taylor expansions in (a, b) to second order, so each step carries its first and second derivatives
along (forward-mode differentiation of the iteration; it converges with the value). The primitives
``gammainc_shape`` and ``betainc_shape`` hold those derivatives; their own derivatives in x are again closed
forms, so first and second derivatives in any mix of the arguments are exact to rounding. A third derivative in
a shape raises an error that says so.
"""

from __future__ import annotations

from typing import Any

from ..errors import ChainruleError
from ..primitive import constant, defjvp_elementwise, defvjp, describe, primitive
from .elementwise import exp, log, where
from .special import betaln, digamma, gammaln, polygamma, xlog1py, xlogy

EPS = 1e-16
MAX_TERMS = 20000
TINY = 1e-300


def _sp():
    import scipy.special

    return scipy.special


class Jet:
    """A value with its first and second derivatives in two variables a and b: (v, a, b, aa, ab, bb)."""

    __slots__ = ("v", "a", "b", "aa", "ab", "bb")
    PARTS = ("v", "a", "b", "aa", "ab", "bb")

    def __init__(self, v: Any, a: Any = 0.0, b: Any = 0.0, aa: Any = 0.0, ab: Any = 0.0, bb: Any = 0.0) -> None:
        self.v, self.a, self.b, self.aa, self.ab, self.bb = v, a, b, aa, ab, bb

    def parts(self) -> tuple:
        return (self.v, self.a, self.b, self.aa, self.ab, self.bb)

    def __add__(self, other: Any) -> Jet:
        if type(other) is not Jet:
            return Jet(self.v + other, self.a, self.b, self.aa, self.ab, self.bb)
        return Jet(*(p + q for p, q in zip(self.parts(), other.parts())))

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return Jet(*(-p for p in self.parts()))

    def __sub__(self, other: Any) -> Jet:
        return self + (-other)

    def __rsub__(self, other: Any) -> Jet:
        return (-self) + other

    def __mul__(self, other: Any) -> Jet:
        if type(other) is not Jet:
            return Jet(*(p * other for p in self.parts()))
        f, g = self, other
        return Jet(
            f.v * g.v,
            f.a * g.v + f.v * g.a,
            f.b * g.v + f.v * g.b,
            f.aa * g.v + 2 * f.a * g.a + f.v * g.aa,
            f.ab * g.v + f.a * g.b + f.b * g.a + f.v * g.ab,
            f.bb * g.v + 2 * f.b * g.b + f.v * g.bb,
        )

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Jet:
        if type(other) is not Jet:
            return self * (1.0 / other)
        return self * other.reciprocal()

    def __rtruediv__(self, other: Any) -> Jet:
        return self.reciprocal() * other

    def through(self, f0: Any, f1: Any, f2: Any) -> Jet:
        """f(self) given f, f' and f'' at self.v (the chain rule to second order)."""
        return Jet(
            f0,
            f1 * self.a,
            f1 * self.b,
            f2 * self.a * self.a + f1 * self.aa,
            f2 * self.a * self.b + f1 * self.ab,
            f2 * self.b * self.b + f1 * self.bb,
        )

    def reciprocal(self) -> Jet:
        r = 1.0 / self.v
        return self.through(r, -r * r, 2 * r * r * r)

    def exp(self, xp: Any) -> Jet:
        e = xp.exp(self.v)
        return self.through(e, e, e)

    def gammaln(self) -> Jet:
        sp = _sp()
        return self.through(sp.gammaln(self.v), sp.digamma(self.v), sp.polygamma(1, self.v))


def _settled(new: Jet, old: Jet, done: Any, xp: Any) -> tuple[Jet, Any]:
    """``new`` with the elements already settled kept as they were, and the mask of settled elements: those whose
    parts all stopped changing (relative to their size or the value's). Settled elements are frozen, since
    further steps only add rounding."""
    scale = xp.abs(new.v)
    still = xp.zeros(scale.shape, dtype=bool)
    for p, q in zip(new.parts(), old.parts()):
        still |= xp.abs(p - q) > EPS * (xp.abs(p) + scale) + TINY
    merged = Jet(*(xp.where(done, q, p) for p, q in zip(new.parts(), old.parts())))
    return merged, done | ~still


def _too_slow(name: str) -> ChainruleError:
    return ChainruleError(
        f"{name}: the series for the derivative in the shape did not converge in {MAX_TERMS} terms "
        "(shape parameters far beyond 1e6?)"
    )


def _lower_gamma_series(xp: Any, a: Jet, x: Any) -> Jet:
    """P(a, x) = x^a e^-x / Γ(a+1) · Σ_n x^n / ((a+1)...(a+n)), for x < a + 1."""
    term = Jet(xp.ones_like(x))
    total = Jet(xp.ones_like(x))
    done = xp.zeros(x.shape, dtype=bool)
    for n in range(1, MAX_TERMS):
        term = term * x / (a + n)
        total, done = _settled(total + term, total, done, xp)
        if done.all():
            return (a * xp.log(x) - x - (a + 1).gammaln()).exp(xp) * total
    raise _too_slow("gammainc")


def _lentz(xp: Any, first: Jet, steps: Any, name: str) -> Jet:
    """1/(b0 + a1/(b1 + a2/(b2 + ...))) by the modified Lentz method, on jets; ``steps(i)`` gives (a_i, b_i)."""
    d = 1.0 / first
    c = Jet(xp.full_like(first.v, 1.0 / TINY))
    h = d
    done = xp.zeros(h.v.shape, dtype=bool)
    for i in range(1, MAX_TERMS):
        an, bn = steps(i)
        d = an * d + bn
        d.v = xp.where(xp.abs(d.v) < TINY, TINY, d.v)
        c = bn + an / c
        c.v = xp.where(xp.abs(c.v) < TINY, TINY, c.v)
        d = d.reciprocal()
        h, done = _settled(h * (d * c), h, done, xp)
        if done.all():
            return h
    raise _too_slow(name)


def _upper_gamma_fraction(xp: Any, a: Jet, x: Any) -> Jet:
    """Q(a, x) = x^a e^-x / Γ(a) · 1/(x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(x+5-a - ...))), for x >= a + 1."""
    fraction = _lentz(xp, (1.0 - a) + x, lambda i: (a * i - i * i, (1.0 - a) + (x + 2 * i)), "gammainc")
    return (a * xp.log(x) - x - a.gammaln()).exp(xp) * fraction


def gammainc_jet(xp: Any, a: Any, x: Any) -> Jet:
    """P(a, x) with its first and second derivatives in a (the b parts are 0)."""
    a, x = (xp.array(v, dtype=float) for v in xp.broadcast_arrays(a, x))
    out = Jet(*(xp.zeros_like(x) for _ in Jet.PARTS))
    out.v = _sp().gammainc(a, x)
    inside = (x > 0) & xp.isfinite(x) & (a > 0)
    series = inside & (x < a + 1)
    fraction = inside & ~series
    if series.any():
        _place(out, _lower_gamma_series(xp, Jet(a[series], 1.0), x[series]), series)
    if fraction.any():
        _place(out, -_upper_gamma_fraction(xp, Jet(a[fraction], 1.0), x[fraction]), fraction)
    out.v = xp.where(a > 0, out.v, xp.nan)
    return out


def _incomplete_beta_fraction(xp: Any, a: Jet, b: Jet, x: Any) -> Jet:
    """I_x(a, b) = x^a (1-x)^b / (a B(a, b)) · 1/(1 + d1/(1 + d2/(1 + ...))), for x < (a+1)/(a+b+2), with
    d_2m+1 = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)) and d_2m = m(b-m) x / ((a+2m-1)(a+2m))."""

    def steps(i: int) -> tuple:
        m = i // 2
        if i % 2:
            return -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)), 1.0
        return m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), 1.0

    fraction = _lentz(xp, Jet(xp.ones_like(x)), steps, "betainc")
    log_beta = a.gammaln() + b.gammaln() - (a + b).gammaln()
    log_a = a.through(xp.log(a.v), 1.0 / a.v, -1.0 / (a.v * a.v))
    return (a * xp.log(x) + b * xp.log1p(-x) - log_a - log_beta).exp(xp) * fraction


def betainc_jet(xp: Any, a: Any, b: Any, x: Any) -> Jet:
    """I_x(a, b) with its first and second derivatives in a and b."""
    a, b, x = (xp.array(v, dtype=float) for v in xp.broadcast_arrays(a, b, x))
    out = Jet(*(xp.zeros_like(x) for _ in Jet.PARTS))
    out.v = _sp().betainc(a, b, x)
    inside = (x > 0) & (x < 1) & (a > 0) & (b > 0)
    direct = inside & (x < (a + 1) / (a + b + 2))
    mirrored = inside & ~direct
    if direct.any():
        _place(out, _incomplete_beta_fraction(xp, Jet(a[direct], 1.0), Jet(b[direct], 0.0, 1.0), x[direct]),
               direct)  # fmt: skip
    if mirrored.any():
        # I_x(a, b) = 1 - I_{1-x}(b, a): the fraction converges fast on the other side
        swapped = _incomplete_beta_fraction(xp, Jet(b[mirrored], 0.0, 1.0), Jet(a[mirrored], 1.0), 1 - x[mirrored])
        _place(out, -swapped, mirrored)
    out.v = xp.where((a > 0) & (b > 0), out.v, xp.nan)
    return out


def _place(out: Jet, part: Jet, mask: Any) -> None:
    """The derivatives of ``part`` into ``out`` at ``mask`` (the value stays SciPy's)."""
    for name in Jet.PARTS[1:]:
        getattr(out, name)[mask] = getattr(part, name)


PART_OF_ORDER = {(1, 0): "a", (0, 1): "b", (2, 0): "aa", (1, 1): "ab", (0, 2): "bb"}


@primitive("gammainc")
def gammainc(xp, a, x):
    return _sp().gammainc(a, x)


@primitive("gammaincc")
def gammaincc(xp, a, x):
    return _sp().gammaincc(a, x)


@primitive("gammainc_shape")
def gammainc_shape(xp, a, x, order=1):
    """d^order P(a, x) / da^order."""
    return getattr(gammainc_jet(xp, a, x), PART_OF_ORDER[(order, 0)])


@primitive("betainc")
def betainc(xp, a, b, x):
    return _sp().betainc(a, b, x)


@primitive("betainc_shape")
def betainc_shape(xp, a, b, x, da=1, db=0):
    """d^(da+db) I_x(a, b) / da^da db^db."""
    return getattr(betainc_jet(xp, a, b, x), PART_OF_ORDER[(da, db)])


def _third_order(name: str) -> ChainruleError:
    return ChainruleError(
        f"{name}: a third derivative in a shape parameter is not implemented (first and second derivatives in the "
        "shapes, and any order in x, are)"
    )


def _gamma_density(a: Any, x: Any) -> Any:
    """The x-derivative of P: x^(a-1) e^-x / Γ(a)."""
    return exp(xlogy(a - 1.0, x) - x - gammaln(a))


def _log_x(x: Any) -> Any:
    """log x, with x = 0 replaced by 1 (the density factor in front is 0 or its limit there)."""
    return log(where(1.0, x, condition=constant(x) <= 0))


def _gammainc_shape_in_a(g, ans, a, x, order=1):
    if order >= 2:
        raise _third_order("gammainc")
    return g * gammainc_shape(a, x, order=order + 1)


def _gammainc_shape_in_x(g, ans, a, x, order=1):
    # d/dx d^k P/da^k = d^k/da^k of the density = density · (L, L² + L') with L = log x - digamma(a)
    slope = _log_x(x) - digamma(a)
    factor = slope if order == 1 else slope * slope - polygamma(a, n=1)
    return g * _gamma_density(a, x) * factor


defvjp(
    gammainc,
    lambda g, ans, a, x: g * gammainc_shape(a, x, order=1),
    lambda g, ans, a, x: g * _gamma_density(a, x),
)
defvjp(
    gammaincc,  # Q = 1 - P, with its value from SciPy (no cancellation in the upper tail)
    lambda g, ans, a, x: -g * gammainc_shape(a, x, order=1),
    lambda g, ans, a, x: -g * _gamma_density(a, x),
)
defvjp(gammainc_shape, _gammainc_shape_in_a, _gammainc_shape_in_x)


def _beta_density(a: Any, b: Any, x: Any) -> Any:
    """The x-derivative of I: x^(a-1) (1-x)^(b-1) / B(a, b)."""
    return exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - betaln(a, b))


def _betainc_shape_rule(step_a: int, step_b: int):
    def rule(g, ans, a, b, x, da=1, db=0):
        if da + db >= 2:
            raise _third_order("betainc")
        return g * betainc_shape(a, b, x, da=da + step_a, db=db + step_b)

    return rule


def _betainc_shape_in_x(g, ans, a, b, x, da=1, db=0):
    # d^i/da^i d^j/db^j of the density exp(log f) with u = d log f/da, v = d log f/db
    both = digamma(a + b)
    u = _log_x(x) - digamma(a) + both
    v = _log_x(1.0 - x) - digamma(b) + both
    if (da, db) == (1, 0):
        factor = u
    elif (da, db) == (0, 1):
        factor = v
    else:
        trigamma_ab = polygamma(a + b, n=1)
        if (da, db) == (2, 0):
            factor = u * u + trigamma_ab - polygamma(a, n=1)
        elif (da, db) == (0, 2):
            factor = v * v + trigamma_ab - polygamma(b, n=1)
        else:
            factor = u * v + trigamma_ab
    return g * _beta_density(a, b, x) * factor


defvjp(
    betainc,
    lambda g, ans, a, b, x: g * betainc_shape(a, b, x, da=1, db=0),
    lambda g, ans, a, b, x: g * betainc_shape(a, b, x, da=0, db=1),
    lambda g, ans, a, b, x: g * _beta_density(a, b, x),
)
defvjp(betainc_shape, _betainc_shape_rule(1, 0), _betainc_shape_rule(0, 1), _betainc_shape_in_x)
for _prim in (gammainc, gammaincc, gammainc_shape, betainc, betainc_shape):
    defjvp_elementwise(_prim)

describe(gammainc, "dP/d{a} (its series or continued fraction, differentiated)", "{b}^({a}-1)·exp(-{b})/gamma({a})")
describe(gammaincc, "-dP/d{a}", "-{b}^({a}-1)·exp(-{b})/gamma({a})")
describe(
    betainc,
    "dI/d{a} (its continued fraction, differentiated)",
    "dI/d{b} (its continued fraction, differentiated)",
    "{c}^({a}-1)·(1-{c})^({b}-1)/beta({a}, {b})",
)
