"""Hooks into the backward pass: gradient hooks, hooks after a leaf's .grad is final, callbacks at the end."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import engine
from tests.gradients import check_grads


def test_a_gradient_hook_sees_and_may_replace_the_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = y.register_hook(lambda g: g * 10)
    cr.sum(y * y).backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])
    handle.remove()
    x.grad = None
    y = x * 3
    cr.sum(y * y).backward()
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 36.0])


def test_a_leaf_hook_changes_what_is_accumulated_and_applies_in_transforms():
    x = cr.tensor(2.0, requires_grad=True)
    x.register_hook(lambda g: g + 1)
    (x * x).backward()
    assert x.grad.item() == 5.0
    assert cr.grad(lambda t: t * x)(3.0).item() == 2.0  # the hook is on x, not on t
    y = cr.tensor(3.0, requires_grad=True)
    h = y * y
    h.register_hook(lambda g: g * 2)
    assert cr.grad(lambda t: cr.sum(t * h))(1.0).item() == 9.0  # a hook inside a transform's own graph is not


def test_hooks_apply_with_create_graph_and_stay_differentiable():
    x = cr.tensor(1.5, requires_grad=True)
    y = cr.sin(x)
    handle = y.register_hook(lambda g: g * y)  # a hook that uses the graph
    (y * 1.0).backward(create_graph=True)
    first = x.grad
    assert first.item() == pytest.approx(np.sin(1.5) * np.cos(1.5))
    x.grad = None
    handle.remove()  # (it would fire again: y is in first's graph)
    first.backward()
    assert x.grad.item() == pytest.approx(np.cos(3.0))


def test_post_accumulate_hooks_fire_as_soon_as_a_leaf_is_final():
    w1 = cr.tensor(np.ones((3, 3)), requires_grad=True)
    w2 = cr.tensor(np.ones((3, 2)), requires_grad=True)
    x = np.arange(6.0).reshape(2, 3)
    events = []
    w1.register_post_accumulate_grad_hook(lambda t: events.append(("w1", t.grad.numpy().sum())))
    w2.register_post_accumulate_grad_hook(lambda t: events.append(("w2", t.grad.numpy().sum())))
    h = cr.tanh(x @ w1)
    h.register_hook(lambda g: events.append(("h", None)))
    loss = cr.sum((h @ w2) ** 2)
    loss.backward()
    # w2 is used last in the forward pass, so its gradient is final first; w1's only after h's is
    assert [e[0] for e in events] == ["w2", "h", "w1"]
    assert events[0][1] == pytest.approx(w2.grad.numpy().sum()) and events[2][1] == pytest.approx(w1.grad.sum().item())


def test_a_leaf_used_several_times_is_final_after_its_first_use():
    a = cr.tensor(2.0, requires_grad=True)
    grads_when_called = []
    a.register_post_accumulate_grad_hook(lambda t: grads_when_called.append(t.grad.item()))
    out = cr.exp(a) * a + a * a  # three uses
    out.backward()
    assert grads_when_called == [pytest.approx(np.exp(2.0) * 3 + 4)]
    out = a * 2.0
    out.backward()  # accumulates: the hook sees the sum
    assert grads_when_called[-1] == pytest.approx(np.exp(2.0) * 3 + 6)


def test_queue_callback_runs_when_the_pass_ends_and_only_inside_one():
    x = cr.tensor(1.0, requires_grad=True)
    order = []

    def hook(g):
        order.append("hook")
        engine.queue_callback(lambda: order.append(("end", x.grad.item())))

    x.register_hook(hook)
    (x * 4).backward()
    assert order == ["hook", ("end", 4.0)]
    with pytest.raises(cr.GradientError, match="outside a backward pass"):
        engine.queue_callback(lambda: None)


def test_bad_hooks_are_clear_errors():
    with pytest.raises(cr.GradientError, match="does not require grad"):
        cr.tensor(1.0).register_hook(lambda g: g)
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.GradientError, match="only leaves"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError):
        x.register_hook("not a function")
    y = x * 2
    y.register_hook(lambda g: cr.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(cr.GradientError, match="returned shape"):
        cr.sum(y).backward()


@pytest.mark.parametrize("seed", range(6))
def test_identity_hooks_change_no_gradient(seed):
    """Random programs: with hooks that return their gradient unchanged on every value, backward gives what it
    gives without hooks (the walk that calls hooks is another code path: it must agree)."""
    rng = np.random.default_rng(seed)
    x0, w0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    ops = [int(rng.integers(4)) for _ in range(5)]
    plain = [cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)]
    hooked = [cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)]
    for t in hooked:
        t.register_post_accumulate_grad_hook(lambda t: None)
    program(*plain, ops, hooked=False).backward()
    program(*hooked, ops, hooked=True).backward()
    for a, b in zip(plain, hooked):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-14)
    check_grads(lambda x, w: program(x, w, ops, hooked=True), x0, w0)


STEPS = [
    lambda v, w: cr.tanh(v @ w),
    lambda v, w: v * w[0],
    lambda v, w: cr.exp(-v * v) + v,
    lambda v, w: v @ w.T,
]


def program(x, w, ops, hooked):
    h = x
    for op in ops:
        h = STEPS[op](h, w)
        if hooked and h.requires_grad:
            h.register_hook(lambda g: g)
    return cr.sum(h * h)


def test_backward_from_a_leaf_with_hooks_in_use():
    z = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    z.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().tolist()))
    z.backward(gradient=cr.tensor([3.0, 4.0]))
    assert seen == [[3.0, 4.0]]
