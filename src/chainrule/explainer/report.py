"""The walk-through as one self-contained HTML page: the picture, the forward table, the backward steps and an
accuracy panel comparing the automatic derivative with finite differences over a range of step sizes.

Everything is inline (styles, the SVG picture, the plot), so the page opens without a network. A short script
at the end checks the page as the browser laid it out (every label inside its box, the plot drawn) and writes
the result into ``<html data-selfcheck>``, which the tests read back from a headless browser.
"""

from __future__ import annotations

import html
import json
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
    frames,
    gradient_text,
    ordered_inputs,
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 80rem; margin: 1rem auto; padding: 0 1rem; color: #0f172a; }
code, td, th { font-family: ui-monospace, monospace; }
h1 code { overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
#forward td:first-child, td.op { white-space: nowrap; }
td, th { border-bottom: 1px solid #e2e8f0; padding: 0.25rem 0.75rem; text-align: left; vertical-align: top; }
th { background: #f8fafc; }
.picture { overflow-x: auto; border: 1px solid #e2e8f0; border-radius: 8px; padding: 0; }
#stepper { margin: 0.5rem 0; padding: 0.5rem 0.75rem; border: 1px solid #e2e8f0; border-radius: 8px; }
#stepper { background: #f8fafc; }
#stepper button { font: inherit; padding: 0.2rem 0.8rem; margin-right: 0.3rem; }
#step-heading { font-weight: 600; margin: 0.4rem 0 0.2rem; }
#step-lines { margin: 0; font-family: ui-monospace, monospace; white-space: pre-wrap; }
g.node.active rect { stroke: #dc2626; stroke-width: 3; }
g.node.partial rect { stroke: #d97706; stroke-width: 2.5; stroke-dasharray: 5 3; }
g.node.done rect { stroke: #16a34a; stroke-width: 2; }
path.edge.active { stroke: #dc2626; stroke-width: 2.6; }
tbody.active td { background: #fef3c7; }
.note { color: #475569; }
.result { font-size: 1.1rem; }
"""

STEPPER = """
<script>
(function () {
  var frames = JSON.parse(document.getElementById('frames').textContent);
  var panel = document.getElementById('stepper');
  if (!panel || !frames.length) return;
  panel.hidden = false;
  each('.with-script', function (e) { e.hidden = false; });
  var at = 0, timer = null;
  var heading = document.getElementById('step-heading'), lines = document.getElementById('step-lines');
  var play = document.getElementById('step-play');
  function each(selector, f) { document.querySelectorAll(selector).forEach(f); }
  function show(i) {
    at = Math.max(0, Math.min(frames.length - 1, i));
    var frame = frames[at];
    each('.active, .partial, .done', function (e) { e.classList.remove('active', 'partial', 'done'); });
    Object.keys(frame.sums).forEach(function (index) {
      var g = document.querySelector('g.node[data-index="' + index + '"]');
      if (g && frame.complete.indexOf(Number(index)) < 0) g.classList.add('partial');
    });
    frame.complete.forEach(function (index) {
      var g = document.querySelector('g.node[data-index="' + index + '"]');
      if (g) g.classList.add('done');
    });
    each('g.node text.grad', function (t) {
      var index = Number(t.parentNode.dataset.index);
      t.style.visibility = frame.complete.indexOf(index) >= 0 ? 'visible' : 'hidden';
    });
    if (frame.node !== null) {
      var g = document.querySelector('g.node[data-index="' + frame.node + '"]');
      if (g) { g.classList.remove('done', 'partial'); g.classList.add('active'); }
    }
    frame.edges.forEach(function (e) {
      each('path.edge[data-source="' + e[0] + '"][data-target="' + e[1] + '"][data-position="' + e[2] + '"]',
           function (p) { p.classList.add('active'); });
    });
    each('tbody[data-step="' + frame.step + '"]', function (t) { t.classList.add('active'); });
    heading.textContent = '[' + at + '/' + (frames.length - 1) + '] ' + frame.heading;
    lines.textContent = frame.lines.join('\\n');
    document.documentElement.setAttribute('data-frame', String(at));
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; play.textContent = 'Play'; } }
  document.getElementById('step-previous').addEventListener('click', function () { stop(); show(at - 1); });
  document.getElementById('step-next').addEventListener('click', function () { stop(); show(at + 1); });
  play.addEventListener('click', function () {
    if (timer) { stop(); return; }
    if (at === frames.length - 1) show(0);
    play.textContent = 'Pause';
    timer = setInterval(function () { show(at + 1); if (at === frames.length - 1) stop(); }, 1200);
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'ArrowRight') { stop(); show(at + 1); event.preventDefault(); }
    if (event.key === 'ArrowLeft') { stop(); show(at - 1); event.preventDefault(); }
  });
  show(0);
})();
</script>
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
  // nothing covers anything: texts against texts, other boxes and edges (in the picture's own units)
  var texts = [];
  nodes.forEach(function (g, owner) {
    g.querySelectorAll('text').forEach(function (t) {
      texts.push({owner: owner, text: t.textContent, box: t.getBBox()});
    });
  });
  function overlap(a, b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  }
  var rects = Array.prototype.map.call(nodes, function (g) { return g.querySelector('rect').getBBox(); });
  texts.forEach(function (a, i) {
    texts.slice(i + 1).forEach(function (b) {
      if (overlap(a.box, b.box)) problems.push('labels "' + a.text + '" and "' + b.text + '" overlap');
    });
    rects.forEach(function (r, j) {
      if (j !== a.owner && overlap(a.box, r)) problems.push('label "' + a.text + '" covers another box');
    });
  });
  document.querySelectorAll('svg.chainrule-graph path.edge').forEach(function (p) {
    var length = p.getTotalLength();
    for (var d = 1; d < length - 1; d += 2) {
      var q = p.getPointAtLength(d);
      texts.forEach(function (t) {
        var b = t.box;
        if (q.x > b.x + 0.5 && q.x < b.x + b.width - 0.5 && q.y > b.y + 0.5 && q.y < b.y + b.height - 0.5)
          problems.push('an edge crosses "' + t.text + '"');
      });
    }
  });
  var svg = document.querySelector('svg.chainrule-graph'), frame = document.querySelector('.picture');
  var fontPx = null;
  if (svg) {
    fontPx = 12 * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    if (fontPx < 11) problems.push('the picture is scaled down to ' + fontPx.toFixed(1) + ' px text');
    if (frame && frame.scrollWidth > frame.clientWidth + 1) problems.push('the picture scrolls sideways');
  }
  var plot = document.querySelector('#accuracy svg');
  var plotSize = plot ? plot.getBoundingClientRect() : null;
  document.documentElement.setAttribute('data-selfcheck', JSON.stringify({
    nodes: nodes.length,
    edges: document.querySelectorAll('svg.chainrule-graph path.edge').length,
    plot: plotSize ? [Math.round(plotSize.width), Math.round(plotSize.height)] : null,
    fontPx: fontPx,
    pageWidth: document.documentElement.clientWidth,
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
    max_nodes: int = 40,
    notes: list[str] | None = None,
) -> str:
    heading = title or f"the graph of {graph.output.name}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>chainrule: {_esc(heading)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>How chainrule differentiates <code>{_esc(heading)}</code></h1>\n"
        + "".join(f"<p class='note'>{_esc(note)}</p>" for note in notes or ())
        + fragment(graph, picture=picture, accuracy=accuracy, limit=limit, order=order, max_nodes=max_nodes)
        + (STEPPER if picture else "")
        + SELF_CHECK
        + "</body></html>\n"
    )


def stepper(graph: Graph, order: list[str] | None = None) -> str:
    """The controls that walk the backward pass one operation at a time, and the frames they show (as JSON).
    Hidden until the script shows them: without JavaScript the page is the static walk-through."""
    data = []
    shown = frames(graph)
    received = backward_steps(graph)[1]
    for frame in shown:
        data.append(
            {
                "heading": frame.heading,
                "lines": frame.lines,
                "node": frame.node.index if frame.node is not None else None,
                "step": frame.step,
                "edges": frame.edges,
                "sums": {str(k): v for k, v in frame.sums.items()},
                "complete": frame.complete,
            }
        )
    if order:
        data[-1]["lines"] = [gradient_text(n, received[n.index], graph) for n in ordered_inputs(graph, order)]
    payload = json.dumps(data).replace("</", "<\\/")  # never ends the script element early
    return (
        "<div id='stepper' hidden><div><button id='step-previous' type='button'>Previous</button>"
        "<button id='step-next' type='button'>Next</button><button id='step-play' type='button'>Play</button>"
        "<span class='note'> or the arrow keys: the backward pass, one operation at a time</span></div>"
        "<p id='step-heading'></p><pre id='step-lines'></pre></div>"
        f"<script type='application/json' id='frames'>{payload}</script>"
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
    max_nodes: int = 40,
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
            "<p class='note'>Each box is a value: what it computes, its value, and its gradient, the derivative "
            f"of {_esc(out.name)} with respect to it. Each use of a value is an edge of its own; where the order "
            "of the operands matters, the box's ports say which is which (num/den, base/exp, +/− for the two "
            "sides of a minus, 1st/2nd).<span class='with-script' hidden> The stepper below walks the backward "
            "pass: the "
            "operation being processed in red, the edges its gradient travels back along, a value still adding "
            "up contributions dashed, finished ones green.</span></p>"
        )
        try:
            from .picture import Figure

            parts.append(f"<div class='picture'>{Figure(graph, max_nodes=max_nodes).svg(show_grads=True)}</div>")
            parts.append(stepper(graph, order))
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
    for k, step in enumerate(steps):
        lines = []
        node = step.node
        for j, edge in enumerate(step.edges):
            local, receives = edge_text(step, edge)
            arriving = arrived_text(node, step.arrived, out, singular.reason(node))
            head = (
                f"<td class='op' rowspan='{len(step.edges)}'>{_esc(node.name)} = {_esc(definition(graph, node))}</td>"
                f"<td rowspan='{len(step.edges)}'>{_esc(arriving)}</td>"
                if j == 0
                else ""
            )
            finding = singular.edges.get((node.index, edge.position))
            if finding is not None:
                local += f" ({FINDING_HEAD[finding.kind]}: {finding.message})"
            lines.append(f"<tr>{head}<td>{_esc(local)}</td><td>{_esc(receives)}</td></tr>")
        groups.append(f"<tbody data-step='{k}'>" + "".join(lines) + "</tbody>")
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
