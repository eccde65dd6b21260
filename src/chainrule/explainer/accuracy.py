"""The accuracy panel of the report: the automatic derivative and forward and central finite differences over a
range of step sizes, each measured against a 50-digit reference, with a plot of their errors.

The reference does not use chainrule's derivative rules: the captured graph is evaluated again with mpmath at
50 significant digits, each primitive mapped to its mpmath counterpart, and differentiated numerically at that
precision (``mpmath.diff``). A wrong derivative rule in chainrule therefore shows as a large error of the
automatic derivative. Without mpmath (an optional dependency), or for a graph it cannot evaluate (array values,
an operation without a counterpart), the errors are measured against the automatic derivative, as the panel says.
"""

from __future__ import annotations

import html
import io
import math
import warnings
from typing import Any

import numpy as np

from .graph import Graph, Node
from .singular import singularities

STEPS = tuple(10.0**-k for k in range(1, 16))  # finite-difference step sizes, 1e-1 down to 1e-15
ACCURACY_INPUTS = 4  # inputs compared with finite differences on the page
DIGITS = 50  # the precision of the reference
MAX_REFERENCE_NODES = 2000  # a larger graph is not evaluated at 50 digits (it would slow the page down)
MAX_EXTRA_BITS = 4000  # extra working precision for values of very different sizes, at most
SUSPICIOUS = 1e-10  # an automatic derivative further than this from the reference gets a note
SMALLEST = math.ulp(0.0)  # the smallest positive float64, 4.9e-324: a derivative below it underflows to 0
NO_MPMATH = "(no 50-digit reference: pip install 'chainrule[draw]')"

# Okabe-Ito colours, safe for the common kinds of colour blindness, each with its own marker
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MARKERS = ("o", "s", "^", "D", "v", "P")


def _esc(text: Any) -> str:
    return html.escape(str(text))


# -- the 50-digit reference --------------------------------------------------------------------------------------


def _mpmath_ops(mp: Any) -> dict[str, Any]:
    """Each primitive's forward, written with mpmath on real numbers (chainrule's names, NumPy's meanings)."""

    def clip(x: Any, lo: Any = None, hi: Any = None) -> Any:
        if lo is not None and x < lo:
            x = mp.mpf(lo)
        if hi is not None and x > hi:
            x = mp.mpf(hi)
        return x

    def softplus(x: Any) -> Any:  # log(1 + e^x), without overflow for large x
        return max(x, 0) + mp.log1p(mp.exp(-abs(x)))

    def logaddexp(x: Any, y: Any) -> Any:
        top = max(x, y)
        return top + mp.log1p(mp.exp(-abs(x - y)))

    return {
        "add": lambda x, y: x + y,
        "subtract": lambda x, y: x - y,
        "multiply": lambda x, y: x * y,
        "divide": lambda x, y: x / y,
        "negative": lambda x: -x,
        "power": mp.power,
        "square": lambda x: x * x,
        "sqrt": mp.sqrt,
        "cbrt": lambda x: mp.sign(x) * mp.cbrt(abs(x)),  # the real cube root, as NumPy's
        "reciprocal": lambda x: 1 / x,
        "exp": mp.exp,
        "exp2": lambda x: mp.power(2, x),
        "expm1": mp.expm1,
        "log": mp.log,
        "log1p": mp.log1p,
        "log2": lambda x: mp.log(x, 2),
        "log10": mp.log10,
        "sin": mp.sin,
        "cos": mp.cos,
        "tan": mp.tan,
        "arcsin": mp.asin,
        "arccos": mp.acos,
        "arctan": mp.atan,
        "sinh": mp.sinh,
        "cosh": mp.cosh,
        "tanh": mp.tanh,
        "arcsinh": mp.asinh,
        "arccosh": mp.acosh,
        "arctanh": mp.atanh,
        "erf": mp.erf,
        "sinc": mp.sincpi,  # NumPy's sinc is sin(pi x) / (pi x)
        "deg2rad": lambda x: x * mp.pi / 180,
        "rad2deg": lambda x: x * 180 / mp.pi,
        "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
        "softplus": softplus,
        "relu": lambda x: max(x, mp.zero),
        "absolute": abs,
        "maximum": max,
        "minimum": min,
        "fmax": max,
        "fmin": min,
        "clip": clip,
        "arctan2": mp.atan2,
        "hypot": mp.hypot,
        "logaddexp": logaddexp,
        "logaddexp2": lambda x, y: logaddexp(x * mp.ln2, y * mp.ln2) / mp.ln2,
        "where": lambda x, y, condition=None: x if bool(np.all(condition)) else y,
    }


