"""W14, data-parallel training on MPI: run by ``benchmarks/run.py --only W14`` as

    mpiexec -n 2 python benchmarks/distributed.py overhead|overlap|scaling

(and ``scaling`` once more with ``-n 1``). Rank 0 prints one JSON object. One BLAS thread per process.

- overhead: a model of 1M or 25M float32 parameters whose gradients cost nothing to compute (the loss is linear in
  every parameter), so a backward pass with DataParallel is almost only the averaging; compared with one bare
  mpi4py Allreduce of the same bytes (the floor any implementation pays).
- overlap: the digits conv net's training step with DataParallel, against the same step with the averaging
  switched off and against the bare Allreduce of its gradient bytes: the fraction of the communication hidden
  behind the backward pass is 1 - (step with - step without) / allreduce alone.
- scaling: samples per second of that training, with a global batch split over the processes.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim

REPEATS = 15


def median_time(fn, repeats: int = REPEATS, inner: int = 1) -> float:
    """The median over ``repeats`` of the slowest process's time for ``inner`` calls (every process waits for
    the others at the start of each repeat, so a repeat is as long as the job's)."""
    comm = dist.comm()
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        elapsed = (time.perf_counter() - start) / inner
        times.append(comm.allreduce(elapsed, op=__import__("mpi4py").MPI.MAX) if comm is not None else elapsed)
    return statistics.median(times)


class Linear(nn.Module):
    """Parameters of given sizes, used linearly: their gradients are constants."""

    def __init__(self, sizes: list[int]) -> None:
        self.weights = [nn.Parameter(np.zeros(n, dtype=np.float32)) for n in sizes]

    def forward(self, c):
        return sum(cr.sum(w * c[: w.shape[0]]) for w in self.weights)


def overhead(total: int) -> dict:
    from mpi4py import MPI

    sizes = [total // 10] * 10
    model = Linear(sizes)
    c = np.ones(max(sizes), dtype=np.float32)
    wrapped = dist.DataParallel(model)

    def plain():  # the same backward pass, the averaging switched off
        with wrapped.no_sync():
            wrapped.zero_grad()
            wrapped(c).backward()

    def parallel():
        wrapped.zero_grad()
        wrapped(c).backward()

    flat = np.ones(total, dtype=np.float32)
    out = np.empty_like(flat)

    def bare():
        dist.comm().Allreduce(flat, out, op=MPI.SUM)

    results: dict[str, list[float]] = {"plain": [], "parallel": [], "bare": []}
    for _ in range(2):  # warm-up: buffers allocated, pages touched
        plain(), parallel(), bare()
    for _ in range(15):  # the three alternate call by call, so a slow spell hits all alike
        for name, fn in (("plain", plain), ("parallel", parallel), ("bare", bare)):
            results[name].append(median_time(fn, 1))
    plain_t, parallel_t, bare_t = (statistics.median(v) for v in results.values())
    return {"parameters": total, "backward alone s": plain_t, "with DataParallel s": parallel_t, "bare s": bare_t}


def digits(batch: int):
    from sklearn.datasets import load_digits

    data = load_digits()
    x = ((data.images - data.images.mean()) / data.images.std())[:, None]
    return x[:batch].astype(np.float64), data.target[:batch]


def conv_net(width: int = 16, hidden: int = 0):
    """The digits conv net of the examples; ``width`` channels, and a hidden layer of ``hidden`` units before
    the last (0: none) to give it gradients of several megabytes."""
    cr.manual_seed(0)
    head = [nn.Linear(8 * width, hidden), nn.ReLU(), nn.Linear(hidden, 10)] if hidden else [nn.Linear(8 * width, 10)]
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        *head,
    )


def training_step(model, opt, x, y, global_batch):
    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y, reduction="sum") * (dist.world_size() / global_batch)
        loss.backward()
        opt.step()

    return step


def overlap(global_batch: int) -> dict:
    from mpi4py import MPI

    x, y = digits(global_batch)
    me, n = dist.rank(), dist.world_size()
    x, y = x[me::n], y[me::n]
    wrapped = dist.DataParallel(conv_net(64, 4096), bucket_mb=1.0)  # 4.4M parameters, 35 MB of gradients
    opt = optim.SGD(wrapped.parameters(), lr=0.01)
    step = training_step(wrapped, opt, x, y, global_batch)
    grads = np.ones(sum(p.data.size for p in wrapped.parameters()), dtype=np.float64)
    out = np.empty_like(grads)

    def without():
        with wrapped.no_sync():
            step()

    times = {"with": [], "without": [], "bare": []}
    for _ in range(3):
        times["with"].append(median_time(step, 7, inner=5))
        times["without"].append(median_time(without, 7, inner=5))
        times["bare"].append(median_time(lambda: dist.comm().Allreduce(grads, out, op=MPI.SUM), 7, inner=5))
    with_t, without_t, bare_t = (statistics.median(v) for v in times.values())
    return {"step with s": with_t, "step without s": without_t, "allreduce s": bare_t, "bytes": grads.nbytes}


def scaling(global_batch: int) -> dict:
    x, y = digits(global_batch)
    me, n = dist.rank(), dist.world_size()
    x, y = x[me::n], y[me::n]
    model = conv_net()
    model = dist.DataParallel(model) if n > 1 else model
    opt = optim.SGD(model.parameters(), lr=0.01)
    step = training_step(model, opt, x, y, global_batch)
    seconds = median_time(step, 9, inner=5)
    return {"processes": n, "global batch": global_batch, "samples per s": global_batch / seconds}


def main() -> None:
    dist.init()
    what = sys.argv[1]
    if what == "overhead":
        result = [overhead(1_000_000), overhead(25_000_000)]
    elif what == "overlap":
        result = overlap(int(sys.argv[2]) if len(sys.argv) > 2 else 256)
    else:
        result = scaling(int(sys.argv[2]) if len(sys.argv) > 2 else 256)
    if dist.is_main():
        print(json.dumps(result))


if __name__ == "__main__":
    main()
