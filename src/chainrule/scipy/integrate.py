"""``cr.scipy.integrate.odeint(func, y0, t, *args)``: SciPy's signature, differentiable with respect to the initial
state, the time points and every argument by the adjoint method.

Forward: the ODE dy/dt = func(y, t, *args) is solved by SciPy's own odeint (LSODA) at the tolerances given, so
the states are the ones scipy.integrate.odeint gives. Backward: the adjoint a(t) = dL/dy(t)
obeys da/dt = -aᵀ ∂f/∂y, and the parameters' gradient gathers -∫ aᵀ ∂f/∂θ dt; both are integrated backwards from
the last time to the first together with y itself, segment by segment, adding each time point's cotangent to a
as it is passed. The vector-Jacobian products aᵀ∂f/∂y and aᵀ∂f/∂θ come from chainrule (``cr.vjp`` of ``func``).
Memory does not grow with the number of solver steps. The adjoint integrates y backwards, which is unstable for
stiff systems that contract fast (as in autograd's and JAX's odeint): there the solver may give up, and says so.
A time point's gradient is ḡ_i · f(y_i, t_i) (and the
first time's is minus the others' plus ∫ aᵀ ∂f/∂t dt, integrated with the adjoint).

Parameters must be passed in ``args`` (a tensor ``func`` reads from elsewhere would lose its gradient: that is
refused with an error); they may nest (lists, tuples, dicts of arrays). Second derivatives (reverse over reverse)
work: when the backward pass is recorded, the same adjoint is written with chainrule's operations and each
segment solved by odeint itself, whose adjoint gives the next order. Forward mode (jvp) is refused: the first
order adjoint runs in NumPy, which cannot be transposed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import engine
from ..errors import GradientError
from ..tensor import Tensor
from ..transforms import backward_is_recorded, custom_vjp, tree_flatten, tree_unflatten, vjp
from .special import _tensor


def _values(x: Any) -> np.ndarray:
    return np.asarray(x.data if type(x) is Tensor else x, dtype=np.float64)


SOLVER_OPTIONS = frozenset({"h0", "hmax", "hmin", "ixpr", "mxstep", "mxhnil", "mxordn", "mxords", "tcrit", "ml", "mu"})


def _solve(rhs: Any, y0: np.ndarray, times: np.ndarray, rtol: Any, atol: Any, options: dict) -> np.ndarray:
    """The states at ``times`` (times[0] is y0's), by SciPy's odeint (LSODA), as scipy.integrate.odeint computes
    them; ``rhs(time, y)``."""
    from scipy.integrate import odeint as scipy_odeint

    if np.all(times == times[0]):  # (SciPy's solver does nothing there, and says it failed)
        return np.stack([y0] * len(times))
    states, info = scipy_odeint(rhs, y0, times, rtol=rtol, atol=atol, tfirst=True, full_output=True, **options)
    if info["message"] != "Integration successful.":
        raise RuntimeError(f"odeint: the solver failed between t = {times[0]} and {times[-1]}: {info['message']}")
    return states


def _unpack(state: Any, n: int, sizes: list) -> tuple:
    """The augmented state [y, a, dL/dt_0, dL/dθ...] (arrays or tensors) back into a, dL/dt_0 and each dL/dθ."""
    ends = np.cumsum([2 * n + 1, *sizes])
    return state[n : 2 * n], state[2 * n], [state[start:end] for start, end in zip(ends[:-1], ends[1:])]


def _differentiable(leaf: Any) -> bool:
    return type(leaf) is Tensor or isinstance(leaf, (np.ndarray, float, complex, np.floating, np.complexfloating))


def odeint(func: Any, y0: Any, t: Any, *args: Any, rtol: Any = None, atol: Any = None, **options: Any) -> Tensor:
    """The states y(t_i) of dy/dt = func(y, t, *args), y(t_0) = y0, stacked along a first axis of len(t).
    ``rtol`` and ``atol`` are SciPy's (default 1.49e-8 each) and also bound the adjoint's error: pass smaller ones
    for gradients accurate beyond about 1e-7. SciPy's step options (``mxstep``, ``hmax``, ``h0``, ...) are passed
    on, to the adjoint's solves too. ``args`` may nest (lists, tuples, dicts); their arrays and floats are
    differentiated, anything else (ints, strings, objects) is passed to ``func`` as it is."""
    unknown = set(options) - SOLVER_OPTIONS
    if unknown:
        raise TypeError(
            f"odeint: options {sorted(unknown)} are not supported (Dfun, full_output and tfirst change what the "
            f"solver returns or calls); supported: {sorted(SOLVER_OPTIONS)}"
        )
    y0, t = _tensor(y0), _tensor(t)
    leaves, spec = tree_flatten(list(args))  # args may nest: a list of (weights, bias) pairs, a dict, ...
    positions = [i for i, leaf in enumerate(leaves) if _differentiable(leaf)]
    flat_already = len(positions) == len(leaves) == len(args) and not any(
        isinstance(a, (list, tuple, dict)) for a in args
    )
    if not flat_already:  # (func is called thousands of times: wrapped only when the arguments need it)
        user_func = func

        def func(y: Any, time: Any, *flat: Any) -> Any:
            full = list(leaves)
            for i, value in zip(positions, flat):
                full[i] = value
            return user_func(y, time, *tree_unflatten(spec, full))

    args = tuple(_tensor(leaves[i]) for i in positions)
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
        states = _solve(lambda time, y: f_values(y, time, params), _values(y0_).reshape(-1), ts, rtol, atol, options)
        ys = states.reshape(len(ts), *shape)
        return Tensor._from_op(ys, None), (ys, ts, tuple(_values(a) for a in args_), (y0_, t_, *args_))

    def backward(residuals, g):
        ys, ts, params, _ = residuals
        g = _values(g)
        n = ys[0].size
        sizes = [p.size for p in params]

        def vjps(y: np.ndarray, time: float, a: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
            """f(y, t) and aᵀ∂f/∂y, aᵀ∂f/∂t, aᵀ∂f/∂θ, flat."""
            value, pull = vjp(func, y.reshape(shape), np.float64(time), *params)
            grads = pull(a.reshape(shape))
            grads = grads if isinstance(grads, tuple) else (grads,)
            flat = [
                _values(gr).reshape(-1) if gr is not None else np.zeros(size) for gr, size in zip(grads, [n, 1, *sizes])
            ]
            return _values(value).reshape(-1), flat

        def augmented(time: float, state: np.ndarray) -> np.ndarray:
            # backwards in time: y, the adjoint a, the first time's gradient, the parameters' gradients
            y, a = state[:n], state[n : 2 * n]
            dy, (ay, at, *ap) = vjps(y, time, a)
            return np.concatenate([dy, -ay, -at, *[-p for p in ap]])

        a = np.zeros(n)
        first_time = 0.0  # dL/dt_0: minus every later time's share, plus ∫ aᵀ∂f/∂t dt on the way back
        param_grads = [np.zeros(s) for s in sizes]
        time_grads = np.zeros(len(ts))
        for i in range(len(ts) - 1, 0, -1):
            gi = g[i].reshape(-1)
            time_grads[i] = gi @ f_values(ys[i].reshape(-1), ts[i], tuple(Tensor._from_op(p, None) for p in params))
            first_time -= time_grads[i]
            a = a + gi
            state = np.concatenate([ys[i].reshape(-1), a, [first_time], *param_grads])
            state = _solve(augmented, state, ts[i - 1 : i + 1][::-1].copy(), rtol, atol, options)[-1]
            a, first_time, param_grads = _unpack(state, n, sizes)
        time_grads[0] = first_time
        a = a + g[0].reshape(-1)
        grads = (a.reshape(shape), time_grads, *(p.reshape(q.shape) for p, q in zip(param_grads, params)))
        return grads

    def recorded_backward(g: Tensor, inputs: tuple) -> tuple:
        """The same adjoint, written with chainrule's operations, for a backward pass that is recorded (a
        derivative of this gradient will be taken): each segment is solved by odeint itself, whose own adjoint
        then gives the next order."""
        from .. import functions as F
        from ..creation import zeros as cr_zeros

        y0_, t_, *params = inputs
        ys = solver(y0_, t_, *params)  # the states again, tied to the inputs
        n = int(np.prod(shape))
        sizes = [int(np.size(p.data)) for p in params]

        def aug(state: Tensor, time: Tensor, *ps: Tensor) -> Tensor:
            y, a = F.reshape(state[:n], shape), F.reshape(state[n : 2 * n], shape)
            value, pull = vjp(func, y, time, *ps)
            grads = pull(a)
            grads = grads if isinstance(grads, tuple) else (grads,)
            parts = [F.reshape(value, (-1,))]
            for gr, like in zip(grads, (y, time, *ps)):
                parts.append(-F.reshape(gr, (-1,)) if gr is not None else cr_zeros(int(np.size(like.data))))
            return F.concatenate(parts)

        count = len(_values(t_))
        a = cr_zeros(n)
        first_time = cr_zeros(())
        param_grads = [cr_zeros(size) for size in sizes]
        time_grads: list = [None] * count
        for i in range(count - 1, 0, -1):
            gi = F.reshape(g[i], (-1,))
            time_grads[i] = F.sum(gi * F.reshape(func(ys[i], t_[i], *params), (-1,)))
            first_time = first_time - time_grads[i]
            a = a + gi
            state = F.concatenate([F.reshape(ys[i], (-1,)), a, F.reshape(first_time, (1,)), *param_grads])
            # (a segment of length 0 too: its value is unchanged, but its ends' derivatives are ±the dynamics)
            pair = F.stack([t_[i], t_[i - 1]])
            state = globals()["odeint"](aug, state, pair, *params, rtol=rtol, atol=atol, **options)[-1]
            a, first_time, param_grads = _unpack(state, n, sizes)
        time_grads[0] = first_time
        a = a + F.reshape(g[0], (-1,))
        return (
            F.reshape(a, shape),
            F.stack(time_grads),
            *(F.reshape(q, p.shape) for q, p in zip(param_grads, params)),
        )

    def adjoint(residuals, g):
        if backward_is_recorded():  # a derivative of this gradient may be taken
            if g._tangents or any(x._tangents for x in residuals[3]):
                raise GradientError(
                    "odeint: forward mode (jvp, hessian, jacobian(mode='fwd')) is refused: its adjoint runs in "
                    "NumPy, which cannot be transposed; for second derivatives use reverse over reverse "
                    "(cr.grad(cr.grad(f)), cr.jacobian(cr.grad(f), mode='rev'))"
                )
            return recorded_backward(g, residuals[3])
        return backward(residuals, g)

    def odeint(y0_, t_, *args_):
        return forward(y0_, t_, *args_)[0]

    solver = custom_vjp(odeint)
    solver.defvjp(forward, adjoint)
    return solver(y0, t, *args)


__all__ = ["odeint"]
