"""Optimizers: SGD (momentum, Nesterov, weight decay), Adam and AdamW, with PyTorch's update rules.

Updates are written into each parameter's memory with in-place array operations and a scratch buffer the
optimizer keeps per parameter, so a step allocates nothing; then the parameter's version is bumped, so a graph
that saved the old value still refuses a silently wrong backward.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .. import engine
from ..backend import array_module
from ..engine.tracing import _local as _jit
from ..errors import GradientError, ShapeError
from ..tensor import Tensor

# Under cr.jit, hyperparameters and state are read through these: the learning rate and the state arrays are
# inputs read from their dicts at every replay (a schedule's new lr takes effect), the hyperparameters that
# choose a branch are checked at every replay (a change traces again).


def _live(mapping: dict, key: str) -> Any:
    return mapping[key] if _jit.trace is None else _jit.trace.read_item(mapping, key)


def _static(mapping: dict, key: str) -> Any:
    return mapping[key] if _jit.trace is None else _jit.trace.guard_item(mapping, key)


def _store(mapping: dict, key: str, value: Any) -> None:
    if _jit.trace is None:
        mapping[key] = value
    else:
        _jit.trace.write_item(mapping, key, value)


def _plain(value: Any) -> Any:
    """The array itself, not a traced stand-in: for state kept beyond the call."""
    return value if _jit.trace is None else _jit.trace.real(value)


def _new_state(optimizer: Optimizer) -> None:
    if _jit.trace is not None:  # a replay of this call would make the state again: trace the next call
        _jit.trace.single_use = f"{type(optimizer).__name__} made its state on this call"


class Optimizer:
    """Base class: ``param_groups`` (a list of dicts with "params" and hyperparameters), ``state`` (per
    parameter, by position), ``zero_grad()``, ``step()``, ``state_dict()`` / ``load_state_dict()``."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty list of parameters")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            unknown = set(group) - set(defaults) - {"params"}
            if unknown:
                raise ValueError(f"{type(self).__name__}: unknown options {sorted(unknown)} in a parameter group")
            group = {**defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if type(p) is not Tensor or not p.is_leaf or not (p.requires_grad or p._parameter):
                    raise TypeError(
                        f"{type(self).__name__} optimizes leaf tensors that require grad, got "
                        f"{type(p).__name__ if type(p) is not Tensor else 'a tensor that is not one'}; pass "
                        "model.parameters()"
                    )
            self.param_groups.append(group)
        ids = [id(p) for group in self.param_groups for p in group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{type(self).__name__}: a parameter is given twice; it would be stepped twice")
        self.state: dict[int, dict[str, Any]] = {}
        self._scratch: dict[int, Any] = {}

    def _indexed(self) -> Iterable[tuple[int, Tensor, dict[str, Any]]]:
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield i, p, group
                i += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        for _, p, _ in self._indexed():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._writable_data()[...] = 0

    def step(self) -> None:
        # The grad setter has checked each gradient's type and shape; the engine gives the parameter's dtype.
        for i, p, group in self._indexed():
            grad = p.grad
            if grad is None:
                continue
            data, g = p._writable_data(), grad.data
            if g.dtype != data.dtype and not _finite_dtype(g):
                raise GradientError(f"{type(self).__name__}: the gradient of parameter {i} has dtype {g.dtype}")
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = {}  # (made once, whether traced or not: nothing for a replay to do)
            scratch = self._scratch.get(i)
            if scratch is None or scratch.shape != data.shape or scratch.dtype != data.dtype:
                plain = _plain(data)
                scratch = self._scratch[i] = array_module(plain).empty_like(plain)
            self._update(data, g, state, group, scratch)
            engine.mark_changed(p)

    def _update(self, p: Any, g: Any, state: dict[str, Any], group: dict[str, Any], scratch: Any) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """{"state": {position: {name: array or number}}, "param_groups": [hyperparameters and "params" positions]}
        — copies, safe to save with cr.save."""
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            hyper = {k: v for k, v in group.items() if k != "params"}
            groups.append({**hyper, "params": list(range(start, start + n))})
            start += n
        state = {i: {k: (v.copy() if hasattr(v, "copy") else v) for k, v in s.items()} for i, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state has {len(groups or [])} parameter groups, this "
                f"optimizer {len(self.param_groups)}"
            )
        for saved, group in zip(groups, self.param_groups):
            if set(saved) != set(group):
                theirs, ours = sorted(set(saved) - {"params"}), sorted(set(group) - {"params"})
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: the state has the options {theirs}, this optimizer "
                    f"{ours}: it was saved from another kind of optimizer"
                )
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: a group of {len(saved['params'])} parameters in the "
                    f"state against {len(group['params'])} here"
                )
        shapes = {i: p.shape for i, p, _ in self._indexed()}
        state: dict[int, dict[str, Any]] = {}
        for key, entries in state_dict.get("state", {}).items():
            i = int(key)
            for name, value in entries.items():
                if hasattr(value, "shape") and value.shape not in ((), shapes.get(i)):
                    raise ShapeError(
                        f"{type(self).__name__}.load_state_dict: '{name}' of parameter {i} has shape {value.shape}, "
                        f"the parameter {shapes.get(i)}"
                    )
            state[i] = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in entries.items()}
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = state


