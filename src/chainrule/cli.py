"""The command line: ``chainrule grad`` and ``chainrule explain`` for an expression typed by the user.

    chainrule grad "sin(x*y) + cos(x*y)" x=2 y=3 [--json]
    chainrule explain "sin(x*y) + cos(x*y)" x=2 y=3 [--svg F] [--html F] [--dot F] [--step]

The expression is parsed by chainrule's own parser and computed with chainrule's operations; it is never run as
Python. Every mistake is reported in one line with a caret under its place and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import ChainruleError
from .explainer.expression import Built, ExpressionError, build, parse_assignment
from .explainer.graph import Graph, capture, format_value, rename
from .explainer.singular import singularities
from .explainer.walkthrough import formula

EXIT_REFUSED = 2  # the input was refused: a bad expression, value or option
EXIT_FAILED = 1  # something else went wrong (a file could not be written, a missing optional library)

OPTIONS_WITH_VALUE = ("--svg", "--html", "--dot", "--max-nodes")
OPTION_EXAMPLE = {"--svg": "graph.svg", "--html": "report.html", "--dot": "graph.dot", "--max-nodes": "40"}
SUFFIXES = {"svg": (".svg",), "html": (".html", ".htm"), "dot": (".dot", ".gv")}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="chainrule",
        description="Differentiate an expression by the chain rule, and show how.",
        epilog='Example: chainrule explain "sin(x*y) + cos(x*y)" x=2 y=3 --html report.html',
    )
    top.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="{grad,explain}")
    for name, text in (
        ("grad", "print the value and every partial derivative"),
        ("explain", "print the walk-through: forward table, backward steps, gradients; write pictures"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("expression", help='for example "sin(x*y) + cos(x*y)" (quote it for the shell)')
        command.add_argument("values", nargs="*", metavar="NAME=VALUE", help="a value for each variable: x=2 y=3")
        if name == "grad":
            command.add_argument("--json", action="store_true", help='print {"value": v, "grad": {"x": gx, ...}}')
        else:
            command.add_argument("--svg", metavar="FILE", help="write the picture of the graph as SVG")
            command.add_argument("--dot", metavar="FILE", help="write the graph in Graphviz's DOT language")
            command.add_argument("--html", metavar="FILE", help="write a self-contained report page")
            command.add_argument("--max-nodes", type=int, default=40, help="boxes in a picture before summarising")
            command.add_argument(
                "--step", action="store_true", help="print the backward pass one step at a time, as text frames"
            )
    return top


def _split(argv: list[str]) -> list[str]:
    """Options first, then ``--`` and the expression and values: an expression may start with '-' ("-x*y") and
    options may come anywhere, so argparse is shown the arguments already sorted."""
    if not argv or argv[0] not in ("grad", "explain"):
        return argv
    options, positionals = [argv[0]], []
    seen: set[str] = set()
    rest = iter(argv[1:])
    for arg in rest:
        name = arg.split("=", 1)[0]
        if arg == "--":
            positionals.extend(rest)
        elif name in OPTIONS_WITH_VALUE:
            if name in seen:
                raise ExpressionError(f"{name} is given twice: give it once", None)
            seen.add(name)
            options.append(arg)
            if "=" not in arg:
                value = next(rest, None)
                if value is None or (name != "--max-nodes" and "=" in value and not value.startswith("=")):
                    raise ExpressionError(f"{arg} needs a value: {arg} {OPTION_EXAMPLE[arg]}", None)
                options.append(value)
        elif arg in ("--json", "--step") or (
            arg in ("-h", "--help") and not positionals
        ):  # "-h" later is an expression
            options.append(arg)
        else:
            positionals.append(arg)
    return [*options, "--", *positionals] if positionals else options


def check_files(args: argparse.Namespace) -> None:
    """A file option names a file whose extension is its format's: --svg graph.svg, not --svg or --svg x.png."""
    for kind, suffixes in SUFFIXES.items():
        path = getattr(args, kind, None)
        if path is None:
            continue
        if not path.strip():
            raise ExpressionError(f"--{kind} needs a file name, as in --{kind} {OPTION_EXAMPLE['--' + kind]}", None)
        if Path(path).suffix.lower() not in suffixes:
            raise ExpressionError(
                f"--{kind} writes {kind.upper()}, but {path!r} does not end in {' or '.join(suffixes)}: "
                f"use --{kind} {Path(path).stem or 'graph'}{suffixes[0]}",
                None,
            )


