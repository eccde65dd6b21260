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


@pytest.mark.parametrize(
    "source, expected",
    [
        ("ln(x)", math.log(2.5)),
        ("log10(100 * x)", math.log10(250.0)),
        ("log2(x)", math.log2(2.5)),
        ("cbrt(-8 * x)", -math.cbrt(20.0)),
        ("cbrt(27)", 3.0),
        ("arctan2(x, -1)", math.atan2(2.5, -1.0)),  # arctan2(y, x), as in NumPy
        ("atan2(-1, -x)", math.atan2(-1.0, -2.5)),
        ("arctan2(0, 0)", 0.0),
        ("hypot(3, 4)", 5.0),
        ("hypot(x, -6)", math.hypot(2.5, 6.0)),
        ("asin(x / 5) + acos(x / 5) + atan(x)", math.asin(0.5) + math.acos(0.5) + math.atan(2.5)),
        ("arcsin(x / 5) - asin(x / 5)", 0.0),
        ("sin(pi * x)", math.sin(math.pi * 2.5)),
        ("e ** x", math.e**2.5),
        ("ln(e)", 1.0),
        ("pi", math.pi),
    ],
)
def test_the_new_functions_and_constants(source, expected):
    assert value(source, x=2.5) == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_constants_are_named_numbers_not_variables():
    assert parse("sin(pi*x) + e**y").variables() == ["x", "y"]
    assert parse("pi * e").variables() == []
    assert value("2 * pi") == pytest.approx(2 * math.pi)  # no value needed
    built = build("sin(pi*x)", {"x": 0.5})
    graph = capture(built.output)
    assert [n.name for n in graph.nodes if n.kind != "op"] == ["pi", "x"]  # shown as pi, not 3.14159
    assert list(built.variables) == ["x"]
    built.output.backward()
    assert built.variables["x"].grad.item() == pytest.approx(math.pi * math.cos(math.pi / 2), abs=1e-15)


@pytest.mark.parametrize("name, shown", [("pi", "3.14159"), ("e", "2.71828")])
def test_a_value_for_a_constant_is_refused(name, shown):
    with pytest.raises(ExpressionError) as caught:
        parse_assignment(f"{name}=3")
    error = caught.value
    assert error.message == f"'{name}' is the constant {shown}..., not a variable: rename the variable"
    assert (error.start, error.end) == (0, len(name))
    with pytest.raises(ExpressionError, match="rename the variable"):
        build("x + 1", {"x": 1.0, name: 3.0})


def test_the_forward_pass_names_functions_as_written():
    built = build("ln(x) + asin(x / 4) + atan2(x, 1) + atan(x) + log(x)", {"x": 2.0})
    ops = [n.op.name for n in capture(built.output).nodes if n.kind == "op"]
    assert ops == ["ln", "divide", "asin", "add", "atan2", "add", "atan", "add", "log", "add"]
    built.output.backward()  # the derivative rules are those of log, arcsin, arctan2 and arctan
    expected = 1 / 2 + 1 / 4 / math.sqrt(1 - 0.25) + 1 / (1 + 4) + 1 / (1 + 4) + 1 / 2
    assert built.variables["x"].grad.item() == pytest.approx(expected, rel=1e-14)
    assert capture(build("log(x)", {"x": 2.0}).output).nodes[-1].op.name == "log"  # the original is untouched


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
    ("atan2(x)", "atan2 takes 2 arguments, got 1", 0),
    ("ln(x, y)", "ln takes 1 argument, got 2", 0),
    ("hypot(x)", "hypot takes 2 arguments", 0),
    ("pi(x)", "'pi' is the constant 3.14159..., not a function", 0),
    ("2 * e(x)", "'e' is the constant 2.71828..., not a function", 4),
    ("sin(x,)", "a trailing comma after the last argument of sin: remove it", 5),
    ("1 + maximum(x, y,)", "a trailing comma after the last argument of maximum: remove it", 16),
    ("atan2(x, y, )", "a trailing comma after the last argument of atan2", 10),
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


