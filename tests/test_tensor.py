"""Making tensors and what a Tensor exposes: data, dtype rules, conversions, indexing, in-place assignment."""

import numpy as np
import pytest

import chainrule as cr


def test_tensor_from_numbers_lists_arrays_and_tensors():
    assert cr.tensor(2.0).dtype == np.float64 and cr.tensor(2.0).shape == ()
    assert cr.tensor(2).dtype == np.int64
    assert cr.tensor([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)
    assert cr.tensor([1, 2], dtype=np.float32).dtype == np.float32
    source = np.array([1.0, 2.0])
    t = cr.tensor(source)
    source[0] = 100.0
    assert t.tolist() == [1.0, 2.0]  # a copy
    u = cr.tensor(t, requires_grad=True, name="u")
    assert u.requires_grad and u.is_leaf and u.name == "u" and u.data is not t.data
    with pytest.raises(TypeError):
        cr.tensor({"a": 1})


def test_zeros_ones_and_likes():
    z = cr.zeros((2, 3), requires_grad=True)
    assert z.shape == (2, 3) and z.requires_grad and z.tolist() == [[0.0] * 3] * 2
    assert cr.ones(4).tolist() == [1.0] * 4
    like = cr.ones_like(cr.tensor([1.0, 2.0], dtype=np.float32), requires_grad=True)
    assert like.dtype == np.float32 and like.requires_grad and like.tolist() == [1.0, 1.0]
    assert cr.zeros_like(np.ones((2, 2))).shape == (2, 2)


def test_attributes_and_conversions():
    t = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert isinstance(t.data, np.ndarray) and t.numpy() is not None
    assert np.asarray(t.detach()).shape == (1, 3) and t.ndim == 2 and t.size == 3 and t.dtype == np.float64
    with pytest.raises(TypeError, match="drop its gradient"):
        np.asarray(t)  # the gradient would be lost: refused, as in PyTorch
    assert cr.tensor([5.0]).item() == 5.0 and float(cr.tensor(2.5)) == 2.5 and len(t) == 1
    with pytest.raises(cr.ShapeError, match="one element"):
        t.item()
    d = t.detach()
    assert not d.requires_grad and np.shares_memory(d.data, t.data)
    assert "requires_grad=True" in repr(t) and "grad_fn=multiply" in repr(t * 2)
    assert t.grad is None
    (t * 2).sum().backward()
    assert isinstance(t.grad, cr.Tensor)
    t.grad = None
    assert t.grad is None
    t.requires_grad_(False)
    assert not t.requires_grad
    assert [row.shape for row in cr.tensor(np.ones((3, 2)))] == [(2,)] * 3


def test_methods_mirror_functions():
    x = cr.tensor(np.arange(1.0, 7.0).reshape(2, 3))
    assert x.sum(axis=0).tolist() == [5.0, 7.0, 9.0]
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.transpose().shape == (3, 2) and x.T.shape == (3, 2) and x.swapaxes(0, 1).shape == (3, 2)
    assert x.expand_dims(0).shape == (1, 2, 3) and x.flatten().shape == (6,)
    assert x.broadcast_to((4, 2, 3)).shape == (4, 2, 3)
    assert x.matmul(x.T).shape == (2, 2) and x.dot(x.T).shape == (2, 2) and x.outer(x).shape == (6, 6)
    np.testing.assert_allclose(x.softmax(axis=1).sum(axis=1).data, [1.0, 1.0])
    np.testing.assert_allclose(x.log_softmax().exp().sum(axis=-1).data, [1.0, 1.0])
    assert x.maximum(3.0).tolist() == [[3.0, 3.0, 3.0], [4.0, 5.0, 6.0]]
    assert x.clip(2, 5).tolist() == [[2.0, 2.0, 3.0], [4.0, 5.0, 5.0]]
    assert abs(-x).tolist() == x.tolist() and x.abs().tolist() == x.tolist()


def test_softmax_and_log_softmax_are_stable_and_correct():
    from tests.gradients import check_grads

    x = np.random.default_rng(0).standard_normal((3, 4))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(cr.softmax(x, axis=1).data, e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(cr.log_softmax(x, axis=0).data, x - np.log(np.exp(x).sum(axis=0)), rtol=1e-12)
    check_grads(lambda t: cr.softmax(t, axis=0), x)
    check_grads(lambda t: cr.log_softmax(t), x)
    big = cr.tensor([1000.0, 0.0, -1000.0], requires_grad=True)
    out = cr.log_softmax(big)
    assert np.all(np.isfinite(out.data))
    out[1].backward()
    assert np.all(np.isfinite(big.grad.data))


def test_setitem_and_augmented_assignment_without_grad():
    t = cr.tensor(np.zeros((2, 3)))
    t[0, 1] = 5.0
    t[1] = cr.tensor([1.0, 2.0, 3.0])
    t += 1
    t *= 2
    assert t.tolist() == [[2.0, 12.0, 2.0], [4.0, 6.0, 8.0]]
    alias = t
    t -= 1
    assert alias is t
    s = cr.tensor(1.0) * 3  # a 0-d result
    s += 1
    s[()] = 7.0
    assert s.item() == 7.0
    with pytest.raises(cr.ShapeError, match="cannot change the shape"):
        t += np.ones((4, 2, 3))
    with pytest.raises(cr.ShapeError, match="setitem"):
        t[5] = 1.0


def test_views_share_memory_like_numpy():
    base = cr.tensor(np.zeros(4))
    view = base[1:3]
    view[0] = 9.0
    assert base.tolist() == [0.0, 9.0, 0.0, 0.0]


def test_boolean_operators_on_masks_match_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    a, b = cr.tensor(x) > 0, cr.tensor(y) > 0.5
    for ours, theirs in (
        (a & b, (x > 0) & (y > 0.5)),
        (a | b, (x > 0) | (y > 0.5)),
        (a ^ b, (x > 0) ^ (y > 0.5)),
        (~a, ~(x > 0)),
        ((y > 0.5) | a, (y > 0.5) | (x > 0)),
        (cr.tensor([3, 5]) & 6, np.array([3, 5]) & 6),
    ):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs)


def test_a_0d_tensor_is_not_iterable_as_numpy_says():
    assert np.iterable(cr.tensor([1.0, 2.0])) and not np.iterable(cr.tensor(1.0))
    assert np.iterable(np.zeros(2)) and not np.iterable(np.zeros(()))
    with pytest.raises(TypeError, match="0-d tensor"):
        iter(cr.tensor(3.0))
    assert [t.item() for t in cr.tensor([1.0, 2.0])] == [1.0, 2.0]
