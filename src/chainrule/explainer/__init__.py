"""The explainer: the chain rule shown step by step for any graph, as text, pictures and a report page."""

from __future__ import annotations

from typing import Any

from .graph import capture, rename
from .picture import MAX_NODES, Figure
from .walkthrough import Explanation, explain_text


def draw(t: Any, max_nodes: int = MAX_NODES, names: Any = None) -> Figure:
    """A picture of the graph that produced ``t``: ``.svg()``, ``.dot()``, ``.save(path)``, inline in Jupyter.
    Gradients (d t / d value) appear once backward has run; graphs of more than ``max_nodes`` are summarised.
    ``names`` maps names to tensors (``names=locals()`` names the values as the code does)."""
    graph = capture(t)
    return Figure(rename(graph, names) if names is not None else graph, max_nodes=max_nodes)


def explain(t: Any, limit: int | None = 100, names: Any = None) -> Explanation:
    """The walk-through of the graph that produced ``t`` as text (a str), with ``.html()`` for a page:
    the forward table, the backward steps with local derivatives and contributions, the final gradients.
    Values are called by their tensors' ``name`` or, with ``names=locals()``, by the code's variable names;
    others get the command line's letters (inputs x, y; intermediates r, v, u, ...; the output z)."""
    graph = capture(t)
    return explain_text(rename(graph, names) if names is not None else graph, limit=limit)


__all__ = ["Explanation", "Figure", "draw", "explain"]
