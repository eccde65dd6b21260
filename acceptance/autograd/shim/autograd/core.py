"""autograd.core: the vjp and jvp makers (autograd's internals, vspace and the trace, are not mapped)."""

from .differential_operators import _jvp as make_jvp  # noqa: F401
from .differential_operators import _vjp as make_vjp  # noqa: F401
from .extend import defvjp, primitive  # noqa: F401

primitive_vjps: dict = {}  # autograd's table of rules (an internal): chainrule keeps its rules with its primitives
