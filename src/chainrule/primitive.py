"""Primitives: the operations chainrule knows the derivative of.

A primitive is defined once, in one place: its forward on backend arrays, ``forward(xp, *arrays, **params)``,
where ``xp`` is the array module taken from the data, and beside it one reverse rule (VJP) per differentiable
input, ``rule(g, ans, *inputs, **params)``, written with chainrule's own operations. Called on plain arrays, a
primitive just computes; called with a Tensor among its arguments, it is recorded in the graph. The backward
pass calls the rules on plain arrays, or on Tensors when ``create_graph=True``, so the same rule line both
computes a gradient and can be differentiated again. Beside each reverse rule sits a forward rule (JVP),
``rule(t, ans, *inputs, **params)``: the change of the output caused by a change ``t`` of one input.
"""

from __future__ import annotations

import dis
from collections.abc import Callable
from typing import Any

import numpy as np

from . import engine
from .backend import _module_of_type, array_module
from .errors import ChainruleError, LinAlgError, ShapeError
from .tensor import Tensor
from .vectorize.batched import BATCHING_USED, Batched

Rule = Callable[..., Any]


class Formulas:
    """The derivative rules of a primitive written out for people: one text per input, naming the inputs
    ``{a} {b} {c}``, the output ``{out}`` and any parameter by its name. ``local`` texts are local derivatives
    (d out / d input, elementwise); otherwise a text says what the input receives from the gradient ``g``."""

    __slots__ = ("texts", "local")

    def __init__(self, texts: tuple[str, ...], local: bool) -> None:
        self.texts, self.local = texts, local

    def text(self, position: int, names: dict[str, str]) -> str:
        template = self.texts[min(position, len(self.texts) - 1)]  # a variadic op states one text for all
        return template.format_map(_Names(names))


class _Names(dict):
    def __missing__(self, key: str) -> str:
        return key


class Primitive:
    __slots__ = (
        "name",
        "forward",
        "operator",
        "rules",
        "jvps",
        "elementwise",
        "uses_output",
        "is_view",
        "hint",
        "formulas",
    )

    def __init__(self, name: str, forward: Callable[..., Any], *, is_view: bool = False, hint: str = "") -> None:
        self.name = name
        self.forward = forward
        self.operator: Callable[..., Any] | None = None  # the forward as a Python operator (see operator_primitive)
        self.rules: tuple[Rule | None, ...] | Rule | None = None  # None: not differentiable, never recorded
        self.jvps: tuple[Rule | None, ...] | Rule | None = None
        self.elementwise = False
        self.uses_output = False
        self.is_view = is_view
        self.hint = hint
        self.formulas: Formulas | None = None  # the rules in words, for the explainer (see ``describe``)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *args: Any, **params: Any) -> Any:
        for a in args:
            if type(a) is Tensor:
                return engine.record(self, args, params)
        if BATCHING_USED[0] and _batched(args, params):  # (batched values exist only once a vmap has run)
            return vectorize_rules.run(self, args, params)
        try:  # plain arrays: compute (this is what derivative rules do in a plain backward pass)
            xp = _module_of_type.get(type(args[0])) or array_module(*args)
            return self.forward(xp, *args, **params) if params else self.forward(xp, *args)
        except (ValueError, IndexError, TypeError) as error:
            raise self.error(error, args) from error

    def run(self, raw: Any, params: dict) -> Any:
        """The forward computation on backend arrays, with user mistakes turned into errors naming the op."""
        if BATCHING_USED[0] and _batched(raw, params):
            return vectorize_rules.run(self, tuple(raw), params)
        try:
            xp = _module_of_type.get(type(raw[0])) or array_module(*raw)
            return self.forward(xp, *raw, **params) if params else self.forward(xp, *raw)
        except (ValueError, IndexError, TypeError) as error:
            raise self.error(error, raw) from error

    def error(self, error: Exception, raw: Any) -> ShapeError | LinAlgError:
        message = str(error).removeprefix(f"{self.name}: ")
        shapes = ", ".join(str(getattr(a, "shape", type(a).__name__)) for a in raw)
        if isinstance(error, ChainruleError):
            return error  # already says what went wrong (a derivative rule's own check)
        if isinstance(error, np.linalg.LinAlgError):
            return LinAlgError(f"{self.name}: {message} (operand shapes: {shapes}).")
        hint = f" {self.hint}" if self.hint else ""
        return ShapeError(f"{self.name}: {message} (operand shapes: {shapes}).{hint}")


def _batched(args: Any, params: dict) -> bool:
    """Whether a vmap's batched value is among the arguments or the parameters (an index holding one, too)."""
    for a in args:
        if type(a) is Batched:
            return True
    for v in params.values():
        if type(v) is Batched:
            return True
        if type(v) is tuple:  # an index with a batched array in it
            for part in v:
                if type(part) is Batched:
                    return True
    return False