TAKES_PARAMS = {"clip", "where"}


def _counterpart_name(op: Any, ops: dict[str, Any]) -> str | None:
    """The name under which ``ops`` knows a primitive: its own, or, for a copy recorded under another spelling
    (the explainer records ``abs(x)`` as "abs"), the name of the primitive whose forward computation it shares."""
    from .. import ops as primitives

    if op.name in ops and getattr(primitives, op.name, op).forward is op.forward:
        return op.name
    for name in ops:
        known = getattr(primitives, name, None)
        if known is not None and known.forward is op.forward:
            return name
    return None


class _NoReference(Exception):
    """Why there is no reference for a graph or a partial derivative, in words."""


def _is_real_scalar(value: Any) -> bool:
    kind = np.asarray(value).dtype.kind
    return getattr(value, "size", 1) == 1 and kind in "biuf"


def _prepare(graph: Graph) -> tuple[Any, dict[int, Any]]:
    """mpmath and the primitives' counterparts, or _NoReference saying why the graph has no reference."""
    try:
        import mpmath
    except ImportError:
        raise _NoReference(NO_MPMATH) from None
    if len(graph.nodes) > MAX_REFERENCE_NODES:
        raise _NoReference(f"(no 50-digit reference: the graph has more than {MAX_REFERENCE_NODES} nodes)")
    if not all(_is_real_scalar(n.value) for n in graph.nodes):
        raise _NoReference("(no 50-digit reference: it is computed for graphs of real single numbers, not arrays)")
    known = _mpmath_ops(mpmath.mp)
    ops: dict[int, Any] = {}  # node index -> its computation in mpmath
    for node in graph.nodes:
        if node.kind != "op":
            continue
        name = _counterpart_name(node.op, known)
        if name is None or (node.params and name not in TAKES_PARAMS):
            raise _NoReference(
                f"(no 50-digit reference: the operation '{node.op.name}' has no mpmath counterpart here)"
            )
        ops[node.index] = known[name]
    return mpmath, ops


def _evaluator(graph: Graph, node: Node, mpmath: Any, ops: dict[int, Any]) -> Any:
    """Every node's value as a function of one input, every operation done by mpmath at the working precision."""
    mp = mpmath.mp
    constants = [float(np.asarray(n.value)) for n in graph.nodes]  # a float64 converts to mpf exactly

    def evaluate(t: Any) -> list[Any]:
        values: list[Any] = []
        for n in graph.nodes:
            if n.index == node.index:
                values.append(t)
            elif n.kind == "op":
                value = ops[n.index](*[values[i] for i in n.inputs], **n.params)
                if not isinstance(value, mp.mpf):
                    value = mp.mpf(value) if isinstance(value, (int, float)) else value
                if not isinstance(value, mp.mpf):  # a complex number: outside the operation's real domain
                    raise _NoReference(f"'{n.op.name}' has no real value next to this point")
                values.append(value)
            else:
                values.append(mp.mpf(constants[n.index]))
        return values

    return evaluate


