"""The engine: the seed example, accumulation, graph lifetime, grad mode, depth, higher order, in-place safety."""

import gc
import threading
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule import engine
from chainrule.primitive import defvjp, primitive
from tests.gradients import check_forward, check_grads


def test_seed_example_values_and_gradients():
    # z = sin(x*y) + cos(x*y) at x = 2, y = 3: the worked example chainrule starts from
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    r = (x * y).retain_grad()
    u = cr.cos(r).retain_grad()
    v = cr.sin(r).retain_grad()
    z = u + v
    assert r.item() == 6.0
    assert u.item() == pytest.approx(0.96017, abs=1e-5)
    assert v.item() == pytest.approx(-0.27942, abs=1e-5)
    assert z.item() == pytest.approx(0.68075, abs=1e-5)
    z.backward()
    assert u.grad.item() == 1.0 and v.grad.item() == 1.0
    # r feeds two operations and collects both contributions: -sin(r) + cos(r)
    assert r.grad.item() == pytest.approx(0.27942 + 0.96017, abs=1e-5)
    # (the worked example rounds its intermediates to 5 digits, hence its 3.71877 and 2.47918)
    assert x.grad.item() == pytest.approx(3.71877, abs=5e-5)
    assert y.grad.item() == pytest.approx(2.47918, abs=5e-5)
    assert x.grad.item() == pytest.approx(3 * (np.cos(6) - np.sin(6)), rel=1e-14)
    assert y.grad.item() == pytest.approx(2 * (np.cos(6) - np.sin(6)), rel=1e-14)


def test_gradients_accumulate_over_backward_calls_and_can_be_reset():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_value_used_twice_receives_the_sum():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x + x).backward()
    assert x.grad.item() == 7.0


def test_non_leaves_get_grad_only_when_retained():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    kept = (x * 3).retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None and not h.is_leaf
    assert kept.grad.tolist() == [2.0, 4.0]


def test_second_backward_through_freed_graph_says_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (cr.exp(x) * x).sum()
    y.backward()
    with pytest.raises(cr.GradientError, match="retain_graph=True"):
        y.backward()


def test_saved_values_are_freed_after_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a * a  # saves a
    ref = weakref.ref(a)
    del a
    assert ref() is not None
    b.sum().backward()
    assert ref() is None  # the node released it as soon as it was used
    assert b._inputs is None  # and b's own saved inputs are dropped


def test_retain_graph_keeps_saved_values():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert y._inputs is not None
    y.backward()


