"""Function transforms: derivatives of functions rather than of tensors, composable to any order.

``grad``, ``value_and_grad``, ``vjp`` and ``jacobian(mode="rev")`` run the function once and walk its graph
backwards (reverse mode); ``jvp`` and ``jacobian(mode="fwd")`` push tangents forwards through the same call
(forward mode, one pass per direction); ``hessian`` is forward-over-reverse and ``hvp`` a forward pass through
``grad``. Each call differentiates with respect to fresh nodes of its own, so nested transforms never mix their
derivatives, and the graph lives only as long as the call.

Arguments and results may be nested tuples, lists and dicts of tensors (a dict of parameters, say); numbers and
NumPy arrays are taken as float64 tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .errors import GradientError, ShapeError
from .primitive import Primitive, defvjp_argnum
from .tensor import Tensor

# -- nested structures ------------------------------------------------------------------------------------------


def tree_flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of nested tuples, lists and dicts, and a description to rebuild the structure."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            sub, spec = tree_flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for key, item in tree.items():
            sub, spec = tree_flatten(item)
            leaves += sub
            specs.append((key, len(sub), spec))
        return leaves, (dict, specs)
    return [tree], None


def tree_unflatten(spec: Any, leaves: Sequence[Any]) -> Any:
    if spec is None:
        return leaves[0]
    kind, parts = spec
    out, start = [], 0
    if kind is dict:
        result = {}
        for key, count, sub in parts:
            result[key] = tree_unflatten(sub, leaves[start : start + count])
            start += count
        return result
    for count, sub in parts:
        out.append(tree_unflatten(sub, leaves[start : start + count]))
        start += count
    return kind(out)


def _as_tensor(x: Any) -> Tensor:
    if type(x) is Tensor:
        return x
    array = np.asarray(x, dtype=np.float64) if not hasattr(x, "dtype") or x.dtype.kind in "biu" else np.asarray(x)
    return Tensor(array)


# -- what a transform differentiates with respect to -------------------------------------------------------------


def _fresh_input(x: Any, level: int | None = None, tangent: Any = None) -> Tensor:
    """A new node standing for ``x`` inside one transform: gradients are taken with respect to it, and through it
    they still reach whatever ``x`` came from (an outer transform's input, say). Forward mode alone (``level``
    given, ``x`` in no graph) needs no node: nothing is recorded for a plain jvp."""
    x = _as_tensor(x)
    if level is not None and not x.requires_grad:
        fresh = Tensor._from_op(x.data, None)
        fresh._tangents = x._tangents
    else:
        base = x
        if not x.requires_grad:
            base = Tensor._from_op(x.data, None)
            base._rg = True
            base._tangents = x._tangents
        fresh = ops.identity(base)
    fresh._outer = x.requires_grad or bool(x._tangents)  # derivatives must stay differentiable
    if level is not None:
        tangent = _as_tensor(tangent)
        if tangent.shape != x.shape:
            raise ShapeError(f"jvp: a tangent of shape {tangent.shape} for a primal of shape {x.shape}")
        engine.set_tangent(fresh, level, tangent if tangent.dtype == x.dtype else ops.cast(tangent, dtype=x.dtype))
    return fresh


def _nested(inputs: list[Tensor], own_level: int | None = None) -> bool:
    """Whether derivatives must stay differentiable: inside another transform, or of tensors in a graph."""
    return any(level != own_level for level in engine._forward.open) or any(t._outer for t in inputs)


def _scalar(out: Any, name: str) -> Tensor:
    if type(out) is not Tensor:
        raise GradientError(f"{name}: the function must return a Tensor, got {type(out).__name__}")
    if out.size != 1:
        raise GradientError(
            f"{name}: the function must return a single-element Tensor, got shape {out.shape}; reduce it (.sum()) "
            "or use cr.vjp / cr.jacobian for vector outputs"
        )
    return out


def _grads_or_zeros(root: Tensor, seed: Any, inputs: list[Tensor], retain: bool, create: bool) -> list[Tensor]:
    if not root.requires_grad:
        found = [None] * len(inputs)
    else:
        if create and type(seed) is not Tensor:
            seed = Tensor._from_op(seed, None)
        found = engine.gradients(root, seed, inputs, retain, create)
    out = []
    for g, x in zip(found, inputs):
        if g is None:
            out.append(Tensor._from_op(np.zeros(x.shape, dtype=x.dtype), None))
        else:
            out.append(g if type(g) is Tensor else Tensor._from_op(g, None))
    return out


# -- reverse mode -----------------------------------------------------------------------------------------------


def _prepare(args: tuple, argnums: int | Sequence[int]) -> tuple[list, list[list[Tensor]], list[Any]]:
    numbers = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    call_args = list(args)
    leaves_per_arg, specs = [], []
    for n in numbers:
        if not -len(args) <= n < len(args):
            raise ShapeError(f"argnums {argnums} out of range for a call with {len(args)} arguments")
        leaves, spec = tree_flatten(args[n])
        fresh = [_fresh_input(leaf) for leaf in leaves]
        call_args[n] = tree_unflatten(spec, fresh)
        leaves_per_arg.append(fresh)
        specs.append(spec)
    return call_args, leaves_per_arg, specs


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """``value_and_grad(f)(*args)`` is ``(f(*args), grad(f)(*args))`` from one forward and one backward pass
    (with ``has_aux``, ``f`` returns ``(value, aux)`` and the result is ``((value, aux), grad)``)."""

    def wrapped(*args: Any) -> Any:
        call_args, leaves_per_arg, specs = _prepare(args, argnums)
        result = f(*call_args)
        value, aux = result if has_aux else (result, None)
        value = _scalar(value, "grad")
        flat = [leaf for leaves in leaves_per_arg for leaf in leaves]
        create = _nested(flat)
        seed = np.ones(value.shape, dtype=value.dtype)
        grads = _grads_or_zeros(value, seed, flat, create, create)
        out, start = [], 0
        for leaves, spec in zip(leaves_per_arg, specs):
            out.append(tree_unflatten(spec, grads[start : start + len(leaves)]))
            start += len(leaves)
        grad = out[0] if isinstance(argnums, int) else tuple(out)
        value = value if create else value.detach()
        return ((value, aux), grad) if has_aux else (value, grad)

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a function returning a single-element Tensor: ``grad(f)(x)`` has the structure of ``x``
    (one Tensor for an int ``argnums``, a tuple for a tuple); with ``has_aux``, ``(grad, aux)``."""
    both = value_and_grad(f, argnums, has_aux)

    def wrapped(*args: Any) -> Any:
        (value_aux, g) = both(*args)
        return (g, value_aux[1]) if has_aux else g

    return wrapped


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable]:
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` is a tuple with one gradient per primal."""
    call_args, leaves_per_arg, specs = _prepare(primals, tuple(range(len(primals))))
    out_leaves, out_spec = tree_flatten(f(*call_args))
    out_leaves = [_as_tensor(o) for o in out_leaves]
    out = tree_unflatten(out_spec, out_leaves)
    flat = [leaf for leaves in leaves_per_arg for leaf in leaves]
    create = _nested(flat)

    def vjp_fn(cotangent: Any) -> tuple:
        cot_leaves, _ = tree_flatten(cotangent)
        if len(cot_leaves) != len(out_leaves):
            raise ShapeError(f"vjp: {len(cot_leaves)} cotangents for {len(out_leaves)} outputs")
        total = [Tensor._from_op(np.zeros(x.shape, dtype=x.dtype), None) for x in flat]
        for o, c in zip(out_leaves, cot_leaves):
            c = _as_tensor(c)
            if c.shape != o.shape:
                raise ShapeError(f"vjp: a cotangent of shape {c.shape} for an output of shape {o.shape}")
            grads = _grads_or_zeros(o, c if create else c.data, flat, True, create)
            total = [a + b for a, b in zip(total, grads)]
        result, start = [], 0
        for leaves, spec in zip(leaves_per_arg, specs):
            result.append(tree_unflatten(spec, total[start : start + len(leaves)]))
            start += len(leaves)
        return tuple(result)

    return (out if create else tree_unflatten(out_spec, [o.detach() for o in out_leaves])), vjp_fn


# -- forward mode -----------------------------------------------------------------------------------------------


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J(primals) @ tangents)`` from one forward pass carrying the tangents."""
    if len(primals) != len(tangents):
        raise ShapeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    level = engine.open_level()
    try:
        call_args, inputs = [], []
        for p, t in zip(primals, tangents):
            p_leaves, p_spec = tree_flatten(p)
            t_leaves, _ = tree_flatten(t)
            if len(p_leaves) != len(t_leaves):
                raise ShapeError("jvp: the tangents must have the structure of the primals")
            fresh = [_fresh_input(a, level, b) for a, b in zip(p_leaves, t_leaves)]
            inputs += fresh
            call_args.append(tree_unflatten(p_spec, fresh))
        out = f(*call_args)
        out_leaves, out_spec = tree_flatten(out)
        out_tangents = []
        for o in out_leaves:
            t = engine.tangent_of(o, level)
            out_tangents.append(t if t is not None else Tensor._from_op(np.zeros(o.shape, dtype=o.dtype), None))
            if type(o) is Tensor and o._tangents:
                o._tangents = {k: v for k, v in o._tangents.items() if k != level} or None
        nested = _nested(inputs, level)
    finally:
        engine.close_level(level)
    if not nested:  # a result for the user, not for an outer transform: no graph attached
        out_leaves = [o.detach() if type(o) is Tensor else o for o in out_leaves]
        out_tangents = [t.detach() for t in out_tangents]
    return tree_unflatten(out_spec, out_leaves), tree_unflatten(out_spec, out_tangents)


def _jvp_batched(f: Callable[[Tensor], Any], x: Tensor, directions: np.ndarray) -> tuple[Tensor, Tensor]:
    """``f(x)`` and its changes along each of ``directions`` (leading axis), from one forward pass."""
    batch = directions.shape[0]
    level = engine.open_level(batch=batch)
    try:
        fresh = _fresh_input(x)
        engine.set_tangent(fresh, level, Tensor._from_op(directions, None))
        out = _as_tensor(f(fresh))
        tangent = engine.tangent_of(out, level)
        if tangent is None:
            tangent = Tensor._from_op(np.zeros((batch, *out.shape), dtype=out.dtype), None)
        if out._tangents:
            out._tangents = {k: v for k, v in out._tangents.items() if k != level} or None
        nested = _nested([fresh], level)
    finally:
        engine.close_level(level)
    return (out, tangent) if nested else (out.detach(), tangent.detach())


# -- Jacobians and Hessians -------------------------------------------------------------------------------------


def jacobian(f: Callable[..., Any], argnums: int = 0, mode: str = "rev") -> Callable:
    """The Jacobian of ``f`` with respect to argument ``argnums``, of shape ``out.shape + in.shape``: one
    backward pass per output element (``mode="rev"``) or one forward pass per input element (``"fwd"``)."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def wrapped(*args: Any) -> Tensor:
        x = _as_tensor(args[argnums])

        def g(value: Any) -> Any:
            return f(*args[:argnums], value, *args[argnums + 1 :])

        if mode == "fwd" and not engine.batched_level_open():
            # every basis direction at once: one forward pass with a batch of tangents
            directions = np.eye(x.size, dtype=x.dtype).reshape((x.size, *x.shape))
            out, tangents = _jvp_batched(g, x, directions)
            moved = ops.transpose(tangents, axes=(*range(1, len(tangents.shape)), 0))
            return ops.reshape(moved, shape=tuple(out.shape) + tuple(x.shape))
        if mode == "fwd":  # inside another batched level: one direction at a time
            columns = []
            for j in range(x.size):
                basis = np.zeros(x.size, dtype=x.dtype)
                basis[j] = 1
                out, tangent = jvp(g, (x,), (basis.reshape(x.shape),))
                columns.append(ops.reshape(tangent, shape=(-1,)))
            stacked = ops.concatenate(*[ops.expand_dims(c, -1) for c in columns], axis=-1)
            return ops.reshape(stacked, shape=tuple(out.shape) + tuple(x.shape))
        # every output element at once: one backward pass with a batch of cotangents
        (fresh,), _, _ = _prepare((x,), (0,))
        out = _as_tensor(g(fresh))
        create = _nested([fresh])
        seeds = np.eye(out.size, dtype=out.dtype).reshape((out.size, *out.shape))
        if not out.requires_grad:
            rows = Tensor._from_op(np.zeros((out.size, *x.shape), dtype=x.dtype), None)
        else:
            (rows,) = engine.gradients(
                out, Tensor._from_op(seeds, None) if create else seeds, [fresh], create, create, batch=out.size
            )
            if rows is None:  # the output does not depend on x
                rows = np.zeros((out.size, *x.shape), dtype=x.dtype)
            rows = rows if type(rows) is Tensor else Tensor._from_op(rows, None)
        return ops.reshape(rows, shape=tuple(out.shape) + tuple(x.shape))

    return wrapped


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable:
    """The Hessian of a scalar function: forward mode over the reverse-mode gradient."""
    return jacobian(grad(f, argnums), argnums, mode="fwd")


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), H @ tangents)`` for a scalar function, as ``torch.autograd.functional.hvp``: one forward
    pass through the gradient. The product has the structure of the primals (one Tensor for one primal)."""
    with engine.no_grad():
        value = f(*[tree_unflatten(s, [_as_tensor(a) for a in leaves]) for leaves, s in map(tree_flatten, primals)])
    _, product = jvp(grad(f, tuple(range(len(primals)))), primals, tangents)
    return value, (product[0] if len(primals) == 1 else product)


# -- custom rules and checkpointing -----------------------------------------------------------------------------


class custom_vjp:
    """A function with a reverse rule of your own, used by ``backward()`` and by every transform::

        @cr.custom_vjp
        def clip_gradient(x):
            return x * 1

        clip_gradient.defvjp(lambda x: (clip_gradient(x), None), lambda residuals, g: (cr.clip(g, -1.0, 1.0),))

    ``fwd(*args)`` returns ``(out, residuals)``; ``bwd(residuals, g)`` returns one gradient per argument (None for
    none). Forward mode is not available through such a function (as in JAX): ``jvp`` raises.
    """

    def __init__(self, fn: Callable[..., Any], forward_mode_through_fn: bool = False) -> None:
        self.fn = fn
        self.forward_mode_through_fn = forward_mode_through_fn  # checkpoint: a jvp may simply go through fn
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.__name__ = getattr(fn, "__name__", "custom_vjp")
        self.__doc__ = fn.__doc__

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> custom_vjp:
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            return self.fn(*args)
        tensors = [_as_tensor(a) for a in args]
        out, residuals = self.fwd(*tensors)
        out = _as_tensor(out)
        if not any(t.requires_grad or t._tangents for t in tensors) or not engine.is_grad_enabled():
            return out.detach()
        bwd, name, cache = self.bwd, self.__name__, {}

        def rule(i: int, g: Any, ans: Any, *inputs: Any) -> Any:
            key = id(g)
            if key not in cache:  # one call of bwd serves every input's rule
                cache.clear()
                grads = tuple(bwd(residuals, g if type(g) is Tensor else Tensor._from_op(g, None)))
                if len(grads) != len(inputs):
                    raise GradientError(
                        f"custom_vjp '{name}': bwd returned {len(grads)} gradients for {len(inputs)} inputs"
                    )
                cache[key] = grads
            gi = cache[key][i]
            if gi is None:
                return _zeros(inputs[i])
            return gi if type(g) is Tensor else ops.constant(_as_tensor(gi))

        def forward_rule(i: int, t: Any, ans: Any, *inputs: Any) -> Any:
            if not self.forward_mode_through_fn:
                raise GradientError(f"custom_vjp '{name}' defines a reverse rule only; jvp cannot go through it")
            return jvp(lambda x: self.fn(*inputs[:i], x, *inputs[i + 1 :]), (inputs[i],), (t,))[1]

        prim = Primitive(name, lambda xp, *arrays: out.data)
        defvjp_argnum(prim, rule)
        prim.jvps = forward_rule
        return prim(*tensors)


def _zeros(x: Any) -> Any:
    values = ops.constant(x)
    return np.zeros(np.shape(values), dtype=getattr(values, "dtype", np.float64))


def checkpoint(f: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``checkpoint(f)(*args)`` keeps only ``args`` during the forward pass (nothing of ``f``'s insides) and runs
    ``f`` again inside backward to get its gradients: memory for time."""

    def fwd(*args: Tensor) -> tuple[Tensor, tuple]:
        with engine.no_grad():
            return f(*args), args

    def bwd(args: tuple, g: Tensor) -> tuple:
        if not g.requires_grad and not engine._forward.open:  # a plain backward: recompute without a graph to keep
            args = tuple(a.detach() for a in args)
        _, pullback = vjp(f, *args)
        return pullback(g)

    wrapped = custom_vjp(f, forward_mode_through_fn=True).defvjp(fwd, bwd)
    wrapped.__name__ = f"checkpoint({getattr(f, '__name__', 'f')})"
    return wrapped
