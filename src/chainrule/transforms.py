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

import contextvars
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .backend import array_module
from .errors import DtypeError, GradientError, ShapeError
from .primitive import Primitive, defvjp_joint
from .tensor import Tensor, check_differentiable_dtype

# -- nested structures ------------------------------------------------------------------------------------------


def tree_flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of nested tuples, lists and dicts (dict keys in sorted order, as in JAX), and a description
    of the structure to rebuild it (``tree_unflatten``) and to compare it with another."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            sub, spec = tree_flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(tree), tuple(specs))
    if isinstance(tree, dict):
        leaves, specs = [], []
        for key in sorted(tree):
            sub, spec = tree_flatten(tree[key])
            leaves += sub
            specs.append((key, len(sub), spec))
        return leaves, (dict, tuple(specs))
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


def ravel_pytree(tree: Any) -> tuple[Tensor, Callable[[Any], Any]]:
    """One flat vector of every number in ``tree`` (nested tuples, lists and dicts of tensors, arrays and numbers),
    and the function that turns such a vector back into the tree (as ``jax.flatten_util.ravel_pytree``). Both
    directions are differentiable; the vector has the leaves' common floating dtype and the tree each leaf's own.
    This is what optimizers that want one vector (``scipy.optimize.minimize``) need."""
    leaves, spec = tree_flatten(tree)
    values = [np.asarray(leaf.data if type(leaf) is Tensor else leaf) for leaf in leaves]
    shapes = [v.shape for v in values]
    dtypes = [v.dtype for v in values]
    common = np.result_type(np.float16, *dtypes) if values else np.dtype(np.float64)
    sizes = [int(np.prod(shape)) for shape in shapes]
    pieces = [ops.reshape(_as_tensor(leaf), shape=(-1,)) for leaf in leaves]
    pieces = [ops.cast(p, dtype=common) if p.dtype != common else p for p in pieces]
    flat = ops.concatenate(*pieces, axis=0) if pieces else Tensor(np.zeros(0, dtype=common))

    def unravel(vector: Any) -> Any:
        vector = vector if type(vector) is Tensor else Tensor(np.asarray(vector))
        if tuple(vector.shape) != (sum(sizes),):
            raise ShapeError(f"unravel: expected a vector of {sum(sizes)} numbers, got shape {vector.shape}")
        out, start = [], 0
        for shape, size, dtype in zip(shapes, sizes, dtypes):
            piece = ops.reshape(ops.getitem(vector, index=slice(start, start + size)), shape=shape)
            out.append(ops.cast(piece, dtype=dtype) if piece.dtype != dtype and dtype.kind == "f" else piece)
            start += size
        return tree_unflatten(spec, out)

    return flat, unravel


def _same_structure(a: Any, b: Any, what: str, name: str) -> None:
    if tree_flatten(a)[1] != tree_flatten(b)[1]:
        raise ShapeError(f"{name}: the {what} must have the same nested structure (types, dict keys, lengths)")


def _as_tensor(x: Any) -> Tensor:
    if type(x) is Tensor:
        return x
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"expected a Tensor, a NumPy array or a number, got {type(x).__name__}")
    array = array_module(x).asarray(x)  # (the data's module: under cr.jit, a traced array stays traced)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"expected numeric data, got {type(x).__name__} of dtype {array.dtype}")
    return Tensor(array.astype(np.float64) if array.dtype.kind in "biu" else array)


def _argnums(argnums: Any, count: int, name: str) -> tuple[int, ...]:
    numbers = (argnums,) if isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool) else argnums
    if not isinstance(numbers, (tuple, list)) or not all(isinstance(n, (int, np.integer)) for n in numbers):
        raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
    normal = []
    for n in numbers:
        if not -count <= n < count:
            raise ShapeError(f"{name}: argnums {argnums!r} is out of range for a call with {count} arguments")
        normal.append(int(n) % count)
    if len(set(normal)) != len(normal):
        raise ShapeError(f"{name}: argnums {argnums!r} names an argument twice")
    if not normal:
        raise ShapeError(f"{name}: argnums is empty: name at least one argument to differentiate")
    return tuple(normal)


# -- what a transform differentiates with respect to -------------------------------------------------------------


