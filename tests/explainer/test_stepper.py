"""The page's stepper, clicked in a real headless Chromium: which node, edges and table row each step highlights,
and the numbers it shows; the keyboard; and the static page when JavaScript is off."""

import shutil

import pytest

from chainrule.explainer.expression import build
from chainrule.explainer.graph import capture
from chainrule.explainer.report import page

pytest.importorskip("igraph")
pytest.importorskip("matplotlib")
sync_api = pytest.importorskip("playwright.sync_api")

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium (Debian package chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def open_page(browser, tmp_path, source, values, javascript=True):
    graph = capture(build(source, values).output)
    path = tmp_path / "report.html"
    path.write_text(page(graph, title=source, accuracy=False), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
    tab = context.new_page()
    tab.goto(path.as_uri())
    return tab


def state(tab):
    names = "es => es.map(e => e.dataset.name)"
    return {
        "heading": tab.text_content("#step-heading"),
        "lines": tab.text_content("#step-lines"),
        "active": tab.eval_on_selector_all("g.node.active", names),
        "partial": tab.eval_on_selector_all("g.node.partial", names),
        "done": sorted(tab.eval_on_selector_all("g.node.done", names)),
        "edges": sorted(
            tab.eval_on_selector_all("path.edge.active", "es => es.map(e => e.dataset.from + '>' + e.dataset.to)")
        ),
        "row": tab.eval_on_selector_all(
            "tbody.active tr:first-child td:first-child", "es => es.map(e => e.textContent)"
        ),
        "grads shown": sorted(
            tab.eval_on_selector_all(
                "g.node text.grad", "es => es.filter(e => e.style.visibility !== 'hidden').map(e => e.textContent)"
            )
        ),
    }


SEED = ("sin(x*y) + cos(x*y)", {"x": 2.0, "y": 3.0})


def test_next_walks_the_seed_backward_pass_one_operation_at_a_time(browser, tmp_path):
    tab = open_page(browser, tmp_path, *SEED)
    assert tab.is_visible("#stepper")
    start = state(tab)
    assert start["heading"] == "[0/5] Start: z is the output" and start["active"] == [] and start["row"] == []
    assert start["grads shown"] == ["grad 1"]  # only the output's gradient is known
    expected = [
        ("[1/5] Step 1 of 4: z = v + u", ["z"], ["u>z", "v>z"], "z = v + u", []),
        ("[2/5] Step 2 of 4: u = cos(r)", ["u"], ["r>u"], "u = cos(r)", ["r"]),
        ("[3/5] Step 3 of 4: v = sin(r)", ["v"], ["r>v"], "v = sin(r)", []),
        ("[4/5] Step 4 of 4: r = x * y", ["r"], ["x>r", "y>r"], "r = x * y", []),
    ]
    for n, (heading, active, edges, row, partial) in enumerate(expected, start=1):
        tab.click("#step-next")
        now = state(tab)
        assert now["heading"] == heading, n
        assert now["active"] == active and now["edges"] == edges and now["row"] == [row], n
        assert now["partial"] == partial, n
    # step 2 left r with one of its two contributions; step 3 completed it: the running sum says so
    tab.click("#step-previous")
    tab.click("#step-previous")
    assert "running sum at r: 0.279415 (from u), waiting for 1 more" in state(tab)["lines"]
    tab.click("#step-next")
    third = state(tab)
    assert "running sum at r: 0.279415 (from u) + 0.96017 (from v) = 1.23959 (complete)" in third["lines"]
    assert "dv/dr = cos(r) = 0.96017" in third["lines"] and "r" in third["done"]
    tab.click("#step-next")
    tab.click("#step-next")
    end = state(tab)
    assert end["heading"] == "[5/5] Done: every input has its gradient"
    assert "dz/dx = 3.71876" in end["lines"] and "dz/dy = 2.47917" in end["lines"]
    assert end["grads shown"] == sorted(["grad 3.71876", "grad 2.47917", "grad 1.23959", "grad 1", "grad 1", "grad 1"])
    tab.click("#step-next")  # past the end: stays at the end
    assert state(tab)["heading"] == end["heading"]


def test_arrow_keys_and_play(browser, tmp_path):
    tab = open_page(browser, tmp_path, *SEED)
    tab.keyboard.press("ArrowRight")
    tab.keyboard.press("ArrowRight")
    assert state(tab)["active"] == ["u"]
    tab.keyboard.press("ArrowLeft")
    assert state(tab)["active"] == ["z"]
    tab.click("#step-play")
    tab.wait_for_function("document.documentElement.dataset.frame === '5'", timeout=15000)
    assert tab.text_content("#step-play") == "Play"  # stopped by itself at the end


def test_a_value_used_twice_highlights_both_edges(browser, tmp_path):
    tab = open_page(browser, tmp_path, "x**x", {"x": 2.0})
    tab.click("#step-next")
    now = state(tab)
    assert now["active"] == ["z"] and now["edges"] == ["x>z", "x>z"]
    assert "via the base" in now["lines"] and "via the exponent" in now["lines"]


def test_without_javascript_the_page_is_the_static_walkthrough(browser, tmp_path):
    tab = open_page(browser, tmp_path, *SEED, javascript=False)
    assert not tab.is_visible("#stepper")
    texts = tab.eval_on_selector_all("g.node text.grad", "es => es.map(e => e.textContent)")
    assert "grad 3.71876" in texts and len(texts) == 6
    assert "0.279415 (from u) + 0.96017 (from v) = 1.23959" in tab.text_content("#backward")
