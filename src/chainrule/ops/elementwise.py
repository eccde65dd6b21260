"""Elementwise primitives and their derivatives.

Each block is the forward on backend arrays (``xp`` is the array module of the data) followed by its reverse
rule: ``g`` is the incoming gradient, ``ans`` the forward's result. Broadcasting is undone by the engine, so a
rule returns the gradient in the broadcast shape.

Conventions at kinks (documented and tested): relu'(0) = 0, abs'(0) = 0; maximum and minimum split the
gradient in half between tied operands; clip passes the gradient where lo <= x <= hi; d(x^y)/dy at x = 0 is 0
for y >= 0 and -inf for y < 0 (PyTorch's choice); a standard deviation's derivative at zero spread is 0.
"""

from __future__ import annotations

import math
import operator

from ..backend import array_module, special_function
from ..primitive import (
    constant,
    defjvp,
    defjvp_elementwise,
    defjvp_linear,
    defvjp,
    describe,
    operator_primitive,
    primitive,
)

BROADCAST_HINT = (
    "Operand shapes must be equal or 1 in each trailing axis; reshape or expand_dims one operand so they line up."
)

# -- arithmetic -------------------------------------------------------------------------------------------------


add = operator_primitive("add", operator.add, hint=BROADCAST_HINT)

defvjp(add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
describe(add, "1", "1")


subtract = operator_primitive("subtract", operator.sub, hint=BROADCAST_HINT)

defvjp(subtract, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
describe(subtract, "1", "-1")


multiply = operator_primitive("multiply", operator.mul, hint=BROADCAST_HINT)

defvjp(multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
describe(multiply, "{b}", "{a}")


divide = operator_primitive("divide", operator.truediv, hint=BROADCAST_HINT)

defvjp(divide, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * x / (y * y))
describe(divide, "1/{b}", "-{a}/{b}²")


negative = operator_primitive("negative", operator.neg)

defvjp(negative, lambda g, ans, x: -g)
describe(negative, "-1")


power = operator_primitive("power", operator.pow, hint=BROADCAST_HINT)


def _power_vjp_base(g, ans, x, y):
    # y x^(y-1) is 0 for y == 0, also at x == 0 where the formula alone gives 0 * inf
    if isinstance(y, (int, float)):
        return g * 0.0 if y == 0 else g * y * x ** (y - 1)
    return g * where(0.0, y * x ** (y - 1), condition=constant(y == 0) & constant(x == 0))


def _power_vjp_exponent(g, ans, x, y):
    # d(x^y)/dy = x^y log x. At x == 0, as PyTorch: 0 for y >= 0 (the limit as x -> 0+ for y > 0), -inf for y < 0
    if _is_complex(ans) and not _is_complex(x):  # a real base with a complex exponent: the complex logarithm
        x = cast(x, dtype=constant(ans).dtype) if hasattr(x, "dtype") else x + 0j
    at_zero = constant(x == 0)
    xp = array_module(constant(ans))
    if not xp.any(at_zero):
        return g * ans * log(x)
    limit = xp.where(constant(y) < 0, -xp.inf, 0.0)
    return g * where(limit, ans * log(where(1.0, x, condition=at_zero)), condition=at_zero)


defvjp(power, _power_vjp_base, _power_vjp_exponent)
describe(power, "{b}·{a}^({b}-1)", "{a}^{b}·log({a})")


@primitive("square")
def square(xp, x):
    return x * x


defvjp(square, lambda g, ans, x: g * 2 * x)
describe(square, "2·{a}")


@primitive("sqrt")
def sqrt(xp, x):
    return xp.sqrt(x)


defvjp(sqrt, lambda g, ans, x: g / (2 * ans))
describe(sqrt, "1/(2·sqrt({a}))")


@primitive("cbrt")
def cbrt(xp, x):
    return xp.cbrt(x)


defvjp(cbrt, lambda g, ans, x: g / (3 * ans * ans))
describe(cbrt, "1/(3·cbrt({a})²)")


@primitive("root_of_variance")
def root_of_variance(xp, v):
    """sqrt for a variance: a standard deviation. Its derivative at 0 (no spread) is taken as 0, not infinite."""
    return xp.sqrt(v)


def _root_of_variance_vjp(g, ans, v):
    spread = constant(ans) != 0
    return g * spread / (2 * where(ans, 1.0, condition=spread))


defvjp(root_of_variance, _root_of_variance_vjp)
describe(root_of_variance, "1/(2·sqrt({a})), 0 where {a} = 0")

# -- exponentials and logarithms --------------------------------------------------------------------------------


@primitive("exp")
def exp(xp, x):
    return xp.exp(x)


defvjp(exp, lambda g, ans, x: g * ans)
describe(exp, "exp({a})")


@primitive("expm1")
def expm1(xp, x):
    return xp.expm1(x)


defvjp(expm1, lambda g, ans, x: g * (ans + 1))
describe(expm1, "exp({a})")


@primitive("log")
def log(xp, x):
    return xp.log(x)


defvjp(log, lambda g, ans, x: g / x)
describe(log, "1/{a}")


@primitive("log1p")
def log1p(xp, x):
    return xp.log1p(x)


defvjp(log1p, lambda g, ans, x: g / (1 + x))
describe(log1p, "1/(1 + {a})")

# -- trigonometric and hyperbolic -------------------------------------------------------------------------------


@primitive("sin")
def sin(xp, x):
    return xp.sin(x)


defvjp(sin, lambda g, ans, x: g * cos(x))
describe(sin, "cos({a})")


@primitive("cos")
def cos(xp, x):
    return xp.cos(x)


defvjp(cos, lambda g, ans, x: -g * sin(x))
describe(cos, "-sin({a})")


@primitive("tan")
def tan(xp, x):
    return xp.tan(x)


defvjp(tan, lambda g, ans, x: g * (1 + ans * ans))
describe(tan, "1 + tan²({a})")


@primitive("arcsin")
def arcsin(xp, x):
    return xp.arcsin(x)


defvjp(arcsin, lambda g, ans, x: g / sqrt(1 - x * x))
describe(arcsin, "1/sqrt(1 - {a}²)")


@primitive("arccos")
def arccos(xp, x):
    return xp.arccos(x)


defvjp(arccos, lambda g, ans, x: -g / sqrt(1 - x * x))
describe(arccos, "-1/sqrt(1 - {a}²)")


@primitive("arctan")
def arctan(xp, x):
    return xp.arctan(x)


defvjp(arctan, lambda g, ans, x: g / (1 + x * x))
describe(arctan, "1/(1 + {a}²)")


@primitive("erf")
def erf(xp, x):
    return special_function(xp, "erf")(x)


defvjp(erf, lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * exp(-(x * x)))
describe(erf, "2/sqrt(pi)·exp(-{a}²)")


@primitive("sinh")
def sinh(xp, x):
    return xp.sinh(x)


defvjp(sinh, lambda g, ans, x: g * cosh(x))
describe(sinh, "cosh({a})")


@primitive("cosh")
def cosh(xp, x):
    return xp.cosh(x)


defvjp(cosh, lambda g, ans, x: g * sinh(x))
describe(cosh, "sinh({a})")


@primitive("tanh")
def tanh(xp, x):
    return xp.tanh(x)


defvjp(tanh, lambda g, ans, x: g * (1 - ans * ans))
describe(tanh, "1 - tanh²({a})")

# -- activations ------------------------------------------------------------------------------------------------


@primitive("sigmoid")
def sigmoid(xp, x):
    if xp.iscomplexobj(x):
        return 1 / (1 + xp.exp(-x))
    # exp of a non-positive number only, so no overflow for any input
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_vjp(g, ans, x):
    if array_module(constant(x)).iscomplexobj(constant(x)):
        return g * ans * (1 - ans)
    # sigmoid(x)·sigmoid(-x) = e/(1 + e)² with e = exp(-|x|): no 1 - ans, which loses digits where ans is near 1
    e = exp(-absolute(x))
    return g * e / ((1 + e) * (1 + e))


defvjp(sigmoid, _sigmoid_vjp)
describe(sigmoid, "sigmoid({a})·(1 - sigmoid({a}))")


@primitive("softplus")
def softplus(xp, x):
    if xp.iscomplexobj(x):
        return xp.log1p(xp.exp(x))
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact for large |x| of either sign
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


defvjp(softplus, lambda g, ans, x: g * sigmoid(x))
describe(softplus, "sigmoid({a})")


@primitive("relu")
def relu(xp, x):
    return xp.maximum(x, 0)


defvjp(relu, lambda g, ans, x: g * (x > 0))
describe(relu, "1 if {a} > 0 else 0")


@primitive("absolute")
def absolute(xp, x):
    return xp.abs(x)


def _is_complex(x):
    return getattr(constant(x), "dtype", None) is not None and constant(x).dtype.kind == "c"


def _conj_over_abs(x, ans):
    """conj(z) / |z|, and 0 where z == 0: d|z| = Re(conj(z) dz) / |z|."""
    zero = constant(ans) == 0
    return where(0.0, conjugate(x) / where(1.0, ans, condition=zero), condition=zero)


# Complex numbers follow JAX: a reverse rule is the transpose of the forward rule under the pairing Re(w · t), so
# holomorphic functions keep their real rules (g · f'(z)), and grad of a real-valued f(z) is ∂f/∂x - i ∂f/∂y.
defvjp(absolute, lambda g, ans, x: g * (_conj_over_abs(x, ans) if _is_complex(x) else sign(x)))
describe(absolute, "sign({a})")
defjvp(absolute, lambda t, ans, x: real(_conj_over_abs(x, ans) * t) if _is_complex(x) else t * sign(x))


@primitive("real")
def real(xp, x):
    return xp.real(x)


defvjp(real, lambda g, ans, x: g)  # Re(w t) = g Re(t): w = g (the engine gives it x's dtype)
describe(real, "1 on the real part")
defjvp(real, lambda t, ans, x: real(t))


@primitive("imag")
def imag(xp, x):
    return xp.imag(x)


defvjp(imag, lambda g, ans, x: g * -1j)  # Re(w t) = g Im(t): w = -i g
describe(imag, "1 on the imaginary part")
defjvp(imag, lambda t, ans, x: imag(t))


@primitive("conjugate")
def conjugate(xp, x):
    return xp.conj(x)


defvjp(conjugate, lambda g, ans, x: conjugate(g))
describe(conjugate, "the conjugate")
defjvp(conjugate, lambda t, ans, x: conjugate(t))


@primitive("angle")
def angle(xp, x):
    return xp.angle(x)


def _angle_slope(x):
    """-i conj(z) / |z|², 0 at z == 0: d arg z = Im(conj(z) dz) / |z|² (zero for real numbers away from 0)."""
    if not _is_complex(x):
        return x * 0.0
    size = real(x * conjugate(x))
    zero = constant(size) == 0
    return where(0.0, conjugate(x) * -1j / where(1.0, size, condition=zero), condition=zero)


defvjp(angle, lambda g, ans, x: g * _angle_slope(x))
describe(angle, "Im(conj({a}) ·)/|{a}|²")
defjvp(angle, lambda t, ans, x: real(_angle_slope(x) * t))
for _prim in (absolute, real, imag, conjugate, angle):
    _prim.elementwise = True  # diagonal Jacobians, with forward rules of their own (not holomorphic)


def _picking_rules(better, skip_nan=False):
    """The reverse rules of an operation that picks one of its operands (maximum, minimum, fmax, fmin): the gradient
    goes to the operand picked, half to each where they tie; with ``skip_nan``, a NaN operand is never picked."""

    def taken(a, b):
        a, b = constant(a), constant(b)
        return better(a, b) | (b != b) if skip_nan else better(a, b)

    return (
        lambda g, ans, x, y: g * taken(x, y) + (g * 0.5) * (x == y),
        lambda g, ans, x, y: g * taken(y, x) + (g * 0.5) * (x == y),
    )


@primitive("maximum", hint=BROADCAST_HINT)
def maximum(xp, x, y):
    return xp.maximum(x, y)


defvjp(maximum, *_picking_rules(operator.gt))
describe(maximum, "1 if {a} > {b}, 1/2 if {a} = {b}, else 0", "1 if {b} > {a}, 1/2 if {a} = {b}, else 0")


@primitive("minimum", hint=BROADCAST_HINT)
def minimum(xp, x, y):
    return xp.minimum(x, y)


defvjp(minimum, *_picking_rules(operator.lt))
describe(minimum, "1 if {a} < {b}, 1/2 if {a} = {b}, else 0", "1 if {b} < {a}, 1/2 if {a} = {b}, else 0")


@primitive("clip")
def clip(xp, x, lo=None, hi=None):
    return xp.clip(x, lo, hi)


def _inside(x, lo, hi):
    if lo is None:
        return x <= hi
    if hi is None:
        return x >= lo
    return (x >= lo) * (x <= hi)


defvjp(clip, lambda g, ans, x, lo=None, hi=None: g * _inside(x, lo, hi))
describe(clip, "1 if {lo} ≤ {a} ≤ {hi} else 0")


@primitive("where", hint=BROADCAST_HINT)
def where(xp, x, y, condition=None):
    return xp.where(condition, x, y)


defvjp(
    where,
    lambda g, ans, x, y, condition=None: where(g, 0.0, condition=condition),
    lambda g, ans, x, y, condition=None: where(0.0, g, condition=condition),
)
describe(where, "1 where the condition holds, else 0", "0 where the condition holds, else 1")


@primitive("cast")
def cast(xp, x, dtype=None):
    if x.dtype.kind == "c" and xp.dtype(dtype).kind != "c":
        return xp.real(x).astype(dtype)  # to a real dtype: the real part, as astype gives it (without its warning)
    return x.astype(dtype)


defvjp(cast, lambda g, ans, x, dtype=None: cast(g, dtype=x.dtype))  # (cast itself takes the real part for a real x)
describe(cast, "1")
defjvp_linear(cast)

# -- more of NumPy's elementwise functions ------------------------------------------------------------------------


@primitive("sinc")
def sinc(xp, x):
    return xp.sinc(x)


def _sinc_slope(ans, x):
    # d/dx sin(πx)/(πx) = (cos(πx) - sinc(x)) / x. Near 0 that difference cancels to nothing, so there the series
    # -π²x/3 + π⁴x³/30 - π⁶x⁵/840 (exact to rounding for |x| < 1e-2) is used, which also differentiates right
    small = absolute(constant(x)) < 1e-2
    x2 = x * x
    series = x * (-(math.pi**2) / 3 + x2 * (math.pi**4 / 30 - x2 * (math.pi**6 / 840)))
    safe = where(1.0, x, condition=small)
    return where(series, (cos(safe * math.pi) - sinc(safe)) / safe, condition=small)


defvjp(sinc, lambda g, ans, x: g * _sinc_slope(ans, x))
describe(sinc, "(cos(π{a}) - sinc({a}))/{a}")


@primitive("arcsinh")
def arcsinh(xp, x):
    return xp.arcsinh(x)


defvjp(arcsinh, lambda g, ans, x: g / sqrt(x * x + 1))
describe(arcsinh, "1/sqrt({a}² + 1)")


@primitive("arccosh")
def arccosh(xp, x):
    return xp.arccosh(x)


defvjp(arccosh, lambda g, ans, x: g / (sqrt(x - 1) * sqrt(x + 1)))  # (one branch for complex numbers too)
describe(arccosh, "1/sqrt({a}² - 1)")


@primitive("arctanh")
def arctanh(xp, x):
    return xp.arctanh(x)


defvjp(arctanh, lambda g, ans, x: g / (1 - x * x))
describe(arctanh, "1/(1 - {a}²)")


@primitive("exp2")
def exp2(xp, x):
    return xp.exp2(x)


defvjp(exp2, lambda g, ans, x: g * ans * math.log(2))
describe(exp2, "2^{a}·log(2)")


@primitive("log2")
def log2(xp, x):
    return xp.log2(x)


defvjp(log2, lambda g, ans, x: g / (x * math.log(2)))
describe(log2, "1/({a}·log(2))")


@primitive("log10")
def log10(xp, x):
    return xp.log10(x)


defvjp(log10, lambda g, ans, x: g / (x * math.log(10)))
describe(log10, "1/({a}·log(10))")


@primitive("reciprocal")
def reciprocal(xp, x):
    return xp.reciprocal(x)


defvjp(reciprocal, lambda g, ans, x: -g * ans * ans)
describe(reciprocal, "-1/{a}²")


@primitive("deg2rad")
def deg2rad(xp, x):
    return xp.deg2rad(x)


defvjp(deg2rad, lambda g, ans, x: g * (math.pi / 180))
describe(deg2rad, "pi/180")


@primitive("rad2deg")
def rad2deg(xp, x):
    return xp.rad2deg(x)


defvjp(rad2deg, lambda g, ans, x: g * (180 / math.pi))
describe(rad2deg, "180/pi")


@primitive("arctan2", hint=BROADCAST_HINT)
def arctan2(xp, y, x):
    return xp.arctan2(y, x)


defvjp(
    arctan2,
    lambda g, ans, y, x: g * x / (x * x + y * y),
    lambda g, ans, y, x: -g * y / (x * x + y * y),
)
describe(arctan2, "{b}/({a}² + {b}²)", "-{a}/({a}² + {b}²)")


@primitive("hypot", hint=BROADCAST_HINT)
def hypot(xp, x, y):
    return xp.hypot(x, y)


defvjp(hypot, lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans)
describe(hypot, "{a}/hypot({a}, {b})", "{b}/hypot({a}, {b})")


@primitive("logaddexp", hint=BROADCAST_HINT)
def logaddexp(xp, x, y):
    return xp.logaddexp(x, y)


defvjp(logaddexp, lambda g, ans, x, y: g * exp(x - ans), lambda g, ans, x, y: g * exp(y - ans))
describe(logaddexp, "exp({a} - out)", "exp({b} - out)")


@primitive("logaddexp2", hint=BROADCAST_HINT)
def logaddexp2(xp, x, y):
    return xp.logaddexp2(x, y)


defvjp(
    logaddexp2,
    lambda g, ans, x, y: g * exp2(x - ans),
    lambda g, ans, x, y: g * exp2(y - ans),
)
describe(logaddexp2, "2^({a} - out)", "2^({b} - out)")


@primitive("fmax", hint=BROADCAST_HINT)
def fmax(xp, x, y):
    return xp.fmax(x, y)


@primitive("fmin", hint=BROADCAST_HINT)
def fmin(xp, x, y):
    return xp.fmin(x, y)


# fmax/fmin take the operand that is not NaN; otherwise as maximum/minimum (ties split in half)
defvjp(fmax, *_picking_rules(operator.gt, skip_nan=True))
describe(fmax, "1 if {a} > {b} or {b} is NaN, 1/2 if equal", "1 if {b} > {a} or {a} is NaN, 1/2 if equal")
defvjp(fmin, *_picking_rules(operator.lt, skip_nan=True))
describe(fmin, "1 if {a} < {b} or {b} is NaN, 1/2 if equal", "1 if {b} < {a} or {a} is NaN, 1/2 if equal")


# Forward rules. Every primitive above except cast is elementwise: its Jacobian is diagonal, so the forward
# rule multiplies the tangent by the very local derivative its reverse rule multiplies the cotangent by.
for _prim in (add, subtract, multiply, divide, negative, power, square, sqrt, root_of_variance, exp, expm1, log, log1p,
              sin, cos, tan,
              arcsin, arccos, arctan, erf, sinh, cosh, tanh, sigmoid, softplus, relu, maximum, minimum, clip,
              where, arcsinh, arccosh, arctanh, exp2, cbrt, log2, log10, reciprocal, deg2rad, rad2deg, arctan2, hypot,
              logaddexp, logaddexp2, fmax, fmin, sinc):  # fmt: skip
    defjvp_elementwise(_prim)

# -- not differentiable: comparisons and sign give constants ----------------------------------------------------


@primitive("remainder", hint=BROADCAST_HINT)
def remainder(xp, x, y):
    return xp.remainder(x, y)


# x mod y = x - floor(x / y)·y, with the sign of y as NumPy's %; floor is flat between its jumps
defvjp(
    remainder,
    lambda g, ans, x, y: g,
    lambda g, ans, x, y: -g * array_module(constant(ans)).floor(constant(x) / constant(y)),
)
describe(remainder, "1", "-floor({a}/{b})")
defjvp_elementwise(remainder)


@primitive("sign")
def sign(xp, x):
    return xp.sign(x)


# floor, ceil, trunc, rint, round: flat between their jumps, so their derivative is 0 (as PyTorch's); primitives
# with no rules record nothing, and batch elementwise under vmap
floor, ceil, trunc, rint = (
    primitive(name)(lambda xp, x, _name=name: getattr(xp, _name)(x)) for name in ("floor", "ceil", "trunc", "rint")
)


@primitive("round")
def round_(xp, x, decimals=0):
    return xp.round(x, decimals)


# the bitwise operators (on booleans: and, or, xor, not), for masks; no derivative
bitwise_and, bitwise_or, bitwise_xor = (
    primitive(name, hint=BROADCAST_HINT)(lambda xp, x, y, _name=name: getattr(xp, _name)(x, y))
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor")
)
invert = primitive("invert")(lambda xp, x: xp.invert(x))


@primitive("less", hint=BROADCAST_HINT)
def less(xp, x, y):
    return x < y


@primitive("less_equal", hint=BROADCAST_HINT)
def less_equal(xp, x, y):
    return x <= y


@primitive("greater", hint=BROADCAST_HINT)
def greater(xp, x, y):
    return x > y


@primitive("greater_equal", hint=BROADCAST_HINT)
def greater_equal(xp, x, y):
    return x >= y


@primitive("equal", hint=BROADCAST_HINT)
def equal(xp, x, y):
    return x == y


@primitive("not_equal", hint=BROADCAST_HINT)
def not_equal(xp, x, y):
    return x != y