def _fresh_input(x: Any, level: int | None = None, tangent: Any = None) -> Tensor:
    """A new node standing for ``x`` inside one transform: gradients are taken with respect to it, and through it
    they still reach whatever ``x`` came from (an outer transform's input, say). Forward mode alone (``level``
    given, ``x`` in no graph) needs no node: nothing is recorded for a plain jvp."""
    x = _as_tensor(x)
    check_differentiable_dtype(x.dtype, "a transform's input")
    if level is not None and not x.requires_grad:
        fresh = Tensor._from_op(x.data.copy(order="K"), None)  # memory of its own: the function may change it in place
        fresh._tangents = x._tangents
    else:
        base = x
        if not x.requires_grad:
            base = Tensor._from_op(x.data, None)
            base._rg = True
            base._tangents = x._tangents
            base._born = next(engine._ticks)  # an input of this transform, not a variable of enclosing ones
        fresh = ops.identity(base)
    fresh._outer = x.requires_grad or bool(x._tangents)  # derivatives must stay differentiable
    if level is not None and tangent is not None:
        tangent = _as_tensor(tangent)
        check_differentiable_dtype(tangent.dtype, "jvp: a tangent")
        if tangent.requires_grad or tangent._tangents:  # the tangent depends on an outer variable: keep that
            tangent = ops.identity(tangent)
        else:
            tangent = Tensor._from_op(tangent.data.copy(order="K"), None)
        if tangent.shape != x.shape:
            raise ShapeError(f"jvp: a tangent of shape {tangent.shape} for a primal of shape {x.shape}")
        if tangent.dtype.kind == "c" and x.dtype.kind != "c":
            raise DtypeError(
                f"jvp: a complex tangent for a real primal of dtype {x.dtype} (a real input moves along the real "
                "axis only); make the primal complex"
            )
        engine.set_tangent(fresh, level, tangent if tangent.dtype == x.dtype else ops.cast(tangent, dtype=x.dtype))
    return fresh


def _nested(inputs: list[Tensor], own_level: int | None = None) -> bool:
    """Whether derivatives must stay differentiable: inside another transform, or of tensors in a graph."""
    return any(level != own_level for level in engine._forward.open) or any(t._outer for t in inputs)


def _needs_graph(results: list[Tensor], keys: list, since: int) -> bool:
    """Forward mode: results that depend on tensors requiring grad (other than the transform's own inputs, by
    their keys) belong to an enclosing reverse-mode derivative and must keep their graph."""
    return any(r.requires_grad and engine.reaches_outside(r, keys, since) for r in results if type(r) is Tensor)


