"""``cr.jit(f)``: the first call for a signature traces ``f``, later calls with that signature replay it.

The signature of a call is the structure of its arguments (tuples, lists, dicts), the shape, dtype and
``requires_grad`` of each tensor and array in it, the value of each Python number, string or None (static, as
JAX's ``static_argnums``), the identity of any other object (a model, an optimizer), and the modes that change
what an operation records (grad mode, anomaly detection). A signature whose trace left the array world (Python
decided something from a value) runs eagerly from then on, after one warning naming the line.
"""

from __future__ import annotations

import functools
import threading
import warnings
import weakref
from typing import Any

import numpy as np

from .. import engine
from ..tensor import Tensor
from ..vectorize.batched import Batched
from . import optimise
from .generate import Stale, generate
from .program import Program, Source
from .trace import Trace, current, tracing

RETRACE_WARNING = 8  # traces of one function before it warns that its signature keeps changing
_EAGER = "eager"


class JitWarning(UserWarning):
    """cr.jit could not replay a function (it runs eagerly), or keeps tracing it again."""


class Compiled:
    """One signature's replay: the generated function, its text and the objects the signature names."""

    __slots__ = ("replay", "text", "program", "objects", "structure", "trace_seconds")

    def __init__(self, replay: Any, text: str, program: Program, objects: list, structure: Any, seconds: float):
        self.replay, self.text, self.program, self.objects = replay, text, program, _held(objects)
        self.structure, self.trace_seconds = structure, seconds


