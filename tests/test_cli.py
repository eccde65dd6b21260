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

import chainrule as cr
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


# -- points where a derivative does not exist: one decision, everywhere ------------------------------------------


@pytest.mark.parametrize(
    "argv, missing, kept",
    [
        (["x**y", "x=-2", "y=2"], "dz/dy does not exist at x = -2, y = 2", {"x": -4.0}),
        (["x**x", "x=0"], "dz/dx does not exist at x = 0", {}),
        (["x**y", "x=0", "y=0"], "dz/dy does not exist", {"x": 0.0}),
        (["sqrt(x)", "x=0"], "dz/dx does not exist at x = 0: sqrt(x) has an infinite slope", {}),
        (["sqrt(x) + y", "x=0", "y=5"], "dz/dx does not exist", {"y": 1.0}),
    ],
)
def test_a_partial_that_does_not_exist_is_refused_but_the_others_are_given(capsys, argv, missing, kept):
    code, out, err = run(capsys, "grad", *argv, "--json")
    assert code == EXIT_REFUSED
    assert missing in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    report = json.loads(out)
    assert report["grad"] == pytest.approx(kept)
    assert set(report["undefined"]) == set(argv_names(argv)) - set(kept)
    code, out, err = run(capsys, "explain", *argv)
    assert code == EXIT_REFUSED and missing in err and "does not exist" in out.split("Gradients")[1]


def argv_names(argv):
    return [a.split("=")[0] for a in argv[1:]]


@pytest.mark.parametrize(
    "argv, value, words",
    [
        (["abs(x)", "x=0"], 0.0, "abs has a kink at 0"),
        (["relu(x)", "x=0"], 0.0, "relu has a kink at 0"),
        (["maximum(x, y)", "x=1", "y=1"], 0.5, "each gets half"),
        (["clip(x, 0, 1)", "x=1"], 1.0, "clip has a kink at its bound 1"),
    ],
)
def test_kinks_give_the_convention_and_say_so(capsys, argv, value, words):
    code, out, err = run(capsys, "grad", *argv)
    assert code == 0 and err == ""
    assert f"dz/dx = {value!r}" in out and words in out
    code, out, _ = run(capsys, "explain", *argv)
    assert code == 0 and "kink" in out and words in out.split("Kinks")[1]
    assert words in cr_explain_of(argv)


def cr_explain_of(argv):
    from chainrule.cli import evaluate

    built = evaluate(argv[0], argv[1:])
    return str(cr.explain(built.output))


def test_same_point_away_from_the_kink_has_no_note(capsys):
    code, out, _ = run(capsys, "grad", "abs(x)", "x=0.5")
    assert code == 0 and "kink" not in out


def test_gradients_follow_the_command_line_order_and_names_are_kept(capsys):
    code, out, _ = run(capsys, "grad", "x**2 + abs(y)", "y=2", "x=3")
    assert out.splitlines()[1:] == ["dz/dy = 1.0", "dz/dx = 6.0"]
    code, out, _ = run(capsys, "explain", "x**2 + abs(y)", "y=2", "x=3")
    gradients = out.split("Gradients")[1].split()
    assert gradients.index("dz/dy") < gradients.index("dz/dx")
    assert "abs(y)" in out and "absolute" not in out
    assert "2·x = 6" in out and "x^(2-1)" not in out


def test_an_input_called_z_stays_z_and_the_output_takes_another_name(capsys):
    code, out, _ = run(capsys, "grad", "z*r + u", "z=1", "r=2", "u=3")
    assert out.splitlines()[0].startswith("f = z*r + u")
    assert "df/dz = 2.0" in out
    code, out, err = run(capsys, "grad", "x*y", "x=1", "y=2", "z=3")
    assert "f = x*y" in out and "df/dz = 0.0" in out and "z is not used" in err and code == 0


@pytest.mark.parametrize(
    "option, words",
    [
        (["--svg"], "--svg needs a value"),
        (["--html"], "--html needs a value"),
        (["--dot"], "--dot needs a value"),
        (["--svg", "graph.png"], "does not end in .svg"),
        (["--html", "page.svg"], "does not end in .html"),
        (["--dot", "g.txt"], "does not end in .dot"),
        (["--svg="], "--svg needs a file name"),
    ],
)
def test_a_file_option_needs_a_file_of_its_format(capsys, tmp_path, option, words):
    code, out, err = run(capsys, "explain", "x*y", "x=1", "y=2", *option)
    assert code == EXIT_REFUSED and words in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_step_prints_the_backward_pass_one_frame_at_a_time(capsys):
    code, out, _ = run(capsys, "explain", SEED, "x=2", "y=3", "--step")
    assert code == 0
    frames = out.split("\n\n")[1:]
    assert [f.splitlines()[0] for f in frames] == [
        "[0/5] Start: z is the output",
        "[1/5] Step 1 of 4: z = v + u",
        "[2/5] Step 2 of 4: u = cos(r)",
        "[3/5] Step 3 of 4: v = sin(r)",
        "[4/5] Step 4 of 4: r = x * y",
        "[5/5] Done: every input has its gradient",
    ]
    assert "running sum at r: 0.279415 (from u), waiting for 1 more" in frames[2]
    assert "running sum at r: 0.279415 (from u) + 0.96017 (from v) = 1.23959 (complete)" in frames[3]
    assert "dz/dx = 3.71876" in frames[5] and "dz/dy = 2.47917" in frames[5]


def test_an_intermediate_overflow_is_named_although_the_derivative_is_finite(capsys):
    pytest.importorskip("mpmath")
    code, out, err = run(capsys, "grad", "arctan(1/x)", "x=1e-200")
    assert code == EXIT_REFUSED
    first = err.splitlines()[0]
    assert "a step of the chain rule is not finite here (dr/dx = -1/x² = -inf at x = 1e-200)" in first
    assert "itself is finite (about -1 by 50-digit arithmetic)" in first
    assert err.splitlines()[-1].strip() == "^^^" and err.splitlines()[-2].strip() == "arctan(1/x)"


@pytest.mark.parametrize("expression, value", [("cbrt(x**3)", "1"), ("sqrt(x**4)", "0")])
def test_an_infinite_slope_cancelled_further_on_is_not_called_undefined(capsys, expression, value):
    pytest.importorskip("mpmath")
    code, out, err = run(capsys, "grad", expression, "x=0")
    assert code == EXIT_REFUSED and "does not exist" not in err
    assert f"although dz/dx itself is finite (about {value} by 50-digit arithmetic)" in err
