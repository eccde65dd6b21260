"""Pictures: the textbook layout, values and gradients in the boxes, DOT export, summaries of big graphs."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("igraph")

SVG = "{http://www.w3.org/2000/svg}"


def seed():
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    r = x * y
    return cr.sin(r) + cr.cos(r)


def boxes(svg):
    root = ET.fromstring(svg)
    found = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            rect = g.find(f"{SVG}rect")
            texts = [t.text for t in g.findall(f"{SVG}text")]
            found[g.get("data-name")] = (float(rect.get("x")), float(rect.get("y")), texts)
    edges = [(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    ports = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "port"]
    return found, edges, ports


def test_seed_picture_is_the_textbook_figure():
    z = seed()
    figure = cr.draw(z)
    found, edges, ports = boxes(figure.svg())
    assert set(found) == {"x", "y", "r", "u", "v", "z"}
    # left to right: inputs, then r, then u and v, then z
    column = {name: x for name, (x, _, _) in found.items()}
    assert column["x"] == column["y"] < column["r"] < min(column["u"], column["v"]) <= max(column["u"], column["v"])
    assert max(column["u"], column["v"]) < column["z"]
    # r is one box with two edges leaving it; each box says what it computes
    assert sorted(edges) == sorted([("x", "r"), ("y", "r"), ("r", "u"), ("r", "v"), ("u", "z"), ("v", "z")])
    assert ports == []  # + and * do not care about order
    assert found["r"][2] == ["r = x * y", "value 6"]  # no gradient before backward
    assert found["v"][2][0] == "v = sin(r)" and found["u"][2][0] == "u = cos(r)"
    z.backward()
    found, _, _ = boxes(figure.svg())  # the picture made before backward shows the gradients now
    assert found["r"][2] == ["r = x * y", "value 6", "grad 1.23959"]
    assert found["x"][2] == ["x", "value 2", "grad 3.71876"]
    assert found["y"][2] == ["y", "value 3", "grad 2.47917"]
    assert found["z"][2] == ["z = v + u", "value 0.680755", "grad 1"]


def test_tensor_graph_shows_shapes_and_small_values():
    w = cr.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, name="w")
    v = cr.tensor([1.0, -1.0, 0.5], requires_grad=True, name="v")
    big = cr.tensor(np.ones((4, 2)), requires_grad=True, name="big")
    out = cr.sum(cr.relu(v @ w)) + cr.sum(big)
    found, _, _ = boxes(cr.draw(out).svg())
    assert "value [[0, 1], [2, 3], [4, 5]]" in found["w"][2]
    assert "value [1, -1, 0.5]" in found["v"][2]
    assert "value float64[4, 2]" in found["big"][2]


def test_dot_export():
    z = seed()
    z.backward(retain_graph=True)
    dot = cr.draw(z).dot()
    assert dot.startswith("digraph chainrule {") and "rankdir=LR" in dot
    assert len(re.findall(r"->", dot)) == 6
    assert 'label="r = x * y\\nvalue 6\\ngrad 1.23959"' in dot


def test_save_follows_the_suffix(tmp_path):
    figure = cr.draw(seed())
    assert figure.save(tmp_path / "g.svg").read_text().startswith("<svg")
    assert figure.save(tmp_path / "g.dot").read_text().startswith("digraph")
    assert "<svg" in figure.save(tmp_path / "g.html").read_text()
    with pytest.raises(ValueError, match="use .svg, .dot or .html"):
        figure.save(tmp_path / "g.png")
    assert figure._repr_svg_().startswith("<svg")


def test_big_graphs_are_summarised():
    t = cr.tensor(0.3, requires_grad=True, name="t")
    out = t
    for _ in range(500):
        out = cr.tanh(out) * 1.01 + 0.01
    found, edges, _ = boxes(cr.draw(out, max_nodes=30).svg())
    assert len(found) <= 30
    # a scalar MLP as in micrograd: hundreds of nodes with shared inputs
    rng = np.random.default_rng(0)
    xs = [cr.tensor(v, requires_grad=True, name=f"x{i}") for i, v in enumerate(rng.standard_normal(3))]
    weights = [[cr.tensor(v, requires_grad=True) for v in row] for row in rng.standard_normal((8, 3))]
    hidden = [cr.tanh(sum((w * x for w, x in zip(row, xs)), cr.tensor(0.0))) for row in weights]
    loss = sum(h * h for h in hidden)
    figure = cr.draw(loss, max_nodes=25)
    found, edges, _ = boxes(figure.svg())
    assert len(found) <= 25 and "z" in found
    assert any(name.startswith("...") for name in found)  # the folded part is said, not dropped silently
    assert all(a in found and b in found for a, b in edges)


def test_summaries_keep_what_is_near_the_output():
    y = cr.tensor(0.3, requires_grad=True, name="y")
    near = cr.exp(y)
    near.name = "near"
    h = y
    for _ in range(60):
        h = cr.sin(h) * y
    out = h + near
    found, edges, _ = boxes(cr.draw(out, max_nodes=12).svg())
    assert {"near", "z"} <= set(found) and len(found) <= 12
    with pytest.raises(ValueError, match="at least 3"):
        cr.draw(out, max_nodes=2)


def test_the_canvas_holds_every_edge():
    x = cr.tensor(0.5, requires_grad=True, name="x")
    out = x
    for _ in range(4):
        out = cr.sin(out) + x  # x feeds every layer: long edges with bends
    svg = cr.draw(out).svg()
    height = float(re.search(r'height="(\d+)"', svg).group(1))
    width = float(re.search(r'width="(\d+)"', svg).group(1))
    for path in re.findall(r'class="edge"[^>]* d="([^"]+)"', svg):
        numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*", path)]
        assert max(numbers[1::2]) <= height and max(numbers[0::2]) <= width


def test_missing_layout_library_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_igraph(name, *args, **kwargs):
        if name == "igraph":
            raise ImportError("No module named 'igraph'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_igraph)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[draw\]'"):
        cr.draw(seed()).svg()