def evaluate(expression: str, assignments: list[str]) -> Built:
    values: dict[str, float] = {}
    for text in assignments:
        name, value = parse_assignment(text)
        if name in values:
            raise ExpressionError(f"{name} is given twice", text, 0, len(name))
        values[name] = value
    return build(expression, values)


@dataclass
class Derivatives:
    """What the command line reports: every partial derivative that exists (in the order the values were given),
    why the others do not exist, the conventions used at kinks, and the variables the expression ignores."""

    graph: Graph
    grads: dict[str, float]
    undefined: dict[str, str]
    kinks: list[str]
    unused: list[str]


def differentiate(built: Built) -> Derivatives:
    """The partial derivatives by the engine's own backward pass (0 for a variable the output ignores), checked
    for points where a derivative does not exist."""
    output = built.output
    if output.requires_grad:
        with np.errstate(all="ignore"):  # a derivative that is not finite is reported below, pointing at its place
            output.backward(retain_graph=True)
    with np.errstate(all="ignore"):
        graph = rename(capture(output), {}, reserved=built.variables)  # the output is not called like an input
        singular = singularities(graph)
    grads: dict[str, float] = {}
    undefined: dict[str, str] = {}
    unused: list[str] = []
    for name, variable in built.variables.items():
        node = graph.node_of(variable)
        reason = singular.reason(node) if node is not None else None
        if node is None:
            unused.append(name)
        if reason is not None:
            undefined[name] = reason
            continue
        grads[name] = variable.grad.item() if variable.grad is not None else 0.0
        if not math.isfinite(grads[name]):
            raise _derivative_error(built, graph, name)
    return Derivatives(graph, grads, undefined, singular.kinks(), unused)


def _derivative_error(built: Built, graph: Graph, name: str) -> ExpressionError:
    """A derivative that is not finite at a point where it exists: an intermediate step of the chain rule
    overflowed float64. Point at the operation whose local derivative did, and give the true value when a
    50-digit evaluation of the same expression can."""
    with np.errstate(all="ignore"):
        graph.walk_back()
    out = graph.output.name
    true = _reference(graph, name)
    although = f", although d{out}/d{name} itself is finite (about {true} by 50-digit arithmetic)" if true else ""
    for node in reversed(graph.nodes):
        if node.kind != "op" or node.grad is None or not _finite(node.grad):
            continue
        for position, sent in enumerate(node.sent):
            if sent is not None and not _finite(sent):
                source = graph.nodes[node.inputs[position]]
                local = node.local[position]
                value = f" = {format_value(local)}" if local is not None else " is not finite"
                named = [graph.nodes[i] for i in node.inputs if graph.nodes[i].kind in ("input", "op")]
                at = ", ".join(f"{n.name} = {format_value(n.value)}" for n in named)
                start, end = built.span_of(node.tensor)
                return ExpressionError(
                    f"d{out}/d{name} is not finite in float64: a step of the chain rule is not finite here "
                    f"(d{node.name}/d{source.name} = {formula(graph, node, position)}{value} at {at}){although}",
                    built.source,
                    start,
                    end,
                )
    return ExpressionError(f"d{out}/d{name} is not finite{although}", built.source, 0, len(built.source))


