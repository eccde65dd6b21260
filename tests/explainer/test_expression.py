"""The expression language: what it accepts, what it refuses (with the place), and that nothing is executed."""

import builtins
import contextlib
import math
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.explainer.expression import MAX_DEPTH, MAX_LENGTH, ExpressionError, build, parse, parse_assignment
from chainrule.explainer.graph import capture

SEED = "sin(x*y) + cos(x*y)"


def value(source, **values):
    return build(source, values).output.item()


@pytest.mark.parametrize(
    "source, expected",
    [
        ("1 + 2 * 3", 7.0),
        ("2 ** 3 ** 2", 2.0**9),  # right-associative
        ("-2 ** 2", -4.0),  # unary minus binds looser than **, as in Python
        ("2 ** -1", 0.5),
        ("(1 + 2) * 3", 9.0),
        ("8 / 4 / 2", 1.0),
        ("1 - 2 - 3", -4.0),
        ("+3", 3.0),
        (".5e1 + 1.", 6.0),
        ("maximum(2, 3) + minimum(2, 3)", 5.0),
        ("clip(5, 0, 1)", 1.0),
        ("abs(-3) + relu(-1) + square(2)", 7.0),
    ],
)
def test_numbers_follow_python_arithmetic(source, expected):
    assert value(source) == pytest.approx(expected)


def test_seed_example_value():
    x, y = 2.0, 3.0
    assert value(SEED, x=x, y=y) == pytest.approx(math.sin(x * y) + math.cos(x * y), rel=1e-15)


def test_repeated_subexpression_is_one_node():
    graph = capture(build(SEED, {"x": 2.0, "y": 3.0}).output)
    products = [n for n in graph.nodes if n.op is not None and n.op.name == "multiply"]
    assert len(products) == 1  # x*y computed once and used by sin and cos
    assert len(graph.consumers[products[0].index]) == 2


REFUSED = [
    # (source, words in the message, where the caret starts)
    ("x.__class__", "attribute access", 1),
    ("(x).real", "attribute access", 3),
    ("x[0]", "subscripts", 1),
    ("lambda x: x", "lambdas", 0),
    ("[x for x in y]", "subscripts and lists", 0),
    ("(x for x in y)", "comprehensions", 3),
    ("sin(x=1)", "keyword arguments", 5),
    ("foo(x)", "unknown function 'foo'", 0),
    ("'abc'", "strings", 0),
    ('"abc" + x', "strings", 0),
    ("__import__('os')", "names starting with '_'", 0),
    ("x.__globals__", "attribute access", 1),
    ("x + ", "ends too early", 4),
    ("(x + 1", "expected ')'", 0),
    ("x + 1)", "closes nothing", 5),
    ("2x", "a number runs into a name", 0),
    ("x y", "expected an operator", 2),
    ("x ^ 2", "'^' is not a power", 2),
    ("x // 2", "floor division", 2),
    ("x % 2", "'%' is not supported", 2),
    ("x @ y", "'@' is not supported", 2),
    ("x = 2", "assignments", 2),
    ("1, 2", "comma outside a function call", 1),
    ("sin", "is a function", 0),
    ("sin(x, y)", "takes 1 argument", 0),
    ("maximum(x)", "takes 2 arguments", 0),
    ("import os", "imports", 0),
    ("x if y else 1", "conditional", 2),
    ("not x", "logical operators", 0),
    ("True + x", "keyword 'True'", 0),
    ("", "empty", 0),
    ("x; y", "only one expression", 1),
    ("1e999", "too large for float64", 0),
    ("x\n+ os.system('ls')", "attribute access", 6),
    ("λ + 1", "unexpected character", 0),
    ("clip(x, y, 1)", "bounds must be numbers", 8),
]


@pytest.mark.parametrize("source, words, start", REFUSED)
def test_refusals_name_the_problem_and_point_at_it(source, words, start):
    with pytest.raises(ExpressionError) as caught:
        build(source, {"x": 1.0, "y": 2.0})
    error = caught.value
    assert words in error.message
    assert error.start == start
    lines = str(error).split("\n")
    if source:
        assert len(lines) == 3 and lines[2].strip().startswith("^")  # the caret line under the expression


