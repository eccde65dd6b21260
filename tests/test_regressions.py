"""Regressions found by review: each was a silently wrong result or a bare error before it was fixed."""

import numpy as np
import pytest

import chainrule as cr
from tests.gradients import check_grads


def test_implicit_einsum_orders_letters_like_numpy():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    assert cr.einsum("Ab,bc", a, b).shape == np.einsum("Ab,bc", a, b).shape == (2, 4)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(cr.einsum("aB", x).data, np.einsum("aB", x))


def test_einsum_backward_spreads_a_broadcast_letter():
    rng = np.random.default_rng(0)
    check_grads(lambda p, q: cr.einsum("ab,ab->b", p, q), rng.standard_normal((1, 3)), rng.standard_normal((4, 3)))


def test_transpose_takes_axes_as_keyword_too():
    x = cr.tensor(np.ones((2, 3, 4)))
    for result in (cr.transpose(x, axes=(2, 0, 1)), x.transpose(axes=(2, 0, 1)), x.transpose(2, 0, 1)):
        assert result.shape == (4, 2, 3)


def test_power_with_zero_exponent_has_zero_gradient_at_zero():
    x = cr.tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    x.grad = None
    y = cr.tensor([0.0, 1.0])
    cr.power(x, y).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0]


def test_setitem_with_values_that_add_leading_axes():
    v = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    y = cr.zeros(3)
    y[0:3] = v
    (y * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.tolist() == [[1.0, 2.0, 3.0]]


def test_arrays_of_tensors_that_require_grad_are_read_only():
    y = cr.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match="read-only"):
        y.numpy()[0] = 100.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(y)[0] = 100.0
    free = y.detach().numpy()
    assert free.flags.writeable or free.base is not None


def test_numpy_functions_dispatch_to_differentiable_versions():
    x = cr.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = np.sum(np.where(x.data > 0, x, 0.0)) + np.mean(x, axis=0).sum() + np.dot(x, x).sum()
    y = y + np.clip(x, -1, 2).sum() + np.reshape(x, (4,)).sum() + np.max(x)
    assert isinstance(y, cr.Tensor)
    y.backward()
    # where: [[1,0],[1,1]], mean: 0.5, sum(x @ x): row sum + column sum, clip: [[1,0],[0,0]], reshape: 1, max: at 4
    assert x.grad.tolist() == [[6.5, 12.5], [3.5, 12.5]]
    assert np.allclose(x, x.data) and np.linalg.norm(x) == pytest.approx(np.sqrt(30))


def test_user_mistakes_give_chainrule_errors():
    with pytest.raises(cr.ShapeError, match="rectangular"):
        cr.tensor([[1.0], [1.0, 2.0]])
    with pytest.raises(cr.DtypeError, match="numeric"):
        cr.tensor("abc")
    with pytest.raises(cr.ShapeError, match="ambiguous"):
        bool(cr.tensor([1.0, 2.0]))
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or None"):
        t.grad = np.zeros(2)
    with pytest.raises(cr.ShapeError, match=r"\(3,\)"):
        t.grad = cr.zeros(3)
    with pytest.raises(cr.ShapeError, match="integers"):
        t.reshape("a")


def test_no_grad_decorates_with_or_without_parentheses():
    @cr.no_grad
    def double(t):
        return t * 2

    x = cr.tensor(1.0, requires_grad=True)
    assert not double(x).requires_grad and cr.is_grad_enabled() and double.__name__ == "double"


def test_retained_gradients_are_arrays_of_their_own():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 1).retain_grad()
    k = (h + 0).retain_grad()
    k.sum().backward()
    h.grad.data[0] = 7.0
    assert k.grad.tolist() == [1.0, 1.0]