def _reference(graph: Graph, name: str) -> str | None:
    """The partial derivative by 50-digit arithmetic, if it can be had (mpmath installed, a scalar graph)."""
    try:
        from .explainer.accuracy import reference_partials

        value = reference_partials(graph).get(name)
    except Exception:  # noqa: BLE001 (a missing reference only shortens the message)
        return None
    if value is None:
        return None
    number = float(value)
    return format_value(number) if math.isfinite(number) else None


def _finite(value: Any) -> bool:
    try:
        return bool(math.isfinite(float(value.sum() if hasattr(value, "sum") else value)))
    except (TypeError, ValueError, OverflowError):
        return False


def at_values(built: Built, prefix: str = "  at") -> str:
    """ "  at x = 2, y = 3" (empty without variables)."""
    at = ", ".join(f"{n} = {v.item():g}" for n, v in built.variables.items())
    return f"{prefix} {at}" if at else ""


def run_grad(args: argparse.Namespace) -> int:
    built = evaluate(args.expression, args.values)
    value = built.output.item()
    found = differentiate(built)
    name = found.graph.output.name
    if args.json:
        report: dict[str, Any] = {"value": value, "grad": found.grads}
        if found.undefined:
            report["undefined"] = found.undefined
        if found.kinks:
            report["kinks"] = found.kinks
        print(json.dumps(report))
        return _refuse_undefined(built, found)
    shown = f"{name} = {args.expression}" if args.expression.strip() != name else name
    print(f"{shown} = {value!r}{at_values(built)}")
    for variable, g in found.grads.items():
        print(f"d{name}/d{variable} = {g!r}")
    for message in found.kinks:
        print(f"kink: {message}")
    return _refuse_undefined(built, found)


def _refuse_undefined(built: Built, found: Derivatives) -> int:
    """Say which partial derivatives do not exist and why (one line each), and which variables are unused."""
    out = found.graph.output.name
    for name in found.unused:
        print(f"chainrule: note: {name} is not used by the expression (d{out}/d{name} = 0)", file=sys.stderr)
    for name, reason in found.undefined.items():
        print(f"chainrule: error: d{out}/d{name} does not exist{at_values(built, ' at')}: {reason}", file=sys.stderr)
    return EXIT_REFUSED if found.undefined else 0


def run_explain(args: argparse.Namespace) -> int:
    from .explainer.walkthrough import explain_text

    if args.max_nodes < 3:
        raise ExpressionError(f"--max-nodes must be at least 3, got {args.max_nodes}", None)
    built = evaluate(args.expression, args.values)
    found = differentiate(built)
    graph = found.graph
    title = f"{graph.output.name} = {args.expression}{at_values(built)}"
    order = list(built.variables)
    if args.step:
        from .explainer.walkthrough import step_frames

        print(title + "\n")
        print("\n\n".join(step_frames(graph, order=order)))
    else:
        print(explain_text(graph, title=title, order=order))
    written = []
    if args.svg or args.dot:
        from .explainer.picture import Figure

        figure = Figure(graph, max_nodes=args.max_nodes)
        for path, content in ((args.svg, figure.svg), (args.dot, figure.dot)):
            if path:
                Path(path).write_text(content(show_grads=True), encoding="utf-8")
                written.append(path)
    if args.html:
        from .explainer.report import page

        out = graph.output.name
        notes = [f"{name} is not used by the expression (d{out}/d{name} = 0)" for name in found.unused]
        text = page(graph, title=args.expression, accuracy=True, order=order, max_nodes=args.max_nodes, notes=notes)
        Path(args.html).write_text(text, encoding="utf-8")
        written.append(args.html)
    for path in written:
        print(f"wrote {path}")
    return _refuse_undefined(built, found)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(_split(list(sys.argv[1:] if argv is None else argv)))
        check_files(args)
        return run_grad(args) if args.command == "grad" else run_explain(args)
    except ExpressionError as error:
        print(f"chainrule: error: {error.render()}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no flush error at exit)
        return 0
    except (ChainruleError, ImportError, OSError) as error:
        print(f"chainrule: error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
