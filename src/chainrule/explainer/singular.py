"""Points where a derivative does not exist, decided once for the command line, ``cr.explain`` and the page.

Two kinds. At a *kink* (``abs(x)`` at 0, ``relu`` at 0, ``maximum(x, y)`` at a tie, ``clip`` at a bound) the
function has no derivative, but chainrule, like NumPy's ``sign`` and PyTorch, uses a documented convention; the
explainer shows the convention's value and says so. Where no derivative exists and no convention is documented
(an infinite slope such as ``sqrt`` at 0, ``x**y`` in ``y`` at ``x <= 0``), the partial derivatives that go through
that edge are *undefined*: the explainer says which and why, and still gives the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import Graph, Node, format_value

# Functions recorded under the name the user wrote (ln(x) is log): the same rules, the same singular points.
ALIASES = {"abs": "absolute", "ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2"}


@dataclass
class Finding:
    kind: str  # "kink" or "undefined"
    message: str


def _all(values: list) -> list:
    return [np.asarray(v, dtype=np.complex128 if np.iscomplexobj(v) else np.float64) for v in values]


def _local(node: Node, position: int, values: list, graph: Graph) -> Finding | None:
    """What is singular about d node / d input ``position`` at these values, or None."""
    op = ALIASES.get(node.op.name, node.op.name)
    a = values[0]
    b = values[1] if len(values) > 1 else None
    name = graph.nodes[node.inputs[0]].name
    if np.iscomplexobj(a):
        return None
    where: list = []

    def hit(mask: Any) -> bool:
        where[:] = [np.asarray(mask)]
        return bool(np.any(mask))

    def found(kind: str, message: str) -> Finding:
        """The finding, saying which elements of an array it concerns."""
        mask = where[0] if where else np.asarray(True)
        if mask.ndim:
            indices = [tuple(int(i) for i in index) for index in np.argwhere(mask)[:4]]
            shown = ", ".join(str(i[0]) if len(i) == 1 else str(i) for i in indices)
            more = ", ..." if int(mask.sum()) > 4 else ""
            message += f" (at elements {shown}{more} of {name})"
        return Finding(kind, message)

    if op == "absolute" and hit(a == 0):
        return found("kink", "abs has a kink at 0: its derivative there is taken as 0 (sign(0) = 0, as in NumPy)")
    if op == "relu" and hit(a == 0):
        return found("kink", "relu has a kink at 0: its derivative there is taken as 0 (as in PyTorch)")
    if op in ("maximum", "minimum", "fmax", "fmin") and hit(a == b):
        return found("kink", f"{op} has a kink where its operands are equal: each gets half of the gradient")
    if op == "clip":
        lo, hi = node.params.get("lo"), node.params.get("hi")
        at = [bound for bound in (lo, hi) if bound is not None and np.any(a == bound)]
        if at and hit(sum((a == bound for bound in at), np.zeros(np.shape(a), dtype=bool))):
            return found(
                "kink",
                f"clip has a kink at its bound {format_value(at[0])}: the derivative there is taken as 1 (the "
                "gradient passes where lo <= x <= hi)",
            )
    if op in ("sqrt", "cbrt") and hit(a == 0):
        return found("undefined", f"{op}({name}) has an infinite slope at {name} = 0")
    if op in ("arcsin", "arccos") and hit(np.abs(a) == 1):
        return found("undefined", f"{op}({name}) has an infinite slope at {name} = ±1")
    if op in ("hypot", "arctan2") and hit((a == 0) & (b == 0)):
        return found("undefined", f"{op} has no derivative at (0, 0)")
    if op == "power" and position == 0 and hit((a == 0) & (b > 0) & (b < 1)):
        return found("undefined", f"{name}**{format_value(b)} has an infinite slope at {name} = 0")
    if op == "power" and position == 1:
        base = f"{name}**{graph.nodes[node.inputs[1]].name}"
        if hit(a < 0):
            return found(
                "undefined",
                f"{base} has no derivative in its exponent where {name} < 0 (it is not real for exponents near "
                f"{format_value(b)}: log({name}) of a negative number)",
            )
        if hit((a == 0) & (b <= 0)):
            return found(
                "undefined",
                f"{base} has no derivative in its exponent at {name} = 0 with exponent {format_value(b)} "
                "(0**t jumps from 1 at t = 0 to 0 for t > 0, and log(0) is -inf)",
            )
    return None


class Singularities:
    """The kinks and undefined derivatives of a walked graph: per edge (node index, input position) what is
    singular there, and per node why d output / d node is undefined (if it is)."""

    def __init__(self, graph: Graph) -> None:
        graph.walk_back()
        self.graph = graph
        self.edges: dict[tuple[int, int], Finding] = {}
        self.undefined: dict[int, str] = {}
        with np.errstate(all="ignore"):
            for node in reversed(graph.nodes):
                if node.kind != "op" or node.grad is None:
                    continue
                values = _all([graph.nodes[i].value for i in node.inputs])
                through = self.undefined.get(node.index)
                for position, i in enumerate(node.inputs):
                    if node.sent[position] is None:
                        continue
                    finding = _local(node, position, values, graph)
                    if finding is not None:
                        self.edges[node.index, position] = finding
                    reason = through
                    if reason is None and finding is not None and finding.kind == "undefined":
                        if np.any(np.asarray(node.grad) != 0):  # a zero gradient times any slope is 0
                            reason = finding.message
                    if reason is not None:
                        self.undefined.setdefault(i, reason)
        self._keep_what_exists()

    def _keep_what_exists(self) -> None:
        """An infinite slope times a zero slope further on can still give a derivative (cbrt(x**3) at 0 is
        1): where a 50-digit evaluation of the graph finds a finite derivative of the output with respect to an
        input, that partial derivative exists, whatever the rules meet on the way."""
        inputs = [n for n in self.graph.inputs if n.index in self.undefined]
        if not inputs:
            return
        try:
            from .accuracy import reference_partials

            reference = reference_partials(self.graph)
        except Exception:  # noqa: BLE001 (no reference: the table's decision stands)
            return
        for node in inputs:
            value = reference.get(node.name)
            if value is not None and np.isfinite(float(value)):
                del self.undefined[node.index]

    def kinks(self) -> list[str]:
        """The conventions used, one line each, in the order of the backward pass."""
        seen: dict[str, None] = {}
        for finding in self.edges.values():
            if finding.kind == "kink":
                seen[finding.message] = None
        return list(seen)

    def reason(self, node: Node) -> str | None:
        """Why d output / d node does not exist, or None."""
        return self.undefined.get(node.index)


def singularities(graph: Graph) -> Singularities:
    found = getattr(graph, "_singularities", None)
    if found is None:
        found = graph._singularities = Singularities(graph)
    return found
