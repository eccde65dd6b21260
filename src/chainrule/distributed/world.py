"""The processes of a job: who am I, how many are we, and ending the whole job when one process fails.

MPI (through mpi4py, an optional extra) starts and connects the processes: ``mpiexec -n 4 python train.py`` on one
machine, ``mpiexec -f hosts -n 16 python train.py`` across machines. A plain ``python train.py`` is a world of
one, so the same script runs with and without ``mpiexec``; mpi4py is not even imported then unless installed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

_lock = threading.Lock()
_state: dict[str, Any] = {"comm": None, "rank": 0, "size": 1, "started": False}

# Variables that MPI launchers set in every process they start: a job of several processes without mpi4py
# must not run as many independent worlds of one.
_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


class DistributedError(RuntimeError):
    """A collective that cannot work: shapes or dtypes that differ between processes, a missing MPI."""


def init() -> None:
    """Join the job (idempotent); every function here calls it, so calling it first is only for clarity."""
    with _lock:
        if _state["started"]:
            return
        try:
            from mpi4py import MPI
        except ImportError as error:
            launched = [v for v in _LAUNCHER_SIZE if os.environ.get(v, "1") not in ("", "1")]
            if launched:
                raise DistributedError(
                    f"this process was started by an MPI launcher ({launched[0]}={os.environ[launched[0]]}) but "
                    "mpi4py is not installed: pip install 'chainrule[mpi]'"
                ) from error
            _state["started"] = True  # a world of one
            return
        comm = MPI.COMM_WORLD
        _state.update(comm=comm, rank=comm.Get_rank(), size=comm.Get_size(), started=True)
        if comm.Get_size() > 1:
            _end_the_job_on_an_uncaught_exception(comm)


def _end_the_job_on_an_uncaught_exception(comm: Any) -> None:
    """An exception that ends one process would leave the others waiting in a collective forever: print it,
    then abort the whole job (mpiexec exits non-zero within seconds). A process that leaves by sys.exit() or
    ends its script early is not an error to Python; the others then wait: raise an exception instead."""
    previous = sys.excepthook

    def abort(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
        previous(kind, error, traceback)
        sys.stderr.write(f"chainrule.distributed: rank {comm.Get_rank()} failed; ending the job\n")
        sys.stderr.flush()
        time.sleep(0.5)  # let the launcher forward what was written before it tears the job down
        comm.Abort(1)

    sys.excepthook = abort
    threading.excepthook = lambda args: abort(args.exc_type, args.exc_value, args.exc_traceback)


def comm() -> Any:
    """The MPI communicator of the job (None in a world of one)."""
    init()
    return _state["comm"]


def rank() -> int:
    """This process's number, 0 to world_size() - 1."""
    init()
    return _state["rank"]


def world_size() -> int:
    """How many processes the job has (1 without mpiexec)."""
    init()
    return _state["size"]


def is_main() -> bool:
    """Whether this is rank 0, the process that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process has reached this line."""
    c = comm()
    if c is not None and _state["size"] > 1:
        c.Barrier()
