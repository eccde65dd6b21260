"""custom_vjp (a rule that differs from the true derivative on purpose proves it is used) and checkpoint."""

import tracemalloc

import numpy as np
import pytest

import chainrule as cr


@cr.custom_vjp
def loud_square(x):
    return x**2


loud_square.defvjp(lambda x: (x**2, x), lambda x, g: (g * 100.0,))  # not 2x: on purpose


def test_custom_rule_is_used_by_backward_and_by_every_transform():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    loud_square(x).sum().backward()
    assert x.grad.tolist() == [100.0, 100.0]
    assert cr.grad(lambda t: cr.sum(loud_square(t)))(np.array([1.0, 2.0])).tolist() == [100.0, 100.0]
    (g,) = cr.vjp(loud_square, np.array([3.0]))[1](np.array([2.0]))
    assert g.tolist() == [200.0]
    assert cr.jacobian(loud_square)(np.array([1.0, 2.0])).tolist() == [[100.0, 0.0], [0.0, 100.0]]
    # forward mode goes through the same rule (its transpose): a tangent of 1 changes the output by 100
    assert cr.jvp(loud_square, (np.array([1.0]),), (np.array([1.0]),))[1].tolist() == [100.0]
    assert cr.jacobian(loud_square, mode="fwd")(np.array([1.0, 2.0])).tolist() == [[100.0, 0.0], [0.0, 100.0]]
    np.testing.assert_array_equal(loud_square(np.array([3.0])).data, [9.0])  # the forward is f's


def test_custom_rule_with_residuals_and_several_inputs():
    @cr.custom_vjp
    def scaled(x, y):
        return x * y

    scaled.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1], None))
    x, y = cr.tensor([2.0], requires_grad=True), cr.tensor([5.0], requires_grad=True)
    scaled(x, y).sum().backward()
    assert x.grad.tolist() == [5.0] and y.grad.tolist() == [0.0]


def block(t):
    for _ in range(8):
        t = cr.tanh(t * 1.01 + 0.1)
    return t


def test_checkpoint_gives_the_same_gradients_to_second_order():
    x0 = np.linspace(-1, 1, 5)
    plain = cr.grad(lambda t: cr.sum(block(t)))(x0)
    checked = cr.grad(lambda t: cr.sum(cr.checkpoint(block)(t)))(x0)
    np.testing.assert_allclose(checked.data, plain.data, rtol=1e-14)
    np.testing.assert_allclose(
        cr.hessian(lambda t: cr.sum(cr.checkpoint(block)(t)))(x0).data,
        cr.hessian(lambda t: cr.sum(block(t)))(x0).data,
        rtol=1e-12,
    )


def _peak_bytes(use_checkpoint):
    x = cr.tensor(np.ones(200_000) * 0.1, requires_grad=True)
    segment = cr.checkpoint(block) if use_checkpoint else block
    tracemalloc.start()
    h = x
    for _ in range(6):
        h = segment(h)
    h.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, x.grad.data.copy()


def test_checkpoint_lowers_peak_memory():
    plain_peak, plain_grad = _peak_bytes(False)
    checked_peak, checked_grad = _peak_bytes(True)
    np.testing.assert_allclose(checked_grad, plain_grad, rtol=1e-12)
    # 6 segments of 8 layers on 1.6 MB arrays: the plain graph holds ~100 arrays, checkpointing ~6 plus one segment
    assert checked_peak < 0.5 * plain_peak, (checked_peak, plain_peak)


def test_custom_rule_under_second_order_transforms():
    @cr.custom_vjp
    def cube(x):
        return x**3

    cube.defvjp(lambda x: (x**3, x), lambda x, g: g * 3 * x**2)  # a bare Tensor for one input is fine
    x0 = np.array([1.0, 2.0])
    expected = np.diag(6 * x0)
    np.testing.assert_allclose(cr.hessian(lambda t: cr.sum(cube(t)))(x0).data, expected)
    np.testing.assert_allclose(cr.jacobian(cr.grad(lambda t: cr.sum(cube(t))))(x0).data, expected)
    assert cr.hvp(lambda t: cr.sum(cube(t)), (x0,), (np.ones(2),))[1].tolist() == [6.0, 12.0]


