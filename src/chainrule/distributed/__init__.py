"""Data-parallel training on MPI: ``import chainrule.distributed as dist``.

Start a job with ``mpiexec -n 4 python train.py`` (one machine) or ``mpiexec -f hosts -n 16 python train.py``
(several); a plain ``python train.py`` is a world of one. MPI comes from mpi4py and an MPI library, both from
pip: ``pip install "chainrule[mpi]"``.

- ``init()``, ``rank()``, ``world_size()``, ``is_main()``, ``barrier()``;
- differentiable collectives ``all_reduce``, ``all_gather``, ``broadcast`` (world of one: identities);
- ``DataParallel(model)``: the same parameters everywhere, gradients averaged over processes after
  ``backward()``, sent in buckets while the backward pass still runs;
- ``shard(n, seed, epoch)`` / ``DistributedSampler``: each process's share of the data;
- ``save(obj, path)``: written by the main process only, the others wait.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .collectives import all_gather, all_reduce, broadcast
from .data import DistributedSampler, shard
from .world import DistributedError, barrier, comm, init, is_main, rank, world_size


def save(obj: Any, path: str | os.PathLike) -> Path:
    """``cr.save(obj, path)`` on the main process only; every process waits until the file is complete, so a
    ``cr.load(path)`` right after works anywhere (on a file system all processes see)."""
    from ..serialization import save as save_file

    written = Path(path)
    error = None
    if is_main():
        try:
            written = save_file(obj, path)
        except Exception as caught:  # noqa: BLE001 (every process must hear of it, not only the main one)
            error = caught
    c = comm()
    failed = c.bcast(repr(error) if error is not None else None, root=0) if c is not None else None
    if error is not None:
        raise error
    if failed is not None:
        raise DistributedError(f"save: the main process could not write {path}: {failed}")
    return written


def __getattr__(name: str) -> Any:
    if name == "DataParallel":  # the engine's hooks come in with it
        from .parallel import DataParallel

        return DataParallel
    raise AttributeError(f"module 'chainrule.distributed' has no attribute {name!r}")


__all__ = [
    "DataParallel",
    "DistributedError",
    "DistributedSampler",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "comm",
    "init",
    "is_main",
    "rank",
    "save",
    "shard",
    "world_size",
]
