"""``DataParallel``: the same model on every process, each on its share of the data, gradients averaged.

When wrapped, the model's parameters are sent from rank 0 to all, so every process starts equal; since every
process then applies the same averaged gradient with the same optimizer, they stay equal.

The averaging overlaps the backward pass. Parameters are grouped into buckets of about ``bucket_mb`` megabytes,
in the reverse of their order in the model (the order backward() finishes them in). A hook the engine calls
as soon as a parameter's gradient is final marks it ready; when a bucket's parameters are all ready, their
gradients are packed into one buffer and a nonblocking all-reduce (``Iallreduce``) starts, while backward goes on
with earlier layers. When backward() ends, the remaining buckets are sent (a parameter that got no gradient in
this step contributes zeros), every request is waited for, and the averages are written into ``p.grad``.

Each step moves the gradient's bytes through a ring all-reduce: 2 (N - 1) / N times the gradient's size per
process and step, whatever N, so adding machines adds bandwidth needs only through the latency of more steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .. import engine
from ..backend import array_module
from ..tensor import Tensor
from . import world
from .world import DistributedError


class _Bucket:
    __slots__ = ("params", "ready", "buffer", "result", "grads", "request")

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.ready: set[int] = set()
        self.buffer = self.result = self.grads = self.request = None


class DataParallel:
    """Wrap ``model`` (a chainrule ``nn.Module``): calling the wrapper calls the model; after
    ``loss.backward()`` every parameter's ``.grad`` is the average over processes. Parameters with
    ``requires_grad=False`` are left alone; ``no_sync()`` accumulates gradients locally (gradient accumulation)
    and the first backward after it averages everything accumulated. The averaged gradients are plain values:
    ``backward(create_graph=True)`` through a DataParallel model gives gradients that cannot be differentiated
    again. Every process must run its backward pass: one that skips a step, or fails before its first gradient
    is final, leaves the others waiting. A gradient that was None becomes a view of the wrapper's own buffer,
    reused at the next averaging (as PyTorch's ``gradient_as_bucket_view``): new memory costs more than the
    transfer on some machines. Copy a ``.grad`` you want to keep past the next backward."""

    def __init__(self, model: Any, bucket_mb: float = 25.0, check: bool = True) -> None:
        world.init()
        if bucket_mb <= 0:
            raise ValueError(f"DataParallel: bucket_mb must be positive, got {bucket_mb}")
        self.module = model
        self.bucket_bytes = int(bucket_mb * 2**20)
        self.size = world.world_size()
        # a communicator of its own: its buckets never interleave with another wrapper's or a model's collectives
        self.comm = world.comm().Dup() if self.size > 1 else None
        self._sync = True
        named = list(model.named_parameters())
        if check:
            self._check_same_model(named)
        self._broadcast_state(model)
        # every parameter has a place in a bucket (one frozen now may be trained later); the trained ones tell
        # the engine to call back as soon as their gradient is final
        self.params = [p for _, p in named]
        self.buckets = self._make_buckets(self.params)
        self._bucket_of = {id(p): b for b in self.buckets for p in b.params}
        self._pending = False
        self._next = 0  # the next bucket to send
        hooked = [p for p in self.params if p.requires_grad] if self.size > 1 else []
        self._handles = [p.register_post_accumulate_grad_hook(self._ready) for p in hooked]
        self._hooked = {id(p) for p in hooked}

    # -- the model, unchanged ------------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def parameters(self) -> Iterator[Tensor]:
        return self.module.parameters()

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        return self.module.named_parameters()

    def state_dict(self) -> dict[str, Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> Any:
        return self.module.load_state_dict(state, strict)

    def train(self, mode: bool = True) -> DataParallel:
        self.module.train(mode)
        return self

    def eval(self) -> DataParallel:
        return self.train(False)

    def zero_grad(self) -> None:
        self.module.zero_grad()

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside keep their gradients local (accumulating in ``.grad``); the first backward after
        the block averages the accumulated gradients, as PyTorch's ``no_sync``."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    # -- set-up ----------------------------------------------------------------------------------------------------
    def _check_same_model(self, named: list[tuple[str, Tensor]]) -> None:
        """Every process must wrap the same architecture: compare names, shapes, dtypes and which parameters are
        trained, with one small collective, and fail on every process with the first difference."""
        mine = [(n, tuple(p.shape), str(p.dtype), bool(p.requires_grad)) for n, p in named]
        c = world.comm()
        if c is None or self.size == 1:
            return
        every = c.allgather(mine)
        for r, theirs in enumerate(every):
            if theirs != every[0]:
                difference = next(
                    (f"{a} on rank 0 but {b} on rank {r}" for a, b in zip(every[0], theirs) if a != b),
                    f"{len(every[0])} parameters on rank 0 but {len(theirs)} on rank {r}",
                )
                raise DistributedError(
                    f"DataParallel: every process must wrap the same model; the parameters differ: {difference}"
                )

    def _broadcast_state(self, model: Any) -> None:
        """Rank 0's values into every process's parameters, in place where the memory allows (optimizers made
        earlier keep working; a 0-d parameter's number is replaced)."""
        if self.comm is None:
            return
        for _, p in model.named_parameters():
            data = p.data
            writable = getattr(data, "flags", None) is not None and data.flags.writeable and data.ndim > 0
            buffer = data if writable and data.flags.c_contiguous else array_module(data).array(data, order="C")
            self.comm.Bcast(buffer, root=0)
            if not writable:
                p.data = buffer[()] if buffer.ndim == 0 else buffer
            elif buffer is not data:
                data[...] = buffer

    def _make_buckets(self, params: list[Tensor]) -> list[_Bucket]:
        """Reverse model order (the order gradients become final), a new bucket when the size is reached or the
        dtype changes (a bucket is one flat buffer)."""
        buckets: list[_Bucket] = []
        current: list[Tensor] = []
        size = 0
        for p in reversed(params):
            if current and (size + p.data.nbytes > self.bucket_bytes or p.dtype != current[0].dtype):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += p.data.nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    # -- during backward -------------------------------------------------------------------------------------------
    def _ready(self, p: Tensor) -> None:
        """The engine's hook: ``p.grad`` is final for this backward pass."""
        if not self._sync:
            return
        if not self._pending:
            self._pending = True
            engine.queue_callback(self._finish)  # also run when backward() fails, so the processes stay paired
            self._follow_freezing()
        self._bucket_of[id(p)].ready.add(id(p))
        # Collectives must start in the same order on every process: buckets go strictly in their order, each as
        # soon as it and every bucket before it are complete.
        while self._next < len(self.buckets) and self._complete(self.buckets[self._next]):
            self._send(self.buckets[self._next])
            self._next += 1
        self._progress()

    def _complete(self, bucket: _Bucket) -> bool:
        """Every trained parameter of the bucket has its gradient (frozen ones send zeros, or nothing)."""
        return all(id(p) in bucket.ready or not p.requires_grad for p in bucket.params)

    def _follow_freezing(self) -> None:
        """A parameter unfrozen after wrapping is hooked now: its gradient comes when the pass ends, and its
        bucket waits for it."""
        for p in self.params:
            if p.requires_grad and id(p) not in self._hooked:
                self._handles.append(p.register_post_accumulate_grad_hook(self._ready))
                self._hooked.add(id(p))

    def _progress(self) -> None:
        """MPI moves data of a nonblocking collective only inside MPI calls: test the ones in flight while
        backward runs, so they advance behind it."""
        from mpi4py import MPI

        flying = [b.request for b in self.buckets[: self._next] if b.request is not None]
        if flying:
            MPI.Request.Testall(flying)

    def _send(self, bucket: _Bucket) -> None:
        """Pack the bucket's gradients, then one flag per parameter saying whether it has one, into the bucket's
        buffer and start their all-reduce. The buffers are allocated once and reused every step: MPI moves
        memory it has seen before much faster (fresh pages cost ten times the transfer for a few megabytes)."""
        from mpi4py import MPI

        if bucket.buffer is None:
            first = bucket.params[0].data
            xp = array_module(first)
            total = sum(int(p.data.size) for p in bucket.params) + len(bucket.params)
            bucket.buffer = xp.zeros(total, dtype=first.dtype)
            bucket.result = xp.zeros(total, dtype=first.dtype)
            bucket.grads = xp.zeros(total, dtype=first.dtype)
        offset = 0
        for p in bucket.params:
            n = int(p.data.size)
            if p.grad is None:
                bucket.buffer[offset : offset + n] = 0
            else:
                bucket.buffer[offset : offset + n] = p.grad.data.reshape(-1)
            offset += n
        for k, p in enumerate(bucket.params):
            bucket.buffer[offset + k] = 0 if p.grad is None else 1
        bucket.request = self.comm.Iallreduce(bucket.buffer, bucket.result, op=MPI.SUM)

    def _finish(self) -> None:
        """After backward: send what is left (zeros for parameters that got no gradient), wait, write averages.
        A parameter no process gave a gradient keeps ``.grad`` None, as with one process (so an optimizer
        leaves it alone); a frozen one is not touched."""
        from mpi4py import MPI

        self._pending = False
        for bucket in self.buckets[self._next :]:
            self._send(bucket)
        self._next = 0
        MPI.Request.Waitall([b.request for b in self.buckets])
        for bucket in self.buckets:
            xp = array_module(bucket.result)
            xp.divide(bucket.result, self.size, out=bucket.grads)  # one pass, into memory used every step
            flags = bucket.result[len(bucket.result) - len(bucket.params) :]
            offset = 0
            for p, flag in zip(bucket.params, flags):
                n = int(p.data.size)
                average = bucket.grads[offset : offset + n].reshape(p.data.shape)
                offset += n
                if not p.requires_grad or (flag == 0 and p.grad is None):
                    continue
                grad = p.grad
                if grad is None or grad._rg or not getattr(grad.data, "flags", None) or grad.data.ndim == 0:
                    p.grad = Tensor._from_op(average[()] if average.ndim == 0 else average, None)
                else:
                    grad.data[...] = average
            bucket.ready.clear()
            bucket.request = None


__all__ = ["DataParallel"]
