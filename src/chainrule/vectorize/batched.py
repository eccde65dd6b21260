"""``Batched``: the values of a batch of examples, seen by the function as the value of one example."""

from __future__ import annotations

import math
from typing import Any

import numpy

from ..errors import ChainruleError

# Set once a vmap has run in this process: from then on the backward pass checks each gradient for batch levels
# its input does not have (see ``rules.fit_levels``); programs that never vmap never pay for the check.
BATCHING_USED = [False]
# The levels of the vmaps running now (innermost last). A gradient may stay batched at these: the backward pass
# itself runs once per example of them. Levels of vmaps that have finished are summed away (``fit_levels``).
ACTIVE_LEVELS: list[int] = []


class BatchedValueError(ChainruleError, TypeError):
    """Inside ``vmap``: a batched value was read as one Python value (control flow, conversion to a number)."""


class Batched:
    """The values of ``size`` examples stacked along the leading axis of ``value`` (an array, or the Batched of an
    enclosing ``vmap``), for the ``vmap`` of depth ``level``. Shape, dtype and length are those of one example;
    arithmetic and indexing apply the primitives, whose batching rules handle the leading axis."""

    __slots__ = ("value", "level")
    __array_ufunc__ = None  # NumPy defers to the reflected operators below (ndarray + Batched -> Batched.__radd__)
    base = None  # never a view the engine must track

    def __init__(self, value: Any, level: int) -> None:
        self.value = value
        self.level = level

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape[1:])

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.value.shape) - 1

    @property
    def dtype(self) -> Any:
        return self.value.dtype

    @property
    def batch_size(self) -> int:
        return self.value.shape[0]

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<batched values of {self.batch_size} examples, each of shape {self.shape}, dtype {self.dtype}>"

    def copy(self, order: str = "K") -> Batched:
        return Batched(self.value.copy(order) if not isinstance(self.value, Batched) else self.value.copy(), self.level)

    def astype(self, dtype: Any, copy: bool = True) -> Batched:
        return Batched(self.value.astype(dtype), self.level)

    # -- what the derivative rules ask of their arrays beyond the primitives -----------------------------------

    def any(self) -> bool:
        """Whether any element of any example is true: the rules use it to pick between two exact formulas
        (cumprod with or without zeros), where either is right for every example, so one answer serves all."""
        return bool(self.value.any())

    def all(self) -> bool:
        return bool(self.value.all())

    # -- reading one value out of a batch: refused ------------------------------------------------------------

    def _refuse(self, what: str) -> Any:
        raise BatchedValueError(
            f"vmap: the function reads a batched value as one Python value ({what}); each example may give a "
            f"different answer. Write the choice with cr.where(condition, x, y), or pass the argument with "
            f"in_axes=None if it is the same for every example"
        )

    def __bool__(self) -> bool:
        return self._refuse("bool(), if or while")

    def __float__(self) -> float:
        return self._refuse("float()")

    def __int__(self) -> int:
        return self._refuse("int()")

    def __index__(self) -> int:
        return self._refuse("an index")

    def item(self) -> Any:
        return self._refuse(".item()")

    def tolist(self) -> Any:
        return self._refuse(".tolist()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self._refuse("a NumPy array: .numpy(), np.asarray")

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: Any) -> Any:
        from ..ops import getitem

        return getitem(self, index=index)


def _operator(name: str, reflected: bool = False) -> Any:
    def apply(self: Batched, other: Any = None) -> Any:
        from .. import ops

        prim = getattr(ops, name)
        if other is None and name in ("negative",):
            return prim(self)
        return prim(other, self) if reflected else prim(self, other)

    return apply


for _dunder, _name in {
    "add": "add",
    "sub": "subtract",
    "mul": "multiply",
    "truediv": "divide",
    "pow": "power",
    "matmul": "matmul",
    "mod": "remainder",
}.items():
    setattr(Batched, f"__{_dunder}__", _operator(_name))
    setattr(Batched, f"__r{_dunder}__", _operator(_name, reflected=True))
for _dunder, _name in {
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
    "eq": "equal",
    "ne": "not_equal",
}.items():
    setattr(Batched, f"__{_dunder}__", _operator(_name))
Batched.__neg__ = _operator("negative")  # type: ignore[attr-defined]
Batched.__hash__ = object.__hash__  # type: ignore[assignment]


def _logical(function: Any) -> Any:
    def apply(self: Batched, other: Any = None) -> Batched:
        from .rules import elementwise_values

        return elementwise_values(function, self, other)

    return apply


# masks are combined in the rules (~equal, zero | other): plain NumPy on the stacked values
Batched.__invert__ = _logical(numpy.logical_not)  # type: ignore[attr-defined]
Batched.__and__ = Batched.__rand__ = _logical(numpy.logical_and)  # type: ignore[attr-defined]
Batched.__or__ = Batched.__ror__ = _logical(numpy.logical_or)  # type: ignore[attr-defined]


class BatchedModule:
    """What ``array_module`` gives for batched data: NumPy for everything that makes new arrays from shapes (an
    example's shape: the same for every example), and batched versions of the few functions the engine applies
    to data itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(numpy, name)

    @staticmethod
    def ones_like(x: Any, dtype: Any = None) -> Any:
        return numpy.ones(x.shape, dtype=dtype or x.dtype)

    @staticmethod
    def zeros_like(x: Any, dtype: Any = None) -> Any:
        return numpy.zeros(x.shape, dtype=dtype or x.dtype)

    @staticmethod
    def where(condition: Any, x: Any, y: Any) -> Any:
        from ..ops import where

        return where(x, y, condition=condition)

    @staticmethod
    def broadcast_to(x: Any, shape: Any) -> Any:
        from ..ops import broadcast_to

        return broadcast_to(x, shape=tuple(shape))

    @staticmethod
    def isfinite(x: Any) -> Any:
        from .rules import elementwise_values

        return elementwise_values(numpy.isfinite, x, None)


BATCHED_MODULE = BatchedModule()
Batched.array_module_of_data = BATCHED_MODULE  # type: ignore[attr-defined]


def on_stacked(function: Any, value: Any) -> Any:
    """``function`` of an array that treats leading axes as a stack (``np.linalg.slogdet``), on data that may be
    batched: applied once to the array of every example of every level, its result batched the same way."""
    levels = []
    while type(value) is Batched:
        levels.append(value.level)
        value = value.value
    result = function(value)
    for level in reversed(levels):
        result = Batched(result, level)
    return result
