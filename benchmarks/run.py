"""Benchmarks: chainrule side by side with every installed peer, in one run, float64 (W10 float32 too).

    python benchmarks/run.py               # W1-W3, W5-W11 (W5 is slow); prints a table of medians and ratios
    python benchmarks/run.py --only W2 W3  # some workloads
    python benchmarks/run.py --write       # also rewrite benchmarks/RESULTS.md (rows of the workloads run)

Peers (install with `pip install micrograd autograd mygrad torch==2.13.0`; none is a dependency of chainrule):
micrograd, PyTorch (CPU), HIPS autograd, MyGrad, and handwritten NumPy where a workload has a hand-derived
gradient. A peer that is not installed is skipped. The machine is shared and noisy: every figure is the median
of several repeats, and ratios are taken within the same run.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import chainrule as cr

HERE = Path(__file__).resolve().parent


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def available(cases: dict) -> dict:
    """The cases whose library is installed: ``{name: (maker, module or None)}`` -> ``{name: maker}``."""
    return {name: make for name, (make, module) in cases.items() if module is None or installed(module)}


def timed(fn, gc_on: bool = False, inner: int = 1) -> float:
    """Seconds per call of ``fn``, over ``inner`` calls in a row."""
    gc.collect()
    if not gc_on:
        gc.disable()
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed / inner


WARMUP_SECONDS = 0.5
SETTLE_SECONDS = 0.3
REWARM_CALLS = 3


def measure(cases: dict, repeats: int, inner: int = 1) -> dict[str, tuple[float, list[float]]]:
    """Run the cases in turn, round after round (the garbage collector off unless a case's name says "gc on"),
    so a slow spell of this shared machine hits all of them alike. Returns each case's median time and its
    per-round times; ratios are taken round by round (see ``ratio``)."""
    fns = {name: make() for name, make in cases.items()}
    for fn in fns.values():
        # Warm up for a while, not once: the C allocator adapts its thresholds for large arrays over the first
        # calls (until then each one maps fresh pages and pays page faults), so a single call would time start-up.
        start = time.perf_counter()
        while time.perf_counter() - start < WARMUP_SECONDS:
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, gc_on="gc on" in name, inner=inner))
    return {name: (statistics.median(ts), ts) for name, ts in times.items()}


def _worker(make, gc_on: bool, inner: int, conn) -> None:
    fn = make()
    start = time.perf_counter()
    while time.perf_counter() - start < WARMUP_SECONDS:
        fn()
    conn.send("ready")
    while conn.recv():
        for _ in range(REWARM_CALLS):  # wake this process's BLAS threads and caches after the pause
            fn()
        conn.send(timed(fn, gc_on=gc_on, inner=inner))


def measure_isolated(cases: dict, repeats: int, inner: int = 1) -> dict[str, tuple[float, list[float]]]:
    """Like ``measure``, but each case lives in a process of its own and is asked for its rounds in turn: a
    library's allocations (the C allocator's state, the memory it keeps mapped) then never slow down another's,
    which matters once steps move megabytes. The makers must be functions defined at the top of this file."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    workers = {}
    for name, make in cases.items():
        here, there = context.Pipe()
        process = context.Process(target=_worker, args=(make, "gc on" in name, inner, there), daemon=True)
        process.start()
        workers[name] = (process, here)
    for _, conn in workers.values():
        conn.recv()  # warmed up
    times: dict[str, list[float]] = {name: [] for name in workers}
    try:
        for _ in range(repeats):
            for name, (_, conn) in workers.items():
                time.sleep(SETTLE_SECONDS)  # the last worker's BLAS threads spin a while after its work: let them stop
                conn.send(True)
                times[name].append(conn.recv())
    finally:
        for process, conn in workers.values():
            conn.send(False)
            process.join(timeout=10)
    return {name: (statistics.median(ts), ts) for name, ts in times.items()}


def ratio(results: dict, name: str, reference: str) -> float:
    """The median over rounds of (time of ``name``) / (time of ``reference``) in the same round."""
    return statistics.median(a / b for a, b in zip(results[name][1], results[reference][1]))


# ---------------------------------------------------------------------------------------------------------------
# W1: micrograd's demo, a 2-16-16-1 tanh MLP on scalars, MSE over 100 points, one forward + backward


def w1_problem():
    rng = random.Random(0)
    sizes = [2, 16, 16, 1]
    layers = [
        [([rng.uniform(-1, 1) for _ in range(n_in)], rng.uniform(-1, 1)) for _ in range(n_out)]
        for n_in, n_out in zip(sizes, sizes[1:])
    ]
    xs = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(100)]
    ys = [rng.choice([-1.0, 1.0]) for _ in range(100)]
    return layers, xs, ys


def w1_chainrule():
    layers, xs, ys = w1_problem()
    params = [
        [([cr.tensor(w, requires_grad=True) for w in ws], cr.tensor(b, requires_grad=True)) for ws, b in layer]
        for layer in layers
    ]

    def step():
        loss = 0.0
        for x, y in zip(xs, ys):
            h = x
            for layer in params:
                h = [cr.tanh(sum((w * v for w, v in zip(ws, h)), b)) for ws, b in layer]
            d = h[0] - y
            loss = d * d + loss
        (loss * (1 / len(xs))).backward()

    return step


def w1_inputs(call: int):
    rng = random.Random(call)
    return [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(100)], [rng.choice([-1.0, 1.0]) for _ in range(100)]


