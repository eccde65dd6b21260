"""cr.vmap against a Python loop over the examples, for every primitive (a call per primitive, batched on the
arguments and axes Hypothesis draws), composed with grad, jvp, jacobian, hessian and itself; and its errors."""

import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.distributed as dist
import chainrule.scipy.linalg as scipy_linalg
import chainrule.scipy.signal as signal
import chainrule.scipy.special as S
from chainrule import ops
from chainrule.nn import functional as F
from chainrule.primitive import Primitive
from chainrule.vectorize import rules


def _set_second(a, b):
    x = cr.multiply(a, 1.0)  # a tensor (an ndarray cannot hold batched values)
    x[1] = b[0] * 2.0
    return x


def _spd(a):
    return a @ cr.swapaxes(a, -1, -2) + 3 * np.eye(a.shape[-1])


# name: (a function of one example, the shapes of its arguments for one example); together they apply every
# primitive (checked by test_the_calls_cover_every_primitive)
CALLS = {
    "unary": (
        lambda a: cr.stack(
            [
                cr.abs(a),
                cr.arccos(cr.tanh(a) * 0.9),
                cr.arccosh(a * a + 1.5),
                cr.arcsin(cr.tanh(a) * 0.9),
                cr.arcsinh(a),
                cr.arctan(a),
                cr.arctanh(cr.tanh(a) * 0.9),
                cr.cos(a),
                cr.cosh(a),
                cr.deg2rad(a),
                cr.erf(a),
                cr.exp(a),
                cr.exp2(a),
                cr.cbrt(a),
                cr.expm1(a),
                cr.log(a * a + 1),
                cr.log10(a * a + 1),
                cr.log1p(a * a),
                cr.log2(a * a + 1),
                -a,
                cr.rad2deg(a),
                cr.reciprocal(a * a + 1),
                cr.relu(a),
                cr.sigmoid(a),
                cr.sin(a),
                cr.sinc(a),
                cr.sinh(a),
                cr.softplus(a),
                cr.sqrt(a * a + 1),
                cr.square(a),
                cr.tan(cr.tanh(a)),
                cr.tanh(a),
                cr.sign(a) * a + cr.floor(a) + cr.ceil(a) + cr.trunc(a) + cr.rint(a) + cr.round(a, 1),
                cr.where(((a > 0) | (a < -1)) & ~(a > 2) ^ (a > 1), a, 0.0),
                cr.clip(a, -0.5, 0.5),
                a.astype(np.float32).astype(np.float64),
                cr.std(a) + a,
            ]
        ),  # fmt: skip
        [(2, 3)],
    ),
    "binary": (
        lambda a, b: cr.stack(
            [
                a + b,
                a - b,
                a * b,
                a / (b * b + 1),
                (a * a + 1) ** b,
                cr.maximum(a, b),
                cr.minimum(a, b),
                cr.fmax(a, b),
                cr.fmin(a, b),
                cr.arctan2(a, b),
                cr.hypot(a, b),
                cr.logaddexp(a, b),
                cr.logaddexp2(a, b),
                cr.remainder(a, b * b + 1),
                cr.where(a < b, a, b) + cr.where(a <= b, b, 0.0) + cr.where(a > b, a, 1.0),
                cr.where(a >= b, a, b) + cr.where(a == b, a, b) + cr.where(a != b, b, a),
            ]
        ),  # fmt: skip
        [(3,), (2, 3)],
    ),
    "reductions": (
        lambda a: cr.concatenate(
            [
                cr.flatten(cr.sum(a, axis=0)),
                cr.flatten(cr.max(a, axis=1)),
                cr.flatten(cr.min(a)),
                cr.flatten(cr.prod(a, axis=-1)),
                cr.flatten(cr.logsumexp(a, axis=1)),
                cr.flatten(cr.softmax(a, axis=0)),
                cr.flatten(cr.log_softmax(a)),
                cr.flatten(cr.cumsum(a, axis=1)),
                cr.flatten(cr.cumprod(a, axis=0)),
                cr.flatten(cr.linalg.norm(a, axis=1)),
                cr.flatten(cr.linalg.norm(cr.flatten(a), 3)),
            ]
        ),  # fmt: skip
        [(3, 4)],
    ),
    "shapes": (
        lambda a, b: cr.concatenate(
            [
                cr.flatten(cr.reshape(a, (4, 3))),
                cr.flatten(cr.transpose(a)),
                cr.flatten(cr.broadcast_to(b, (2, 3, 4))),
                cr.flatten(a[1]),
                cr.flatten(a[:, [0, 2, 2]]),
                cr.flatten(a[[0, 2], 1:3]),
                cr.flatten(cr.diag(b)),
                cr.flatten(_set_second(a, b)),
                cr.flatten(cr.pad(a, ((1, 0), (2, 1)))),
                cr.flatten(cr.stack([a, a * 2], axis=1)),
                cr.flatten(cr.sort(b)),
            ]
        ),  # fmt: skip
        [(3, 4), (4,)],
    ),
    "advanced index apart": (lambda a: a[[0, 1], :, [1, 0]], [(2, 3, 2)]),
    "products": (
        lambda a, b, v: cr.concatenate(
            [
                cr.flatten(a @ b),
                cr.flatten(v @ b),
                cr.flatten(a @ v),
                cr.flatten(cr.einsum("ij,jk->ki", a, b)),
                cr.flatten(F.linear(v, cr.transpose(b), v[:3])),
                cr.flatten(cr.tensordot(a, a, 2)),
            ]
        ),  # fmt: skip
        [(2, 4), (4, 3), (4,)],
    ),
    "complex parts": (
        lambda a, b: cr.stack(
            [
                cr.real(a + 1j * b) * 2,
                cr.imag(a * (1 + 1j) + b),
                cr.real(cr.conj(a + 2j * b) * 1j),
                cr.angle(a + 1j * b),
            ]
        ),
        [(3,), (3,)],
    ),
    "loss": (lambda logits: F.cross_entropy(logits, np.array([1, 0, 2])), [(3, 4)]),
    "convolution": (lambda x, w: F.conv2d(x, w, padding=1), [(1, 2, 4, 4), (3, 2, 2, 2)]),
    "linalg": (
        lambda a, b: cr.concatenate(
            [
                cr.flatten(cr.linalg.inv(_spd(a))),
                cr.flatten(cr.linalg.solve(_spd(a), b)),
                cr.flatten(cr.linalg.det(_spd(a))),
                cr.flatten(cr.linalg.slogdet(_spd(a))[1]),
                cr.flatten(cr.linalg.cholesky(_spd(a))),
                cr.flatten(cr.linalg.eigvalsh(_spd(a))),
                cr.flatten(cr.linalg.svd(a, compute_uv=False)),
                cr.flatten(cr.linalg.qr(a).R ** 2),
                cr.flatten(cr.linalg.pinv(a)),
                cr.flatten(cr.abs(cr.linalg.eigvals(_spd(a)))),
            ]
        ),  # fmt: skip
        [(3, 3), (3, 2)],
    ),
    "gradients": (  # the backward pass's own primitives (sum_to, scatter_add, linear_weight_grad, identity, fold)
        lambda a, b: cr.concatenate(
            [
                cr.flatten(cr.grad(lambda a, b: cr.sum(cr.tanh(a + b)[1:]))(a, b)),
                cr.flatten(cr.grad(lambda w: cr.sum(F.linear(a, w) ** 2))(a[:2] * 1.0)),
                cr.flatten(cr.grad(lambda x: cr.sum(F.conv2d(x, np.ones((1, 1, 2, 2)))))(cr.reshape(a, (1, 1, 3, 4)))),
            ]
        ),  # fmt: skip
        [(3, 4), (4,)],
    ),
    "fft": (
        lambda a: cr.stack(
            [
                cr.abs(cr.fft.fft(a, axis=0))[:3],
                cr.abs(cr.fft.ifft(a, n=4))[:3],
                cr.fft.irfft(cr.fft.rfft(a, axis=1), 4, axis=1)[:3],
            ]
        ),
        [(3, 4)],
    ),
    "special": (
        lambda a: cr.stack(
            [
                S.gammaln(a * a + 0.5),
                S.polygamma(1, a * a + 0.5),
                S.gamma(a * a + 0.5),
                S.erfc(a) + S.erf(a) + S.gammasgn(a - 0.5) * a,
                S.erfinv(cr.tanh(a) * 0.9),
                S.erfcinv(cr.tanh(a) * 0.9 + 1),
                S.i0(a) + S.i1(a) + S.iv(1.5, a * a) + S.ive(0.5, a * a),
                S.i0e(a) + S.i1e(a),
                S.betaln(a * a + 0.5, a * a + 1.5),
                S.xlogy(a, a * a + 1) + S.xlog1py(a, a * a) + S.log_ndtr(a),
                S.jv(1, a) + S.yv(0.5, a * a + 0.5) + S.gammainc(2.0, a * a) + S.betainc(2.0, 3.0, cr.sigmoid(a)),
                S.gammaincc(a * a + 0.5, a * a + 1) + S.betainc(a * a + 1, a * a + 2, 0.3),
                signal.convolve(a, a[:2, :2], mode="same"),
                cr.concatenate([scipy_linalg.expm(a[:, :3] * 0.1), a[:, :1]], axis=1),
                scipy_linalg.solve_banded((1, 1), cr.stack([a[0, :3], a[1, :3] + 4.0, a[2, :3]]), a[:, 3])[:, None]
                * cr.ones((1, 4)),
                cr.concatenate([scipy_linalg.sqrtm(a[:, :3] @ a[:, :3].T + 4 * np.eye(3)), a[:, :1]], axis=1),
                cr.concatenate([scipy_linalg.solve_triangular(a[:, :3] + 4 * np.eye(3), a[:, :1]), a[:, 1:]], axis=1),
                cr.concatenate(
                    [scipy_linalg.solve_sylvester(a[:, :3] + 4 * np.eye(3), 4 * np.eye(3), a[:, 1:]), a[:, :1]], axis=1
                ),
            ]
        ),
        [(3, 4)],
    ),
    "collectives": (
        lambda a: cr.stack(
            [
                dist.all_reduce(a, "sum"),
                dist.all_reduce(a, "mean"),
                dist.all_reduce(a * a, "max"),
                dist.all_gather(a, axis=1),
                dist.broadcast(a),
            ]
        ),
        [(3, 4)],
    ),
}