def _plain(tree: Any) -> Any:
    """Results for the user: the tensors of ``tree`` without the transform's graph."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten(spec, [leaf.detach() if type(leaf) is Tensor else leaf for leaf in leaves])


def _output(out: Any, name: str) -> Tensor:
    """A function's result as a tensor: numbers, arrays and comparisons are constants (derivative 0); a Python bool
    (``np.allclose``, ``x in y``) says something about the values, not a value, and is refused."""
    if isinstance(out, bool):
        raise TypeError(f"{name}: the function returns a Python bool, which has no derivative")
    if type(out) is Tensor and out.dtype.kind == "b":
        return Tensor(out.data.astype(np.float64))
    return _as_tensor(out)


def _scalar(out: Any, name: str) -> Tensor:
    if isinstance(out, bool) or not isinstance(out, (Tensor, int, float, complex, np.number, np.ndarray)):
        raise TypeError(f"{name}: the function must return a Tensor (or a number), got {type(out).__name__}")
    out = _output(out, name)
    if out.size != 1:
        raise GradientError(
            f"{name}: the function must return a single-element Tensor, got shape {out.shape}; reduce it (.sum()) "
            "or use cr.vjp / cr.jacobian for vector outputs"
        )
    return out


def _grads_or_zeros(
    root: Tensor,
    seed: Any,
    inputs: list[Tensor],
    keys: list,
    retain: bool,
    create: bool,
    batch: int | None = None,
) -> list[Tensor]:
    """Gradients of ``root`` for each input, found by the key taken when the input was made (zeros where ``root``
    does not depend on it). Each is a tensor of its own: a rule may hand one gradient to several inputs."""
    lead = () if batch is None else (batch,)
    found = [None] * len(inputs)
    if root.requires_grad:
        if create and type(seed) is not Tensor:
            seed = Tensor._from_op(seed, None)
        found = engine.gradients(root, seed, keys, retain, create, batch)
    out = [
        Tensor._from_op(np.zeros(lead + tuple(x.shape), dtype=x.dtype), None) if g is None else g
        for g, x in zip(found, inputs)
    ]
    return _own_memory(out, [ops.constant(seed)])


def _own_memory(results: list, others: list) -> list[Tensor]:
    """``results`` as tensors none of which shares memory with another or with ``others`` (the caller's seed): a
    rule may hand one gradient to two inputs, or a view of it; one tensor may be two outputs."""
    given, out = list(others), []
    for r in results:
        values = ops.constant(r)
        if any(_may_share(values, other) for other in given):
            r = ops.identity(r)  # a copy of its own
            values = ops.constant(r)
        given.append(values)
        out.append(r if type(r) is Tensor else Tensor._from_op(r, None))
    return out


def _may_share(a: Any, b: Any) -> bool:
    """Whether two arrays may share memory (NumPy scalars never do)."""
    if not (hasattr(a, "__setitem__") and hasattr(b, "__setitem__")):
        return False
    return a is b or bool(array_module(a).may_share_memory(a, b))


def _keys(inputs: list[Tensor]) -> list:
    """The target keys of a transform's fresh inputs, taken before the function runs (it may change them in place)."""
    return [engine.target_key(t) for t in inputs]


def _prepare(args: tuple, numbers: tuple[int, ...]) -> tuple[list, list[list[Tensor]], list[Any]]:
    """The call's arguments with fresh inputs in place of the differentiated ones (nested structures too)."""
    call_args = list(args)
    leaves_per_arg, specs = [], []
    for n in numbers:
        leaves, spec = tree_flatten(args[n])
        fresh = [_fresh_input(leaf) for leaf in leaves]
        call_args[n] = tree_unflatten(spec, fresh)
        leaves_per_arg.append(fresh)
        specs.append(spec)
    return call_args, leaves_per_arg, specs


def _regroup(values: list[Any], leaves_per_arg: list[list[Any]], specs: list[Any]) -> list[Any]:
    out, start = [], 0
    for leaves, spec in zip(leaves_per_arg, specs):
        out.append(tree_unflatten(spec, values[start : start + len(leaves)]))
        start += len(leaves)
    return out


# -- reverse mode -----------------------------------------------------------------------------------------------


def _check_holomorphic(name: str, inputs: list[Tensor], outputs: list[Tensor], holomorphic: bool) -> None:
    """As in JAX: a complex output needs ``holomorphic=True`` (its derivative is then f'(z)), which in turn needs
    complex inputs; without it, the derivative of a real output with respect to a complex input z = x + iy is
    ∂f/∂x - i ∂f/∂y (conjugate it for a step of gradient descent)."""
    if holomorphic:
        real = [x for x in inputs if x.dtype.kind != "c"]
        if real:
            raise DtypeError(f"{name}(holomorphic=True): the inputs must be complex, got dtype {real[0].dtype}")
        return
    if any(o.dtype.kind == "c" for o in outputs):
        raise DtypeError(
            f"{name}: the function returns a complex value; pass holomorphic=True for a holomorphic function (its "
            "derivative f'(z)), or differentiate a real value of it (abs(z) ** 2, z.real, ...)"
        )


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False, holomorphic: bool = False
) -> Callable:
    """``value_and_grad(f)(*args)`` is ``(f(*args), grad(f)(*args))`` from one forward and one backward pass
    (with ``has_aux``, ``f`` returns ``(value, aux)`` and the result is ``((value, aux), grad)``). Like
    ``torch.func``, transforms record what they need even inside ``cr.no_grad()``. Complex numbers follow JAX (see
    ``grad``)."""

    def wrapped(*args: Any) -> Any:
        numbers = _argnums(argnums, len(args), "grad")
        since = next(engine._ticks)
        with engine.enable_grad():
            call_args, leaves_per_arg, specs = _prepare(args, numbers)
            flat = [leaf for leaves in leaves_per_arg for leaf in leaves]
            keys = _keys(flat)
            result = f(*call_args)
            if has_aux and not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise GradientError("grad(has_aux=True): the function must return a pair (value, aux)")
            value, aux = result if has_aux else (result, None)
            value = _scalar(value, "grad")
            _check_holomorphic("grad", flat, [value], holomorphic)
            create = _nested(flat) or (value.requires_grad and engine.reaches_outside(value, keys, since))
            grads = _grads_or_zeros(value, np.ones(value.shape, dtype=value.dtype), flat, keys, create, create)
        out = _regroup(grads, leaves_per_arg, specs)
        grad = out[0] if isinstance(argnums, (int, np.integer)) else tuple(out)
        if not create:
            value, aux = value.detach(), _plain(aux)
        return ((value, aux), grad) if has_aux else (value, grad)

    return wrapped


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False, holomorphic: bool = False
) -> Callable:
    """The gradient of a function returning a single-element Tensor: ``grad(f)(x)`` has the structure of ``x``
    (one Tensor for an int ``argnums``, a tuple for a tuple); with ``has_aux``, ``(grad, aux)``.

    Complex numbers follow JAX: for a real-valued ``f`` of complex ``z = x + iy`` the result is ``∂f/∂x - i ∂f/∂y``
    (its conjugate is the direction of steepest ascent); a complex-valued ``f`` needs ``holomorphic=True`` and
    gives ``f'(z)``."""
    both = value_and_grad(f, argnums, has_aux, holomorphic)

    def wrapped(*args: Any) -> Any:
        (value_aux, g) = both(*args)
        return (g, value_aux[1]) if has_aux else g

    return wrapped


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable]:
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` is a tuple with one gradient per primal."""
    since = next(engine._ticks)
    with engine.enable_grad():
        call_args, leaves_per_arg, specs = _prepare(primals, tuple(range(len(primals))))
        flat = [leaf for leaves in leaves_per_arg for leaf in leaves]
        keys = _keys(flat)
        out_leaves, out_spec = tree_flatten(f(*call_args))
        out_leaves = [_output(o, "vjp") for o in out_leaves]
    out = tree_unflatten(out_spec, out_leaves)
    create = _nested(flat) or any(o.requires_grad and engine.reaches_outside(o, keys, since) for o in out_leaves)

    def vjp_fn(cotangent: Any) -> tuple:
        _same_structure(cotangent, out, "cotangent and the output", "vjp")
        total = None
        with engine.enable_grad():
            for o, c in zip(out_leaves, tree_flatten(cotangent)[0]):
                c = _as_tensor(c)
                if c.shape != o.shape:
                    raise ShapeError(f"vjp: a cotangent of shape {c.shape} for an output of shape {o.shape}")
                # a cotangent that is itself differentiated (vjp_fn inside grad, jvp or jacobian): the backward
                # pass is recorded, so the result is the linear function of it that it is
                recorded = create or c.requires_grad or bool(c._tangents)
                grads = _grads_or_zeros(o, c if recorded else c.data, flat, keys, True, recorded)
                total = grads if total is None else [a + b for a, b in zip(total, grads)]
        return tuple(_regroup(total, leaves_per_arg, specs))

    return (out if create else _plain(out)), vjp_fn


# -- forward mode -----------------------------------------------------------------------------------------------


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J(primals) @ tangents)`` from one forward pass carrying the tangents; ``primals`` and
    ``tangents`` are tuples (or lists) of the same structure."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples, e.g. jvp(f, (x,), (v,))")
    _same_structure(primals, tangents, "tangents and the primals", "jvp")
    since = next(engine._ticks)
    level = engine.open_level()
    try:
        with engine.enable_grad():
            call_args, inputs = [], []
            for p, t in zip(primals, tangents):
                p_leaves, p_spec = tree_flatten(p)
                fresh = [_fresh_input(a, level, b) for a, b in zip(p_leaves, tree_flatten(t)[0])]
                inputs += fresh
                call_args.append(tree_unflatten(p_spec, fresh))
            keys = _keys(inputs)
            out_leaves, out_spec = tree_flatten(f(*call_args))
            out_leaves = [_as_tensor(o) for o in out_leaves]
        out_tangents = _own_memory(_take_tangents(out_leaves, level, ()), [])
        nested = _nested(inputs, level) or _needs_graph(out_leaves + out_tangents, keys, since)
    finally:
        engine.close_level(level)
    out, tangent = tree_unflatten(out_spec, out_leaves), tree_unflatten(out_spec, out_tangents)
    return (out, tangent) if nested else (_plain(out), _plain(tangent))


def _take_tangents(outputs: list[Tensor], level: int, lead: tuple) -> list[Tensor]:
    """The outputs' tangents at ``level`` (zeros where none arrived), removed from the outputs as the level closes:
    all read before any is removed, since one tensor may be several outputs."""
    tangents = []
    for o in outputs:
        t = engine.tangent_of(o, level)
        tangents.append(t if t is not None else Tensor._from_op(np.zeros((*lead, *o.shape), dtype=o.dtype), None))
    for o in outputs:
        if o._tangents and level in o._tangents:
            o._tangents = {k: v for k, v in o._tangents.items() if k != level} or None
    return tangents


def _jvp_batched(f: Callable[..., Any], inputs: list[Tensor], position: int, directions: np.ndarray) -> tuple:
    """The output leaves of ``f(*inputs)`` and their changes along each of ``directions`` (leading axis) of input
    ``position``, from one forward pass."""
    batch = directions.shape[0]
    since = next(engine._ticks)
    level = engine.open_level(batch=batch)
    try:
        with engine.enable_grad():
            fresh = [_fresh_input(x, level if k == position else None) for k, x in enumerate(inputs)]
            engine.set_tangent(fresh[position], level, Tensor._from_op(directions, None))
            keys = _keys(fresh)
            out_leaves, out_spec = tree_flatten(f(*fresh))
            out_leaves = [_as_tensor(o) for o in out_leaves]
        tangents = _own_memory(_take_tangents(out_leaves, level, (batch,)), [])
        nested = _nested(fresh, level) or _needs_graph(out_leaves + tangents, keys, since)
    finally:
        engine.close_level(level)
    if not nested:
        out_leaves, tangents = [o.detach() for o in out_leaves], [t.detach() for t in tangents]
    return out_leaves, out_spec, tangents


# -- Jacobians and Hessians -------------------------------------------------------------------------------------


def jacobian(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, mode: str = "rev", holomorphic: bool = False
) -> Callable:
    """The Jacobian of ``f``: for one input and one output a Tensor of shape ``out.shape + in.shape``; for nested
    outputs and inputs (or a tuple ``argnums``), the output's structure holding the input's structure of such
    blocks, as in JAX. ``mode="rev"`` takes all output elements in one batched backward pass, ``"fwd"`` all
    input directions in one batched forward pass. Complex inputs need real outputs (``mode="rev"``) or
    ``holomorphic=True``, as in JAX."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def wrapped(*args: Any) -> Any:
        numbers = _argnums(argnums, len(args), "jacobian")
        in_leaves, in_specs = [], []
        for n in numbers:
            leaves, spec = tree_flatten(args[n])
            in_leaves.append([_as_tensor(leaf) for leaf in leaves])
            in_specs.append(spec)
        flat_in = [x for leaves in in_leaves for x in leaves]

        def of_leaves(*xs: Any) -> Any:
            call_args = list(args)
            for n, value in zip(numbers, _regroup(list(xs), in_leaves, in_specs)):
                call_args[n] = value
            return f(*call_args)

        if mode == "fwd":
            if not holomorphic and any(x.dtype.kind == "c" for x in flat_in):
                raise DtypeError(
                    "jacobian(mode='fwd') of complex inputs: pass holomorphic=True for a holomorphic function, or "
                    "use mode='rev' for a real-valued one"
                )
            if holomorphic:
                _check_holomorphic("jacobian", flat_in, [], True)
            blocks_by_input = []
            for position, x in enumerate(flat_in):
                directions = np.eye(x.size, dtype=x.dtype).reshape((x.size, *x.shape))
                if engine.batched_level_open():  # inside another batched level: one direction at a time
                    rows = [jvp(of_leaves, tuple(flat_in), _basis(flat_in, position, d)) for d in directions]
                    out_leaves, out_spec = tree_flatten(rows[0][0])
                    tangents = [ops.concatenate(*[ops.expand_dims(tree_flatten(r[1])[0][k], 0) for r in rows], axis=0)
                                for k in range(len(out_leaves))]  # fmt: skip
                else:
                    out_leaves, out_spec, tangents = _jvp_batched(of_leaves, flat_in, position, directions)
                blocks_by_input.append(
                    [
                        ops.reshape(ops.transpose(t, axes=(*range(1, len(t.shape)), 0)), shape=(*o.shape, *x.shape))
                        for o, t in zip(out_leaves, tangents)
                    ]  # fmt: skip
                )
            blocks = [[column[k] for column in blocks_by_input] for k in range(len(out_leaves))]
        else:
            since = next(engine._ticks)
            with engine.enable_grad():
                fresh = [_fresh_input(x) for x in flat_in]
                keys = _keys(fresh)
                out_leaves, out_spec = tree_flatten(of_leaves(*fresh))
                out_leaves = [_as_tensor(o) for o in out_leaves]
                _check_holomorphic("jacobian", fresh, out_leaves, holomorphic)
                create = _nested(fresh) or any(
                    o.requires_grad and engine.reaches_outside(o, keys, since) for o in out_leaves
                )
                blocks = []
                for o in out_leaves:
                    seeds = np.eye(o.size, dtype=o.dtype).reshape((o.size, *o.shape))
                    rows = _grads_or_zeros(o, seeds, fresh, keys, True, create, batch=o.size)
                    blocks.append([ops.reshape(r, shape=(*o.shape, *x.shape)) for r, x in zip(rows, flat_in)])
            if not create:
                blocks = [[b.detach() for b in row] for row in blocks]
        single = isinstance(argnums, (int, np.integer))
        per_output = []
        for row in blocks:
            grouped = _regroup(row, in_leaves, in_specs)
            per_output.append(grouped[0] if single else tuple(grouped))
        return tree_unflatten(out_spec, per_output)

    return wrapped


def _basis(inputs: list[Tensor], position: int, direction: np.ndarray) -> tuple:
    return tuple(direction if k == position else np.zeros(x.shape, dtype=x.dtype) for k, x in enumerate(inputs))


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0, holomorphic: bool = False) -> Callable:
    """The Hessian of a scalar function: forward mode over the reverse-mode gradient."""
    return jacobian(grad(f, argnums, holomorphic=holomorphic), argnums, mode="fwd", holomorphic=holomorphic)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), H @ tangents)`` for a scalar function, as ``torch.autograd.functional.hvp``, from one
    forward pass through the gradient. The product has the structure of the primals (one Tensor for one)."""
    (value, _), (_, product) = jvp(value_and_grad(f, tuple(range(len(primals)))), primals, tangents)
    return value, (product[0] if len(primals) == 1 else product)


# -- custom rules and checkpointing -----------------------------------------------------------------------------


_RECORDED: contextvars.ContextVar[bool] = contextvars.ContextVar("custom_vjp_backward_recorded", default=False)


def backward_is_recorded() -> bool:
    """Inside a custom_vjp's bwd: whether this backward pass is being recorded (create_graph, or a derivative of
    the gradient to come), so bwd should compute with chainrule's operations rather than on plain values."""
    return _RECORDED.get()


class custom_vjp:
    """A function with a reverse rule of your own, used by ``backward()`` and by every transform::

        @cr.custom_vjp
        def clip_gradient(x):
            return x * 1

        clip_gradient.defvjp(lambda x: (x * 1, None), lambda residuals, g: (cr.clip(g, -1.0, 1.0),))

    ``fwd(*args)`` returns ``(out, residuals)``; ``bwd(residuals, g)`` returns one gradient per argument (None for
    none; a single Tensor for a one-argument function). Forward mode goes through the same rule: the reverse rule
    is linear in ``g``, so ``J v`` is the transpose of ``g -> J^T g`` applied to ``v`` (write ``bwd`` with
    chainrule operations on ``g``, so it can be transposed and differentiated again).
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.__name__ = getattr(fn, "__name__", "custom_vjp")
        self.__doc__ = fn.__doc__

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> custom_vjp:
        self.fwd, self.bwd = fwd, bwd
        return self

    def _refuse_closures(self, out: Tensor, tensors: list[Tensor], since: int) -> None:
        """A derivative through a tensor that fwd reads without being given it would be lost without a word (bwd
        gives gradients for the arguments only): refuse, as JAX does."""
        outside = _read_from_outside(out, tensors, since)
        given_levels = {level for t in tensors for level in (t._tangents or ())}
        if outside or any(level not in given_levels for level in (out._tangents or ())):
            what = f"of shape {', '.join(str(t.shape) for t in outside)}" if outside else "carrying a tangent"
            raise GradientError(
                f"custom_vjp '{self.__name__}': fwd reads a tensor {what} that needs a derivative without being "
                "given it, so that derivative would be lost: pass the tensor to the function as an argument (and "
                "give its gradient in bwd), or use cr.checkpoint, which follows such tensors"
            )

    def _check_linear(self, pulled: Callable[[Tensor], Any], ans: Any) -> None:
        """Forward mode transposes bwd, which is only right for a bwd linear in g (a true vector-Jacobian product).
        Random probes of size 1 to 3, and a million times larger and smaller, bwd(2u) = 2 bwd(u), bwd(u + v) =
        bwd(u) + bwd(v), bwd(cu) = c bwd(u), catch the usual nonlinear rules (gradient clipping at any bound,
        rescaling by the norm of g); entries that are not finite (an infinite coefficient) are not compared."""
        values = ops.constant(ans)
        rng = np.random.default_rng(0)
        shape = np.shape(values)
        u, v = (rng.uniform(1.0, 3.0, shape) * rng.choice([-1.0, 1.0], shape) for _ in range(2))

        def bwd_of(g: Any) -> Any:
            return ops.constant(_as_tensor(pulled(Tensor._from_op(g.astype(values.dtype), None))))

        big = 1e6 if values.dtype == np.float64 else 1e3
        with engine.no_grad():
            at_u, at_v, at_sum = bwd_of(u), bwd_of(v), bwd_of(u + v)
            at_2u, at_big, at_small = bwd_of(2 * u), bwd_of(big * u), bwd_of(u / big)
        tolerance = 1e-9 if values.dtype == np.float64 else 1e-4

        def agree(got: Any, expected: Any) -> bool:  # where both are finite: an infinite coefficient is linear too
            finite = np.isfinite(got) & np.isfinite(expected)
            scale = float(np.abs(np.where(finite, expected, 0)).max(initial=0))
            return bool(np.allclose(got[finite], expected[finite], rtol=tolerance, atol=tolerance * scale))

        checks = ((at_2u, 2 * at_u), (at_sum, at_u + at_v), (at_big, big * at_u), (at_small * big, at_u))
        if not all(agree(np.asarray(got), np.asarray(expected)) for got, expected in checks):
            raise GradientError(
                f"custom_vjp '{self.__name__}': forward mode (jvp, jacobian(mode='fwd'), hessian) transposes bwd, "
                "which must then be linear in g, and this one is not (bwd(2g) != 2 bwd(g), or bwd(g + h) != "
                "bwd(g) + bwd(h)); use reverse mode (cr.grad, cr.jacobian(mode='rev')) with it"
            )

    @staticmethod
    def _depends_on_g(pulled: Callable[[Tensor], Any], ans: Any) -> bool:
        """Whether bwd gives anything but zeros (at a random g): then a result that is not computed from g is
        one computed outside chainrule, which forward mode cannot transpose."""
        values = ops.constant(ans)
        probe = np.random.default_rng(1).standard_normal(np.shape(values)).astype(values.dtype)
        with engine.no_grad():
            return bool(np.any(ops.constant(_as_tensor(pulled(Tensor._from_op(probe, None)))) != 0))

    def _gradients(self, residuals: Any, g: Tensor, count: int, create_graph: bool) -> tuple:
        grads = self.bwd(residuals, g)  # type: ignore[misc]
        if type(grads) is Tensor and count == 1:
            grads = (grads,)
        if not isinstance(grads, (tuple, list)) or len(grads) != count:
            raise GradientError(
                f"custom_vjp '{self.__name__}': bwd must return a tuple of {count} gradients (None for none), got "
                f"{type(grads).__name__}" + (f" of length {len(grads)}" if isinstance(grads, (tuple, list)) else "")
            )
        return tuple(grads)

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            return self.fn(*args)
        tensors = [_as_tensor(a) for a in args]
        since = next(engine._ticks)
        result = self.fwd(*tensors)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise GradientError(f"custom_vjp '{self.__name__}': fwd must return a pair (out, residuals)")
        if type(result[0]) is not Tensor and isinstance(result[0], (tuple, list, dict)):
            raise GradientError(
                f"custom_vjp '{self.__name__}': fwd must return one tensor as its output, got a "
                f"{type(result[0]).__name__}; write one custom_vjp per output, or stack the outputs (cr.stack)"
            )
        out, residuals = _as_tensor(result[0]), result[1]
        self._refuse_closures(out, tensors, since)
        if not any(t.requires_grad or t._tangents for t in tensors):
            return out.detach()
        name, count = self.__name__, len(tensors)

        def rule(g: Any, ans: Any, *inputs: Any) -> tuple:
            create = type(g) is Tensor  # the engine hands Tensors to rules when it records the backward pass
            token = _RECORDED.set(create)
            try:
                grads = self._gradients(residuals, g if create else Tensor._from_op(g, None), count, create)
            finally:
                _RECORDED.reset(token)
            return tuple(
                _zeros(x) if gi is None else (_as_tensor(gi) if create else _copied(ops.constant(_as_tensor(gi))))
                for gi, x in zip(grads, inputs)
            )

        def forward_rule(i: int, t: Any, ans: Any, *inputs: Any) -> Any:
            def pulled(g: Tensor) -> Any:
                gi = self._gradients(residuals, g, count, True)[i]
                if gi is None:
                    return _zeros(inputs[i]) * g.sum()  # (zero, yet depending on g)
                gi = _as_tensor(gi)
                value = inputs[i]
                if tuple(gi.shape) != tuple(value.shape):  # given in the broadcast shape: summed, as backward does
                    gi = engine.fit_gradient(gi, ops.constant(value), name, i)
                return gi

            def traced(g: Tensor) -> Any:
                gi = pulled(g)
                if not gi.requires_grad and self._depends_on_g(pulled, ans):
                    raise GradientError(
                        f"custom_vjp '{name}': forward mode (jvp, jacobian(mode='fwd'), hessian) transposes bwd, so "
                        "bwd must compute its gradients from g with chainrule operations; this one returns values "
                        "not computed from g (NumPy on g's values?), and forward mode would give zeros: use reverse "
                        "mode (cr.grad, cr.vjp, cr.jacobian(mode='rev')), or write bwd with chainrule operations"
                    )
                return gi

            zero = Tensor._from_op(np.zeros(ans.shape, dtype=ans.dtype), None)
            transpose = vjp(traced, zero)[1]  # (first: a bwd outside chainrule is refused with its own reason)
            self._check_linear(pulled, ans)
            return transpose(t)[0]

        prim = Primitive(name, lambda xp, *arrays: out.data)
        defvjp_joint(prim, rule)
        prim.jvps = forward_rule
        return prim(*tensors)


def _copied(values: Any) -> Any:
    """A user's rule may return an array it keeps (a residual, say): the gradient gets a copy of its own."""
    return values.copy(order="K") if hasattr(values, "__setitem__") else values


def _zeros(x: Any) -> Any:
    values = ops.constant(x)
    return np.zeros(np.shape(values), dtype=getattr(values, "dtype", np.float64))


def checkpoint(f: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``checkpoint(f)(*args)`` keeps only ``args`` during the forward pass (nothing of ``f``'s insides) and runs
    ``f`` again inside backward to get its gradients: memory for time. Tensors that ``f`` reads without being
    given them (a layer's weights, a closure's variables) get their gradients too, as in PyTorch. Derivatives of
    any order go through it."""
    name = f"checkpoint({getattr(f, '__name__', 'f')})"

    def wrapped(*args: Any) -> Tensor:
        if not engine.is_grad_enabled():
            return f(*args)
        from .nn.init import replaying_draws, saved_draws  # the default generator (dropout) lives with nn

        tensors = [_as_tensor(a) for a in args]
        since = next(engine._ticks)
        stand_ins = [_stand_in(t) for t in tensors]
        draws = saved_draws()  # the recomputation draws the same random numbers (dropout masks), as PyTorch's
        out = f(*stand_ins)
        if type(out) is not Tensor:
            raise GradientError(f"{name}: the function must return a Tensor, got {type(out).__name__}")
        captured = _read_from_outside(out, stand_ins, since)
        if any(t._tangents for t in (*tensors, *captured)):
            with replaying_draws(draws):
                return f(*args)  # tangents need the insides; a jvp keeps no graph of its own to save
        if not captured and not any(t.requires_grad for t in tensors):
            return out.detach()
        value = out.data  # only the result is kept: the graph of f's insides goes with ``out``
        del out, stand_ins
        count = len(tensors)

        def rule(g: Any, ans: Any, *inputs: Any) -> tuple:
            create = type(g) is Tensor  # the engine hands Tensors to rules when it records the backward pass
            with engine.enable_grad():
                again = [_fresh_input(x) if create else _stand_in(_as_tensor(x)) for x in inputs[:count]]
                keys = _keys(again) + [engine.target_key(t) for t in captured]
                with replaying_draws(draws):
                    result = f(*again)
                _same_again(name, ops.constant(result), value)
                found = [None] * len(keys)
                if result.requires_grad:
                    found = engine.gradients(result, g, keys, create, create)
            return tuple(_zeros(x) if gi is None else gi for gi, x in zip(found, inputs))

        prim = Primitive(name, lambda xp, *arrays: value)
        defvjp_joint(prim, rule)
        return prim(*tensors, *captured)

    wrapped.__name__ = name
    return wrapped


def _same_again(name: str, again: Any, first: Any) -> None:
    """checkpoint's gradients are those of the recomputation: if it did not give the forward pass's result (random
    draws from a generator of the function's own, state changed since), they would be another function's."""
    if np.shape(again) != np.shape(first) or not np.allclose(again, first, rtol=1e-10, atol=0.0, equal_nan=True):
        raise GradientError(
            f"{name}: run again inside backward, the function gave a different result than in the forward pass, so "
            "its gradients would be those of another computation. Random draws replay only from chainrule's "
            "default generator (cr.manual_seed): give dropout no generator of its own inside a checkpoint, and do "
            "not change what the function reads between the forward pass and backward."
        )


def _stand_in(t: Tensor) -> Tensor:
    """A leaf that requires grad with the values of ``t`` (its own memory): what checkpoint runs ``f`` on."""
    leaf = Tensor._from_op(t.data.copy(), None)
    leaf._rg = True
    leaf._born = next(engine._ticks)
    return leaf


def _read_from_outside(out: Tensor, given: list[Tensor], since: int) -> list[Tensor]:
    """The tensors that require grad, made before tick ``since``, that the graph behind ``out`` reads other than
    ``given``: what a function used without being handed it."""
    found: list[Tensor] = []
    seen: set = set(given)
    stack = [out]
    while stack:
        node = stack.pop()
        if node._op is None or node._inputs is None:
            continue
        for parent in node._inputs:
            if type(parent) is not Tensor or not (parent._rg or parent._tangents) or parent in seen:
                continue
            seen.add(parent)
            if parent._op is None or parent._tick < since:
                found.append(parent)
            else:
                stack.append(parent)
    return found
