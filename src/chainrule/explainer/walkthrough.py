"""The textbook walk-through of a captured graph, as rows that the text, the HTML page and the picture share.

Forward: every value with its name, its definition (``r = x * y``) and its value. Backward: from the output
back to the inputs, for each operation the local derivative of each input (as a formula and as a number), the
gradient arriving, their product, and where a value feeds several operations the contributions being added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import Graph, Node, format_value

INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "matmul": "@"}
# How an operation is labelled on the edges of a picture.
EDGE_LABEL = {**INFIX, "multiply": "×", "divide": "÷", "power": "^", "negative": "neg"}
CONTRIBUTIONS_SHOWN = 6  # a value used more often than this shows its first uses and a count
PARAMS_SHOWN_MAX = 24  # characters of a parameter's repr beyond which it is abbreviated


def definition(graph: Graph, node: Node) -> str:
    """``x * y``, ``sin(r)``, ``sum(h, axis=1)``: what a node computes, in terms of its inputs' names."""
    if node.kind == "input":
        return "input"
    if node.kind in ("data", "number"):
        return "constant"
    names = [graph.nodes[i].name for i in node.inputs]
    op = node.op.name
    if op in INFIX and len(names) == 2:
        return f"{names[0]} {INFIX[op]} {names[1]}"
    if op == "negative":
        return f"-{names[0]}"
    if op == "getitem":
        return f"{names[0]}[{_index(node.params.get('index'))}]"
    params = [f"{k}={_short(v)}" for k, v in node.params.items() if v is not None and v is not False]
    return f"{op}({', '.join(names + params)})"


def _index(index: Any) -> str:
    """An index as it was written: ``1:``, ``::2``, ``0, ...``, ``array[5]``."""
    parts = index if isinstance(index, tuple) else (index,)
    shown = []
    for part in parts:
        if isinstance(part, slice):
            text = ":".join("" if v is None else str(v) for v in (part.start, part.stop))
            shown.append(text + (f":{part.step}" if part.step is not None else ""))
        elif part is Ellipsis:
            shown.append("...")
        else:
            shown.append(_short(part))
    return ", ".join(shown)


def _short(value: Any) -> str:
    text = repr(value) if not hasattr(value, "shape") else f"array{list(value.shape)}"
    return text if len(text) <= PARAMS_SHOWN_MAX else text[: PARAMS_SHOWN_MAX - 3] + "..."


def formula(graph: Graph, node: Node, position: int) -> str:
    """The derivative rule of ``node`` for one input, in words, with the graph's names filled in."""
    formulas = node.op.formulas
    if formulas is None:
        return f"the reverse rule of {node.op.name}"
    names = {letter: graph.nodes[i].name for letter, i in zip("abcdefgh", node.inputs)}
    names["out"] = node.name
    names.update({k: _short(v) for k, v in node.params.items()})
    return formulas.text(position, names)


@dataclass
class Edge:
    """One input of one operation, seen from the backward pass."""

    source: Node  # the input
    formula: str  # the local derivative (scalars) or what the input receives, in words
    local: Any  # the local derivative as a number, or None
    sent: Any  # what the input receives


@dataclass
class Step:
    """One operation of the backward pass: the node, the gradient that arrived and the edges it feeds back."""

    node: Node
    arrived: list[tuple[Node, Any]]  # (consumer, contribution) for every operation the node feeds
    edges: list[Edge]


def backward_steps(graph: Graph) -> tuple[list[Step], dict[int, list[tuple[Node, Any]]]]:
    """The backward pass in the order it runs, from the output back to the inputs, and for every node the
    contributions it received (consumer, value)."""
    graph.walk_back()
    received: dict[int, list[tuple[Node, Any]]] = {n.index: [] for n in graph.nodes}
    result = []
    for node in reversed(graph.nodes):
        if node.kind != "op" or node.grad is None:
            continue
        edges = []
        for position, i in enumerate(node.inputs):
            if node.sent[position] is not None:
                edge = Edge(graph.nodes[i], formula(graph, node, position), node.local[position], node.sent[position])
                edges.append(edge)
        result.append(Step(node, list(received[node.index]), edges))
        for edge in edges:
            received[edge.source.index].append((node, edge.sent))
    return result, received


