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

from .. import engine
from ..backend import array_module
from ..errors import GradientError
from ..primitive import Primitive
from ..tensor import Tensor

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
        with engine.no_grad():
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
    """The graph that produced ``t``, walked iteratively from ``t`` back to its leaves."""
    if type(t) is not Tensor:
        raise TypeError(f"expected a chainrule Tensor, got {type(t).__name__}")
    found: dict[int, Tensor] = {id(t): t}
    stack = [t]
    while stack:
        node = stack.pop()
        if node._op is None:
            continue
        if node._inputs is None:
            raise GradientError(
                f"the graph behind this tensor was freed by backward() (at '{node._op.name}'), so it cannot be "
                "drawn or explained. Call cr.draw / cr.explain before backward(), or pass retain_graph=True."
            )
        for parent in node._inputs:
            if type(parent) is Tensor and id(parent) not in found:
                found[id(parent)] = parent
                stack.append(parent)
    ops = sorted((x for x in found.values() if x._op is not None), key=lambda x: x._tick)
    # the leaves in the order the computation first uses them
    first_use = [p for x in ops for p in x._inputs if type(p) is Tensor and p._op is None] or [t]
    leaves = list({id(x): x for x in first_use}.values())
    nodes: list[Node] = []
    index_of: dict[int, int] = {}
    for x in leaves:
        index_of[id(x)] = len(nodes)
        nodes.append(Node(len(nodes), x.name or "", x.data, "input" if x._rg else "data", tensor=x))
    for x in ops:
        inputs = []
        for parent in x._inputs:
            if type(parent) is Tensor:
                inputs.append(index_of[id(parent)])
            else:  # a plain number or array the operation took as it was
                inputs.append(len(nodes))
                nodes.append(Node(len(nodes), _number_name(parent), parent, "number"))
        index_of[id(x)] = len(nodes)
        nodes.append(Node(len(nodes), x.name or "", x.data, "op", x._op, tuple(inputs), dict(x._params), x))
    _name_unnamed(nodes)
    return Graph(nodes)


def _number_name(value: Any) -> str:
    size = getattr(value, "size", 1)
    if size == 1:
        return format_value(value)
    return f"array{list(value.shape)}"


def _name_unnamed(nodes: list[Node], reserved: Any = ()) -> None:
    """Give every node without a name one that no other node uses: the output z (or the next free letter), inputs
    x, y, x3, ..., intermediates from NAME_POOL, then n1, n2, ... Names chosen here are marked ``auto_named``."""
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
    chosen: dict[int, str] = {}
    for key, value in dict(names).items():  # a tensor known by two names keeps the first
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
