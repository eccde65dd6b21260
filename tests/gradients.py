"""The numerical reference every derivative is checked against: central finite differences in float64.

``check_grads(f, *arrays)`` compares, along random directions, the reverse-mode gradient of
``<u, f(x)>`` (u a random cotangent) with the central difference of the same quantity, then does the same one
order up: the gradient of ``<w, grad>`` (computed through ``create_graph=True``) against central differences of
``<w, grad>``. Random directions make one check cover every input element at once.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

EPS = 1e-6


def _directional(scalar_fn, arrays, directions, eps=EPS):
    plus = scalar_fn(*[a + eps * d for a, d in zip(arrays, directions)])
    minus = scalar_fn(*[a - eps * d for a, d in zip(arrays, directions)])
    return (plus - minus) / (2 * eps)


def _grads(fn, arrays, cotangent, create_graph):
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    if not out.requires_grad:
        return xs, [None] * len(xs)
    (out * cotangent).sum().backward(create_graph=create_graph)
    return xs, [x.grad for x in xs]


def _dot(tensors, arrays):
    return sum(float(np.sum(np.asarray(t.data) * a)) for t, a in zip(tensors, arrays) if t is not None)


def check_grads(fn, *arrays, order=2, seed=0, rtol=1e-5, atol=1e-7, argnums=None):
    """Assert that reverse-mode derivatives of ``fn`` (Tensors -> Tensor) match central differences.

    ``argnums`` limits the check to some inputs (the others are held fixed).
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    argnums = range(len(arrays)) if argnums is None else argnums
    out = np.asarray(fn(*[cr.tensor(a) for a in arrays]).data)
    cotangent = rng.standard_normal(out.shape)
    directions = [rng.standard_normal(a.shape) if i in argnums else np.zeros(a.shape) for i, a in enumerate(arrays)]

    def value(*xs):
        with cr.no_grad():
            return float(np.sum(np.asarray(fn(*[cr.tensor(x) for x in xs]).data) * cotangent))

    xs, grads = _grads(fn, arrays, cotangent, create_graph=order >= 2)
    numeric = _directional(value, arrays, directions)
    analytic = _dot(grads, directions)
    scale = max(1.0, abs(numeric))
    assert abs(analytic - numeric) <= atol * scale + rtol * abs(numeric), (
        f"first order: analytic {analytic!r} vs numeric {numeric!r}"
    )
    if order < 2:
        return
    # second order: the gradient of h(x) = <w, grad f(x)> through the recorded backward pass
    weights = [rng.standard_normal(a.shape) for a in arrays]
    pairs = [(g, w) for g, w in zip(grads, weights) if g is not None]
    h = sum(((g * w).sum() for g, w in pairs), cr.tensor(0.0))
    for x in xs:
        x.grad = None
    if h.requires_grad:
        h.backward()
    analytic2 = _dot([x.grad for x in xs], directions)

    def h_value(*values):
        _, gs = _grads(fn, values, cotangent, create_graph=False)
        return _dot(gs, weights)

    numeric2 = _directional(h_value, arrays, directions, eps=1e-5)
    scale2 = max(1.0, abs(numeric2))
    assert abs(analytic2 - numeric2) <= 1e-4 * scale2, f"second order: analytic {analytic2!r} vs numeric {numeric2!r}"


def check_forward(fn, *arrays, seed=0, rtol=1e-5, atol=1e-7, jacobians=True):
    """Assert that forward-mode derivatives of ``fn`` match central differences, first and second order, that
    they agree with reverse mode (<u, J v> == <Jᵀ u, v>), and that the batched Jacobians of both modes agree."""
    rng = np.random.default_rng(seed)
    arrays = tuple(np.asarray(a, dtype=np.float64) for a in arrays)
    vs = tuple(rng.standard_normal(a.shape) for a in arrays)
    out, jv = cr.jvp(fn, arrays, vs)
    numeric = _directional(lambda *xs: np.asarray(fn(*[cr.tensor(x) for x in xs]).data), arrays, vs)
    np.testing.assert_allclose(
        np.asarray(jv.data), numeric, rtol=rtol, atol=atol * max(1.0, np.abs(numeric).max(initial=0.0))
    )
    u = rng.standard_normal(out.shape)
    _, pullback = cr.vjp(fn, *arrays)
    left = float(np.sum(u * np.asarray(jv.data)))
    right = sum(float(np.sum(np.asarray(g.data) * v)) for g, v in zip(pullback(u), vs))
    assert abs(left - right) <= 1e-9 * max(1.0, abs(left)), f"<u, Jv> {left!r} vs <Jᵀu, v> {right!r}"

    # second order, forward over forward: the change of h(x) = <u, J(x) v> along w
    ws = tuple(rng.standard_normal(a.shape) for a in arrays)

    def h(*xs):
        return (cr.jvp(fn, xs, vs)[1] * u).sum()

    _, hw = cr.jvp(h, arrays, ws)
    numeric2 = _directional(lambda *xs: float(h(*[cr.tensor(x) for x in xs]).data), arrays, ws, eps=1e-5)
    assert abs(float(hw.data) - numeric2) <= 1e-4 * max(1.0, abs(numeric2)), (
        f"second order forward: analytic {float(hw.data)!r} vs numeric {numeric2!r}"
    )
    if jacobians:
        argnums = tuple(range(len(arrays)))
        forward = cr.jacobian(fn, argnums=argnums, mode="fwd")(*arrays)
        reverse = cr.jacobian(fn, argnums=argnums, mode="rev")(*arrays)
        for f_jac, r_jac in zip(forward, reverse):
            np.testing.assert_allclose(np.asarray(f_jac.data), np.asarray(r_jac.data), rtol=1e-9, atol=1e-9)


