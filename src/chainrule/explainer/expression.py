"""The expression language of the command line, parsed, never evaluated as Python.

A tokenizer and a recursive-descent parser turn text such as ``sin(x*y) + cos(x*y)`` into a tree of five node
kinds (number, variable, unary minus, binary operator, call of a known function; the constants ``pi`` and ``e``
are numbers with a name); everything else is refused with an :class:`ExpressionError` that points at the
position. ``build`` then computes the tree with chainrule operations on float64 scalars, sharing repeated
subexpressions (written alike: ``y*x`` is another) so that ``x*y`` written twice is one node with two consumers,
as in the textbook graph.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import functions as F
from ..creation import tensor
from ..errors import ChainruleError
from ..primitive import Primitive
from ..tensor import Tensor

MAX_LENGTH = 1000  # characters
MAX_DEPTH = 60  # nested parentheses, calls, unary minus and powers

# Other spellings of a function: the name written -> the function's own name
ALIASES = {"ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2"}

# name -> (number of arguments, the chainrule function)
FUNCTIONS: dict[str, tuple[int, Any]] = {
    **{
        name: (1, getattr(F, name))
        for name in (
            "sin cos tan arcsin arccos arctan sinh cosh tanh exp expm1 log log1p log10 log2 sqrt cbrt square sigmoid "
            "relu softplus abs"
        ).split()
    },
    "maximum": (2, F.maximum),
    "minimum": (2, F.minimum),
    "power": (2, F.power),
    "arctan2": (2, F.arctan2),  # arctan2(y, x), as in NumPy
    "hypot": (2, F.hypot),
    "clip": (3, None),  # clip(x, lo, hi): the bounds are numbers
}
FUNCTIONS.update({alias: FUNCTIONS[name] for alias, name in ALIASES.items()})

# Named numbers: not variables, they need no value
CONSTANTS = {"pi": math.pi, "e": math.e}

BINARY = {"+": F.add, "-": F.subtract, "*": F.multiply, "/": F.divide, "**": F.power}

# What a refused character most likely meant, said in one line.
REFUSED = {
    "'": "strings are not part of the expression language",
    '"': "strings are not part of the expression language",
    "[": "subscripts and lists are not part of the expression language",
    "]": "subscripts and lists are not part of the expression language",
    "{": "sets and dicts are not part of the expression language",
    "}": "sets and dicts are not part of the expression language",
    ":": "lambdas, slices and annotations are not part of the expression language",
    ";": "only one expression can be given",
    "^": "'^' is not a power here: write x**y",
    "=": "assignments are not part of the expression: give values after it, as in x=2",
    "\\": "backslashes are not part of the expression language",
    "#": "comments are not part of the expression language",
    "`": "backquotes are not part of the expression language",
}
OPERATORS_NOT_SUPPORTED = {"%", "@", "<", ">", "&", "|", "~", "!", "$", "?"}


class ExpressionError(ChainruleError, ValueError):
    """A refused or failing expression: the message, then the expression with a caret under the place."""

    def __init__(self, message: str, source: str | None = "", start: int = 0, end: int | None = None) -> None:
        self.message, self.source, self.start = message, source, start
        self.end = max(end if end is not None else start + 1, start + 1)
        super().__init__(self.render())

    def render(self) -> str:
        if not isinstance(self.source, str):
            return self.message
        shown, start, end = _window(self.source, self.start, self.end)
        return f"{self.message}\n  {shown}\n  {' ' * start}{'^' * (end - start)}"


def _window(source: str, start: int, end: int, width: int = 100) -> tuple[str, int, int]:
    """The part of a long source around the error, with printable characters only."""
    shown = "".join(c if c.isprintable() else "?" for c in source)
    if len(shown) <= width:
        return shown, min(start, len(shown)), min(end, len(shown) + 1)
    left = max(0, min(start - width // 2, len(shown) - width))
    text = ("..." if left else "") + shown[left : left + width] + ("..." if left + width < len(shown) else "")
    offset = 3 if left else 0
    return text, start - left + offset, min(end - left + offset, len(text))


# -- tokens ----------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|//|[-+*/(),])"
)


@dataclass
class Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + max(len(self.text), 1)


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is too long ({len(source)} characters; at most {MAX_LENGTH})", source, MAX_LENGTH
        )
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            char = source[position]
            previous = tokens[-1] if tokens else None
            if char == "." and previous is not None and (previous.kind == "name" or previous.text == ")"):
                message = "attribute access is not part of the expression language"
            elif source.startswith(("==", "!=", "<=", ">="), position):
                message = "comparisons are not part of the expression language"
            elif char in REFUSED:
                message = REFUSED[char]
                if char == "=" and _inside_call(tokens):
                    message = "keyword arguments are not allowed: pass arguments by position"
            elif char in OPERATORS_NOT_SUPPORTED:
                message = f"the operator '{char}' is not supported: use + - * / ** and functions"
            else:
                message = f"unexpected character {char!r}"
            raise ExpressionError(message, source, position)
        kind = match.lastgroup
        text = match.group()
        after = source[match.end() : match.end() + 1]
        if kind == "number" and (after.isalnum() or after == "_"):
            raise ExpressionError(
                f"a number runs into a name: write {text}*{source[match.end()]} for a product",
                source,
                match.start(),
                match.end() + 1,
            )
        if kind == "op" and text == "//":
            raise ExpressionError("floor division '//' is not supported: use /", source, position, position + 2)
        if kind == "name" and text.startswith("_"):
            raise ExpressionError("names starting with '_' are not allowed", source, position, match.end())
        if kind == "name" and keyword.iskeyword(text):
            raise keyword_error(Token(kind, text, position), source)
        if kind != "space":
            tokens.append(Token(kind, text, position))
        position = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def keyword_error(token: Token, source: str) -> ExpressionError:
    what = {
        "lambda": "lambdas are",
        "for": "comprehensions and loops are",
        "import": "imports are",
        "if": "conditional expressions are",
        "not": "logical operators are",
        "and": "logical operators are",
        "or": "logical operators are",
    }.get(token.text, f"the Python keyword '{token.text}' is")
    return ExpressionError(f"{what} not part of the expression language", source, token.start, token.end)


def _inside_call(tokens: list[Token]) -> bool:
    depth = 0
    for token in reversed(tokens):
        if token.text == ")":
            depth += 1
        elif token.text == "(":
            if depth == 0:
                return True
            depth -= 1
    return False


# -- the tree --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Expr:
    kind: str  # "number", "variable", "neg", "binary", "call"
    start: int
    end: int
    text: str = ""  # the number's text (pi, e for the constants), the variable's or function's name, or the operator
    args: list[Expr] = field(default_factory=list)
    value: float = 0.0  # for numbers

    def variables(self) -> list[str]:
        found: dict[str, None] = {}
        stack = [self]
        while stack:
            e = stack.pop()
            if e.kind == "variable":
                found[e.text] = None
            stack.extend(reversed(e.args))
        return list(found)


class Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ; unary := '-' unary | '+' unary | power ;
    power := atom ('**' unary)? ; atom := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'"""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.position = 0
        self.depth = 0

    def parse(self) -> Expr:
        if self.tokens[0].kind == "end":
            raise ExpressionError("the expression is empty", self.source, 0)
        tree = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise self.unexpected(token)
        return tree

    # helpers
    def peek(self) -> Token:
        return self.tokens[self.position]

    def take(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def error(self, message: str, token: Token) -> ExpressionError:
        return ExpressionError(message, self.source, token.start, token.end)

    def unexpected(self, token: Token) -> ExpressionError:
        if token.kind == "end":
            return self.error("the expression ends too early", token)
        if token.text == "," and _inside_call(self.tokens[: self.position - 1]):
            return self.error("an argument is missing before this comma: write one expression per argument", token)
        if token.text == ",":
            return self.error("a comma outside a function call: tuples are not part of the expression language", token)
        if token.text == ")":
            return self.error("this ')' closes nothing", token)
        if token.text == "(":
            return self.error("only functions can be called, by name: sin(x)", token)
        return self.error(f"expected an operator before {token.text!r}", token)

    def unclosed(self, found: Token, opening: Token, message: str) -> ExpressionError:
        return self.error(message, opening) if found.kind == "end" else self.unexpected(found)

    def deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)", token)

    # grammar
    def expression(self) -> Expr:
        return self.left_associative(("+", "-"), self.term)

    def term(self) -> Expr:
        return self.left_associative(("*", "/"), self.unary)

    def left_associative(self, operators: tuple[str, ...], operand: Any) -> Expr:
        """operand (operator operand)*, grouped from the left: 1 - 2 - 3 is (1 - 2) - 3."""
        left = operand()
        while self.peek().text in operators:
            op = self.take()
            right = operand()
            left = Expr("binary", left.start, right.end, op.text, [left, right])
        return left

    def unary(self) -> Expr:
        token = self.peek()
        if token.text in ("-", "+"):
            self.take()
            self.deeper(token)
            operand = self.unary()
            self.depth -= 1
            if token.text == "+":
                return operand
            return Expr("neg", token.start, operand.end, "-", [operand])
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.peek().text == "**":
            token = self.take()
            self.deeper(token)
            exponent = self.unary()  # right-associative, and 2**-1 works as in Python
            self.depth -= 1
            return Expr("binary", base.start, exponent.end, "**", [base, exponent])
        return base

    def atom(self) -> Expr:
        token = self.take()
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                shown = token.text if len(token.text) <= 24 else token.text[:20] + "..."
                raise self.error(f"the number {shown} is too large for float64", token)
            return Expr("number", token.start, token.end, token.text, value=value)
        if token.text == "(":
            self.deeper(token)
            inner = self.expression()
            self.depth -= 1
            close = self.take()
            if close.text != ")":
                raise self.unclosed(close, token, "expected ')' to close the '(' here")
            inner.start, inner.end = token.start, close.end
            return inner
        if token.kind == "name":
            if token.text in CONSTANTS:
                if self.peek().text == "(":
                    message = f"{_constant(token.text)}, not a function: write {token.text}*(...) for a product"
                    raise self.error(message, token)
                return Expr("number", token.start, token.end, token.text, value=CONSTANTS[token.text])
            if self.peek().text == "(":
                return self.call(token)
            if token.text in FUNCTIONS:
                raise self.error(f"'{token.text}' is a function: call it, as in {token.text}(x)", token)
            return Expr("variable", token.start, token.end, token.text)
        raise self.unexpected(token)

    def call(self, name: Token) -> Expr:
        if name.text not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"unknown function '{name.text}' (known: {known})", name)
        opening = self.take()
        self.deeper(opening)
        args: list[Expr] = []
        if self.peek().text != ")":
            while True:
                args.append(self.expression())
                if self.peek().text != ",":
                    break
                comma = self.take()
                if self.peek().text == ")":
                    raise self.error(f"a trailing comma after the last argument of {name.text}: remove it", comma)
        close = self.take()
        if close.text != ")":
            raise self.unclosed(close, opening, "expected ')' to close this call")
        self.depth -= 1
        arity = FUNCTIONS[name.text][0]
        if len(args) != arity:
            plural = "s" if arity > 1 else ""
            raise ExpressionError(
                f"{name.text} takes {arity} argument{plural}, got {len(args)}", self.source, name.start, close.end
            )
        return Expr("call", name.start, close.end, name.text, args)


