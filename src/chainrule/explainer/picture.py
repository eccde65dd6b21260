"""Pictures of a graph, drawn like a textbook figure.

Values are boxes: the first line says what the value is (``r = x * y``), then its value and, once backward has
run, its gradient. Inputs stand on the left and the output on the right. Every use of a value is an edge of its
own, ending at a port of the operation's box, so ``x*x`` and ``x**x`` show two edges from ``x``; where the order
of the operands matters (÷, ^, −) each port is labelled inside the box (num/den, base/exp, +/−). Labels
sit only inside boxes and edges only run between them, so no label can cover another, a box or an edge.
The layered (Sugiyama) layout comes from igraph, an optional extra; this module measures boxes, routes edges
through the gaps between columns, and writes SVG or DOT. Big graphs are summarised first: chains of single-use
operations fold into one box, and if that is not enough the part farthest from the output folds into one box.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from .graph import Graph, Node, format_value
from .singular import singularities
from .walkthrough import EDGE_LABEL, PORT_LABEL, definition, role

MAX_NODES = 40  # boxes in a picture before it is summarised

FONT = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
FONT_SIZE = 12  # px: the page never scales a 7-operation graph below 11 px at 1,280 px
PORT_FONT_SIZE = FONT_SIZE  # port labels too: a picture scaled down keeps every label readable or none
CHAR_WIDTH = 7.3  # px per character at FONT_SIZE (monospace fonts advance 0.60 em: 7.2 px), rounded up
PORT_CHAR_WIDTH = CHAR_WIDTH
TITLE_WIDTH = 16  # characters: a longer first line (r = clip(x, 0.1, 0.9)) wraps, so columns stay narrow
LINE_HEIGHT = 16
PAD_X, PAD_Y = 8, 6
PORT_GAP = 6  # between the port labels and the box's text
COLUMN_GAP = 28  # the gap between columns, where the edges run
ROW_GAP = 18
MARGIN = 12
COLORS = {
    "input": "#dbeafe",
    "data": "#f1f5f9",
    "number": "#f1f5f9",
    "op": "#ffffff",
    "output": "#dcfce7",
    "summary": "#fef3c7",
}


@dataclass(eq=False)
class Box:
    key: int
    kind: str
    lines: list[str]
    layer: int = 0
    node: Node | None = None
    ports: int = 1  # how many edges end at this box (each at a port of its own)
    title_lines: int = 1  # the first lines, in bold: what the value is
    port_labels: list[str] = field(default_factory=list)  # one per port where the order matters
    x: float = 0.0
    y: float = 0.0

    @property
    def port_width(self) -> float:
        if not self.port_labels:
            return 0.0
        return max(len(label) for label in self.port_labels) * PORT_CHAR_WIDTH + PORT_GAP

    @property
    def width(self) -> float:
        return max(len(line) for line in self.lines) * CHAR_WIDTH + 2 * PAD_X + self.port_width

    @property
    def height(self) -> float:
        return max(len(self.lines), len(self.port_labels)) * LINE_HEIGHT + 2 * PAD_Y

    def port_y(self, port: int) -> float:
        """Where the edge into port ``port`` ends: ports share the left side evenly."""
        return self.y + self.height * (port + 1) / (self.ports + 1)


@dataclass
class Edge:
    source: int  # box keys
    target: int
    port: int  # which port of the target's box it ends at
    position: int = -1  # which input of the operation it is (-1: several, in a summary)


@dataclass
class View:
    """What is drawn: boxes and edges."""

    boxes: dict[int, Box] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    note: str = ""


def edge_label(node: Node) -> str:
    return EDGE_LABEL.get(node.op.name, node.op.name) if node.op is not None else ""


def build_view(graph: Graph, show_grads: bool, max_nodes: int = MAX_NODES) -> View:
    nodes = graph.nodes
    group = list(range(len(nodes)))  # each node's box: itself, or the box of the chain it folds into
    summarise = len(nodes) > max_nodes
    if summarise:
        group = _fold_chains(graph)
    members: dict[int, list[Node]] = {}
    for node in nodes:
        if summarise and node.kind == "number":
            continue  # constants are part of the operation they feed
        members.setdefault(group[node.index], []).append(node)
    keys = sorted(members)
    hidden: set[int] = set()
    if len(keys) > max_nodes:  # keep the boxes nearest the output (fewest edges away), fold the rest
        near = _by_distance_from_output(graph, group, set(keys))
        hidden = set(keys) - set(near[: max_nodes - 1])
    view = View()
    summary_key = -1
    if hidden:
        count = sum(len(members[k]) for k in hidden)
        view.boxes[summary_key] = Box(summary_key, "summary", [f"... {count} more nodes", "(earlier operations)"])
        view.note = f"{len(nodes)} nodes; the picture shows the {len(nodes) - count} next to the output"
    for key in keys:
        if key in hidden:
            continue
        view.boxes[key] = _box(key, members[key], graph, show_grads)
    seen: set[tuple[int, int]] = set()
    for node in nodes:
        target = group[node.index]
        if target not in view.boxes:
            continue
        for position, i in enumerate(node.inputs):
            source = group[i]
            if source == target or (summarise and nodes[i].kind == "number"):
                continue
            if source in hidden:
                source = summary_key
            if summarise or source == summary_key:  # a summary draws one edge per pair of boxes
                if (source, target) in seen:
                    continue
                seen.add((source, target))
                position = -1
            view.edges.append(Edge(source, target, 0, position))
    # every edge into a box gets a port of its own, in input order; ports are labelled where the order matters
    into: dict[int, list[Edge]] = {}
    for edge in view.edges:
        into.setdefault(edge.target, []).append(edge)
    for key, edges in into.items():
        box = view.boxes[key]
        box.ports = len(edges)
        for port, edge in enumerate(edges):
            edge.port = port
        node = box.node
        labels = [PORT_LABEL.get(role(node, e.position), "") for e in edges] if node is not None else []
        if not summarise and node is not None and node.op is not None and all(labels):
            box.port_labels = labels
    return view


def _by_distance_from_output(graph: Graph, group: list[int], keys: set[int]) -> list[int]:
    """The boxes in breadth-first order from the output's box, walking edges backwards."""
    inputs: dict[int, set[int]] = {k: set() for k in keys}
    for node in graph.nodes:
        target = group[node.index]
        if target in keys:
            inputs[target].update(group[i] for i in node.inputs if group[i] in keys and group[i] != target)
    start = group[graph.output.index]
    order, seen = [start], {start}
    for key in order:  # the list grows as it is walked: a queue
        for source in sorted(inputs[key], reverse=True):
            if source not in seen:
                seen.add(source)
                order.append(source)
    return order


