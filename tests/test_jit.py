"""cr.jit: N steps eagerly and N steps jitted from the same state give the same everything.

Each case builds its state twice from the same seed, runs the plain function on one copy and the jitted one on
the other, and compares results, parameters, gradients, optimizer state and the random generator's state. The
same NumPy calls run in the same order, so most comparisons are exact; the tolerance is 1e-12 relative.
"""

from __future__ import annotations

import threading
import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.jit import JitWarning


def assert_same(a, b, what=""):
    a = a.numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, cr.Tensor) else np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, what
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=0, err_msg=what)


def assert_models_same(m1, m2):
    for (name, p), (_, q) in zip(m1.named_parameters(), m2.named_parameters()):
        assert_same(p, q, name)
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert_same(p.grad, q.grad, name + ".grad")


def assert_optimizers_same(o1, o2):
    s1, s2 = o1.state_dict(), o2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    assert s1["state"].keys() == s2["state"].keys()
    for i in s1["state"]:
        for key, value in s1["state"][i].items():
            other = s2["state"][i][key]
            assert type(value) is type(other), key
            assert_same(value, other, key)


def test_seed_expression_and_its_code():
    def f(x, y):
        r = x * y
        z = cr.sin(r) + cr.cos(r)
        z.backward()
        return z

    step = cr.jit(f)
    for x0, y0 in [(2.0, 3.0), (0.5, -1.0), (2.0, 3.0)]:
        x, y = cr.tensor(x0, requires_grad=True), cr.tensor(y0, requires_grad=True)
        xe, ye = cr.tensor(x0, requires_grad=True), cr.tensor(y0, requires_grad=True)
        z, ze = step(x, y), f(xe, ye)
        assert_same(ze, z)
        assert_same(xe.grad, x.grad)
        assert_same(ye.grad, y.grad)
    np.testing.assert_allclose(x.grad.item(), 3.71875735, rtol=1e-8)
    code = step.code()
    assert code.startswith("def replay(A):")
    for line in ["np_sin(", "np_cos(", "# multiply backward", "# sin", "A[0]._grad = ", "return ["]:
        assert line in code, line
    assert step._traces == 1  # one signature: traced once, replayed after


def test_micrograd_demo_step_with_new_inputs_each_call():
    rng = np.random.default_rng(0)
    sizes = [2, 4, 4, 1]

    def make():
        r = np.random.default_rng(1)
        return [
            [([cr.tensor(r.uniform(-1, 1), requires_grad=True) for _ in range(a)],
              cr.tensor(r.uniform(-1, 1), requires_grad=True)) for _ in range(b)]
            for a, b in zip(sizes, sizes[1:])
        ]  # fmt: skip

    def step(params, xs, ys):
        loss = 0.0
        for x, y in zip(xs, ys):
            h = list(x)
            for layer in params:
                h = [cr.tanh(sum((w * v for w, v in zip(ws, h)), b)) for ws, b in layer]
            d = h[0] - y
            loss = d * d + loss
        loss = loss * (1 / len(xs))
        loss.backward()
        with cr.no_grad():
            for layer in params:
                for ws, b in layer:
                    for p in [*ws, b]:
                        p.data = p.data - 0.05 * p.grad.data
                        p.grad = None
        return loss

    eager, traced = make(), make()
    jitted = cr.jit(step)
    for _ in range(4):
        xs = cr.tensor(rng.uniform(-2, 2, (6, 2)))
        ys = cr.tensor(rng.choice([-1.0, 1.0], 6))
        assert_same(step(eager, xs, ys), jitted(traced, xs, ys))
    for le, lt in zip(eager, traced):
        for (we, be), (wt, bt) in zip(le, lt):
            for p, q in zip([*we, be], [*wt, bt]):
                assert_same(p, q)
                assert q.grad is None
    assert jitted._traces == 1


def test_long_chain_of_elementwise_operations():
    x = cr.tensor(np.random.default_rng(0).standard_normal(16), requires_grad=True)

    def chain(x):
        for i in range(60):
            x = [lambda v: v * 1.01, lambda v: v + 0.1, cr.tanh, lambda v: cr.exp(-v), cr.sin][i % 5](x)
        x.sum().backward()

    def step():
        chain(x)
        g = x.grad
        x.grad = None
        return g

    expected = step()
    jitted = cr.jit(step)
    for _ in range(3):
        assert_same(expected, jitted())
    assert x.grad is None