def parse(source: str) -> Expr:
    """The tree of an expression, or an ExpressionError pointing at what is refused."""
    if not isinstance(source, str):
        raise ExpressionError(f"an expression is text, got {type(source).__name__}", None)
    return Parser(source).parse()


# -- values ----------------------------------------------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, float]:
    """``x=2`` -> ("x", 2.0), refusing what is not a name and a finite number."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep:
        raise ExpressionError("a value is given as name=number, as in x=2", text, 0, len(text))
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ExpressionError(f"{name!r} is not a variable name", text, 0, max(len(name), 1))
    if name in FUNCTIONS:
        raise ExpressionError(f"'{name}' is a function, not a variable", text, 0, len(name))
    if name in CONSTANTS:
        raise ExpressionError(f"{_constant(name)}, not a variable: rename the variable", text, 0, len(name))
    start = text.index("=") + 1
    try:
        number = float(value)
    except ValueError:
        raise ExpressionError(f"the value of {name} is not a number: {value!r}", text, start, len(text)) from None
    if not math.isfinite(number):
        raise ExpressionError(f"the value of {name} must be a finite number", text, start, len(text))
    return name, number


def _constant(name: str) -> str:
    return f"'{name}' is the constant {CONSTANTS[name]:.6g}..."


def domain_problem(what: str, args: list[float], value: float) -> str:
    """Why an operation on finite numbers gave a value that is not finite, in words (``what`` as written)."""
    kind = ALIASES.get(what, what)
    if kind in ("log", "log10", "log2", "log1p", "sqrt", "arcsin", "arccos"):
        need = {"log1p": "an argument above -1", "sqrt": "an argument of at least 0"}
        if kind.startswith("log") and kind != "log1p":
            need[kind] = "a positive argument"
        return f"undefined: {what} needs {need.get(kind, 'an argument between -1 and 1')}"
    if what == "/" and args[1] == 0:
        return "undefined: division by zero"
    if what in ("**", "power") and args[0] == 0 and args[1] < 0:
        return "undefined: 0 to a negative power"
    if what in ("**", "power") and math.isnan(value):
        return "undefined: a negative number to a non-integer power"
    if math.isnan(value):
        return f"undefined: {what} has no value there"
    return "too large: it overflows float64 (|value| > 1.8e308)"


@dataclass
class Built:
    """An expression computed with chainrule: its output, its variables (leaves that require grad) and, for
    every computed tensor, the span of the source that made it."""

    source: str
    output: Tensor
    variables: dict[str, Tensor]
    spans: dict[int, tuple[int, int]]

    def span_of(self, t: Tensor | None) -> tuple[int, int]:
        return self.spans.get(id(t), (0, len(self.source))) if t is not None else (0, len(self.source))


def build(source: str, values: dict[str, float]) -> Built:
    """Parse ``source`` and compute it at ``values``; refuses missing values and domain errors."""
    tree = parse(source)
    for name in values:
        if name in CONSTANTS:
            raise ExpressionError(f"{_constant(name)}, not a variable: rename the variable", None)
    needed = tree.variables()
    missing = [name for name in needed if name not in values]
    if missing:
        first = _first_use(tree, missing[0])
        names = ", ".join(missing)
        raise ExpressionError(
            f"no value for {names}: give one after the expression, as in {missing[0]}=1", source, first.start, first.end
        )
    variables = {name: tensor(float(v), requires_grad=True, name=name) for name, v in values.items()}
    computation = _Computation(source, tree, variables)
    output = computation.output
    if tree.kind not in ("number", "variable") and not output.requires_grad:
        output.name = None  # a result computed from numbers alone is still the output, z
    return Built(source, output, variables, computation.spans)


LN10 = math.log(10)
# Functions whose value is never 0 at a finite argument: a 0 from them is an underflow.
NEVER_ZERO = {"exp", "sigmoid", "softplus"}
# Functions that are 0 where their argument is 0 and only there (near 0): a 0 from them is their argument's.
KEEP_ZERO = {"neg", "abs", "sqrt", "cbrt", "sin", "tan", "sinh", "tanh", "arcsin", "arctan", "expm1", "log1p"}
# Where a function overflows float64
OVERFLOWS_ABOVE = {"exp": "above about 709.78", "expm1": "above about 709.78", "sinh": "beyond about ±710.48"}
OVERFLOWS_ABOVE["cosh"] = OVERFLOWS_ABOVE["sinh"]


def _kind(e: Expr) -> str:
    """The operation of a node under its own name: "neg", "+", ..., or the function (``ln`` is log)."""
    if e.kind == "neg":
        return "neg"
    return ALIASES.get(e.text, e.text) if e.kind == "call" else e.text


class _Computation:
    """The tree computed with chainrule, children before parents and without recursion (a chain x*x*...*x is as
    deep as it is long). Subexpressions written alike (the same operation on the same operands) are one node,
    computed once, but every literal number is a node of its own; every occurrence knows its node, so that an
    error can look at the values around it."""

    def __init__(self, source: str, tree: Expr, variables: dict[str, Tensor]) -> None:
        self.source, self.variables = source, variables
        self.spans: dict[int, tuple[int, int]] = {}
        self.parent: dict[int, Expr] = {}
        order: list[Expr] = []
        stack = [tree]
        while stack:
            e = stack.pop()
            order.append(e)
            for a in e.args:
                self.parent[id(a)] = e
            stack.extend(e.args)
        self.node: dict[int, int] = {}  # id of an occurrence -> its node
        self.occurrences: list[list[Expr]] = []  # per node, the places it is written, the first one first
        keys: dict[tuple, int] = {}
        # Each literal written is a box of its own (the 1 of a numerator and the 1 of a denominator are two
        # constants), while subexpressions are compared by what they say: 1/x written twice is one node.
        said: dict[tuple, int] = {}  # what a subexpression says -> a number naming it
        says: dict[int, int] = {}  # id of an occurrence -> that number
        for e in reversed(order):
            if e.kind == "number":
                meaning: tuple = ("constant", e.text) if e.text in CONSTANTS else ("number", e.value)
                key: tuple = ("literal", id(e))
            elif e.kind == "variable":
                meaning = key = ("variable", e.text)
            else:
                meaning = (e.kind, e.text, *(says[id(a)] for a in e.args))
                key = ("compound", meaning)
            says[id(e)] = said.setdefault(meaning, len(said))
            if key not in keys:
                keys[key] = len(self.occurrences)
                self.occurrences.append([])
            self.node[id(e)] = keys[key]
            self.occurrences[keys[key]].append(e)
        self.results: list[Tensor] = []
        for places in self.occurrences:
            self.results.append(self.compute(places[0]))
        self.output = self.results[self.node[id(tree)]]

    def result(self, e: Expr) -> Tensor:
        return self.results[self.node[id(e)]]

    def value(self, e: Expr) -> float:
        return self.result(e).item()

    def text(self, e: Expr) -> str:
        return self.source[e.start : e.end]

    def compute(self, e: Expr) -> Tensor:
        if e.kind == "number":
            return tensor(e.value, name=e.text)
        if e.kind == "variable":
            return self.variables[e.text]
        args = [self.result(a) for a in e.args]
        with np.errstate(all="ignore"):
            result = _apply(e, args, self.source)
        if type(result) is not Tensor:
            result = tensor(result)
        if e.kind == "call":
            _name_as_written(result, e.text)
        self.spans.setdefault(id(result), (e.start, e.end))
        if not result._rg and result._op is None and not result.name:  # computed from numbers alone
            result.name = _short(result.item())
        self.check_finite(e, args, result)
        return result

    def check_finite(self, e: Expr, args: list, result: Tensor) -> None:
        """Every operand is finite (each was checked when computed): a value that is not finite is this
        operation's own domain error or overflow, or that of an operand that underflowed to 0."""
        value = result.item()
        if math.isfinite(value):
            return
        shown = [a.item() for a in args]
        problem = domain_problem(e.text if e.kind != "neg" else "-", shown, value)
        zero = _zero_operand(e, shown)
        site = self.underflow_site(e.args[zero]) if zero is not None else None
        if site is not None:
            raise self.underflow_error(e, args, problem, site)
        if not math.isnan(value) and problem.startswith("too large"):
            raise self.overflow_error(e, args)
        raise ExpressionError(f"{_call(e, args)} is {problem}", self.source, e.start, e.end)

    def underflow_site(self, e: Expr) -> Expr | None:
        """The subexpression whose value underflowed to 0 and made ``e`` 0, or None where ``e`` is truly 0."""
        while self.value(e) == 0:
            kind = _kind(e)
            if e.kind == "number":  # 1e-400 is read as 0
                return e if re.search("[1-9]", e.text.lower().partition("e")[0]) else None
            if kind in NEVER_ZERO:
                return e
            if kind == "*":
                zeros = [a for a in e.args if self.value(a) == 0]
                if not zeros:
                    return e  # a product of numbers that are not 0
                if len(zeros) > 1:
                    sites = [self.underflow_site(a) for a in zeros]
                    return sites[0] if all(sites) else None
                e = zeros[0]
            elif kind in ("/", "**", "power", "square"):  # 0 only where the first operand is
                if self.value(e.args[0]) != 0:
                    return e
                e = e.args[0]
            elif kind in KEEP_ZERO:
                e = e.args[0]
            else:
                return None
        return None

    def underflow_error(self, e: Expr, args: list, problem: str, site: Expr) -> ExpressionError:
        """``site`` underflowed to 0, and made ``e`` undefined: said in that order, pointing at the site."""
        if site.kind == "number":
            what = f"the number {site.text} underflows to 0 in float64"
        else:
            about = _about(_log10_size(site, [self.value(a) for a in site.args]))
            what = f"{_call(site, [self.result(a) for a in site.args])} underflows to 0 in float64"
            what += f" (it is about {about})" if about else ""
        message = f"{what}, so {_call(e, args)} is {problem}"
        inner = e.args[0]
        if _kind(e) == "log" and inner.kind == "call" and _kind(inner) == "exp":
            message += f"; {self.text(e)} is {self.text(inner.args[0])}: write {self.text(inner.args[0])} directly"
        return ExpressionError(message, self.source, site.start, site.end)

    def overflow_error(self, e: Expr, args: list) -> ExpressionError:
        kind = _kind(e)
        about = _about(_log10_size(e, [a.item() for a in args]))
        if kind in OVERFLOWS_ABOVE:
            message = f"{_call(e, args)} is too large: {e.text} overflows float64 {OVERFLOWS_ABOVE[kind]}"
            message += f" (it is about {about})" if about else ""
        else:
            message = f"{_call(e, args)} is too large: it overflows float64 (|value| > 1.8e308"
            message += f"; it is about {about})" if about else ")"
        place = e
        for occurrence in self.occurrences[self.node[id(e)]] if kind == "exp" else []:
            hint = self.rewrite_exp(occurrence)
            if hint:
                message, place = f"{message}; {hint}", occurrence
                break
        return ExpressionError(message, self.source, place.start, place.end)

    def rewrite_exp(self, e: Expr) -> str | None:
        """A way to write the expression around ``exp(a)`` without computing exp(a): log(exp(a)) is a, and
        log(1+exp(a)), log(exp(a)+1), log1p(exp(a)) are softplus(a)."""
        a = self.text(e.args[0])
        parent = self.parent.get(id(e))
        if parent is None:
            return None
        if parent.kind == "call" and _kind(parent) == "log":
            return f"{self.text(parent)} is {a}: write {a} directly"
        outer = None
        if parent.kind == "call" and _kind(parent) == "log1p":
            outer = parent
        elif parent.kind == "binary" and parent.text == "+":
            other = parent.args[1] if parent.args[0] is e else parent.args[0]
            grand = self.parent.get(id(parent))
            if other.kind == "number" and other.value == 1 and grand is not None and grand.kind == "call":
                outer = grand if _kind(grand) == "log" else None
        if outer is None:
            return None
        return f"write softplus({a}), which is {self.text(outer)} computed without overflow"


