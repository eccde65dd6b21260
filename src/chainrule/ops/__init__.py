"""The primitives, grouped by kind; each module holds forwards and derivative rules side by side."""

from ..primitive import constant
from .elementwise import (
    absolute,
    add,
    arccos,
    arcsin,
    arctan,
    cast,
    clip,
    cos,
    cosh,
    divide,
    equal,
    exp,
    expm1,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    relu,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    where,
)
from .linalg import einsum, matmul
from .reductions import log_softmax, logsumexp, max, min, prod, softmax, sum, unreduce
from .shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    getitem,
    reshape,
    scatter_add,
    setitem,
    squeeze,
    sum_to,
    swapaxes,
    transpose,
)

__all__ = [name for name in dir() if not name.startswith("_")]