def test_backward_of_non_scalar_needs_a_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(cr.GradientError, match=r"shape \(2,\).*gradient="):
        y.backward()
    with pytest.raises(cr.ShapeError, match="must match"):
        y.backward(gradient=np.ones(3))
    y.backward(gradient=np.array([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]


def test_backward_needs_a_tensor_that_requires_grad():
    with pytest.raises(cr.GradientError, match="requires_grad=True"):
        cr.tensor(1.0).backward()


def test_leaf_backward_and_gradient_is_not_aliased():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([1.0, 1.0])
    x.backward(gradient=seed)
    seed[0] = 100.0
    assert x.grad.tolist() == [1.0, 1.0]
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data[0] = 5.0
    assert b.grad.tolist() == [1.0]


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(cr.DtypeError, match="int64"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(cr.DtypeError):
        cr.tensor([True]).requires_grad_()


def test_no_grad_records_nothing_and_restores():
    x = cr.tensor(1.0, requires_grad=True)
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @cr.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad and cr.is_grad_enabled()


def test_no_grad_is_thread_local():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        with cr.no_grad():
            inside.set()
            done.wait(5)
            seen["other"] = (cr.tensor(1.0, requires_grad=True) * 2).requires_grad

    thread = threading.Thread(target=other_thread)
    thread.start()
    inside.wait(5)
    # the other thread is inside no_grad right now; this thread still records
    seen["main"] = (cr.tensor(1.0, requires_grad=True) * 2).requires_grad
    done.set()
    thread.join()
    assert seen == {"main": True, "other": False}


def test_a_million_operations_deep_backpropagates_without_recursion():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0000001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0000001**1_000_000, rel=1e-9)


def nth_derivative(f, x0, n):
    x = cr.tensor(x0, requires_grad=True)
    out = f(x)
    for _ in range(n):
        x.grad = None
        out.backward(create_graph=True)
        out = x.grad
    return out.item()


@pytest.mark.parametrize(
    "f,derivatives",
    [
        (lambda x: x**3, [lambda x: 3 * x**2, lambda x: 6 * x, lambda x: 6.0]),
        (cr.sin, [np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)]),
        (
            lambda x: cr.exp(2 * x),
            [lambda x: 2 * np.exp(2 * x), lambda x: 4 * np.exp(2 * x), lambda x: 8 * np.exp(2 * x)],
        ),
        (
            cr.tanh,
            [
                lambda x: 1 - np.tanh(x) ** 2,
                lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
                lambda x: -2 * (1 - np.tanh(x) ** 2) ** 2 + 4 * np.tanh(x) ** 2 * (1 - np.tanh(x) ** 2),
            ],
        ),
        (
            lambda x: cr.log(x) / x,
            [
                lambda x: (1 - np.log(x)) / x**2,
                lambda x: (2 * np.log(x) - 3) / x**3,
                lambda x: (11 - 6 * np.log(x)) / x**4,
            ],
        ),
        (
            cr.sigmoid,
            [
                lambda x: s(x) * (1 - s(x)),
                lambda x: s(x) * (1 - s(x)) * (1 - 2 * s(x)),
                lambda x: s(x) * (1 - s(x)) * (1 - 6 * s(x) + 6 * s(x) ** 2),
            ],
        ),
    ],
)
@pytest.mark.parametrize("x0", [0.3, 1.7])
def test_higher_derivatives_match_analytic(f, derivatives, x0):
    for order, derivative in enumerate(derivatives, start=1):
        assert nth_derivative(f, x0, order) == pytest.approx(derivative(x0), rel=1e-10, abs=1e-12)


def s(x):
    return 1 / (1 + np.exp(-x))


def test_mixed_second_derivative_of_seed_example():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.tensor(3.0, requires_grad=True)
    r = x * y
    (cr.sin(r) + cr.cos(r)).backward(create_graph=True)
    gx = x.grad
    x.grad = y.grad = None
    gx.backward()
    # d/dy [y (cos xy - sin xy)] = cos r - sin r - x y (sin r + cos r)
    assert y.grad.item() == pytest.approx(np.cos(6) - np.sin(6) - 6 * (np.sin(6) + np.cos(6)), rel=1e-12)


def test_no_work_for_inputs_that_need_no_gradient():
    calls = []

    @primitive("spy")
    def spy(xp, a, b):
        return a * b

    defvjp(spy, lambda g, ans, a, b: calls.append("a") or g * b, lambda g, ans, a, b: calls.append("b") or g * a)
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    spy(a, cr.tensor([3.0, 4.0])).sum().backward()
    assert calls == ["a"] and a.grad.tolist() == [3.0, 4.0]


def test_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = cr.tensor(np.ones(3), requires_grad=True)
        h = cr.tanh(x * 2 + 1)
        inner = x * 3
        refs = [weakref.ref(h), weakref.ref(inner)]
        out = (h * h + inner).sum()
        del h, inner
        out.backward(retain_graph=True)
        del out
        assert [ref() for ref in refs] == [None, None]  # the whole graph freed by reference counting alone
    finally:
        gc.enable()


def test_backward_releases_each_node_once_it_is_used():
    seen_alive = []

    @primitive("watch")
    def watch(xp, x):
        return x * 1.0

    refs = []
    defvjp(watch, lambda g, ans, x: seen_alive.append(refs[0]() is not None) or g)
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    first = watch(x)
    later = cr.exp(first)
    refs.append(weakref.ref(later))
    out = cr.exp(later).sum()
    del first, later
    out.backward()
    # 'later' was used before 'watch' and nothing else needs it: it is gone by the time watch's rule runs
    assert seen_alive == [False]
    np.testing.assert_allclose(x.grad.numpy(), np.exp(np.exp([1.0, 2.0])) * np.exp([1.0, 2.0]))


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda y: y.__imul__(y), lambda a: 8 * a),  # y = (2a)^2
        (lambda y: y.__iadd__(y), lambda a: 4 + 0 * a),  # y = 4a
        (lambda y: y.__isub__(y), lambda a: 0 * a),
        (lambda y: y.__itruediv__(y), lambda a: 0 * a),
        (lambda y: y.__setitem__(slice(None), y), lambda a: 2 + 0 * a),
    ],
    ids=["*=", "+=", "-=", "/=", "[:]="],
)
def test_in_place_change_of_a_tensor_by_itself(change, expected, create_graph):
    # y *= y: the old value of y is both operands; the tensor then holds the result
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 2
    change(y)
    y.sum().backward(create_graph=create_graph)
    np.testing.assert_allclose(a.grad.numpy(), expected(np.array([1.0, 2.0, 3.0])))


