"""A short training run: the loss must fall below a bound (synthetic data, no optional packages)."""

import numpy as np

import chainrule as cr
from chainrule import nn, optim


def spirals(n=60, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.3, 3 * np.pi, n)
    arms = [np.c_[t * np.cos(t + k * np.pi), t * np.sin(t + k * np.pi)] / 10 for k in (0, 1)]
    x = np.concatenate(arms) + rng.normal(0, 0.02, (2 * n, 2))
    return x, np.repeat([0, 1], n)


def test_a_small_network_learns_two_spirals():
    x, y = spirals()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.02)
    schedule = optim.StepLR(opt, step_size=150, gamma=0.5)
    first = None
    for _ in range(400):
        loss = nn.functional.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    assert first > 0.6 and loss.item() < 0.05
    with cr.no_grad():
        assert (model(x).numpy().argmax(axis=1) == y).mean() == 1.0
