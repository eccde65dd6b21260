"""Collectives as differentiable primitives: every process calls the same collective with its own tensor.

The derivative of a program that runs on N processes is the derivative of the sum of their outputs (each
process's loss counts once, as when each process computes the loss of its own share of the data). So:

- ``all_reduce(x, "sum")``: every process gets y = Σ_r x_r. Each y_s depends on x_r with slope 1, so process r
  receives Σ_s g_s: the all-reduce (sum) of the cotangents. ``"mean"`` divides both ways by N.
- ``all_reduce(x, "max" | "min")``: y = max_r x_r. The gradient Σ_s g_s goes to the processes whose x equals the
  maximum, split evenly between ties (as ``maximum`` splits a tie).
- ``all_gather(x, axis)``: y = the processes' x joined along ``axis``. Process r receives its own slice of
  Σ_s g_s.
- ``broadcast(x, root)``: y = x_root everywhere. The root receives Σ_s g_s, the others zeros.

Forward-mode rules follow the same algebra (a linear collective applied to the tangent). Before a collective
the processes compare shapes and dtypes with one small all-gather (``check=False`` skips it), so a mismatch is
a clear error on every process instead of a hang or mixed-up data.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..ops.elementwise import cast, equal
from ..primitive import constant, defjvp, defvjp, describe_vjp, primitive
from ..tensor import Tensor
from ..vectorize.rules import RULES
from . import world
from .world import DistributedError

OPS = ("sum", "mean", "max", "min")


def _mpi_op(op: str) -> Any:
    from mpi4py import MPI

    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]


def _buffer(xp: Any, x: Any) -> Any:
    """A contiguous array MPI can read, of the same shape (a strided view is copied). A value cr.jit is tracing is
    read out as it is, which makes that call run eagerly: a collective is not replayed."""
    if world.world_size() > 1 and type(x).__module__.startswith("chainrule"):  # a traced value: read it out
        x = x.__array__()
    x = xp.asarray(x)
    return x if x.flags.c_contiguous else xp.ascontiguousarray(x).reshape(x.shape)


# -- all_reduce -------------------------------------------------------------------------------------------------


@primitive("all_reduce")
def _all_reduce(xp, x, op="sum"):
    source = _buffer(xp, x)
    out = xp.empty_like(source)
    c = world.comm()
    if c is None or world.world_size() == 1:
        out[...] = source
    else:
        c.Allreduce(source, out, op=_mpi_op(op))
    if op == "mean":
        out = out / world.world_size()
    return out


def _winners(x: Any, ans: Any) -> tuple[Any, Any]:
    """Where this process holds the extreme value, and how many processes share it, for max and min."""
    mask = cast(equal(constant(x), constant(ans)), dtype=constant(ans).dtype)
    return mask, _all_reduce(mask, op="sum")


def _all_reduce_vjp(g, ans, x, op="sum"):
    if op in ("sum", "mean"):
        return _all_reduce(g, op=op)
    mask, count = _winners(x, ans)
    return _all_reduce(g, op="sum") * mask / count


def _all_reduce_jvp(t, ans, x, op="sum"):
    if op in ("sum", "mean"):
        return _all_reduce(t, op=op)
    mask, count = _winners(x, ans)
    return _all_reduce(t * mask, op="sum") / count


defvjp(_all_reduce, _all_reduce_vjp)
defjvp(_all_reduce, _all_reduce_jvp)
describe_vjp(_all_reduce, "all_reduce(g, {op}) (max/min: to the processes holding the extreme, ties split)")


# -- all_gather -------------------------------------------------------------------------------------------------


@primitive("all_gather")
def _all_gather(xp, x, axis=0, sizes=(1,)):
    moved = _buffer(xp, xp.moveaxis(x, axis, 0))
    c = world.comm()
    if c is None or len(sizes) == 1:
        return xp.moveaxis(moved.copy(), 0, axis)
    row = int(moved[0].size) if moved.shape[0] else int(_row_size(moved.shape))
    out = xp.empty((sum(sizes), *moved.shape[1:]), dtype=moved.dtype)
    counts = [s * row for s in sizes]
    offsets = [sum(counts[:r]) for r in range(len(counts))]
    c.Allgatherv(moved, [out, (counts, offsets)])
    return xp.moveaxis(out, 0, axis)


def _row_size(shape: tuple) -> int:
    size = 1
    for n in shape[1:]:
        size *= n
    return size


def _all_gather_vjp(g, ans, x, axis=0, sizes=(1,)):
    total = _all_reduce(g, op="sum")
    start = sum(sizes[: world.rank()])
    index = (slice(None),) * (axis % ans.ndim) + (slice(start, start + sizes[world.rank()]),)
    return total[index]


defvjp(_all_gather, _all_gather_vjp)
defjvp(_all_gather, lambda t, ans, x, axis=0, sizes=(1,): _all_gather(t, axis=axis, sizes=sizes))
describe_vjp(_all_gather, "this process's slice of all_reduce(g, sum)")


# -- broadcast --------------------------------------------------------------------------------------------------


@primitive("broadcast")
def _broadcast(xp, x, root=0):
    out = _buffer(xp, x).copy()
    c = world.comm()
    if c is not None and world.world_size() > 1:
        c.Bcast(out, root=root)
    return out


def _broadcast_vjp(g, ans, x, root=0):
    total = _all_reduce(g, op="sum")
    return total if world.rank() == root else total * 0


defvjp(_broadcast, _broadcast_vjp)
defjvp(_broadcast, lambda t, ans, x, root=0: _broadcast(t, root=root))
describe_vjp(_broadcast, "all_reduce(g, sum) on the root, 0 elsewhere")


# -- batching (vmap): a batch of examples is one collective on the stacked values, every process batching alike

RULES["all_reduce"] = lambda prim, values, batched, params, size: prim(values[0], **params)
RULES["broadcast"] = lambda prim, values, batched, params, size: prim(values[0], **params)
RULES["all_gather"] = lambda prim, values, batched, params, size: prim(
    values[0], **{**params, "axis": params["axis"] + 1}
)


# -- the public functions: checked arguments, tensors or arrays ---------------------------------------------------


def _agree(what: str, x: Any, problem: str | None, settings: tuple, axis: int | None = None) -> list[tuple]:
    """Every process's (shape, dtype, settings, problem with its arguments), exchanged in one small collective
    and compared: a bad argument or a mismatch on any process raises the same error on every process (raising
    before the exchange would leave the others waiting in it)."""
    data = constant(x)
    shape = tuple(int(n) for n in getattr(data, "shape", ()))
    dtype = str(getattr(data, "dtype", type(data).__name__))
    c = world.comm()
    mine = (shape, dtype, settings, problem)
    every = c.allgather(mine) if c is not None and world.world_size() > 1 else [mine]
    for r, (_, _, _, trouble) in enumerate(every):
        if trouble is not None:
            raise (ValueError if len(every) == 1 else DistributedError)(
                trouble if len(every) == 1 else f"{trouble} (on rank {r})"
            )
    listed = "; ".join(f"rank {r}: shape {s}, {d}" for r, (s, d, _, _) in enumerate(every))
    if axis is not None and any(len(s) != len(every[0][0]) for s, _, _, _ in every):
        raise DistributedError(f"{what}: every process must pass the same number of axes, got {listed}")
    if any(entry[2] != every[0][2] for entry in every):
        given = "; ".join(f"rank {r}: {', '.join(map(repr, e[2]))}" for r, e in enumerate(every))
        raise DistributedError(f"{what}: every process must pass the same arguments, got {given}")
    if axis is not None:  # all_gather: the same number of axes, the same sizes except along the axis
        compared = [(len(s), s[:axis] + s[axis + 1 :], d) for s, d, _, _ in every]
        need = "the same number of axes, dtype and shape except along axis"
    else:
        compared = [(s, d) for s, d, _, _ in every]
        need = "the same shape and dtype"
    if any(entry != compared[0] for entry in compared):
        raise DistributedError(f"{what}: every process must pass {need}, got {listed}")
    return every


def _array_or_tensor(x: Any) -> Any:
    if type(x) is Tensor:
        return x
    return array_module(x).asarray(x)


def _dtype_problem(what: str, x: Any, op: str) -> str | None:
    kind = getattr(constant(x), "dtype", None)
    kind = kind.kind if kind is not None else "f"
    if kind == "b" and op in ("sum", "mean"):
        return f"{what}: cannot {op} booleans: convert to an integer or float dtype first"
    if kind == "c" and op in ("max", "min"):
        return f"{what}: {op} needs real numbers, got a complex dtype"
    if kind not in "biufc":
        return f"{what}: needs numbers, got dtype {constant(x).dtype}"
    return None


def all_reduce(x: Any, op: str = "sum", check: bool = True) -> Any:
    """Combine every process's ``x`` elementwise (``op``: "sum", "mean", "max" or "min"); every process gets
    the result. Differentiable: the reverse rule is the all-reduce of the cotangent (sum and mean)."""
    x = _array_or_tensor(x)
    problem = None if op in OPS else f"all_reduce: op must be one of {', '.join(OPS)}, got {op!r}"
    problem = problem or _dtype_problem("all_reduce", x, op)
    if check:
        _agree("all_reduce", x, problem, (op,))
    elif problem:
        raise ValueError(problem)
    return _all_reduce(x, op=op)


def all_gather(x: Any, axis: int = 0, check: bool = True) -> Any:
    """Every process's ``x`` joined along ``axis`` in rank order (sizes along ``axis`` may differ). Differentiable:
    each process receives its own slice of the summed cotangent."""
    x = _array_or_tensor(x)
    shape = tuple(constant(x).shape)
    ndim = len(shape)
    given = axis
    problem = _dtype_problem("all_gather", x, "gather")
    if ndim == 0:
        problem = "all_gather: x must have at least one axis (reshape a number to shape (1,))"
    elif not -ndim <= axis < ndim:
        problem = f"all_gather: axis {axis} is out of range for shape {shape}"
    if problem is None:
        axis %= ndim
    every = _agree("all_gather", x, problem, (given,), axis if problem is None else None) if check else None
    if every is None:
        if problem:
            raise ValueError(problem)
        c = world.comm()
        shapes = c.allgather(shape) if c is not None and world.world_size() > 1 else [shape]
    else:
        shapes = [s for s, _, _, _ in every]
    return _all_gather(x, axis=axis, sizes=tuple(s[axis] for s in shapes))


def broadcast(x: Any, root: int = 0, check: bool = True) -> Any:
    """The root process's ``x``, on every process (each passes a tensor of the same shape). Differentiable: the
    root receives the summed cotangent."""
    x = _array_or_tensor(x)
    problem = _dtype_problem("broadcast", x, "broadcast")
    if not (isinstance(root, int) and 0 <= root < world.world_size()):
        problem = f"broadcast: root {root!r} is not a rank of this job of {world.world_size()}"
    if check:
        _agree("broadcast", x, problem, (root,))
    elif problem:
        raise ValueError(problem)
    return _broadcast(x, root=root)


__all__ = ["DistributedError", "all_gather", "all_reduce", "broadcast"]
