"""cr.scipy.integrate.odeint: states against SciPy's odeint, and gradients with respect to the initial state, the
time points and the parameters (adjoint method) against central differences and against differentiating a
fixed-step RK4 loop written with chainrule's operations."""

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("scipy.integrate")
from scipy.integrate import odeint as scipy_odeint  # noqa: E402

from chainrule.scipy.integrate import odeint  # noqa: E402


def f(y, t, k, w):
    return -k * y + cr.sin(w * t) * cr.tanh(y[::-1])


Y0, T, K, W = np.array([1.0, 0.5]), np.linspace(0.0, 2.0, 5), np.array(0.7), np.array(1.3)
U = np.random.default_rng(0).standard_normal((5, 2))


TIGHT = {"rtol": 1e-11, "atol": 1e-11}  # gradients compared to 1e-7 need the solver well below that


def loss(y0, t, k, w):
    return cr.sum(odeint(f, y0, t, k, w, **TIGHT) * U)


def test_states_match_scipy():
    # the same solver at the same (default) tolerances: the same states, to rounding
    ours = odeint(f, Y0, T, K, W).numpy()
    theirs = scipy_odeint(lambda y, t: -0.7 * y + np.sin(1.3 * t) * np.tanh(y[::-1]), Y0, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    exact = scipy_odeint(lambda y, t: -0.7 * y + np.sin(1.3 * t) * np.tanh(y[::-1]), Y0, T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(odeint(f, Y0, T, K, W, **TIGHT).numpy(), exact, atol=1e-9)


@pytest.mark.parametrize("which", range(4))
def test_gradients_against_central_differences(which):
    arguments = [Y0, T, K, W]
    grad = cr.grad(loss, argnums=which)(*arguments)
    direction = np.random.default_rng(which).standard_normal(np.shape(arguments[which]))
    eps = 1e-6
    plus, minus = list(arguments), list(arguments)
    plus[which], minus[which] = arguments[which] + eps * direction, arguments[which] - eps * direction
    with cr.no_grad():
        numeric = (loss(*plus).item() - loss(*minus).item()) / (2 * eps)
    assert np.sum(grad.numpy() * direction) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def rk4(y0, t, k, w, steps=400):
    """A fixed-step RK4 loop in chainrule operations, differentiated the ordinary way."""
    states, y = [y0], y0
    for a, b in zip(t[:-1], t[1:]):
        h = (b - a) / steps
        for s in range(steps):
            time = a + s * h
            k1 = f(y, time, k, w)
            k2 = f(y + h / 2 * k1, time + h / 2, k, w)
            k3 = f(y + h / 2 * k2, time + h / 2, k, w)
            k4 = f(y + h * k3, time + h, k, w)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        states.append(y)
    return cr.stack(states)


def test_gradients_match_a_differentiated_rk4_loop():
    t = T[:3]
    u = U[:3]
    adjoint = cr.grad(lambda y0, k, w: cr.sum(odeint(f, y0, t, k, w, **TIGHT) * u), argnums=(0, 1, 2))(Y0, K, W)
    direct = cr.grad(lambda y0, k, w: cr.sum(rk4(y0, t, k, w, steps=100) * u), argnums=(0, 1, 2))(Y0, K, W)
    for a, b in zip(adjoint, direct):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7, atol=1e-9)


def test_a_parameter_read_from_outside_is_refused():
    hidden = cr.tensor(0.5, requires_grad=True)
    with pytest.raises(cr.GradientError, match="pass it in args"):
        odeint(lambda y, t: -hidden * y, Y0, T)


def test_parameters_may_nest_and_forward_mode_is_refused():
    rng = np.random.default_rng(0)
    layers = [
        (rng.standard_normal((3, 2)) * 0.3, rng.standard_normal(3) * 0.1),
        (rng.standard_normal((2, 3)) * 0.3, np.zeros(2)),
    ]
    times = np.linspace(0.0, 1.0, 4)

    def field(y, t, layers):
        for weights, bias in layers:
            y = cr.tanh(weights @ y + bias)
        return y

    def loss(first_weights):
        return cr.sum(odeint(field, np.ones(2), times, [(first_weights, layers[0][1]), layers[1]]))

    direction = rng.standard_normal((3, 2))
    numeric = (loss(layers[0][0] + 1e-6 * direction).item() - loss(layers[0][0] - 1e-6 * direction).item()) / 2e-6
    assert float(np.sum(cr.grad(loss)(layers[0][0]).numpy() * direction)) == pytest.approx(numeric, rel=1e-6)
    with pytest.raises(cr.GradientError, match="odeint"):
        cr.jvp(lambda y0: odeint(field, y0, times, layers), (np.ones(2),), (np.ones(2),))


def test_second_derivatives_through_odeint_and_forward_mode_refused():
    """Reverse over reverse: the recorded adjoint solves each segment with odeint itself, so its gradient has a
    gradient; checked in every input against central differences of the first derivative."""
    tight = lambda y0, t, k, w: odeint(f, y0, t, k, w, **TIGHT)  # noqa: E731
    assert cr.gradcheck(tight, Y0, T[:4], K, W, modes=("rev",), order=2, atol=1e-6, rtol=1e-5)

    def loss(a):
        return cr.sum(odeint(lambda y, t, a: -a * y * y, np.ones(2), np.linspace(0.0, 1.0, 3), a, **TIGHT))

    step = 1e-5
    numeric = (cr.grad(loss)(0.7 + step).item() - cr.grad(loss)(0.7 - step).item()) / (2 * step)
    assert cr.grad(cr.grad(loss))(0.7).item() == pytest.approx(numeric, rel=1e-6)
    with pytest.raises(cr.GradientError, match="odeint.*forward mode"):  # forward over reverse: refused
        cr.hessian(loss)(0.7)


def test_repeated_times_static_arguments_and_solver_options():
    def field(y, t, a, power, label):
        assert label == "decay" and power == 2  # passed through as they are
        return -a * y**power

    times = np.array([0.0, 0.5, 0.5, 1.0])
    states = odeint(field, np.ones(2), times, np.array(0.7), 2, "decay", mxstep=1000)
    expected = scipy_odeint(lambda y, t: -0.7 * y**2, np.ones(2), times)
    np.testing.assert_allclose(states.numpy(), expected, rtol=1e-12)

    def loss(a):
        return cr.sum(odeint(field, np.ones(2), times, a, 2, "decay", **TIGHT))

    direction = 1e-6
    numeric = (loss(0.7 + direction).item() - loss(0.7 - direction).item()) / (2 * direction)
    assert cr.grad(loss)(0.7).item() == pytest.approx(numeric, rel=1e-6)
    with pytest.raises(TypeError, match="Dfun"):
        odeint(field, np.ones(2), times, 0.7, 2, "decay", Dfun=None)


def test_second_derivatives_at_repeated_times_split_as_at_nearby_distinct_times():
    """A segment of length 0 still has ends whose derivatives are ±the dynamics (found by review: the recorded
    adjoint skipped it, which kept the total but split d²/dt wrongly between the equal times)."""
    weights = np.random.default_rng(1).standard_normal((4, 2))

    def loss(y0, t, k, w):
        return cr.sum(odeint(f, y0, t, k, w, **TIGHT) * weights)

    def mixed(times):
        return cr.jacobian(cr.grad(loss, argnums=0), argnums=1, mode="rev")(Y0, times, K, W).numpy()

    np.testing.assert_allclose(mixed(np.array([0.0, 0.3, 0.3, 1.0])), mixed(np.array([0.0, 0.3, 0.3 + 1e-8, 1.0])),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(odeint(f, Y0, np.zeros(3), K, W).numpy(), np.stack([Y0] * 3))
