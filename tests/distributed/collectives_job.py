"""Run under mpiexec: every collective's value and derivatives against the single-process math and against
central differences of the whole distributed function (the sum of every process's loss).

Each process draws its own data from a seed that includes its rank, so every process can also compute every
other's, which is how the single-process answers are built."""

from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist

EPS = 1e-6


def data(rank, shape, seed):
    return np.random.default_rng([seed, rank]).standard_normal(shape)


def total(value):
    """The sum over processes of a number: the whole job's loss."""
    return float(dist.all_reduce(np.asarray(float(value)), "sum"))


def check(name, loss, x, seed):
    """Reverse mode, forward mode and second order of the job's loss Σ_r loss_r(x_r) along a random direction
    per process, against central differences of the same job-wide function."""
    me = dist.rank()
    direction = data(me, x.shape, seed + 1000)
    # first order, reverse: Σ_r <grad_r, d_r>
    t = cr.tensor(x, requires_grad=True)
    loss(t).backward()
    ad = total(np.sum(t.grad.numpy() * direction))
    with cr.no_grad():
        plus = total(loss(cr.tensor(x + EPS * direction)).item())
        minus = total(loss(cr.tensor(x - EPS * direction)).item())
    fd = (plus - minus) / (2 * EPS)
    assert abs(ad - fd) <= 1e-6 * max(1.0, abs(fd)), f"{name}: reverse {ad} vs differences {fd}"
    # forward mode along the same direction
    _, tangent = cr.jvp(loss, (x,), (direction,))
    forward = total(tangent.item())
    assert abs(forward - fd) <= 1e-6 * max(1.0, abs(fd)), f"{name}: forward {forward} vs differences {fd}"
    # second order: the derivative of <grad, d> along d, against differences of the first-order AD
    s = cr.tensor(x, requires_grad=True)
    out = loss(s)
    out.backward(create_graph=True)
    inner = cr.sum(s.grad * cr.tensor(direction))
    s.grad = None
    inner.backward()
    second = total(np.sum(s.grad.numpy() * direction))

    def first(point):
        q = cr.tensor(point, requires_grad=True)
        loss(q).backward()
        return total(np.sum(q.grad.numpy() * direction))

    fd2 = (first(x + EPS * direction) - first(x - EPS * direction)) / (2 * EPS)
    assert abs(second - fd2) <= 1e-5 * max(1.0, abs(fd2)), f"{name}: second order {second} vs differences {fd2}"


def main() -> None:
    dist.init()
    me, n = dist.rank(), dist.world_size()
    assert n == int(sys.argv[1]), (n, sys.argv)
    seed = 7
    x = data(me, (3, 4), seed)
    everyone = [data(r, (3, 4), seed) for r in range(n)]
    w = data(me, (3, 4), seed + 1)

    # values against the single-process math
    np.testing.assert_allclose(dist.all_reduce(x, "sum"), sum(everyone), rtol=1e-14)
    np.testing.assert_allclose(dist.all_reduce(x, "mean"), sum(everyone) / n, rtol=1e-14)
    np.testing.assert_array_equal(dist.all_reduce(x, "max"), np.max(everyone, axis=0))
    np.testing.assert_array_equal(dist.all_reduce(x, "min"), np.min(everyone, axis=0))
    np.testing.assert_array_equal(dist.broadcast(x, root=n - 1), everyone[-1])
    rows = [data(r, (r + 1, 2), seed + 2) for r in range(n)]  # sizes along the axis differ per process
    np.testing.assert_array_equal(dist.all_gather(rows[me], axis=0), np.concatenate(rows, axis=0))
    columns = [data(r, (2, r + 2), seed + 3) for r in range(n)]
    np.testing.assert_array_equal(dist.all_gather(cr.tensor(columns[me]), axis=-1).numpy(), np.concatenate(columns, 1))

    # derivatives of the whole job's loss
    check("all_reduce sum", lambda t: cr.sum(cr.sin(dist.all_reduce(t * w, "sum")) * w), x, seed)
    check("all_reduce mean", lambda t: cr.sum(dist.all_reduce(cr.tanh(t), "mean") ** 2 * w), x, seed)
    check("all_reduce max", lambda t: cr.sum(dist.all_reduce(t * t, "max") * w), x, seed)
    check("all_reduce min", lambda t: cr.sum(cr.exp(dist.all_reduce(t, "min")) * w), x, seed)
    check("all_gather", lambda t: cr.sum(cr.sin(dist.all_gather(t * w, axis=1)) ** 2), x, seed)
    check("broadcast", lambda t: cr.sum(cr.cos(dist.broadcast(t, root=n - 1)) * w), x, seed)
    check("composed", lambda t: cr.sum(dist.all_gather(dist.all_reduce(t, "mean") * t, axis=0) ** 2), x, seed)

    # ties in max split the gradient evenly
    tied = cr.tensor(np.ones(3), requires_grad=True)
    cr.sum(dist.all_reduce(tied, "max")).backward()
    np.testing.assert_allclose(tied.grad.numpy(), np.ones(3))  # n processes' gradients (n each) split n ways

    # a shape that differs between processes is a clear error on every process, not a hang
    try:
        if n == 1:
            raise dist.DistributedError("rank 0: shape (1,) (one process: nothing can differ)")
        dist.all_reduce(np.ones(me + 1), "sum")
    except dist.DistributedError as error:
        assert "rank 0: shape (1,)" in str(error) and (n == 1 or f"rank {n - 1}: shape ({n},)" in str(error))
    else:
        raise AssertionError("a shape mismatch was not caught")
    # under cr.jit a collective cannot be replayed: the call runs eagerly, with the right values
    import warnings

    @cr.jit
    def jitted(t):
        return cr.sum(dist.all_reduce(t * 2, "mean"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(3):
            np.testing.assert_allclose(jitted(cr.tensor(x + k)).item(), 2 * np.sum(sum(everyone) / n + k))

    if n > 1:  # every kind of disagreement is an error on every process, not a hang or garbage
        cases = [
            ("every process must pass the same arguments", lambda: dist.all_reduce(x, "sum" if me else "mean")),
            ("op must be one of", lambda: dist.all_reduce(x, "sum" if me else "product")),
            ("the same number of axes", lambda: dist.all_gather(np.ones((2,) * (me % 2 + 1)), axis=-1)),
            ("out of range", lambda: dist.all_gather(np.ones((2,) * (me % 2 + 1)), axis=1)),
            ("every process must pass the same arguments", lambda: dist.broadcast(x, root=me % 2)),
            ("cannot sum booleans", lambda: dist.all_reduce(x > 0, "sum")),
            ("needs real numbers", lambda: dist.all_reduce(x + 1j, "max")),
        ]
        for words, call in cases:
            try:
                call()
            except dist.DistributedError as error:
                assert words in str(error), (words, str(error))
            else:
                raise AssertionError(f"not refused: {words}")
    dist.barrier()
    if dist.is_main():
        print(f"collectives ok on {n} processes")


if __name__ == "__main__":
    main()
