"""The explainer: the chain rule shown step by step for any graph, as text, pictures and a report page."""

from __future__ import annotations

from typing import Any

from .graph import capture
from .picture import MAX_NODES, Figure
from .walkthrough import Explanation, explain_text


def draw(t: Any, max_nodes: int = MAX_NODES) -> Figure:
    """A picture of the graph that produced ``t``: ``.svg()``, ``.dot()``, ``.save(path)``, inline in Jupyter.
    Gradients (d t / d value) appear once backward has run; graphs of more than ``max_nodes`` are summarised."""
    return Figure(capture(t), max_nodes=max_nodes)


def explain(t: Any, limit: int | None = 100) -> Explanation:
    """The walk-through of the graph that produced ``t`` as text (a str), with ``.html()`` for a page:
    the forward table, the backward steps with local derivatives and contributions, the final gradients."""
    return explain_text(capture(t), limit=limit)


__all__ = ["Explanation", "Figure", "draw", "explain"]