def test_custom_rule_mistakes_are_explained():
    @cr.custom_vjp
    def no_pair(x):
        return x

    no_pair.defvjp(lambda x: x, lambda r, g: (g,))
    with pytest.raises(cr.GradientError, match="pair"):
        no_pair(cr.tensor(1.0, requires_grad=True))

    @cr.custom_vjp
    def too_many(x):
        return x

    too_many.defvjp(lambda x: (x * 1, None), lambda r, g: (g, g))
    with pytest.raises(cr.GradientError, match="1 gradients"):
        too_many(cr.tensor(1.0, requires_grad=True)).backward()


@pytest.mark.parametrize("order", [2, 3])
def test_checkpoint_reverse_over_reverse(order):
    def blk(t):
        return cr.tanh(t * 1.3 + 0.1) * t

    f, g = cr.checkpoint(blk), blk
    for _ in range(order):
        f, g = cr.grad(f), cr.grad(g)
    assert f(0.3).item() == pytest.approx(g(0.3).item(), rel=1e-12)
    x0 = np.array([0.3, -0.2])
    np.testing.assert_allclose(
        cr.jacobian(cr.grad(lambda x: cr.sum(cr.checkpoint(blk)(x))))(x0).data,
        cr.jacobian(cr.grad(lambda x: cr.sum(blk(x))))(x0).data,
        rtol=1e-12,
    )
    x = cr.tensor(0.3, requires_grad=True)
    cr.checkpoint(blk)(x).backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.backward()
    assert x.grad.item() == pytest.approx(cr.grad(cr.grad(blk))(0.3).item(), rel=1e-12)


def test_checkpoint_gives_gradients_to_the_tensors_the_function_reads():
    rng = np.random.default_rng(3)
    layer = cr.nn.Linear(3, 2)
    x = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    cr.sum(cr.tanh(cr.checkpoint(layer)(x))).backward()
    checked = [layer.weight.grad.numpy().copy(), layer.bias.grad.numpy().copy(), x.grad.numpy().copy()]
    layer.zero_grad()
    x.grad = None
    cr.sum(cr.tanh(layer(x))).backward()
    for got, expected in zip(checked, [layer.weight.grad.numpy(), layer.bias.grad.numpy(), x.grad.numpy()]):
        np.testing.assert_allclose(got, expected, rtol=1e-14)
    # a closure over a computed tensor and over a transform's own variable, to second order
    w0, a0 = rng.standard_normal(2), rng.standard_normal(2)

    def loss(w, use_checkpoint):
        scaled = w * 2.0  # computed outside the checkpointed function, read inside it
        inner = lambda a: cr.sin(a * scaled) * w  # noqa: E731
        return cr.sum((cr.checkpoint(inner) if use_checkpoint else inner)(cr.tensor(a0)))

    for transform in (cr.grad, cr.hessian):
        np.testing.assert_allclose(
            transform(lambda w: loss(w, True))(w0).numpy(), transform(lambda w: loss(w, False))(w0).numpy()
        )


def test_a_custom_rule_that_reads_a_tensor_needing_a_derivative_is_refused():
    # bwd gives gradients for the arguments only: a closure's derivative would be lost without a word (was 0)
    def g(w):
        h = cr.custom_vjp(lambda x: x * w)
        h.defvjp(lambda x: (x * w, None), lambda r, gg: (gg * w,))
        return h(3.0)

    for transform in (lambda: cr.grad(g)(2.0), lambda: cr.jvp(g, (2.0,), (1.0,)), lambda: cr.hessian(g)(2.0)):
        with pytest.raises(cr.GradientError, match="without being given it"):
            transform()
    w = cr.tensor(2.0, requires_grad=True)
    with pytest.raises(cr.GradientError, match="without being given it"):
        g(w)
    assert g(cr.tensor(2.0)).item() == 6.0  # a constant closure is fine


