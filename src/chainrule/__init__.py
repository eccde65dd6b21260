"""chainrule: automatic differentiation for array programs, by the chain rule over a recorded graph.

>>> import chainrule as cr
>>> x = cr.tensor(2.0, requires_grad=True)
>>> y = cr.tensor(3.0, requires_grad=True)
>>> r = x * y
>>> z = cr.sin(r) + cr.cos(r)
>>> z.backward()
>>> print(f"{x.grad.item():.5f} {y.grad.item():.5f}")
3.71876 2.47917
"""

from .creation import ones, ones_like, tensor, zeros, zeros_like
from .engine import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .errors import AnomalyError, ChainruleError, DtypeError, GradientError, InplaceError, LinAlgError, ShapeError
from .explainer import draw, explain
from .functions import (
    abs,
    add,
    angle,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    array,
    astype,
    broadcast_to,
    cbrt,
    ceil,
    clip,
    concatenate,
    conj,
    conjugate,
    cos,
    cosh,
    cross,
    cumprod,
    cumsum,
    deg2rad,
    diagonal,
    diff,
    divide,
    dot,
    einsum,
    erf,
    exp,
    exp2,
    expand_dims,
    expm1,
    fabs,
    flatten,
    flip,
    floor,
    fmax,
    fmin,
    full,
    gradient,
    hypot,
    imag,
    inner,
    kron,
    linspace,
    log,
    log1p,
    log2,
    log10,
    log_softmax,
    logaddexp,
    logaddexp2,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mod,
    moveaxis,
    multiply,
    nan_to_num,
    negative,
    outer,
    power,
    prod,
    rad2deg,
    ravel,
    real,
    real_if_close,
    reciprocal,
    relu,
    remainder,
    reshape,
    rint,
    roll,
    round,
    select,
    sigmoid,
    sign,
    sin,
    sinc,
    sinh,
    softmax,
    softplus,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    subtract,
    sum,
    swapaxes,
    tan,
    tanh,
    tensordot,
    trace,
    transpose,
    tril,
    triu,
    trunc,
    var,
    where,
)
from .gradcheck import gradcheck
from .manipulation import (
    append,
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    c_,
    column_stack,
    diag,
    dsplit,
    dstack,
    fliplr,
    flipud,
    hsplit,
    hstack,
    pad,
    r_,
    repeat,
    rollaxis,
    rot90,
    split,
    take,
    take_along_axis,
    tile,
    vsplit,
    vstack,
)
from .sorting import argmax, argmin, argpartition, argsort, median, partition, sort
from .tensor import Tensor
from .transforms import (
    checkpoint,
    custom_vjp,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    ravel_pytree,
    tree_flatten,
    tree_unflatten,
    value_and_grad,
    vjp,
)

# isort: split
from . import fft, linalg, nn, optim  # built on everything above
from .jit import JitWarning, jit  # noqa: E402  (traces everything above)
from .nn.init import manual_seed
from .serialization import CheckpointError, load, save
from .vectorize.batched import BatchedValueError
from .vectorize.transform import vmap

__version__ = "0.1.0"

__all__ = [name for name in dir() if not name.startswith("_")]


def __getattr__(name: str) -> object:
    # cr.scipy on first use (it needs the scipy extra, so it is not imported with chainrule itself)
    if name == "scipy":
        import importlib

        return importlib.import_module(".scipy", __name__)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