def _examples(shapes, size, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((size, *shape)) * 0.8 for shape in shapes]


def _loop(fn, stacked, in_axes):
    size = next(x.shape[a] for x, a in zip(stacked, in_axes) if a is not None)
    outs = []
    for b in range(size):
        args = [np.take(x, b, axis=a) if a is not None else x for x, a in zip(stacked, in_axes)]
        outs.append(np.asarray(fn(*[cr.tensor(x) for x in args]).data))
    return np.stack(outs)


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=6, deadline=None)
@given(size=st.integers(1, 3), seed=st.integers(0, 2**16), data=st.data())
def test_vmap_matches_a_loop_over_the_examples(name, size, seed, data):
    fn, shapes = CALLS[name]
    count = len(shapes)
    mapped = data.draw(st.lists(st.booleans(), min_size=count, max_size=count).filter(any))
    in_axes = [data.draw(st.integers(0, len(shape))) if m else None for m, shape in zip(mapped, shapes)]
    examples = _examples(shapes, size, seed)
    stacked = [np.moveaxis(x, 0, a) if a is not None else x[0] for x, a in zip(examples, in_axes)]
    expected = _loop(fn, stacked, in_axes)
    got = cr.vmap(fn, in_axes=tuple(in_axes))(*stacked)
    np.testing.assert_allclose(got.data, expected, rtol=1e-10, atol=1e-12)
    out_axis = data.draw(st.integers(-expected.ndim, expected.ndim - 1))
    moved = cr.vmap(fn, in_axes=tuple(in_axes), out_axes=out_axis)(*stacked)
    np.testing.assert_allclose(moved.data, np.moveaxis(expected, 0, out_axis), rtol=1e-10, atol=1e-12)


