"""SciPy's special functions as primitives (the scipy extra): forward by ``scipy.special``, rules beside each.

Every rule is written with chainrule's operations, so it can be differentiated again (digamma's derivative is
polygamma(1, ·), whose derivative is polygamma(2, ·), and so on).
"""

from __future__ import annotations

import math

from ..primitive import constant, defjvp_elementwise, defvjp, describe, primitive
from .elementwise import absolute, exp, log, log1p, sign, where


def _sp():
    import scipy.special

    return scipy.special


def _scipy(name: str):
    """The primitive whose forward is ``scipy.special.<name>`` of one argument."""
    return primitive(name)(lambda xp, x: getattr(_sp(), name)(x))


gammaln, digamma, gamma, erf, erfc, erfinv, erfcinv, gammasgn = (
    _scipy(n) for n in ("gammaln", "digamma", "gamma", "erf", "erfc", "erfinv", "erfcinv", "gammasgn")
)
i0, i1, i0e, i1e, log_ndtr = (_scipy(n) for n in ("i0", "i1", "i0e", "i1e", "log_ndtr"))


@primitive("polygamma")
def polygamma(xp, x, n=0):
    return _sp().polygamma(n, x)


@primitive("iv")
def iv(xp, x, v=0):
    return _sp().iv(v, x)


@primitive("ive")
def ive(xp, x, v=0):
    return _sp().ive(v, x)


@primitive("jv")
def jv(xp, x, v=0):
    return _sp().jv(v, x)


@primitive("yv")
def yv(xp, x, v=0):
    return _sp().yv(v, x)


@primitive("betaln")
def betaln(xp, a, b):
    return _sp().betaln(a, b)


@primitive("xlogy")
def xlogy(xp, x, y):
    return _sp().xlogy(x, y)


@primitive("xlog1py")
def xlog1py(xp, x, y):
    return _sp().xlog1py(x, y)


defvjp(gammaln, lambda g, ans, x: g * digamma(x))
defvjp(digamma, lambda g, ans, x: g * polygamma(x, n=1))
defvjp(polygamma, lambda g, ans, x, n=0: g * polygamma(x, n=n + 1))
defvjp(gamma, lambda g, ans, x: g * ans * digamma(x))
defvjp(erf, lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * exp(-(x * x)))  # (complex x too: holomorphic)
defvjp(erfc, lambda g, ans, x: g * (-2 / math.sqrt(math.pi)) * exp(-(x * x)))
defvjp(erfinv, lambda g, ans, x: g * (math.sqrt(math.pi) / 2) * exp(ans * ans))
defvjp(erfcinv, lambda g, ans, x: g * (-math.sqrt(math.pi) / 2) * exp(ans * ans))
defvjp(i0, lambda g, ans, x: g * i1(x))
# Bessel functions of the first and second kind: C_v' = (C_{v-1} - C_{v+1}) / 2 for both
defvjp(jv, lambda g, ans, x, v=0: g * (jv(x, v=v - 1) - jv(x, v=v + 1)) / 2)
defvjp(yv, lambda g, ans, x, v=0: g * (yv(x, v=v - 1) - yv(x, v=v + 1)) / 2)
# d log Φ(x) = φ(x)/Φ(x) = exp(log φ(x) - log Φ(x)): no 0/0 far in the left tail
defvjp(log_ndtr, lambda g, ans, x: g * exp(-(x * x) / 2 - 0.5 * math.log(2 * math.pi) - ans))
# The recurrence I_v' = (I_{v-1} + I_{v+1}) / 2 has no division by x, so it holds at 0 and stays accurate there
# (iv(2, x) written as ive(2, x)·exp(|x|): SciPy's iv gives NaN for the tiniest x, ive gives 0 there)
defvjp(i1, lambda g, ans, x: g * (i0(x) + ive(x, v=2) * exp(absolute(x))) / 2)
defvjp(iv, lambda g, ans, x, v=0: g * (iv(x, v=v - 1) + iv(x, v=v + 1)) / 2)
defvjp(i0e, lambda g, ans, x: g * (i1e(x) - sign(x) * ans))
defvjp(i1e, lambda g, ans, x: g * ((i0e(x) + ive(x, v=2)) / 2 - sign(x) * ans))
defvjp(ive, lambda g, ans, x, v=0: g * ((ive(x, v=v - 1) + ive(x, v=v + 1)) / 2 - sign(x) * ans))
defvjp(
    betaln,
    lambda g, ans, a, b: g * (digamma(a) - digamma(a + b)),
    lambda g, ans, a, b: g * (digamma(b) - digamma(a + b)),
)
defvjp(
    xlogy,
    lambda g, ans, x, y: g * log(y),
    # x/y, which is 0 for x = 0; only the point x = y = 0 needs a safe divisor (a mask on x = 0 alone would
    # also cut the mixed second derivative d²/dx dy = 1/y there)
    lambda g, ans, x, y: g * x / where(1.0, y, condition=(constant(x) == 0) & (constant(y) == 0)),
)
defvjp(
    xlog1py,
    lambda g, ans, x, y: g * log1p(y),
    lambda g, ans, x, y: g * x / where(1.0, 1 + y, condition=(constant(x) == 0) & (constant(y) == -1)),
)
gammasgn.elementwise = True  # (no rule: its derivative is 0 wherever it exists)
for _prim in (gammaln, digamma, polygamma, gamma, erf, erfc, erfinv, erfcinv, i0, i1, i0e, i1e, iv, ive, betaln, xlogy,
              xlog1py, log_ndtr, jv, yv):  # fmt: skip
    defjvp_elementwise(_prim)

describe(gammaln, "digamma({a})")
describe(jv, "(jv(v - 1, {a}) - jv(v + 1, {a}))/2")
describe(yv, "(yv(v - 1, {a}) - yv(v + 1, {a}))/2")
describe(log_ndtr, "exp(-{a}²/2)/sqrt(2·pi) / ndtr({a})")
describe(digamma, "polygamma(1, {a})")
describe(polygamma, "polygamma(n + 1, {a})")
describe(gamma, "gamma({a})·digamma({a})")
describe(erf, "2/sqrt(pi)·exp(-{a}²)")
describe(erfc, "-2/sqrt(pi)·exp(-{a}²)")
describe(erfinv, "sqrt(pi)/2·exp(erfinv({a})²)")
describe(erfcinv, "-sqrt(pi)/2·exp(erfcinv({a})²)")
describe(i0, "i1({a})")
describe(i1, "(i0({a}) + iv(2, {a}))/2")
describe(iv, "(iv(v - 1, {a}) + iv(v + 1, {a}))/2")
describe(ive, "(ive(v - 1, {a}) + ive(v + 1, {a}))/2 - sign({a})·ive(v, {a})")
describe(i0e, "i1e({a}) - sign({a})·i0e({a})")
describe(i1e, "(i0e({a}) + ive(2, {a}))/2 - sign({a})·i1e({a})")
describe(betaln, "digamma({a}) - digamma({a} + {b})", "digamma({b}) - digamma({a} + {b})")
describe(xlogy, "log({b})", "{a}/{b} (0 where {a} = 0)")
describe(xlog1py, "log1p({b})", "{a}/(1 + {b}) (0 where {a} = 0)")
