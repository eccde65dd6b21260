"""The walk-through as one self-contained HTML page: the picture, the forward table, the backward steps and an
accuracy panel comparing the automatic derivative with finite differences over a range of step sizes.

Everything is inline (styles, the SVG picture, the plot), so the page opens without a network. A short script
at the end checks the page as the browser laid it out (every label inside its box, the plot drawn) and writes
the result into ``<html data-selfcheck>``, which the tests read back from a headless browser.
"""

from __future__ import annotations

import html
import io
import warnings
from typing import Any

import numpy as np

from .graph import Graph, Node, format_value
from .walkthrough import arrived_text, backward_steps, definition, edge_text

STEPS = tuple(10.0**-k for k in range(1, 16))  # finite-difference step sizes, 1e-1 down to 1e-15
ACCURACY_INPUTS = 4  # inputs compared with finite differences on the page

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


def page(graph: Graph, title: str = "", picture: bool = True, accuracy: bool = False, limit: int | None = 100) -> str:
    heading = title or f"the graph of {graph.output.name}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>chainrule: {_esc(heading)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>How chainrule differentiates <code>{_esc(heading)}</code></h1>\n"
        + fragment(graph, picture=picture, accuracy=accuracy, limit=limit)
        + SELF_CHECK
        + "</body></html>\n"
    )


def _rows(rows: list[str], limit: int | None, columns: int) -> str:
    """Table rows, the middle ones summarised when there are more than ``limit``."""
    if limit is None or len(rows) <= limit:
        return "".join(rows)
    head, tail = rows[: limit // 2], rows[len(rows) - (limit - limit // 2) :]
    skipped = len(rows) - len(head) - len(tail)
    return "".join(head) + f"<tr><td colspan='{columns}'>... {skipped} more rows ...</td></tr>" + "".join(tail)


def fragment(graph: Graph, picture: bool = True, accuracy: bool = False, limit: int | None = 100) -> str:
    graph.walk_back()
    steps, received = backward_steps(graph)
    out = graph.output
    parts = []
    inputs = graph.inputs
    at = ", ".join(f"{n.name} = {format_value(n.value)}" for n in inputs)
    parts.append(
        f"<p class='result'>{_esc(out.name)} = {_esc(format_value(out.value))}"
        + (f" at {_esc(at)}" if at else "")
        + "; "
        + ", ".join(f"d{_esc(out.name)}/d{_esc(n.name)} = {_esc(format_value(n.grad))}" for n in inputs[:20])
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
            lines.append(f"<tr>{head}<td>{_esc(local)}</td><td>{_esc(receives)}</td></tr>")
        groups.append("".join(lines))
    rows = _rows(groups, limit, 4)
    finals = "".join(f"<li>{_esc(arrived_text(n, received[n.index], out))}</li>" for n in inputs)
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


def finite_differences(graph: Graph, node: Node, steps: tuple[float, ...] = STEPS) -> dict[str, Any]:
    """The derivative of the output along one direction of ``node`` (its only one, for a number), from
    automatic differentiation and from forward and central differences at each step size."""
    graph.walk_back()
    value = np.asarray(node.value, dtype=np.float64)
    direction = np.ones_like(value)
    if value.size > 1:  # a fixed random unit direction for an array input
        direction = np.random.default_rng(0).standard_normal(value.shape)
        direction /= np.linalg.norm(direction)
    grad = np.zeros_like(value) if node.grad is None else np.asarray(node.grad, dtype=np.float64)
    exact = float(np.sum(grad * direction))

    def f(x: Any) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(graph.replay({node.index: x.astype(value.dtype) if value.ndim else x})))

    base = f(value)
    forward, central = [], []
    for h in steps:
        forward.append((f(value + h * direction) - base) / h)
        central.append((f(value + h * direction) - f(value - h * direction)) / (2 * h))
    scale = max(abs(exact), 1e-300)
    return {
        "exact": exact,
        "steps": list(steps),
        "forward": forward,
        "central": central,
        "forward_error": [abs(v - exact) / scale for v in forward],
        "central_error": [abs(v - exact) / scale for v in central],
        "direction": "the only one" if value.size == 1 else "a random unit direction",
    }


def accuracy_section(graph: Graph) -> str:
    inputs = graph.inputs[:ACCURACY_INPUTS]
    parts = [
        "<section id='accuracy'><h2>Accuracy: automatic differentiation against finite differences</h2>",
        "<p class='note'>Finite differences estimate a derivative from two nearby values of the function. A "
        "large step h is off by the curvature it ignores (truncation error, about h for forward differences "
        "and h² for central ones); a small step loses digits when two nearly equal numbers are subtracted "
        "(rounding error, about 1e-16 / h). No step gets both right, and the best one depends on the function. "
        "Automatic differentiation applies the exact derivative rules, so it is exact up to the rounding of "
        "each operation: that is why it is preferred. Errors are relative to the automatically computed "
        "derivative.</p>",
    ]
    if len(graph.inputs) > ACCURACY_INPUTS:
        parts.append(f"<p class='note'>(the first {ACCURACY_INPUTS} of {len(graph.inputs)} inputs)</p>")
    results = {n.name: finite_differences(graph, n) for n in inputs}
    for name, r in results.items():
        columns = zip(r["steps"], r["forward"], r["forward_error"], r["central"], r["central_error"])
        rows = "".join(
            f"<tr><td>{h:.0e}</td><td>{fw:.12g}</td><td>{fe:.2e}</td><td>{cv:.12g}</td><td>{ce:.2e}</td></tr>"
            for h, fw, fe, cv, ce in columns
        )
        parts.append(
            f"<h3>d{_esc(graph.output.name)}/d{_esc(name)} (direction: {r['direction']})</h3>"
            f"<p>automatic differentiation: <code>{r['exact']:.15g}</code></p>"
            "<table><tr><th>step h</th><th>forward difference</th><th>relative error</th>"
            f"<th>central difference</th><th>relative error</th></tr>{rows}</table>"
        )
    parts.append(plot(results, graph.output.name))
    parts.append("</section>")
    return "\n".join(parts)


def plot(results: dict[str, dict], output: str) -> str:
    """The relative error of the finite differences against the step size, as inline SVG (matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "<p class='note'>(no plot: pip install 'chainrule[draw]' for matplotlib)</p>"
    floor = 1e-17  # an exact match is drawn at the bottom of the plot
    eps = float(np.finfo(np.float64).eps)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    colors = iter(["#2563eb", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#92400e"])
    for name, r in results.items():
        for kind, style in (("forward", "o-"), ("central", "s--")):
            errors = [max(e, floor) if np.isfinite(e) else np.nan for e in r[f"{kind}_error"]]
            label = f"{kind} difference, d{output}/d{name}"
            axes.loglog(r["steps"], errors, style, color=next(colors), markersize=4, label=label)
    axes.axhline(eps, color="#16a34a", linewidth=1.5, label="float64 rounding: the order of AD's error")
    axes.set_xlabel("step size h")
    axes.set_ylabel("relative error")
    axes.invert_xaxis()
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title("Finite differences: error against step size")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a crowded figure cannot always be tightened: not worth a message
        figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return "<div class='plot'>" + svg[svg.index("<svg") :] + "</div>"