def _primitives():
    found = {}
    for module in pkgutil.walk_packages(cr.__path__, "chainrule."):
        if module.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, Primitive):
                found[value.name] = value
    return found


def test_every_primitive_has_a_batching_rule():
    missing = [name for name, prim in _primitives().items() if rules.rule_of(prim) is None]
    missing = [name for name in missing if name not in rules.SELF_BATCHING]
    assert not missing, f"primitives without a batching rule: {missing}"


def test_the_calls_cover_every_primitive(monkeypatch):
    seen = set()
    original = rules.run

    def spy(prim, args, params):
        seen.add(prim.name)
        return original(prim, args, params)

    monkeypatch.setattr(rules, "run", spy)
    for fn, shapes in CALLS.values():
        stacked = _examples(shapes, 2, 0)
        cr.vmap(fn)(*stacked)
        cr.vmap(cr.grad(lambda *xs, fn=fn: cr.sum(fn(*xs))))(*stacked)
    expected = set(_primitives()) - {"batch_in", "batch_out", "batch_sum"}
    assert expected <= seen, f"no call applies {sorted(expected - seen)} to batched values"


# -- composition -------------------------------------------------------------------------------------------------

rng = np.random.default_rng(0)
X, Y = rng.standard_normal((6, 3)), rng.standard_normal(6)
PARAMS = {"w": rng.standard_normal(3), "b": np.array(0.5)}


