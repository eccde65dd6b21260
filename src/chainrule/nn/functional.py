"""Neural-network functions on tensors: activations, losses, convolution and pooling.

Everything here is built from chainrule primitives (the fused cross-entropy and the window primitives among
them), so every function has reverse and forward derivatives to any order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functions as fn
from .. import ops
from ..backend import array_module
from ..engine.tracing import _local as _jit
from ..engine.tracing import check_values
from ..errors import DtypeError, ShapeError
from ..primitive import constant
from ..tensor import Tensor
from ..vectorize.batched import Batched

REDUCTIONS = ("mean", "sum", "none")

# the primitives these functions call, wrapped once to always give Tensors
_linear, _pad, _unfold = (fn._public(p) for p in (ops.linear, ops.pad, ops.unfold))

relu = fn.relu
tanh = fn.tanh
sigmoid = fn.sigmoid
softplus = fn.softplus
softmax = fn.softmax
log_softmax = fn.log_softmax


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x·Φ(x), Φ the standard normal's distribution function (``approximate="tanh"``: the tanh formula)."""
    if approximate == "none":
        return 0.5 * x * (1.0 + fn.erf(x * (1 / math.sqrt(2.0))))
    if approximate == "tanh":
        return 0.5 * x * (1.0 + fn.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if type(x) is Tensor or isinstance(x, np.ndarray) else np.shape(x)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight.T + bias (weight shaped (out_features, in_features)), in one operation."""
    xs, ws = _shape(x), _shape(weight)
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        raise ShapeError(
            f"linear: input of shape {xs} and weight of shape {ws}: the input's last axis must equal the weight's "
            "second (weight is (out_features, in_features)); reshape the input (x.reshape(len(x), -1)) or the layer"
        )
    if bias is not None and _shape(bias) != ws[:1]:
        raise ShapeError(f"linear: a bias of shape {_shape(bias)} for {ws[0]} outputs; it must be {ws[:1]}")
    args = (x, weight) if bias is None else (x, weight, bias)
    return _linear(*args)


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(losses: Any, reduction: str) -> Tensor:
    if reduction == "mean":
        return fn.mean(losses)
    if reduction == "sum":
        return fn.sum(losses)
    return losses


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """The mean (or sum) of squared differences; shapes must match, as in PyTorch (no silent broadcasting)."""
    _check_reduction("mse_loss", reduction)
    if np.shape(constant(input)) != np.shape(constant(target)):
        raise ShapeError(
            f"mse_loss: input of shape {np.shape(constant(input))} and target of shape {np.shape(constant(target))} "
            "differ; reshape one (a column of predictions against a flat target is the usual slip)"
        )
    diff = fn.subtract(input, target)
    return _reduce(diff * diff, reduction)


def cross_entropy(logits: Any, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of integer class ``labels`` (N,) under ``logits`` (N, C) (or (C,) and one label),
    computed stably in one fused operation."""
    _check_reduction("cross_entropy", reduction)
    if type(constant(labels)) is Batched:  # inside vmap, a label per example: pick from the log-probabilities
        return _picked_cross_entropy(logits, labels, reduction)
    labels = constant(labels)
    labels = array_module(labels).asarray(labels)
    shape = np.shape(constant(logits))
    if labels.dtype.kind not in "iu":
        raise DtypeError(
            f"cross_entropy: labels must be integer class indices, got dtype {labels.dtype}; use labels.astype(int)"
            " (for probabilities or one-hot targets, use -(targets * log_softmax(logits)).sum(axis=1).mean())"
        )
    if len(shape) == 1 and labels.ndim == 0:  # one sample: a row of logits and its label
        out = cross_entropy(fn.reshape(logits, (1, shape[0])), labels.reshape(1), reduction)
        return out[0] if reduction == "none" else out
    if len(shape) != 2 or labels.shape != shape[:1]:
        raise ShapeError(
            f"cross_entropy: logits of shape {shape} need labels of shape {shape[:1]} (one class per row), got "
            f"{labels.shape}; logits are (batch, classes)"
        )
    if labels.size:
        check_values(((labels < 0) | (labels >= shape[1])).any(), _labels_outside(shape[1]), labels)
    out = ops.softmax_cross_entropy(logits, labels=labels, reduction=reduction)
    return out if type(out) is Tensor else Tensor._from_op(out, None)


def _labels_outside(classes: int) -> Any:
    return lambda labels: ShapeError(
        f"cross_entropy: labels must lie in [0, {classes}) for {classes} classes, got values from {labels.min()} "
        f"to {labels.max()}"
    )


def _picked_cross_entropy(logits: Any, labels: Any, reduction: str) -> Tensor:
    shape = np.shape(constant(logits))
    log_probabilities = fn.log_softmax(logits, axis=-1)
    if len(shape) == 1:
        losses = -log_probabilities[labels]
    else:
        losses = -log_probabilities[np.arange(shape[0]), labels]
    return _reduce(losses, reduction) if len(shape) > 1 else losses


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """-[y log σ(x) + (1 - y) log(1 - σ(x))] = softplus(x) - x·y, stable for any logit."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if np.shape(constant(logits)) != np.shape(constant(targets)):
        raise ShapeError(
            f"binary_cross_entropy_with_logits: logits of shape {np.shape(constant(logits))} and targets of shape "
            f"{np.shape(constant(targets))} differ; they must match"
        )
    return _reduce(fn.softplus(logits) - fn.multiply(logits, targets), reduction)


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    least = 0 if name == "padding" else 1
    if len(pair) != 2 or any(int(v) != v or v < least for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints of at least {least}, got {value!r}")
    return int(pair[0]), int(pair[1])


def pad(x: Any, padding: int | Sequence[int]) -> Tensor:
    """Zeros around the last two axes (``padding``: one int, or (rows, columns))."""
    rows, cols = _pair(padding, "padding")
    ndim = np.ndim(constant(x))
    return _pad(x, widths=((0, 0),) * (ndim - 2) + ((rows, rows), (cols, cols)))


def unfold(x: Any, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1) -> Tensor:
    """The sliding windows of the last two axes: (..., H, W) -> (..., OH, OW, kh, kw)."""
    return _unfold(x, kernel=_pair(kernel_size, "kernel_size"), stride=_pair(stride, "stride"))


def conv2d(x: Any, weight: Any, bias: Any = None, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0):
    """2-D cross-correlation as in PyTorch: x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, OH, OW).

    Vectorised: the windows of the padded input become a matrix (no Python loop over pixels) that meets the
    weights in one matrix product."""
    xs, ws = np.shape(constant(x)), np.shape(constant(weight))
    if len(xs) != 4 or len(ws) != 4 or xs[1] != ws[1]:
        raise ShapeError(
            f"conv2d: input of shape {xs} and weight of shape {ws}: expected input (N, C, H, W) and weight "
            f"(out_channels, C, kh, kw) with the same C"
        )
    if any(_pair(padding, "padding")):
        x = pad(x, padding)
    n, c, kh, kw = xs[0], xs[1], ws[2], ws[3]
    windows = unfold(x, (kh, kw), stride)  # (N, C, OH, OW, kh, kw)
    oh, ow = windows.shape[2], windows.shape[3]
    columns = fn.reshape(fn.transpose(windows, (0, 2, 3, 1, 4, 5)), (n * oh * ow, c * kh * kw))
    out = columns @ fn.transpose(fn.reshape(weight, (ws[0], c * kh * kw)))  # (N*OH*OW, O)
    out = fn.transpose(fn.reshape(out, (n, oh, ow, ws[0])), (0, 3, 1, 2))
    if bias is not None:
        out = out + fn.reshape(bias, (1, ws[0], 1, 1))
    return out


def max_pool2d(x: Any, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None) -> Tensor:
    """The maximum of each window of the last two axes (stride defaults to the kernel size; the rows and
    columns that do not fill a window are dropped, as in PyTorch). Tied maxima share the gradient equally."""
    kernel = _pair(kernel_size, "kernel_size")
    steps = kernel if stride is None else _pair(stride, "stride")
    return fn.max(unfold(x, kernel, steps), axis=(-2, -1))


def dropout(x: Any, p: float, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (identity when not training)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x if type(x) is Tensor else Tensor._from_op(np.asarray(x), None)
    from .init import default_generator

    values = constant(x)
    rng = generator if generator is not None else default_generator()
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    shape = np.shape(values)
    draws = rng.random(shape) if _jit.trace is None else _jit.trace.draw(rng, generator, "random", (shape,))
    keep = (draws >= p) * np.asarray(scale, dtype=values.dtype)
    return fn.multiply(x, keep)


def layer_norm(x: Any, normalized_shape: Sequence[int], weight: Any = None, bias: Any = None, eps: float = 1e-5):
    """Normalise over the last ``len(normalized_shape)`` axes to mean 0 and variance 1, then scale and shift."""
    shape = tuple(normalized_shape)
    xs = np.shape(constant(x))
    if xs[len(xs) - len(shape) :] != shape:
        raise ShapeError(f"layer_norm: input of shape {xs} does not end in the normalized shape {shape}")
    axes = tuple(range(len(xs) - len(shape), len(xs)))
    centred = x - fn.mean(x, axis=axes, keepdims=True)
    out = centred / fn.sqrt(fn.mean(centred * centred, axis=axes, keepdims=True) + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(indices: Any, weight: Any) -> Tensor:
    """Rows of ``weight`` picked by integer ``indices`` (any shape); repeated indices add up their gradients."""
    indices = np.asarray(constant(indices))
    if indices.dtype.kind not in "iu":
        raise DtypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    rows = np.shape(constant(weight))[0]
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        raise ShapeError(
            f"embedding: indices must lie in [0, {rows}), got values from {indices.min()} to {indices.max()}"
        )
    return weight[indices]
