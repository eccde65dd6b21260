"""HIPS autograd's own test files, run against chainrule through the shim in ``shim/`` (which maps autograd's
names to chainrule's functions and nothing else), and a summary written to ``RESULTS.md``.

    python acceptance/autograd/run.py                        # every test file but those listed as not run
    python acceptance/autograd/run.py --only test_fft.py     # some of them
    python acceptance/autograd/run.py --source PATH --write  # autograd's sdist (.tar.gz or unpacked) given

autograd's code is not kept in this repository. Its source release is taken from ``--source`` or the environment
variable ``CHAINRULE_AUTOGRAD_SDIST``, else from a cache folder (``$XDG_CACHE_HOME/chainrule-peers``, by default
``~/.cache/chainrule-peers``), downloaded there with pip on first use (giving up after ``DOWNLOAD_TIMEOUT``
seconds), and its tests/ and examples/ only are unpacked into a temporary folder, so that nothing but the shim can
answer ``import autograd``. Needs pytest (and SciPy for test_scipy.py). A developer's check, like the benchmarks;
``tests/test_autograd_acceptance.py`` runs the FFT and SciPy files of it in chainrule's own suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIM = HERE / "shim"
VERSION = "1.9.1"
ENV_SDIST = "CHAINRULE_AUTOGRAD_SDIST"
DOWNLOAD_TIMEOUT = 180  # seconds; past this the sdist counts as unavailable (an offline or slow machine)

NOT_RUN = {
    "test_vspaces.py": "autograd's internals (vspace)",
    "test_tests.py": "autograd's own test helpers",
    "test_performance.py": "timing of autograd's tracer",
}

# The one list of allowed deviations: autograd's tests deselected on purpose, each with why (a limitation of
# autograd's that chainrule does not copy, or one of chainrule's that is refused by name rather than answered).
DESELECTED = {
    "test_fft.py::test_rfftn_odd_not_implemented": "expects NotImplementedError from rfftn's derivative on an odd "
    "last axis, a limitation of autograd's; chainrule differentiates it (its own FFT tests draw odd lengths)",
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


class SdistUnavailable(RuntimeError):
    """autograd's source release could not be found nor downloaded (an offline machine, say)."""


def _reason(failure: str) -> str:
    name = failure.split("::")[-1].split(" ")[0].split("[")[0]
    return next((why for key, why in REASONS.items() if name.startswith(key)), "not explained yet")


# -- the source release ----------------------------------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chainrule-peers"


def find_sdist(given: str | os.PathLike | None = None, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """autograd's sdist (.tar.gz, or a folder it was unpacked into): ``given``, else $CHAINRULE_AUTOGRAD_SDIST,
    else the cache, downloading into it with pip if it is not there yet."""
    given = given or os.environ.get(ENV_SDIST)
    if given:
        path = Path(given).expanduser()
        if not path.exists():
            raise SdistUnavailable(f"{path} does not exist")
        return path
    cache = cache_dir()
    name = f"autograd-{VERSION}.tar.gz"
    if (cache / name).is_file():
        return cache / name
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as partial:  # nothing half-downloaded is left in the cache
        command = [sys.executable, "-m", "pip", "download", f"autograd=={VERSION}", "--no-binary", ":all:",
                   "--no-deps", "--quiet", "--disable-pip-version-check", "-d", partial]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SdistUnavailable(f"pip download autograd=={VERSION} gave no answer in {timeout:.0f} s") from None
        except OSError as error:
            raise SdistUnavailable(f"pip download could not start: {error}") from error
        if done.returncode != 0 or not (Path(partial) / name).is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SdistUnavailable(f"pip download autograd=={VERSION} failed: {last}")
        os.replace(Path(partial) / name, cache / name)
    return cache / name


def unpack(sdist: Path, into: Path) -> Path:
    """A folder under ``into`` with autograd's tests/ and examples/ only (its package is left out)."""
    target = into / "autograd-src"
    wanted = ("tests", "examples")
    if sdist.is_dir():
        source = sdist if (sdist / "tests").is_dir() else next(sdist.glob("autograd-*/"), sdist)
        for part in wanted:
            shutil.copytree(source / part, target / part)
        return target
    with tarfile.open(sdist) as archive:
        members = []
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if member.name.startswith("/") or ".." in parts:
                raise SdistUnavailable(f"unsafe path in {sdist.name}: {member.name}")
            if len(parts) > 2 and parts[1] in wanted and (member.isfile() or member.isdir()):
                member.name = str(Path(*parts[1:]))
                members.append(member)
        if sys.version_info >= (3, 12):
            archive.extractall(target, members=members, filter="data")
        else:
            archive.extractall(target, members=members)
    if not (target / "tests").is_dir():
        raise SdistUnavailable(f"{sdist.name} has no tests/ folder")
    return target


def shim_env(*more: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(SHIM), *(str(p) for p in more)]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def check_shim_is_used(root: Path) -> str:
    """Where ``import autograd`` leads with the shim on the path (it must be the shim)."""
    done = subprocess.run([sys.executable, "-c", "import autograd; print(autograd.__file__)"], cwd=root / "tests",
                          env=shim_env(root / "tests"), capture_output=True, text=True)  # fmt: skip
    location = done.stdout.strip()
    if not location or Path(location).resolve().parent != (SHIM / "autograd").resolve():
        raise RuntimeError(f"the shim does not shadow autograd: import autograd gives {location or done.stderr}")
    return location


# -- the test files --------------------------------------------------------------------------------------------


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][2:].strip() if errors else (lines[0] if lines else ""))[:300]