def _fold_chains(graph: Graph) -> list[int]:
    """Fold each operation into its only consumer when it has exactly one and that consumer has no other
    input that needs a gradient: a chain of such operations becomes one box, named after its last node."""
    nodes = graph.nodes
    group = list(range(len(nodes)))
    for node in reversed(nodes):  # consumers come later, so their group is already final
        if node.kind != "op" or len(graph.consumers[node.index]) != 1:
            continue
        consumer = nodes[graph.consumers[node.index][0]]
        others = [nodes[i] for i in consumer.inputs if i != node.index]
        if all(o.kind in ("number", "data") for o in others):
            group[node.index] = group[consumer.index]
    return group


def _box(key: int, chain: list[Node], graph: Graph, show_grads: bool) -> Box:
    last = chain[-1]
    kind = "output" if last is graph.output else last.kind
    if last.kind == "op" and len(chain) == 1:
        lines = _wrap(f"{last.name} = {definition(graph, last)}")
    else:
        lines = [last.name]
    title_lines = len(lines)
    if len(chain) > 1:
        ops = [edge_label(n) for n in chain if n.kind == "op"]
        shown = ", ".join(ops[:4]) + (", ..." if len(ops) > 4 else "")
        lines.append(f"({len(ops)} ops: {shown})")
    if last.kind != "number":  # a constant's name is its value
        lines.append(f"value {format_value(last.value)}")
    if show_grads and last.kind != "number" and (last.kind != "data" or last.grad is not None):
        if singularities(graph).reason(last) is not None:
            lines.append("grad does not exist")
        else:
            lines.append(f"grad {format_value(last.grad) if last.grad is not None else 0}")
    return Box(key, kind, lines, node=last, title_lines=title_lines)


