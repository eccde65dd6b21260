"""nn.functional against NumPy references and finite differences (first and second order)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import ops
from chainrule.nn import functional as F
from tests.gradients import check_grads

rng = np.random.default_rng(0)


def conv2d_reference(x, w, b, stride, padding):
    """Cross-correlation written out with loops over output positions: slow and obviously right."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out + (0 if b is None else b[None, :, None, None])


@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    o=st.integers(1, 3),
    size=st.integers(3, 7),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    bias=st.booleans(),
)
def test_conv2d_matches_reference_and_finite_differences(n, c, o, size, k, stride, padding, bias):
    x, w = rng.standard_normal((n, c, size, size + 1)), rng.standard_normal((o, c, k, k))
    b = rng.standard_normal(o) if bias else None
    out = F.conv2d(x, w, b, stride=stride, padding=padding)
    np.testing.assert_allclose(out.numpy(), conv2d_reference(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    if bias:
        check_grads(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b)
    else:
        check_grads(lambda x, w: F.conv2d(x, w, stride=stride, padding=padding), x, w)


def test_conv2d_errors_name_the_shapes():
    with pytest.raises(
        cr.ShapeError, match=r"conv2d: input of shape \(2, 3, 5, 5\) and weight of shape \(4, 2, 3, 3\)"
    ):
        F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(cr.ShapeError, match="kernel does not fit"):
        F.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))


def max_pool_reference(x, k, s):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
    return out


@pytest.mark.parametrize("k, s", [(2, None), (3, 1), (2, 3), (3, 2)])
def test_max_pool2d(k, s):
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 0.1  # distinct values: no ties
    out = F.max_pool2d(x, k, s)
    np.testing.assert_array_equal(out.numpy(), max_pool_reference(x, k, s or k))
    check_grads(lambda t: F.max_pool2d(t, k, s) ** 2, x)


def test_max_pool2d_ties_share_the_gradient():
    x = cr.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 1, 2, 2), 0.25))


def test_unfold_and_fold_are_adjoint():
    x = rng.standard_normal((2, 3, 6, 7))
    windows = ops.unfold(x, kernel=(3, 2), stride=(2, 1))
    y = rng.standard_normal(windows.shape)
    back = ops.fold(y, kernel=(3, 2), stride=(2, 1), shape=x.shape)
    assert np.sum(windows * y) == pytest.approx(np.sum(x * back), rel=1e-12)
    check_grads(lambda t: F.unfold(t, (3, 2), (2, 1)) ** 2, x)


def test_linear_fused_operation():
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    np.testing.assert_allclose(F.linear(x, w, b).numpy(), x @ w.T + b, rtol=1e-13)
    check_grads(F.linear, x, w, b)  # three dimensions: the weight's gradient sums over two batch axes
    check_grads(F.linear, x[0, 0], w)  # one sample, no bias
    mixed = F.linear(x.astype(np.float32), w.astype(np.float32), b)  # a float64 bias promotes, as x @ w.T + b
    assert mixed.dtype == np.float64
    with pytest.raises(cr.ShapeError, match=r"a bias of shape \(2, 5\)"):
        F.linear(x, w, np.zeros((2, 5)))


def test_window_arguments_are_checked():
    with pytest.raises(ValueError, match="stride must be an int or a pair of ints of at least 1"):
        F.max_pool2d(np.zeros((1, 1, 4, 4)), 2, stride=0)


def test_pad():
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(F.pad(x, (1, 2)).numpy(), np.pad(x, ((0, 0), (1, 1), (2, 2))))
    check_grads(lambda t: F.pad(t, 1) ** 3, x)


