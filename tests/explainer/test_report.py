"""The HTML report: self-contained, the seed numbers, the accuracy panel, and a check in a real headless browser."""

import html
import json
import re
import shutil
import subprocess

import pytest

import chainrule as cr
from chainrule.explainer.accuracy import finite_differences
from chainrule.explainer.expression import build
from chainrule.explainer.graph import capture
from chainrule.explainer.report import page

pytest.importorskip("igraph")
pytest.importorskip("matplotlib")

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def seed_page():
    built = build("sin(x*y) + cos(x*y)", {"x": 2.0, "y": 3.0})
    return page(capture(built.output), title="sin(x*y) + cos(x*y)", accuracy=True)


def test_page_is_self_contained_and_has_every_part():
    text = seed_page()
    assert text.startswith("<!DOCTYPE html>")
    for section in ("id='picture'", "id='forward'", "id='backward'", "id='accuracy'"):
        assert section in text
    # nothing fetched from a network: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<link" not in text and "@import" not in text
    plain = html.unescape(text)
    for number in ("0.680755", "1.23959", "3.71876", "2.47917", "0.279415 (from u) + 0.96017 (from v) = 1.23959"):
        assert number in plain


def test_accuracy_panel_shows_why_ad_is_preferred():
    built = build("sin(x*y) + cos(x*y)", {"x": 2.0, "y": 3.0})
    graph = capture(built.output)
    result = finite_differences(graph, graph.inputs[0])
    assert result["ad"] == pytest.approx(3.718757354547875, rel=1e-15)
    assert result["against"] == "reference" and float(result["reference"]) == pytest.approx(result["ad"], rel=1e-15)
    forward, central = result["forward_error"], result["central_error"]
    # truncation error shrinks with h, then rounding error takes over: no step size is exact
    assert forward[0] > forward[4] > forward[7] and forward[-1] > forward[7]
    assert central[0] > central[3] and central[-1] > central[4]
    assert min(central) < 1e-9 and min(forward) > 1e-10
    assert min(forward) > 1e-15 and min(central) > 1e-15


def browser_check(text, tmp_path):
    """Open the page in headless Chromium and read back what its own script measured."""
    assert BROWSER, "no headless Chromium: .ci/run installs the Debian package chromium"
    path = tmp_path / "report.html"
    path.write_text(text, encoding="utf-8")
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,900",
        "--virtual-time-budget=5000",
        "--dump-dom",
        path.as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    match = re.search(r'data-selfcheck="([^"]*)"', dom)
    assert match, "the page's check did not run in the browser"
    return json.loads(html.unescape(match.group(1)))


# .ci/run installs Chromium; where none could be installed the check is skipped, and says so
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium (Debian package chromium)")


@needs_browser
def test_page_renders_in_a_real_browser(tmp_path):
    check = browser_check(seed_page(), tmp_path)
    assert check["nodes"] == 6 and check["edges"] == 6
    assert check["plot"] and check["plot"][0] > 200 and check["plot"][1] > 100
    assert check["problems"] == []


@needs_browser
def test_the_browser_check_catches_labels_that_overflow(tmp_path, monkeypatch):
    from chainrule.explainer import picture

    monkeypatch.setattr(picture, "CHAR_WIDTH", 2.0)  # boxes far too narrow for their text
    check = browser_check(seed_page(), tmp_path)
    assert any("overflows its box" in p for p in check["problems"])


def test_explanation_html_of_a_tensor_graph():
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    out = cr.sum(cr.tanh(w @ w))
    text = cr.explain(out).html(accuracy=True)
    assert "[[1, 2], [3, 4]]" in text and "a random unit direction" in text


def test_the_page_says_where_a_derivative_does_not_exist():
    built = build("x**y + abs(y - 2)", {"x": -2.0, "y": 2.0})
    text = html.unescape(page(capture(built.output), title="x**y + abs(y - 2)"))
    assert "dz/dy does not exist" in text and "dz/dx = -4" in text
    assert "kink: abs has a kink at 0" in text


@needs_browser
def test_a_graph_of_seven_operations_fits_1280_pixels_in_the_browser(tmp_path):
    source = "exp(sin(cos(tanh(sigmoid(softplus(x*y))))))"
    built = build(source, {"x": 0.3, "y": -1.7})
    check = browser_check(page(capture(built.output), title=source), tmp_path)
    assert 1250 <= check["pageWidth"] <= 1280 and check["fontPx"] >= 11  # a scroll bar may take some
    assert check["problems"] == []