def loss(p, x, y):
    return (cr.tanh(x @ p["w"] + p["b"]) - y) ** 2


def test_per_example_gradients():
    grads = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(PARAMS, X, Y)
    for i in range(len(X)):
        one = cr.grad(loss)(PARAMS, X[i], Y[i])
        np.testing.assert_allclose(grads["w"].data[i], one["w"].data, rtol=1e-12)
        np.testing.assert_allclose(grads["b"].data[i], one["b"].data, rtol=1e-12)


def test_gradient_through_vmap_sums_over_the_examples():
    total = cr.grad(lambda p: cr.vmap(loss, in_axes=(None, 0, 0))(p, X, Y).sum())(PARAMS)
    looped = cr.grad(lambda p: cr.sum(cr.stack([loss(p, X[i], Y[i]) for i in range(len(X))])))(PARAMS)
    np.testing.assert_allclose(total["w"].data, looped["w"].data, rtol=1e-12)
    x = cr.tensor(X, requires_grad=True)
    cr.vmap(lambda x: cr.sum(cr.sin(x) * x))(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(X) * X + np.sin(X), rtol=1e-12)


def test_jvp_jacobian_and_hessian_inside_and_outside():
    f = lambda x: cr.sin(x) * cr.sum(x**2)  # noqa: E731
    for mode in ("rev", "fwd"):
        jac = cr.vmap(cr.jacobian(f, mode=mode))(X)
        np.testing.assert_allclose(jac.data, np.stack([cr.jacobian(f)(x).data for x in X]), rtol=1e-12)
    _, tangent = cr.vmap(lambda x, v: cr.jvp(f, (x,), (v,)))(X, Y[:, None] * X)
    expected = np.stack([cr.jvp(f, (x,), (y * x,))[1].data for x, y in zip(X, Y)])
    np.testing.assert_allclose(tangent.data, expected, rtol=1e-12)
    hess = cr.vmap(cr.hessian(lambda x: cr.sum(x**3) * x[0]))(X)
    np.testing.assert_allclose(hess.data, np.stack([cr.hessian(lambda x: cr.sum(x**3) * x[0])(x).data for x in X]))
    w = PARAMS["w"]
    outside = cr.hessian(lambda w: cr.vmap(lambda x: cr.tanh(x @ w))(X).sum())(w)
    np.testing.assert_allclose(outside.data, cr.hessian(lambda w: cr.tanh(X @ w).sum())(w).data, rtol=1e-12)
    _, t = cr.jvp(lambda w: cr.vmap(lambda x: cr.tanh(x @ w))(X), (w,), (np.ones(3),))
    np.testing.assert_allclose(t.data, (1 - np.tanh(X @ w) ** 2) * X.sum(1), rtol=1e-12)


def test_nested_vmaps():
    m = rng.standard_normal((4, 6, 3))
    w = rng.standard_normal((3, 2))
    out = cr.vmap(cr.vmap(lambda v: cr.max(v @ w)))(m)
    np.testing.assert_allclose(out.data, (m @ w).max(-1))
    outer = cr.vmap(lambda row: cr.vmap(lambda v, r: cr.sum(v * r), in_axes=(0, None))(m[0], row))(X)
    np.testing.assert_allclose(outer.data, X @ m[0].T)
    grads = cr.vmap(cr.vmap(cr.grad(lambda v: cr.sum(cr.sin(v) * v))))(m)
    np.testing.assert_allclose(grads.data, np.cos(m) * m + np.sin(m))