def cross_entropy_reference(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(reduction):
    logits, labels = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    expected = cross_entropy_reference(logits, labels)
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    np.testing.assert_allclose(F.cross_entropy(logits, labels, reduction).numpy(), expected, rtol=1e-13)
    check_grads(lambda t: F.cross_entropy(t, labels, reduction), logits)
    # the fused rule against the composite built from log_softmax and indexing
    a, b = cr.tensor(logits, requires_grad=True), cr.tensor(logits, requires_grad=True)
    (F.cross_entropy(a, labels, reduction) * 1.0).sum().backward()
    composite = -cr.log_softmax(b, axis=1)[np.arange(6), labels]
    composite = {"mean": composite.mean(), "sum": composite.sum(), "none": composite}[reduction]
    composite.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_stable_and_one_sample_works():
    logits = np.array([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 0.0]])
    t = cr.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(t, [0, 0])
    assert loss.item() == pytest.approx(800.0)
    loss.backward()
    assert np.isfinite(t.grad.numpy()).all()
    assert F.cross_entropy(np.array([0.0, 0.0]), 1).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    "labels, error, words",
    [
        (np.array([0.0, 1.0]), cr.DtypeError, "integer class indices"),
        (np.array([0, 5]), cr.ShapeError, r"labels must lie in \[0, 3\)"),
        (np.array([0, 1, 2]), cr.ShapeError, r"need labels of shape \(2,\)"),
    ],
)
def test_cross_entropy_errors(labels, error, words):
    with pytest.raises(error, match=words):
        F.cross_entropy(np.zeros((2, 3)), labels)


def test_binary_cross_entropy_with_logits():
    x, y = rng.standard_normal((3, 4)) * 3, rng.integers(0, 2, (3, 4)).astype(float)
    p = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    assert F.binary_cross_entropy_with_logits(x, y).item() == pytest.approx(expected, rel=1e-12)
    check_grads(lambda t: F.binary_cross_entropy_with_logits(t, y), x)
    extreme = F.binary_cross_entropy_with_logits(np.array([800.0, -800.0]), np.array([0.0, 1.0]), "none")
    np.testing.assert_allclose(extreme.numpy(), [800.0, 800.0])


def test_mse_loss_and_shape_check():
    a, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    assert F.mse_loss(a, b).item() == pytest.approx(((a - b) ** 2).mean())
    check_grads(lambda t, u: F.mse_loss(t, u, "sum"), a, b)
    with pytest.raises(cr.ShapeError, match=r"input of shape \(4, 1\) and target of shape \(4,\)"):
        F.mse_loss(np.zeros((4, 1)), np.zeros(4))


def test_gelu_both_forms():
    x = np.linspace(-4, 4, 17)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(F.gelu(x).numpy(), exact, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(F.gelu(x, "tanh").numpy(), exact, atol=1e-3)
    check_grads(F.gelu, x)
    check_grads(lambda t: F.gelu(t, "tanh"), x)
    np.testing.assert_allclose(cr.erf(x).numpy(), [math.erf(v) for v in x], rtol=1e-15)
    assert cr.erf(np.float32(0.5)).dtype == np.float32


def test_layer_norm():
    x, w, b = rng.standard_normal((3, 2, 5)), rng.standard_normal(5), rng.standard_normal(5)
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(x, (5,), w, b).numpy(), expected, rtol=1e-12)
    check_grads(lambda t, u, v: F.layer_norm(t, (2, 5), None, None) * u + v, x, w, b)
    check_grads(lambda t, u, v: F.layer_norm(t, (5,), u, v), x, w, b)  # the affine path itself


def test_embedding_accumulates_repeated_rows():
    weight = cr.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    F.embedding(np.array([[1, 1], [4, 1]]), weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[:, 0], [0, 3, 0, 0, 1])
    with pytest.raises(cr.ShapeError, match=r"indices must lie in \[0, 5\)"):
        F.embedding(np.array([5]), weight)


def test_dropout_is_seeded_scaled_and_off_in_eval():
    x = np.ones((200, 50))
    a = F.dropout(x, 0.3, generator=np.random.default_rng(1)).numpy()
    b = F.dropout(x, 0.3, generator=np.random.default_rng(1)).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 1 / 0.7}
    assert abs((a == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(F.dropout(x, 0.3, training=False).numpy(), x)