def w1_sgd_chainrule(jit: bool = False):
    """The demo's training step: loss, backward, SGD, zero the gradients; new inputs at every call."""
    layers, _, _ = w1_problem()
    params = [
        [([cr.tensor(w, requires_grad=True) for w in ws], cr.tensor(b, requires_grad=True)) for ws, b in layer]
        for layer in layers
    ]
    flat = [p for layer in params for ws, b in layer for p in (*ws, b)]

    def step(xs, ys):
        loss = 0.0
        for x, y in zip(xs, ys):
            h = [x[0], x[1]]
            for layer in params:
                h = [cr.tanh(sum((w * v for w, v in zip(ws, h)), b)) for ws, b in layer]
            d = h[0] - y
            loss = d * d + loss
        (loss * (1 / len(xs))).backward()
        for p in flat:
            p.data = p.data - 0.05 * p.grad.data
            p.grad = None

    stepper = cr.jit(step) if jit else step
    calls = iter(range(10**9))

    def run():
        xs, ys = w1_inputs(next(calls))
        stepper(cr.tensor(np.array(xs)), cr.tensor(np.array(ys)))

    return run


def w1_sgd_micrograd():
    from micrograd.engine import Value

    w1_micrograd()  # (gives Value its tanh)
    layers, _, _ = w1_problem()
    params = [[([Value(w) for w in ws], Value(b)) for ws, b in layer] for layer in layers]
    flat = [p for layer in params for ws, b in layer for p in (*ws, b)]
    calls = iter(range(10**9))

    def run():
        xs, ys = w1_inputs(next(calls))
        w1_micrograd_loss(Value, params, xs, ys).backward()
        for p in flat:
            p.data -= 0.05 * p.grad
            p.grad = 0.0

    return run


def w1_micrograd():
    from micrograd.engine import Value

    def tanh(self):  # micrograd 0.1.0 has no tanh: one more node type in its own closure style
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    Value.tanh = tanh
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))  # its recursive topological sort needs it
    layers, xs, ys = w1_problem()
    params = [[([Value(w) for w in ws], Value(b)) for ws, b in layer] for layer in layers]

    def step():
        w1_micrograd_loss(Value, params, xs, ys).backward()

    return step


def w1_micrograd_loss(Value, params, xs, ys):  # noqa: N803 (micrograd's class)
    loss = Value(0.0)
    for x, y in zip(xs, ys):
        h = [Value(v) for v in x]
        for layer in params:
            h = [sum((w * v for w, v in zip(ws, h)), b).tanh() for ws, b in layer]
        d = h[0] - y
        loss = loss + d * d
    return loss * (1 / len(xs))


def w1_torch():
    import torch

    layers, xs, ys = w1_problem()
    params = [
        [
            (
                [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in ws],
                torch.tensor(b, dtype=torch.float64, requires_grad=True),
            )
            for ws, b in layer
        ]
        for layer in layers
    ]

    def step():
        loss = torch.tensor(0.0, dtype=torch.float64)
        for x, y in zip(xs, ys):
            h = [torch.tensor(v, dtype=torch.float64) for v in x]
            for layer in params:
                h = [torch.tanh(sum((w * v for w, v in zip(ws, h)), b)) for ws, b in layer]
            d = h[0] - y
            loss = loss + d * d
        (loss * (1 / len(xs))).backward()

    return step


# ---------------------------------------------------------------------------------------------------------------
# W2: a chain of 200 elementwise operations on float64[16], then sum; forward + backward. Time per operation.

W2_STEPS = 200


def w2_chain(x, tanh, exp, sin):
    for i in range(W2_STEPS):
        k = i % 5
        if k == 0:
            x = x * 1.01
        elif k == 1:
            x = x + 0.1
        elif k == 2:
            x = tanh(x)
        elif k == 3:
            x = exp(-x)
        else:
            x = sin(x)
    return x


def w2_data():
    return np.random.default_rng(0).standard_normal(16)


def w2_chainrule():
    x = cr.tensor(w2_data(), requires_grad=True)

    def step():
        w2_chain(x, cr.tanh, cr.exp, cr.sin).sum().backward()
        g = x.grad
        x.grad = None
        return g  # (a jitted step keeps only what it hands out or leaves behind)

    return step


def w2_torch():
    import torch

    x = torch.tensor(w2_data(), requires_grad=True)

    def step():
        w2_chain(x, torch.tanh, torch.exp, torch.sin).sum().backward()
        x.grad = None

    return step


def w2_autograd():
    import autograd
    import autograd.numpy as anp

    g = autograd.grad(lambda x: anp.sum(w2_chain(x, anp.tanh, anp.exp, anp.sin)))
    x = w2_data()
    return lambda: g(x)


def w2_mygrad():
    import mygrad as mg

    x = mg.tensor(w2_data())

    def step():
        mg.sum(w2_chain(x, mg.tanh, mg.exp, mg.sin)).backward()

    return step


def w2_numpy_forward():
    x = w2_data()
    return lambda: np.sum(w2_chain(x, np.tanh, np.exp, np.sin))


# ---------------------------------------------------------------------------------------------------------------
# W3: a 784-256-256-10 ReLU MLP, batch 128, softmax cross-entropy, forward + backward + SGD update, float64