def _mlp(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


OPTIMIZERS = {
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    "sgd-nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
}


def _train_step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_mlp_training_steps_with_each_optimizer(kind):
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((8, 6)), rng.integers(0, 3, 8)) for _ in range(6)]
    me, mj = _mlp(0), _mlp(0)
    oe, oj = OPTIMIZERS[kind](me.parameters()), OPTIMIZERS[kind](mj.parameters())
    step = cr.jit(_train_step)
    for x, y in batches:
        assert_same(_train_step(me, oe, x, y), step(mj, oj, x, y))
    assert_models_same(me, mj)
    assert_optimizers_same(oe, oj)
    assert step._traces == 2  # the first call made the optimizer's state: traced again once, then replayed


def test_conv_net_with_dropout_and_a_step_schedule():
    def make():
        cr.manual_seed(3)
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(64, 10),
        )  # fmt: skip
        opt = optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
        return model, opt, optim.StepLR(opt, step_size=2, gamma=0.5)

    rng = np.random.default_rng(4)
    batches = [(rng.standard_normal((5, 1, 8, 8)), rng.integers(0, 10, 5)) for _ in range(7)]
    (me, oe, se), (mj, oj, sj) = make(), make()
    step = cr.jit(_train_step)
    cr.manual_seed(10)
    eager_losses = []
    for x, y in batches:
        eager_losses.append(_train_step(me, oe, x, y))
        se.step()
    eager_draws = cr.nn.init.default_generator().bit_generator.state
    cr.manual_seed(10)
    for (x, y), expected in zip(batches, eager_losses):
        assert_same(expected, step(mj, oj, x, y))
        sj.step()  # the schedule changes lr between calls: the replay reads it at every call
    assert cr.nn.init.default_generator().bit_generator.state == eager_draws  # fresh masks, the same draws
    assert oj.param_groups[0]["lr"] == oe.param_groups[0]["lr"] == 3e-3 * 0.5**3
    assert_models_same(me, mj)
    assert_optimizers_same(oe, oj)
    assert "random(" in step.code()


def test_cosine_schedule_takes_effect():
    me, mj = _mlp(1), _mlp(1)
    oe, oj = optim.SGD(me.parameters(), lr=0.5), optim.SGD(mj.parameters(), lr=0.5)
    se, sj = optim.CosineAnnealingLR(oe, T_max=4), optim.CosineAnnealingLR(oj, T_max=4)
    step = cr.jit(_train_step)
    x, y = np.random.default_rng(5).standard_normal((4, 6)), np.array([0, 1, 2, 0])
    for _ in range(5):
        assert_same(_train_step(me, oe, x, y), step(mj, oj, x, y))
        se.step()
        sj.step()
    assert_models_same(me, mj)
    assert step._traces == 1


def test_hessian_of_a_100_variable_function_and_value_and_grad():
    rng = np.random.default_rng(6)
    a, x = rng.standard_normal((120, 100)), rng.standard_normal(100) * 0.1

    def f(v):
        return cr.sum(cr.log(1 + cr.exp(a @ v))) + 0.5 * cr.sum(v * v)

    hessian, jitted = cr.hessian(f), cr.jit(cr.hessian(f))
    for scale in (1.0, 2.0, 1.0):
        assert_same(hessian(x * scale), jitted(x * scale))
    value_and_grad = cr.jit(cr.value_and_grad(f))
    for scale in (1.0, -1.0):
        value, grad = value_and_grad(x * scale)
        expected_value, expected_grad = cr.value_and_grad(f)(x * scale)
        assert_same(expected_value, value)
        assert_same(expected_grad, grad)
    assert jitted._traces == 1 and value_and_grad._traces == 1


def test_jvp_inside_a_jitted_function():
    def f(x, t):
        return cr.jvp(lambda v: cr.sin(v) * v, (x,), (t,))

    jitted = cr.jit(f)
    rng = np.random.default_rng(7)
    for _ in range(3):
        x, t = rng.standard_normal(5), rng.standard_normal(5)
        for got, expected in zip(jitted(x, t), f(x, t)):
            assert_same(expected, got)