def test_a_deep_copy_of_a_graph_backpropagates():
    import copy

    a = cr.tensor([1.0, 2.0], requires_grad=True)
    a_copy, out_copy = copy.deepcopy((a, (cr.exp(a) * 2).sum()))
    out_copy.backward()  # the copy's graph leads to the copy's leaf
    np.testing.assert_allclose(a_copy.grad.numpy(), 2 * np.exp([1.0, 2.0]))
    assert a.grad is None


def test_a_leaf_switched_off_after_the_forward_pass_gets_no_gradient():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    u = (cr.exp(a) + a * b).sum()
    a.requires_grad_(False)
    u.backward()
    assert a.grad is None
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 2.0])


def test_a_recorded_operation_leaves_one_object_for_the_garbage_collector():
    # Python's collector scans every live container object; scalar programs record one node per operation,
    # so each node must be a single object (the tensor), not the tensor plus a tuple of its inputs.
    x = cr.tensor(0.5, requires_grad=True)
    y = cr.tensor(2.0, requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        h = x
        for _ in range(1000):
            h = cr.tanh(h * y + x)  # unary and binary nodes
        grown = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert 3000 <= grown <= 3100
    h.backward()
    assert np.isfinite(x.grad.item()) and np.isfinite(y.grad.item())


def test_a_recorded_change_of_a_saved_input_is_differentiated_with_the_old_value():
    # the change is recorded, and it kept the old version (its node and values): z reads that one
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 2
    z = y * y  # multiply saves y
    y[0] = 0.0
    z.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [8.0, 16.0, 24.0])
    # a change that is not recorded (no_grad) leaves no old version: caught
    v = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = v * 2
    z = y * y
    with cr.no_grad():
        y[0] = 0.0
    with pytest.raises(cr.InplaceError, match="input 0 of 'multiply'"):
        z.sum().backward()


def test_in_place_change_through_a_view_is_refused_or_caught():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cr.exp(w)
    view = y[0:2]
    with pytest.raises(cr.InplaceError, match="shares memory"):
        view[0] = 7.0  # recorded writes into memory that y (still yours) shares are refused where they happen
    with pytest.raises(cr.InplaceError, match="shares memory"):
        y *= 2  # y has a view
    with cr.no_grad():
        view[0] = 7.0  # allowed without recording, but y's history no longer matches its values
    with pytest.raises(cr.InplaceError, match="result of 'exp'"):
        y.sum().backward()
    base = cr.tensor([1.0, 2.0, 3.0])
    s = w * base  # saves base for w's gradient
    base.reshape(3, 1)[0, 0] = 10.0
    with pytest.raises(cr.InplaceError, match="multiply"):
        s.sum().backward()


