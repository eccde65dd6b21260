"""Passes over a recorded program, each keeping what every call computes and leaves behind.

- ``fold_constants``: what depends on no input (arrays made from nothing and arithmetic on them, never changed
  in place) is computed once, at the trace, and becomes a constant.
- ``merge_repeats``: the same pure operation on the same values twice, with no change in place in between,
  is computed once.
- ``drop_unused``: operations whose results nothing uses, which write nothing and draw no random numbers.
- ``reuse_buffers``: an elementwise result or matrix product is written through ``out=`` into the memory of an
  array of the same shape and dtype that nothing needs any more (memory planning by liveness).
- ``typed_scalars``: a Python number meeting an array in arithmetic is converted once, at the trace, to the
  array's own scalar type (NumPy would convert it at every call to the same value).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .program import Instruction, Program, Ref
from .trace import SHAPED_LIKE

PURE_KINDS = frozenset(("operator", "ufunc", "function", "method", "attribute", "getitem"))
_ARRAY_OPERATORS = {
    operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply, operator.truediv: np.true_divide,
    operator.pow: np.power, operator.matmul: np.matmul, operator.neg: np.negative,
}  # fmt: skip


def _pure(instruction: Instruction) -> bool:
    if instruction.kind not in PURE_KINDS or instruction.writes:
        return False
    module = getattr(instruction.fn, "__module__", None) or ""
    return "random" not in module


def fold_constants(program: Program) -> None:
    written = {s for ins in program.instructions for s in ins.writes}
    for k, ins in enumerate(program.instructions):
        if ins.kind == "random" or not ins.outs or ins.writes or ins.kind == "constant":
            continue
        if all(s in program.values and s not in written for s in ins.outs) and (
            ins.fn in SHAPED_LIKE or all(s in program.values for s in ins.refs())
        ):
            if len(ins.outs) == 1:
                program.instructions[k] = Instruction("constant", program.values[ins.outs[0]], (), {}, ins.outs,
                                                      origin=ins.origin)  # fmt: skip
            else:
                program.instructions[k] = Instruction("constant", tuple(program.values[s] for s in ins.outs), (),
                                                      {}, ins.outs, out_type=tuple, origin=ins.origin)  # fmt: skip


def _key(value: Any) -> Any:
    kind = type(value)
    if kind is Ref:
        return ("ref", value.slot)
    if kind is tuple or kind is list:
        return (kind.__name__, *(_key(v) for v in value))
    if kind is dict:
        return ("dict", *((k, _key(v)) for k, v in value.items()))
    if kind is slice:
        return ("slice", _key(value.start), _key(value.stop), _key(value.step))
    if kind in (int, bool, str, type(None)) or value is Ellipsis:
        return (kind.__name__, value)
    if kind is float:
        return ("float", value.hex())  # 0.0 and -0.0 differ, as do NaNs of other payloads
    return ("object", id(value))  # the same object (the program holds it, so the id stays its own)


def merge_repeats(program: Program) -> None:
    seen: dict[Any, tuple[int, ...]] = {}
    renamed: dict[int, int] = {}
    kept = []
    for ins in program.instructions:
        if renamed:
            ins.args, ins.kwargs = _renamed(ins.args, renamed), _renamed(ins.kwargs, renamed)
        if ins.writes or ins.kind == "random":
            seen.clear()  # a change in place: earlier results may no longer hold
            kept.append(ins)
            continue
        if _pure(ins) and ins.outs:
            key = (ins.kind, _key(ins.fn) if not isinstance(ins.fn, str) else ins.fn, ins.method, _key(ins.args),
                   _key(ins.kwargs))  # fmt: skip
            earlier = seen.get(key)
            if earlier is not None and len(earlier) == len(ins.outs):
                renamed.update(zip(ins.outs, earlier))
                continue
            seen[key] = ins.outs
        kept.append(ins)
    program.instructions = kept
    if renamed:
        program.outputs = [_renamed_output(o, renamed) for o in program.outputs]
        for w in program.writes:
            if w.slot is not None:
                w.slot = renamed.get(w.slot, w.slot)


def _renamed_output(output: Any, renamed: dict) -> Any:
    if output[0] in ("slot", "tensor"):
        return (output[0], renamed.get(output[1], output[1]), *output[2:])
    return output


def _renamed(value: Any, renamed: dict) -> Any:
    kind = type(value)
    if kind is Ref:
        return Ref(renamed[value.slot]) if value.slot in renamed else value
    if kind is tuple or kind is list:
        return kind(_renamed(v, renamed) for v in value)
    if kind is dict:
        return {k: _renamed(v, renamed) for k, v in value.items()}
    if kind is slice:
        return slice(_renamed(value.start, renamed), _renamed(value.stop, renamed), _renamed(value.step, renamed))
    return value


def needed_slots(program: Program) -> set[int]:
    """Slots the program's results and writes read."""
    needed = {o[1] for o in program.outputs if o[0] in ("slot", "tensor")}
    needed |= {w.slot for w in program.writes if w.slot is not None}
    return needed