def test_value_dependent_control_flow_falls_back_once_and_stays_correct():
    def f(x):
        y = (x * x).sum()
        if y > 1.0:  # Python decides from a value: no single program replays this
            return y * 2
        return y - 1

    jitted = cr.jit(f)
    with pytest.warns(JitWarning, match=r"test_jit.py:\d+: bool\(\)") as caught:
        assert_same(f(np.ones(3)), jitted(np.ones(3)))
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: later calls are quiet
        for x in (np.full(3, 0.1), np.ones(3), np.full(3, 0.2)):
            assert_same(f(x), jitted(x))


@pytest.mark.parametrize(
    "leave",
    [lambda t: float(t.sum()), lambda t: t.sum().item(), lambda t: (t * 2).numpy().copy(), lambda t: int(t[0] > 0)],
)
def test_reading_values_into_python_falls_back(leave):
    def f(x):
        y = cr.tensor(x) * 3
        return y + leave(y)

    jitted = cr.jit(f)
    with pytest.warns(JitWarning, match="runs eagerly"):
        jitted(np.arange(3.0))
    for x in (np.arange(3.0), -np.arange(3.0)):
        assert_same(f(x), jitted(x))


def test_signatures_retrace_on_new_shapes_dtypes_and_static_values():
    calls = []

    def f(x, power, name="a"):
        calls.append(name)
        return cr.tensor(x) ** power

    jitted = cr.jit(f)
    x = np.arange(4.0)
    assert_same(f(x, 2), jitted(x, 2))
    assert_same(f(x + 1, 2), jitted(x + 1, 2))
    assert jitted._traces == 1
    assert_same(f(x, 3), jitted(x, 3))  # a Python number is static: a new value traces again
    assert_same(f(x[:3], 3), jitted(x[:3], 3))  # a new shape
    assert_same(f(x.astype(np.float32), 3), jitted(x.astype(np.float32), 3))  # a new dtype
    assert_same(f(x, 3, name="b"), jitted(x, 3, name="b"))
    assert jitted._traces == 5


def test_retracing_more_than_eight_times_warns_once():
    jitted = cr.jit(lambda x, k: cr.tensor(x) * k)
    with pytest.warns(JitWarning, match="traced 9 times") as caught:
        for k in range(12):
            jitted(np.ones(2), float(k))
    assert len([w for w in caught if "times" in str(w.message)]) == 1


def test_new_objects_in_an_argument_position_retrace():
    step = cr.jit(_train_step)
    x, y = np.ones((2, 6)), np.array([0, 1])
    m1, m2 = _mlp(0), _mlp(0)
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)
    step(m1, o1, x, y)
    step(m2, o2, x, y)  # another model: its own parameters, not m1's
    assert_models_same(m1, m2)
    assert step._traces == 2


def test_freezing_a_parameter_after_tracing_is_noticed():
    me, mj = _mlp(0), _mlp(0)
    oe, oj = optim.SGD(me.parameters(), lr=0.1), optim.SGD(mj.parameters(), lr=0.1)
    step = cr.jit(_train_step)
    x, y = np.ones((2, 6)), np.array([0, 2])
    for _ in range(2):
        _train_step(me, oe, x, y), step(mj, oj, x, y)
    me[0].weight.requires_grad = False
    mj[0].weight.requires_grad = False
    for _ in range(2):
        _train_step(me, oe, x, y), step(mj, oj, x, y)
    assert_models_same(me, mj)


def test_a_jitted_function_inside_grad_is_differentiated():
    jitted = cr.jit(lambda v: cr.sin(v) * v)
    x = np.linspace(-1, 1, 5)
    jitted(x)  # traced for plain arrays
    got = cr.grad(lambda v: jitted(v).sum())(x)
    assert_same(np.cos(x) * x + np.sin(x), got)