@pytest.mark.parametrize(
    "write",
    [
        lambda x: x.reshape(3, 1).__setitem__(Ellipsis, 0.0),
        lambda x: x[0:2].__imul__(2),
        lambda x: x.T.__setitem__(0, 5.0),
        lambda x: [row.__iadd__(1.0) for row in x.reshape(3, 1)],
    ],
)
def test_writes_through_views_never_give_a_silently_wrong_gradient(write):
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = a * 1
    try:
        write(x)
    except cr.InplaceError:
        return  # refused where it happens
    with pytest.raises(cr.InplaceError):
        (x * x).sum().backward()


def test_writing_a_view_of_a_leaf_or_of_a_constant_is_refused_while_recording():
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(cr.InplaceError):
        a[0:2][0] = 100.0
    assert a.tolist() == [1.0, 2.0, 3.0]
    v = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.zeros(4)
    with pytest.raises(cr.InplaceError):
        c[0:2][:] = v * 1  # c's memory would depend on v without c knowing
    c[0:2] = v * 1  # direct assignment is recorded on c itself
    (c * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]


def test_a_rebound_input_is_followed_to_the_version_it_was():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    z = h * 2  # z was computed from h before the change...
    h *= 3  # ...and h now stands for a different computation
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("seed", range(12))
def test_random_in_place_programs_match_forward_mode_and_finite_differences(seed):
    # index updates (t[i] += ..., t[idx] = ...), whole-tensor updates, values saved before and after changes
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(rng.integers(3, 8)):
        kind = rng.choice(["add_at", "set_at", "scale", "save", "add_self"])
        steps.append((kind, int(rng.integers(0, 4)), rng.integers(-4, 4, size=2), float(rng.uniform(0.5, 1.5))))

    def program(x):
        t, saved = x * 1.0, []
        for kind, i, idx, c in steps:
            if kind == "add_at":
                t[i] += cr.sin(x[i]) * c
            elif kind == "set_at":
                t[idx] = t[i] * c + x[(i + 1) % 4]
            elif kind == "scale":
                t *= c
            elif kind == "save":
                saved.append(t * c)
            else:
                t += t * c
        return cr.sum(t * t) + sum((cr.sum(cr.tanh(s)) for s in saved), cr.tensor(0.0))

    x0 = rng.standard_normal(4)
    numeric = [
        (program(cr.tensor(x0 + e * 1e-6)).item() - program(cr.tensor(x0 - e * 1e-6)).item()) / 2e-6 for e in np.eye(4)
    ]
    leaf = cr.tensor(x0, requires_grad=True)
    program(leaf).backward()
    for got in (leaf.grad, cr.grad(program)(x0), cr.jacobian(program, mode="fwd")(x0), cr.jacobian(program)(x0)):
        np.testing.assert_allclose(got.numpy(), numeric, rtol=1e-5, atol=1e-6)


def test_in_place_on_a_leaf_that_requires_grad_is_refused_while_recording():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.InplaceError, match="no_grad"):
        w[0] = 5.0
    with pytest.raises(cr.InplaceError, match="no_grad"):
        w += 1
    with cr.no_grad():
        w -= 0.5  # the parameter update pattern
        w[1] = 0.0
    assert w.tolist() == [0.5, 0.0] and w.is_leaf and w.requires_grad


def test_recorded_in_place_changes_give_correct_gradients():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cr.exp(w)
    y[0] = 5.0  # replaces one value: the gradient there is 0, exp's saved output is kept intact
    y.sum().backward()
    np.testing.assert_allclose(w.grad.data, [0.0, np.exp(2), np.exp(3)])
    w.grad = None
    y = w * 1
    y += 1
    y *= w  # y = (w + 1) * w
    y.sum().backward()
    assert w.grad.tolist() == [3.0, 5.0, 7.0]
    v = cr.tensor([10.0], requires_grad=True)
    c = cr.zeros(3)
    c[1:2] = v * 2  # a constant becomes part of the graph
    (c * w).sum().backward()
    assert v.grad.tolist() == [4.0] and not c.is_leaf


