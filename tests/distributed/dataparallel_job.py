"""Run under mpiexec: DataParallel's corners. Parameters a process did not use count as zeros, frozen ones are left
alone, no_sync accumulates locally and the next backward averages the sum, and different models are refused on
every process."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        self.shared = nn.Linear(3, 4)
        self.left = nn.Linear(4, 1)
        self.right = nn.Linear(4, 1)
        self.frozen = nn.Parameter(np.ones(2), requires_grad=False)

    def forward(self, x, head):
        h = cr.tanh(self.shared(x))
        return cr.sum((self.left if head == "left" else self.right)(h)) + cr.sum(self.frozen)


def local_gradients(model, x, head):
    """What one process's backward alone gives, with a copy of the model (no communication)."""
    copy = TwoHeads()
    copy.load_state_dict(model.state_dict())
    copy.zero_grad()
    copy(x, head).backward()
    return {name: (p.grad.numpy() if p.grad is not None else None) for name, p in copy.named_parameters()}


def main() -> None:
    dist.init()
    me, n = dist.rank(), dist.world_size()
    cr.manual_seed(me)  # different weights on every process: DataParallel must make them rank 0's
    model = TwoHeads()
    wrapped = dist.DataParallel(model, bucket_mb=1e-4)  # a bucket per parameter or two
    first = {k: dist.broadcast(p.numpy(), root=0) for k, p in model.named_parameters()}
    for k, p in model.named_parameters():
        np.testing.assert_array_equal(p.numpy(), first[k])

    # process 0 uses the left head only, the others the right head only
    x = np.random.default_rng(me).standard_normal((5, 3))
    head = "left" if me == 0 else "right"
    everyone = [
        local_gradients(model, np.random.default_rng(r).standard_normal((5, 3)), "left" if r == 0 else "right")
        for r in range(n)
    ]
    wrapped.zero_grad()
    wrapped(x, head).backward()
    for name, p in model.named_parameters():
        if name == "frozen":
            assert p.grad is None, "a frozen parameter got a gradient"
            continue
        expected = sum(g[name] if g[name] is not None else 0 for g in everyone) / n
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-13, atol=1e-15)

    # no_sync: two local backward passes, then one that averages the sum of all three
    wrapped.zero_grad()
    with wrapped.no_sync():
        wrapped(x, head).backward()
        wrapped(x * 2, head).backward()
    local = {k: p.grad.numpy().copy() for k, p in model.named_parameters() if p.grad is not None}
    wrapped(x * 3, head).backward()
    for name, p in model.named_parameters():
        if name == "frozen":
            continue
        mine = local.get(name, 0) + (local_gradients(model, x * 3, head)[name] if name in local else 0)
        if name not in local:
            mine = np.zeros_like(p.numpy())
        np.testing.assert_allclose(p.grad.numpy(), dist.all_reduce(np.asarray(mine), "mean"), rtol=1e-12)

    # a different model on one process is refused on every process
    try:
        dist.DataParallel(nn.Linear(3, 4 + (me == n - 1)))
    except dist.DistributedError as error:
        assert "every process must wrap the same model" in str(error)
    else:
        raise AssertionError("different models were not refused")
    dist.barrier()
    if dist.is_main():
        print(f"DataParallel corners ok on {n} processes")


if __name__ == "__main__":
    main()