def test_in_axes_out_axes_and_trees():
    tree = {"a": rng.standard_normal((3, 5)), "b": [rng.standard_normal((2, 5))]}
    out = cr.vmap(lambda t: {"s": t["a"].sum() + t["b"][0].sum(), "v": t["a"] * 2}, in_axes=1, out_axes=0)(tree)
    np.testing.assert_allclose(out["s"].data, tree["a"].sum(0) + tree["b"][0].sum(0))
    np.testing.assert_allclose(out["v"].data, tree["a"].T * 2)
    shared = cr.vmap(lambda x, c: c, in_axes=(0, None))(X, np.ones(2))  # a result the same for every example
    assert shared.shape == (6, 2)


def test_mistakes_are_explained():
    with pytest.raises(cr.BatchedValueError, match="cr.where"):
        cr.vmap(lambda x: x if x.sum() > 0 else -x)(X)
    for read in (float, lambda t: t.item(), lambda t: t.numpy()):
        with pytest.raises(cr.BatchedValueError):
            cr.vmap(lambda x, read=read: read(x[0]))(X)
    with pytest.raises(cr.ShapeError, match="different lengths"):
        cr.vmap(lambda a, b: a + b)(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(cr.ShapeError, match="in_axes has 1 entries"):
        cr.vmap(lambda a, b: a + b, in_axes=(0,))(X, X)
    with pytest.raises(cr.ShapeError, match="out of range"):
        cr.vmap(lambda a: a, in_axes=2)(X)
    assert cr.vmap(lambda x: cr.tensor(x.shape[0] * 1.0))(X).tolist() == [3.0] * 6  # shapes are static: allowed


def test_custom_rules_are_batched_one_example_at_a_time():
    @cr.custom_vjp
    def clipped(x):
        return x * 2

    clipped.defvjp(lambda x: (x * 2, None), lambda residual, g: (cr.clip(g, -1.0, 1.0),))
    out = cr.vmap(clipped)(X)
    np.testing.assert_allclose(out.data, X * 2)
    grads = cr.vmap(cr.grad(lambda x: cr.sum(clipped(x) * 5)))(X)
    np.testing.assert_allclose(grads.data, np.ones_like(X))


def test_ops_module_primitives_accept_batched_data():
    batched = cr.vmap(lambda x: ops.identity(x) * 1.0)(X)
    np.testing.assert_array_equal(batched.data, X)


def test_an_index_per_example_is_one_gather():
    logits, labels = rng.standard_normal((5, 4)), np.array([1, 0, 3, 3, 2])
    x, i, j = rng.standard_normal((5, 3, 4)), np.array([0, 2, 1, 1, 0]), np.array([3, 3, 0, 1, 2])
    calls = {
        "label": (lambda z, y: -cr.log_softmax(z)[y], (logits, labels)),
        "two indices": (lambda x, i, j: x[i, j] * 2, (x, i, j)),
        "after a slice": (lambda x, j: x[:, j], (x, j)),  # (one example at a time)
        "cross entropy": (lambda z, y: F.cross_entropy(z, y), (logits, labels)),
    }
    for fn, args in calls.values():
        expected = np.stack([np.asarray(fn(*[cr.tensor(a[k]) for a in args]).data) for k in range(5)])
        np.testing.assert_allclose(cr.vmap(fn)(*args).data, expected)
        grads = cr.vmap(cr.grad(lambda first, *rest, fn=fn: cr.sum(fn(first, *rest))))(*args)
        looped = [
            cr.grad(lambda first, *rest, fn=fn: cr.sum(fn(first, *rest)))(*[a[k] for a in args]) for k in range(5)
        ]
        np.testing.assert_allclose(grads.data, np.stack([g.data for g in looped]))


def test_axes_as_trees_and_unmapped_results():
    tree = {"a": X, "b": X.T.copy()}
    out = cr.vmap(lambda t: t["a"].sum() + t["b"].sum(), in_axes=({"a": 0, "b": 1},))(tree)
    np.testing.assert_allclose(out.data, X.sum(1) * 2)
    mapped, shared = cr.vmap(lambda x, c: (x * 2, c * 3), in_axes=(0, None), out_axes=(0, None))(X, np.ones(2))
    assert mapped.shape == X.shape and shared.tolist() == [3.0, 3.0]
    with pytest.raises(cr.ShapeError, match="differs between examples"):
        cr.vmap(lambda x: x, out_axes=None)(X)
    with pytest.raises(cr.ShapeError, match="gives 1 axes for an argument with 2"):
        cr.vmap(lambda t: t["a"], in_axes=({"a": 0},))(tree)
