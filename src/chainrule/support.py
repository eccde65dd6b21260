"""What of NumPy and SciPy chainrule differentiates, read from the dispatch tables and the modules' exports
themselves (the README's tables are these functions' output, and a test keeps them equal)."""

from __future__ import annotations

from . import linalg as _linalg  # noqa: F401  (registers np.linalg's dispatch)
from . import manipulation as _manipulation  # noqa: F401
from . import sorting as _sorting  # noqa: F401
from .functions import ARRAY_FUNCTIONS, CONSTANT_UFUNCS, UFUNCS

# chainrule answers these with integers or with values whose derivative is zero: tensors that need no gradient
_CONSTANT_FUNCTIONS = {"argsort", "argpartition", "argmax", "argmin", "matrix_rank"}


def _name(function: object) -> str:
    module = getattr(function, "__module__", "numpy") or "numpy"
    prefix = "np.linalg." if "linalg" in module else "np.fft." if module.startswith("numpy.fft") else "np."
    return prefix + function.__name__  # type: ignore[attr-defined]


def numpy_support_table() -> str:
    """A Markdown table: the NumPy functions and ufuncs that work on tensors, and how."""
    functions = sorted({_name(f) for f in ARRAY_FUNCTIONS})
    linalg = [n for n in functions if n.startswith("np.linalg.")]
    fourier = [n for n in functions if n.startswith("np.fft.")]
    plain = [n for n in functions if not n.startswith(("np.linalg.", "np.fft."))]
    constant = [n for n in functions if n.rsplit(".", 1)[1] in _CONSTANT_FUNCTIONS]
    rows = [
        (
            "ufuncs, differentiable (`np.NAME(t)`, and the operators)",
            sorted(f"np.{n}" for n in UFUNCS if n not in CONSTANT_UFUNCS),
        ),
        ("functions, differentiable", [n for n in plain if n not in constant]),
        ("`np.linalg`, differentiable", [n for n in linalg if n not in constant]),
        ("`np.fft`, differentiable", fourier),
        (
            "results that need no gradient (integers, or derivative 0)",
            sorted(constant + [f"np.{n}" for n in CONSTANT_UFUNCS]),
        ),
    ]
    lines = ["| what | NumPy names |", "|---|---|"]
    for what, names in rows:
        lines.append(f"| {what} | {' '.join(f'`{n}`' for n in names)} |")
    return "\n".join(lines) + "\n"


# what a SciPy function differentiates in, where that is less than every argument to any order
_SCIPY_NOTES = {
    "special": "in every real argument to any order, except: `gammainc` `gammaincc` in a and `betainc` in a, b to "
    "second order; the orders and counts of `polygamma` `iv` `ive` `jv` `yv` `jn` `yn` `multigammaln` (numbers)",
    "stats": "in the data and every continuous parameter (the shapes of the cdf/sf family to second order); "
    "`poisson` in its rate (k counts)",
    "linalg": "in every array argument (`solve_banded` in the bands and the right-hand side)",
    "signal": "in both inputs; `axes=`/`dot_axes=` as HIPS autograd's `convolve`",
    "integrate": "in the initial state, the times and the parameters, by the adjoint method",
}


def scipy_support_table() -> str:
    """A Markdown table: the functions of ``chainrule.scipy`` (the scipy extra), module by module."""
    import importlib

    lines = ["| module | functions | differentiable |", "|---|---|---|"]
    for module_name, note in _SCIPY_NOTES.items():
        module = importlib.import_module(f"chainrule.scipy.{module_name}")
        names = []
        for name in sorted(module.__all__):
            thing = getattr(module, name)
            if module_name == "stats":  # a distribution: its methods
                methods = sorted(
                    m for m, f in vars(thing).items() if not m.startswith("_") and not getattr(f, "refused", False)
                )
                names.append(f"`{name}.{{{','.join(methods)}}}`")
            else:
                names.append(f"`{name}`")
        lines.append(f"| `cr.scipy.{module_name}` | {' '.join(names)} | {note} |")
    return "\n".join(lines) + "\n"


def update_readme(path: str) -> None:
    """Write the tables into the README between their markers."""
    import re
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    for marker, table in (
        ("numpy-support-table", numpy_support_table()),
        ("scipy-support-table", scipy_support_table()),
    ):
        pattern = rf"(<!-- {marker} -->\n).*?(<!-- end {marker} -->)"
        text = re.sub(pattern, lambda m, table=table: m.group(1) + table + m.group(2), text, flags=re.S)
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--readme"]:
        update_readme(sys.argv[2] if len(sys.argv) > 2 else "README.md")
    else:
        print(numpy_support_table(), end="")