def _finite_dtype(g: Any) -> bool:
    return getattr(g.dtype, "kind", "f") in "fc"


def _check(name: str, value: float, low: float = 0.0, high: float = math.inf) -> None:
    if not low <= value < high:
        raise ValueError(f"invalid {name}: {value} (expected {low} <= {name} < {high})")


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum (the buffer starts as the first gradient),
    dampening, Nesterov momentum and weight decay (L2, added to the gradient)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:  # fmt: skip
        _check("lr", lr)
        _check("momentum", momentum)
        _check("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs a momentum above 0 and no dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group, scratch):
        xp = array_module(p)
        lr, momentum, decay = _live(group, "lr"), _static(group, "momentum"), _static(group, "weight_decay")
        d = g
        if decay:
            xp.multiply(p, decay, out=scratch)
            scratch += g
            d = scratch
        if momentum:
            if "momentum_buffer" not in state:
                _new_state(self)
                buffer = d.copy()
                _store(state, "momentum_buffer", buffer)
            else:
                buffer = _live(state, "momentum_buffer")
                buffer *= momentum
                dampening = _static(group, "dampening")
                if dampening:
                    buffer += (1 - dampening) * d
                else:
                    buffer += d
            if _static(group, "nesterov"):  # d + momentum * buffer
                if d is scratch:
                    scratch += momentum * buffer
                else:
                    xp.multiply(buffer, momentum, out=scratch)
                    scratch += d
                d = scratch
            else:
                d = buffer
        xp.multiply(d, lr, out=scratch)
        p -= scratch


class Adam(Optimizer):
    """Adam (Kingma and Ba), with bias correction; ``weight_decay`` adds an L2 term to the gradient."""

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
        _check("lr", lr)
        _check("beta1", betas[0], high=1.0)
        _check("beta2", betas[1], high=1.0)
        _check("eps", eps)
        _check("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p, g, state, group, scratch):
        xp = array_module(p)
        lr, (beta1, beta2) = _live(group, "lr"), _static(group, "betas")
        eps, decay = _static(group, "eps"), _static(group, "weight_decay")
        if decay and self.decoupled:
            p *= 1 - lr * decay
        elif decay:
            g = g + decay * p
        if "step" not in state:
            _new_state(self)
            plain = _plain(p)
            state["step"] = 0
            state["exp_avg"] = array_module(plain).zeros_like(plain)
            state["exp_avg_sq"] = array_module(plain).zeros_like(plain)
        step = _live(state, "step") + 1
        _store(state, "step", step)
        m, v = _live(state, "exp_avg"), _live(state, "exp_avg_sq")
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        step_size = lr / (1 - beta1**step)
        xp.sqrt(v, out=scratch)
        scratch /= xp.sqrt(1 - beta2**step)  # (NumPy's sqrt of a float: math.sqrt's value, and traceable)
        scratch += eps
        xp.divide(m, scratch, out=scratch)
        scratch *= step_size
        p -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): the weights shrink by lr * weight_decay each
    step, apart from the gradient's moments."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay)