def _wrap(text: str, width: int = TITLE_WIDTH) -> list[str]:
    """``text`` in lines of at most ``width`` characters where it has spaces, continuation lines indented."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > width:
            lines.append(current)
            current = "  " + word
        else:
            current = candidate
    return [*lines, current]


def _layers(view: View) -> None:
    inputs: dict[int, list[int]] = {k: [] for k in view.boxes}
    consumers: dict[int, list[int]] = {k: [] for k in view.boxes}
    for edge in view.edges:
        inputs[edge.target].append(edge.source)
        consumers[edge.source].append(edge.target)
    for key in sorted(view.boxes):  # keys follow the recording order, so inputs come first
        box = view.boxes[key]
        if box.kind in ("op", "output"):
            box.layer = 1 + max((view.boxes[i].layer for i in inputs[key]), default=-1)
    for key, box in view.boxes.items():  # constants sit just before their first consumer
        if box.kind in ("data", "number") and consumers[key]:
            box.layer = max(0, min(view.boxes[c].layer for c in consumers[key]) - 1)


@dataclass
class Placed:
    """Where things are: each column's left and right edge, and each pair of boxes' route as the heights at
    which it crosses the columns in between."""

    left: list[float]
    right: list[float]
    routes: dict[tuple[int, int], list[tuple[int, float]]]
    width: float
    height: float


def layout(view: View) -> Placed:
    """Place the boxes, left to right by layer and in the order igraph's Sugiyama layout gives within a layer
    (fewest crossings), and route the edges that skip columns through free rows of those columns."""
    try:
        import igraph
    except ImportError as error:
        raise ImportError("drawing a graph needs the layout library igraph: pip install 'chainrule[draw]'") from error
    _layers(view)
    keys = list(view.boxes)
    index = {k: i for i, k in enumerate(keys)}
    pairs = list(dict.fromkeys((e.source, e.target) for e in view.edges))
    g = igraph.Graph(n=len(keys), edges=[(index[s], index[t]) for s, t in pairs], directed=True)
    placed = g.layout_sugiyama(layers=[view.boxes[k].layer for k in keys], maxiter=200)
    layers = max(b.layer for b in view.boxes.values()) + 1
    widths = [0.0] * layers
    for box in view.boxes.values():
        widths[box.layer] = max(widths[box.layer], box.width)
    left = [MARGIN + sum(widths[:i]) + COLUMN_GAP * i for i in range(layers)]
    right = [left[i] + widths[i] for i in range(layers)]
    row = max(b.height for b in view.boxes.values()) + ROW_GAP
    for k in keys:
        position, layer = placed.coords[index[k]][:2]
        box = view.boxes[k]
        box.x = left[int(layer)] + (widths[int(layer)] - box.width) / 2
        box.y = MARGIN + position * row + (row - ROW_GAP - box.height) / 2
    routes = {
        pair: [(int(layer), MARGIN + position * row + (row - ROW_GAP) / 2) for position, layer in points]
        for pair, points in zip(pairs, placed.edge_routing)
    }
    # the layout may start below or above zero: move everything to the top margin
    top = min([b.y for b in view.boxes.values()] + [y - row / 2 for r in routes.values() for _, y in r])
    shift = MARGIN - top
    for box in view.boxes.values():
        box.y += shift
    routes = {pair: [(layer, y + shift) for layer, y in points] for pair, points in routes.items()}
    bottom = max([b.y + b.height for b in view.boxes.values()] + [y + row / 2 for r in routes.values() for _, y in r])
    return Placed(left, right, routes, right[-1] + MARGIN, bottom + MARGIN)


def edge_points(view: View, placed: Placed, edge: Edge) -> list[tuple[float, float]]:
    """The corners of an edge's path: out of the source's right side to its column's edge, across each column it
    skips at a free height, into the target's column and to its port. Consecutive corners in different columns
    are joined by a curve through the gap between them; the others by straight lines."""
    a, b = view.boxes[edge.source], view.boxes[edge.target]
    start_y = a.y + a.height / 2
    points = [(a.x + a.width, start_y), (placed.right[a.layer], start_y)]
    for layer, y in placed.routes.get((edge.source, edge.target), []):
        points += [(placed.left[layer], y), (placed.right[layer], y)]
    end_y = b.port_y(edge.port)
    points += [(placed.left[b.layer], end_y), (b.x, end_y)]
    return points


def _path(points: list[tuple[float, float]]) -> str:
    path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for k, ((x0, y0), (x1, y1)) in enumerate(zip(points, points[1:])):
        if k % 2 == 1:  # from a column's right edge to the next column's left edge: a curve through the gap
            mid = (x0 + x1) / 2
            path += f" C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        else:
            path += f" L{x1:.1f},{y1:.1f}"
    return path


class Figure:
    """A picture of the graph behind a tensor: ``.svg()``, ``.dot()``, ``.save(path)``; shown inline in Jupyter.

    Gradients appear once backward has run on the graph (any input has a ``.grad``): each box then shows
    d output / d value, computed by the same reverse rules backward() uses.
    """

    def __init__(self, graph: Graph, max_nodes: int = MAX_NODES) -> None:
        if max_nodes < 3:
            raise ValueError(f"max_nodes must be at least 3 (the output, one input, one summary), got {max_nodes}")
        self.graph = graph
        self.max_nodes = max_nodes

    @property
    def show_grads(self) -> bool:
        return any(n.tensor is not None and n.tensor._grad is not None for n in self.graph.inputs)

    def view(self, show_grads: bool | None = None) -> View:
        show = self.show_grads if show_grads is None else show_grads
        if show:
            self.graph.walk_back()
        return build_view(self.graph, show, self.max_nodes)

    def svg(self, show_grads: bool | None = None) -> str:
        view = self.view(show_grads)
        return render_svg(view, layout(view))

    def dot(self, show_grads: bool | None = None) -> str:
        return render_dot(self.view(show_grads))

    def save(self, path: str | Path) -> Path:
        """Write the picture; the format follows the suffix: .svg, .dot (or .gv) or .html."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            text = self.svg()
        elif suffix in (".dot", ".gv"):
            text = self.dot()
        elif suffix in (".html", ".htm"):
            text = f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{self.svg()}</body></html>"
        else:
            raise ValueError(
                f"cannot save a picture as {suffix or 'a file without a suffix'}: use .svg, .dot or .html "
                "(any SVG tool converts to PNG)"
            )
        path.write_text(text, encoding="utf-8")
        return path

    def _repr_svg_(self) -> str:
        return self.svg()