def test_engine_never_recurses():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(engine))
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        called = {c.func.id for c in ast.walk(function) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        assert function.name not in called, f"{function.name} calls itself"


def test_detect_anomaly_names_the_operation_and_the_line():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    with cr.detect_anomaly():
        with pytest.raises(cr.AnomalyError, match=r"'log' produced NaN.*test_engine.py:\d+.*cr\.log\(x\)"):
            cr.log(x)
        z = cr.sqrt(x * 0)  # finite values, infinite gradient at 0
        with pytest.raises(cr.AnomalyError, match=r"gradient of input 0 of 'sqrt'.*z = cr\.sqrt\(x \* 0\)"):
            z.sum().backward()
    assert cr.log(x).shape == (2,)  # outside the block: NumPy's NaN, no error


# -- selections keep their zeros (cr.where): no NaN from the branch not chosen ----------------------------------

SINGULAR = {  # branch, where it is safe, a safe point
    "sqrt": (cr.sqrt, lambda x: x > 0, 1.0),
    "log": (cr.log, lambda x: x > 0, 1.0),
    "x log x": (lambda x: x * cr.log(x), lambda x: x > 0, 1.0),
    "reciprocal": (lambda x: 1.0 / x, lambda x: x != 0, 1.0),
    "power": (lambda x: x**0.5 * cr.exp(x), lambda x: x > 0, 1.0),
    "arcsin": (cr.arcsin, lambda x: abs(x) < 1, 0.0),
    "log1p": (lambda x: cr.log1p(x) ** 2, lambda x: x > -1, 0.0),
    "std": (lambda x: cr.std(cr.stack([x, x * 0.0]), axis=0) * cr.sqrt(x), lambda x: x > 0, 1.0),
}


@pytest.mark.parametrize("name", sorted(SINGULAR))
@pytest.mark.parametrize("seed", range(3))
def test_the_branch_not_chosen_gets_zero_gradient_in_every_mode(name, seed):
    branch, safe, point = SINGULAR[name]
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, 6)
    x[:3] = [0.0, -1.0, 1.0]  # singular points of the branches, exactly
    mask = np.asarray(safe(x))

    def f(t):
        return cr.sum(cr.where(safe(t.numpy() if hasattr(t, "numpy") else t), branch(t), 0.0) * np.arange(1.0, 7.0))

    def expected_f(t):  # the same function, the branch evaluated only where it is safe
        shifted = cr.where(mask, t, point)
        return cr.sum(branch(shifted) * mask * np.arange(1.0, 7.0))

    v = rng.standard_normal(6)
    with np.errstate(all="ignore"):
        got = {
            "grad": cr.grad(f)(x),
            "hessian": cr.hessian(f)(x),
            "jvp": cr.jvp(f, (x,), (v,))[1],
            "jacobian fwd": cr.jacobian(cr.grad(f), mode="fwd")(x),
            "jacobian rev": cr.jacobian(cr.grad(f), mode="rev")(x),
            "grad of grad": cr.grad(lambda t: cr.sum(cr.grad(f)(t) * v))(x),
        }
        leaf = cr.tensor(x, requires_grad=True)
        f(leaf).backward()
        got["backward"] = leaf.grad
    expected = {
        "grad": cr.grad(expected_f)(x),
        "hessian": cr.hessian(expected_f)(x),
        "jvp": cr.jvp(expected_f, (x,), (v,))[1],
        "grad of grad": cr.grad(lambda t: cr.sum(cr.grad(expected_f)(t) * v))(x),
        "backward": cr.grad(expected_f)(x),
    }
    expected["jacobian fwd"] = expected["jacobian rev"] = expected["hessian"]
    for key, value in got.items():
        assert np.all(np.isfinite(value.numpy())), key
        np.testing.assert_allclose(value.numpy(), expected[key].numpy(), rtol=1e-12, atol=1e-12, err_msg=key)


