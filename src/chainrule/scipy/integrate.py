"""``cr.scipy.integrate.odeint(func, y0, t, *args)``: SciPy's signature, differentiable with respect to the initial
state, the time points and every argument by the adjoint method.

Forward: the ODE dy/dt = func(y, t, *args) is solved with SciPy (``solve_ivp``, an adaptive Runge-Kutta method
at tight tolerances) and only the states at the requested times are kept. Backward: the adjoint a(t) = dL/dy(t)
obeys da/dt = -aᵀ ∂f/∂y, and the parameters' gradient gathers -∫ aᵀ ∂f/∂θ dt; both are integrated backwards from
the last time to the first together with y itself, segment by segment, adding each time point's cotangent to a
as it is passed. The vector-Jacobian products aᵀ∂f/∂y and aᵀ∂f/∂θ come from chainrule (``cr.vjp`` of ``func``).
Memory does not grow with the number of solver steps. A time point's gradient is ḡ_i · f(y_i, t_i) (and the
first time's is -a(t_0) · f(y_0, t_0)).

Parameters must be passed in ``args`` (a tensor ``func`` reads from elsewhere would lose its gradient: that is
refused with an error); they may nest (lists, tuples, dicts of arrays). Forward mode (jvp) is refused: the
adjoint is solved with SciPy, outside chainrule's operations, so it cannot be transposed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import engine
from ..errors import GradientError
from ..primitive import defjvp_argnum, defvjp_argnum, primitive
from ..tensor import Tensor
from ..transforms import custom_vjp, tree_flatten, tree_unflatten, vjp
from .special import _tensor

RTOL, ATOL = 1e-10, 1e-10


def _values(x: Any) -> np.ndarray:
    return np.asarray(x.data if type(x) is Tensor else x, dtype=np.float64)


def _solve(rhs: Any, y0: np.ndarray, t0: float, t1: float, rtol: float, atol: float) -> np.ndarray:
    from scipy.integrate import solve_ivp

    if t0 == t1:
        return y0
    solution = solve_ivp(rhs, (t0, t1), y0, method="DOP853", rtol=rtol, atol=atol)
    if not solution.success:
        raise RuntimeError(f"odeint: the solver failed between t = {t0} and {t1}: {solution.message}")
    return solution.y[:, -1]


@primitive("odeint_gradient")
def _no_second_derivative(xp, gradient, *inputs):
    return gradient


def _refuse_second_derivative(i, g, ans, *inputs):
    raise GradientError(
        "odeint: its gradient cannot be differentiated again (the adjoint ODE is solved with SciPy, outside "
        "chainrule's operations): second derivatives through odeint are not available"
    )


defvjp_argnum(_no_second_derivative, _refuse_second_derivative)
defjvp_argnum(_no_second_derivative, _refuse_second_derivative)


def odeint(func: Any, y0: Any, t: Any, *args: Any, rtol: float = RTOL, atol: float = ATOL) -> Tensor:
    """The states y(t_i) of dy/dt = func(y, t, *args), y(t_0) = y0, stacked along a first axis of len(t)."""
    y0, t = _tensor(y0), _tensor(t)
    leaves, spec = tree_flatten(list(args))  # args may nest: a list of (weights, bias) pairs, a dict, ...
    if len(leaves) != len(args) or any(isinstance(a, (list, tuple, dict)) for a in args):
        user_func = func

        def func(y: Any, time: Any, *flat: Any) -> Any:
            return user_func(y, time, *tree_unflatten(spec, list(flat)))

    args = tuple(_tensor(a) for a in leaves)
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"odeint: t must be a 1-d sequence of time points, got shape {t.shape}")
    times = _values(t)
    shape = y0.shape
    with engine.enable_grad():  # one evaluation, recorded: does func read a tensor needing a gradient elsewhere?
        probe = func(
            Tensor._from_op(_values(y0), None), Tensor._from_op(np.float64(times[0]), None), *[a.detach() for a in args]
        )
    if type(probe) is Tensor and probe.requires_grad:
        raise GradientError("odeint: func reads a tensor that requires grad without being given it: pass it in args")
    if tuple(np.shape(_values(probe))) != tuple(shape):
        raise ValueError(f"odeint: func returns shape {np.shape(_values(probe))}, the state has shape {shape}")

    def f_values(y: np.ndarray, time: float, params: tuple) -> np.ndarray:
        with engine.no_grad():
            out = func(Tensor._from_op(y.reshape(shape), None), Tensor._from_op(np.float64(time), None), *params)
        return _values(out).reshape(-1)

    def forward(y0_, t_, *args_):
        params = tuple(Tensor._from_op(_values(a), None) for a in args_)
        ts = _values(t_)
        states = [_values(y0_).reshape(-1)]
        for a, b in zip(ts[:-1], ts[1:]):
            states.append(_solve(lambda time, y: f_values(y, time, params), states[-1], a, b, rtol, atol))
        ys = np.stack(states).reshape(len(ts), *shape)
        return Tensor._from_op(ys, None), (ys, ts, tuple(_values(a) for a in args_), (y0_, t_, *args_))

    def backward(residuals, g):
        ys, ts, params, inputs = residuals
        recording = type(g) is Tensor  # the engine hands tensors to rules only when it records the backward pass
        g = _values(g)
        n = ys[0].size
        sizes = [p.size for p in params]

        def vjps(y: np.ndarray, time: float, a: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
            def f(yy, *pp):
                return func(yy, Tensor._from_op(np.float64(time), None), *pp)

            value, pull = vjp(f, y.reshape(shape), *params)
            grads = pull(a.reshape(shape))
            grads = grads if isinstance(grads, tuple) else (grads,)
            flat = [_values(gr).reshape(-1) if gr is not None else np.zeros(s) for gr, s in zip(grads, [n, *sizes])]
            return _values(value).reshape(-1), flat

        def augmented(time: float, state: np.ndarray) -> np.ndarray:
            y, a = state[:n], state[n : 2 * n]
            dy, (ay, *ap) = vjps(y, time, a)
            return np.concatenate([dy, -ay, *[-p for p in ap]])

        a = np.zeros(n)
        param_grads = [np.zeros(s) for s in sizes]
        time_grads = np.zeros(len(ts))
        for i in range(len(ts) - 1, 0, -1):
            gi = g[i].reshape(-1)
            time_grads[i] = gi @ f_values(ys[i].reshape(-1), ts[i], tuple(Tensor._from_op(p, None) for p in params))
            a = a + gi
            state = np.concatenate([ys[i].reshape(-1), a, *param_grads])
            state = _solve(augmented, state, ts[i], ts[i - 1], rtol, atol)
            a = state[n : 2 * n]
            offset = 2 * n
            for k, s in enumerate(sizes):
                param_grads[k] = state[offset : offset + s]
                offset += s
        # moving t_0 moves every later state; y(t_0) itself is y0 whatever t_0 is
        time_grads[0] = -a @ f_values(ys[0].reshape(-1), ts[0], tuple(Tensor._from_op(p, None) for p in params))
        a = a + g[0].reshape(-1)
        grads = (a.reshape(shape), time_grads, *(p.reshape(q.shape) for p, q in zip(param_grads, params)))
        if not recording:
            return grads
        # the backward pass is being recorded (for a derivative of this gradient): the gradients are tied to the
        # inputs by a node whose own derivative refuses, since the adjoint above ran outside chainrule
        return tuple(_no_second_derivative(Tensor._from_op(gi, None), *inputs) for gi in grads)

    def odeint(y0_, t_, *args_):
        return forward(y0_, t_, *args_)[0]

    solver = custom_vjp(odeint)
    solver.defvjp(forward, backward)
    return solver(y0, t, *args)


__all__ = ["odeint"]
