"""The README's main job: the worked example prints the values and gradients of the seed document."""

import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parents[1]


def test_seed_example_script_prints_the_worked_example():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "seed_example.py")], capture_output=True, text=True, check=True
    )
    out = result.stdout
    for expected in [
        "r = x * y   =  6.00000",
        "0.96017",
        "-0.27942",
        "0.68075",
        "dz/dr = -sin(r) + cos(r) = 1.23959",
        "dz/dx = 3.71876",
        "dz/dy = 2.47917",
    ]:
        assert expected in out, expected


def test_digits_training_reaches_its_accuracy(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import train_digits
    finally:
        sys.path.pop(0)
    results = train_digits.main(["--quiet", "--out", str(tmp_path)])
    assert results["mlp"] >= 0.95 and results["cnn"] >= 0.97
    assert (tmp_path / "digits.png").stat().st_size > 10_000
    state = cr.load(tmp_path / "cnn.crz")
    model = train_digits.cnn()
    model.load_state_dict(state)
    _, x_test, _, y_test = train_digits.load_digits(0)
    assert train_digits.accuracy(model, x_test[:, None], y_test) == results["cnn"]  # the checkpoint is the model


def test_two_moons_demo(tmp_path):
    pytest.importorskip("sklearn")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "two_moons.py"), "--out", str(tmp_path / "moons.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "final: loss" in result.stdout and "accuracy 100%" in result.stdout
    assert (tmp_path / "moons.png").stat().st_size > 10_000