def run_files(root: Path, names: list[str], timeout: float = 1800) -> list[tuple[str, str, str]]:
    """autograd's test files through the shim with pytest: (file::test, outcome, one-line reason) each, the
    deselected tests left out."""
    tests = root / "tests"
    ini = root / "acceptance-pytest.ini"  # autograd's own pytest options want plugins (coverage) not needed here
    ini.write_text("[pytest]\n")
    report = root / f"report-{'-'.join(Path(n).stem for n in names)[:100]}.xml"
    deselect = [arg for test in DESELECTED if test.split("::")[0] in names for arg in ("--deselect", test)]
    command = [sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(tests), "-p", "no:cacheprovider",
               "-q", "--tb=line", "-W", "ignore::DeprecationWarning", f"--junitxml={report}", *deselect,
               *names]  # fmt: skip
    done = subprocess.run(command, cwd=tests, env=shim_env(tests), capture_output=True, text=True, timeout=timeout)
    if not report.exists():
        raise RuntimeError(f"pytest did not run (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    results = []
    for case in ET.parse(report).getroot().iter("testcase"):
        file = Path(case.get("file") or case.get("classname", "").split(".")[0] + ".py").name
        outcome, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "failed", "skipped": "skipped"}[tag]
                reason = _one_line(found.get("message") or found.text or "")
                break
        results.append((f"{file}::{case.get('name')}", outcome, reason))
    if not results:
        results = [(names[0], "failed", _one_line(done.stdout[-2000:] or done.stderr[-2000:]))]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", help=f"autograd's sdist, .tar.gz or unpacked (default: ${ENV_SDIST}, the cache)")
    parser.add_argument("--only", nargs="*", help="test files to run (default: all but those listed as not run)")
    parser.add_argument("--write", action="store_true", help="rewrite RESULTS.md beside this file")
    args = parser.parse_args()
    try:
        sdist = find_sdist(args.source)
    except SdistUnavailable as error:
        sys.exit(f"autograd {VERSION}'s source release is unavailable: {error}")
    rows, total_passed, total_failed = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="autograd-acceptance-") as tmp:
        root = unpack(sdist, Path(tmp))
        check_shim_is_used(root)
        names = args.only or sorted(p.name for p in (root / "tests").glob("test_*.py") if p.name not in NOT_RUN)
        for name in names:
            results = run_files(root, [name])
            passed = sum(outcome == "passed" for _, outcome, _ in results)
            failures = [f"{test} - {reason}" for test, outcome, reason in results if outcome == "failed"]
            total_passed += passed
            total_failed += len(failures)
            rows.append((name, passed, len(failures), failures))
            print(f"{name:28} {passed:4} passed {len(failures):4} failed", flush=True)
            for failure in failures:
                print(f"    {failure}")
    print(f"total: {total_passed} passed, {total_failed} failed, {len(DESELECTED)} deselected")
    if args.write:
        lines = [
            f"# HIPS autograd {VERSION}'s test files against chainrule",
            "",
            "Made by `python acceptance/autograd/run.py --write`: autograd's own test files, unchanged, with the names",
            "they import mapped to chainrule's functions by `acceptance/autograd/shim`.",
            "",
            f"**{total_passed} passed, {total_failed} failed, {len(DESELECTED)} deselected.**",
            "",
            "| test file | passed | failed |",
            "|---|---|---|",
            *[f"| {name} | {passed} | {failed} |" for name, passed, failed, _ in rows],
            "",
            "Not run: " + "; ".join(f"{name} ({why})" for name, why in sorted(NOT_RUN.items())) + ".",
            "",
            "Deselected (the one list of deviations, in `run.py`):",
            "",
            *[f"- `{test}`: {why}" for test, why in DESELECTED.items()],
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
