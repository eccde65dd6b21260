"""A tensor that needs no gradient works where NumPy code expects an ndarray, and ravel_pytree gives optimizers
that want one vector (scipy.optimize) a flat view of a tree of parameters."""

import numpy as np
import pytest

import chainrule as cr


def test_gradients_update_numpy_arrays_in_place():
    params = np.ones(3)
    before = params
    g = cr.grad(lambda p: cr.sum(p**2))(params)
    params -= 0.1 * g
    assert params is before and type(params) is np.ndarray
    np.testing.assert_allclose(params, [0.8, 0.8, 0.8])
    a = np.zeros(3)
    out = np.add(a, cr.tensor([1.0, 2.0, 3.0]), out=a)
    assert out is a and a.tolist() == [1.0, 2.0, 3.0]


def test_formatting_lists_and_plotting():
    t = cr.tensor([2.0])
    assert format(t, ".3f") == "2.000" and f"{cr.tensor(0.5):.1%}" == "50.0%"
    assert cr.tensor([[1.0, 2.0]]).ravel().tolist() == [1.0, 2.0]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    (line,) = axes.plot(cr.tensor([0.0, 1.0, 2.0]), cr.linspace(0.0, 1.0, 3))
    np.testing.assert_array_equal(line.get_ydata(), [0.0, 0.5, 1.0])
    plt.close(figure)


def test_ravel_pytree_round_trip_and_gradients():
    tree = {"w": np.arange(6.0).reshape(2, 3), "layers": [np.float32(1.5) * np.ones(2, np.float32), 3.0]}
    flat, unravel = cr.ravel_pytree(tree)
    assert flat.shape == (9,) and flat.dtype == np.float64
    back = unravel(flat)
    np.testing.assert_array_equal(back["w"].data, tree["w"])
    assert back["layers"][0].dtype == np.float32 and back["layers"][1].shape == ()

    # differentiable both ways: d/dv of a loss of unravel(v) is the raveled gradient of the loss
    def loss(p):
        return cr.sum(p["w"] ** 2) + cr.sum(p["layers"][0] * 3.0) + p["layers"][1] ** 3

    g_flat = cr.grad(lambda v: loss(unravel(v)))(flat)
    g_tree = cr.grad(loss)(tree)
    np.testing.assert_allclose(g_flat.data, cr.ravel_pytree(g_tree)[0].data)
    with pytest.raises(cr.ShapeError, match="vector of 9"):
        unravel(np.zeros(8))


def test_scipy_minimize_with_value_and_grad_over_a_dict():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    flat, unravel = cr.ravel_pytree({"w": np.zeros(3), "b": 0.0})
    value_and_grad = cr.value_and_grad(lambda p: cr.mean((x @ p["w"] + p["b"] - y) ** 2))

    def fun(v):
        value, grads = value_and_grad(unravel(v))
        return float(value), cr.ravel_pytree(grads)[0].numpy()

    result = optimize.minimize(fun, flat.numpy(), jac=True, method="L-BFGS-B")
    fitted = unravel(result.x)
    np.testing.assert_allclose(fitted["w"].data, [1.0, -2.0, 0.5], atol=1e-5)
    assert float(fitted["b"]) == pytest.approx(0.3, abs=1e-5)
