"""Run HIPS autograd's own FFT and SciPy tests, and its SciPy examples, against chainrule.

autograd's code is not kept in this repository: its source distribution is downloaded (``pip download``) into a
cache folder, or taken from ``--sdist`` / the environment variable ``CHAINRULE_AUTOGRAD_SDIST`` (the .tar.gz, or
a folder it was unpacked into), and unpacked into a temporary folder. The shim beside this file
(``shim/autograd``) is put first on PYTHONPATH, so ``import autograd`` gives chainrule's functions under
autograd's names.

    python peers/autograd/run.py              # tests/test_fft.py and tests/test_scipy.py through the shim
    python peers/autograd/run.py --examples   # also each SciPy example, with real autograd and through the shim,
                                              # comparing the numbers they print

The examples need the real autograd installed (``pip install autograd==1.9.1``) and matplotlib; they run headless
(the Agg backend; ``plt.show``, ``plt.pause`` and ``plt.draw`` do nothing), each with a timeout.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "1.9.1"
HERE = Path(__file__).resolve().parent
SHIM = HERE / "shim"
SUITES = ("test_fft.py", "test_scipy.py")
EXAMPLES = (
    "gaussian_process.py",
    "gplvm.py",
    "ica.py",
    "black_box_svi.py",
    "natural_gradient_black_box_svi.py",
    "bayesian_optimization.py",
    "negative_binomial_maxlike.py",
    "ode_net.py",
)
ENV_SDIST = "CHAINRULE_AUTOGRAD_SDIST"


class SdistUnavailable(RuntimeError):
    """autograd's source distribution could not be found nor downloaded (an offline machine, say)."""


# -- the source distribution -----------------------------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chainrule-peers" / f"autograd-{VERSION}"


def find_sdist(given: str | None = None) -> Path:
    """The .tar.gz (or unpacked folder) of autograd's sdist: ``given``, else $CHAINRULE_AUTOGRAD_SDIST, else the
    cache, downloading into it with pip if it is empty."""
    given = given or os.environ.get(ENV_SDIST)
    if given:
        path = Path(given).expanduser()
        if not path.exists():
            raise SdistUnavailable(f"{path} does not exist")
        return path
    cache = cache_dir()
    found = sorted(cache.glob(f"autograd-{VERSION}.tar.gz"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", f"autograd=={VERSION}", "--no-binary", ":all:",
               "--no-deps", "--quiet", "-d", str(cache)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SdistUnavailable(f"pip download failed: {error}") from error
    found = sorted(cache.glob(f"autograd-{VERSION}.tar.gz"))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SdistUnavailable(f"pip download autograd=={VERSION} failed: {last}")
    return found[0]


def unpack(sdist: Path, into: Path) -> Path:
    """A folder under ``into`` holding autograd's tests/ and examples/ only: autograd's own package is left out,
    so that nothing but the shim can answer ``import autograd``."""
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
                raise SdistUnavailable(f"unsafe path in {sdist}: {member.name}")
            if len(parts) > 2 and parts[1] in wanted and (member.isfile() or member.isdir()):
                member.name = str(Path(*parts[1:]))
                members.append(member)
        if sys.version_info >= (3, 12):
            archive.extractall(target, members=members, filter="data")
        else:
            archive.extractall(target, members=members)
    if not (target / "tests").is_dir():
        raise SdistUnavailable(f"{sdist} has no tests/ folder")
    return target


def _env(pythonpath: list[Path]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in pythonpath] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"  # what a run printed before its timeout is still compared
    env["MPLBACKEND"] = "Agg"
    return env


def shim_env() -> dict[str, str]:
    return _env([SHIM])


# -- the test suites -------------------------------------------------------------------------------------------


def run_suites(root: Path, suites: tuple[str, ...] = SUITES, timeout: float = 600) -> list[tuple[str, str, str]]:
    """Run autograd's test files with pytest through the shim; (test id, outcome, one-line reason) each."""
    tests = root / "tests"
    ini = root / "peer-pytest.ini"  # autograd's own pytest options want plugins (coverage) it does not need here
    ini.write_text("[pytest]\n")
    report = root / "peer-report.xml"
    command = [sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(tests), "-p", "no:cacheprovider",
               "-q", "--tb=line", "-W", "ignore::DeprecationWarning", f"--junitxml={report}",
               *[str(tests / s) for s in suites]]  # fmt: skip
    done = subprocess.run(command, cwd=tests, env=shim_env(), capture_output=True, text=True, timeout=timeout)
    if not report.exists():
        raise RuntimeError(f"pytest did not run (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    results = []
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{Path(case.get('file') or case.get('classname', '').replace('.', '/')).stem}::{case.get('name')}"
        outcome, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                reason = _one_line(found.get("message") or found.text or "")
                break
        results.append((name, outcome, reason))
    return results


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][2:].strip() if errors else (lines[0] if lines else ""))[:300]


def check_shim_is_used(root: Path) -> str:
    """Where ``import autograd`` leads with the shim's PYTHONPATH (it must be the shim)."""
    done = subprocess.run([sys.executable, "-c", "import autograd; print(autograd.__file__)"], cwd=root / "tests",
                          env=shim_env(), capture_output=True, text=True)  # fmt: skip
    location = done.stdout.strip()
    if not location or Path(location).resolve().parent != (SHIM / "autograd").resolve():
        raise RuntimeError(f"the shim does not shadow autograd: import autograd gives {location or done.stderr}")
    return location


def print_suites(results: list[tuple[str, str, str]]) -> bool:
    counts: dict[str, int] = {}
    for name, outcome, reason in results:
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome != "passed":
            print(f"{outcome.upper():7} {name}: {reason}")
    print("autograd", VERSION, "suites through the shim:", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return not any(outcome in ("failed", "error") for _, outcome, _ in results)


# -- the examples ----------------------------------------------------------------------------------------------

HEADLESS = textwrap.dedent(
    """\
    # Loaded at start-up (sitecustomize): figures are drawn nowhere, and nothing waits for a window.
    import os
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib.pyplot as _plt
    except ImportError:
        pass
    else:
        _plt.show = _plt.pause = _plt.draw = lambda *args, **kwargs: None
    """
)

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")


def run_example(examples: Path, name: str, pythonpath: list[Path], timeout: float) -> dict:
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, name], cwd=examples, env=_env(pythonpath), capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        return {"ok": False, "error": f"timed out after {timeout:.0f} s", "stdout": out,
                "seconds": time.monotonic() - started}  # fmt: skip
    error = ""
    if done.returncode != 0:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()]
        error = tail[-1] if tail else f"exit code {done.returncode}"
    return {"ok": done.returncode == 0, "error": error, "stdout": done.stdout, "stderr": done.stderr,
            "seconds": time.monotonic() - started}  # fmt: skip


