"""HIPS autograd's own FFT and SciPy tests (tests/test_fft.py, tests/test_scipy.py of its 1.9.1 release), run
against chainrule through the renaming shim in peers/autograd: every one must pass.

autograd's source release is fetched with pip into a cache folder on first use (peers/autograd/run.py), or taken
from $CHAINRULE_AUTOGRAD_SDIST; where it cannot be had (an offline machine) the test is skipped.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("scipy")

RUNNER = Path(__file__).resolve().parent.parent / "peers" / "autograd" / "run.py"


def _runner():
    spec = importlib.util.spec_from_file_location("peer_autograd_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_autograd_fft_and_scipy_suites_pass_through_the_shim():
    run = _runner()
    try:
        sdist = run.find_sdist()
    except run.SdistUnavailable as error:
        pytest.skip(f"autograd {run.VERSION}'s source distribution is unavailable: {error}")
    with tempfile.TemporaryDirectory(prefix="autograd-peer-") as work:
        root = run.unpack(sdist, Path(work))
        run.check_shim_is_used(root)
        results = run.run_suites(root, timeout=300)
    assert len(results) > 100, f"only {len(results)} tests ran"
    failing = [f"{name} ({outcome}): {reason}" for name, outcome, reason in results if outcome in ("failed", "error")]
    assert not failing, f"{len(failing)} of autograd's tests fail through the shim:\n" + "\n".join(failing)
