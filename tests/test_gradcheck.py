"""gradcheck passes correct rules, catches a wrong one (naming the input), refuses float32 by default."""

import numpy as np
import pytest

import chainrule as cr

rng = np.random.default_rng(0)


def test_gradcheck_passes_correct_derivatives_to_second_order():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    assert cr.gradcheck(lambda x, y: cr.tanh(x @ y) * cr.sum(x), a, b, order=2)
    assert cr.gradcheck(lambda x: cr.log_softmax(x, axis=0), a, order=2)


def test_gradcheck_catches_a_wrong_rule_and_names_the_input():
    @cr.custom_vjp
    def wrong(x, y):
        return x * y

    wrong.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1], g * res[0] * 1.5))
    with pytest.raises(cr.GradientError, match="input 1"):
        cr.gradcheck(lambda x, y: wrong(x, y), rng.standard_normal(3), rng.standard_normal(3))


def test_gradcheck_refuses_float32_unless_told():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(cr.DtypeError, match="allow_float32"):
        cr.gradcheck(cr.sin, x)
    assert cr.gradcheck(cr.sin, x, eps=1e-2, atol=1e-2, rtol=1e-2, allow_float32=True)
    with pytest.raises(cr.DtypeError, match="float16"):
        cr.gradcheck(cr.sin, np.ones(3, dtype=np.float16), allow_float32=True)
    with pytest.raises(ValueError, match="order"):
        cr.gradcheck(cr.sin, np.ones(3), order=3)


def test_gradcheck_catches_a_wrong_forward_rule():
    from chainrule import ops
    from chainrule.primitive import defjvp, defvjp, primitive

    @primitive("sine_with_a_wrong_forward_rule")
    def bad(xp, x):
        return xp.sin(x)

    defvjp(bad, lambda g, ans, x: g * ops.cos(x))
    defjvp(bad, lambda t, ans, x: t * 2.0)
    with pytest.raises(cr.GradientError, match="forward mode"):
        cr.gradcheck(bad, rng.standard_normal(4))


def test_gradcheck_catches_a_wrong_second_derivative():
    @cr.custom_vjp
    def cube(x):
        return x**3

    cube.defvjp(lambda x: (x**3, x), lambda x, g: g * 3 * cr.tensor(x.data) ** 2)  # x frozen: wrong 2nd order
    x = rng.uniform(0.5, 1.5, 3)
    assert cr.gradcheck(lambda t: cr.sum(cube(t)), x)  # first order is right
    with pytest.raises(cr.GradientError, match="second order"):
        cr.gradcheck(lambda t: cr.sum(cube(t)), x, order=2)


def test_gradcheck_takes_nested_inputs():
    params = {"w": rng.standard_normal(3), "b": rng.standard_normal(1)}
    assert cr.gradcheck(lambda p, x: cr.tanh(p["w"] * x + p["b"]), params, rng.standard_normal(3), order=2)


def test_gradcheck_catches_a_wrong_mixed_second_derivative():
    @cr.custom_vjp
    def product(a, b):
        return a * b

    product.defvjp(lambda a, b: (a * b, (a, b)), lambda r, g: (g * r[1], g * cr.tensor(r[0].data)))  # a frozen
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    assert cr.gradcheck(product, a, b)
    with pytest.raises(cr.GradientError, match="second order"):
        cr.gradcheck(product, a, b, order=2)


def test_reverse_mode_only_checks_second_order_as_reverse_over_reverse():
    assert cr.gradcheck(lambda x: cr.sin(x) * x, np.linspace(0.1, 1.0, 3), modes=("rev",), order=2)

    @cr.custom_vjp
    def cube(x):
        return x**3

    # a right first derivative computed outside chainrule: its own derivative is lost, which order 2 must see
    cube.defvjp(lambda x: (x**3, np.asarray(x.data)), lambda values, g: (g * cr.tensor(3 * values**2),))
    assert cr.gradcheck(cube, np.linspace(0.1, 1.0, 3), modes=("rev",))
    with pytest.raises(cr.GradientError, match=r"second order \(vjp of vjp\)"):
        cr.gradcheck(cube, np.linspace(0.1, 1.0, 3), modes=("rev",), order=2)
    with pytest.raises(ValueError, match="modes"):
        cr.gradcheck(cr.sin, np.ones(2), modes=("backwards",))