def test_a_trailing_comma_is_pointed_at_alone():
    with pytest.raises(ExpressionError) as caught:
        parse("sin(x,)")
    error = caught.value
    assert (error.start, error.end) == (5, 6)  # the comma, not the ')' after it
    assert str(error).split("\n")[2] == "       ^"
    assert parse("maximum(x, (y))").kind == "call"  # a comma before an argument is still fine


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
        ("ln(x)", {"x": -1.0}, "ln needs a positive argument"),
        ("log10(x)", {"x": 0.0}, "log10(0) is undefined: log10 needs a positive argument"),
        ("log2(x)", {"x": -2.0}, "log2 needs a positive argument"),
        ("asin(x)", {"x": 1.5}, "asin needs an argument between -1 and 1"),
        ("acos(x)", {"x": -1.5}, "acos needs an argument between -1 and 1"),
        ("hypot(x, x)", {"x": 1.5e308}, "overflows float64"),
        ("10 ** 10 ** 10", {}, "overflows float64"),
        ("x + y", {"x": 1.0}, "no value for y"),
    ],
)
def test_domain_errors_and_missing_values_point_at_the_operation(source, values, words):
    with pytest.raises(ExpressionError) as caught:
        build(source, values)
    assert words in caught.value.message
    assert "^" in str(caught.value)


# (source, values, words in the message, the text under the caret, which occurrence of it: 0 first, -1 last)
UNDER_AND_OVERFLOW = [
    ("log(exp(x))", {"x": -800.0}, ["exp(-800) underflows to 0 in float64", "log(exp(x)) is x"], "exp(x)", 0),
    ("ln(exp(2*x))", {"x": -400.0}, ["underflows to 0", "ln(exp(2*x)) is 2*x: write 2*x directly"], "exp(2*x)", 0),
    ("log(x*y)", {"x": 1e-200, "y": 1e-200}, ["1e-200 * 1e-200 underflows to 0 in float64", "1e-400"], "x*y", 0),
    ("1 / exp(x)", {"x": -800.0}, ["exp(-800) underflows to 0", "division by zero"], "exp(x)", 0),
    ("log(1e-400)", {}, ["the number 1e-400 underflows to 0 in float64"], "1e-400", 0),
    ("log10(sqrt(exp(x)))", {"x": -1500.0}, ["exp(-1500) underflows", "log10(0)"], "exp(x)", 0),
    ("log2(0.5**x)", {"x": 2000.0}, ["0.5 ** 2000 underflows to 0"], "0.5**x", 0),
    ("log(sigmoid(x))", {"x": -800.0}, ["sigmoid(-800) underflows to 0"], "sigmoid(x)", 0),
    ("log(-(-exp(x)))", {"x": -800.0}, ["exp(-800) underflows to 0"], "exp(x)", 0),
    ("log(1+exp(x))", {"x": 800.0}, ["exp overflows float64 above about 709.78", "softplus(x)"], "exp(x)", 0),
    ("log(exp(x)+1)", {"x": 800.0}, ["above about 709.78", "write softplus(x)"], "exp(x)", 0),
    ("log1p(exp(x))", {"x": 800.0}, ["softplus(x), which is log1p(exp(x)) computed without"], "exp(x)", 0),
    ("exp(x) + log(1 + exp(x))", {"x": 800.0}, ["softplus(x)"], "exp(x)", -1),  # the one inside the log
    ("log(exp(x))", {"x": 800.0}, ["exp(800) is too large", "log(exp(x)) is x"], "exp(x)", 0),
    ("exp(x)", {"x": 800.0}, ["exp(800) is too large: exp overflows float64 above about 709.78"], "exp(x)", 0),
    ("2 * cosh(x)", {"x": -800.0}, ["cosh overflows float64 beyond about ±710.48"], "cosh(x)", 0),
    ("x*y", {"x": 1e200, "y": 1e200}, ["overflows float64", "it is about 1e+400"], "x*y", 0),
]