def test_caret_sits_under_the_position():
    with pytest.raises(ExpressionError) as caught:
        parse("1 + foo(2)")
    message, shown, caret = str(caught.value).split("\n")
    assert shown.index("foo") == caret.index("^") and caret.count("^") == 3


def test_over_long_and_over_deep_inputs_are_refused_quickly():
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match="too long"):
        parse("x+" * MAX_LENGTH + "x")
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5))
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("-" * (MAX_DEPTH + 5) + "x")
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("sin(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5))
    assert parse("(" * 20 + "x" + ")" * 20).kind == "variable"
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "source, values, words",
    [
        ("log(x)", {"x": -1.0}, "log needs a positive argument"),
        ("log(x - 2)", {"x": 2.0}, "log(0)"),
        ("sqrt(x)", {"x": -4.0}, "sqrt needs an argument of at least 0"),
        ("arcsin(x)", {"x": 2.0}, "between -1 and 1"),
        ("1 / (x - 1)", {"x": 1.0}, "division by zero"),
        ("x ** 0.5", {"x": -1.0}, "non-integer power"),
        ("exp(x)", {"x": 1000.0}, "overflows float64"),
        ("10 ** 10 ** 10", {}, "overflows float64"),
        ("x + y", {"x": 1.0}, "no value for y"),
    ],
)
def test_domain_errors_and_missing_values_point_at_the_operation(source, values, words):
    with pytest.raises(ExpressionError) as caught:
        build(source, values)
    assert words in caught.value.message
    assert "^" in str(caught.value)


def test_assignments():
    assert parse_assignment("x=2") == ("x", 2.0)
    assert parse_assignment("alpha = -1.5e-3") == ("alpha", -1.5e-3)
    for text, words in [
        ("x", "name=number"),
        ("x=abc", "not a number"),
        ("x=nan", "finite"),
        ("x=inf", "finite"),
        ("1x=2", "not a variable name"),
        ("__class__=1", "not a variable name"),
        ("sin=1", "is a function"),
        ("for=1", "not a variable name"),
    ]:
        with pytest.raises(ExpressionError, match=words):
            parse_assignment(text)


# -- fuzzing: random text and hostile input never escape as anything but a clean refusal or a right answer ----

ALPHABET = string.ascii_letters[:8] + string.digits + "+-*/().,_[]'\"=:;@%^!~<> \\\n\t" + "λ€"


@contextlib.contextmanager
def nothing_may_run():
    """eval, exec and compile raise while the expression is handled; the list tells whether anything tried."""
    reached = []

    def forbidden(*args, **kwargs):
        reached.append(args)
        raise AssertionError("the expression reached eval, exec or compile")

    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}
    for name in saved:
        setattr(builtins, name, forbidden)
    try:
        yield reached
    finally:
        for name, original in saved.items():
            setattr(builtins, name, original)


POINT = {"a": 0.5, "b": 1.5, "c": 2.0, "d": -1.0}


@settings(max_examples=300)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_random_text_is_refused_cleanly_or_computed_right(source):
    with nothing_may_run() as reached:
        try:
            outcome = build(source, POINT).output.item()
        except ExpressionError as error:
            outcome = error
    assert not reached
    if isinstance(outcome, ExpressionError):
        assert outcome.message and "\n" not in outcome.message
        assert 0 <= outcome.start <= len(source)
        return
    # Accepted text holds only numbers, the variables a to d, + - * / ** and parentheses: Python's own
    # arithmetic on the same text is the reference.
    try:
        expected = float(eval(source, {"__builtins__": {}}, dict(POINT)))  # noqa: S307 (text the parser accepted)
    except SyntaxError:  # Python refuses a few things chainrule reads, such as leading zeros ("012")
        return
    assert outcome == pytest.approx(expected, rel=1e-12, abs=1e-300), source