def _partial(graph: Graph, node: Node, mpmath: Any, ops: dict[int, Any]) -> Any:
    """d output / d node at 50 digits with ``mpmath.diff``, or _NoReference where the output is not
    differentiable there (a kink, a jump, the edge of a domain) or the result cannot be trusted."""
    mp = mpmath.mp
    evaluate = _evaluator(graph, node, mpmath, ops)

    def f(t: Any) -> Any:
        return evaluate(t)[-1]

    x = mp.mpf(float(np.asarray(node.value)))
    where = f"{node.name} = {float(x):.17g}"
    # mpmath's default step, 2^-(precision + 10), made relative to x: a tiny x stays inside its domain (sqrt just
    # above 0) and a large one still moves (x + h != x at the working precision)
    h1 = mp.ldexp(1, -mp.prec - 10 + (int(mp.mag(x)) if x else 0))
    h2 = mp.ldexp(h1, -32)
    try:
        # Extra working precision for values of very different sizes: in exp(709) + sin(x) the change of sin(x)
        # is 300 digits below the sum, and a step of it must still show in the sum.
        mags = [int(mp.mag(v)) for v in evaluate(x) if v and mp.isfinite(v)]
        extra = 10 + min(max(mags) - min(mags) if mags else 0, MAX_EXTRA_BITS)
        value = mpmath.diff(f, x, h=h1, addprec=extra)
        check = mpmath.diff(f, x, h=h1, addprec=extra + mp.prec)  # the same at a higher precision
        # One-sided slopes at two step sizes: at a kink or a jump they stay apart however small the step; where
        # the function is smooth their gap is the curvature times the step, and shrinks with it.
        slopes = [mpmath.diff(f, x, h=h, direction=d, addprec=extra + 64) for h in (h1, h2) for d in (1, -1)]
    except _NoReference as error:
        raise _NoReference(f"(no 50-digit reference: {error} at {where})") from None
    except (ArithmeticError, ValueError):
        raise _NoReference(f"(no 50-digit reference: the output is not defined on both sides of {where})") from None
    if not all(isinstance(v, mp.mpf) and mp.isfinite(v) for v in (value, check, *slopes)):
        raise _NoReference(f"(no 50-digit reference: the derivative is not a finite number at {where})")
    gap1, gap2 = abs(slopes[0] - slopes[1]), abs(slopes[2] - slopes[3])
    if gap2 > mp.mpf(10) ** -40 * max(abs(slopes[2]), abs(slopes[3])) and gap2 > gap1 * mp.ldexp(1, -16):
        steady = all(abs(a - b) <= mp.mpf(10) ** -20 * max(abs(a), abs(b)) for a, b in zip(slopes[:2], slopes[2:]))
        if steady:  # a kink: each one-sided slope is the same at both steps
            right, left = (mpmath.nstr(s, 6) for s in slopes[2:])
            shape = f"its slope is {left} from the left and {right} from the right"
        else:
            shape = "it jumps or is infinitely steep there"
        raise _NoReference(
            f"(no 50-digit reference: the output is not differentiable at {where}; {shape}, and chainrule's "
            "derivative there is a convention)"
        )
    if abs(value - check) > mp.mpf(10) ** -30 * max(abs(value), abs(check)):
        raise _NoReference(
            f"(no 50-digit reference: at {where} mpmath's result changes with its working precision, "
            f"{mpmath.nstr(value, 8)} against {mpmath.nstr(check, 8)}, so it cannot be trusted)"
        )
    return +value  # rounded to the 50 digits


def _reference(graph: Graph, node: Node) -> tuple[Any, str]:
    """The 50-digit reference for d output / d node and an empty string, or None and why there is none."""
    try:
        mpmath, ops = _prepare(graph)
        with mpmath.workdps(DIGITS):
            return _partial(graph, node, mpmath, ops), ""
    except _NoReference as error:
        return None, str(error)


def reference_partials(graph: Graph) -> dict[str, Any]:
    """The derivative of the output with respect to each input, computed at 50 digits by mpmath from the graph's
    operations alone (not chainrule's derivative rules): ``{input name: mpmath.mpf}``, None for an input where
    there is no reference (array values, an operation without an mpmath counterpart, a point where the output is
    not differentiable, or no mpmath)."""
    return {n.name: _reference(graph, n)[0] for n in graph.inputs}


# -- finite differences --------------------------------------------------------------------------------------------


