"""The graph behind a tensor, captured for explaining and drawing.

``capture(t)`` copies the structure of the recorded graph that produced ``t`` (nodes in recording order, each
with its operation, its inputs and its value) and walks it backwards with the primitives' own reverse rules,
keeping what backward() throws away: every edge's contribution and every node's gradient ``d t / d node``.
The captured graph holds the tensors' values, not the engine's saved state, so a picture made before
``backward()`` can still be shown after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from ..backend import array_module
from ..errors import GradientError
from ..primitive import Primitive
from ..tensor import FREED, NARY, UNARY, Skeletons, Tensor

# Names for unnamed values, as the worked example chainrule starts from names them: x * y is "r", then "v" and
# "u" (sin(r) and cos(r) there), the output "z" (else "f");
# inputs without a name are x, y, then x3, x4, ...
NAME_POOL = tuple("rvuwpqstabdghk")
INPUT_POOL = ("x", "y")
OUTPUT_NAME = "z"


@dataclass(eq=False)
class Node:
    index: int
    name: str
    value: Any  # a backend array or NumPy scalar
    kind: str  # "input" (a leaf that requires grad), "data" (a leaf that does not), "number" (a plain constant), "op"
    op: Primitive | None = None
    inputs: tuple[int, ...] = ()
    params: dict = field(default_factory=dict)
    tensor: Tensor | None = None
    grad: Any = None  # d output / d this node, once walked back
    # Filled by the backward walk, one entry per input position: what the input received (None: nothing, it
    # needs no gradient) and, where both ends are single numbers, the local derivative d self / d input.
    sent: list = field(default_factory=list)
    local: list = field(default_factory=list)
    auto_named: bool = False  # the name was chosen by the explainer, not given by the user

    @property
    def needs_grad(self) -> bool:
        return self.kind == "input" or (self.kind == "op" and self.tensor is not None and self.tensor._rg)

    @property
    def is_scalar(self) -> bool:
        return getattr(self.value, "size", 1) == 1


class Graph:
    """A captured graph: ``nodes`` in topological order (inputs first), the output last."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.output = nodes[-1]
        self.consumers: list[list[int]] = [[] for _ in nodes]
        for node in nodes:
            for i in dict.fromkeys(node.inputs):
                self.consumers[i].append(node.index)
        self.walked = False

    def node_of(self, t: Tensor) -> Node | None:
        return next((n for n in self.nodes if n.tensor is t), None)

    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "input"]

    def walk_back(self) -> Graph:
        """Backpropagate a gradient of ones from the output with the primitives' reverse rules, keeping every
        edge's contribution and every node's accumulated gradient. Returns the graph itself."""
        if self.walked:
            return self
        xp = array_module(self.output.value)
        self.output.grad = xp.ones_like(self.output.value)
        # an infinite slope (sqrt at 0) is reported in words by the explainer, not as a NumPy warning
        with engine.no_grad(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for node in reversed(self.nodes):
                node.sent = [None] * len(node.inputs)
                node.local = [None] * len(node.inputs)
                if node.kind != "op" or node.grad is None:
                    continue
                values = [self.nodes[i].value for i in node.inputs]
                for position, i in enumerate(node.inputs):
                    parent = self.nodes[i]
                    if not parent.needs_grad:
                        continue
                    sent = _vjp(node, position, node.grad, values)
                    node.sent[position] = sent
                    if node.is_scalar and parent.is_scalar:
                        node.local[position] = _vjp(node, position, xp.ones_like(node.grad), values)
                    parent.grad = sent if parent.grad is None else parent.grad + sent
        self.walked = True
        return self

    def replay(self, values: dict[int, Any]) -> Any:
        """The output recomputed with some nodes' values replaced (``{node index: value}``): the same
        primitives on plain arrays, for finite differences."""
        computed: list[Any] = []
        with engine.no_grad():
            for node in self.nodes:
                if node.index in values:
                    computed.append(values[node.index])
                elif node.kind == "op":
                    computed.append(node.op.run([computed[i] for i in node.inputs], node.params))
                else:
                    computed.append(node.value)
        return computed[-1]


def _vjp(node: Node, position: int, g: Any, values: list) -> Any:
    rules = node.op.rules
    if type(rules) is not tuple:
        gi = rules(position, g, node.value, *values, **node.params)
    else:
        gi = rules[position](g, node.value, *values, **node.params)
    value = values[position]
    return engine.fit_gradient(gi, value, node.op.name, position) if hasattr(value, "shape") else gi


def capture(t: Tensor) -> Graph:
    """The graph that produced ``t``, walked iteratively from ``t`` back to its leaves.

    After backward() has freed the graph, what it kept of each node (``Skeletons``: the operation, its
    parameters, name and inputs, no values) stands in for the node. A value whose tensor is still alive and
    unchanged is read from it; the others are computed again from the leaves with the same primitives, as
    ``Graph.replay`` does, and checked against every value still known that depends on them. A value that cannot
    be had exactly as the graph computed it (a leaf changed in place since, a primitive that does not give the
    same result twice) is an error, never a picture with other values.
    """
    if type(t) is not Tensor:
        raise TypeError(f"expected a chainrule Tensor, got {type(t).__name__}")
    recorded = _recorded(t)
    ops = sorted(recorded.values(), key=lambda x: x.tick)
    _recover_values(ops, recorded)
    # the leaves in the order the computation first uses them
    first_use = [p for x in ops for kind, p in x.inputs if kind == "leaf"] or [t]
    leaves = list({id(x): x for x in first_use}.values())
    nodes: list[Node] = []
    index_of: dict[Any, int] = {}
    for x in leaves:
        index_of[id(x)] = len(nodes)
        nodes.append(Node(len(nodes), x.name or "", x.data, "input" if x._rg else "data", tensor=x))
    for x in ops:
        inputs = []
        for kind, parent in x.inputs:
            if kind == "leaf":
                inputs.append(index_of[id(parent)])
            elif kind == "op":
                inputs.append(index_of[parent])
            else:  # a plain number or array the operation took as it was
                inputs.append(len(nodes))
                nodes.append(Node(len(nodes), _number_name(parent), parent, "number"))
        index_of[x.tick] = len(nodes)
        tensor = x.tensor if x.tensor is not None else _stand_in(x)
        nodes.append(Node(len(nodes), x.name or "", x.value, "op", x.op, tuple(inputs), dict(x.params), tensor))
    _name_unnamed(nodes)
    return Graph(nodes)


_UNKNOWN = object()


@dataclass(eq=False)
class _Recorded:
    """An operation of the graph as it was recorded, read from its tensor or from what backward() kept of it."""

    tick: int
    op: Primitive
    params: dict
    name: str | None
    tensor: Tensor | None  # the node's tensor, where it still holds the values the graph computed
    inputs: list = field(default_factory=list)  # ("leaf", tensor), ("number", value) or ("op", tick)
    value: Any = _UNKNOWN


def _recorded(t: Tensor) -> dict[int, _Recorded]:
    """The operations behind ``t`` by tick: from the tensors where the graph is whole, from ``Skeletons`` where
    backward() freed it. Empty for a leaf."""
    found: dict[int, _Recorded] = {}
    kept: dict[int, dict[int, tuple]] = {}  # id of a pass's Skeletons -> its entries by tick
    tables: list[Skeletons] = []  # (held, so that the ids stay theirs)
    stack: list[tuple[Tensor | None, Any, int, bool]] = [(t, None, 0, True)] if t._op is not None else []
    while stack:
        x, table, tick, trusted = stack.pop()  # a tensor that is a node, or a tick in a pass's Skeletons
        if x is not None:
            tick = x._tick
            trusted = trusted and (x._version is None or x._version[0] <= tick)  # not changed since computed
            if tick in found:
                if trusted and found[tick].tensor is None:
                    found[tick].tensor = x
                continue
            found[tick] = node = _Recorded(tick, x._op, x._params, x.name, x if trusted else None)
            if x._in1 is FREED:
                table = x._in0
                entry = _kept_entry(kept, tables, table, tick, x._op)
                inputs = _kept_inputs(entry)
            else:
                inputs, table = x._inputs, None
        else:
            if tick in found:
                continue
            entry = _kept_entry(kept, tables, table, tick, None)
            alive = entry[6]() if entry[6] is not None else None
            if alive is not None and (alive._tick != tick or alive._version is not None and alive._version[0] > tick):
                alive = None  # changed in place since (a recorded change makes it another node, with a tick of its own)
            name = alive.name if alive is not None else entry[3]
            found[tick] = node = _Recorded(tick, entry[1], entry[2], name, alive)
            inputs = _kept_inputs(entry)
        for p in inputs:
            if table is not None and type(p) is int:  # a computed input the same pass freed: its own entry
                node.inputs.append(("op", p))
                stack.append((None, table, p, True))
            elif table is not None and type(p) is tuple:
                node.inputs.append(("number", p[0]))
            elif type(p) is Tensor:
                p, trusted = _version_read(p, tick)
                if p._op is None:
                    node.inputs.append(("leaf", p))
                else:
                    node.inputs.append(("op", p._tick))
                    stack.append((p, None, 0, trusted))
            else:
                node.inputs.append(("number", p))
    return found


def _kept_entry(kept: dict, tables: list, table: Any, tick: int, op: Primitive | None) -> tuple:
    """What backward() kept of the node recorded at ``tick`` (see ``Skeletons``)."""
    if type(table) is not Skeletons:
        raise _not_kept(op.name if op is not None else "", "")
    entries = kept.get(id(table))
    if entries is None:
        entries = kept[id(table)] = {entry[0]: entry for entry in table}
        tables.append(table)
    entry = entries.get(tick)
    if entry is None:
        raise _not_kept(op.name if op is not None else "", " and did not keep all of it")
    return entry


def _kept_inputs(entry: tuple) -> Any:
    first, second = entry[4], entry[5]
    if second is UNARY:
        return (first,)
    return first if second is NARY else (first, second)


def _not_kept(op: str, how: str) -> GradientError:
    where = f" (at '{op}')" if op else ""
    return GradientError(
        f"the graph behind this tensor was freed by backward(){where}{how}, so it cannot be drawn or explained. "
        "Call cr.draw / cr.explain before backward(), or pass retain_graph=True."
    )


def _version_read(p: Tensor, tick: int) -> tuple[Tensor, bool]:
    """The version of ``p`` that the node recorded at ``tick`` read: ``p`` itself, or what a recorded in-place
    change of ``p`` since kept of it (see ``engine.supersede``); and False where that version's values were
    changed without recording after the node read them (a computed value is then computed again). A leaf changed
    in place since is an error: the values the graph used are gone."""
    for superseded_at, changed_before, old in p._superseded:
        if tick < superseded_at:
            earlier = old()
            if earlier is None or (earlier._op is None and changed_before > tick):
                raise _changed(p)
            return earlier, changed_before < tick
    if p._op is None and p._version is not None and p._version[0] > tick:
        raise _changed(p)
    return p, True


def _changed(p: Tensor) -> GradientError:
    what = f"'{p.name}'" if p.name else f"of shape {tuple(p.shape)}"
    return GradientError(
        f"the tensor {what} was changed in place after the graph used it (an optimizer step, say), so the values "
        "the graph computed with are gone and it cannot be drawn or explained as it was. Call cr.draw / "
        "cr.explain before changing it, or change a copy."
    )


def _recover_values(ops: list[_Recorded], recorded: dict[int, _Recorded]) -> None:
    """Give every operation its value as the graph computed it: its tensor's where that is alive and unchanged,
    else the same primitive run again on its inputs' values, in recording order. A value known both ways (a
    tensor still alive downstream of values computed again) must agree to the last bit, or the values cannot
    be trusted: the primitive did not give the same result twice, or a value changed without being recorded."""
    again: set[int] = set()
    with engine.no_grad():
        for x in ops:
            known = x.tensor.data if x.tensor is not None else _UNKNOWN
            if known is not _UNKNOWN and not any(kind == "op" and p in again for kind, p in x.inputs):
                x.value = known
                continue
            values = [p.data if kind == "leaf" else recorded[p].value if kind == "op" else p for kind, p in x.inputs]
            try:
                value = x.op.run(values, x.params)
            except Exception as error:
                raise _not_recovered(f"computing '{x.op.name}' again failed ({error})") from error
            if known is _UNKNOWN:
                x.value = value
                again.add(x.tick)
            elif _same(value, known):
                x.value = known
            else:
                raise _not_recovered(
                    f"'{x.op.name}' computed again from its inputs, some of them computed again themselves, does not "
                    "give the values it holds, so the values computed again cannot be trusted"
                )


def _same(a: Any, b: Any) -> bool:
    xp = array_module(a, b)
    if getattr(a, "shape", ()) != getattr(b, "shape", ()) or getattr(a, "dtype", None) != getattr(b, "dtype", None):
        return False
    nan = getattr(getattr(a, "dtype", None), "kind", "") in "fc"
    return bool(xp.array_equal(a, b, equal_nan=nan))


def _not_recovered(why: str) -> GradientError:
    return GradientError(
        f"the values of the graph cannot be recovered exactly after backward() freed it: {why} (a primitive "
        "that does not give the same result twice, or a value changed without being recorded). Call cr.draw / "
        "cr.explain before backward(), or pass retain_graph=True."
    )


def _stand_in(x: _Recorded) -> Tensor:
    """A tensor for an operation whose own tensor is gone (or holds other values now): the values the graph
    computed and the node's operation, with nothing to go back through."""
    t = Tensor._from_op(x.value, x.op)
    t._tick, t._in0, t._in1 = x.tick, None, FREED
    if x.params:
        t._params = x.params
    if x.name:
        t.name = x.name
    return t


def _number_name(value: Any) -> str:
    size = getattr(value, "size", 1)
    if size == 1:
        return format_value(value)
    return f"array{list(value.shape)}"


def _name_unnamed(nodes: list[Node], reserved: Any = ()) -> None:
    """Give every node without a name one that no other node uses: the output z (or the next free letter), inputs
    x, y, x3, ..., intermediates from NAME_POOL, then n1, n2, ... Names chosen here are marked ``auto_named``."""
    seen: set[str] = set()
    for node in nodes:  # two tensors given the same name: the later ones get a prime, so none is mistaken
        if node.name and node.kind in ("input", "op"):
            while node.name in seen:
                node.name += "'"
            seen.add(node.name)
    taken = {n.name for n in nodes if n.name} | set(reserved)
    pool = [c for c in NAME_POOL if c not in taken]
    inputs = [c for c in INPUT_POOL if c not in taken]
    counters = {"x": 2, "n": 0}

    def fresh(prefix: str) -> str:
        while True:
            counters[prefix] += 1
            name = f"{prefix}{counters[prefix]}"
            if name not in taken:
                return name

    output = nodes[-1]
    if not output.name:
        free = [c for c in (OUTPUT_NAME, "f", "out") if c not in taken]
        output.name = free[0] if free else fresh("n")
        output.auto_named = True
        taken.add(output.name)
    for node in nodes:
        if node.name:
            continue
        if node.kind == "input":
            node.name = inputs.pop(0) if inputs else fresh("x")
        else:
            node.name = pool.pop(0) if pool else fresh("n")
        node.auto_named = True
        taken.add(node.name)


def rename(graph: Graph, names: Any, reserved: Any = ()) -> Graph:
    """Name the graph's values as the code does: ``names`` maps names to tensors (``locals()`` works: other
    values are ignored). Values not named there keep their own names or get fresh ones, none of them in
    ``reserved`` (variables the graph does not use, say). Returns the graph."""
    if not hasattr(names, "items"):
        raise TypeError(
            f"names must map names to tensors (a dict, or locals()), got {type(names).__name__}: "
            "cr.explain(z, names=locals())"
        )
    chosen: dict[int, str] = {}
    for key, value in names.items():
        if not isinstance(key, str):
            raise TypeError(
                f"names must map names (str) to tensors, got the key {key!r}"
            )  # a tensor known by two names keeps the first
        if type(value) is Tensor and not key.startswith("_"):
            chosen.setdefault(id(value), key)
    given = set(chosen.values()) | set(reserved)
    for node in graph.nodes:
        if node.tensor is not None and id(node.tensor) in chosen:
            node.name, node.auto_named = chosen[id(node.tensor)], False
        elif node.auto_named and node.name in given:  # other letters stay as they were: v is still sin(r)
            node.name = ""
    _name_unnamed(graph.nodes, reserved)
    return graph


def format_value(value: Any, digits: int = 6) -> str:
    """A value for a table or a picture: a number, a small array in one line, or dtype and shape."""
    size = getattr(value, "size", 1)
    if size == 1:
        number = value.item() if hasattr(value, "item") else value
        if isinstance(number, bool):
            return str(number)
        if isinstance(number, float):
            text = f"{number:.{digits}g}"
            return "0" if text == "-0" else text
        return str(number)
    if size <= SMALL:
        return _nested(array_module(value).asarray(value).tolist())
    return f"{value.dtype}{list(value.shape)}"


SMALL = 6  # tensors of at most this many elements show their values


def _nested(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return format_value(values, 4)