def arrived_text(node: Node, arrived: list[tuple[Node, Any]], output: Node) -> str:
    """``dz/dr = 0.279415 (from v) + 0.96017 (from u) = 1.23959``."""
    head = f"g = d{output.name}/d{node.name}" if node.kind == "op" else f"d{output.name}/d{node.name}"
    if node is output:
        return f"{head} = 1 (the start)" if node.is_scalar else f"{head} = ones (the start: the gradient of sum)"
    total = format_value(node.grad)
    if len(arrived) <= 1:
        return f"{head} = {total}"
    parts = [f"{format_value(sent)} (from {consumer.name})" for consumer, sent in arrived]
    if len(parts) > CONTRIBUTIONS_SHOWN:
        parts = [*parts[: CONTRIBUTIONS_SHOWN - 1], f"... ({len(arrived) - CONTRIBUTIONS_SHOWN + 1} more)"]
    return f"{head} = {' + '.join(parts)} = {total}"


def edge_text(step: Step, edge: Edge) -> tuple[str, str]:
    """The two halves of an edge's line: the local derivative, and what the input receives."""
    node, source = step.node, edge.source
    formulas = node.op.formulas
    if formulas is not None and formulas.local:
        if edge.local is not None:  # single numbers: the textbook product
            local = format_value(edge.local)
            product = f"{format_value(node.grad)} × {local} = {format_value(edge.sent)}"
            shown = edge.formula if edge.formula == local else f"{edge.formula} = {local}"
            return f"d{node.name}/d{source.name} = {shown}", f"{source.name} receives {product}"
        return f"d{node.name}/d{source.name} = {edge.formula} (elementwise)", (
            f"{source.name} receives g · ({edge.formula}) = {format_value(edge.sent)}"
        )
    return f"{source.name} receives {edge.formula}", f"= {format_value(edge.sent)}"


class Explanation(str):
    """The walk-through as text (this string itself); ``.html()`` gives it as a self-contained page."""

    graph: Graph

    def html(self, picture: bool = True, accuracy: bool = False) -> str:
        from .report import page

        return page(self.graph, picture=picture, accuracy=accuracy)

    def _repr_html_(self) -> str:
        from .report import fragment

        return fragment(self.graph, picture=True)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def explain_text(graph: Graph, title: str = "", limit: int | None = 100) -> Explanation:
    """The walk-through as text; with more than ``limit`` nodes, the middle is summarised."""
    out = graph.output
    lines = []
    if title:
        lines += [title, ""]
    lines.append("Forward pass: the expression split into simple operations, each value named")
    rows = [(n.name, definition(graph, n), format_value(n.value)) for n in graph.nodes]
    lines += _table(("name", "definition", "value"), _limited(rows, limit))
    lines.append("")
    all_steps, received = backward_steps(graph)
    lines.append(
        f"Backward pass: from {out.name} back to the inputs, multiplying each local derivative into the gradient "
        "and adding up where a value feeds several operations"
    )
    body: list[str] = []
    for step in all_steps:
        node = step.node
        body.append(f"  {node.name} = {definition(graph, node)}")
        body.append(f"      gradient {arrived_text(node, step.arrived, out)}")
        for edge in step.edges:
            left, right = edge_text(step, edge)
            body.append(f"      {left:<38} {right}")
    lines += _limited(body, None if limit is None else 2 * limit)
    lines.append("")
    lines.append("Gradients")
    inputs = graph.inputs
    if not inputs:
        lines.append("  (no input requires grad)")
    for node in inputs:  # every input of the graph is reached by the walk
        lines.append(f"  {arrived_text(node, received[node.index], out)}")
    text = Explanation("\n".join(lines))
    text.graph = graph
    return text


def _limited(rows: list, limit: int | None) -> list:
    if limit is None or len(rows) <= limit:
        return rows
    head, tail = rows[: limit // 2], rows[-(limit - limit // 2) :]
    skipped = len(rows) - len(head) - len(tail)
    marker = f"  ... {skipped} more lines (pass limit=None to see all)"
    if rows and isinstance(rows[0], tuple):
        return [*head, ("...", f"{skipped} more", ""), *tail]
    return [*head, marker, *tail]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  " + "  ".join("-" * w for w in widths)
    return [fmt.format(*header).rstrip(), rule, *(fmt.format(*r).rstrip() for r in rows)]
