"""Forward mode: levels and tangents, pushed through each recorded operation by its forward rule."""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor

if TYPE_CHECKING:
    from ..primitive import Primitive


# Forward mode. A forward-mode transform opens a level; a tensor may carry a tangent per open level
# (``_tangents``). Each recorded operation whose inputs carry tangents computes its output's tangent with the
# primitive's forward rule, written in chainrule operations, so tangents are themselves differentiable, by
# reverse mode and by outer levels. While a level's tangent is computed only the levels below it are open: an
# inner perturbation never leaks into an outer one (the classic perturbation-confusion bug).


class _ForwardLevels(threading.local):
    open: tuple[int, ...] = ()
    batch: dict[int, int] | None = None  # level -> number of directions, for batched levels


_forward = _ForwardLevels()
_forward_open = [0]  # levels open in any thread: the recording paths' one cheap test
_level_ids = itertools.count(1)


def open_level(batch: int | None = None) -> int:
    """Open a forward level; with ``batch``, its tangents carry that many directions on a leading axis."""
    level = next(_level_ids)
    _forward.open = (*_forward.open, level)
    if batch is not None:
        _forward.batch = {**(_forward.batch or {}), level: batch}
    _forward_open[0] += 1
    return level


def close_level(level: int) -> None:
    _forward.open = tuple(lv for lv in _forward.open if lv != level)
    if _forward.batch and level in _forward.batch:
        _forward.batch = {k: v for k, v in _forward.batch.items() if k != level} or None
    _forward_open[0] -= 1


def batched_level_open() -> bool:
    return bool(_forward.batch)


def tangent_of(t: Any, level: int) -> Tensor | None:
    tangents = t._tangents if type(t) is Tensor else None
    return None if tangents is None else tangents.get(level)


def set_tangent(t: Tensor, level: int, tangent: Tensor) -> None:
    t._tangents = {**(t._tangents or {}), level: tangent}


def push_tangents(prim: Primitive, args: tuple, params: dict, out: Tensor) -> None:
    """Give ``out`` its tangent at every open level at which an input has one (forward rules)."""
    levels = _forward.open
    jvps = prim.jvps
    if not levels or jvps is None:
        return
    for position, level in enumerate(levels):
        _forward.open = levels[:position]  # levels open in order, so these are the ones below
        batch = _forward.batch.get(level) if _forward.batch else None
        try:
            total = None
            for i, a in enumerate(args):
                t = tangent_of(a, level)
                if t is None:
                    continue  # a zero tangent: no work
                if batch is not None:
                    from ..batching import batched_change

                    change = batched_change(prim, i, t, out, args, params, batch)
                elif type(jvps) is tuple:
                    change = jvps[i](t, out, *args, **params)
                else:
                    change = jvps(i, t, out, *args, **params)
                total = change if total is None else total + change
            if total is not None:
                shape = tuple(out.shape) if batch is None else (batch, *out.shape)
                if total.shape != shape:
                    from ..ops.shape import broadcast_to

                    total = broadcast_to(total, shape=shape)
                if total.dtype != out.dtype and out.dtype.kind in "fc":
                    from ..ops.elementwise import cast, real

                    if total.dtype.kind == "c" and out.dtype.kind != "c":
                        total = real(total)  # a real result changes along the real axis only
                    total = cast(total, dtype=out.dtype)
                total = total if type(total) is Tensor else Tensor._from_op(total, None)
                if out._tangents is None:
                    out._tangents = {level: total}
                else:
                    set_tangent(out, level, total)
        finally:
            _forward.open = levels