def w3_problem(dtype=np.float64):
    rng = np.random.default_rng(0)
    sizes = [784, 256, 256, 10]
    weights = [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    biases = [np.zeros(b, dtype=dtype) for b in sizes[1:]]
    x = rng.standard_normal((128, 784)).astype(dtype)
    labels = rng.integers(0, 10, 128)
    return weights, biases, x, labels


LR = 0.01


def w3_numpy(dtype=np.float64):
    weights, biases, x, labels = w3_problem(dtype)
    (w1, w2, w3), (b1, b2, b3) = weights, biases
    n = len(labels)
    rows = np.arange(n)

    def step():
        z1 = x @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ w3 + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        _loss = -log_p[rows, labels].mean()
        d_logits = np.exp(log_p)
        d_logits[rows, labels] -= 1
        d_logits /= n
        d_w3, d_b3 = h2.T @ d_logits, d_logits.sum(axis=0)
        d_z2 = (d_logits @ w3.T) * (z2 > 0)
        d_w2, d_b2 = h1.T @ d_z2, d_z2.sum(axis=0)
        d_z1 = (d_z2 @ w2.T) * (z1 > 0)
        d_w1, d_b1 = x.T @ d_z1, d_z1.sum(axis=0)
        for p, d in ((w1, d_w1), (w2, d_w2), (w3, d_w3), (b1, d_b1), (b2, d_b2), (b3, d_b3)):
            p -= LR * d

    return step


def w3_chainrule(dtype=np.float64):
    weights, biases, x, labels = w3_problem(dtype)
    params = [cr.tensor(p, requires_grad=True) for p in weights + biases]
    w1, w2, w3, b1, b2, b3 = params
    rows = np.arange(len(labels))

    def step():
        h1 = cr.relu(x @ w1 + b1)
        h2 = cr.relu(h1 @ w2 + b2)
        log_p = cr.log_softmax(h2 @ w3 + b3, axis=1)
        loss = -log_p[rows, labels].mean()
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None

    return step


def w3_torch():
    import torch

    weights, biases, x, labels = w3_problem()
    params = [torch.tensor(p, requires_grad=True) for p in weights + biases]
    w1, w2, w3, b1, b2, b3 = params
    x, labels = torch.tensor(x), torch.tensor(labels)

    def step():
        h1 = torch.relu(x @ w1 + b1)
        h2 = torch.relu(h1 @ w2 + b2)
        loss = torch.nn.functional.cross_entropy(h2 @ w3 + b3, labels)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None

    return step


def w3_autograd():
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    weights, biases, x, labels = w3_problem()
    params = weights + biases
    rows = np.arange(len(labels))

    def loss(ps):
        w1, w2, w3, b1, b2, b3 = ps
        h1 = anp.maximum(x @ w1 + b1, 0)
        h2 = anp.maximum(h1 @ w2 + b2, 0)
        logits = h2 @ w3 + b3
        log_p = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.mean(log_p[rows, labels])

    g = autograd.grad(loss)

    def step():
        for p, d in zip(params, g(params)):
            p -= LR * d

    return step


def w3_mygrad():
    import mygrad as mg
    from mygrad.nnet.losses import softmax_crossentropy

    weights, biases, x, labels = w3_problem()
    params = [mg.tensor(p) for p in weights + biases]
    w1, w2, w3, b1, b2, b3 = params

    def step():
        h1 = mg.nnet.relu(mg.matmul(x, w1) + b1)
        h2 = mg.nnet.relu(mg.matmul(h1, w2) + b2)
        loss = softmax_crossentropy(mg.matmul(h2, w3) + b3, labels)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
            p.null_grad()

    return step


# ---------------------------------------------------------------------------------------------------------------
# W10: the same MLP written as a user of each library would, with its layers, loss and optimizer
# (chainrule.nn + chainrule.optim, torch.nn + torch.optim), in float64 and float32; the weights are W3's.


def w10_chainrule(dtype=np.float64):
    from chainrule import nn, optim

    weights, biases, x, labels = w3_problem(dtype)
    model = nn.Sequential(
        nn.Linear(784, 256, dtype=dtype),
        nn.ReLU(),
        nn.Linear(256, 256, dtype=dtype),
        nn.ReLU(),
        nn.Linear(256, 10, dtype=dtype),
    )
    model.load_state_dict(
        {
            f"{i}.{kind}": v
            for i, (w, b) in zip((0, 2, 4), zip(weights, biases))
            for kind, v in (("weight", w.T), ("bias", b))
        }
    )
    opt = optim.SGD(model.parameters(), lr=LR)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()

    return step


def w10_torch(dtype=np.float64):
    import torch

    weights, biases, x, labels = w3_problem(dtype)
    layers = [
        torch.nn.Linear(a, b, dtype=getattr(torch, np.dtype(dtype).name))
        for a, b in ((784, 256), (256, 256), (256, 10))
    ]
    with torch.no_grad():
        for layer, w, b in zip(layers, weights, biases):
            layer.weight.copy_(torch.tensor(w.T))
            layer.bias.copy_(torch.tensor(b))
    model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, labels = torch.tensor(x), torch.tensor(labels)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()

    return step


# ---------------------------------------------------------------------------------------------------------------
# W5: x -> x*1.0001 + 0.0001 a million times on a 0-d tensor, then backward; time and peak memory, each library
# in a process of its own so their peaks do not mix.

W5_DEPTH = 1_000_000


def w5_child(library: str) -> dict:
    import resource

    def rss_mb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if library == "torch":
        import torch

        x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    else:
        x = cr.tensor(1.0, requires_grad=True)
    baseline = rss_mb()
    gc.disable()
    start = time.perf_counter()
    y = x
    for _ in range(W5_DEPTH):
        y = y * 1.0001 + 0.0001
    y.backward()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_mb": peak - baseline, "grad": float(x.grad)}


def w5_run(library: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--w5-child", library], capture_output=True, text=True, check=True, timeout=3600
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------------
# W6: memory over 50 W3 steps (tracemalloc sees NumPy's buffers): the peak above the starting point, and the
# growth from step 1 to step 50, which must be zero.


def w6_measure(make_step) -> dict:
    step = make_step()
    step()
    gc.collect()
    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    after = []
    for _ in range(50):
        step()
        after.append(tracemalloc.get_traced_memory()[0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"peak_growth_mb": (peak - start) / 2**20, "drift_mb": (after[-1] - after[0]) / 2**20}


# ---------------------------------------------------------------------------------------------------------------
# W7: the Hessian of f(x) = sum(log(1 + exp(A @ x))) + 0.5 |x|^2, A 200x100. W8: the Jacobian of a 100 -> 100
# function in both modes. W9: a jvp against the plain function it differentiates.


def w7_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((200, 100)), rng.standard_normal(100) * 0.1


def w7_chainrule():
    a, x = w7_data()
    hessian = cr.hessian(lambda v: cr.sum(cr.log(1 + cr.exp(a @ v))) + 0.5 * cr.sum(v * v))
    return lambda: hessian(x)


def w7_chainrule_jit():
    a, x = w7_data()
    hessian = cr.jit(cr.hessian(lambda v: cr.sum(cr.log(1 + cr.exp(a @ v))) + 0.5 * cr.sum(v * v)))
    return lambda: hessian(x)


def w7_torch():
    import torch

    a, x = (torch.tensor(v) for v in w7_data())
    hessian = torch.func.hessian(lambda v: torch.log(1 + torch.exp(a @ v)).sum() + 0.5 * (v * v).sum())
    return lambda: hessian(x)


def w7_jax():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a, x = (jnp.asarray(v) for v in w7_data())
    hessian = jax.hessian(lambda v: jnp.sum(jnp.log(1 + jnp.exp(a @ v))) + 0.5 * jnp.sum(v * v))
    return lambda: hessian(x).block_until_ready()


def w7_autograd():
    import autograd
    import autograd.numpy as anp

    a, x = w7_data()
    hessian = autograd.hessian(lambda v: anp.sum(anp.log(1 + anp.exp(anp.dot(a, v)))) + 0.5 * anp.sum(v * v))
    return lambda: hessian(x)


def w8_data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((100, 100)) / 10, rng.standard_normal(100)


def w8_chainrule(mode):
    b, x = w8_data()
    jacobian = cr.jacobian(lambda v: cr.tanh(b @ v) * v, mode=mode)
    return lambda: jacobian(x)


def w8_torch(mode):
    import torch

    b, x = (torch.tensor(v) for v in w8_data())
    transform = torch.func.jacrev if mode == "rev" else torch.func.jacfwd
    jacobian = transform(lambda v: torch.tanh(b @ v) * v)
    return lambda: jacobian(x)


def w9_cases():
    a, x = w7_data()
    v = np.ones_like(x)

    def f(t):
        return cr.sum(cr.log(1 + cr.exp(a @ t))) + 0.5 * cr.sum(t * t)

    def plain():
        with cr.no_grad():
            f(cr.tensor(x))

    return {"plain function": lambda: plain, "jvp": lambda: lambda: cr.jvp(f, (x,), (v,))}


# ---------------------------------------------------------------------------------------------------------------
# Running and reporting


# W12: per-example gradients of a 784-256-10 MLP over a batch of 128 (differentially private SGD, influence
# functions): vmap of grad against torch.func, JAX (jit) and a Python loop of grad over the examples.


def w12_data():
    rng = np.random.default_rng(12)
    params = {
        "w1": rng.standard_normal((784, 256)) * 0.05,
        "b1": np.zeros(256),
        "w2": rng.standard_normal((256, 10)) * 0.05,
        "b2": np.zeros(10),
    }
    x = rng.standard_normal((128, 784))
    y = np.eye(10)[rng.integers(0, 10, 128)]  # one-hot labels
    return params, x, y


def w12_loss(lib, logsumexp):
    def loss(p, x, y):
        logits = lib.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return logsumexp(logits) - (logits * y).sum()

    return loss


def w12_chainrule():
    params, x, y = w12_data()
    per_example = cr.vmap(cr.grad(w12_loss(cr, cr.logsumexp)), in_axes=(None, 0, 0))
    return lambda: per_example(params, x, y)


def w12_loop():
    params, x, y = w12_data()
    grad = cr.grad(w12_loss(cr, cr.logsumexp))
    return lambda: [grad(params, x[i], y[i]) for i in range(len(x))]


def w12_torch():
    import torch

    params, x, y = w12_data()
    params = {k: torch.tensor(v) for k, v in params.items()}
    x, y = torch.tensor(x), torch.tensor(y)
    per_example = torch.func.vmap(
        torch.func.grad(w12_loss(torch, lambda v: torch.logsumexp(v, 0))), in_dims=(None, 0, 0)
    )
    return lambda: per_example(params, x, y)


def w12_jax():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    params, x, y = w12_data()
    params = {k: jnp.asarray(v) for k, v in params.items()}
    x, y = jnp.asarray(x), jnp.asarray(y)
    per_example = jax.jit(jax.vmap(jax.grad(w12_loss(jnp, jax.nn.logsumexp)), in_axes=(None, 0, 0)))
    return lambda: jax.block_until_ready(per_example(params, x, y))


# W13: forward and backward of solve, cholesky, eigh and svd on 200 x 200 matrices, against torch.linalg and JAX.


def w13_data():
    rng = np.random.default_rng(13)
    a = rng.standard_normal((200, 200))
    return a @ a.T / 200 + np.eye(200), rng.standard_normal((200, 200)), rng.standard_normal((200, 5))


def w13_losses(lib, linalg):
    def solve(a, c, b):
        return (linalg.solve(a, b) * c[:, :5]).sum()

    def cholesky(a, c, b):
        return (linalg.cholesky(a) * c).sum()

    def eigh(a, c, b):
        w, v = linalg.eigh(a)
        return (w * c[0]).sum() + (v * v * c).sum()

    def svd(a, c, b):
        u, s, vh = linalg.svd(a, full_matrices=False)
        return (s * c[0]).sum() + (u * u * c).sum() + (vh * vh * c).sum()

    return {"solve": solve, "cholesky": cholesky, "eigh": eigh, "svd": svd}


def w13_chainrule(op):
    a, c, b = w13_data()
    grad = cr.grad(w13_losses(cr, cr.linalg)[op])
    return lambda: grad(a, c, b)


def w13_torch(op):
    import torch

    a, c, b = (torch.tensor(v) for v in w13_data())
    loss = w13_losses(torch, torch.linalg)[op]

    def step():
        x = a.clone().requires_grad_(True)
        loss(x, c, b).backward()
        return x.grad

    return step


def w13_jax(op):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a, c, b = (jnp.asarray(v) for v in w13_data())
    grad = jax.jit(jax.grad(w13_losses(jnp, jnp.linalg)[op]))
    return lambda: jax.block_until_ready(grad(a, c, b))


# ---------------------------------------------------------------------------------------------------------------
# cr.jit: the same steps traced once and replayed (the make functions above, wrapped)

FIRST_CALLS: dict[str, float] = {}  # workload -> seconds of the first jitted call (trace + optimise + generate)


def jitted(make, workload: str, calls: int = 2):
    """A make function for the jitted step: built, traced on its first call(s), then replayed when timed."""
    from functools import partial

    return partial(_make_jitted, make, workload, calls)


def _make_jitted(make, workload: str, calls: int):
    step = cr.jit(make())
    start = time.perf_counter()
    step()
    FIRST_CALLS.setdefault(workload, time.perf_counter() - start)
    for _ in range(calls - 1):
        step()
    return step


def first_call(make) -> float:
    """Seconds of the first call of a jitted step: trace, optimise and generate its program."""
    step = cr.jit(make())
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def w2_jax():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(w2_chain(x, jnp.tanh, jnp.exp, jnp.sin))))
    x = jnp.asarray(w2_data())
    return lambda: grad(x).block_until_ready()


def memory_against_numpy(add, workload: str, name: str, make) -> dict:
    """Peak memory growth over 50 steps of ``make``'s step beside handwritten NumPy's; returns NumPy's figures."""
    base = w6_measure(w3_numpy)
    add(workload, "handwritten NumPy", base["peak_growth_mb"], "MB", "1.00x", f"drift {base['drift_mb']:+.2f} MB")
    mine = w6_measure(make)
    add(
        workload,
        name,
        mine["peak_growth_mb"],
        "MB",
        f"{mine['peak_growth_mb'] / base['peak_growth_mb']:.2f}x",
        f"drift {mine['drift_mb']:+.2f} MB; target <= 1.3x, no drift",
    )
    return base


def run(only: set[str], repeats: int) -> list[tuple[str, str, str, str, str]]:
    rows = []

    def add(workload, library, value, unit, ratio, note=""):
        rows.append((workload, library, f"{value:.3g} {unit}", ratio, note))
        print(f"{workload:3} {library:26} {value:10.4g} {unit:6} {ratio:>8} {note}", flush=True)

    if "W1" in only:
        cases = {"chainrule": w1_chainrule, "chainrule (gc on)": w1_chainrule}
        if installed("micrograd"):
            cases = {"micrograd": w1_micrograd, "micrograd (gc on)": w1_micrograd, **cases}
        if installed("torch"):
            cases["PyTorch"] = w1_torch
        res = measure(cases, repeats)
        base = "micrograd" if "micrograd" in res else None
        for name, (median, _) in res.items():
            if name == "chainrule (gc on)":
                add("W1", name, median * 1e3, "ms", f"{ratio(res, name, 'chainrule'):.2f}x own", "target <= 1.2x own")
            elif name == "micrograd (gc on)":
                add("W1", name, median * 1e3, "ms", f"{ratio(res, name, 'micrograd'):.2f}x own")
            else:
                note = {"micrograd": "reference", "chainrule": "target <= 1.0x micrograd"}.get(name, "")
                add("W1", name, median * 1e3, "ms", f"{ratio(res, name, base):.2f}x" if base else "", note)
    if "W1" in only and installed("micrograd"):
        from functools import partial

        cases = {
            "micrograd, demo step": w1_sgd_micrograd,
            "chainrule, demo step": w1_sgd_chainrule,
            "chainrule jit, demo step": jitted(partial(w1_sgd_chainrule, True), "W1 step"),
        }
        res = measure(cases, repeats)
        for name, (median, _) in res.items():
            note = {
                "micrograd, demo step": "reference: loss, backward, SGD; new inputs each call",
                "chainrule jit, demo step": f"target <= 0.30x micrograd; first call {FIRST_CALLS['W1 step']:.1f} s",
            }.get(name, "")
            add("W1", name, median * 1e3, "ms", f"{ratio(res, name, 'micrograd, demo step'):.2f}x", note)
    if "W2" in only:
        cases = {
            "PyTorch": (w2_torch, "torch"),
            "chainrule": (w2_chainrule, None),
            "chainrule jit": (jitted(w2_chainrule, "W2"), None),
            "jax.jit(grad)": (w2_jax, "jax"),
            "HIPS autograd": (w2_autograd, "autograd"),
            "MyGrad": (w2_mygrad, "mygrad"),
            "NumPy forward alone": (w2_numpy_forward, None),
        }
        res = measure(
            available(cases),
            repeats * 2,
            inner=10,
        )
        base = "PyTorch" if "PyTorch" in res else None
        floor = "NumPy forward alone"
        for name, (median, _) in res.items():
            note = {"chainrule": "target <= 0.6x PyTorch", "PyTorch": "reference"}.get(name, "")
            if name in ("chainrule jit", "jax.jit(grad)"):
                note = f"{ratio(res, name, floor):.2f}x NumPy forward alone"
                if name == "chainrule jit":
                    note += f" (target <= 2.0x); first call {FIRST_CALLS.get('W2', 0) * 1e3:.0f} ms"
            add("W2", name, median / W2_STEPS * 1e6, "us/op", f"{ratio(res, name, base):.2f}x" if base else "", note)
    if "W3" in only:
        cases = {
            "handwritten NumPy": (w3_numpy, None),
            "chainrule": (w3_chainrule, None),
            "chainrule jit": (jitted(w3_chainrule, "W3"), None),
            "PyTorch": (w3_torch, "torch"),
            "MyGrad": (w3_mygrad, "mygrad"),
            "HIPS autograd": (w3_autograd, "autograd"),
        }
        res = measure_isolated(
            available(cases),
            repeats * 2,
            inner=10,
        )
        for name, (median, _) in res.items():
            note = {"chainrule": "target <= 1.10x NumPy", "handwritten NumPy": "reference"}.get(name, "")
            if name == "chainrule jit":
                note = f"target <= 1.00x NumPy; first call {first_call(w3_chainrule) * 1e3:.0f} ms"
            add("W3", name, median * 1e3, "ms", f"{ratio(res, name, 'handwritten NumPy'):.2f}x", note)
        eager, traced = w6_measure(w3_chainrule), w6_measure(jitted(w3_chainrule, "W3"))
        for name, m in (("chainrule peak memory", eager), ("chainrule jit peak memory", traced)):
            add("W3", name, m["peak_growth_mb"], "MB", f"{m['peak_growth_mb'] / eager['peak_growth_mb']:.2f}x",
                "jitted against eager; target <= 1.00x" if "jit" in name else "reference")  # fmt: skip
    if "W10" in only:
        from functools import partial

        cases = {
            "handwritten NumPy float64": (partial(w3_numpy, np.float64), None),
            "chainrule float64": (partial(w10_chainrule, np.float64), None),
            "chainrule jit float64": (jitted(partial(w10_chainrule, np.float64), "W10", calls=3), None),
            "PyTorch float64": (partial(w10_torch, np.float64), "torch"),
            "HIPS autograd float64": (w3_autograd, "autograd"),
            "handwritten NumPy float32": (partial(w3_numpy, np.float32), None),
            "chainrule float32": (partial(w10_chainrule, np.float32), None),
            "chainrule jit float32": (jitted(partial(w10_chainrule, np.float32), "W10", calls=3), None),
            "PyTorch float32": (partial(w10_torch, np.float32), "torch"),
        }
        res = measure_isolated(
            available(cases),
            repeats * 2,
            inner=10,
        )
        for name, (median, _) in res.items():
            bits = name.split()[-1]
            base = f"handwritten NumPy {bits}"
            note = "reference" if name == base else "target <= 1.10x NumPy" if name.startswith("chainrule") else ""
            if name.startswith("chainrule jit"):
                first = first_call(partial(w10_chainrule, np.float64 if bits == "float64" else np.float32))
                note = f"target <= 1.05x NumPy; first call {first * 1e3:.0f} ms"
            add("W10", name, median * 1e3, "ms", f"{ratio(res, name, base):.2f}x", note)
    if "W11" in only:
        memory_against_numpy(add, "W11", "chainrule (nn + optim)", w10_chainrule)
    if "W7" in only:
        cases = {
            "chainrule": (w7_chainrule, None),
            "chainrule jit": (jitted(w7_chainrule_jit, "W7"), None),
            "torch.func.hessian": (w7_torch, "torch"),
            "jax.hessian (eager)": (w7_jax, "jax"),
            "autograd.hessian": (w7_autograd, "autograd"),
        }
        res = measure(
            available(cases),
            repeats * 2,
            inner=3,
        )
        base = "torch.func.hessian" if "torch.func.hessian" in res else None
        for name, (median, _) in res.items():
            note = {
                "chainrule": "target <= 1.0x torch.func.hessian",
                "chainrule jit": "target <= 0.25x torch.func.hessian; "
                f"first call {FIRST_CALLS.get('W7', 0) * 1e3:.0f} ms",
                base: "reference",
            }.get(name, "")
            add("W7", name, median * 1e3, "ms", f"{ratio(res, name, base):.2f}x" if base else "", note)
    if "W8" in only:
        for mode, peer in (("rev", "jacrev"), ("fwd", "jacfwd")):
            cases = {f"chainrule ({mode})": lambda mode=mode: w8_chainrule(mode)}
            if installed("torch"):
                cases[f"torch.func.{peer}"] = lambda mode=mode: w8_torch(mode)
            res = measure(cases, repeats * 2, inner=3)
            base = f"torch.func.{peer}" if installed("torch") else None
            for name, (median, _) in res.items():
                note = f"target <= 1.0x torch.func.{peer}" if name.startswith("chainrule") else "reference"
                add("W8", name, median * 1e3, "ms", f"{ratio(res, name, base):.2f}x" if base else "", note)
    if "W12" in only:
        cases = {
            "torch.func.vmap(grad)": (w12_torch, "torch"),
            "chainrule vmap(grad)": (w12_chainrule, None),
            "jax.jit(vmap(grad))": (w12_jax, "jax"),
            "chainrule loop of grad": (w12_loop, None),
        }
        res = measure(available(cases), repeats)
        base = "torch.func.vmap(grad)" if "torch.func.vmap(grad)" in res else None
        for name, (median, _) in res.items():
            note = {"chainrule vmap(grad)": "target <= 1.0x torch.func", base: "reference"}.get(name, "")
            add("W12", name, median * 1e3, "ms", f"{ratio(res, name, base):.2f}x" if base else "", note)
    if "W13" in only:
        for op in ("solve", "cholesky", "eigh", "svd"):
            cases = {
                f"torch.linalg.{op}": (lambda op=op: w13_torch(op), "torch"),
                f"chainrule linalg.{op}": (lambda op=op: w13_chainrule(op), None),
                f"jax.jit {op}": (lambda op=op: w13_jax(op), "jax"),
            }
            res = measure(available(cases), repeats, inner=3)
            base = f"torch.linalg.{op}" if f"torch.linalg.{op}" in res else None
            for name, (median, _) in res.items():
                note = "target <= 1.2x PyTorch" if name.startswith("chainrule") else "reference" if name == base else ""
                add("W13", name, median * 1e3, "ms", f"{ratio(res, name, base):.2f}x" if base else "", note)
    if "W9" in only:
        res = measure(w9_cases(), repeats * 2, inner=10)
        add("W9", "plain function", res["plain function"][0] * 1e6, "us", "1.00x", "reference")
        add("W9", "jvp", res["jvp"][0] * 1e6, "us", f"{ratio(res, 'jvp', 'plain function'):.2f}x", "target <= 3x")
    if "W6" in only:
        base = memory_against_numpy(add, "W6", "chainrule", w3_chainrule)
        for name, make, module in [("MyGrad", w3_mygrad, "mygrad"), ("HIPS autograd", w3_autograd, "autograd")]:
            if installed(module):
                m = w6_measure(make)
                add(
                    "W6",
                    name,
                    m["peak_growth_mb"],
                    "MB",
                    f"{m['peak_growth_mb'] / base['peak_growth_mb']:.2f}x",
                    f"drift {m['drift_mb']:+.2f} MB",
                )
    if "W5" in only:
        mine = w5_run("chainrule")
        base = w5_run("torch") if installed("torch") else None
        if base:
            add("W5", "PyTorch", base["seconds"], "s", "1.00x", f"peak {base['peak_mb']:.0f} MB")
        add(
            "W5",
            "chainrule",
            mine["seconds"],
            "s",
            f"{mine['seconds'] / base['seconds']:.2f}x" if base else "",
            f"peak {mine['peak_mb']:.0f} MB; target <= PyTorch, < 1 GB",
        )
        if installed("micrograd"):
            add("W5", "micrograd (depth 1,000)", 0, "s", "", w5_micrograd_depth_1000())
    if "W14" in only:
        w14(add)
    if "W15" in only:
        w15(add, repeats)
    if "W16" in only:
        w16(add)
    return rows


def w16(add) -> None:
    """The gradient of an ODE solution: a 10-dimensional system dy/dt = tanh(W y) at 1,000 time points, d/dW of the
    sum of the last state, by chainrule's adjoint odeint and JAX's (jax.experimental.ode; JAX compiles its solver
    inside, the call itself is not jitted). Each timed 3 times, alternating."""
    if not installed("scipy"):
        print("W16 skipped: pip install 'chainrule[scipy]'")
        return
    from chainrule.scipy.integrate import odeint

    rng = np.random.default_rng(0)
    w, y0, t = rng.standard_normal((10, 10)) * 0.3, rng.standard_normal(10), np.linspace(0, 1, 1000)

    def chainrule_case():
        grad = cr.grad(lambda m: cr.sum(odeint(lambda y, time, m: cr.tanh(m @ y), y0, t, m)[-1]))
        return lambda: grad(w)

    def jax_case():
        import jax
        import jax.numpy as jnp
        from jax.experimental.ode import odeint as jax_odeint

        jax.config.update("jax_enable_x64", True)
        grad = jax.grad(lambda m: jnp.sum(jax_odeint(lambda y, time, m: jnp.tanh(m @ y), jnp.asarray(y0), t, m)[-1]))
        return lambda: grad(jnp.asarray(w)).block_until_ready()

    def autograd_case():
        import autograd
        import autograd.numpy as anp
        from autograd.builtins import tuple as traced_tuple
        from autograd.scipy.integrate import odeint as autograd_odeint

        def last(m):  # its args go in a tuple autograd can trace, as its ODE-net example passes them
            return anp.sum(autograd_odeint(lambda y, time, m: anp.tanh(m @ y), y0, t, traced_tuple((m,)))[-1])

        grad = autograd.grad(last)
        return lambda: grad(w)

    cases = {"chainrule odeint (adjoint)": chainrule_case}
    if installed("jax"):
        cases["JAX odeint"] = jax_case
    if installed("autograd"):
        cases["autograd odeint"] = autograd_case
    steps = {name: make() for name, make in cases.items()}
    for step in steps.values():
        step()  # JAX compiles here
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(3):
        for name, step in steps.items():
            times[name].append(timed(step))
    if installed("jax"):  # JAX's solver run eagerly, as written: slow, so timed once
        import jax

        with jax.disable_jit():
            times["JAX odeint, jit disabled (once)"] = [timed(steps["JAX odeint"])]
    base = statistics.median(times["JAX odeint"]) if "JAX odeint" in times else None
    notes = {
        "chainrule odeint (adjoint)": "target <= JAX eager",
        "JAX odeint": "its solver compiled inside the call, first call excluded",
        "autograd odeint": "SciPy's solver, autograd's adjoint",
    }
    for name, values in times.items():
        median = statistics.median(values)
        add("W16", name, median, "s", f"{median / base:.2f}x" if base else "", notes.get(name, ""))


def w15(add, repeats: int) -> None:
    """FFT of 2^16 complex numbers and its backward pass, against NumPy's forward plus inverse FFT (the work a
    hand-written gradient does), and against PyTorch and JAX doing the same."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal(2**16) + 1j * rng.standard_normal(2**16)
    u = rng.standard_normal(2**16) + 1j * rng.standard_normal(2**16)

    def numpy_case():
        def step():
            np.fft.fft(z)
            np.fft.ifft(u)

        return step

    def chainrule_case():
        t = cr.tensor(z, requires_grad=True)

        def step():
            t.grad = None
            cr.fft.fft(t).backward(gradient=u)  # the transform and its backward pass, nothing else

        return step

    def torch_case():
        import torch

        t = torch.tensor(z, requires_grad=True)
        w = torch.tensor(u)

        def step():
            t.grad = None
            torch.fft.fft(t).backward(w)

        return step

    def jax_case():
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        w = jnp.asarray(u)
        a = jnp.asarray(z)

        def step():
            _, pullback = jax.vjp(jnp.fft.fft, a)
            pullback(w)[0].block_until_ready()

        return step

    def autograd_case():
        import autograd
        import autograd.numpy as anp

        def step():
            autograd.make_vjp(anp.fft.fft)(z)[0](u)

        return step

    cases = {"NumPy fft + ifft": numpy_case, "chainrule": chainrule_case}
    if installed("torch"):
        cases["PyTorch"] = torch_case
    if installed("jax"):
        cases["JAX (eager vjp)"] = jax_case
    if installed("autograd"):
        cases["autograd"] = autograd_case
    res = measure(cases, repeats * 2, inner=10)
    for name, (median, _) in res.items():
        note = "target <= 1.2x NumPy's forward + inverse" if name == "chainrule" else ""
        add("W15", name, median * 1e3, "ms", f"{ratio(res, name, 'NumPy fft + ifft'):.2f}x", note)


def w14_job(processes: int, *args: str) -> object:
    """One run of benchmarks/distributed.py under mpiexec, one BLAS thread per process; rank 0's JSON."""
    mpiexec = Path(sys.executable).parent / "mpiexec"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [str(mpiexec if mpiexec.exists() else "mpiexec"), "-n", str(processes), sys.executable]
    result = subprocess.run(
        [*command, str(HERE / "distributed.py"), *args], capture_output=True, text=True, env=env, timeout=1800
    )
    if result.returncode != 0:
        raise RuntimeError(f"W14 {args}: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def w14(add) -> None:
    """Data-parallel training on MPI, 2 processes on this machine (see benchmarks/distributed.py)."""
    if not (installed("mpi4py") and installed("sklearn")):
        print("W14 skipped: pip install 'chainrule[mpi,examples]'")
        return
    for case in w14_job(2, "overhead"):
        alone, with_it, bare = case["backward alone s"], case["with DataParallel s"], case["bare s"]
        size = f"{case['parameters'] / 1e6:.0f}M float32"
        add("W14", f"bare Allreduce, {size}", bare * 1e3, "ms", "1.00x", "reference: 2 processes")
        add(
            "W14",
            f"DataParallel's averaging, {size}",
            (with_it - alone) * 1e3,
            "ms",
            f"{(with_it - alone) / bare:.2f}x",
            f"backward with it minus without (without: {alone * 1e3:.3g} ms); target <= 1.10x",
        )
    overlap = w14_job(2, "overlap", "128")
    extra = overlap["step with s"] - overlap["step without s"]
    hidden = 1 - extra / overlap["allreduce s"] if overlap["allreduce s"] > 0 else float("nan")
    add("W14", "wide conv net step, no averaging", overlap["step without s"] * 1e3, "ms", "1.00x", "batch 64 each")
    add(
        "W14",
        "wide conv net step, DataParallel",
        overlap["step with s"] * 1e3,
        "ms",
        f"{overlap['step with s'] / overlap['step without s']:.2f}x",
        f"Allreduce of its {overlap['bytes'] / 1e6:.0f} MB alone {overlap['allreduce s'] * 1e3:.3g} ms; "
        f"hidden {max(hidden, 0):.0%}",
    )
    ones, twos = [], []
    for _ in range(3):  # alternated: the machine's slow spells hit both
        ones.append(w14_job(1, "scaling", "512")["samples per s"])
        twos.append(w14_job(2, "scaling", "512")["samples per s"])
    one, two = statistics.median(ones), statistics.median(twos)
    add("W14", "digits conv net, 1 process", one, "samples/s", "1.00x", "global batch 512")
    add(
        "W14",
        "digits conv net, 2 processes",
        two,
        "samples/s",
        f"{two / one:.2f}x",
        "target >= 1.7x",
    )


def w5_micrograd_depth_1000() -> str:
    from micrograd.engine import Value

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        y = x = Value(1.0)
        for _ in range(1000):
            y = y * 1.0001 + 0.0001
        y.backward()
        return f"completes (grad {x.grad:.4f})"
    except RecursionError:
        return "fails: RecursionError"
    finally:
        sys.setrecursionlimit(limit)


def versions() -> str:
    parts = [f"Python {platform.python_version()}", f"NumPy {np.__version__}", f"chainrule {cr.__version__}"]
    for module in ("torch", "jax", "autograd", "mygrad", "micrograd"):
        if installed(module):
            try:
                from importlib.metadata import version

                parts.append(f"{module} {version(module)}")
            except Exception:
                parts.append(module)
    return ", ".join(parts)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def write_results(rows, repeats):
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run.py --write`. Medians of repeated runs; ratios are within this one run.",
        "",
        f"- Machine: {machine()}",
        f"- Versions: {versions()}",
        f"- Date: {time.strftime('%Y-%m-%d')}; rounds per figure: W1 {repeats}, "
        f"W2, W3 and W10 {2 * repeats} of 10 calls",
        "- Each library is warmed up for half a second first. W3 and W10 run each library in a process of its own"
        " (their steps move megabytes, and in one shared process one library's allocations change the C"
        " allocator's state for the next); their rounds still alternate, so a slow spell hits all alike.",
        "",
        "| workload | library | median | ratio | note |",
        "|---|---|---|---|---|",
    ]
    ran = {row[0] for row in rows}
    kept, dates = _previous_rows(ran)
    dates.update({workload: time.strftime("%Y-%m-%d") for workload in ran})
    lines.insert(8, "- Measured on: " + ", ".join(f"{w} {d}" for w, d in sorted(dates.items(), key=_order)))
    lines += [f"| {' | '.join(row)} |" for row in sorted(kept + list(rows), key=lambda r: _order((r[0], "")))]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


def _order(item: tuple) -> int:
    return int(item[0][1:])


def _previous_rows(replaced: set[str]) -> tuple[list[tuple], dict[str, str]]:
    """The rows of RESULTS.md for workloads not run now (kept as they were), and when each was measured."""
    path = HERE / "RESULTS.md"
    if not path.exists():
        return [], {}
    text = path.read_text()
    dates: dict[str, str] = {}
    date = ""
    for line in text.splitlines():
        if line.startswith("- Measured on: "):
            for part in line.removeprefix("- Measured on: ").split(", "):
                workload, _, date = part.partition(" ")
                dates[workload] = date
        elif line.startswith("- Date: "):
            date = line.removeprefix("- Date: ").split(";")[0]
    rows = []
    for line in text.splitlines():
        if line.startswith("| W"):
            cells = tuple(cell.strip() for cell in line.strip("|").split(" | "))
            if cells[0] not in replaced:
                rows.append(cells)
                dates.setdefault(cells[0], date)
    return rows, {w: d for w, d in dates.items() if w not in replaced}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        nargs="*",
        default=["W1", "W2", "W3", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "W13", "W14", "W15", "W16"],
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/RESULTS.md")
    parser.add_argument("--w5-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.w5_child:
        print(json.dumps(w5_child(args.w5_child)))
        return
    print(f"{machine()}\n{versions()}\n")
    rows = run(set(args.only), args.repeats)
    if args.write:
        write_results(rows, args.repeats)


if __name__ == "__main__":
    main()
