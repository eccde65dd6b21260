"""The command line: ``chainrule grad`` and ``chainrule explain`` for an expression typed by the user.

    chainrule grad "sin(x*y) + cos(x*y)" x=2 y=3 [--json]
    chainrule explain "sin(x*y) + cos(x*y)" x=2 y=3 [--svg F] [--html F] [--dot F]

The expression is parsed by chainrule's own parser and computed with chainrule's operations; it is never run as
Python. Every mistake is reported in one line with a caret under its place and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import ChainruleError
from .explainer.expression import Built, ExpressionError, build, parse_assignment
from .explainer.graph import Graph, capture, format_value

EXIT_REFUSED = 2  # the input was refused: a bad expression, value or option
EXIT_FAILED = 1  # something else went wrong (a file could not be written, a missing optional library)

OPTIONS_WITH_VALUE = ("--svg", "--html", "--dot", "--max-nodes")


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
    return top


def _split(argv: list[str]) -> list[str]:
    """Options first, then ``--`` and the expression and values: an expression may start with '-' ("-x*y") and
    options may come anywhere, so argparse is shown the arguments already sorted."""
    if not argv or argv[0] not in ("grad", "explain"):
        return argv
    options, positionals = [argv[0]], []
    rest = iter(argv[1:])
    for arg in rest:
        name = arg.split("=", 1)[0]
        if arg == "--":
            positionals.extend(rest)
        elif name in OPTIONS_WITH_VALUE:
            options.append(arg)
            if "=" not in arg:
                options.append(next(rest, ""))
        elif arg == "--json" or (arg in ("-h", "--help") and not positionals):  # "-h" later is an expression
            options.append(arg)
        else:
            positionals.append(arg)
    return [*options, "--", *positionals] if positionals else options


def evaluate(expression: str, assignments: list[str]) -> Built:
    values: dict[str, float] = {}
    for text in assignments:
        name, value = parse_assignment(text)
        if name in values:
            raise ExpressionError(f"{name} is given twice", text, 0, len(name))
        values[name] = value
    return build(expression, values)


def gradients(built: Built) -> dict[str, float]:
    """The partial derivatives by the engine's own backward pass (0 for a variable the output ignores)."""
    output = built.output
    if output.requires_grad:
        with np.errstate(all="ignore"):  # a derivative that is not finite is reported below, pointing at its place
            output.backward(retain_graph=True)
    grads = {name: (v.grad.item() if v.grad is not None else 0.0) for name, v in built.variables.items()}
    bad = [name for name, g in grads.items() if not math.isfinite(g)]
    if bad:
        raise _derivative_error(built, bad[0])
    return grads


def _derivative_error(built: Built, name: str) -> ExpressionError:
    """Point at the operation whose derivative is not finite, found by walking the graph back."""
    with np.errstate(all="ignore"):
        graph = capture(built.output).walk_back()
    for node in reversed(graph.nodes):
        if node.kind != "op" or node.grad is None or not _finite(node.grad):
            continue
        for sent in node.sent:
            if sent is not None and not _finite(sent):
                arguments = ", ".join(format_value(graph.nodes[i].value) for i in node.inputs)
                start, end = built.span_of(node.tensor)
                return ExpressionError(
                    f"the derivative is not finite: {node.op.name} has no finite derivative at ({arguments})",
                    built.source,
                    start,
                    end,
                )
    return ExpressionError(f"the derivative with respect to {name} is not finite", built.source, 0, len(built.source))


def _finite(value: Any) -> bool:
    try:
        return bool(math.isfinite(float(value.sum() if hasattr(value, "sum") else value)))
    except (TypeError, ValueError, OverflowError):
        return False


def at_values(built: Built) -> str:
    """ "  at x = 2, y = 3" (empty without variables)."""
    at = ", ".join(f"{n} = {v.item():g}" for n, v in built.variables.items())
    return f"  at {at}" if at else ""


def run_grad(args: argparse.Namespace) -> int:
    built = evaluate(args.expression, args.values)
    value = built.output.item()
    grads = gradients(built)
    if args.json:
        print(json.dumps({"value": value, "grad": grads}))
        return 0
    name = capture(built.output).output.name
    shown = f"{name} = {args.expression}" if args.expression.strip() != name else name
    print(f"{shown} = {value!r}{at_values(built)}")
    for variable, g in grads.items():
        print(f"d{name}/d{variable} = {g!r}")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from .explainer.walkthrough import explain_text

    if args.max_nodes < 3:
        raise ExpressionError(f"--max-nodes must be at least 3, got {args.max_nodes}", None)
    built = evaluate(args.expression, args.values)
    gradients(built)  # refuses a derivative that is not finite, pointing at its place
    graph: Graph = capture(built.output)
    title = f"{graph.output.name} = {args.expression}{at_values(built)}"
    text = explain_text(graph, title=title)
    unused = [n for n in built.variables if graph.node_of(built.variables[n]) is None]
    print(text)
    for name in unused:
        print(f"  d{graph.output.name}/d{name} = 0 ({graph.output.name} does not depend on {name})")
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

        Path(args.html).write_text(page(graph, title=args.expression, accuracy=True), encoding="utf-8")
        written.append(args.html)
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(_split(list(sys.argv[1:] if argv is None else argv)))
    try:
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