def test_nested_jit_and_threads():
    inner = cr.jit(lambda v: cr.exp(v) * 2)
    outer = cr.jit(lambda v: inner(v).sum())
    x = np.arange(3.0)
    for _ in range(3):
        assert_same((np.exp(x) * 2).sum(), outer(x))
    results = {}

    def work(k):
        v = np.full(3, float(k))
        results[k] = [outer(v).item() for _ in range(20)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, values in results.items():
        assert values == [float((np.exp(np.full(3, float(k))) * 2).sum())] * 20


def test_label_check_is_made_at_every_replay():
    model, x = _mlp(0), np.ones((2, 6))
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = cr.jit(_train_step)
    step(model, opt, x, np.array([0, 1]))
    with pytest.raises(cr.ShapeError, match=r"labels must lie in \[0, 3\)"):
        step(model, opt, x, np.array([0, 3]))


def test_buffers_are_reused_and_peak_memory_is_no_higher_than_eager():
    rng = np.random.default_rng(8)
    x, labels = rng.standard_normal((64, 300)), rng.integers(0, 10, 64)

    def make():
        r = np.random.default_rng(9)
        return [cr.tensor(r.standard_normal(s) * 0.05, requires_grad=True) for s in [(300, 200), (200,), (200, 10)]]

    def step(params):
        w1, b1, w2 = params
        h = cr.relu(x @ w1 + b1)
        loss = -cr.log_softmax(h @ w2, axis=1)[np.arange(64), labels].mean()
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad = None
        return loss

    def peak(fn, params):
        fn(params)
        tracemalloc.start()
        fn(params)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    eager_params, jit_params = make(), make()
    jitted = cr.jit(step)
    jitted(jit_params)
    step(eager_params)
    assert "out=" in jitted.code() or ", v" in jitted.code()
    assert peak(jitted, jit_params) <= peak(step, eager_params)
    for p, q in zip(eager_params, jit_params):
        assert_same(p, q)


def test_function_with_a_shape_error_raises_it():
    jitted = cr.jit(lambda a, b: cr.tensor(a) @ b)
    with pytest.raises(cr.ShapeError):
        jitted(np.ones((2, 3)), np.ones((2, 3)))


def test_switching_to_eval_after_tracing_turns_dropout_off():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    forward = cr.jit(lambda m, x: m(x).detach())
    x = np.ones((3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # replayed, not run eagerly
        forward(model, x)
        forward(model, x)
    assert forward._traces == 1
    model.eval()
    assert_same(model(x), forward(model, x))  # no dropout now: the trace's training flag is checked
    model.train()
    cr.manual_seed(1)
    expected = model(x)
    cr.manual_seed(1)
    assert_same(expected, forward(model, x))


def test_an_error_at_replay_is_the_plain_call_error():
    def f(x, i):
        return (cr.tensor(x) * 2)[i]

    jitted = cr.jit(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jitted(np.arange(4.0), np.array([0, 3]))
        jitted(np.arange(4.0), np.array([1, 2]))
    with pytest.raises(cr.ShapeError) as eager:
        f(np.arange(4.0), np.array([0, 9]))
    with pytest.raises(cr.ShapeError) as replayed:
        jitted(np.arange(4.0), np.array([0, 9]))
    assert str(replayed.value) == str(eager.value)


@pytest.mark.parametrize("start_with_grad", [False, True])
def test_backward_adds_into_the_grad_there_is_at_each_call(start_with_grad):
    def make():
        w = cr.tensor(np.ones(3), requires_grad=True)

        def step(x):
            loss = (cr.sin(w) * x).sum()
            loss.backward()  # no zero_grad: gradients accumulate over calls
            return loss

        if start_with_grad:
            step(np.full(3, 0.5))
        return w, step

    (we, eager), (wj, traced) = make(), make()
    jitted = cr.jit(traced)
    for i in range(4):
        x = np.arange(3.0) + i
        assert_same(eager(x), jitted(x))
        assert_same(we.grad, wj.grad)


def test_an_optimizer_step_alone_reads_the_grads_of_each_call():
    me, mj = _mlp(0), _mlp(0)
    oe, oj = optim.Adam(me.parameters(), lr=0.01), optim.Adam(mj.parameters(), lr=0.01)
    step = cr.jit(lambda opt: opt.step())
    rng = np.random.default_rng(11)
    for _ in range(4):
        x, y = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
        for model, opt in ((me, oe), (mj, oj)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()  # grads made outside, new tensors each time
        oe.step()
        step(oj)
    assert_models_same(me, mj)
    assert_optimizers_same(oe, oj)
