"""Modules: parameters found automatically, state dicts, modes, layers against NumPy, initialisers."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init
from tests.gradients import check_grads


class Net(nn.Module):
    def __init__(self):
        self.encoder = nn.Sequential(nn.Linear(4, 6), nn.Tanh())
        self.heads = {"a": nn.Linear(6, 2), "b": nn.Linear(6, 1, bias=False)}
        self.blocks = [nn.LayerNorm(6), nn.Dropout(0.5, seed=0)]
        self.scale = nn.Parameter(np.ones(1))
        self.not_a_parameter = cr.tensor([1.0, 2.0])  # requires no grad: data, not a parameter
        self.tied = self.scale  # the same parameter twice is listed once

    def forward(self, x):
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        return self.heads["a"](h) * self.scale, self.heads["b"](h)


def test_parameters_are_found_in_attributes_lists_and_dicts():
    names = [name for name, _ in Net().named_parameters()]
    assert names == [  # a module's own parameters first, then its submodules', as in PyTorch
        "scale",
        "encoder.0.weight",
        "encoder.0.bias",
        "heads.a.weight",
        "heads.a.bias",
        "heads.b.weight",
        "blocks.0.weight",
        "blocks.0.bias",
    ]
    assert len(list(Net().parameters())) == 8


def test_zero_grad_train_eval():
    net = Net()
    a, b = net(np.ones((3, 4)))
    (a.sum() + b.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    assert not net.blocks[1].training and not net.encoder.layers[0].training
    first, _ = net(np.ones((3, 4)))
    second, _ = net(np.ones((3, 4)))
    np.testing.assert_array_equal(first.numpy(), second.numpy())  # dropout off
    assert net.train() is net and net.blocks[1].training


def test_state_dict_round_trip_and_errors():
    source, target = Net(), Net()
    state = source.state_dict()
    assert list(state) == [name for name, _ in source.named_parameters()]
    target.load_state_dict(state)
    for (_, p), (_, q) in zip(source.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(cr.ShapeError, match=r"missing keys \['scale'\], unexpected keys \['extra'\]"):
        target.load_state_dict({**{k: v for k, v in state.items() if k != "scale"}, "extra": np.zeros(1)})
    bad = {**state, "heads.a.weight": np.zeros((3, 6))}
    with pytest.raises(cr.ShapeError, match=r"heads.a.weight: the model has shape \(2, 6\), the state has \(3, 6\)"):
        target.load_state_dict(bad)
    missing, unexpected = target.load_state_dict({"scale": np.full(1, 7.0), "other": 1}, strict=False)
    assert target.scale.item() == 7.0 and unexpected == ["other"] and "encoder.0.weight" in missing


def test_linear_matches_numpy_and_checks_its_input():
    layer = nn.Linear(3, 2)
    x = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.weight.numpy().T + layer.bias.numpy(), rtol=1e-14)
    check_grads(lambda t, w, b: t @ w.T + b, x, layer.weight.numpy(), layer.bias.numpy())
    with pytest.raises(cr.ShapeError, match=r"linear: input of shape \(5, 4\) and weight of shape \(2, 3\)"):
        layer(np.zeros((5, 4)))
    assert repr(nn.Sequential(layer, nn.ReLU())).startswith("Sequential(\n  (0): Linear(in_features=3")


def test_layers_in_float32_stay_float32():
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float32), nn.GELU(), nn.LayerNorm(4, dtype=np.float32))
    out = model(np.ones((2, 3), dtype=np.float32))
    out.sum().backward()
    assert out.dtype == np.float32 and model[0].weight.grad.dtype == np.float32


def test_conv_net_shapes_and_gradients():
    cr.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 2 * 2, 5))
    x = np.random.default_rng(0).standard_normal((4, 2, 4, 4))
    assert net(x).shape == (4, 5)
    check_grads(lambda w, b: nn.functional.conv2d(x, w, b, padding=1).tanh(), conv.weight.numpy(), conv.bias.numpy())


def test_initialisers_follow_their_formulas_and_the_seed():
    w = nn.Parameter(np.empty((400, 300)))
    init.kaiming_uniform_(w, generator=np.random.default_rng(0))
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    init.kaiming_normal_(w, generator=np.random.default_rng(0))
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    init.xavier_uniform_(w, generator=np.random.default_rng(0))
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 700)
    init.xavier_normal_(w, generator=np.random.default_rng(0))
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 700), rel=0.02)
    conv = nn.Parameter(np.empty((8, 4, 3, 3)))
    assert init.fans(conv.shape) == (36, 72)
    assert not init.zeros_(conv).numpy().any()
    cr.manual_seed(5)
    first = nn.Linear(4, 4).weight.numpy().copy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.numpy(), first)
    linear = nn.Linear(300, 10, generator=np.random.default_rng(0))
    assert np.abs(linear.weight.numpy()).max() <= 1 / math.sqrt(300)


def test_loss_modules_against_numpy():
    logits, labels = np.random.default_rng(2).standard_normal((4, 3)), np.array([0, 1, 2, 0])
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert nn.CrossEntropyLoss()(logits, labels).item() == pytest.approx(-log_p[np.arange(4), labels].mean())
    assert nn.MSELoss(reduction="sum")(logits, logits * 0).item() == pytest.approx((logits**2).sum())
    targets = (logits > 0) * 1.0
    p = 1 / (1 + np.exp(-logits))
    bce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean()
    assert nn.BCEWithLogitsLoss()(logits, targets).item() == pytest.approx(bce, rel=1e-12)


def test_frozen_parameters_stay_in_the_state_and_parameter_checks():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    model[0].weight.requires_grad_(False)
    assert "0.weight" in model.state_dict() and len(list(model.parameters())) == 4
    assert isinstance(model[0].weight, nn.Parameter) and not isinstance(cr.tensor([1.0]), nn.Parameter)
    assert isinstance(cr.tensor([1.0], requires_grad=True), nn.Parameter)  # any leaf that requires grad
    fresh = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())
    assert isinstance(model[0:1], nn.Sequential) and len(model[0:1]) == 1


def test_module_names_and_cycles():
    outer = Net()
    outer.encoder.owner = outer  # a child pointing back at its parent
    names = [name for name, _ in outer.named_modules()]
    assert names[:3] == ["", "encoder", "encoder.0"] and len(names) == len(set(names))
    assert len(list(outer.parameters())) == 8


def test_dropout_module_drops_while_training():
    layer = nn.Dropout(0.5, seed=3)
    out = layer(np.ones((100, 100))).numpy()
    assert 0.45 < (out == 0).mean() < 0.55 and set(np.unique(out)) == {0.0, 2.0}
    assert (nn.Dropout(1.0)(np.ones(5)).numpy() == 0).all()


def test_embedding_layer_values():
    table = nn.Embedding(10, 3)
    indices = np.array([[1, 2], [3, 1]])
    np.testing.assert_array_equal(table(indices).numpy(), table.weight.numpy()[indices])
    with pytest.raises(cr.ShapeError, match=r"got values from -1 to 3"):
        table(np.array([-1, 3]))
