"""The README's main job: the worked example prints the values and gradients of the seed document."""

import subprocess
import sys
from pathlib import Path

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
