"""The textbook walk-through of a captured graph, as rows that the text, the HTML page and the picture share.

Forward: every value with its name, its definition (``r = x * y``) and its value. Backward: from the output
back to the inputs, for each operation the local derivative of each input (as a formula and as a number), the
gradient arriving, their product, and where a value feeds several operations the contributions being added.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from .graph import Graph, Node, format_value
from .singular import singularities

INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "matmul": "@"}
# How an operation is labelled on the edges of a picture.
EDGE_LABEL = {**INFIX, "multiply": "×", "divide": "÷", "power": "^", "negative": "neg"}
# Functions shown by the name people write, not the primitive's (np.absolute is abs).
DISPLAY_NAME = {"absolute": "abs"}
# What each operand of an operation is, where the order matters or an operand can be used twice (x*x, x**x).
ROLES = {
    "divide": ("numerator", "denominator"),
    "power": ("base", "exponent"),
    "subtract": ("left operand", "right operand"),
    "multiply": ("first factor", "second factor"),
    "add": ("first term", "second term"),
    "arctan2": ("first argument", "second argument"),
    "matmul": ("left matrix", "right matrix"),
}
# The short form of a role, written beside an edge's end in a picture.
PORT_LABEL = {
    "numerator": "num",
    "denominator": "den",
    "base": "base",
    "exponent": "exp",
    "left operand": "+",  # x - y: x counts with a plus, y with a minus
    "right operand": "−",
    "first argument": "1st",
    "second argument": "2nd",
    "left matrix": "left",
    "right matrix": "right",
}
CONTRIBUTIONS_SHOWN = 6  # a value used more often than this shows its first uses and a count
FINDING_HEAD = {"kink": "kink", "undefined": "no derivative"}
PARAMS_SHOWN_MAX = 24  # characters of a parameter's repr beyond which it is abbreviated


def definition(graph: Graph, node: Node) -> str:
    """``x * y``, ``sin(r)``, ``sum(h, axis=1)``: what a node computes, in terms of its inputs' names."""
    if node.kind == "input":
        return "input"
    if node.kind in ("data", "number"):
        return "constant"
    names = [graph.nodes[i].name for i in node.inputs]
    op = display_name(node)
    if op in INFIX and len(names) == 2:
        return f"{names[0]} {INFIX[op]} {names[1]}"
    if op == "negative":
        return f"-{names[0]}"
    if op == "getitem":
        return f"{names[0]}[{_index(node.params.get('index'))}]"
    if op == "clip" and len(names) == 1:  # written as the expression writes it: clip(x, 0, 5)
        bounds = [format_value(node.params[k]) if node.params.get(k) is not None else "None" for k in ("lo", "hi")]
        return f"clip({names[0]}, {', '.join(bounds)})"
    params = [f"{k}={_short(v)}" for k, v in node.params.items() if v is not None and v is not False]
    return f"{op}({', '.join(names + params)})"


def display_name(node: Node) -> str:
    return DISPLAY_NAME.get(node.op.name, node.op.name) if node.op is not None else ""


def role(node: Node, position: int) -> str:
    """What input ``position`` is to ``node``: "base", "denominator", ..., or "argument 2"."""
    roles = ROLES.get(node.op.name) if node.op is not None else None
    if roles is not None and len(node.inputs) == len(roles):
        return roles[position]
    return f"argument {position + 1}"


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
    if node.op.name == "power" and position == 0:
        simple = _power_rule(graph, node)
        if simple is not None:
            return simple
    names = {letter: graph.nodes[i].name for letter, i in zip("abcdefgh", node.inputs)}
    names["out"] = node.name
    names.update({k: _short(v) for k, v in node.params.items()})
    return formulas.text(position, names)


def _power_rule(graph: Graph, node: Node) -> str | None:
    """d(a^c)/da for a constant exponent c, with the arithmetic done: 2·x, 3·x^2, 0.5·x^(-0.5), not c·a^(c-1)."""
    base, exponent = (graph.nodes[i] for i in node.inputs)
    if exponent.needs_grad or not exponent.is_scalar:
        return None
    c = float(exponent.value)
    if c == 0:
        return "0"
    if c == 1:
        return "1"
    factor = "" if c == 1 else "-" if c == -1 else f"{format_value(c)}·"
    power = c - 1
    shown = format_value(power)
    if power == 1:
        return f"{factor}{base.name}"
    if power < 0 or power != int(power):
        shown = f"({shown})"
    return f"{factor}{base.name}^{shown}"


@dataclass
class Edge:
    """One input of one operation, seen from the backward pass."""

    source: Node  # the input
    position: int  # which input of the operation it is
    formula: str  # the local derivative (scalars) or what the input receives, in words
    local: Any  # the local derivative as a number, or None
    sent: Any  # what the input receives
    undefined: str | None = None  # why what the input receives does not exist (see singular.py)