def drop_unused(program: Program) -> None:
    live = needed_slots(program)
    kept = []
    for ins in reversed(program.instructions):
        if ins.writes or ins.kind in ("random", "check") or any(s in live for s in ins.outs):
            kept.append(ins)
            live.update(ins.refs())
            live.update(ins.writes)
    kept.reverse()
    program.instructions = kept


def last_uses(program: Program) -> dict[int, int]:
    """slot -> the index of the last instruction that reads or writes it (len(instructions) for results)."""
    last: dict[int, int] = {}
    for k, ins in enumerate(program.instructions):
        for s in ins.refs():
            last[s] = k
        for s in ins.writes:
            last[s] = k
    end = len(program.instructions)
    for s in needed_slots(program):
        last[s] = end
    return last


def reuse_buffers(program: Program, roots: dict[int, int]) -> None:
    """Give results the memory of dead arrays of the same shape and dtype, through ``out=``."""
    instructions = program.instructions
    last = last_uses(program)
    owners: dict[int, int] = {}  # slot -> the memory block (a slot id) it lives in, for the program's own arrays
    inputs = {slot for slot, _ in program.inputs}
    for ins in instructions:
        for s in ins.outs:
            root = roots.get(s, s)
            owners[s] = owners.get(root, root) if root != s else s
    users: dict[int, list[int]] = {}  # memory block -> the slots living in it
    for s, block in owners.items():
        users.setdefault(block, []).append(s)
    # a block is reusable once every slot in it is dead; it must be the program's own fresh array
    untouchable = (
        inputs | needed_slots(program) | {s for ins in instructions if ins.kind == "constant" for s in ins.outs}
    )
    free: dict[tuple, list[int]] = {}
    dead_at: dict[int, list[int]] = {}
    for block, slots in users.items():
        meta = program.shapes.get(block)
        if meta is None or not (meta[2] and meta[3] and meta[4]) or meta[0] == ():
            continue
        if any(s in untouchable or roots.get(s, s) in inputs for s in slots):
            continue
        dead_at.setdefault(max(last.get(s, -1) for s in slots), []).append(block)
    for k, ins in enumerate(instructions):
        target = _reusable(ins, program)
        if target is not None:
            shape, dtype = target
            pool = free.get((shape, dtype))
            if pool:
                block = pool.pop()
                ufunc, args = _as_ufunc(ins)
                instructions[k] = Instruction("ufunc", ufunc, args, {"out": (Ref(block),)}, ins.outs, (), None,
                                              "__call__", ins.origin)  # fmt: skip
                # (the result, a block of its own above, now lives in that memory and frees it when it dies)
        for block in dead_at.pop(k, ()):
            meta = program.shapes[block]
            free.setdefault((meta[0], meta[1]), []).append(block)


def _reusable(ins: Instruction, program: Program) -> tuple | None:
    """(shape, dtype) of the fresh array an instruction makes that could be written into a buffer instead."""
    if len(ins.outs) != 1 or ins.writes or ins.kwargs:
        return None
    if ins.kind == "ufunc" and ins.method == "__call__" and ins.fn.nout == 1:
        pass
    elif ins.kind == "operator" and ins.fn in _ARRAY_OPERATORS:
        pass
    else:
        return None
    meta = program.shapes.get(ins.outs[0])
    if meta is None or not (meta[2] and meta[3] and meta[4]):
        return None
    return meta[0], meta[1]


def _as_ufunc(ins: Instruction) -> tuple[Any, tuple]:
    if ins.kind == "ufunc":
        return ins.fn, ins.args
    return _ARRAY_OPERATORS[ins.fn], ins.args


def typed_scalars(program: Program) -> None:
    for ins in program.instructions:
        if ins.kind not in ("operator", "ufunc") or len(ins.outs) != 1 or len(ins.args) != 2:
            continue
        meta = program.shapes.get(ins.outs[0])
        if meta is None or not meta[2] or meta[1].kind not in "fc":
            continue
        first, second = ins.args
        arrays = [a for a in (first, second) if type(a) is Ref and program.shapes.get(a.slot, (0, None))[1] == meta[1]]
        if not arrays:
            continue
        scalar_type = meta[1].type
        ins.args = tuple(_typed(a, scalar_type) for a in ins.args)


def _typed(value: Any, scalar_type: Any) -> Any:
    if type(value) in (int, float) and type(value) is not bool:
        converted = scalar_type(value)
        if converted == value:
            return converted
    return value
