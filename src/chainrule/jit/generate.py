"""The NumPy backend: a recorded program as one straight-line Python function over local variables.

Every instruction becomes one line (``v7 = np_multiply(v3, v5)``, ``v9 = v7.sum(axis=1)``, ``v2 -= v8``), with
the chainrule operation it came from as a comment; inputs are read at the top (``v0 = A[0].data``), the guards
check what the trace assumed of tensors it reads by reference, and the writes and results come last. Large
arrays are deleted after their last use, so memory is freed as early as the plain call frees it.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ..engine import mark_changed
from ..tensor import Tensor
from .optimise import last_uses
from .program import Instruction, Program, Ref

_SYMBOLS = {
    operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.floordiv: "//",
    operator.mod: "%", operator.pow: "**", operator.matmul: "@", operator.and_: "&", operator.or_: "|",
    operator.xor: "^", operator.lshift: "<<", operator.rshift: ">>", operator.lt: "<", operator.le: "<=",
    operator.gt: ">", operator.ge: ">=", operator.eq: "==", operator.ne: "!=",
}  # fmt: skip
_IN_PLACE_SYMBOLS = {
    operator.iadd: "+=", operator.isub: "-=", operator.imul: "*=", operator.itruediv: "/=",
    operator.ifloordiv: "//=", operator.imod: "%=", operator.ipow: "**=", operator.imatmul: "@=",
    operator.iand: "&=", operator.ior: "|=", operator.ixor: "^=",
}  # fmt: skip
_UNARY = {operator.neg: "-{}", operator.pos: "+{}", operator.abs: "abs({})", operator.invert: "~{}"}
DELETE_FROM_BYTES = 4096
_OUT_BY_NAME = frozenset((np.maximum, np.minimum, np.fmax, np.fmin))  # (NumPy deprecates their positional out)


class Stale(Exception):
    """A guard failed: something the trace assumed (a tensor's shape, a hyperparameter) changed; trace again."""


def _fresh_tensor(data: Any) -> Tensor:
    return Tensor._from_op(data, None)


def _leaf(data: Any) -> Tensor:
    t = Tensor._from_op(data, None)
    t._rg = True
    return t


class _Namespace:
    """Names for the objects the code refers to: readable where the object has a name, numbered otherwise."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {
            "Stale": Stale, "_tensor": _fresh_tensor, "_leaf": _leaf, "_mark": mark_changed,
        }  # fmt: skip
        self.by_id: dict[int, str] = {}

    def name(self, obj: Any, hint: str = "c") -> str:
        known = self.by_id.get(id(obj))
        if known is not None:
            return known
        base = hint if hint.isidentifier() else "c"
        name = base
        n = 1
        while name in self.names:
            name = f"{base}_{n}"
            n += 1
        self.names[name] = obj
        self.by_id[id(obj)] = name
        return name


def _callable_name(fn: Any) -> str:
    name = getattr(fn, "__name__", "f")
    module = getattr(fn, "__module__", None) or ""
    if isinstance(fn, np.ufunc) or module.startswith("numpy"):
        prefix = "np_linalg_" if "linalg" in module else "np_fft_" if "fft" in module else "np_"
        return prefix + name
    return name


class _Writer:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.ns = _Namespace()
        self.constants = {s for ins in program.instructions if ins.kind == "constant" for s in ins.outs}

    def value(self, v: Any) -> str:
        kind = type(v)
        if kind is Ref:
            return f"v{v.slot}"
        if kind is bool or v is None or kind is int or kind is str:
            return repr(v)
        if kind is float and math.isfinite(v):
            return repr(v)
        if v is Ellipsis:
            return "..."
        if kind is tuple:
            inner = ", ".join(self.value(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if kind is list:
            return "[" + ", ".join(self.value(x) for x in v) + "]"
        if kind is slice:
            return f"slice({self.value(v.start)}, {self.value(v.stop)}, {self.value(v.step)})"
        if kind is dict:
            return "{" + ", ".join(f"{self.value(k)}: {self.value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, np.dtype):
            return self.ns.name(v, str(v))
        if isinstance(v, type):
            return self.ns.name(v, v.__name__)
        return self.ns.name(v, "c")

    def index(self, v: Any) -> str:
        parts = v if type(v) is tuple else (v,)
        rendered = []
        for p in parts:
            if type(p) is slice:
                start = "" if p.start is None else self.value(p.start)
                stop = "" if p.stop is None else self.value(p.stop)
                rendered.append(f"{start}:{stop}" + ("" if p.step is None else f":{self.value(p.step)}"))
            else:
                rendered.append(self.value(p))
        if type(v) is tuple and len(v) != 1:
            return ", ".join(rendered) if rendered else "()"
        return rendered[0] + ("," if type(v) is tuple else "")

    def call_args(self, args: tuple, kwargs: dict) -> str:
        parts = [self.value(a) for a in args]
        parts += [f"{k}={self.value(x)}" for k, x in kwargs.items()]
        return ", ".join(parts)

    def line(self, ins: Instruction) -> str:
        kind, fn, args, kwargs = ins.kind, ins.fn, ins.args, ins.kwargs
        if kind == "constant":
            value = fn
            copy = isinstance(value, np.ndarray) and ins.outs[0] in self.returned
            expression = self.value(value) + (".copy()" if copy else "")
            if ins.out_type is tuple:
                expression = self.value(value)
        elif kind == "operator":
            if fn in _SYMBOLS:
                expression = f"{self.value(args[0])} {_SYMBOLS[fn]} {self.value(args[1])}"
            else:
                expression = _UNARY[fn].format(self.value(args[0]))
        elif kind == "in-place operator":
            return f"{self.value(args[0])} {_IN_PLACE_SYMBOLS[fn]} {self.value(args[1])}"
        elif kind == "ufunc":
            name = self.ns.name(fn, _callable_name(fn))
            method = "" if ins.method == "__call__" else f".{ins.method}"
            if ins.method == "__call__" and list(kwargs) == ["out"] and fn not in _OUT_BY_NAME:
                args, kwargs = (*args, *kwargs["out"]), {}  # (outputs given by position: quicker to parse)
            expression = f"{name}{method}({self.call_args(args, kwargs)})"
        elif kind in ("function", "writing function"):
            expression = f"{self.ns.name(fn, _callable_name(fn))}({self.call_args(args, kwargs)})"
        elif kind in ("method", "writing method"):
            expression = f"{self.value(args[0])}.{fn}({self.call_args(args[1:], kwargs)})"
        elif kind == "attribute":
            expression = f"{self.value(args[0])}.{fn}"
        elif kind == "getitem":
            expression = f"{self.value(args[0])}[{self.index(args[1])}]"
        elif kind == "setitem":
            return f"{self.value(args[0])}[{self.index(args[1])}] = {self.value(args[2])}"
        elif kind == "check":
            return f"if {self.value(args[0])}: raise {self.ns.name(fn, 'error')}({self.call_args(args[1:], kwargs)})"
        elif kind == "random":
            generator = self.ns.name(fn, "generator")
            expression = f"{generator}().{args[0]}({self.call_args(args[1:], kwargs)})"
        else:
            raise AssertionError(kind)
        if not ins.outs:
            return expression
        targets = ", ".join(f"v{s}" for s in ins.outs)
        if len(ins.outs) == 1 and (ins.out_type is not None):
            targets += ","
        return f"{targets} = {expression}"

    def source(self, slot: int, source: Any) -> str:
        if source.kind == "argument":
            return f"v{slot} = A[{source.key}].data if type(A[{source.key}]) is Tensor else A[{source.key}]"
        if source.kind == "tensor":
            return f"v{slot} = {self.ns.name(source.holder, 'T')}.data"
        if source.kind == "grad":
            return f"v{slot} = {self.holder(source.holder)}._grad.data"
        if source.kind == "item":
            return f"v{slot} = {self.ns.name(source.holder, 'M')}[{self.value(source.key)}]"
        return f"v{slot} = {self.ns.name(source.holder, 'B')}"

    def holder(self, source: Any) -> str:
        if source.kind == "argument":
            return f"A[{source.key}]"
        return self.ns.name(source.holder, "T")

    def write(self) -> tuple[str, dict]:
        program = self.program
        self.ns.names["Tensor"] = Tensor
        self.returned = {o[1] for o in program.outputs if o[0] in ("slot", "tensor")}
        self.returned |= {w.slot for w in program.writes if w.slot is not None}
        lines = ["def replay(A):"]
        for kind, holder, key, value in program.guards:
            if kind == "grad":  # whether the grad is None, as it was at the trace
                test = "is not None" if value else "is None"
                lines.append(f"    if {self.holder(holder)}._grad {test}: raise Stale")
                continue
            read = f"[{self.value(key)}]" if kind == "item" else f".{key}"
            lines.append(f"    if {self.ns.name(holder, 'M')}{read} != {self.value(value)}: raise Stale")
        for slot, source in program.inputs:
            lines.append("    " + self.source(slot, source))
        for slot, source in program.inputs:
            meta = program.shapes.get(slot)
            if source.kind == "tensor" and meta is not None:
                tensor = self.ns.name(source.holder, "T")
                dtype = self.value(meta[1]) if meta[1] is not None else "None"
                lines.append(
                    f"    if {tensor}._rg is not {source.holder._rg!r} or v{slot}.shape != {self.value(meta[0])} "
                    f"or v{slot}.dtype != {dtype}: raise Stale"
                )
        last = last_uses(program)
        dying: dict[int, list[int]] = {}
        for slot, k in last.items():
            meta = program.shapes.get(slot)
            if meta is not None and meta[2] and math.prod(meta[0]) * meta[1].itemsize >= DELETE_FROM_BYTES:
                dying.setdefault(k, []).append(slot)
        defined = {slot for slot, _ in program.inputs}
        for k, ins in enumerate(program.instructions):
            text = self.line(ins)
            lines.append(f"    {text}" + (f"  # {ins.origin}" if ins.origin else ""))
            defined.update(ins.outs)
            gone = [s for s in dying.get(k, ()) if s in defined]
            if gone:
                lines.append("    del " + ", ".join(f"v{s}" for s in gone))
        for w in program.writes:
            if w.kind == "data":
                lines.append(f"    {self.holder(w.holder)}.data = v{w.slot}")
            elif w.kind == "grad":
                value = "None" if w.slot is None else f"_tensor(v{w.slot})"
                lines.append(f"    {self.holder(w.holder)}._grad = {value}")
            else:
                lines.append(f"    {self.ns.name(w.holder, 'M')}[{self.value(w.key)}] = v{w.slot}")
        for source in program.changed:
            lines.append(f"    _mark({self.holder(source)})")
        results = []
        for output in program.outputs:
            if output[0] == "slot":
                results.append(f"v{output[1]}")
            elif output[0] == "tensor":
                results.append(f"{'_leaf' if output[2] else '_tensor'}(v{output[1]})")
            else:
                results.append(self.ns.name(output[1], "result"))
        lines.append("    return [" + ", ".join(results) + "]")
        return "\n".join(lines) + "\n", self.ns.names


def generate(program: Program) -> tuple[Any, str]:
    """The program as a Python function ``replay(A)`` of the flattened arguments, and its text."""
    text, namespace = _Writer(program).write()
    code = compile(text, "<cr.jit program>", "exec")
    scope = dict(namespace)
    exec(code, scope)  # noqa: S102  (our own generated code, from the recorded instructions)
    return scope["replay"], text
