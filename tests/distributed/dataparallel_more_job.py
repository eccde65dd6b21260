"""Run under mpiexec: DataParallel where an outside review broke it. Two wrapped models in one backward pass with
parameters unused on some processes, a 0-d parameter, a parameter no process used, a parameter unfrozen after
wrapping, and a collective inside the model."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim


class Heads(nn.Module):
    def __init__(self, heads: int) -> None:
        self.body = nn.Linear(3, 4)
        self.heads = [nn.Linear(4, 1) for _ in range(heads)]
        self.scale = nn.Parameter(np.float64(1.5))  # 0-d

    def forward(self, x, head):
        return cr.sum(self.heads[head](cr.tanh(self.body(x)))) * self.scale


def average_of_local(make, me, n, seed):
    """Each process's own gradients (no communication), averaged over processes, computed by every process."""
    grads = []
    for r in range(n):
        model = make()
        x = np.random.default_rng([seed, r]).standard_normal((4, 3))
        model(x, r % 3).backward()
        grads.append({k: (p.grad.numpy() if p.grad is not None else None) for k, p in model.named_parameters()})
    names = grads[0].keys()
    return {
        k: None if all(g[k] is None for g in grads) else sum(g[k] if g[k] is not None else 0 for g in grads) / n
        for k in names
    }


def main() -> None:
    dist.init()
    me, n = dist.rank(), dist.world_size()

    def make(seed):
        def build():
            cr.manual_seed(seed)
            return Heads(3)

        return build

    # two wrappers in one backward pass, each with heads unused on some processes
    a, b = dist.DataParallel(make(1)(), bucket_mb=1e-5), dist.DataParallel(make(2)(), bucket_mb=1e-5)
    x = np.random.default_rng([10, me]).standard_normal((4, 3))
    (a(x, me % 3) + b(x, (me + 1) % 3)).backward()
    expected_a = average_of_local(make(1), me, n, 10)
    for name, p in a.module.named_parameters():
        want = expected_a[name]
        if want is None:
            assert p.grad is None, f"{name}: no process used it, yet it has a gradient"
        else:
            np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12, atol=1e-14, err_msg=name)
    assert np.ndim(a.module.scale.data) == 0 and a.module.scale.grad is not None

    # no process uses head 2 now: it keeps no gradient, so momentum and weight decay leave it alone
    c = dist.DataParallel(make(3)())
    opt = optim.SGD(c.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    before = c.module.heads[2].weight.numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        c(x, me % 2).backward()
        opt.step()
    np.testing.assert_array_equal(c.module.heads[2].weight.numpy(), before)

    # unfrozen after wrapping: averaged from then on
    d = dist.DataParallel(make(4)())
    d.module.body.weight.requires_grad_(False)
    d(x, 0).backward()
    assert d.module.body.weight.grad is None
    d.module.body.weight.requires_grad_(True)
    d.zero_grad()
    d(x, 0).backward()
    mine = d.module.body.weight.grad.numpy()
    np.testing.assert_allclose(dist.broadcast(mine, root=0), mine, rtol=1e-15)

    # a collective inside the model, next to the buckets
    f = dist.DataParallel(make(6)(), bucket_mb=1e-5)
    features = dist.all_gather(cr.tanh(f.module.body(x)), axis=0)
    cr.sum(f.module.heads[me % 3](features)).backward()
    dist.barrier()
    if dist.is_main():
        print(f"DataParallel review cases ok on {n} processes")


if __name__ == "__main__":
    main()
