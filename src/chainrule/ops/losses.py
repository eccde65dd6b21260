"""Fused losses: one node for a whole loss, with a derivative that needs no large exponentials.

``softmax_cross_entropy`` is ``logsumexp(logits) - logits[label]`` per row; its gradient is the textbook
``softmax(logits) - onehot(label)``, written with chainrule's own softmax so it can be differentiated again.
"""

from __future__ import annotations

from ..backend import array_module
from ..primitive import constant, defjvp, defvjp, describe_vjp, primitive
from .reductions import logsumexp, softmax, sum
from .shape import expand_dims


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.sum() / losses.shape[0]
    if reduction == "sum":
        return losses.sum()
    return losses


@primitive("softmax_cross_entropy")
def softmax_cross_entropy(xp, logits, labels=None, reduction="mean"):
    """Cross-entropy of integer ``labels`` (shape (N,)) under ``softmax(logits)`` (shape (N, C))."""
    rows = xp.arange(logits.shape[0])
    losses = logsumexp.forward(xp, logits, axis=(1,), keepdims=False) - logits[rows, labels]
    return _reduce(losses, reduction)


def _onehot(logits, labels):
    values = constant(logits)
    xp = array_module(values)
    out = xp.zeros(values.shape, dtype=values.dtype)
    out[xp.arange(values.shape[0]), labels] = 1
    return out


def _scale(g, reduction, n):
    """The output's gradient per row, shaped to broadcast against the logits."""
    if reduction == "mean":
        return g * (1.0 / n)
    if reduction == "sum":
        return g
    return expand_dims(g, -1)


def _vjp(g, ans, logits, labels=None, reduction="mean"):
    return _scale(g, reduction, logits.shape[0]) * (softmax(logits, axis=(1,)) - _onehot(logits, labels))


def _jvp(t, ans, logits, labels=None, reduction="mean"):
    per_row = sum((softmax(logits, axis=(1,)) - _onehot(logits, labels)) * t, axis=(1,))
    if reduction == "mean":
        return sum(per_row, axis=None) * (1.0 / logits.shape[0])
    return sum(per_row, axis=None) if reduction == "sum" else per_row


defvjp(softmax_cross_entropy, _vjp)
describe_vjp(softmax_cross_entropy, "g · (softmax({a}) - onehot(labels)), per row")
defjvp(softmax_cross_entropy, _jvp)
