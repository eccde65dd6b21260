"""Pictures of a graph, drawn like a textbook figure.

Values are boxes (name, value and, once backward has run, gradient), operations label the edges, inputs stand
on the left and the output on the right; a value used twice is one box with two edges leaving it. The layered
(Sugiyama) layout comes from igraph, an optional extra; this module only measures boxes and writes SVG or DOT.
Big graphs are summarised first: chains of single-use operations fold into one box, and if that is not enough
the part farthest from the output folds into one "more nodes" box.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from .graph import Graph, Node, format_value
from .walkthrough import EDGE_LABEL

MAX_NODES = 40  # boxes in a picture before it is summarised

CHAR_WIDTH = 7.6  # px per character of 12.5 px monospace text, rounded up so text always fits its box
LINE_HEIGHT = 17
PAD_X, PAD_Y = 10, 7
COLUMN_GAP = 78  # room for the edge labels
ROW_GAP = 26
MARGIN = 16
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
    x: float = 0.0
    y: float = 0.0

    @property
    def width(self) -> float:
        return max(len(line) for line in self.lines) * CHAR_WIDTH + 2 * PAD_X

    @property
    def height(self) -> float:
        return len(self.lines) * LINE_HEIGHT + 2 * PAD_Y


@dataclass
class View:
    """What is drawn: boxes and labelled edges (source key, target key, label)."""

    boxes: dict[int, Box] = field(default_factory=dict)
    edges: list[tuple[int, int, str]] = field(default_factory=list)
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
        chain = members[key]
        view.boxes[key] = _box(key, chain, graph, show_grads)
    seen: set[tuple[int, int]] = set()
    for node in nodes:
        target = group[node.index]
        if target not in view.boxes:
            continue
        for i in node.inputs:
            source = group[i]
            if source == target or (summarise and nodes[i].kind == "number"):
                continue
            if source in hidden:
                source = summary_key
            if (source, target) in seen:
                continue
            seen.add((source, target))
            view.edges.append((source, target, edge_label(node) if source != summary_key else ""))
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
    lines = [last.name]
    if len(chain) > 1:
        ops = [edge_label(n) for n in chain if n.kind == "op"]
        shown = ", ".join(ops[:4]) + (", ..." if len(ops) > 4 else "")
        lines.append(f"({len(ops)} ops: {shown})")
    lines.append(f"value {format_value(last.value)}")
    if show_grads and last.kind != "number" and (last.kind != "data" or last.grad is not None):
        lines.append(f"grad {format_value(last.grad) if last.grad is not None else 0}")
    return Box(key, kind, lines, node=last)


def _layers(view: View) -> None:
    inputs: dict[int, list[int]] = {k: [] for k in view.boxes}
    consumers: dict[int, list[int]] = {k: [] for k in view.boxes}
    for source, target, _ in view.edges:
        inputs[target].append(source)
        consumers[source].append(target)
    for key in sorted(view.boxes):  # keys follow the recording order, so inputs come first
        box = view.boxes[key]
        if box.kind in ("op", "output"):
            box.layer = 1 + max((view.boxes[i].layer for i in inputs[key]), default=-1)
    for key, box in view.boxes.items():  # constants sit just before their first consumer
        if box.kind in ("data", "number") and consumers[key]:
            box.layer = max(0, min(view.boxes[c].layer for c in consumers[key]) - 1)


def layout(view: View) -> dict[tuple[int, int], list[tuple[float, float]]]:
    """Place the boxes (left to right by layer) and route the edges; returns each edge's bend points."""
    try:
        import igraph
    except ImportError as error:
        raise ImportError("drawing a graph needs the layout library igraph: pip install 'chainrule[draw]'") from error
    _layers(view)
    keys = list(view.boxes)
    index = {k: i for i, k in enumerate(keys)}
    g = igraph.Graph(n=len(keys), edges=[(index[s], index[t]) for s, t, _ in view.edges], directed=True)
    placed = g.layout_sugiyama(layers=[view.boxes[k].layer for k in keys], maxiter=200)
    layers = max(b.layer for b in view.boxes.values()) + 1
    widths = [0.0] * layers
    for box in view.boxes.values():
        widths[box.layer] = max(widths[box.layer], box.width)
    left = [MARGIN + sum(widths[:i]) + COLUMN_GAP * i for i in range(layers)]
    row = max(b.height for b in view.boxes.values()) + ROW_GAP
    for k in keys:
        position, layer = placed.coords[index[k]][:2]
        box = view.boxes[k]
        box.x = left[int(layer)] + (widths[int(layer)] - box.width) / 2
        box.y = MARGIN + position * row
    routes = {}
    for (source, target, _), points in zip(view.edges, placed.edge_routing):
        routes[source, target] = [
            (left[int(layer)] + widths[int(layer)] / 2, MARGIN + position * row + row / 2 - ROW_GAP / 2)
            for position, layer in points
        ]
    # the layout may start below or above zero: move everything to the top margin
    top = min([b.y for b in view.boxes.values()] + [y - row / 2 for r in routes.values() for _, y in r])
    for box in view.boxes.values():
        box.y += MARGIN - top
    return {edge: [(x, y + MARGIN - top) for x, y in points] for edge, points in routes.items()}


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
        routes = layout(view)
        return render_svg(view, routes)

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