@dataclass
class Step:
    """One operation of the backward pass: the node, the gradient that arrived and the edges it feeds back."""

    node: Node
    arrived: list[tuple[Node, Any, int]]  # (consumer, contribution, input position) for every use of the node
    edges: list[Edge]


def backward_steps(graph: Graph) -> tuple[list[Step], dict[int, list[tuple[Node, Any, int]]]]:
    """The backward pass in the order it runs, from the output back to the inputs, and for every node the
    contributions it received (consumer, value)."""
    graph.walk_back()
    singular = singularities(graph)
    received: dict[int, list[tuple[Node, Any, int]]] = {n.index: [] for n in graph.nodes}
    result = []
    for node in reversed(graph.nodes):
        if node.kind != "op" or node.grad is None:
            continue
        edges = []
        for position, i in enumerate(node.inputs):
            if node.sent[position] is not None:
                local, sent = node.local[position], node.sent[position]
                finding = singular.edges.get((node.index, position))
                undefined = singular.reason(node) or (
                    finding.message if finding is not None and finding.kind == "undefined" else None
                )
                edge = Edge(graph.nodes[i], position, formula(graph, node, position), local, sent, undefined)
                edges.append(edge)
        result.append(Step(node, list(received[node.index]), edges))
        for edge in edges:
            received[edge.source.index].append((node, edge.sent, edge.position))
    return result, received


def arrived_text(
    node: Node, arrived: list[tuple[Node, Any, int]], output: Node, graph_reason: str | None = None
) -> str:
    """``dz/dr = 0.279415 (from v) + 0.96017 (from u) = 1.23959``; a value used twice by one operation says
    which use each part comes from: ``dz/dx = 4 (from z, via the base) + 2.77259 (from z, via the exponent)``."""
    head = f"g = d{output.name}/d{node.name}" if node.kind == "op" else f"d{output.name}/d{node.name}"
    if graph_reason is not None:
        return f"{head} does not exist: {graph_reason}"
    if node is output:
        return f"{head} = 1 (the start)" if node.is_scalar else f"{head} = ones (the start: the gradient of sum)"
    total = format_value(node.grad)
    if len(arrived) <= 1:
        return f"{head} = {total}"
    uses: dict[int, int] = {}
    for consumer, _, _ in arrived:
        uses[consumer.index] = uses.get(consumer.index, 0) + 1
    parts = [
        f"{format_value(sent)} (from {consumer.name}"
        + (f", via the {role(consumer, position)})" if uses[consumer.index] > 1 else ")")
        for consumer, sent, position in arrived
    ]
    if len(parts) > CONTRIBUTIONS_SHOWN:
        parts = [*parts[: CONTRIBUTIONS_SHOWN - 1], f"... ({len(arrived) - CONTRIBUTIONS_SHOWN + 1} more)"]
    return f"{head} = {' + '.join(parts)} = {total}"


def edge_text(step: Step, edge: Edge) -> tuple[str, str]:
    """The two halves of an edge's line: the local derivative, and what the input receives."""
    node, source = step.node, edge.source
    twice = sum(e.source is source for e in step.edges) > 1  # x*x, x**x: say which use this is
    via = f" via the {role(node, edge.position)}" if twice else ""
    formulas = node.op.formulas
    if edge.undefined is not None:  # no number to show: the convention's value would pass for the derivative
        return f"d{node.name}/d{source.name}{via} = {edge.formula}", "no value: it does not exist here"
    if formulas is not None and formulas.local:
        if edge.local is not None:  # single numbers: the textbook product
            local = format_value(edge.local)
            product = f"{format_value(node.grad)} × {local} = {format_value(edge.sent)}"
            shown = edge.formula if edge.formula == local else f"{edge.formula} = {local}"
            return f"d{node.name}/d{source.name}{via} = {shown}", f"{source.name} receives {product}"
        return f"d{node.name}/d{source.name}{via} = {edge.formula} (elementwise)", (
            f"{source.name} receives g · ({edge.formula}) = {format_value(edge.sent)}"
        )
    return f"{source.name} receives{via} {edge.formula}", f"= {format_value(edge.sent)}"


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


def explain_text(graph: Graph, title: str = "", limit: int | None = 100, order: list[str] | None = None) -> Explanation:
    """The walk-through as text; with more than ``limit`` nodes, the middle is summarised. The gradients are
    listed in ``order`` (names of inputs) where given, else in the order the computation first uses them."""
    out = graph.output
    singular = singularities(graph)
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
        body += [f"      {line}" for line in step_lines(graph, step)]
    lines += _limited(body, None if limit is None else 2 * limit)
    lines.append("")
    lines.append("Gradients")
    inputs = ordered_inputs(graph, order)
    if not inputs:
        lines.append("  (no input requires grad)")
    for node in inputs:  # every input of the graph is reached by the walk
        lines.append(f"  {gradient_text(node, received[node.index], graph)}")
    kinks = singular.kinks()
    if kinks:
        lines += ["", "Kinks (no derivative exists there; chainrule's convention is used)"]
        lines += [f"  {message}" for message in kinks]
    text = Explanation("\n".join(lines))
    text.graph = graph
    return text