def finite_differences(graph: Graph, node: Node, steps: tuple[float, ...] = STEPS) -> dict[str, Any]:
    """The derivative of the output along one direction of ``node`` (its only one, for a number) from automatic
    differentiation and from forward and central differences at each step size, with their errors against the
    50-digit reference where there is one (against the automatic derivative where there is none). Errors are
    relative, or absolute where the derivative they are measured against is 0; an error is NaN where the finite
    difference is not a finite number.

    Where the derivative does not exist (``singular.py`` decides, as for the rest of the explainer),
    ``"undefined"`` says why, and nothing is measured: ``"against"`` and ``"ad_error"`` are None and every error
    is NaN. ``"underflow"`` is true where the reference is a number too small for float64 (below 4.9e-324)."""
    with np.errstate(all="ignore"):
        graph.walk_back()
        undefined = singularities(graph).reason(node)
    value = np.asarray(node.value, dtype=np.float64)
    direction = np.ones_like(value)
    if value.size > 1:  # a fixed random unit direction for an array input
        direction = np.random.default_rng(0).standard_normal(value.shape)
        direction /= np.linalg.norm(direction)
    grad = np.zeros_like(value) if node.grad is None else np.asarray(node.grad, dtype=np.float64)
    with np.errstate(all="ignore"):
        ad = float(np.sum(grad * direction))

    def f(x: Any) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(graph.replay({node.index: x.astype(value.dtype) if value.ndim else x})))

    forward, central = [], []
    with np.errstate(all="ignore"):
        base = f(value)
        for h in steps:
            up, down = f(value + h * direction), f(value - h * direction)
            forward.append((up - base) / h)
            central.append((up - down) / (2 * h))
    direction_note = None if value.size == 1 else "a random unit direction"
    if undefined is not None:  # no derivative: nothing to measure the finite differences against
        return {
            "ad": ad,
            "reference": None,
            "reference_note": "",
            "against": None,
            "error_kind": None,
            "steps": list(steps),
            "forward": forward,
            "central": central,
            "forward_error": [math.nan] * len(steps),
            "central_error": [math.nan] * len(steps),
            "ad_error": None,
            "direction": direction_note,
            "undefined": undefined,
            "underflow": False,
        }
    reference, reason = _reference(graph, node)
    if reference is not None:
        error_of = _errors_against_reference(reference)
        against, zero = "reference", reference == 0
    else:
        error_of = _errors_against_float(ad)
        against, zero = "ad", ad == 0
    return {
        "ad": ad,
        "reference": reference,
        "reference_note": reason,
        "against": against,  # what the errors are measured against: "reference" or "ad"
        "error_kind": "absolute" if zero else "relative",
        "steps": list(steps),
        "forward": forward,
        "central": central,
        "forward_error": [error_of(v) for v in forward],
        "central_error": [error_of(v) for v in central],
        "ad_error": None if reference is None else error_of(ad) if math.isfinite(ad) else math.inf,
        "direction": direction_note,  # None for a number: its only direction
        "undefined": None,
        "underflow": reference is not None and reference != 0 and abs(reference) < SMALLEST,
    }


def _errors_against_reference(reference: Any) -> Any:
    import mpmath

    def error(v: float) -> float:
        if not math.isfinite(v):
            return math.nan
        with mpmath.workdps(DIGITS):
            difference = abs(mpmath.mpf(v) - reference)
            return float(difference / abs(reference) if reference != 0 else difference)

    return error


def _errors_against_float(exact: float) -> Any:
    def error(v: float) -> float:
        if not (math.isfinite(v) and math.isfinite(exact)):
            return math.nan
        difference = abs(v - exact)  # Python floats: an overflow gives inf, without a warning
        return difference / abs(exact) if exact != 0 else difference

    return error


# -- the panel -------------------------------------------------------------------------------------------------


def _number(v: float, shortest: bool = False) -> str:
    """A float for a table cell; ``shortest``: all its digits (the shortest text that reads back as it)."""
    if math.isnan(v):
        return "NaN (not a number)"
    if math.isinf(v):
        return f"infinite ({v}): not a finite number"
    return repr(float(v)) if shortest else f"{v:.15g}"


def _error(e: float | None, value: float) -> str:
    if e is None or math.isnan(e):
        return "none: not a finite number" if not math.isfinite(value) else "none"
    return f"{e:.2e}"


def _not_finite_note(out: str, name: str, r: dict[str, Any]) -> str | None:
    """Which finite differences are not finite numbers, forward and central each by its own step sizes."""
    said = []
    bad_at = {kind: [h for h, v in zip(r["steps"], r[kind]) if not math.isfinite(v)] for kind in ("forward", "central")}
    if bad_at["forward"] == bad_at["central"]:
        bad_at = {"forward and central": bad_at["forward"]}
    for kind, bad in bad_at.items():
        if len(bad) == len(r["steps"]) and len(bad) > 1:
            said.append(f"{kind} differences at all {len(bad)} step sizes")
        elif bad:
            said.append(f"{kind} differences at {len(bad)} step size(s) (h = {', '.join(f'{h:.0e}' for h in bad)})")
    if not said:
        return None
    where = "" if r["undefined"] is not None else " and left off the plot"
    return (
        f"<p class='note'>For d{_esc(out)}/d{_esc(name)}, {' and '.join(said)} are not finite numbers: the function "
        f"or the difference quotient overflows, or the function has no value a step away. They are marked in the "
        f"table{where}.</p>"
    )