def _zero_operand(e: Expr, args: list[float]) -> int | None:
    """The operand that, being 0, made this operation undefined: an underflow to 0 there is the real cause."""
    kind = _kind(e)
    if kind in ("log", "log10", "log2") and args[0] == 0 and math.copysign(1.0, args[0]) > 0:
        return 0
    if kind == "/" and args[1] == 0:
        return 1
    if kind in ("**", "power") and args[0] == 0 and args[1] < 0:
        if math.copysign(1.0, args[0]) > 0 or float(args[1]).is_integer():
            return 0
    return None


def _log10_size(e: Expr, args: list[float]) -> float | None:
    """log10 of the size of the exact value of an operation on these operands, where it is easy to know."""
    kind = _kind(e)
    try:
        if kind in ("exp", "expm1", "sigmoid", "softplus"):  # (sigmoid and softplus: where they underflow)
            return args[0] / LN10
        if kind in ("sinh", "cosh"):
            return abs(args[0]) / LN10 - math.log10(2)
        if kind == "*":
            return math.log10(abs(args[0])) + math.log10(abs(args[1]))
        if kind == "/":
            return math.log10(abs(args[0])) - math.log10(abs(args[1]))
        if kind in ("**", "power"):
            return args[1] * math.log10(abs(args[0]))
        if kind == "square":
            return 2 * math.log10(abs(args[0]))
        if kind in ("+", "-"):
            half = args[0] / 2 + (args[1] / 2 if kind == "+" else -args[1] / 2)
            return math.log10(abs(half)) + math.log10(2)
        if kind == "hypot":
            return math.log10(math.hypot(args[0] / 2, args[1] / 2)) + math.log10(2)
    except (ValueError, OverflowError):  # log10 of 0
        return None
    return None


