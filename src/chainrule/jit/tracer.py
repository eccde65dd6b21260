"""Tracers: the arrays a traced call computes with.

A Tracer holds the real array (or NumPy scalar) a plain call would hold at that point, and the slot of the
program that will hold it at replay. Every array operation on a tracer (an operator, a NumPy function, a method,
indexing, an in-place change) computes with the real values, exactly as the plain call would, and appends one
instruction to the trace. Reading a tracer's value into Python (``bool``, ``float``, ``item``, ``np.asarray`` on
it) leaves the array world: the trace cannot replay what Python decided from it, so the trace is spoiled and the
call finishes on the real values, untraced.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

# NumPy functions that answer from shapes and dtypes alone: the same at every replay, so they are not recorded
STATIC_FUNCTIONS = frozenset(
    (
        np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.can_cast, np.min_scalar_type,
        np.may_share_memory, np.shares_memory, np.broadcast_shapes,
    )
)  # fmt: skip
# Functions whose result's shape depends on the values: a replay with other values would have another shape
VALUE_SHAPED = frozenset(
    (np.nonzero, np.argwhere, np.flatnonzero, np.unique, np.compress, np.extract, np.count_nonzero, np.trim_zeros)
)
# Functions that write into their first argument
WRITES_FIRST = frozenset((np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis))
# Methods that write into the array itself
WRITING_METHODS = frozenset(("fill", "sort", "partition", "put", "itemset", "resize", "setfield", "byteswap"))
LEAVING_METHODS = frozenset(("item", "tolist", "tobytes", "tofile", "dump", "dumps"))
STATIC_ATTRIBUTES = frozenset(("shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags", "base"))


class Tracer:
    """A value of a traced call: the real value, and where the program keeps it (see the module's text)."""

    __slots__ = ("value", "slot", "trace")
    __array_priority__ = 2000  # above a Tensor's: NumPy asks us first

    def __init__(self, value: Any, slot: int, trace: Any) -> None:
        self.value, self.slot, self.trace = value, slot, trace

    # -- what stays static: shapes and dtypes are part of the signature ------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def dtype(self) -> Any:
        return self.value.dtype

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return np.size(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Any:
        for i in range(len(self.value)):
            yield self[i]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # (NumPy's probes for other array protocols: we answer __array__ alone)
        value = object.__getattribute__(self, "value")
        if name in STATIC_ATTRIBUTES:
            return getattr(value, name)
        if name in ("T", "real", "imag", "mT"):
            return self.trace.apply("attribute", name, (self,), {})
        if name in LEAVING_METHODS:
            self.trace.leave(f".{name}()")
            return getattr(value, name)
        attribute = getattr(value, name)
        if not callable(attribute):
            self.trace.leave(f".{name}")
            return attribute
        kind = "writing method" if name in WRITING_METHODS else "method"
        return lambda *args, **kwargs: self.trace.apply(kind, name, (self, *args), kwargs)

    # -- leaving the array world ---------------------------------------------------------------------------------
    def _leave(self, how: str) -> Any:
        self.trace.leave(how)
        return self.value

    def __bool__(self) -> bool:
        return bool(self._leave("bool()"))

    def __float__(self) -> float:
        return float(self._leave("float()"))

    def __int__(self) -> int:
        return int(self._leave("int()"))

    def __complex__(self) -> complex:
        return complex(self._leave("complex()"))

    def __index__(self) -> int:
        return operator.index(self._leave("use as an index"))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = np.asarray(self._leave("conversion to a NumPy array"), dtype=dtype)
        return value.copy() if copy else value

    def __repr__(self) -> str:
        return f"Tracer(slot {self.slot}, {self.value!r})"

    def __format__(self, spec: str) -> str:
        return format(self._leave("format()"), spec)

    __hash__ = object.__hash__

    # -- NumPy's protocols ---------------------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(_foreign(a) for a in inputs):
            return NotImplemented  # a Tensor among the operands answers itself
        return self.trace.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        if func in STATIC_FUNCTIONS:
            return func(*unwrap(args), **unwrap(kwargs))
        if func in VALUE_SHAPED:
            self.trace.leave(f"np.{func.__name__} (its result's shape depends on the values)")
            return func(*unwrap(args), **unwrap(kwargs))
        kind = "writing function" if func in WRITES_FIRST else "function"
        return self.trace.apply(kind, func, args, kwargs)

    # -- indexing ------------------------------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Any:
        self._check_index(index)
        return self.trace.apply("getitem", None, (self, index), {})

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_index(index)
        self.trace.apply("setitem", None, (self, index, value), {})

    def _check_index(self, index: Any) -> None:
        for part in index if type(index) is tuple else (index,):
            if type(part) is Tracer and getattr(part.value, "dtype", None) == np.bool_ and np.ndim(part.value):
                self.trace.leave("indexing with a boolean mask (the result's shape depends on the values)")


def _foreign(value: Any) -> bool:
    """Whether ``value`` is an operand a tracer leaves to answer (a Tensor, or any type with its own protocol)."""
    kind = type(value)
    if kind is Tracer or kind in _PLAIN:
        return False
    return hasattr(kind, "__array_ufunc__") and not issubclass(kind, (np.ndarray, np.generic))


_PLAIN = frozenset((int, float, complex, bool, type(None), tuple, list, slice))


def unwrap(value: Any) -> Any:
    """``value`` with every tracer in it (in tuples, lists and dicts too) replaced by its real value."""
    kind = type(value)
    if kind is Tracer:
        return value.value
    if kind is tuple or kind is list:
        return kind(unwrap(v) for v in value)
    if kind is dict:
        return {k: unwrap(v) for k, v in value.items()}
    if kind is slice:
        return slice(unwrap(value.start), unwrap(value.stop), unwrap(value.step))
    return value


def has_tracer(value: Any) -> bool:
    kind = type(value)
    if kind is Tracer:
        return True
    if kind is tuple or kind is list:
        return any(has_tracer(v) for v in value)
    if kind is dict:
        return any(has_tracer(v) for v in value.values())
    return False


# Python's operators on tracers: each one is recorded as the operator itself, so the replay runs the very same
# operation (NumPy scalars stay NumPy scalars, arrays stay arrays)


def _binary(op: Any) -> tuple[Any, Any]:
    def forward(self: Tracer, other: Any) -> Any:
        if _foreign(other):
            return NotImplemented
        return self.trace.apply("operator", op, (self, other), {})

    def reflected(self: Tracer, other: Any) -> Any:
        if _foreign(other):
            return NotImplemented
        return self.trace.apply("operator", op, (other, self), {})

    return forward, reflected


def _in_place(op: Any) -> Any:
    def apply(self: Tracer, other: Any) -> Any:
        if _foreign(other):
            return NotImplemented
        return self.trace.apply("in-place operator", op, (self, other), {})

    return apply


def _unary(op: Any) -> Any:
    return lambda self: self.trace.apply("operator", op, (self,), {})


BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "matmul": operator.matmul,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift,
    "rshift": operator.rshift,
}  # fmt: skip
IN_PLACE = {
    "add": operator.iadd, "sub": operator.isub, "mul": operator.imul, "truediv": operator.itruediv,
    "floordiv": operator.ifloordiv, "mod": operator.imod, "pow": operator.ipow, "matmul": operator.imatmul,
    "and": operator.iand, "or": operator.ior, "xor": operator.ixor,
}  # fmt: skip
for _name, _op in BINARY.items():
    _forward, _reflected = _binary(_op)
    setattr(Tracer, f"__{_name}__", _forward)
    setattr(Tracer, f"__r{_name}__", _reflected)
for _name, _op in IN_PLACE.items():
    setattr(Tracer, f"__i{_name}__", _in_place(_op))
for _name, _op in {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge, "eq": operator.eq, "ne": operator.ne,
}.items():  # fmt: skip
    setattr(Tracer, f"__{_name}__", _binary(_op)[0])
for _name, _op in {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert}.items():
    setattr(Tracer, f"__{_name}__", _unary(_op))


class TracedNumpy:
    """The array module of tracers: NumPy itself, except that arrays made from nothing (``zeros``, ``empty``,
    ``arange``...) are made by the program too, so that writing into them later is recorded like any change."""

    CREATING = frozenset(("zeros", "ones", "empty", "full", "eye", "identity", "arange", "linspace", "tri", "indices"))

    def __init__(self, trace_of: Any) -> None:
        self._trace_of = trace_of  # () -> the trace running in this thread, or None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(np, name)
        if name in self.CREATING:
            return lambda *args, **kwargs: self._made(attribute, args, kwargs)
        return attribute

    def _made(self, func: Any, args: tuple, kwargs: dict) -> Any:
        trace = self._trace_of()
        if trace is None:
            return func(*unwrap(args), **unwrap(kwargs))
        return trace.apply("function", func, args, kwargs)

    def asarray(self, value: Any, dtype: Any = None, **kwargs: Any) -> Any:
        if type(value) is Tracer:
            if dtype is None or np.dtype(dtype) == value.dtype:
                return value
            return value.astype(dtype)
        if has_tracer(value):
            return self.stack(value) if dtype is None else self.stack(value).astype(dtype)
        return np.asarray(value, dtype=dtype, **kwargs)

    def array(self, value: Any, dtype: Any = None, copy: bool = True, **kwargs: Any) -> Any:
        if type(value) is Tracer:
            value = value.astype(dtype) if dtype is not None else value
            return value.copy() if copy else value
        if has_tracer(value):
            return self.stack(value) if dtype is None else self.stack(value).astype(dtype)
        return np.array(value, dtype=dtype, copy=copy, **kwargs)

    def stack(self, values: Any, axis: int = 0, **kwargs: Any) -> Any:
        trace = self._trace_of()
        return trace.apply("function", np.stack, (list(values),), {"axis": axis, **kwargs})
