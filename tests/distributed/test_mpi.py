"""The distributed jobs, each started with ``mpiexec -n N`` in a subprocess with a timeout (2 and 4 processes;
4 oversubscribe a 2-core machine, which MPICH allows), and the world of one without mpiexec."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")

needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or not __import__("importlib").util.find_spec("mpi4py"),
    reason="no MPI: pip install 'chainrule[mpi]' (mpi4py and mpich)",
)


def mpiexec(n: int, script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    command = [MPIEXEC, "-n", str(n), sys.executable, str(HERE / script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_collectives_values_and_derivatives(n):
    result = mpiexec(n, "collectives_job.py", str(n))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"collectives ok on {n} processes" in result.stdout


def test_collectives_in_a_world_of_one():
    dist.init()
    assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
    x = cr.tensor(np.arange(3.0), requires_grad=True)
    y = cr.sum(dist.all_reduce(x, "mean") ** 2) + cr.sum(dist.all_gather(x) * dist.broadcast(x))
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.arange(3.0))
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(x, "product")
    dist.barrier()


def test_shards_are_disjoint_cover_the_data_and_change_with_the_epoch():
    for length in (0, 1, 7, 100, 101):
        for size in (1, 2, 3, 4):
            shares = [dist.shard(length, seed=5, epoch=2, rank=r, world_size=size) for r in range(size)]
            assert len({len(s) for s in shares}) == 1  # every process takes as many steps
            joined = np.concatenate(shares)
            assert set(joined.tolist()) == set(range(length))
            if length % size == 0:
                assert len(joined) == length  # disjoint
            dropped = [dist.shard(length, 5, 2, drop_last=True, rank=r, world_size=size) for r in range(size)]
            assert len(set(np.concatenate(dropped).tolist())) == len(np.concatenate(dropped)) == length - length % size
    first = dist.shard(100, seed=5, epoch=0, rank=1, world_size=4)
    assert not np.array_equal(first, dist.shard(100, seed=5, epoch=1, rank=1, world_size=4))
    np.testing.assert_array_equal(first, dist.shard(100, seed=5, epoch=0, rank=1, world_size=4))


@needs_mpi
@pytest.mark.parametrize("n, bucket_mb", [(2, 25.0), (4, 0.01)])
def test_data_parallel_equals_one_process_on_the_whole_batch(n, bucket_mb):
    result = mpiexec(n, "equivalence_job.py", str(n), str(bucket_mb))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"equivalent on {n} processes" in result.stdout


@needs_mpi
def test_an_exception_on_one_process_ends_the_job_within_seconds(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(
        "import time\nimport chainrule.distributed as dist\ndist.init()\n"
        "if dist.rank() == 1:\n    raise RuntimeError('rank 1 gives up')\n"
        "dist.barrier()  # the others wait here forever unless the job is ended\ntime.sleep(60)\n"
    )
    start = time.monotonic()
    command = [MPIEXEC, "-n", "2", sys.executable, str(script)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    took = time.monotonic() - start
    assert result.returncode != 0 and took < 30, (result.returncode, took, result.stderr)
    assert "rank 1 gives up" in result.stderr and "ending the job" in result.stderr, result.stderr


@needs_mpi
def test_the_digits_example_trains_the_same_on_two_processes_as_on_one(tmp_path):
    pytest.importorskip("sklearn")
    example = ROOT / "examples" / "train_digits.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    arguments = ["--model", "cnn", "--epochs", "3", "--quiet", "--seed", "2"]
    one = subprocess.run(
        [sys.executable, str(example), *arguments, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    two = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, str(example), *arguments, "--out", str(tmp_path / "two"), "--distributed"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    accuracy = [line for line in one.stdout.splitlines() if line.startswith("cnn: held-out accuracy")]
    assert accuracy and two.stdout.count("cnn: held-out accuracy") == 1  # printed by the main process only
    assert accuracy[0].split(" after")[0] in two.stdout
    a, b = cr.load(tmp_path / "one" / "cnn.crz"), cr.load(tmp_path / "two" / "cnn.crz")
    for name in a:
        np.testing.assert_allclose(a[name].numpy(), b[name].numpy(), rtol=0, atol=1e-10)


@needs_mpi
def test_the_readme_example_runs_on_two_processes(tmp_path):
    pytest.importorskip("sklearn")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\nimport numpy as np\nfrom sklearn.datasets import load_digits")
    code = text[start + len("```python\n") : text.index("```", start + 10)]
    (tmp_path / "train.py").write_text(code)
    command = [MPIEXEC, "-n", "2", sys.executable, str(tmp_path / "train.py")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("2 processes, training accuracy")  # printed once
    assert float(line[0].split()[-1]) > 0.9 and (tmp_path / "digits.crz").exists()


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_data_parallel_corners(n):
    result = mpiexec(n, "dataparallel_job.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"DataParallel corners ok on {n} processes" in result.stdout


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_data_parallel_where_a_review_broke_it(n):
    result = mpiexec(n, "dataparallel_more_job.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"DataParallel review cases ok on {n} processes" in result.stdout


def test_shard_wants_a_whole_number_of_examples():
    for bad in (10.0, -1, True, "10"):
        with pytest.raises(ValueError, match="non-negative integer"):
            dist.shard(bad)
    assert len(dist.shard(np.int64(10))) == 10


def test_a_collective_inside_a_jitted_function_in_a_world_of_one():
    @cr.jit
    def f(x):
        return cr.sum(dist.all_reduce(x * 2, "mean"))

    assert f(cr.tensor([1.0, 2.0])).item() == 6.0
    assert f(cr.tensor([1.0, 3.0])).item() == 8.0
