"""The Tensor: a backend array plus what the engine needs to differentiate through it."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import array_module
from .errors import DtypeError, GradientError, InplaceError, ShapeError


def check_differentiable_dtype(dtype: Any, what: str) -> None:
    if np.dtype(dtype).kind not in "fc":
        raise DtypeError(
            f"{what}: only floating-point (real or complex) tensors can require grad, got dtype {np.dtype(dtype)}. "
            "Create it with a float dtype, e.g. cr.tensor(data, dtype='float64', requires_grad=True)."
        )


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name  # copies and pickles are the marker itself (they are compared with ``is``)


# What a node's second input slot holds when it is not a second input (see ``Tensor._inputs``)
UNARY, NARY, FREED = _Marker("UNARY"), _Marker("NARY"), _Marker("FREED")


class Skeletons(list):
    """What backward() keeps of the nodes it frees: one list per backward pass, held by every node the pass freed
    in its first input slot (the second holds ``FREED``). An entry per freed node, ``(tick, op, params, name, in0,
    in1, tensor)``: ``in0, in1`` laid out as the node's input slots were, with a leaf as it was, a constant
    inside a 1-tuple and a computed input by its tick (its entry in this list, when the pass freed it too), and
    ``tensor`` a weak reference to the node where something besides the graph held it (else None). No computed
    tensor is held, so none of their values: enough to draw the graph again (``explainer.graph.capture``
    recomputes the values of the nodes that died), not to go back through it."""

    __slots__ = ()

    def __reduce__(self) -> tuple:
        return (_kept_nothing, ())  # a pickle of a freed tensor keeps nothing of its graph, as before

    def __deepcopy__(self, memo: dict) -> None:
        return None  # and so does a deep copy


def _kept_nothing() -> None:
    return None


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back through it.

    ``data`` is the backend array (a NumPy array; for 0-d results of arithmetic it may be a NumPy scalar).
    Tensors made by the user are *leaves*; tensors computed from a tensor that requires grad carry the node of
    the operation that made them.
    """

    # The graph lives in the tensors: a computed tensor records the primitive that made it (``_op``), its inputs
    # as given (``_inputs``), its parameters and the in-place clock's tick when it was recorded. The inputs sit
    # in two slots rather than a tuple (see ``_inputs``): one object per operation instead of two is half the
    # work for Python's garbage collector, which scans every live object. Rarely set attributes (grad, name,
    # version counter, retain flag, parameters) default at class level and cost nothing per operation.
    __slots__ = ("data", "_rg", "_op", "_in0", "_in1", "_tick", "__dict__", "__weakref__")
    __array_priority__ = 1000
    _grad: Tensor | None = None
    name: str | None = None
    _version: list | None = None
    _retained = False
    _parameter = False  # made by nn.Parameter: a module's parameter even while frozen (requires_grad False)
    _params: dict = {}  # noqa: RUF012  (shared and never mutated)
    _tangents: dict | None = None  # forward mode: level -> tangent
    _superseded: Any = ()  # recorded in-place changes: (tick of the change, weak ref to the version replaced)

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        if type(data) is Tensor:
            data = data.data
        if not hasattr(data, "dtype"):
            data = np.asarray(data)
        if type(data) is np.ndarray and data.ndim == 0:
            data = data[()]  # 0-d values live as NumPy scalars, as arithmetic returns them (and far faster)
        self.data = data
        self._rg = False
        self._op = None
        if name is not None:
            self.name = name
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _from_op(cls, data: Any, op: Any) -> Tensor:
        # The engine's constructor: no checks, no conversions (it runs once per recorded operation).
        t = object.__new__(cls)
        t.data = data
        t._rg = op is not None
        t._op = op
        return t

    # -- what the array is -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        return _f.transpose(self)

    @property
    def real(self) -> Tensor:
        return _f.real(self)

    @property
    def imag(self) -> Tensor:
        return _f.imag(self)

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array, sharing memory with the tensor (no gradient flows through it).

        For a tensor that requires grad the array is read-only: writing into it would change values the
        graph may need, behind its back (use ``t.detach().numpy()`` or a copy to write).
        """
        array = np.asarray(self.data)
        if self._rg and array.flags.writeable:
            array = array.view()
            array.flags.writeable = False
        return array

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # NumPy asks for the plain array when it builds one from tensors (np.array([t, u]), a[:] = t): the
        # gradient would be dropped without a word, so a tensor that needs one refuses, as PyTorch's does
        integral = dtype is not None and np.dtype(dtype).kind in "biu"  # indices and counts: derivative 0, nothing lost
        if (self._rg or self._tangents) and not integral:
            raise TypeError(
                f"a tensor that requires grad (shape {self.shape}) was turned into a NumPy array, which would drop "
                "its gradient: use cr.stack / cr.concatenate to combine tensors, or t.detach().numpy() for the "
                "values alone"
            )
        array = self.numpy() if dtype is None else np.asarray(self.data, dtype=dtype)
        return array.copy() if copy else array

    def item(self) -> Any:
        if self.data.size != 1:
            raise ShapeError(f"item(): only a tensor with one element converts to a Python number, got {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        # iter() itself refuses a 0-d tensor, as NumPy's does (np.iterable and matplotlib ask iter(), not next())
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ShapeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous: compare elementwise and reduce, "
                "e.g. bool((t > 0).numpy().all()), or use t.item() for a single element"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __format__(self, spec: str) -> str:
        # format(t, ".3f") formats the number a one-element tensor holds, as NumPy's scalars do
        if spec and self.data.size == 1:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        return self.data.__index__()

    __hash__ = object.__hash__  # == is elementwise, so tensors hash by identity (as in PyTorch)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.data), separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != np.float64 and self.data.size:
            extras.append(f"dtype={self.data.dtype}")
        if self._op is not None:
            extras.append(f"grad_fn={self._op.name}")
        elif self._rg:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- the graph ---------------------------------------------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward() (None until then); assign None to reset it."""
        if _jit_trace.trace is not None:  # (a traced call reads the grad of this tensor, whichever it is then)
            _jit_trace.trace.note_grad(self)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if type(value) is not Tensor:
                raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__}; wrap it: cr.tensor(g)")
            if value.shape != self.shape:
                raise ShapeError(f"grad of shape {value.shape} assigned to a tensor of shape {self.shape}")
        if _jit_trace.trace is not None:  # (cr.jit records what a traced call leaves in .grad)
            _jit_trace.trace.note_grad(self, reading=False)
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Make this leaf tensor track operations (or stop tracking); returns the tensor itself."""
        if self._op is not None:
            if not requires_grad:
                raise GradientError(
                    "requires_grad_(False) on a computed tensor: it is part of a graph. Use t.detach() instead."
                )
            return self
        if requires_grad:
            check_differentiable_dtype(self.data.dtype, "requires_grad")
        self._rg = bool(requires_grad)
        return self

    @property
    def _inputs(self) -> tuple | None:
        """The inputs of the operation that computed this tensor, as given; None once backward freed them.

        Stored as ``_in0, _in1``: the two inputs of a binary operation, the input and ``UNARY`` of a unary one,
        the tuple of inputs and ``NARY`` otherwise, and once released ``FREED`` with what the pass that freed it
        kept for drawing (``Skeletons``), or None.
        """
        second = self._in1
        if second is UNARY:
            return (self._in0,)
        if second is NARY:
            return self._in0
        if second is FREED:
            return None
        return (self._in0, second)

    @_inputs.setter
    def _inputs(self, inputs: tuple | None) -> None:
        if inputs is None:
            self._in0, self._in1 = None, FREED
        elif len(inputs) == 1:
            self._in0, self._in1 = inputs[0], UNARY
        elif len(inputs) == 2:
            self._in0, self._in1 = inputs
        else:
            self._in0, self._in1 = tuple(inputs), NARY

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    @property
    def grad_fn(self) -> Any:
        """The primitive that computed this tensor (None for leaves)."""
        return self._op

    def detach(self) -> Tensor:
        """The same values (shared memory) cut off from the graph."""
        t = Tensor._from_op(self.data, None)
        t._version = engine.version_box(self)
        return t

    def retain_grad(self) -> Tensor:
        """Make backward() fill ``.grad`` of this computed tensor too."""
        if not self._rg:
            raise GradientError("retain_grad() on a tensor that does not require grad")
        if self._op is not None:
            self._retained = True
        return self

    def register_hook(self, fn: Any) -> Any:
        """Call ``fn(grad)`` with the gradient with respect to this tensor once it is complete, in backward() and
        the transforms; a tensor ``fn`` returns replaces the gradient. Returns a handle: ``handle.remove()``."""
        from .engine.hooks import register_hook

        return register_hook(self, fn)

    def register_post_accumulate_grad_hook(self, fn: Any) -> Any:
        """Call ``fn(self)`` as soon as backward() has put this pass's gradient into ``self.grad`` (a leaf's
        gradient is final before the pass ends: data-parallel training sends it while backward goes on)."""
        from .engine.hooks import register_post_accumulate_grad_hook

        return register_post_accumulate_grad_hook(self, fn)

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor with respect to every leaf into the leaves' ``.grad``.

        ``gradient`` is the vector of the vector-Jacobian product; it may be omitted for a single-element tensor.
        ``retain_graph`` keeps the saved values for another backward; ``create_graph`` records the backward pass
        itself so the gradients can be differentiated again.
        """
        if not self._rg:
            raise GradientError(
                "backward() on a tensor that does not require grad: no input of its computation had "
                "requires_grad=True, or it was computed under cr.no_grad()."
            )
        if gradient is None:
            if self.data.size != 1:
                raise GradientError(
                    f"backward() without a gradient works only for a single-element output, this one has shape "
                    f"{self.shape}. Reduce it first (e.g. y.sum().backward()) or pass backward(gradient=...) of "
                    "that shape."
                )
            seed: Any = array_module(self.data).ones_like(self.data)
        else:
            seed = gradient.data if type(gradient) is Tensor else np.asarray(gradient, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ShapeError(
                    f"backward(): gradient has shape {seed.shape} but the tensor has shape {self.shape}; "
                    "they must match"
                )
        if create_graph:
            seed = gradient if type(gradient) is Tensor else Tensor._from_op(seed, None)
        engine.backward(self, seed, retain_graph or create_graph, create_graph)

    # -- operators ---------------------------------------------------------------------------------------------
    # + - * / ** and unary - are the engine's recorders themselves (attached below the class: they need the
    # primitives, which are built on this class); declared here for type checkers.
    if TYPE_CHECKING:

        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...

    def __matmul__(self, other: Any) -> Tensor:
        return _f.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _f.matmul(other, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.absolute(self)

    def __lt__(self, other: Any) -> Tensor:  # type: ignore[override]
        if not _comparable(other):
            return NotImplemented  # let the other side answer (pytest.approx, sets, ...)
        return _ops.less(self, other)

    def __le__(self, other: Any) -> Tensor:
        if not _comparable(other):
            return NotImplemented  # let the other side answer (pytest.approx, sets, ...)
        return _ops.less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        if not _comparable(other):
            return NotImplemented  # let the other side answer (pytest.approx, sets, ...)
        return _ops.greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        if not _comparable(other):
            return NotImplemented  # let the other side answer (pytest.approx, sets, ...)
        return _ops.greater_equal(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        if not _comparable(other):
            return NotImplemented  # let the other side answer (pytest.approx, sets, ...)
        return _ops.equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        if not _comparable(other):
            return NotImplemented  # let the other side answer (pytest.approx, sets, ...)
        return _ops.not_equal(self, other)

    # & | ^ ~ on boolean (or integer) tensors, for masks: no derivative
    def __and__(self, other: Any) -> Tensor:
        return _ops.bitwise_and(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _ops.bitwise_and(other, self)

    def __or__(self, other: Any) -> Tensor:
        return _ops.bitwise_or(self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _ops.bitwise_or(other, self)

    def __xor__(self, other: Any) -> Tensor:
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _ops.bitwise_xor(other, self)

    def __invert__(self) -> Tensor:
        return _ops.invert(self)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # NumPy hands us `ndarray + tensor` and `np.exp(tensor)`: answer with a Tensor, never a bare array.
        return _f.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        return _f.array_function(func, args, kwargs)

    # -- indexing and in-place changes -------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index=_raw_index(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _raw_index(index)
        if _recording(self, value):
            self._assign_result(_ops.setitem, value, index=index)
            return
        raw = value.data if type(value) is Tensor else value
        if type(self.data) is Batched or type(raw) is Batched:  # inside vmap: the batched result takes its place
            self._overwrite(_ops.setitem(self.data, raw, index=index), "setitem")
            return
        data = self._writable_data()
        try:
            data[index] = raw
        except (ValueError, IndexError, TypeError) as error:
            raise ShapeError(f"setitem: {error} (tensor shape {self.shape})") from error
        engine.mark_changed(self)

    def __iadd__(self, other: Any) -> Tensor:
        return self._assign_result(_ops.add, other, operator.iadd)

    def __isub__(self, other: Any) -> Tensor:
        return self._assign_result(_ops.subtract, other, operator.isub)

    def __imul__(self, other: Any) -> Tensor:
        return self._assign_result(_ops.multiply, other, operator.imul)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._assign_result(_ops.divide, other, operator.itruediv)

    def __ipow__(self, other: Any) -> Tensor:
        return self._assign_result(_ops.power, other, operator.ipow)

    def _writable_data(self) -> Any:
        data = self.data
        if not hasattr(data, "__setitem__"):  # a NumPy scalar from 0-d arithmetic: give it an array of its own
            data = self.data = array_module(data).array(data)
        return data

    def _assign_result(self, prim: Any, other: Any, in_place: Any = None, **params: Any) -> Tensor:
        """``self = prim(self, other)`` written into this tensor's own memory, recorded when gradients flow."""
        if not _recording(self, other):
            other_data = other.data if type(other) is Tensor else other
            data = self.data
            if (
                in_place is not None
                and hasattr(data, "__setitem__")
                and data.flags.writeable
                and type(other_data) is not Batched
            ):
                try:  # straight into the existing memory, no temporary (the optimizer's update path)
                    in_place(data, other_data)
                except (ValueError, TypeError):
                    self._overwrite(prim.run([data, other_data], params), prim.name)  # explains the error
                    raise
                engine.mark_changed(self)
            else:
                self._overwrite(prim.run([data, other_data], params), prim.name)
            return self
        if self._op is None and self._rg:
            raise InplaceError(
                f"in-place '{prim.name}' on a leaf tensor that requires grad: its gradient would be lost. Update "
                "parameters inside `with cr.no_grad():`, or work on a copy (t = t * 1)."
            )
        if engine.shares_memory(self) and not engine.separate_memory(self):
            raise InplaceError(
                f"in-place '{prim.name}' on a tensor that shares memory with another (a view, or a tensor that "
                "has views) while recording: the other tensor's history would not see the change. Work on a copy "
                "(t = t * 1), or build the result out of place (cr.concatenate, cr.where, ...)."
            )
        # The old value keeps this tensor's place in the graph, with values of its own; the tensor itself
        # becomes the result of the operation, written into its own memory so that views see the change.
        last_change = self._version[0] if self._version is not None else 0  # before this change marks the memory
        snapshot = Tensor._from_op(self.data.copy(), self._op)
        if self._op is not None:
            snapshot._in0, snapshot._in1, snapshot._tick = self._in0, self._in1, self._tick
            snapshot._params = self._params
        snapshot._rg, snapshot._tangents = self._rg, self._tangents
        # ``t *= t``: the old value is both operands (the tensor itself is about to become the result)
        result = prim(snapshot, snapshot if other is self else other, **params)
        self._overwrite(result.data, prim.name)
        self._tangents = result._tangents
        if result._op is None:  # forward mode only: nothing recorded
            return self
        engine.supersede(self, snapshot, result._tick, last_change)  # earlier consumers read the snapshot
        self._op, self._in0, self._in1, self._params = result._op, result._in0, result._in1, result._params
        self._tick = next(engine._ticks)
        self._rg = True
        return self

    def _overwrite(self, new: Any, op: str) -> None:
        if new.shape != self.shape:
            raise ShapeError(
                f"in-place {op}: the result has shape {new.shape} but the tensor has shape {self.shape}; an "
                "in-place operation cannot change the shape. Use the out-of-place form (t = t + u)."
            )
        data = self.data
        if type(new) is Batched:  # inside vmap: values differ between examples from now on
            self.data = new.astype(data.dtype) if new.dtype != data.dtype else new
        elif hasattr(data, "__setitem__") and data.flags.writeable:
            try:
                array_module(data).copyto(data, new, casting="same_kind")
            except TypeError as error:
                raise DtypeError(f"in-place {op}: {error}") from error
        elif hasattr(data, "__setitem__"):
            raise ShapeError(
                f"in-place {op}: this tensor's memory is read-only (a broadcast view); change a copy instead"
            )
        else:
            self.data = new.astype(data.dtype) if new.dtype != data.dtype else new
        engine.mark_changed(self)


def _recording(t: Tensor, other: Any) -> bool:
    if engine._forward_open[0] and (t._tangents or (type(other) is Tensor and other._tangents)):
        return True  # tangents must follow the change
    return engine.is_grad_enabled() and (t._rg or (type(other) is Tensor and other._rg))


def _raw_index(index: Any) -> Any:
    """An index with every Tensor replaced by its array (masks and integer arrays are not differentiable)."""
    if type(index) is Tensor:
        return index.data
    if type(index) is tuple:
        return tuple(i.data if type(i) is Tensor else i for i in index)
    if type(index) is list:
        return np.asarray(index)
    return index


def _comparable(other: Any) -> bool:
    return isinstance(other, (Tensor, np.ndarray, np.generic, int, float, complex, list, tuple))


from . import engine  # noqa: E402
from . import functions as _f  # noqa: E402
from . import ops as _ops  # noqa: E402
from .engine import recorder  # noqa: E402
from .engine.tracing import _local as _jit_trace  # noqa: E402
from .vectorize.batched import Batched  # noqa: E402  (the engine and the operations build on the class above)


def _reflected(record: Any) -> Any:
    def reflected(self: Tensor, other: Any) -> Tensor:  # other (op) self, where other is not a tensor
        return record(other, self)

    return reflected


def _attach_operators(cls: type) -> None:
    """+ - * / ** (both ways round) and unary -: the engine's recorders of those primitives."""
    for name, prim in (("add", _ops.add), ("sub", _ops.subtract), ("mul", _ops.multiply),
                       ("truediv", _ops.divide), ("pow", _ops.power)):  # fmt: skip
        record = recorder(prim)
        setattr(cls, f"__{name}__", record)
        setattr(cls, f"__r{name}__", _reflected(record))
    cls.__neg__ = recorder(_ops.negative)  # type: ignore[attr-defined]
    remainder = recorder(_ops.remainder)
    cls.__mod__, cls.__rmod__ = remainder, _reflected(remainder)  # type: ignore[attr-defined]


_attach_operators(Tensor)
_f.attach_methods(Tensor)
