"""The command line: grad and explain on the seed example, JSON, files, and clean refusals (no traceback)."""

import contextlib
import io
import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule.cli import EXIT_REFUSED, main

SEED = "sin(x*y) + cos(x*y)"
DX = 3 * (math.cos(6) - math.sin(6))
DY = 2 * (math.cos(6) - math.sin(6))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_grad_prints_value_and_partials(capsys):
    code, out, err = run(capsys, "grad", SEED, "x=2", "y=3")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("z = sin(x*y) + cos(x*y) = 0.68075478845")
    assert lines[1] == f"dz/dx = {DX!r}" and lines[2] == f"dz/dy = {DY!r}"
    assert abs(float(lines[1].split("= ")[1]) - 3.71877) < 2e-5


def test_grad_json(capsys):
    code, out, _ = run(capsys, "grad", SEED, "x=2", "y=3", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"value", "grad"}
    assert data["value"] == pytest.approx(math.sin(6) + math.cos(6), rel=1e-15)
    assert data["grad"] == {"x": pytest.approx(DX, rel=1e-15), "y": pytest.approx(DY, rel=1e-15)}


def test_unused_variable_has_zero_gradient(capsys):
    code, out, _ = run(capsys, "grad", "x*x", "x=3", "w=1", "--json")
    assert json.loads(out)["grad"] == {"x": 6.0, "w": 0.0}


@pytest.mark.parametrize(
    "argv",
    [
        ["grad", "-x*y", "x=2", "y=3", "--json"],
        ["grad", "--json", "-x*y", "x=2", "y=3"],
        ["grad", "--json", "--", "-x*y", "x=2", "y=3"],
        ["grad", "-x*y", "--json", "x=2", "y=3"],
    ],
)
def test_options_anywhere_and_expressions_starting_with_minus(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and json.loads(out) == {"value": -6.0, "grad": {"x": -3.0, "y": -2.0}}


def test_explain_prints_the_walkthrough_and_writes_files(capsys, tmp_path):
    pytest.importorskip("igraph")
    pytest.importorskip("matplotlib")
    svg, html, dot = tmp_path / "g.svg", tmp_path / "r.html", tmp_path / "g.dot"
    code, out, err = run(
        capsys, "explain", SEED, "x=2", "y=3", "--svg", str(svg), "--html", str(html), "--dot", str(dot)
    )
    assert code == 0 and err == ""
    assert "r     x * y       6" in out
    assert "dz/dr = 0.279415 (from u) + 0.96017 (from v) = 1.23959" in out
    assert "dz/dx = 3.71876" in out and "dz/dy = 2.47917" in out
    assert svg.read_text().startswith("<svg") and "grad 1.23959" in svg.read_text()
    assert "id='accuracy'" in html.read_text() and dot.read_text().startswith("digraph")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["grad", "x.__class__", "x=1"], "attribute access"),
        (["grad", "__import__('os').system('echo hacked')"], "names starting with '_'"),
        (["grad", "x + y", "x=1"], "no value for y"),
        (["grad", "x + 1", "x=one"], "not a number"),
        (["grad", "log(x)", "x=-1"], "log needs a positive argument"),
        (["grad", "sqrt(x)", "x=0"], "sqrt has no finite derivative"),
        (["grad", "x", "x=1", "x=2"], "given twice"),
        (["explain", "lambda: 1"], "lambdas"),
        (["explain", "(" * 500], "nested too deeply"),
    ],
)
def test_refusals_are_one_message_and_a_caret(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == EXIT_REFUSED and out == ""
    assert words in err.splitlines()[0] and err.splitlines()[-1].strip().startswith("^")
    assert "Traceback" not in err


@given(st.text(max_size=40), st.lists(st.text(max_size=8), max_size=3))
def test_any_input_ends_cleanly(expression, values):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(["grad", "--", expression, *values])
        except SystemExit as stop:  # argparse's own refusal of a malformed command line
            code = stop.code
    assert code in (0, EXIT_REFUSED)
    if code:
        first = err.getvalue().splitlines()[0]
        assert first.startswith(("chainrule: error: ", "usage: ")) and "Traceback" not in err.getvalue()


def test_installed_command_and_module_run():
    for command in (["chainrule"], [sys.executable, "-m", "chainrule"]):
        result = subprocess.run([*command, "grad", SEED, "x=2", "y=3", "--json"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["grad"]["x"] == pytest.approx(DX)
    bad = subprocess.run([sys.executable, "-m", "chainrule", "grad", "x[0]", "x=1"], capture_output=True, text=True)
    assert bad.returncode == EXIT_REFUSED and "Traceback" not in bad.stderr and "^" in bad.stderr