def _about(log10_size: float | None) -> str | None:
    """10**log10_size as 3.7e-348, for sizes float64 cannot hold."""
    if log10_size is None or not math.isfinite(log10_size):
        return None
    exponent = math.floor(log10_size)
    mantissa = f"{10 ** (log10_size - exponent):.2g}"
    if float(mantissa) >= 10:
        exponent, mantissa = exponent + 1, "1"
    return f"{mantissa}e{exponent:+d}"


_RENAMED: dict[tuple[int, str], tuple[Primitive, Primitive]] = {}


def _name_as_written(result: Tensor, name: str) -> None:
    """``ln(x)`` is recorded as ln, not log, so that the walk-through shows the function as it was written: the
    operation becomes a copy of the primitive (the same computation and derivative rules) under that name."""
    op = result._op
    if op is None or op.name == name:
        return
    known = _RENAMED.get((id(op), name))
    if known is None or known[0] is not op:
        renamed = Primitive(name, op.forward)
        for slot in Primitive.__slots__:
            setattr(renamed, slot, getattr(op, slot))
        renamed.name = name
        known = _RENAMED[(id(op), name)] = (op, renamed)
    result._op = known[1]


def _apply(e: Expr, args: list, source: str) -> Any:
    if e.kind == "neg":
        return F.negative(args[0])
    if e.kind == "binary":
        return BINARY[e.text](args[0], args[1])
    if e.text == "clip":
        bounds = []
        for bound, arg in zip(e.args[1:], args[1:]):
            if arg._rg:
                message = "clip's bounds must be numbers, not expressions of variables"
                raise ExpressionError(message, source, bound.start, bound.end)
            bounds.append(arg.item())
        return F.clip(args[0], bounds[0], bounds[1])
    return FUNCTIONS[e.text][1](*args)


def _call(e: Expr, args: list) -> str:
    shown = [_short(a.item()) for a in args]
    shown = [f"({v})" if v.startswith("-") and e.kind == "binary" else v for v in shown]
    if e.kind == "binary":
        return f"{shown[0]} {e.text} {shown[1]}"
    if e.kind == "neg":
        return f"-({shown[0]})"
    return f"{e.text}({', '.join(shown)})"


def _short(value: float) -> str:
    return f"{value:.6g}"


def _first_use(tree: Expr, name: str) -> Expr:
    stack = [tree]
    while stack:
        e = stack.pop()
        if e.kind == "variable" and e.text == name:
            return e
        stack.extend(reversed(e.args))
    return tree
