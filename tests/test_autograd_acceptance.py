"""HIPS autograd's own FFT and SciPy tests (tests/test_fft.py and tests/test_scipy.py of its 1.9.1 release), run
against chainrule through the renaming shim of acceptance/autograd: every one must pass, but for the tests
acceptance/autograd/run.py deselects (its list ``DESELECTED`` says why each).

autograd's source release is taken from $CHAINRULE_AUTOGRAD_SDIST or a cache folder, downloaded there with pip on
first use; where it cannot be had within ``DOWNLOAD_TIMEOUT`` seconds (an offline machine) the test is skipped.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("scipy")

RUNNER = Path(__file__).resolve().parent.parent / "acceptance" / "autograd" / "run.py"
FILES = ["test_fft.py", "test_scipy.py"]


def _runner():
    spec = importlib.util.spec_from_file_location("autograd_acceptance_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_autograd_fft_and_scipy_tests_pass_through_the_shim():
    run = _runner()
    try:
        sdist = run.find_sdist()
    except run.SdistUnavailable as error:
        pytest.skip(f"autograd {run.VERSION}'s source release is unavailable: {error}")
    with tempfile.TemporaryDirectory(prefix="autograd-acceptance-") as work:
        root = run.unpack(sdist, Path(work))
        run.check_shim_is_used(root)
        results = run.run_files(root, FILES, timeout=300)
    assert len(results) > 100, f"only {len(results)} tests ran"
    ran = {name for name, _, _ in results}
    assert not ran & set(run.DESELECTED), "a deselected test ran"
    failing = [f"{name}: {reason}" for name, outcome, reason in results if outcome == "failed"]
    assert not failing, f"{len(failing)} of autograd's tests fail through the shim:\n" + "\n".join(failing)
