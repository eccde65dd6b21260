"""HIPS autograd's own test files, run against chainrule through the shim in ``shim/`` (which maps autograd's
names to chainrule's functions and nothing else), and a summary written to ``RESULTS.md``.

    python acceptance/autograd/run.py                  # fetch autograd's source release with pip, run, summarise
    python acceptance/autograd/run.py --source DIR     # an unpacked autograd source tree instead

Needs pytest and network access to the package index for the first form (nothing is fetched at chainrule's run
time; this is a developer's check, like the benchmarks). The FFT and SciPy test files (issue 15) and those of
autograd's internals (its tracer, vector spaces, graph bookkeeping) are not run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = "1.9.1"
NOT_RUN = {
    "test_fft.py": "FFT (issue 15)",
    "test_scipy.py": "SciPy (issue 15)",
    "test_vspaces.py": "autograd's internals (vspace)",
    "test_tests.py": "autograd's own test helpers",
    "test_performance.py": "timing of autograd's tracer",
}


# why each remaining failure fails (by test name)
REASONS = {
    "test_const_graph": "autograd's trace-and-replay (`const_graph`) is chainrule's `cr.jit`, issue 12, not built yet",
    "test_custom_where_dtypes": "autograd's `np.where` returns Python numbers for Python numbers; chainrule returns "
    "tensors (as NumPy returns 0-d arrays)",
    "test_wrapped_name_and_docs": "checks the wording of autograd's own docstrings",
    "test_assignment_raises_error": "autograd refuses `A[1] = b` on a traced array; chainrule records and "
    "differentiates in-place assignment (a documented feature)",
}


def _reason(failure: str) -> str:
    name = failure.split("::")[-1].split(" ")[0].split("[")[0]
    return next((why for key, why in REASONS.items() if name.startswith(key)), "not explained yet")


def fetch(workdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         f"autograd=={VERSION}", "-d", str(workdir)],
        check=True,
    )  # fmt: skip
    archive = next(workdir.glob("autograd-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return next(p for p in workdir.iterdir() if p.is_dir() and p.name.startswith("autograd-"))


def run_file(tests: Path, name: str) -> tuple[int, int, list[str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE / "shim"), str(tests)]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--tb=no", "-rf",
         "--rootdir", str(tests), str(tests / name)],
        capture_output=True, text=True, env=env, cwd=tests, timeout=1800,
    )  # fmt: skip
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", result.stdout))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", result.stdout))
    failures = [line[len("FAILED ") :] for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    if not passed and not failed:
        failures = [result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]]
        failed = 1
    return passed, failed, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="an unpacked autograd source tree")
    parser.add_argument("--only", nargs="*", help="test files to run (default: all but those listed as not run)")
    parser.add_argument("--write", action="store_true", help=f"rewrite {HERE / 'RESULTS.md'}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or fetch(Path(tmp))
        tests = Path(tmp) / "tests"
        shutil.copytree(source / "tests", tests, dirs_exist_ok=True)
        names = args.only or sorted(p.name for p in tests.glob("test_*.py") if p.name not in NOT_RUN)
        rows, total_passed, total_failed = [], 0, 0
        for name in names:
            passed, failed, failures = run_file(tests, name)
            total_passed += passed
            total_failed += failed
            rows.append((name, passed, failed, failures))
            print(f"{name:28} {passed:4} passed {failed:4} failed", flush=True)
            for failure in failures:
                print(f"    {failure}")
    print(f"total: {total_passed} passed, {total_failed} failed")
    if args.write:
        lines = [
            f"# HIPS autograd {VERSION}'s test files against chainrule",
            "",
            "Made by `python acceptance/autograd/run.py --write`: autograd's own test files, unchanged, with the names",
            "they import mapped to chainrule's functions by `acceptance/autograd/shim`.",
            "",
            f"**{total_passed} passed, {total_failed} failed.**",
            "",
            "| test file | passed | failed |",
            "|---|---|---|",
            *[f"| {name} | {passed} | {failed} |" for name, passed, failed, _ in rows],
            "",
            "Not run: " + "; ".join(f"{name} ({why})" for name, why in sorted(NOT_RUN.items())) + ".",
            "",
            "## Failures",
            "",
            *[
                f"- `{failure.split(' - ')[0]}`: {_reason(failure)}"
                for _, _, _, failures in rows
                for failure in failures
            ],
            "",
        ]
        (HERE / "RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
