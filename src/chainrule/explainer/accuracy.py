"""The accuracy panel of the report: the automatic derivative beside forward and central finite differences
over a range of step sizes, with a plot of their error."""

from __future__ import annotations

import html
import io
import warnings
from typing import Any

import numpy as np

from .graph import Graph, Node

STEPS = tuple(10.0**-k for k in range(1, 16))  # finite-difference step sizes, 1e-1 down to 1e-15
ACCURACY_INPUTS = 4  # inputs compared with finite differences on the page


def _esc(text: Any) -> str:
    return html.escape(str(text))


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
