"""The recorded program: array operations over numbered slots, in the order the traced call ran them.

An instruction names what runs (a NumPy function or ufunc, an operator, a method, indexing), its arguments with
``Ref(slot)`` where a traced value goes and any other object as a constant, and the slots it defines. An
instruction that changes an array in place names that slot in ``writes``. The program does not know about
Python's code: a backend turns it into something that runs (``generate`` makes straight-line Python over NumPy;
a compiling backend could read the same list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Ref:
    """The value of a slot, as an argument of an instruction."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __repr__(self) -> str:
        return f"v{self.slot}"


@dataclass
class Instruction:
    kind: str  # operator, in-place operator, function, writing function, ufunc, method, writing method,
    #            attribute, getitem, setitem, random, constant
    fn: Any  # the callable, ufunc, method or attribute name, or the operator
    args: tuple
    kwargs: dict
    outs: tuple[int, ...]  # the slots it defines ((): none)
    writes: tuple[int, ...] = ()  # the slots whose memory it changes
    out_type: Any = None  # the type of a tuple of results (a namedtuple's class), else None
    method: str = "__call__"  # a ufunc's method
    origin: str = ""  # the chainrule operation that ran it, for reading the program

    def refs(self) -> list[int]:
        """The slots it reads."""
        found: list[int] = []
        _collect(self.args, found)
        _collect(self.kwargs, found)
        return found


def _collect(value: Any, found: list[int]) -> None:
    kind = type(value)
    if kind is Ref:
        found.append(value.slot)
    elif kind is tuple or kind is list:
        for v in value:
            _collect(v, found)
    elif kind is dict:
        for v in value.values():
            _collect(v, found)
    elif kind is slice:
        _collect((value.start, value.stop, value.step), found)


@dataclass
class Source:
    """Where an input slot is read from at every call: an argument, a tensor's ``data``, an entry of a mapping
    (an optimizer's learning rate), or an array held by reference."""

    kind: str  # "argument" (position among the flattened arguments), "tensor", "item", "array"
    holder: Any = None  # the tensor, mapping or array
    key: Any = None  # the argument position or the mapping's key


@dataclass
class Write:
    """What the call leaves behind outside its results: ``tensor.data``, ``tensor.grad``, ``mapping[key]``."""

    kind: str  # "data", "grad", "item"
    holder: Any  # Source of the tensor (argument or captured) or the mapping
    key: Any = None
    slot: int | None = None  # the value written (None: grad set to None)


@dataclass
class Program:
    instructions: list[Instruction]
    inputs: list[tuple[int, Source]]
    outputs: list[Any]  # per result leaf: ("slot", n), ("object", obj), ("tensor", n)
    writes: list[Write]
    changed: list[Source]  # tensors changed in place: their version moves on at every call, as eager's does
    guards: list[tuple] = field(default_factory=list)  # ("item" or "attribute", holder, key, value) baked in
    shapes: dict[int, Any] = field(default_factory=dict)  # slot -> (shape, dtype) of array slots, for guards
    values: dict[int, Any] = field(default_factory=dict)  # slot -> value at trace time (for constant folding)