def _suspicious_note(out: str, name: str, r: dict[str, Any]) -> str | None:
    """A note where the automatic derivative is further from the reference than rounding explains: a derivative
    rule may be wrong, unless the derivative is too small for float64 and chainrule's 0 is all float64 holds."""
    if r["ad_error"] is None or r["ad_error"] <= SUSPICIOUS:
        return None
    partial = f"d{_esc(out)}/d{_esc(name)}"
    if r["underflow"] and abs(r["ad"]) <= SMALLEST:
        import mpmath

        return (
            f"<p class='note'>{partial} underflows float64: it is {_esc(mpmath.nstr(r['reference'], 3))} by the "
            f"{DIGITS}-digit reference, below the smallest positive float64 ({SMALLEST:.1e}), so float64 cannot "
            f"hold it (chainrule gives {_number(r['ad'], shortest=True)}). The error of {_error(r['ad_error'], 0)} "
            f"({r['error_kind']}) comes from that, not from a derivative rule.</p>"
        )
    return (
        f"<p class='note'><strong>chainrule's {partial} differs from the {DIGITS}-digit reference by "
        f"{_error(r['ad_error'], r['ad'])} ({r['error_kind']})</strong>: more than rounding explains, unless the "
        "derivative is a small difference of much larger terms. A derivative rule may be wrong.</p>"
    )


def accuracy_section(graph: Graph) -> str:
    inputs = graph.inputs[:ACCURACY_INPUTS]
    out = graph.output.name
    results = {n.name: finite_differences(graph, n) for n in inputs}
    with_reference = [name for name, r in results.items() if r["against"] == "reference"]
    parts = [
        "<section id='accuracy'><h2>Accuracy: automatic differentiation against finite differences</h2>",
        "<p class='note'>Finite differences estimate a derivative from two nearby values of the function. A "
        "large step h is off by the curvature it ignores (truncation error, about h for forward differences "
        "and h² for central ones); a small step loses digits when two nearly equal numbers are subtracted "
        "(rounding error, about 1e-16 / h). No step gets both right, and the best one depends on the function. "
        "Automatic differentiation applies the exact derivative rules, so it is exact up to the rounding of "
        "each operation: that is why it is preferred.</p>",
    ]
    if with_reference:
        parts.append(
            "<p class='note'>Errors are measured against a reference computed without chainrule's derivative "
            f"rules: the same graph evaluated by mpmath at {DIGITS} significant digits and differentiated "
            "numerically at that precision. So a wrong derivative rule would show here as a large error of the "
            "automatic derivative. An error is relative, or absolute where the derivative is 0.</p>"
        )
    for name, r in results.items():
        if r["undefined"] is not None:
            parts.append(
                f"<p class='note'>d{_esc(out)}/d{_esc(name)} does not exist: {_esc(r['undefined'])}. There is no "
                "derivative to measure automatic differentiation or finite differences against: no error is given "
                "for it, and it is left off the plot.</p>"
            )
    without: dict[str, list[str]] = {}  # why there is no reference: the partial derivatives it concerns
    for name, r in results.items():
        if r["against"] == "ad":
            without.setdefault(r["reference_note"], []).append(f"d{out}/d{name}")
    for note, partials in without.items():
        parts.append(
            f"<p class='note'>{_esc(', '.join(partials))}: {_esc(note)}. Errors are measured against the "
            "automatic derivative instead (relative, or absolute where it is 0).</p>"
        )
    for name, r in results.items():
        if r["against"] == "ad" and not math.isfinite(r["ad"]):
            parts.append(
                f"<p class='note'>The automatic d{_esc(out)}/d{_esc(name)} is {r['ad']}, not a finite number, and "
                "there is no reference: no error can be measured against either.</p>"
            )
    if len(graph.inputs) > ACCURACY_INPUTS:
        parts.append(f"<p class='note'>(the first {ACCURACY_INPUTS} of {len(graph.inputs)} inputs)</p>")
    for name, r in results.items():
        parts.extend(note for note in (_not_finite_note(out, name, r), _suspicious_note(out, name, r)) if note)
    if not results:
        parts.append("<p class='note'>No input requires grad: there is no derivative to compare.</p></section>")
        return "\n".join(parts)
    plotted = {name: r for name, r in results.items() if r["undefined"] is None}
    if plotted:
        parts.append(plot(plotted, out))
    else:
        parts.append("<p class='note'>(no plot: no partial derivative here exists, so there is no error to draw)</p>")
    for name, r in results.items():
        parts.append(_partial_table(out, name, r))
    parts.append("</section>")
    return "\n".join(parts)


