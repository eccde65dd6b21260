"""Optimizers against steps computed by hand, schedules against their formulas, state round trips."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

GRADS = [np.array([0.5, -1.0]), np.array([0.25, 2.0]), np.array([-1.0, 0.0])]
START = np.array([1.0, -2.0])


def run(make, grads=GRADS):
    """Apply the optimizer to a parameter with the given gradient at each step; the values after each step."""
    p = cr.tensor(START, requires_grad=True)
    opt = make([p])
    seen = []
    for g in grads:
        p.grad = cr.tensor(g)
        opt.step()
        seen.append(p.numpy().copy())
    return seen


def test_plain_sgd():
    after = run(lambda ps: optim.SGD(ps, lr=0.1))
    np.testing.assert_allclose(after[0], START - 0.1 * GRADS[0])
    np.testing.assert_allclose(after[2], START - 0.1 * sum(GRADS))


def test_sgd_momentum_dampening_nesterov_weight_decay():
    lr, mu, wd = 0.1, 0.9, 0.01
    p, buf = START.copy(), None
    expected = []
    for g in GRADS:  # PyTorch's rule, written out
        d = g + wd * p
        buf = d.copy() if buf is None else mu * buf + d
        p = p - lr * (d + mu * buf)
        expected.append(p.copy())
    after = run(lambda ps: optim.SGD(ps, lr=lr, momentum=mu, weight_decay=wd, nesterov=True))
    np.testing.assert_allclose(after, expected, rtol=1e-14)
    p, buf, expected = START.copy(), None, []
    for g in GRADS:
        buf = g.copy() if buf is None else mu * buf + 0.5 * g
        p = p - lr * buf
        expected.append(p.copy())
    np.testing.assert_allclose(run(lambda ps: optim.SGD(ps, lr=lr, momentum=mu, dampening=0.5)), expected, rtol=1e-14)


@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
def test_adam_and_adamw(kind):
    lr, (b1, b2), eps, wd = 0.01, (0.8, 0.9), 1e-8, 0.1
    p, m, v, expected = START.copy(), np.zeros(2), np.zeros(2), []
    for t, g in enumerate(GRADS, start=1):
        if kind == "AdamW":
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(p.copy())
    make = getattr(optim, kind)
    after = run(lambda ps: make(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd))
    np.testing.assert_allclose(after, expected, rtol=1e-12)


def test_schedules():
    p = cr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    step = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt = optim.SGD([p], lr=0.2)
    cosine = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.02)
    lrs = []
    for _ in range(4):
        cosine.step()
        lrs.append(cosine.get_last_lr()[0])
    expected = [0.02 + 0.18 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(1, 5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    assert lrs[-1] == pytest.approx(0.02)


def test_zero_grad_param_groups_and_errors():
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = cr.tensor([1.0]), cr.tensor([1.0])
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    with pytest.raises(ValueError, match="empty list of parameters"):
        optim.Adam([])
    with pytest.raises(ValueError, match="invalid lr"):
        optim.SGD([a], lr=-1)
    with pytest.raises(TypeError, match="leaf tensors that require grad"):
        optim.SGD([a * 2])


def test_a_step_between_forward_and_backward_is_caught():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()  # saves w
    w.grad = cr.tensor([1.0, 1.0])
    opt.step()  # changes w in place
    with pytest.raises(cr.InplaceError):
        loss.backward()


def test_state_dict_resumes_training_exactly(tmp_path):
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        return model, optim.Adam(model.parameters(), lr=0.05)

    x, y = np.random.default_rng(0).standard_normal((8, 3)), np.arange(8) % 2

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

    straight, opt = make()
    train(straight, opt, 6)
    first, opt = make()
    train(first, opt, 3)
    cr.save({"model": first.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ck.crz")
    resumed, opt2 = make()
    saved = cr.load(tmp_path / "ck.crz")
    resumed.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["optimizer"])
    train(resumed, opt2, 3)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize(
    "momentum, dampening, decay, nesterov",
    [(0.9, 0.0, 0.0, True), (0.9, 0.0, 0.05, False), (0.5, 0.3, 0.05, False), (0.0, 0.0, 0.05, False)],
)
def test_sgd_variants_follow_pytorchs_rule(momentum, dampening, decay, nesterov):
    lr, p, buf, expected = 0.1, START.copy(), None, []
    for g in GRADS:
        d = g + decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        expected.append(p.copy())
    make = lambda ps: optim.SGD(ps, lr, momentum, dampening, decay, nesterov)  # noqa: E731
    np.testing.assert_allclose(run(make), expected, rtol=1e-14)


def test_frozen_parameters_are_skipped_and_duplicates_refused():
    frozen = nn.Parameter([1.0, 2.0], requires_grad=False)
    live = nn.Parameter([3.0])
    opt = optim.SGD([frozen, live], lr=0.5)
    live.grad = cr.tensor([1.0])
    opt.step()
    assert frozen.tolist() == [1.0, 2.0] and live.tolist() == [2.5]
    with pytest.raises(ValueError, match="given twice"):
        optim.SGD([live, live])


def test_zero_grad_keeping_zeros_works_for_scalars():
    p = nn.Parameter(2.0)
    opt = optim.Adam([p])
    (p * p).backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.item() == 0.0


def test_loading_another_optimizers_state_is_refused():
    p = nn.Parameter([1.0])
    adam = optim.Adam([p])
    with pytest.raises(ValueError, match="another kind of optimizer"):
        optim.SGD([p]).load_state_dict(adam.state_dict())