def constant(x: Any) -> Any:
    """The values of ``x`` with no gradient attached (for masks and other non-differentiable parameters)."""
    return x.data if type(x) is Tensor else x


def primitive(name: str | None = None, *, is_view: bool = False, hint: str = "") -> Callable[[Callable], Primitive]:
    """Decorator: ``@primitive()`` over ``def exp(xp, x): return xp.exp(x)`` makes the primitive ``exp``."""

    def make(forward: Callable[..., Any]) -> Primitive:
        return Primitive(name or forward.__name__, forward, is_view=is_view, hint=hint)

    return make


def operator_primitive(name: str, operator: Callable[..., Any], *, hint: str = "") -> Primitive:
    """A primitive whose forward is one of Python's operators on backend arrays (``operator.mul`` is
    ``multiply``): it needs no array module, so the engine calls it as it is, with no Python frame in between."""
    prim = Primitive(name, lambda xp, *arrays: operator(*arrays), hint=hint)
    prim.operator = operator
    return prim


def defvjp(prim: Primitive, *rules: Rule | None) -> None:
    """One reverse rule per input, in order (None for an input that is never differentiable)."""
    prim.rules = rules
    prim.uses_output = any(rule is not None and _reads_ans(rule) for rule in rules)


def describe(prim: Primitive, *local: str) -> None:
    """The local derivative of ``prim`` with respect to each input, in words: ``describe(sin, "cos({a})")``."""
    prim.formulas = Formulas(local, local=True)


def describe_vjp(prim: Primitive, *received: str) -> None:
    """What each input of a non-elementwise ``prim`` receives from the gradient ``g``: ``"g @ {b}ᵀ"``."""
    prim.formulas = Formulas(received, local=False)


class JointRule:
    """A reverse rule that gives every input's gradient from one call, ``rule(g, ans, *inputs, **params)``
    returning one gradient per input (None for none). The engine calls it once per node and per backward pass;
    called for one input (``joint(i, g, ...)``, as the per-input paths do) it computes them all and picks one,
    so nothing is cached between calls (a cache would have to know which gradient it was computed for)."""

    __slots__ = ("rule",)

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def __call__(self, i: int, g: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
        gi = self.rule(g, ans, *inputs, **params)[i]
        if gi is None:
            value = constant(inputs[i])
            return array_module(value).zeros(value.shape, dtype=value.dtype)
        return gi


def defvjp_joint(prim: Primitive, rule: Rule) -> None:
    """One reverse rule for all inputs at once: ``rule(g, ans, *inputs, **params)`` returns a gradient per input."""
    prim.rules = JointRule(rule)
    prim.uses_output = True  # a user's rule may read anything


def vjp_of(prim: Primitive, i: int, g: Any, ans: Any, values: Any, params: dict) -> Any:
    """The gradient that input ``i`` of ``prim`` receives from ``g``, whichever way the rules were given."""
    rules = prim.rules
    if type(rules) is tuple:
        return rules[i](g, ans, *values, **params)
    return rules(i, g, ans, *values, **params)


def defvjp_argnum(prim: Primitive, rule: Rule) -> None:
    """One reverse rule for every input, called as ``rule(i, g, ans, *inputs, **params)``."""
    prim.rules = rule
    prim.uses_output = _reads_ans(rule)


def defjvp(prim: Primitive, *rules: Rule | None) -> None:
    """One forward rule per input, in order: ``rule(t, ans, *inputs, **params)`` is the output's change."""
    prim.jvps = rules


def defjvp_argnum(prim: Primitive, rule: Rule) -> None:
    """One forward rule for every input, called as ``rule(i, t, ans, *inputs, **params)``."""
    prim.jvps = rule


def defjvp_elementwise(prim: Primitive) -> None:
    """For an elementwise primitive the Jacobian is diagonal: the forward rule multiplies the tangent by the same
    local derivative that the reverse rule multiplies the cotangent by, so the reverse rules serve both ways."""
    prim.jvps = prim.rules
    prim.elementwise = True


def defjvp_linear(prim: Primitive) -> None:
    """A primitive linear in its single input is its own forward rule: apply it to the tangent."""
    prim.jvps = (lambda t, ans, x, **params: prim(t, **params),)


def _reads_ans(rule: Rule) -> bool:
    # Whether a rule reads the primitive's output decides if changing that output in place must be caught.
    code = rule.__code__
    if "ans" in code.co_cellvars:
        return True
    return any(ins.argval == "ans" and ins.opname.startswith("LOAD") for ins in dis.get_instructions(code))


from .vectorize import rules as vectorize_rules  # noqa: E402  (its rules apply the primitives defined here)