class JittedFunction:
    """What ``cr.jit(f)`` returns: call it as ``f``; ``code()`` shows the last program it traced."""

    def __init__(self, fn: Any, optimize: bool = True) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.optimize = optimize
        self._cache: dict[Any, Any] = {}
        self._lock = threading.RLock()
        self._traces = 0
        self._warned_retrace = False
        self._last: Compiled | None = None
        self._first_use: set = set()  # signatures whose first trace made state: traced again on the next call

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self if instance is None else functools.partial(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if current() is not None:  # inside another trace: that trace records this call's operations
            return self.fn(*args, **kwargs)
        leaves: list = []
        objects: list = []
        key = _signature((args, kwargs), leaves, objects)
        if key is None:
            return self.fn(*args, **kwargs)
        key = (key, engine._mode.enabled, engine._anomaly.on, bool(engine._forward_open[0]))
        entry = self._cache.get(key)
        if entry is _EAGER:
            return self.fn(*args, **kwargs)
        if entry is not None and _same_objects(entry.objects, objects):
            try:
                results = entry.replay(leaves)
            except Stale:
                pass
            except (ArithmeticError, LookupError, TypeError, ValueError, np.linalg.LinAlgError):
                # a value the program cannot take (an index out of range): the plain call raises its own error,
                # which names the operation and the shapes (the replay stopped where the plain call stops)
                return self.fn(*args, **kwargs)
            else:
                return _unflatten(entry.structure, iter(results))
        return self._trace(key, args, kwargs, leaves, objects)

    def _trace(self, key: Any, args: tuple, kwargs: dict, leaves: list, objects: list) -> Any:
        import time

        start = time.perf_counter()
        trace = Trace()
        traced: dict[int, Any] = {}
        for position, leaf in enumerate(leaves):
            if type(leaf) is Tensor:
                trace.arguments[leaf] = position
            else:  # an array argument: the function computes with a tracer in its place
                traced[id(leaf)] = trace.input(leaf, Source("argument", key=position))
        if traced:
            args, kwargs = _replaced((args, kwargs), traced)
        with tracing(trace):
            result = self.fn(*args, **kwargs)
            result_leaves: list = []
            structure = _flatten_result(result, result_leaves)
        program = trace.finish(result_leaves)
        with self._lock:
            self._traces += 1
            if self._traces > RETRACE_WARNING and not self._warned_retrace:
                self._warned_retrace = True
                warnings.warn(
                    f"cr.jit: {_name(self.fn)} has been traced {self._traces} times: its signature keeps changing "
                    "(new shapes, new Python numbers, new objects as arguments). Pass values that change from call "
                    "to call as arrays or tensors, not as Python numbers.",
                    JitWarning,
                    stacklevel=3,
                )
            if trace.spoiled is not None:
                self._cache[key] = _EAGER
                warnings.warn(
                    f"cr.jit: {_name(self.fn)} runs eagerly for this signature: {trace.spoiled}. Its result decides "
                    "Python code or leaves the arrays, so a recorded program could not replay it faithfully.",
                    JitWarning,
                    stacklevel=3,
                )
                return result
            if program is None:  # made state on its first call, or keeps what it computed: trace again
                if key in self._first_use:
                    self._cache[key] = _EAGER
                    warnings.warn(
                        f"cr.jit: {_name(self.fn)} runs eagerly for this signature: {trace.single_use}.",
                        JitWarning,
                        stacklevel=3,
                    )
                self._first_use.add(key)
                return result
            if self.optimize:
                optimise.fold_constants(program)
                optimise.merge_repeats(program)
                optimise.drop_unused(program)
                optimise.reuse_buffers(program, trace.roots)
                optimise.typed_scalars(program)
            replay, text = generate(program)
            compiled = Compiled(replay, text, program, objects, structure, time.perf_counter() - start)
            self._cache[key] = compiled
            self._last = compiled
        return result

    def code(self) -> str:
        """The program of the last trace, as the Python code that replays it."""
        if self._last is None:
            return "# not traced yet (call the function first), or every signature runs eagerly"
        return self._last.text


def jit(fn: Any = None, *, optimize: bool = True) -> Any:
    """Trace ``fn`` once per signature and replay the recorded array operations on later calls.

    Use as ``cr.jit(f)`` or ``@cr.jit``. See the module's text for what a signature is and when a function runs
    eagerly; ``code()`` on the result shows the recorded program."""
    if fn is None:
        return lambda f: JittedFunction(f, optimize)
    return JittedFunction(fn, optimize)


# -- signatures ------------------------------------------------------------------------------------------------


def _signature(value: Any, leaves: list, objects: list) -> Any:
    kind = type(value)
    if kind is Tensor:
        data = value.data
        if type(data) is Batched:
            return None
        leaves.append(value)
        return ("T", np.shape(data), _dtype(data), value._rg)
    if kind is np.ndarray or isinstance(value, np.generic):
        leaves.append(value)
        return ("A", value.shape, value.dtype.str, kind)
    if kind is tuple or kind is list:
        parts = []
        for v in value:
            part = _signature(v, leaves, objects)
            if part is None:
                return None
            parts.append(part)
        return (kind.__name__, *parts)
    if kind is dict:
        parts = []
        for k, v in value.items():
            part = _signature(v, leaves, objects)
            if part is None:
                return None
            parts.append((k, part))
        return ("dict", *parts)
    if kind in (int, float, complex, bool, str, bytes, type(None)):
        return ("V", kind, value)
    if kind is Batched:
        return None
    objects.append(value)
    return ("O", id(value))


def _replaced(value: Any, traced: dict) -> Any:
    """The arguments with each array leaf replaced by its tracer (containers rebuilt, all else kept)."""
    kind = type(value)
    if kind is tuple or kind is list:
        return kind(_replaced(v, traced) for v in value)
    if kind is dict:
        return {k: _replaced(v, traced) for k, v in value.items()}
    if kind is np.ndarray or isinstance(value, np.generic):
        return traced.get(id(value), value)
    return value


def _dtype(data: Any) -> str:
    dtype = getattr(data, "dtype", None)
    return dtype.str if dtype is not None else type(data).__name__


def _same_objects(kept: list, objects: list) -> bool:
    if len(kept) != len(objects):
        return False
    for ref, obj in zip(kept, objects):
        held = ref() if type(ref) is weakref.ref else ref
        if held is not obj:
            return False
    return True


def _held(objects: list) -> list:
    held = []
    for obj in objects:
        try:
            held.append(weakref.ref(obj))
        except TypeError:
            held.append(obj)
    return held


def _flatten_result(value: Any, leaves: list) -> Any:
    kind = type(value)
    if kind is tuple or kind is list:
        return (kind, [_flatten_result(v, leaves) for v in value])
    if kind is dict:
        return (dict, [(k, _flatten_result(v, leaves)) for k, v in value.items()])
    leaves.append(value)
    return None


def _unflatten(structure: Any, leaves: Any) -> Any:
    if structure is None:
        return next(leaves)
    kind, parts = structure
    if kind is dict:
        return {k: _unflatten(s, leaves) for k, s in parts}
    return kind(_unflatten(s, leaves) for s in parts)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