def _partial_table(out: str, name: str, r: dict[str, Any]) -> str:
    partial = f"d{_esc(out)}/d{_esc(name)}"
    heading = f"<h3>{partial}</h3>" if r["direction"] is None else f"<h3>{partial} (along {r['direction']})</h3>"
    if r["undefined"] is not None:  # the finite differences as computed, nothing to measure them against
        rows = "".join(
            f"<tr><td>{h:.0e}</td><td>{_number(fw)}</td><td>{_number(cv)}</td></tr>"
            for h, fw, cv in zip(r["steps"], r["forward"], r["central"])
        )
        return (
            f"{heading}<p class='note'>{partial} does not exist: {_esc(r['undefined'])}.</p>"
            f"<table><tr><th>step h</th><th>forward difference</th><th>central difference</th></tr>{rows}</table>"
            "<p class='note'>No automatic derivative and no errors: there is no derivative to measure them "
            "against.</p>"
        )
    kind = f"{r['error_kind']} error"
    ad = _number(r["ad"], shortest=True)
    lines = [f"<tr><td>automatic differentiation (chainrule)</td><td><code>{ad}</code></td></tr>"]
    if r["reference"] is not None:
        import mpmath

        why = "; the derivative underflows float64" if r["underflow"] else ""
        lines.append(
            f"<tr><td>{DIGITS}-digit reference (mpmath)</td>"
            f"<td><code>{_esc(mpmath.nstr(r['reference'], DIGITS))}</code></td></tr>"
            f"<tr><td>error of automatic differentiation</td>"
            f"<td>{_error(r['ad_error'], r['ad'])} ({kind}{why})</td></tr>"
        )
    else:
        lines.append(f"<tr><td>{DIGITS}-digit reference</td><td>{_esc(r['reference_note'])}</td></tr>")
    against = f"{DIGITS}-digit reference" if r["against"] == "reference" else "automatic derivative"
    columns = zip(r["steps"], r["forward"], r["forward_error"], r["central"], r["central_error"])
    rows = "".join(
        f"<tr><td>{h:.0e}</td><td>{_number(fw)}</td><td>{_error(fe, fw)}</td>"
        f"<td>{_number(cv)}</td><td>{_error(ce, cv)}</td></tr>"
        for h, fw, fe, cv, ce in columns
    )
    return (
        f"{heading}"
        f"<table>{''.join(lines)}</table>"
        f"<table><tr><th>step h</th><th>forward difference</th><th>{kind}</th>"
        f"<th>central difference</th><th>{kind}</th></tr>{rows}</table>"
        f"<p class='note'>Errors against the {against}.</p>"
    )


