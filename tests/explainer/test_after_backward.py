"""Pictures and walk-throughs after backward(): what a freed graph keeps is enough to show it again, as it was."""

import copy
import gc
import importlib.util
import operator
import tracemalloc
import weakref

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.primitive import defvjp, primitive

HAS_IGRAPH = importlib.util.find_spec("igraph") is not None  # (the SVG layout needs it; DOT and text do not)


def shown(z, names=None):
    """Everything the explainer shows of ``z``: the pictures with and without gradients (they appear by themselves
    once backward has run), and the walk-through."""
    figure = cr.draw(z, names=names)
    found = {
        "dot with gradients": figure.dot(show_grads=True),
        "dot": figure.dot(show_grads=False),
        "explain": str(cr.explain(z, limit=None, names=names)),
    }
    if HAS_IGRAPH:
        found["svg with gradients"] = figure.svg(show_grads=True)
        found["svg"] = figure.svg(show_grads=False)
    return found


def assert_same_after_backward(z, names=None):
    before = shown(z, names)
    gc.collect()  # (the explainer's graphs are in reference cycles: gone, they must not keep values alive)
    z.backward()
    assert z._inputs is None  # freed: the engine cannot go back again
    after = shown(z, names)
    for key in before:
        assert after[key] == before[key], key
    return after


def test_seed_expression():
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    z = cr.sin(x * y) + cr.cos(x * y)
    after = assert_same_after_backward(z)
    assert [entry[6] is None for entry in z._in0] == [False, True, True, True, True]  # only z alive: all else again
    assert "grad 3.71876" in cr.draw(z).dot()  # drawn after backward: the gradients show by themselves
    assert "r     x * y       6" in after["explain"]
    if HAS_IGRAPH:
        assert "grad 3.71876" in cr.draw(z).svg()


@pytest.mark.parametrize("keep", [False, True])
def test_shared_intermediate_used_twice(keep):
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    r = x * y
    z = cr.sin(r) + cr.cos(r) * r
    if keep:  # the program still holds r: its own values are read, and names= finds it
        after = assert_same_after_backward(z, names={"x": x, "y": y, "product": r})
        assert "product" in after["explain"]
        assert cr.draw(z, names={"product": r}).graph.node_of(r) is not None
    else:
        ref = weakref.ref(r)
        del r
        assert_same_after_backward(z)
        gc.collect()  # (the pictures' own graphs, gone by now, may be in reference cycles)
        assert ref() is None  # released by backward, all the same


def test_tensors_with_matmul_sum_and_broadcasting():
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.normal(size=(4, 3)), name="X")
    W = cr.tensor(rng.normal(size=(3, 2)), requires_grad=True, name="W")
    b = cr.tensor(rng.normal(size=2), requires_grad=True, name="b")
    h = cr.tanh(X @ W + b)  # b broadcast over the rows
    z = (h * np.array([1.0, -2.0])).sum() + cr.mean(h, axis=0).sum() * 0.5
    del h
    assert_same_after_backward(z)


def test_x_to_the_x():
    x = cr.tensor(1.7, requires_grad=True, name="x")
    assert_same_after_backward(x**x)
    x2 = cr.tensor(np.array([0.5, 1.5]), requires_grad=True, name="x")
    assert_same_after_backward((x2**x2 * cr.log(x2)).sum())


def test_dropout_inside():
    h = cr.tensor(np.linspace(0.1, 1.6, 16), requires_grad=True, name="h")
    z = (F.dropout(cr.sin(h), 0.5, generator=np.random.default_rng(3)) ** 2).sum()
    after = assert_same_after_backward(z)  # the mask is a constant of the multiply: kept, never drawn again
    assert shown(z) == after


def test_a_where_goes_through_the_general_walk():
    x = cr.tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True, name="x")
    z = cr.where(x > 0, cr.sqrt(cr.abs(x)), x * x).sum() * cr.sin(x).sum()
    assert_same_after_backward(z)


