"""The README's examples run as written and print what the README shows."""

import contextlib
import doctest
import io
import re
import subprocess
from pathlib import Path

import pytest

from chainrule.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples save files
    failures, tried = doctest.testfile(
        str(README), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert tried > 10 and failures == 0


def test_readme_walkthrough_and_picture_are_what_the_command_makes_now(tmp_path):
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```text\n\$ (chainrule explain [^\n]*)\n(.*?)```", text, re.S)
    assert block, "the README shows the walk-through of the worked example"
    svg = tmp_path / "seed-graph.svg"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["explain", "sin(x*y) + cos(x*y)", "x=2", "y=3", "--svg", str(svg)]) == 0
    assert out.getvalue().replace(f"wrote {svg}\n", "") == block.group(2)
    assert "(docs/seed-graph.svg)" in text
    committed = (README.parent / "docs" / "seed-graph.svg").read_text(encoding="utf-8")
    assert _content(committed) == _content(svg.read_text(encoding="utf-8"))  # coordinates may differ by version


def _content(svg: str):
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    edges = re.findall(r'data-from="([^"]*)" data-to="([^"]*)"', svg)
    return sorted(texts), sorted(edges)


def test_readme_main_command_runs(tmp_path):
    text = README.read_text(encoding="utf-8")
    first = re.search(r"```bash\n# \(a\)[^\n]*\n([^\n]*)\n```", text).group(1)
    install, _, job = first.partition(" && ")
    assert install.startswith("python -m pip install") and job.startswith("chainrule explain")
    result = subprocess.run(job, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "dz/dx = 3.71876" in result.stdout
    assert "id='accuracy'" in (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("marker", ["numpy-support-table", "scipy-support-table"])
def test_readme_tables_of_supported_functions_are_what_the_code_has(marker):
    from chainrule import support

    table = support.numpy_support_table if marker.startswith("numpy") else support.scipy_support_table
    text = README.read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker} -->\n(.*?)<!-- end {marker} -->", text, re.S)
    assert block, "the README has the generated table"
    assert block.group(1) == table(), "regenerate it: python -m chainrule.support --readme README.md"


def test_gallery_and_seed_picture_are_current(tmp_path, monkeypatch):
    """docs/make_docs.py draws the gallery; what is committed is what it draws now (up to coordinates)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_docs", README.parent / "docs" / "make_docs.py")
    make_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_docs)
    text = README.read_text(encoding="utf-8")
    assert make_docs.readme_text(text) == text, "regenerate: python docs/make_docs.py"
    assert len(make_docs.GALLERY) == 10 and make_docs.GALLERY[0][1] == "sin(x*y) + cos(x*y)"
    for name, expression, values, _ in make_docs.GALLERY:
        drawn = tmp_path / f"{name}.svg"
        make_docs.explain(expression, values, "--svg", str(drawn))
        committed = (README.parent / "docs" / "gallery" / f"{name}.svg").read_text(encoding="utf-8")
        assert _content(committed) == _content(drawn.read_text(encoding="utf-8")), f"{name}: python docs/make_docs.py"
        assert f"![{expression}](docs/gallery/{name}.svg)" in text