def render_svg(view: View, placed: Placed) -> str:
    width, height = placed.width, placed.height
    if view.note:
        height += LINE_HEIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chainrule-graph" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" style="max-width: 100%; height: auto" '
        f'font-family="{FONT}" font-size="{FONT_SIZE}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'markerUnits="userSpaceOnUse" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker></defs>',
    ]
    for edge in view.edges:
        a, b = view.boxes[edge.source], view.boxes[edge.target]
        dashes = ' stroke-dasharray="4 3"' if a.kind == "summary" else ""
        out.append(
            f'<path class="edge" data-from="{_attr(_name(a))}" data-to="{_attr(_name(b))}" '
            f'data-source="{_index(a)}" data-target="{_index(b)}" data-position="{edge.position}" '
            f'd="{_path(edge_points(view, placed, edge))}" fill="none" stroke="#475569" stroke-width="1.3"{dashes} '
            'marker-end="url(#arrow)"/>'
        )
    for box in view.boxes.values():
        out.append(
            f'<g class="node" data-name="{_attr(_name(box))}" data-index="{_index(box)}" data-kind="{box.kind}">'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" rx="6" '
            f'fill="{COLORS[box.kind]}" stroke="#334155" stroke-width="1.2"/>'
        )
        text_x = box.x + box.port_width + PAD_X
        for i, line in enumerate(box.lines):
            title = i < box.title_lines
            kind = "title" if title else line.split(" ", 1)[0] if line.startswith(("value ", "grad ")) else "line"
            weight = ' font-weight="bold"' if title else ""
            y = box.y + PAD_Y + LINE_HEIGHT * (i + 1) - 4
            out.append(f'<text class="{kind}" x="{text_x:.1f}" y="{y:.1f}"{weight}>{html.escape(line)}</text>')
        if box.port_labels:
            divider = box.x + box.port_width + PAD_X / 2
            out.append(
                f'<line x1="{divider:.1f}" y1="{box.y + 3:.1f}" x2="{divider:.1f}" y2="{box.y + box.height - 3:.1f}" '
                'stroke="#cbd5e1"/>'
            )
        for port, label in enumerate(box.port_labels):
            y = box.port_y(port) + 4
            out.append(
                f'<text class="port" x="{box.x + 4:.1f}" y="{y:.1f}" font-size="{PORT_FONT_SIZE}" '
                f'fill="#7c2d12">{html.escape(label)}</text>'
            )
        out.append("</g>")
    if view.note:
        out.append(f'<text x="{MARGIN}" y="{height - MARGIN / 2:.1f}" fill="#64748b">{html.escape(view.note)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def render_dot(view: View) -> str:
    out = [
        "digraph chainrule {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="monospace"];',
    ]
    for key, box in view.boxes.items():
        label = "\\n".join(_dot(line) for line in box.lines)
        out.append(f'  n{key + 1} [label="{label}", fillcolor="{COLORS[box.kind]}"];')
    for edge in view.edges:
        box = view.boxes[edge.target]
        label = box.port_labels[edge.port] if box.port_labels else ""
        attributes = f' [headlabel="{_dot(label)}"]' if label else ""
        out.append(f"  n{edge.source + 1} -> n{edge.target + 1}{attributes};")
    out.append("}")
    return "\n".join(out) + "\n"


def _name(box: Box) -> str:
    return box.node.name if box.node is not None else box.lines[0]


def _index(box: Box) -> int:
    return box.node.index if box.node is not None else -1


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _attr(text: str) -> str:
    return html.escape(text, quote=True)