@given(st.text(min_size=0, max_size=300))
def test_arbitrary_unicode_is_refused_with_a_place_or_computed(source):
    with nothing_may_run() as reached:
        try:
            value = build(source, {"x": 1.0}).output.item()
        except ExpressionError as error:
            assert 0 <= error.start <= len(source) and error.end <= len(source) + 1
            value = None
    assert not reached and (value is None or math.isfinite(value))


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "exec(\"open('{marker}', 'w')\")",
    "eval('1')",
    "open('{marker}', 'w')",
    "x.__class__.__bases__[0].__subclasses__()",
    "().__class__",
    "globals()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "lambda: open('{marker}', 'w')",
    "9 ** 9 ** 9 ** 9",
    "2 ** 2 ** 2 ** 2 ** 2 ** 2 ** 2",
    "1" * 900,
    "(" * 5000,
    "-" * 999 + "x",
    "x" + "*x" * 499,
    "sin(" * 200 + "x" + ")" * 200,
    "\x00",
    "x\x00+1",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_inputs_execute_nothing(template, tmp_path):
    marker = tmp_path / "executed"
    source = template.format(marker=marker) if "{marker}" in template else template
    with nothing_may_run() as reached:
        try:
            outcome = build(source, {"x": 1.0001}).output.item()
        except ExpressionError as error:
            outcome = error
    assert not reached and not marker.exists()
    if not isinstance(outcome, ExpressionError):  # a correct answer, e.g. x*x*...*x
        assert outcome == pytest.approx(1.0001 ** source.count("x"))


# -- random valid expressions: the gradient matches finite differences ------------------------------------------

SAFE_UNARY = ["sin", "cos", "tanh", "sigmoid", "arctan", "softplus"]


def expressions(max_leaves=8):
    """Random expressions that are smooth everywhere (no kinks, no domain edges), so differences are exact."""
    leaves = st.one_of(
        st.sampled_from(["x", "y", "w"]),
        st.floats(0.25, 3.0).map(lambda v: f"{v:.3g}"),
    )

    def extend(inner):
        return st.one_of(
            st.tuples(st.sampled_from(SAFE_UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) / (1 + ({t[1]})**2)"),
            st.tuples(inner, st.sampled_from(["2", "3"])).map(lambda t: f"({t[0]})**{t[1]}"),
            inner.map(lambda t: f"-({t})"),
            inner.map(lambda t: f"exp(tanh({t}))"),
            inner.map(lambda t: f"log(1 + ({t})**2)"),
            inner.map(lambda t: f"sqrt(2 + sin({t}))"),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


PYTHON_MATH = {
    **{name: getattr(math, name) for name in ("sin", "cos", "tanh", "exp", "log", "sqrt")},
    "arctan": math.atan,
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    "softplus": lambda v: math.log1p(math.exp(-abs(v))) + max(v, 0.0),
}


def five_point(f, x, h=1e-3):
    """A fourth-order central difference: error about h^4 f^(5) plus rounding of about 1e-16 / h."""
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)


@settings(max_examples=60)
@given(expressions(), st.floats(-2, 2), st.floats(-2, 2), st.floats(-2, 2))
def test_random_expressions_gradients_match_finite_differences(source, x, y, w):
    point = {"x": x, "y": y, "w": w}
    built = build(source, point)  # smooth everywhere: never refused
    reference = eval(source, {"__builtins__": {}, **PYTHON_MATH}, dict(point))  # noqa: S307 (generated text)
    assert built.output.item() == pytest.approx(reference, rel=1e-12, abs=1e-14)
    if built.output.requires_grad:
        built.output.backward()
    for name in point:
        numeric = five_point(lambda v, name=name: build(source, {**point, name: v}).output.item(), point[name])
        grad = built.variables[name].grad
        exact = grad.item() if grad is not None else 0.0
        assert exact == pytest.approx(numeric, rel=1e-6, abs=1e-7), (source, name)