def plot(results: dict[str, dict], output: str) -> str:
    """The error of forward and central differences against the step size (one curve per partial derivative)
    and of the automatic derivative (one point per partial derivative), as inline SVG (matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "<p class='note'>(no plot: pip install 'chainrule[draw]' for matplotlib)</p>"
    figure = error_figure(results, output)
    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a crowded figure cannot always be laid out: not worth a message
        figure.savefig(
            buffer, format="svg", bbox_inches="tight", metadata={"Date": None}
        )  # the same page for the same graph
    plt.close(figure)
    svg = buffer.getvalue()
    return "<div class='plot'>" + svg[svg.index("<svg") :] + "</div>"


def error_figure(results: dict[str, dict], output: str) -> Any:
    """The matplotlib figure of ``plot``: two panels side by side, forward and central differences, each with
    one curve per partial derivative (its own colour and marker) and that partial's automatic derivative as a
    large point of the same colour and marker at the left, where the step sizes (growing to the right) end.
    A partial derivative that does not exist is left off. Both panels share one y range holding every finite
    point; an error of exactly 0 is drawn on a labelled line below the others."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    results = {name: r for name, r in results.items() if r.get("undefined") is None}
    every = [
        e
        for r in results.values()
        for e in [*r["forward_error"], *r["central_error"], r["ad_error"]]
        if e is not None and math.isfinite(e)
    ]
    positive = [e for e in every if e > 0]
    floor = min([1e-18] + [e / 10 for e in positive])  # an error of exactly 0 is drawn at the bottom
    exact_somewhere = any(e == 0 for e in every)
    kinds = {r["error_kind"] for r in results.values()}
    eps = float(np.finfo(np.float64).eps)
    # one y range for both panels (they share it), set from every point drawn in either: a panel without a
    # finite point must not cut off the other's; at least 4 decades, so a single value still gets ticks
    drawn = [max(e, floor) for e in every] + ([eps] if "relative" in kinds else [])
    ylim = (floor, 1.0)
    if every:
        ylim = (min(drawn) / 4, max(drawn) * 4)
        ylim = (ylim[0], max(ylim[1], ylim[0] * 1e4))
    if kinds == {"relative"}:
        ylabel = short = "relative error"
    elif kinds == {"absolute"}:
        ylabel, short = "absolute error (the derivative is 0)", "absolute error"
    else:
        ylabel, short = "error: relative, absolute where the derivative is 0", "relative / absolute error"
    steps = [h for r in results.values() for h in r["steps"]] or list(STEPS)
    ad_x = min(steps) / 100  # the automatic derivative has no step: its points stand left of the smallest one
    ticks = [ad_x] + [h for h in sorted(set(steps)) if round(math.log10(h)) % 3 == 0]
    labels = ["AD"] + [f"{h:.0e}" for h in ticks[1:]]

    figure, panels = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True, layout="constrained")
    titles = ("Forward differences, (f(x+h) - f(x)) / h", "Central differences, (f(x+h) - f(x-h)) / 2h")
    entries: dict[str, Any] = {}  # the legend: per partial derivative its curve and its AD point, then guides
    for axes, kind, title in zip(panels, ("forward", "central"), titles):
        axes.set_xscale("log")
        axes.set_xlim(ad_x / 8, max(steps) * 3)  # set first: a panel may have no finite point to scale it
        for i, (name, r) in enumerate(results.items()):
            color, marker = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
            shown = "" if r["error_kind"] == "relative" or kinds == {"absolute"} else " (absolute)"
            pairs = sorted(zip(r["steps"], r[f"{kind}_error"]))
            errors = [max(e, floor) if math.isfinite(e) else math.nan for _, e in pairs]
            (line,) = axes.loglog([h for h, _ in pairs], errors, "-", marker=marker, color=color, markersize=5)
            entries.setdefault(f"d{output}/d{name}{shown}: finite differences", line)
            if r["ad_error"] is not None and math.isfinite(r["ad_error"]):
                spread = 1.6 ** (i - (len(results) - 1) / 2)  # side by side, so equal errors stay visible
                (point,) = axes.plot(
                    [ad_x * spread],
                    [max(r["ad_error"], floor)],
                    linestyle="none",
                    marker=marker,
                    markersize=10,
                    color=color,
                    markeredgecolor="black",
                    markeredgewidth=1.2,
                )
                entries.setdefault(f"d{output}/d{name}{shown}: chainrule (AD)", point)
        if "relative" in kinds:
            guide = axes.axhline(eps, color="#555555", linestyle=":", linewidth=1.2)
            entries.setdefault("float64 machine epsilon (guide)", guide)
        if exact_somewhere:
            bottom = axes.axhline(floor, color="#999999", linewidth=0.8)
            entries.setdefault(f"error 0, drawn at {floor:.0e}", bottom)
            axes.annotate(
                "error 0",
                xy=(0.99, floor),
                xycoords=("axes fraction", "data"),
                xytext=(0, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=8,
                color="#555555",
            )
        axes.set_ylim(*ylim)
        points = [e for r in results.values() for e in [*r[f"{kind}_error"], r["ad_error"]] if e is not None]
        if not any(math.isfinite(e) for e in points):
            note = "no finite error to plot:\nsee the notes and the tables"
            axes.text(0.5, 0.5, note, transform=axes.transAxes, ha="center", va="center", fontsize=9)
        axes.axvline(ad_x * 10, color="#cccccc", linewidth=1)
        axes.set_xticks(ticks, labels)
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xlabel("step size h (AD: no step)")
        axes.grid(True, which="major", alpha=0.3)
        axes.set_title(f"{title}:\n{short}", fontsize=10)
    panels[0].set_ylabel(ylabel)
    figure.legend(entries.values(), entries.keys(), loc="outside right upper", fontsize=8)
    return figure