def step_lines(graph: Graph, step: Step) -> list[str]:
    """One operation of the backward pass in words: the gradient arriving, then for each input the local
    derivative and what the input receives, and what is singular there."""
    singular = singularities(graph)
    node = step.node
    lines = [f"gradient {arrived_text(node, step.arrived, graph.output, singular.reason(node))}"]
    for edge in step.edges:
        left, right = edge_text(step, edge)
        lines.append(f"{left:<38} {right}")
        finding = singular.edges.get((node.index, edge.position))
        if finding is not None:
            lines.append(f"{FINDING_HEAD[finding.kind]}: {finding.message}")
    return lines


def gradient_text(node: Node, arrived: list[tuple[Node, Any, int]], graph: Graph) -> str:
    """The final line of an input: its gradient and how it was summed, or why it does not exist."""
    reason = singularities(graph).reason(node)
    if reason is not None:
        return f"d{graph.output.name}/d{node.name} does not exist: {reason}"
    return arrived_text(node, arrived, graph.output)


def ordered_inputs(graph: Graph, order: list[str] | None) -> list[Node]:
    inputs = graph.inputs
    if not order:
        return inputs
    rank = {name: i for i, name in enumerate(order)}
    return sorted(inputs, key=lambda n: rank.get(n.name, len(rank)))


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


@dataclass
class Frame:
    """One moment of the backward pass, for the stepper: the operation being processed (None at the start and the
    end), the edges its gradient travels along (input index, operation index, input position), the running sums
    of the values that have received something, and the text of the frame."""

    node: Node | None
    step: int  # index into backward_steps (-1: the start, len: the end)
    edges: list[tuple[int, int, int]]
    sums: dict[int, str]
    heading: str
    lines: list[str]
    complete: list[int] = dataclass_field(default_factory=list)  # values whose every contribution has arrived


def frames(graph: Graph) -> list[Frame]:
    """The backward pass one operation at a time: a start frame, one frame per operation, an end frame."""
    steps, received = backward_steps(graph)
    out = graph.output
    singular = singularities(graph)
    total = len(steps)
    result = [
        Frame(
            None,
            -1,
            [],
            {out.index: "1"},
            f"Start: {out.name} is the output",
            [f"d{out.name}/d{out.name} = 1: the gradient starts at the output"],
            [out.index],
        )
    ]
    so_far: dict[int, list[tuple[Node, Any, int]]] = {}
    for k, step in enumerate(steps):
        node = step.node
        lines = step_lines(graph, step)
        edges = []
        for edge in step.edges:
            edges.append((edge.source.index, node.index, edge.position))
            so_far.setdefault(edge.source.index, []).append((node, edge.sent, edge.position))
        sums = {}
        complete = [out.index]
        for index, parts in so_far.items():
            source = graph.nodes[index]
            every = len(received[index])
            text = " + ".join(f"{format_value(sent)} (from {consumer.name})" for consumer, sent, _ in parts)
            if len(parts) > 1:
                text += f" = {format_value(sum(np.asarray(s) for _, s, _ in parts))}"
            if singular.reason(source) is not None:
                text = "does not exist"
            sums[index] = text
            if len(parts) == every:
                complete.append(index)
            if index in {e[0] for e in edges}:
                waiting = every - len(parts)
                more = f", waiting for {waiting} more" if waiting else " (complete)"
                lines.append(f"running sum at {source.name}: {text}{more}")
        heading = f"Step {k + 1} of {total}: {node.name} = {definition(graph, node)}"
        result.append(Frame(node, k, edges, sums, heading, lines, complete))
    finals = [gradient_text(n, received[n.index], graph) for n in graph.inputs]
    result.append(
        Frame(
            None,
            total,
            [],
            dict(result[-1].sums) if steps else {},
            "Done: every input has its gradient"
            if not singular.undefined
            else "Done: the pass has reached every input",
            finals or ["(no input requires grad)"],
            list(result[-1].complete),
        )
    )
    return result


def step_frames(graph: Graph, order: list[str] | None = None) -> list[str]:
    """The frames as text, for ``chainrule explain --step``."""
    shown = frames(graph)
    if order:
        last = shown[-1]
        received = backward_steps(graph)[1]
        last.lines = [gradient_text(n, received[n.index], graph) for n in ordered_inputs(graph, order)] or last.lines
    return [
        f"[{i}/{len(shown) - 1}] {f.heading}\n" + "\n".join(f"    {line}" for line in f.lines)
        for i, f in enumerate(shown)
    ]