def numbers(text: str) -> list[float]:
    return [float(m) for m in NUMBER.findall(text)]


def compare(reference: str, ours: str) -> dict:
    """The printed numbers of two runs, side by side: how many, and the largest relative difference (and where)."""
    a, b = numbers(reference), numbers(ours)
    worst, where = 0.0, None
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y or (x != x and y != y):
            continue
        scale = max(abs(x), abs(y), 1e-300)
        difference = abs(x - y) / scale if (x == x and y == y) else float("inf")
        if difference > worst:
            worst, where = difference, (i, x, y)
    absolute = max((abs(x - y) for x, y in zip(a, b) if x == x and y == y), default=0.0)
    return {"count_reference": len(a), "count_shim": len(b), "max_rel_diff": worst, "worst": where,
            "max_abs_diff": absolute}  # fmt: skip


def run_examples(root: Path, names: tuple[str, ...], timeout: float, jobs: int) -> list[dict]:
    examples = root / "examples"
    site = root / "headless"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HEADLESS)
    plan = [
        (name, kind, [site] if kind == "autograd" else [SHIM, site]) for name in names for kind in ("autograd", "shim")
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {(name, kind): pool.submit(run_example, examples, name, path, timeout) for name, kind, path in plan}
    rows = []
    outputs = root / "outputs"
    outputs.mkdir(exist_ok=True)
    for name in names:
        ref, ours = futures[(name, "autograd")].result(), futures[(name, "shim")].result()
        for kind, run in (("autograd", ref), ("shim", ours)):
            (outputs / f"{name}.{kind}.stdout").write_text(run["stdout"])
            (outputs / f"{name}.{kind}.stderr").write_text(run.get("stderr", ""))
        rows.append({"name": name, "autograd": ref, "shim": ours, "compare": compare(ref["stdout"], ours["stdout"])})
    return rows


def _state(r: dict) -> str:
    return f"ran ({r['seconds']:.0f} s)" if r["ok"] else f"FAILED ({r['seconds']:.0f} s): {r['error']}"


def print_examples(rows: list[dict]) -> None:
    for row in rows:
        ref, ours, c = row["autograd"], row["shim"], row["compare"]
        print(f"{row['name']}")
        print(f"    autograd: {_state(ref)}")
        print(f"    shim:     {_state(ours)}")
        worst = c["worst"]
        detail = f" (number #{worst[0]}: {worst[1]!r} vs {worst[2]!r})" if worst else ""
        print(f"    printed numbers: {c['count_reference']} vs {c['count_shim']}; "
              f"max relative difference over the common ones {c['max_rel_diff']:.3g}{detail}, "
              f"max absolute difference {c['max_abs_diff']:.3g}")  # fmt: skip


# -- the command -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", help=f"autograd-{VERSION}.tar.gz or its unpacked folder (default: ${ENV_SDIST}, "
                        "else downloaded into the cache)")  # fmt: skip
    parser.add_argument("--examples", action="store_true", help="also run and compare the SciPy examples")
    parser.add_argument("--only-examples", action="store_true", help="run the examples and not the test suites")
    parser.add_argument("--example", action="append", help="one example (repeatable; default: all eight)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for each example run (default 900)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="example runs at once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    try:
        sdist = find_sdist(args.sdist)
    except SdistUnavailable as error:
        print(f"autograd's sdist is unavailable: {error}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="autograd-peer-"))
    ok = True
    try:
        root = unpack(sdist, work)
        print("import autograd ->", check_shim_is_used(root))
        if not args.only_examples:
            ok = print_suites(run_suites(root))
        if args.examples or args.only_examples or args.example:
            print_examples(run_examples(root, tuple(args.example or EXAMPLES), args.timeout, max(1, args.jobs)))
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