def render_svg(view: View, routes: dict) -> str:
    bends = [point for points in routes.values() for point in points]
    width = max([b.x + b.width for b in view.boxes.values()] + [x for x, _ in bends]) + MARGIN
    height = max([b.y + b.height for b in view.boxes.values()] + [y + ROW_GAP for _, y in bends]) + MARGIN
    if view.note:
        height += LINE_HEIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chainrule-graph" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12.5">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker></defs>',
    ]
    labels = []
    for source, target, label in view.edges:
        a, b = view.boxes[source], view.boxes[target]
        points = [(a.x + a.width, a.y + a.height / 2), *routes.get((source, target), []), (b.x, b.y + b.height / 2)]
        path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            mid = (x0 + x1) / 2
            path += f" C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        dashes = ' stroke-dasharray="4 3"' if a.kind == "summary" else ""
        out.append(
            f'<path class="edge" data-from="{_attr(a.lines[0])}" data-to="{_attr(b.lines[0])}" d="{path}" '
            f'fill="none" stroke="#475569" stroke-width="1.3"{dashes} marker-end="url(#arrow)"/>'
        )
        if not label:
            continue
        (x0, y0), (x1, y1) = points[-2], points[-1]
        lx, ly = x0 + (x1 - x0) * 0.55, y0 + (y1 - y0) * 0.55
        w = len(label) * CHAR_WIDTH + 6
        labels.append(
            f'<g class="edge-label"><rect x="{lx - w / 2:.1f}" y="{ly - 9:.1f}" width="{w:.1f}" height="16" rx="3" '
            f'fill="#fff" stroke="#cbd5e1"/><text x="{lx:.1f}" y="{ly + 3.5:.1f}" text-anchor="middle" '
            f'fill="#7c2d12">{html.escape(label)}</text></g>'
        )
    for box in view.boxes.values():
        out.append(
            f'<g class="node" data-name="{_attr(box.lines[0])}" data-kind="{box.kind}">'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" rx="6" '
            f'fill="{COLORS[box.kind]}" stroke="#334155" stroke-width="1.2"/>'
        )
        for i, line in enumerate(box.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            y = box.y + PAD_Y + LINE_HEIGHT * (i + 1) - 4.5
            out.append(f'<text x="{box.x + PAD_X:.1f}" y="{y:.1f}"{weight}>{html.escape(line)}</text>')
        out.append("</g>")
    out += labels
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
    for source, target, label in view.edges:
        out.append(f'  n{source + 1} -> n{target + 1} [label="{_dot(label)}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _attr(text: str) -> str:
    return html.escape(text, quote=True)
