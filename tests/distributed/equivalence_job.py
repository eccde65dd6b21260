"""Run under mpiexec: 20 steps of the digits MLP with DataParallel, each process on 1/N of a global batch, give
the parameters one process gets training on the whole global batch.

The single-process run is computed by every process itself, so every process checks. Both sides average the
same per-example gradients, in different orders of summation: the difference is rounding, bounded by a few
ulps of the gradient per step, times the 20 steps (1e-12 absolute on parameters of size ~0.1 leaves a factor of
~1000 over float64's 1.1e-16)."""

from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim

STEPS, BATCH = 20, 96


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.reshape(len(data.images), -1) / 16.0
    return (x - x.mean()) / x.std(), data.target


def model():
    cr.manual_seed(0)  # every process builds the same model; rank 0's values are broadcast anyway
    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))


def train(net, x, y, batches, optimizer):
    for xb, yb in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(x[xb]), y[yb])
        loss.backward()
        optimizer.step()


def main() -> None:
    dist.init()
    me, n = dist.rank(), dist.world_size()
    x, y = digits()
    steps = [dist.shard(len(x), seed=3, epoch=s, world_size=1, rank=0)[:BATCH] for s in range(STEPS)]
    # one process, the whole global batch
    alone = model()
    train(alone, x, y, [(b, b) for b in steps], optim.SGD(alone.parameters(), lr=0.5, momentum=0.9))
    # n processes, each its share of every global batch
    shared = dist.DataParallel(model(), bucket_mb=float(sys.argv[2]) if len(sys.argv) > 2 else 25.0)
    mine = [b[me * BATCH // n : (me + 1) * BATCH // n] for b in steps]
    train(shared, x, y, [(b, b) for b in mine], optim.SGD(shared.parameters(), lr=0.5, momentum=0.9))
    worst = 0.0
    for a, b in zip(alone.parameters(), shared.parameters()):
        worst = max(worst, float(np.max(np.abs(a.numpy() - b.numpy()))))
    assert worst <= 1e-12, f"rank {me}: parameters differ from one process's by {worst:.3g}"
    # and every process holds the same parameters
    flat = np.concatenate([p.numpy().ravel() for p in shared.parameters()])
    np.testing.assert_array_equal(dist.broadcast(flat, root=0), flat)
    if dist.is_main():
        print(f"equivalent on {n} processes: largest difference {worst:.2g}")


if __name__ == "__main__":
    main()
