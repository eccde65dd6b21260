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
from chainrule.explainer.singular import singularities
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

    graph = graph_of("relu(x)", x=0.0)
    result = finite_differences(graph, graph.inputs[0])
    reason = "not differentiable at x = 0; its slope is 0.0 from the left and 1.0 from the right"
    assert result["reference"] is None and reason in result["reference_note"] and result["against"] == "ad"
    # sqrt at 0 has no derivative at all (not a kink with a convention): nothing is measured, see below
    graph = graph_of("sqrt(x)", x=0.0)
    result = finite_differences(graph, graph.inputs[0])
    assert result["reference"] is None and result["against"] is None and "infinite slope" in result["undefined"]
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


def plain(section):
    """The section's text as a reader sees it: no plot, no tags, entities decoded."""
    return html_unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*</svg>", "", section, flags=re.S)))


def partial_block(section, heading):
    """The HTML of one partial derivative's part of the panel: from its heading to the next one."""
    start = section.index(f"<h3>{heading}")
    end = section.find("<h3>", start + 1)
    return section[start : end if end >= 0 else len(section)]


def closed(figure):
    import matplotlib.pyplot as plt

    plt.close(figure)


# -- review findings: zero errors, missing derivatives, the y range, underflow, headings ---------------------------


@pytest.mark.parametrize("source, values", [("x - x", {"x": 3.0}), ("x*y", {"x": 0.0, "y": 0.0})])
def test_errors_that_are_all_zero_are_drawn_on_a_labelled_zero_line(source, values):
    graph = graph_of(source, **values)
    results = {n.name: finite_differences(graph, n) for n in graph.inputs}
    assert all(e == 0 for r in results.values() for e in [*r["forward_error"], *r["central_error"], r["ad_error"]])
    figure = error_figure(results, "z")
    try:
        figure.canvas.draw()
        for axes in figure.axes[:2]:
            low, high = axes.get_ylim()
            assert high / low >= 1e3  # a real axis, not a sliver around one value
            ticks = [t for t in axes.get_yticks() if low <= t <= high]
            assert len(ticks) >= 2
            drawn = [
                y
                for line in axes.get_lines()
                if line.get_linestyle() != "-" or line.get_marker() != "None"
                for y in line.get_ydata()
            ]
            points = [float(y) for y in drawn if np.isfinite(y)]
            assert points and all(low < y < high for y in points)  # every point inside the frame
            assert len(set(points)) == 1  # all on the zero line
            zero_line = [line for line in axes.get_lines() if list(line.get_ydata()) == [points[0]] * 2]
            assert zero_line  # the horizontal line they sit on
            assert "error 0" in [t.get_text() for t in axes.texts]  # labelled on the panel itself
        labels = [t.get_text() for t in figure.axes[0].get_yticklabels() if t.get_visible()]  # right panel shares it
        assert sum(bool(label) for label in labels) >= 2
        legend = [t.get_text() for t in figure.legends[0].get_texts()]
        assert "error 0, drawn at 1e-18" in legend
    finally:
        closed(figure)
    assert "<svg" in quietly(accuracy_section, graph)


@pytest.mark.parametrize(
    "source, values, name",
    [("x**x", {"x": 0.0}, "x"), ("x**y", {"x": -2.0, "y": 2.0}, "y"), ("sqrt(x)", {"x": 0.0}, "x")],
)
def test_a_partial_derivative_that_does_not_exist_is_said_and_not_compared(source, values, name):
    graph = graph_of(source, **values)
    node = next(n for n in graph.inputs if n.name == name)
    reason = singularities(graph).reason(node)
    assert reason
    result = finite_differences(graph, node)
    assert result["undefined"] == reason and result["against"] is None and result["ad_error"] is None
    section = quietly(accuracy_section, graph)
    text = plain(section)
    assert f"dz/d{name} does not exist: {reason}" in text
    assert "(the derivative is 0)" not in text and "A derivative rule may be wrong" not in text
    block = partial_block(section, f"dz/d{name}")
    assert f"dz/d{name} does not exist: {reason}" in plain(block)
    assert "automatic differentiation (chainrule)" not in block and "error</th>" not in block
    assert "<th>forward difference</th><th>central difference</th>" in block
    others = [n.name for n in graph.inputs if n.name != name]
    if others:  # the partials that exist are still compared and plotted; this one is left off the plot
        results = {n.name: finite_differences(graph, n) for n in graph.inputs}
        figure = error_figure(results, "z")
        try:
            legend = " ".join(t.get_text() for t in figure.legends[0].get_texts())
            assert f"dz/d{name}" not in legend and all(f"dz/d{o}" in legend for o in others)
        finally:
            closed(figure)
        assert "<svg" in section and "error of automatic differentiation" in partial_block(section, f"dz/d{others[0]}")
    else:
        assert "<svg" not in section and "no plot" in text


