"""Tracing: one call of a function run on real values, every array operation recorded as it runs.

While a trace is open in a thread, a tensor's ``data`` is read through a hook: a tensor that existed before the
call (a parameter, an optimizer's moment, an argument) hands out a tracer for its array the first time it is
read, and that tracer is an input of the program, read from the tensor at every replay. Tensors made during the
call hold tracers from the start. When the call returns, every tensor gets its real array back, and what the
call left behind (new ``data`` and ``grad`` of tensors that outlive it, entries written into an optimizer's
state) becomes the program's writes.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from typing import Any

import numpy as np

from ..backend import _module_of_type
from ..engine.tracing import _local
from ..tensor import FREED, Tensor
from .program import Instruction, Program, Ref, Source, Write
from .tracer import BINARY, IN_PLACE, TracedNumpy, Tracer, has_tracer, unwrap

_tracing_lock = threading.RLock()  # one trace at a time: the data hook below is shared by all threads
_data_slot = Tensor.__dict__["data"]  # the slot descriptor itself, to read and write past the hook
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY = os.path.dirname(os.path.abspath(np.__file__))
_NOT_IN_PLACE = {IN_PLACE[name]: op for name, op in BINARY.items() if name in IN_PLACE}


def current() -> Trace | None:
    """The trace open in this thread, if any."""
    return _local.trace


traced_numpy = TracedNumpy(current)
_module_of_type[Tracer] = traced_numpy  # the array module of a traced call's arrays


class Trace:
    def __init__(self) -> None:
        self.instructions: list[Instruction] = []
        self.inputs: list[tuple[int, Source]] = []
        self.spoiled: str | None = None  # where the call left the array world (file:line and how)
        self.single_use: str | None = None  # why this trace may not be replayed (state made on the first call)
        self.count = 0
        self.captured: dict[Tensor, tuple[Tracer, Any]] = {}  # tensor -> (its input tracer, its array)
        self.arguments: dict[Tensor, int] = {}  # argument tensors -> position among the flattened arguments
        self.born: dict[int, Any] = {}  # id -> weak reference, for tensors whose data was set during the call
        self.items: dict[tuple[int, Any], tuple[Any, Any, Tracer | None]] = {}  # (id, key) -> (mapping, key, input)
        self.guards: list[tuple[Any, Any, Any]] = []
        self.grads: dict[Tensor, Any] = {}  # tensors whose grad was read or set -> their grad before the call
        self.grad_owners: dict[Tensor, Tensor] = {}  # a grad that existed before the call -> its tensor
        self.changed: dict[Tensor, None] = {}
        self.adopted: dict[int, Tracer] = {}  # id of a plain array written into -> its tracer (arrays held alive)
        self.held: list[Any] = []
        self.meta: dict[int, tuple] = {}  # slot -> (shape, dtype, is an ndarray, C-contiguous, fresh memory)
        self.constant: dict[int, Any] = {}  # slot -> value, for slots computed from no input (constant folding)
        self.roots: dict[int, int] = {}  # slot -> the slot that owns its memory (a view's base)

    # -- slots -----------------------------------------------------------------------------------------------
    def new(self, value: Any) -> Tracer:
        slot = self.count
        self.count += 1
        tracer = Tracer(value, slot, self)
        if isinstance(value, np.ndarray):
            self.meta[slot] = (value.shape, value.dtype, True, value.flags.c_contiguous, value.base is None)
        else:
            self.meta[slot] = (np.shape(value), getattr(value, "dtype", None), False, False, False)
        return tracer

    def input(self, value: Any, source: Source) -> Tracer:
        tracer = self.new(value)
        self.inputs.append((tracer.slot, source))
        self.roots[tracer.slot] = tracer.slot
        return tracer

    def elsewhere(self, result: Any) -> Any:
        """A value of this trace used outside it (kept in Python state past the call): computed on the real
        values; if another trace is open, it cannot know where that value comes from, so it leaves."""
        other = current()
        if other is not None and other is not self:
            other.leave("a value computed in an earlier traced call was kept in Python state and used again")
        return result

    def leave(self, how: str) -> None:
        if self.spoiled is None:
            self.spoiled = f"{_user_line()}: {how}"

    # -- recording -------------------------------------------------------------------------------------------
    def apply(self, kind: str, fn: Any, args: tuple, kwargs: dict) -> Any:
        """Run one operation on the real values and record it; tracers come back for the arrays it returns."""
        if self.spoiled is not None or current() is not self:
            return self.elsewhere(_run(kind, fn, unwrap(args), unwrap(kwargs)))
        writes: tuple[int, ...] = ()
        if kind in ("writing function", "writing method", "setitem", "in-place operator"):
            target = args[0] if type(args[0]) is Tracer else self.adopt(args[0])
            args = (target, *args[1:])
            writes = (target.slot,)
        if "out" in kwargs and kwargs["out"] is not None:
            out = kwargs["out"]
            outs = tuple(self.adopt(o) if type(o) is not Tracer else o for o in (out if type(out) is tuple else (out,)))
            kwargs = {**kwargs, "out": outs if type(out) is tuple else outs[0]}
            writes += tuple(o.slot for o in outs)
        raw_args, raw_kwargs = unwrap(args), unwrap(kwargs)
        result = _run(kind, fn, raw_args, raw_kwargs)
        if kind == "in-place operator" and result is not raw_args[0]:
            kind, fn, writes = "operator", _NOT_IN_PLACE[fn], ()  # a NumPy scalar: x += y made a new value
        return self.record(kind, fn, args, kwargs, result, writes, raw_args)

    def ufunc(self, ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
        if self.spoiled is not None or current() is not self:
            return self.elsewhere(getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs)))
        writes: tuple[int, ...] = ()
        if method == "at":
            target = inputs[0] if type(inputs[0]) is Tracer else self.adopt(inputs[0])
            inputs = (target, *inputs[1:])
            writes = (target.slot,)
        out = kwargs.get("out")
        if out is not None:
            outs = tuple(o if type(o) is Tracer else self.adopt(o) for o in out)
            kwargs = {**kwargs, "out": outs}
            writes += tuple(o.slot for o in outs)
        raw_inputs = unwrap(inputs)
        result = getattr(ufunc, method)(*raw_inputs, **unwrap(kwargs))
        return self.record("ufunc", ufunc, inputs, kwargs, result, writes, raw_inputs, method)

    def record(
        self, kind: str, fn: Any, args: tuple, kwargs: dict, result: Any, writes: tuple, raw_args: tuple,
        method: str = "__call__",
    ) -> Any:  # fmt: skip
        if writes:
            written = {self.roots.get(s, s) for s in writes}
            for slot in list(self.constant):
                if self.roots.get(slot, slot) in written:
                    del self.constant[slot]  # a value changed in place is computed at every call
        template_args, template_kwargs = self.template(args), self.template(kwargs)
        reads = []
        _slots_of(args, reads)
        _slots_of(kwargs, reads)
        # what comes back: the written array itself (out=, in-place), new tracers for new arrays
        outs: tuple[int, ...]
        out_type = None
        if writes and (result is None or _is_written(result, args, kwargs)):
            value = result
            outs = ()
            wrapped = _written_tracer(result, args, kwargs) if result is not None else None
        elif type(result) is tuple or (isinstance(result, tuple) and hasattr(result, "_fields")):
            out_type = type(result) if type(result) is not tuple else None
            parts = [self.new(r) for r in result]
            outs = tuple(p.slot for p in parts)
            wrapped = tuple(parts) if out_type is None else out_type(*parts)
            value = result
        elif isinstance(result, (np.ndarray, np.generic)) or (type(result) in (float, int, complex) and reads):
            part = self.new(result)
            outs = (part.slot,)
            wrapped = part
            value = result
        else:
            if reads and result is not None:
                self.leave(f"{_name(fn)} returned a {type(result).__name__}")
            return result
        for slot in outs:
            self.roots[slot] = slot
            meta_value = self.meta[slot]
            if meta_value[2] and not meta_value[4]:  # a view: it shares the memory of one of the arguments
                for arg in _tracers_in(args):
                    if isinstance(arg.value, np.ndarray) and np.may_share_memory(
                        value if len(outs) == 1 else value[outs.index(slot)], arg.value
                    ):
                        self.roots[slot] = self.roots.get(arg.slot, arg.slot)
                        break
        instruction = Instruction(kind, fn, template_args, template_kwargs, outs, writes, out_type, method, _origin())
        self.instructions.append(instruction)
        if outs and not writes and (fn in SHAPED_LIKE or all(s in self.constant for s in reads)):
            for slot, v in zip(outs, value if out_type is not None or len(outs) > 1 else (value,)):
                self.constant[slot] = v
        return wrapped

    def template(self, value: Any) -> Any:
        """``value`` with a ``Ref`` for every tracer, and for every plain array the call writes into."""
        kind = type(value)
        if kind is Tracer:
            return Ref(value.slot)
        if kind is tuple or kind is list:
            return kind(self.template(v) for v in value)
        if kind is dict:
            return {k: self.template(v) for k, v in value.items()}
        if kind is slice and has_tracer((value.start, value.stop, value.step)):
            return slice(self.template(value.start), self.template(value.stop), self.template(value.step))
        if kind is np.ndarray:
            adopted = self.adopted.get(id(value))
            if adopted is not None:
                return Ref(adopted.slot)
        return value

    def is_born(self, t: Tensor) -> bool:
        ref = self.born.get(id(t))
        return ref is not None and ref() is t

    def born_alive(self) -> list[Tensor]:
        return [t for t in (ref() for ref in self.born.values()) if t is not None]

    def real(self, value: Any) -> Any:
        return unwrap(value)

    def check(self, failed: Any, error: Any, values: tuple) -> None:
        """A check of values (labels in range): made now, and recorded so that every replay makes it."""
        if unwrap(failed):
            raise error(*unwrap(values))
        if self.spoiled is None and type(failed) is Tracer:
            arguments = (Ref(failed.slot), *self.template(values))
            self.instructions.append(Instruction("check", error, arguments, {}, (), origin=_origin()))

    def adopt(self, array: Any) -> Tracer:
        """A plain array that the call writes into (a scratch buffer, a state array): an input held by
        reference, so that the replay writes into the same array."""
        if type(array) is Tracer:
            return array
        known = self.adopted.get(id(array))
        if known is not None:
            return known
        tracer = self.input(array, Source("array", array))
        self.adopted[id(array)] = tracer
        self.held.append(array)
        return tracer

    def draw(self, generator: Any, given: Any, method: str, args: tuple) -> Any:
        """A random draw from ``generator`` (``given``, or chainrule's default when None): recorded with where
        the generator comes from, so that every replay draws afresh from the generator in use then."""
        result = getattr(generator, method)(*args)
        if self.spoiled is not None:
            return result
        if given is None:
            from ..nn.init import default_generator as resolve
        else:
            resolve = _Fixed(given)
        tracer = self.new(result)
        self.roots[tracer.slot] = tracer.slot
        self.instructions.append(Instruction("random", resolve, (method, *args), {}, (tracer.slot,), origin=_origin()))
        return tracer

    # -- what lives outside the call -------------------------------------------------------------------------
    def capture(self, t: Tensor, value: Any) -> Any:
        """The tracer for the array of a tensor that existed before the call (read for the first time)."""
        if self.is_born(t) or type(value) is Tracer or self.spoiled is not None:
            return value
        owner = self.grad_owners.get(t)
        source = Source("grad", holder=self.source_of(owner)) if owner is not None else self.source_of(t)
        tracer = self.input(value, source)
        self.captured[t] = (tracer, value)
        _data_slot.__set__(t, tracer)
        return tracer

    def source_of(self, t: Tensor) -> Source:
        position = self.arguments.get(t)
        return Source("argument", key=position) if position is not None else Source("tensor", holder=t)

    def read_item(self, mapping: Any, key: Any) -> Any:
        """``mapping[key]`` as an input read at every call (an optimizer's learning rate and moments)."""
        entry = self.items.get((id(mapping), key))
        value = mapping[key]
        if type(value) is Tracer:
            return value
        tracer = self.input(value, Source("item", mapping, key))
        mapping[key] = tracer
        if entry is None:
            self.items[(id(mapping), key)] = (mapping, key, tracer)
        return tracer

    def write_item(self, mapping: Any, key: Any, value: Any) -> None:
        self.items.setdefault((id(mapping), key), (mapping, key, None))
        mapping[key] = value

    def guard_item(self, mapping: Any, key: Any) -> Any:
        """``mapping[key]``, a Python value the trace bakes in: every replay checks it is still the same."""
        value = mapping[key]
        self.guards.append(("item", mapping, key, value))
        return value

    def guard_attribute(self, holder: Any, name: str) -> Any:
        """``holder.name`` (a module's ``training`` flag), baked in and checked at every replay."""
        value = getattr(holder, name)
        self.guards.append(("attribute", holder, name, value))
        return value

    def note_grad(self, t: Tensor, reading: bool = True) -> None:
        """``t.grad`` is read or written: a grad read before any write is read through ``t`` at every replay (a
        new tensor by then), and whether it is None is checked."""
        if t not in self.grads and not self.is_born(t):
            before = self.grads[t] = t._grad
            if not reading:
                return  # written first: what it held before does not matter
            if before is not None and not self.is_born(before):
                self.grad_owners[before] = t
            self.guards.append(("grad", self.source_of(t), None, before is None))

    def note_changed(self, t: Tensor) -> None:
        if not self.is_born(t):
            self.changed[t] = None

    # -- the end of the call -----------------------------------------------------------------------------------
    def finish(self, result_leaves: list) -> Program | None:
        """Give every tensor its real array back and turn what the call left behind into the program's writes
        and outputs (None when the call cannot be replayed; ``spoiled`` or ``single_use`` say why)."""
        writes: list[Write] = []
        outputs: list[Any] = []
        kept_tensors = set()
        for leaf in result_leaves:
            if type(leaf) is Tensor:
                data = _data_slot.__get__(leaf)
                if leaf._op is not None and leaf._in1 is not FREED and leaf._inputs is not None and leaf._rg:
                    self.single_use = self.single_use or "it returns a tensor with a graph to differentiate"
                if self.is_born(leaf) and type(data) is Tracer:
                    outputs.append(("tensor", data.slot, leaf._rg and leaf._op is None))
                    kept_tensors.add(leaf)
                elif self.is_born(leaf):  # computed from no input: the same values at every call, new tensors
                    outputs.append(("tensor", self.constant_slot(data), leaf._rg and leaf._op is None))
                    kept_tensors.add(leaf)
                else:
                    outputs.append(("object", leaf))
            elif type(leaf) is Tracer:
                outputs.append(("slot", leaf.slot))
            else:
                outputs.append(("object", leaf))
        for t, before in self.grads.items():
            after = t._grad
            if after is before:
                continue
            source = self.source_of(t)
            if after is None:
                writes.append(Write("grad", source))
                continue
            data = _data_slot.__get__(after)
            if after._rg:
                self.single_use = self.single_use or "it leaves a gradient with a graph (create_graph=True)"
            if type(data) is Tracer:
                writes.append(Write("grad", source, slot=data.slot))
                kept_tensors.add(after)
            else:
                writes.append(Write("grad", source, slot=self.constant_slot(data)))
        for t, (tracer, _) in self.captured.items():
            final = _data_slot.__get__(t)
            if final is not tracer:
                slot = final.slot if type(final) is Tracer else self.constant_slot(final)
                writes.append(Write("data", self.source_of(t), slot=slot))
        for mapping, key, tracer in self.items.values():
            final = mapping[key]
            if final is not tracer:
                slot = final.slot if type(final) is Tracer else self.constant_slot(final)
                writes.append(Write("item", mapping, key, slot))
        self.restore()
        gc.collect()
        if any(t not in kept_tensors for t in self.born_alive()):
            self.single_use = self.single_use or "it keeps tensors it computed in Python objects"
        if self.spoiled is not None or self.single_use is not None:
            return None
        return Program(
            self.instructions,
            self.inputs,
            outputs,
            writes,
            [self.source_of(t) for t in self.changed],
            self.guards,
            self.meta,
            self.constant,
        )

    def constant_slot(self, value: Any) -> int:
        tracer = self.new(value)
        self.instructions.append(Instruction("constant", value, (), {}, (tracer.slot,)))
        self.roots[tracer.slot] = tracer.slot
        return tracer.slot

    def restore(self) -> None:
        """Every tensor, mapping entry and stray tracer the call touched gets its real value back."""
        for t in list(self.captured):
            _data_slot.__set__(t, unwrap(_data_slot.__get__(t)))
        for t in self.born_alive():
            data = _data_slot.__get__(t)
            if type(data) is Tracer:
                _data_slot.__set__(t, data.value)
        for mapping, key, _ in self.items.values():
            if key in mapping:
                mapping[key] = unwrap(mapping[key])
        for t in self.grads:
            g = t._grad
            if g is not None and type(_data_slot.__get__(g)) is Tracer:
                _data_slot.__set__(g, _data_slot.__get__(g).value)


class _Fixed:
    """A generator given by the user: the same object at every replay."""

    __slots__ = ("generator",)

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def __call__(self) -> Any:
        return self.generator


def _run(kind: str, fn: Any, args: Any, kwargs: dict) -> Any:
    if kind in ("function", "writing function", "operator", "in-place operator"):
        return fn(*args, **kwargs)
    if kind in ("method", "writing method"):
        return getattr(args[0], fn)(*args[1:], **kwargs)
    if kind == "attribute":
        return getattr(args[0], fn)
    if kind == "getitem":
        return args[0][args[1]]
    if kind == "setitem":
        args[0][args[1]] = args[2]
        return None
    raise AssertionError(kind)


def _is_written(result: Any, args: tuple, kwargs: dict) -> bool:
    return any(result is t.value for t in _tracers_in((args, kwargs)))


def _written_tracer(result: Any, args: tuple, kwargs: dict) -> Any:
    for t in _tracers_in((args, kwargs)):
        if result is t.value:
            return t
    return result


def _tracers_in(value: Any) -> list[Tracer]:
    found: list[Tracer] = []

    def walk(v: Any) -> None:
        kind = type(v)
        if kind is Tracer:
            found.append(v)
        elif kind is tuple or kind is list:
            for x in v:
                walk(x)
        elif kind is dict:
            for x in v.values():
                walk(x)

    walk(value)
    return found


def _slots_of(value: Any, found: list) -> None:
    for t in _tracers_in(value):
        found.append(t.slot)


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", str(fn))


SHAPED_LIKE = frozenset((np.zeros_like, np.ones_like, np.empty_like, np.full_like))  # read only a shape


def _origin() -> str:
    """The chainrule operation running: a primitive's forward, its backward, an optimizer's step."""
    frame = sys._getframe(3)
    for _ in range(12):
        if frame is None:
            return ""
        code = frame.f_code
        if code in _RECORDING:
            prim = frame.f_locals.get("prim") or frame.f_locals.get("self")
            return getattr(prim, "name", "")
        if code in _WALKING:
            node = frame.f_locals.get("node")
            return f"{node._op.name} backward" if node is not None and node._op is not None else "backward"
        if code.co_name == "_accumulate":
            return "accumulate grad"
        if code.co_name == "step" and "self" in frame.f_locals:
            return f"{type(frame.f_locals['self']).__name__}.step"
        frame = frame.f_back
    return ""


def _codes() -> tuple[frozenset, frozenset]:
    import importlib

    from ..primitive import Primitive

    backward = importlib.import_module("..engine.backward", __package__)
    recording = importlib.import_module("..engine.recording", __package__)

    recorder_code = recording.recorder.__code__.co_consts
    inner = [c for c in recorder_code if hasattr(c, "co_name") and c.co_name == "record"]
    recording_codes = frozenset([recording.record.__code__, Primitive.__call__.__code__, *inner])
    walking = frozenset([backward._propagate_plain.__code__, backward._propagate.__code__, backward._handover.__code__])
    return recording_codes, walking


_RECORDING, _WALKING = _codes()


def _user_line() -> str:
    """file:line of the innermost frame outside chainrule and NumPy: the line of the user's code responsible."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith((_PACKAGE, _NUMPY)) and "<frozen" not in filename:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


# -- the hooks: open while a trace runs ------------------------------------------------------------------------


def _get_data(t: Tensor) -> Any:
    value = _data_slot.__get__(t)
    trace = _local.trace
    if trace is None:
        return value.value if type(value) is Tracer else value
    if type(value) is Tracer:
        return value
    return trace.capture(t, value)


def _set_data(t: Tensor, value: Any) -> None:
    trace = _local.trace
    if trace is not None:
        if t not in trace.captured and t not in trace.arguments:
            trace.born[id(t)] = weakref.ref(t)
    elif type(value) is Tracer:
        value = value.value
    _data_slot.__set__(t, value)


_hooked_data = property(_get_data, _set_data, doc=_data_slot.__doc__)


class tracing:
    """``with tracing(trace):`` the current thread records into ``trace``; tensors' data is read through the hook."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __enter__(self) -> Trace:
        _tracing_lock.acquire()
        _local.trace = self.trace
        Tensor.data = _hooked_data
        return self.trace

    def __exit__(self, *exc: object) -> None:
        try:
            Tensor.data = _data_slot
        finally:
            _local.trace = None
            _tracing_lock.release()