@pytest.mark.parametrize("source, values, words, place, occurrence", UNDER_AND_OVERFLOW)
def test_underflow_and_overflow_are_named_where_they_happen(source, values, words, place, occurrence):
    with pytest.raises(ExpressionError) as caught:
        build(source, values)
    error = caught.value
    for word in words:
        assert word in error.message
    start = source.index(place) if occurrence == 0 else source.rindex(place)
    assert (error.start, error.end) == (start, start + len(place))
    lines = str(error).split("\n")
    assert len(lines) == 3 and lines[2] == "  " + " " * start + "^" * len(place)


def test_a_plain_exp_overflow_suggests_nothing_else():
    with pytest.raises(ExpressionError) as caught:
        build("log(2 * exp(x))", {"x": 800.0})
    assert "softplus" not in caught.value.message and "directly" not in caught.value.message
    assert caught.value.start == 8


@pytest.mark.parametrize(
    "source, values",
    [
        ("log(x - 2)", {"x": 2.0}),  # a true 0
        ("log(x)", {"x": 0.0}),
        ("log(x * exp(y))", {"x": 0.0, "y": 1.0}),  # 0 times a number is 0
        ("log(-exp(x))", {"x": -800.0}),  # underflowed, but negative: log of it is undefined anyway
        ("log(exp(x) - exp(x))", {"x": -800.0}),  # a difference of equal values is truly 0
    ],
)
def test_a_true_zero_is_not_called_an_underflow(source, values):
    with pytest.raises(ExpressionError) as caught:
        build(source, values)
    assert "underflow" not in caught.value.message
    assert caught.value.message.startswith("log(") and "log needs a positive argument" in caught.value.message


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
        ("ln=1", "is a function"),
        ("atan2=1", "is a function"),
        ("pi=3", "is the constant"),
        ("e=1", "is the constant"),
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
    # Accepted text holds only numbers, the variables a to d, the constant e, + - * / ** and parentheses: Python's
    # own arithmetic on the same text is the reference.
    try:
        expected = float(eval(source, {"__builtins__": {}}, dict(POINT, e=math.e)))  # noqa: S307 (accepted text)
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

SAFE_UNARY = ["sin", "cos", "tanh", "sigmoid", "arctan", "atan", "softplus"]


def expressions(max_leaves=8):
    """Random expressions that are smooth everywhere (no kinks, no domain edges), so differences are exact."""
    leaves = st.one_of(
        st.sampled_from(["x", "y", "w", "pi", "e"]),
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
            # the functions with a domain, inside it
            st.tuples(st.sampled_from(["ln", "log2", "log10"]), inner).map(lambda t: f"{t[0]}(1 + ({t[1]})**2)"),
            st.tuples(st.sampled_from(["asin", "acos"]), inner).map(lambda t: f"{t[0]}(tanh({t[1]}) / 2)"),
            inner.map(lambda t: f"cbrt(2 + cos({t}))"),
            st.tuples(st.sampled_from(["arctan2", "atan2"]), inner, inner).map(
                lambda t: f"{t[0]}({t[1]}, 2 + sin({t[2]}))"
            ),
            st.tuples(inner, inner).map(lambda t: f"hypot({t[0]}, 1 + ({t[1]})**2)"),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


PYTHON_MATH = {
    **{name: getattr(math, name) for name in ("sin", "cos", "tanh", "exp", "log", "sqrt")},
    **{name: getattr(math, name) for name in ("log2", "log10", "cbrt", "asin", "acos", "atan", "atan2", "hypot")},
    "ln": math.log,
    "arctan": math.atan,
    "arctan2": math.atan2,
    "pi": math.pi,
    "e": math.e,
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


@pytest.mark.parametrize("source, caret", [("sin(x,,)", 6), ("sin(,x)", 4), ("maximum(x,,y)", 10)])
def test_a_missing_argument_inside_a_call_is_named_as_such(source, caret):
    with pytest.raises(ExpressionError, match="an argument is missing before this comma") as error:
        parse(source)
    assert error.value.start == caret
