"""The accuracy panel: errors against a 50-digit reference made without chainrule's derivative rules, the
automatic derivative's own error on the plot, zero derivatives and overflowing finite differences said in words,
and a panel that still works without mpmath."""

import math
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.explainer import accuracy
from chainrule.explainer.accuracy import (
    COLORS,
    NO_MPMATH,
    accuracy_section,
    error_figure,
    finite_differences,
    reference_partials,
)
from chainrule.explainer.expression import build
from chainrule.explainer.graph import capture
from chainrule.ops import elementwise

mpmath = pytest.importorskip("mpmath")
pytest.importorskip("matplotlib")

EPS = float(np.finfo(np.float64).eps)


def graph_of(source, **values):
    return capture(build(source, values).output)


def quietly(function, *args):
    """``function(*args)`` with every warning an error (as ``python -W error``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return function(*args)


def svg_size(section):
    svg = re.search(r"<svg[^>]*>", section).group(0)
    width, height = (float(re.search(rf'{k}="([\d.]+)pt"', svg).group(1)) * 4 / 3 for k in ("width", "height"))
    return width, height


# -- the reference ---------------------------------------------------------------------------------------------


ANALYTIC = {  # expression: its partial derivatives, written with mpmath
    "sin(x*y)": (lambda x, y: y * mpmath.cos(x * y), lambda x, y: x * mpmath.cos(x * y)),
    "exp(x) * log(y)": (lambda x, y: mpmath.exp(x) * mpmath.log(y), lambda x, y: mpmath.exp(x) / y),
    "x**y": (lambda x, y: y * x ** (y - 1), lambda x, y: x**y * mpmath.log(x)),
    "sigmoid(x) + softplus(x*y)": (
        lambda x, y: mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2 + y / (1 + mpmath.exp(-x * y)),
        lambda x, y: x / (1 + mpmath.exp(-x * y)),
    ),
    "tanh(x) / y + arctan(x*y)": (
        lambda x, y: mpmath.sech(x) ** 2 / y + y / (1 + (x * y) ** 2),
        lambda x, y: -mpmath.tanh(x) / y**2 + x / (1 + (x * y) ** 2),
    ),
    "sqrt(x) * cosh(y) - log1p(x)*expm1(y)": (
        lambda x, y: mpmath.cosh(y) / (2 * mpmath.sqrt(x)) - mpmath.expm1(y) / (1 + x),
        lambda x, y: mpmath.sqrt(x) * mpmath.sinh(y) - mpmath.log1p(x) * mpmath.exp(y),
    ),
}


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from(sorted(ANALYTIC)),
    st.floats(0.05, 3.0, allow_nan=False),
    st.floats(0.05, 3.0, allow_nan=False),
)
def test_reference_matches_the_analytic_derivative_to_30_digits(source, x, y):
    partials = reference_partials(graph_of(source, x=x, y=y))
    with mpmath.workdps(50):
        for name, derivative in zip("xy", ANALYTIC[source]):
            exact = derivative(mpmath.mpf(x), mpmath.mpf(y))
            assert abs(partials[name] - exact) <= mpmath.mpf(10) ** -30 * max(1, abs(exact))


@settings(max_examples=10, deadline=None)
@given(st.floats(-2.0, 2.0), st.floats(0.5, 2.0), st.floats(-1.0, 1.0))
def test_reference_of_two_argument_primitives_and_clip(y, x, shift):
    a = cr.tensor(y, requires_grad=True, name="a")
    b = cr.tensor(x, requires_grad=True, name="b")
    out = cr.arctan2(a, b) + cr.hypot(a, b) + cr.clip(a * b, -10.0, 10.0) + cr.maximum(a, b + 3.0 + shift)
    partials = reference_partials(capture(out))
    with mpmath.workdps(50):
        a, b = mpmath.mpf(y), mpmath.mpf(x)
        r2 = a * a + b * b
        da = b / r2 + a / mpmath.sqrt(r2) + b
        db = -a / r2 + b / mpmath.sqrt(r2) + a + 1
        assert abs(partials["a"] - da) < mpmath.mpf(10) ** -30 and abs(partials["b"] - db) < mpmath.mpf(10) ** -30


def test_reference_keeps_a_change_hundreds_of_digits_below_the_output():
    # z is about 1e307; its change with a is 300 digits smaller: float64 finite differences see nothing, and the
    # reference must work at enough precision to see it
    graph = graph_of("sin(a*b) + exp(d)/b", a=2.0, b=3.0, d=709.0)
    partials = reference_partials(graph)
    with mpmath.workdps(50):
        assert abs(partials["a"] - 3 * mpmath.cos(6)) < mpmath.mpf(10) ** -40
    result = finite_differences(graph, graph.inputs[0])
    assert result["ad_error"] <= 2 * EPS and all(v == 0 for v in result["forward"])
    assert "differs from the 50-digit reference" not in accuracy_section(graph)


def test_reference_refuses_kinks_domain_edges_arrays_and_unknown_operations():
    assert reference_partials(graph_of("relu(x)", x=0.0)) == {"x": None}
    assert reference_partials(graph_of("maximum(x, y)", x=1.0, y=1.0)) == {"x": None, "y": None}
    assert reference_partials(graph_of("sqrt(x)", x=0.0)) == {"x": None}
    # not a kink: abs(x)**2 is smooth at 0, and the one-sided slopes say so
    assert reference_partials(graph_of("abs(x)**2", x=0.0)) == {"x": 0}
    # the jump of arctan2 across the negative x axis
    y, x = cr.tensor(0.0, requires_grad=True, name="y"), cr.tensor(-1.0, requires_grad=True, name="x")
    assert reference_partials(capture(cr.arctan2(y, x)))["y"] is None
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    assert reference_partials(capture(cr.sum(cr.tanh(w @ w)))) == {"w": None}
    assert reference_partials(capture(cr.sum(cr.tensor(2.0, requires_grad=True, name="s") * 3))) == {"s": None}

    reasons = {
        "relu(x)": "not differentiable at x = 0; its slope is 0.0 from the left and 1.0 from the right",
        "sqrt(x)": "'sqrt' has no real value next to this point at x = 0",
    }
    for source, reason in reasons.items():
        result = finite_differences(graph_of(source, x=0.0), graph_of(source, x=0.0).inputs[0])
        assert result["reference"] is None and reason in result["reference_note"] and result["against"] == "ad"
    graph = capture(cr.sum(cr.tanh(w @ w)))
    section = accuracy_section(graph)
    assert "not arrays" in section and "a random unit direction" in section
    section = accuracy_section(capture(cr.sum(cr.tensor(2.0, requires_grad=True, name="s") * 3)))
    assert "the operation &#x27;sum&#x27; has no mpmath counterpart" in section


# -- a wrong rule shows --------------------------------------------------------------------------------------------


def test_a_wrong_derivative_rule_shows_as_a_large_ad_error(monkeypatch):
    source, values = "sin(x*y) + cos(x*y)", {"x": 2.0, "y": 3.0}
    right = capture(build(source, values).output)
    for node in right.inputs:
        result = finite_differences(right, node)
        assert result["against"] == "reference" and result["ad_error"] <= 4 * EPS
    assert "differs from the 50-digit reference" not in accuracy_section(capture(build(source, values).output))

    assert type(elementwise.sin.rules) is tuple  # one reverse rule per input
    monkeypatch.setattr(elementwise.sin, "rules", (lambda g, ans, x: g * (np.cos(x) + 0.1),))
    wrong = capture(build(source, values).output)
    assert reference_partials(wrong) == reference_partials(right)  # the reference does not use the rules
    result = finite_differences(wrong, wrong.inputs[0])
    assert result["ad"] == pytest.approx(3.718757354547875 + 0.3, rel=1e-12)
    assert result["ad_error"] == pytest.approx(0.3 / 3.718757354547875, rel=1e-6)
    # the finite differences agree with the reference, not with the wrong automatic derivative
    assert min(result["central_error"]) < 1e-9
    section = accuracy_section(capture(build(source, values).output))
    assert "differs from the 50-digit reference by 8.07e-02 (relative)" in section


@settings(max_examples=15, deadline=None)
@given(st.floats(0.01, 3.0), st.floats(0.01, 3.0))
def test_ad_error_is_a_few_ulps_where_nothing_cancels(x, y):
    graph = graph_of("exp(x) * sqrt(y) * log1p(x*y)", x=x, y=y)
    for node in graph.inputs:
        assert finite_differences(graph, node, steps=(1e-4,))["ad_error"] <= 4 * EPS


# -- zero derivatives, overflow, no warnings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, x, largest",
    [("x*0", 1.5, 1), ("sin(x)", math.pi / 2, 1e17), ("relu(x)*2 + x", 0.0, 10), ("exp(x)", 700.0, 1.2e304)],
)
def test_no_warnings_and_no_absurd_numbers(source, x, largest, capfd):
    section = quietly(accuracy_section, graph_of(source, x=x))
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    text = re.sub(r"<svg.*</svg>", "", section, flags=re.S)
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?e[+-]\d+", text)]
    assert numbers and max(abs(n) for n in numbers) <= largest  # no 1e+300 standing in for "no relative error"
    width, height = svg_size(section)
    assert width >= 200 and height >= 100


def test_the_command_line_report_runs_under_python_w_error(tmp_path):
    path = tmp_path / "report.html"
    command = [sys.executable, "-W", "error", "-m", "chainrule", "explain", "exp(x) + x*0", "x=709.7", "--html"]
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    text = path.read_text(encoding="utf-8")
    assert "infinite (inf): not a finite number" in text and "50-digit reference (mpmath)" in text


def test_a_graph_without_inputs_has_nothing_to_compare():
    section = quietly(accuracy_section, graph_of("2*3"))
    assert "No input requires grad" in section and "<svg" not in section


def test_a_zero_derivative_is_measured_with_absolute_error():
    graph = graph_of("x*0 + sin(y)", x=1.5, y=math.pi / 2)
    results = {n.name: finite_differences(graph, n) for n in graph.inputs}
    zero, small = results["x"], results["y"]
    assert zero["reference"] == 0 and zero["error_kind"] == "absolute" and zero["ad_error"] == 0
    assert all(e == 0 for e in zero["forward_error"] + zero["central_error"])
    # cos(pi/2 rounded to float64) is 6.1e-17, not 0: relative error, and AD gets it to the last bit or so
    assert float(small["reference"]) == pytest.approx(6.123233995736766e-17, rel=1e-15)
    assert small["error_kind"] == "relative" and small["ad_error"] <= 2 * EPS
    section = accuracy_section(graph)
    assert "<th>absolute error</th>" in section and "<th>relative error</th>" in section
    figure = error_figure(results, "z")
    try:
        forward = figure.axes[0]
        assert "relative / absolute error" in forward.get_title()
        assert "absolute where the derivative is 0" in forward.get_ylabel()
        # exact errors are drawn at the bottom of the plot, not left out: the plot is not empty
        assert all(np.isfinite(line.get_ydata()).all() for line in forward.get_lines()[:2])
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)


def test_finite_differences_that_overflow_are_said_in_words_and_left_off_the_plot():
    graph = graph_of("exp(x)", x=709.7)
    result = finite_differences(graph, graph.inputs[0])
    assert math.isinf(result["forward"][0]) and math.isnan(result["forward_error"][0])
    assert math.isnan(result["central"][0]) or math.isinf(result["central"][0])
    assert result["ad_error"] <= 2 * EPS  # the automatic derivative is fine right up to the overflow
    section = accuracy_section(graph)
    assert "infinite (inf): not a finite number" in section
    assert "are not finite numbers" in section and "left off the plot" in section
    assert "h = 1e-01" in section
    figure = error_figure({"x": result}, "z")
    try:
        curve = figure.axes[0].get_lines()[0]
        plotted = dict(zip(curve.get_xdata(), curve.get_ydata()))
        assert math.isnan(plotted[0.1]) and math.isfinite(plotted[0.01])
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)


# -- the plot and the tables ---------------------------------------------------------------------------------------


def test_plot_two_panels_one_curve_and_one_ad_point_per_partial():
    graph = graph_of("sin(x*y) + cos(x*y) + w", x=2.0, y=3.0, w=0.5)
    results = {n.name: finite_differences(graph, n) for n in graph.inputs}
    figure = error_figure(results, "z")
    try:
        forward, central = figure.axes[:2]
        assert "Forward" in forward.get_title() and "Central" in central.get_title()
        for axes in (forward, central):
            assert "relative error" in axes.get_title()
            assert not axes.xaxis_inverted()  # the step size grows to the right
            assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
            lines = axes.get_lines()
            curves = [line for line in lines if len(line.get_xdata()) == len(accuracy.STEPS)]
            points = [line for line in lines if len(line.get_xdata()) == 1 and line.get_linestyle() == "None"]
            assert len(curves) == len(points) == 3  # one curve and one AD point per partial derivative
            assert len({c.get_color() for c in curves}) == 3 and len({c.get_marker() for c in curves}) == 3
            assert {c.get_color() for c in curves} <= set(COLORS)
            for curve, point in zip(curves, points):
                assert (curve.get_color(), curve.get_marker()) == (point.get_color(), point.get_marker())
                assert point.get_xdata()[0] < min(accuracy.STEPS) <= min(curve.get_xdata())
            # the AD point is at chainrule's measured error, not at a fixed line
            errors = sorted(float(p.get_ydata()[0]) for p in points)
            assert errors == sorted(max(r["ad_error"], 1e-18) for r in results.values())
        legend = [t.get_text() for t in figure.legends[0].get_texts()]
        assert "dz/dw: chainrule (AD)" in legend and "dz/dx: finite differences" in legend
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)


def test_plot_comes_before_the_tables_and_the_tables_say_everything():
    section = accuracy_section(graph_of("sin(x*y) + cos(x*y)", x=2.0, y=3.0))
    assert section.index("<svg") < section.index("<table")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", section)  # nothing fetched: all inline
    for text in (
        "<th>step h</th><th>forward difference</th><th>relative error</th><th>central difference</th>",
        "automatic differentiation (chainrule)</td><td><code>3.718757354547875</code>",
        "50-digit reference (mpmath)</td><td><code>3.71875735454787568",
        "error of automatic differentiation</td><td>1.43e-16 (relative error)",
        "Errors against the 50-digit reference.",
    ):
        assert text in section
    reference = re.search(r"50-digit reference \(mpmath\)</td><td><code>([0-9.]+)</code>", section).group(1)
    assert len(reference.replace(".", "")) >= 45
    width, height = svg_size(section)
    assert width >= 200 and height >= 100


# -- without mpmath ------------------------------------------------------------------------------------------------


def test_without_mpmath_the_panel_measures_against_ad_and_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpmath", None)  # import mpmath raises ImportError
    graph = graph_of("sin(x*y) + cos(x*y)", x=2.0, y=3.0)
    assert reference_partials(graph) == {"x": None, "y": None}
    result = finite_differences(graph, graph.inputs[0])
    assert result["against"] == "ad" and result["reference"] is None and result["ad_error"] is None
    ad = result["ad"]
    assert result["forward_error"] == [abs(v - ad) / abs(ad) for v in result["forward"]]
    section = quietly(accuracy_section, graph)
    assert html_unescape(NO_MPMATH) in html_unescape(section)
    assert NO_MPMATH == "(no 50-digit reference: pip install 'chainrule[draw]')"
    assert "Errors against the automatic derivative." in section and "<svg" in section


def html_unescape(text):
    import html

    return html.unescape(text)
