"""Regenerate the explainer's pictures and transcripts shown in the README: the worked example's walk-through
and graph, and the gallery of textbook expressions (docs/gallery/). A test checks that they are current.

    python docs/make_docs.py
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

from chainrule.cli import main

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.md"
SEED = ["sin(x*y) + cos(x*y)", "x=2", "y=3"]

# Ten textbook expressions: (file name, expression, values, what it shows)
GALLERY = [
    ("seed", "sin(x*y) + cos(x*y)", ["x=2", "y=3"], "the worked example: r feeds two operations"),
    ("product", "x*y", ["x=3", "y=-2"], "the product rule: each factor gets the other"),
    ("square", "x*x", ["x=3"], "a value used twice by one operation: two edges, two contributions"),
    ("power", "x**x", ["x=2"], "the base and the exponent of one power: x**x = exp(x·log x)"),
    ("quotient", "(x - 1)/(x + 1)", ["x=2"], "a quotient: numerator and denominator, two constants 1"),
    ("chain", "sin(log(x))", ["x=2"], "the chain rule: cos(log x)·1/x"),
    ("gaussian", "exp(-x**2/2)", ["x=1"], "a bell curve: the chain rule through three operations"),
    ("sigmoid", "1/(1 + exp(-x))", ["x=0.5"], "the logistic function: its derivative is s·(1-s)"),
    ("neuron", "tanh(w*x + b)", ["x=0.5", "w=-2", "b=1"], "one neuron: weight, input and bias"),
    ("polar", "hypot(x, y) * arctan2(y, x)", ["x=1", "y=2"], "two functions of two variables sharing inputs"),
]


def explain(expression: str, values: list[str], *options: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["explain", expression, *values, *options])
    if code != 0:
        raise SystemExit(f"chainrule explain {expression!r} failed with exit code {code}")
    return re.sub(r"^wrote .*\n", "", out.getvalue(), flags=re.M)


def gallery_markdown() -> str:
    """The README's gallery: each expression with its picture, two to a row."""
    cells = []
    for name, expression, values, what in GALLERY:
        at = ", ".join(v.replace("=", " = ") for v in values)
        cells.append(f"`{expression}` at {at}: {what}<br>![{expression}](docs/gallery/{name}.svg)")
    rows = ["| | |", "|---|---|"]
    for left, right in zip(cells[::2], cells[1::2] + [""] * (len(cells) % 2)):
        rows.append(f"| {left} | {right} |")
    return "\n".join(rows) + "\n"


def readme_text(text: str) -> str:
    """The README with its walk-through transcript and gallery table as the commands make them now."""
    transcript = explain(SEED[0], SEED[1:])
    command = f'chainrule explain "{SEED[0]}" {" ".join(SEED[1:])}'
    text = re.sub(
        r"```text\n\$ chainrule explain [^\n]*\n.*?```",
        lambda m: f"```text\n$ {command}\n{transcript}```",
        text,
        count=1,
        flags=re.S,
    )
    return re.sub(
        r"(<!-- gallery -->\n).*?(<!-- end gallery -->)",
        lambda m: m.group(1) + gallery_markdown() + m.group(2),
        text,
        count=1,
        flags=re.S,
    )


def write() -> None:
    (DOCS / "gallery").mkdir(exist_ok=True)
    explain(SEED[0], SEED[1:], "--svg", str(DOCS / "seed-graph.svg"))
    for name, expression, values, _ in GALLERY:
        explain(expression, values, "--svg", str(DOCS / "gallery" / f"{name}.svg"))
    README.write_text(readme_text(README.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.exit(0)