def test_the_command_line_says_a_missing_derivative_without_warnings(tmp_path):
    path = tmp_path / "report.html"
    command = [sys.executable, "-W", "error", "-m", "chainrule", "explain", "x**x", "x=0", "--html", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # the derivative does not exist
    assert "Warning" not in done.stderr and done.stderr.startswith("chainrule: error: dz/dx does not exist")
    assert "dz/dx does not exist: x**x has no derivative in its exponent" in plain(path.read_text(encoding="utf-8"))


def test_the_note_lists_exactly_the_finite_differences_that_are_not_finite():
    graph = graph_of("x**x", x=0.0)
    result = finite_differences(graph, graph.inputs[0])
    assert all(math.isfinite(v) for v in result["forward"]) and result["forward"][0] == pytest.approx(-2.0567, 1e-4)
    assert not any(math.isfinite(v) for v in result["central"])
    text = plain(accuracy_section(graph))
    note = re.search(r"For dz/dx, (.*?) are not finite numbers", text).group(1)
    assert note == "central differences at all 15 step sizes"
    assert "-2.05671765275719" in text and "-34.5" in text  # the forward differences are listed

    graph = graph_of("exp(x)", x=709.7)  # only the largest steps overflow
    result = finite_differences(graph, graph.inputs[0])
    bad = {
        kind: [h for h, v in zip(result["steps"], result[kind]) if not math.isfinite(v)]
        for kind in ("forward", "central")
    }
    assert bad["forward"] and len(bad["forward"]) < len(result["steps"])
    note = re.search(r"For dz/dx, (.*?) are not finite numbers", plain(accuracy_section(graph))).group(1)
    for kind, steps in bad.items():
        if steps:
            listed = re.search(rf"{kind}(?: and central)? differences at \d+ step size\(s\) \(h = ([^)]*)\)", note)
            assert listed.group(1) == ", ".join(f"{h:.0e}" for h in steps)


def test_the_y_range_holds_every_finite_point_when_the_other_panel_has_none(monkeypatch):
    # without mpmath the errors are against AD; x*sqrt(x) at 1e-30 has no value left of 0, so every central
    # difference is NaN, and the forward errors are far above 1
    monkeypatch.setitem(sys.modules, "mpmath", None)
    graph = graph_of("x*sqrt(x)", x=1e-30)
    result = finite_differences(graph, graph.inputs[0])
    assert result["ad_error"] is None and not any(math.isfinite(e) for e in result["central_error"])
    finite = [e for e in result["forward_error"] if math.isfinite(e)]
    assert finite and max(finite) > 1e6
    figure = error_figure({"x": result}, "z")
    try:
        for axes in figure.axes[:2]:
            low, high = axes.get_ylim()
            assert low < min(finite) and max(finite) < high
    finally:
        closed(figure)


def test_a_derivative_below_the_smallest_float64_is_said_to_underflow(monkeypatch):
    graph = graph_of("exp(x)", x=-800.0)
    result = finite_differences(graph, graph.inputs[0])
    assert result["ad"] == 0 and 0 < result["reference"] < mpmath.mpf("1e-340") and result["underflow"]
    text = plain(quietly(accuracy_section, graph))
    assert "dz/dx underflows float64" in text and "A derivative rule may be wrong" not in text
    assert "smallest positive float64 (4.9e-324)" in text
    # an automatic derivative far above the true one is still suspicious, underflow or not
    monkeypatch.setattr(elementwise.exp, "rules", (lambda g, ans, x: g * ans + 1e-300,))
    graph = graph_of("exp(x)", x=-800.0)
    text = plain(accuracy_section(graph))
    assert "A derivative rule may be wrong" in text and "underflows float64:" not in text


def test_headings_give_a_direction_only_for_arrays():
    section = accuracy_section(graph_of("sin(x*y)", x=2.0, y=3.0))
    assert "<h3>dz/dx</h3>" in section and "<h3>dz/dy</h3>" in section
    assert "direction" not in plain(section)
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    section = accuracy_section(capture(cr.sum(cr.tanh(w @ w))))
    assert re.search(r"<h3>d\w+/dw \(along a random unit direction\)</h3>", section)
