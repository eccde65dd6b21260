"""The walk-through as one self-contained HTML page: the picture, the forward table, the backward steps and an
accuracy panel comparing the automatic derivative with finite differences over a range of step sizes.

Everything is inline (styles, the SVG picture, the plot), so the page opens without a network. A short script
at the end checks the page as the browser laid it out (every label inside its box, the plot drawn) and writes
the result into ``<html data-selfcheck>``, which the tests read back from a headless browser.
"""

from __future__ import annotations

import html
from typing import Any

from .accuracy import accuracy_section
from .graph import Graph, Node, format_value
from .singular import singularities
from .walkthrough import (
    FINDING_HEAD,
    arrived_text,
    backward_steps,
    definition,
    edge_text,
    gradient_text,
    ordered_inputs,
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #0f172a; }
code, td, th { font-family: ui-monospace, monospace; }
h1 code { overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
td:first-child { white-space: nowrap; }
td, th { border-bottom: 1px solid #e2e8f0; padding: 0.25rem 0.75rem; text-align: left; vertical-align: top; }
th { background: #f8fafc; }
.picture { overflow-x: auto; border: 1px solid #e2e8f0; border-radius: 8px; padding: 0.5rem; }
.note { color: #475569; }
.result { font-size: 1.1rem; }
"""

SELF_CHECK = """
<script>
(function () {
  var problems = [];
  var nodes = document.querySelectorAll('svg.chainrule-graph g.node');
  nodes.forEach(function (g) {
    var box = g.querySelector('rect').getBBox();
    g.querySelectorAll('text').forEach(function (t) {
      var b = t.getBBox();
      if (b.x < box.x || b.y < box.y || b.x + b.width > box.x + box.width || b.y + b.height > box.y + box.height)
        problems.push('label "' + t.textContent + '" overflows its box');
    });
  });
  var plot = document.querySelector('#accuracy svg');
  var plotSize = plot ? plot.getBoundingClientRect() : null;
  document.documentElement.setAttribute('data-selfcheck', JSON.stringify({
    nodes: nodes.length,
    edges: document.querySelectorAll('svg.chainrule-graph path.edge').length,
    plot: plotSize ? [Math.round(plotSize.width), Math.round(plotSize.height)] : null,
    problems: problems
  }));
})();
</script>
"""


def _esc(text: Any) -> str:
    return html.escape(str(text))


def page(
    graph: Graph,
    title: str = "",
    picture: bool = True,
    accuracy: bool = False,
    limit: int | None = 100,
    order: list[str] | None = None,
) -> str:
    heading = title or f"the graph of {graph.output.name}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>chainrule: {_esc(heading)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>How chainrule differentiates <code>{_esc(heading)}</code></h1>\n"
        + fragment(graph, picture=picture, accuracy=accuracy, limit=limit, order=order)
        + SELF_CHECK
        + "</body></html>\n"
    )


def _final(graph: Graph, node: Node) -> str:
    reason = singularities(graph).reason(node)
    head = f"d{graph.output.name}/d{node.name}"
    return f"{head} does not exist" if reason is not None else f"{head} = {format_value(node.grad)}"


def _rows(rows: list[str], limit: int | None, columns: int) -> str:
    """Table rows, the middle ones summarised when there are more than ``limit``."""
    if limit is None or len(rows) <= limit:
        return "".join(rows)
    head, tail = rows[: limit // 2], rows[len(rows) - (limit - limit // 2) :]
    skipped = len(rows) - len(head) - len(tail)
    return "".join(head) + f"<tr><td colspan='{columns}'>... {skipped} more rows ...</td></tr>" + "".join(tail)


def fragment(
    graph: Graph,
    picture: bool = True,
    accuracy: bool = False,
    limit: int | None = 100,
    order: list[str] | None = None,
) -> str:
    graph.walk_back()
    steps, received = backward_steps(graph)
    singular = singularities(graph)
    out = graph.output
    parts = []
    inputs = ordered_inputs(graph, order)
    at = ", ".join(f"{n.name} = {format_value(n.value)}" for n in inputs)
    parts.append(
        f"<p class='result'>{_esc(out.name)} = {_esc(format_value(out.value))}"
        + (f" at {_esc(at)}" if at else "")
        + "; "
        + ", ".join(_esc(_final(graph, n)) for n in inputs[:20])
        + (f", ... ({len(inputs) - 20} more inputs)" if len(inputs) > 20 else "")
        + "</p>"
    )
    if picture:
        parts.append("<section id='picture'><h2>The graph</h2>")
        parts.append(
            "<p class='note'>Values are boxes, operations label the edges; a value used by several operations "
            "has several edges leaving it. Each box shows its value and its gradient, the derivative of "
            f"{_esc(out.name)} with respect to it.</p>"
        )
        try:
            from .picture import Figure

            parts.append(f"<div class='picture'>{Figure(graph).svg(show_grads=True)}</div>")
        except ImportError as error:
            parts.append(f"<p class='note'>(no picture: {_esc(error)})</p>")
        parts.append("</section>")
    cells = [(n.name, definition(graph, n), format_value(n.value)) for n in graph.nodes]
    rows = _rows(["<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in cells], limit, 3)
    parts.append(
        "<section id='forward'><h2>Forward pass</h2><p class='note'>The computation split into simple operations, "
        f"each value named.</p><table><tr><th>name</th><th>definition</th><th>value</th></tr>{rows}</table></section>"
    )
    groups = []  # one group of rows per operation, kept whole when the table is summarised
    for step in steps:
        lines = []
        node = step.node
        for j, edge in enumerate(step.edges):
            local, receives = edge_text(step, edge)
            head = (
                f"<td rowspan='{len(step.edges)}'>{_esc(node.name)} = {_esc(definition(graph, node))}</td>"
                f"<td rowspan='{len(step.edges)}'>{_esc(arrived_text(node, step.arrived, out))}</td>"
                if j == 0
                else ""
            )
            finding = singular.edges.get((node.index, edge.position))
            if finding is not None:
                local += f" ({FINDING_HEAD[finding.kind]}: {finding.message})"
            lines.append(f"<tr>{head}<td>{_esc(local)}</td><td>{_esc(receives)}</td></tr>")
        groups.append("".join(lines))
    rows = _rows(groups, limit, 4)
    finals = "".join(f"<li>{_esc(gradient_text(n, received[n.index], graph))}</li>" for n in inputs)
    kinks = singular.kinks()
    if kinks:
        finals += "".join(f"<li class='kink'>kink: {_esc(message)}</li>" for message in kinks)
    parts.append(
        "<section id='backward'><h2>Backward pass</h2><p class='note'>From the output back to the inputs: each "
        "operation multiplies the gradient that reached it by the local derivative of each input; a value that "
        "feeds several operations adds up what they send back.</p>"
        "<table><tr><th>operation</th><th>gradient arriving</th><th>local derivative</th><th>sent back</th></tr>"
        f"{rows}</table><h3>Gradients</h3><ul>{finals}</ul></section>"
    )
    if accuracy:
        parts.append(accuracy_section(graph))
    return "\n".join(parts)