def test_only_zeros_made_by_a_selection_are_kept():
    # sqrt(x) * sqrt(x) at 0: the gradient arriving at each sqrt is 0 only because sqrt(0) = 0, not by a
    # selection: the honest NaN stays, and a where recorded elsewhere (another graph) changes nothing
    with np.errstate(all="ignore"):
        x = cr.tensor(0.0, requires_grad=True)
        y = cr.sqrt(x) * cr.sqrt(x)
        y.backward(retain_graph=True)
        assert np.isnan(x.grad.item())
        x.grad = None
        cr.where(cr.tensor(True), cr.tensor(1.0, requires_grad=True) * 1, 0.0)
        y.backward()
        assert np.isnan(x.grad.item())
        # a selection's zeros go through movements of entries (indexing, reshape, broadcasting) to the branch
        x0 = np.array([0.0, -1.0, 2.0])
        for f in (
            lambda x: cr.sum(cr.where(x[None] > 0, cr.sqrt(x)[None] + cr.sqrt(x), 0.0)),
            lambda x: cr.sum(cr.where(cr.reshape(x, (3, 1)) > 0, cr.reshape(cr.sqrt(x), (3, 1)) * np.ones(2), 0.0)),
            lambda x: cr.sum(cr.where(x > 0, cr.sqrt(cr.concatenate([x[:1], x[1:]])), 0.0)),
        ):
            for g in (cr.grad(f)(x0), cr.hessian(f)(x0), cr.jacobian(cr.grad(f))(x0)):
                assert np.all(np.isfinite(g.numpy()))
            assert cr.grad(f)(x0).numpy()[:2].tolist() == [0.0, 0.0]


def test_the_cautious_refusals_of_the_past_now_compute_as_pytorch_does():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1.0
    h[0] = h[1] * 2  # on a non-leaf
    cr.sum(h * h).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 8 * 2.0 + 2 * 2.0, 6.0])  # sum(h^2) = 4 x1^2 + x1^2 + x2^2
    x.grad = None
    h = x * 1.0
    y = h * 3
    h += 1  # multiply saved h only to differentiate with respect to the constant
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])
    x.grad, v = None, cr.tensor(0.5, requires_grad=True)
    h = x * 1.0
    h[0] = h[0] * v  # reads its own old value
    cr.sum(h * h).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * 1.0 * 0.5 * 0.5, 4.0, 6.0])
    assert v.grad.item() == 2 * 1.0**2 * 0.5


@pytest.mark.parametrize("unrecorded", ["no_grad", "detach"])
def test_a_change_without_recording_before_a_recorded_one_is_still_caught(unrecorded):
    # the kept version would hold the values changed without recording: refused, not differentiated with them
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = a * 1
    y = cr.sin(t)  # saves t
    if unrecorded == "no_grad":
        with cr.no_grad():
            t += 1
    else:
        t.detach()[0] = 9.0
    t *= 2  # a recorded change afterwards
    with pytest.raises(cr.InplaceError, match="input 0 of 'sin'"):
        cr.sum(y).backward()


def test_in_place_change_of_a_view_of_an_intermediate_nobody_else_holds():
    # x = np.reshape(a * b, s); x -= c (autograd's fluid simulation): the product is reachable only through x's
    # own node, so x gets memory of its own and the change is made there
    def step(v):
        x = cr.reshape(v * 2.0, (2, 3))
        x -= cr.roll(x, 1, axis=1) * 0.5
        return x

    v = np.arange(6.0)
    expected = (v * 2).reshape(2, 3) - np.roll((v * 2).reshape(2, 3), 1, axis=1) * 0.5
    np.testing.assert_allclose(step(v).numpy(), expected)
    check_grads(step, v)
    check_forward(step, v)
    a = cr.tensor(v, requires_grad=True)
    product = a * 2.0  # held by a variable: refused, since the change would not reach it
    x = cr.reshape(product, (2, 3))
    with pytest.raises(cr.InplaceError, match="shares memory"):
        x -= 1.0