def test_an_intermediate_changed_in_place_after_backward_is_shown_as_recorded():
    x = cr.tensor(np.array([2.0, 1.0]), requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    h = x * y
    g = cr.cos(x) + 1.0
    z = (cr.sin(h) * h * g).sum()
    before = shown(z)
    gc.collect()
    z.backward()
    with cr.no_grad():
        h += 1  # not recorded: h's values are no longer those the graph computed
    g += x  # recorded: g is another node now
    assert shown(z) == before
    assert h.tolist() == [7.0, 4.0]  # (the values of h itself are as the program left them)


def test_an_input_changed_in_place_after_backward_is_a_clear_error():
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    z = cr.sin(x * y) + cr.cos(x * y)
    z.backward()
    cr.optim.SGD([x, y], lr=0.1).step()  # the values the graph used are gone
    with pytest.raises(cr.GradientError, match="'x' was changed in place after the graph used it"):
        cr.explain(z)
    with pytest.raises(cr.GradientError, match="changed in place"):
        cr.draw(z)


def test_a_second_backward_still_raises():
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    r = x * y
    z = cr.sin(r) + cr.cos(r)
    z.backward()
    cr.draw(z).dot()
    with pytest.raises(cr.GradientError, match="retain_graph=True"):
        z.backward()
    with pytest.raises(cr.GradientError, match="retain_graph=True"):
        (r * 2).backward()  # through a freed node from another graph
    before = shown(r * 2)
    assert shown(r * 2) == before  # a new graph on a freed node: drawn through what it keeps
    assert x.grad.item() == pytest.approx(3 * (np.cos(6.0) - np.sin(6.0)))


def test_a_primitive_that_does_not_give_the_same_result_twice_is_a_clear_error():
    rng = np.random.default_rng(0)

    @primitive("noisy")
    def noisy(xp, x):
        return x + rng.normal()

    defvjp(noisy, lambda g, ans, x: g)
    x = cr.tensor(2.0, requires_grad=True, name="x")
    z = noisy(x * 3) * 2
    text = str(cr.explain(z))
    gc.collect()  # (the walk-through's graph, gone by now, may be in reference cycles: x * 3 must be gone)
    z.backward()
    with pytest.raises(cr.GradientError, match="cannot be recovered exactly"):
        cr.explain(z)
    z = noisy(x * 3) * 2
    assert cr.explain(z) != text  # (it does not: the same program gives another value)
    h = noisy(x)  # held by the program: its values are read, not made again
    z = cr.sin(h) * 2
    assert_same_after_backward(z)


def test_what_is_kept_holds_no_computed_tensor():
    x = cr.tensor(np.ones(3), requires_grad=True, name="x")
    a = x * 2
    b = cr.exp(a)
    refs = [weakref.ref(a), weakref.ref(b)]
    z = (b * a).sum()
    del a, b
    text = str(cr.explain(z))
    gc.collect()  # (the walk-through's graph, gone by now, may be in reference cycles)
    z.backward()
    assert [ref() for ref in refs] == [None, None]  # released by backward, though z is alive
    assert cr.explain(z) == text
    assert str(cr.explain(copy.copy(z))) == text  # a copy shares what was kept
    copied = copy.deepcopy(z)  # a deep copy keeps nothing of the graph, as before
    assert copied._inputs is None and copied.tolist() == z.tolist()
    with pytest.raises(cr.GradientError, match="freed by backward"):
        cr.explain(copied)


def test_a_training_loop_keeps_no_old_activations():
    """The previous loss stays alive while the next step runs (a variable holds it): it must not hold its step's
    activations (seven of 4 MB here), or the peak grows by most of a step's worth."""
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.normal(size=(512, 1024)), name="X")
    w = cr.tensor(rng.normal(size=1024) * 0.01, requires_grad=True, name="w")

    def step(selecting):
        h = X * w
        for _ in range(6):  # (a where takes the general walk; its condition, a parameter, is kept: 1/8 of h)
            h = cr.where(h > 0, h, h * 0.5) if selecting else cr.tanh(h)
        loss = h.sum()
        loss.backward()
        w.grad = None
        return loss

    for selecting in (False, True):
        step(selecting)
        gc.collect()
        tracemalloc.start()
        step(selecting)
        _, single = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loss = step(selecting)
        held, _ = tracemalloc.get_traced_memory()  # what the last loss holds
        for _ in range(3):
            previous = loss  # noqa: F841  (alive while the next step runs)
            loss = step(selecting)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del loss, previous
        assert single > 7 * X.data.nbytes  # (the measure sees the activations)
        assert held < X.data.nbytes, (selecting, held)
        assert peak < 1.5 * single, (selecting, peak, single)  # (1.7 times when backward keeps the graph)


# Random small graphs: the walk-through after backward is the one before, whichever values the program keeps.

UNARY = [
    cr.sin,
    cr.cos,
    cr.tanh,
    lambda a: cr.exp(a * 0.3),
    lambda a: a * a,
    lambda a: cr.sqrt(a * a + 1.0),
    lambda a: -a,
    lambda a: a.sum(),
    lambda a: 2.0 - a,
]
BINARY = [
    operator.add,
    operator.sub,
    operator.mul,
    lambda a, b: a / (b * b + 1.0),
    cr.maximum,
    lambda a, b: (cr.abs(a) + 0.5) ** b,
]


@pytest.mark.parametrize("seed", range(30))
def test_random_graphs(seed):
    rng = np.random.default_rng(seed)
    pool = [
        cr.tensor(rng.uniform(0.5, 1.5), requires_grad=True, name="x"),
        cr.tensor(rng.uniform(-1, 1, 3), requires_grad=True, name="v"),
        cr.tensor(rng.uniform(-1, 1, 3), name="d"),
    ]
    made = []
    for _ in range(int(rng.integers(2, 9))):
        if rng.random() < 0.45:
            out = UNARY[rng.integers(len(UNARY))](pool[rng.integers(len(pool))])
        else:
            a, b = (pool[i] for i in rng.integers(len(pool), size=2))  # the same one twice, now and then
            out = BINARY[rng.integers(len(BINARY))](a, b)
        pool.append(out)
        made.append(out)
    z = made[-1].sum() + pool[0] * sum(m.sum() for m in made[:-1] if m.requires_grad)
    kept = [m for m in made if rng.random() < 0.3]  # values the program still holds
    del pool, made, out
    before = str(cr.explain(z, limit=None))
    dot = cr.draw(z).dot(show_grads=True)
    gc.collect()
    z.backward()
    assert cr.explain(z, limit=None) == before
    assert cr.draw(z).dot(show_grads=True) == dot
    del kept