def check_function(fn, reference, *arrays, seed=0, order=2, jacobians=True):
    """The value of ``fn`` against NumPy's ``reference`` on the same arrays, then its derivatives in both modes."""
    got = fn(*[cr.tensor(a) for a in arrays])
    np.testing.assert_allclose(np.asarray(got.data), reference(*arrays), rtol=1e-12, atol=1e-12)
    assert got.shape == np.shape(reference(*arrays))
    check_grads(fn, *arrays, seed=seed, order=order)
    check_forward(fn, *arrays, seed=seed, jacobians=jacobians and sum(np.size(a) for a in arrays) <= 60)


def check_complex(fn, *arrays, seed=0, order=2, rtol=1e-5):
    """Derivatives of ``fn`` at complex inputs against central differences, JAX's convention: for the real loss
    L(z) = Re Σ u·fn(z), grad L = ∂L/∂x - i ∂L/∂y, checked along a real and an imaginary direction separately
    (so Re Σ grad·t is the change of L along t); the forward rule along complex directions; and, with ``order=2``,
    the gradient of Re Σ w·grad L the same way."""
    rng = np.random.default_rng(seed)
    arrays = tuple(np.asarray(a) for a in arrays)

    def complex_like(shape, dtype):
        values = rng.standard_normal(shape)
        return values + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else values

    out = np.asarray(fn(*[cr.tensor(a) for a in arrays]).data)
    u = complex_like(out.shape, out.dtype)

    def loss(*xs):
        return cr.sum(cr.real(fn(*xs) * u))

    def loss_value(*values):
        with cr.no_grad():
            return float(np.asarray(loss(*[cr.tensor(v) for v in values]).data))

    argnums = tuple(range(len(arrays)))
    grads = cr.grad(loss, argnums=argnums)(*arrays)
    for kind in ("real", "imaginary"):
        directions = [
            rng.standard_normal(a.shape) * (1j if kind == "imaginary" and a.dtype.kind == "c" else 1) for a in arrays
        ]
        numeric = _directional(loss_value, arrays, directions)
        analytic = sum(float(np.real(np.sum(np.asarray(g.data) * d))) for g, d in zip(grads, directions))
        assert abs(analytic - numeric) <= 1e-7 * max(1.0, abs(numeric)) + rtol * abs(numeric), (
            f"first order along the {kind} axis: analytic {analytic!r} vs numeric {numeric!r}"
        )
    tangents = tuple(complex_like(a.shape, a.dtype) for a in arrays)
    _, jv = cr.jvp(fn, arrays, tangents)
    numeric = _directional(lambda *xs: np.asarray(fn(*[cr.tensor(x) for x in xs]).data), arrays, tangents)
    np.testing.assert_allclose(np.asarray(jv.data), numeric, rtol=rtol, atol=1e-7 * max(1.0, np.abs(numeric).max()))
    if order < 2:
        return
    weights = [complex_like(a.shape, a.dtype) for a in arrays]

    def second(*xs):
        gs = cr.grad(loss, argnums=argnums)(*xs)
        return sum((cr.sum(cr.real(g * w)) for g, w in zip(gs, weights)), cr.tensor(0.0))

    grads2 = cr.grad(second, argnums=argnums)(*arrays)
    for kind in ("real", "imaginary"):
        directions = [
            rng.standard_normal(a.shape) * (1j if kind == "imaginary" and a.dtype.kind == "c" else 1) for a in arrays
        ]
        numeric = _directional(
            lambda *values: float(np.asarray(second(*[cr.tensor(v) for v in values]).data)), arrays, directions, 1e-5
        )
        analytic = sum(float(np.real(np.sum(np.asarray(g.data) * d))) for g, d in zip(grads2, directions))
        assert abs(analytic - numeric) <= 1e-4 * max(1.0, abs(numeric)), (
            f"second order along the {kind} axis: analytic {analytic!r} vs numeric {numeric!r}"
        )