@pytest.mark.parametrize(
    "bwd", [lambda r, g: (cr.clip(g, -1.0, 1.0),), lambda r, g: (g * cr.abs(g),), lambda r, g: (g / cr.sum(g * g),)]
)
def test_forward_mode_refuses_a_reverse_rule_that_is_not_linear_in_g(bwd):
    @cr.custom_vjp
    def f(x):
        return x * 1.0

    f.defvjp(lambda x: (x * 1.0, None), bwd)
    x0 = np.array([1.0, 2.0])
    cr.jacobian(lambda x: f(x) * 5.0)(x0)  # reverse mode uses the rule as given
    for transform in (lambda: cr.jacobian(lambda x: f(x) * 5.0, mode="fwd")(x0), lambda: cr.jvp(f, (x0,), (x0,))):
        with pytest.raises(cr.GradientError, match="linear in g"):
            transform()


def test_a_custom_rule_with_several_outputs_is_refused_clearly():
    @cr.custom_vjp
    def two(x):
        return x, x

    two.defvjp(lambda x: ((x, x), None), lambda r, g: (g,))
    with pytest.raises(cr.GradientError, match="one tensor as its output"):
        two(cr.tensor(1.0, requires_grad=True))


def test_checkpoint_recomputes_with_the_same_random_draws():
    cr.manual_seed(0)
    dropout = cr.nn.Dropout(0.5)
    x = cr.tensor(np.ones(64), requires_grad=True)
    y = cr.checkpoint(dropout)(x)
    cr.sum(y * np.arange(64.0)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy() * np.arange(64.0))  # the forward's mask, not a new one
    after = cr.nn.init.default_generator().random()
    cr.manual_seed(0)
    cr.nn.functional.dropout(cr.tensor(np.ones(64)), 0.5, training=True)
    assert cr.nn.init.default_generator().random() == after  # later draws go on as without checkpoint


def test_checkpoint_refuses_a_recomputation_that_differs_from_the_forward_pass():
    dropout = cr.nn.Dropout(0.5, seed=0)  # a generator of its own: not replayed
    x = cr.tensor(np.ones(32), requires_grad=True)
    y = cr.checkpoint(dropout)(x)
    with pytest.raises(cr.GradientError, match="different result"):
        cr.sum(y).backward()


def test_linear_rules_with_infinite_or_huge_coefficients_pass_and_far_clipping_is_caught():
    root = cr.custom_vjp(lambda x: cr.sqrt(x))
    root.defvjp(lambda x: (cr.sqrt(x), x), lambda x, g: (g * 0.5 / cr.sqrt(x),))
    with np.errstate(divide="ignore"):
        _, tangent = cr.jvp(root, (np.array([0.0, 4.0]),), (np.array([1.0, 1.0]),))
    assert tangent.tolist() == [np.inf, 0.25]
    far = cr.custom_vjp(lambda x: x * 1.0)
    far.defvjp(lambda x: (x * 1.0, None), lambda r, g: (cr.clip(g, -1e6, 1e6),))
    with pytest.raises(cr.GradientError, match="linear in g"):
        cr.jvp(far, (np.array([1.0]),), (np.array([1e7]),))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_forward_mode_refuses_a_bwd_computed_outside_chainrule(shape):
    """bwd on g's NumPy values is right in reverse mode, but forward mode transposes bwd and would see no
    dependence on g: zeros, silently. It must say so instead (the class of odeint's forward-mode bug)."""

    @cr.custom_vjp
    def double(x):
        return x * 2

    double.defvjp(lambda x: (x * 2, None), lambda residuals, g: (cr.tensor(np.asarray(g.numpy()) * 2),))
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(cr.vjp(double, x)[1](np.ones(shape))[0].numpy(), 2 * np.ones(shape))
    with pytest.raises(cr.GradientError, match="forward mode .* transposes bwd.*not computed from g"):
        cr.jvp(double, (x,), (np.ones(shape),))
