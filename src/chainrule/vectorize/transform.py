"""``vmap``: a function of one example mapped over a batch axis, with no Python loop over the examples."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..tensor import Tensor
from ..transforms import tree_flatten, tree_unflatten
from .batched import ACTIVE_LEVELS
from .boundary import batch_in, batch_out, levels_of

_levels = itertools.count(1)


def _leaf_axes(axis: Any, arg: Any, count: int, what: str) -> list:
    """One axis (or None) per leaf of an argument: one for all, or a tree of them shaped like the argument."""
    if axis is None or isinstance(axis, (int, np.integer)):
        return [None if axis is None else int(axis)] * count
    axes, _ = tree_flatten(axis)
    if len(axes) != count:
        raise ShapeError(f"vmap: {what} gives {len(axes)} axes for an argument with {count} arrays")
    return [None if a is None else int(a) for a in axes]


def _axes_of(in_axes: Any, count: int) -> tuple:
    if in_axes is None or isinstance(in_axes, (int, np.integer)):
        return (in_axes,) * count
    if isinstance(in_axes, dict):
        raise ShapeError(
            "vmap: in_axes gives one entry per argument (a tuple); a dict goes inside it, for a dict argument"
        )
    axes = tuple(in_axes)
    if len(axes) != count:
        raise ShapeError(f"vmap: in_axes has {len(axes)} entries but the function was given {count} arguments")
    return axes


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """``f`` mapped over an axis of its arguments: ``vmap(f)(xs)`` stacks ``f(x)`` for each ``x`` along ``xs``'s
    first axis, computed as one batched call of each operation (as ``jax.vmap`` and ``torch.func.vmap``).

    ``in_axes``: for each argument, the axis to map over (an int), or None for an argument shared by all
    examples; one int or None applies to every argument. Arguments may be nested tuples, lists and dicts; their
    leaves are mapped along the same axis. ``out_axes``: where the mapped axis goes in the results.

    It composes: ``vmap(grad(loss), in_axes=(None, 0))(params, batch)`` gives per-example gradients, and
    ``vmap`` nests. A function that reads a batched value in Python (``if``, ``float()``, ``.item()``) raises
    ``BatchedValueError``: use ``cr.where`` for choices made per example.
    """

    @functools.wraps(f)
    def mapped(*args: Any) -> Any:
        level = next(_levels)
        sizes: set[int] = set()
        batched_args = []
        for arg, axis in zip(args, _axes_of(in_axes, len(args))):
            if axis is None:
                batched_args.append(arg)
                continue
            leaves, spec = tree_flatten(arg)
            leaf_axes = _leaf_axes(axis, arg, len(leaves), "in_axes")
            entered = []
            for leaf, axis in zip(leaves, leaf_axes):
                if axis is None:
                    entered.append(leaf)
                    continue
                leaf = leaf if type(leaf) is Tensor else Tensor(np.asarray(leaf))
                ndim = len(leaf.shape)
                if not -ndim <= axis < ndim:
                    raise ShapeError(f"vmap: in_axes {axis} is out of range for an argument of shape {leaf.shape}")
                sizes.add(leaf.shape[axis % ndim])
                entered.append(batch_in(leaf, axis=axis % ndim, level=level))
            batched_args.append(tree_unflatten(spec, entered))
        if not sizes:
            raise ShapeError("vmap: no argument is mapped (every in_axes is None)")
        if len(sizes) > 1:
            raise ShapeError(f"vmap: the mapped axes have different lengths {sorted(sizes)}; they must be equal")
        (size,) = sizes
        ACTIVE_LEVELS.append(level)
        try:
            out = f(*batched_args)
        finally:
            ACTIVE_LEVELS.remove(level)
        leaves, spec = tree_flatten(out)
        out_axes_leaves = _out_axes(out_axes, out, len(leaves))
        results = []
        for leaf, axis in zip(leaves, out_axes_leaves):
            leaf = leaf if type(leaf) is Tensor else Tensor(np.asarray(leaf))
            if axis is None:  # a result the same for every example, returned once
                if level in levels_of(ops.constant(leaf)):
                    raise ShapeError("vmap: out_axes=None for a result that differs between examples")
                results.append(leaf)
                continue
            ndim = len(leaf.shape) + 1
            if not -ndim <= axis < ndim:
                raise ShapeError(f"vmap: out_axes {axis} is out of range for a result of shape {leaf.shape}")
            results.append(batch_out(leaf, axis=axis % ndim, level=level, size=size))
        return tree_unflatten(spec, results)

    return mapped


def _out_axes(out_axes: Any, out: Any, count: int) -> list:
    return _leaf_axes(out_axes, out, count, "out_axes")
