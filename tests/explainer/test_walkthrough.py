"""The walk-through: the seed example's numbers, tensor graphs, and the backward walk against backward()."""

import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explainer.expression import build
from chainrule.explainer.graph import capture

SEED = "sin(x*y) + cos(x*y)"
X, Y = 2.0, 3.0
R = X * Y
DZ_DR = math.cos(R) - math.sin(R)


def seed_graph():
    x = cr.tensor(X, requires_grad=True, name="x")
    y = cr.tensor(Y, requires_grad=True, name="y")
    r = x * y
    return cr.sin(r) + cr.cos(r), x, y


def numbers(text):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def close_to(text, value, rel=1e-5):
    return any(math.isclose(v, value, rel_tol=rel) for v in numbers(text))


def test_seed_walkthrough_text():
    z, x, y = seed_graph()
    text = cr.explain(z)
    assert isinstance(text, str)
    forward, backward = text.split("Backward pass")
    rows = {line.split()[0]: line.split() for line in forward.splitlines()[2:] if line.strip()}
    assert rows["r"][1:] == ["x", "*", "y", "6"]
    # the seed's names: u = cos(r), v = sin(r)
    assert rows["v"][1:] == ["sin(r)", "-0.279415"]
    assert rows["u"][1:] == ["cos(r)", "0.96017"]
    assert rows["z"][1:] == ["v", "+", "u", "0.680755"]
    # local derivatives as formulas and numbers, the product, and r adding up its two consumers
    assert "dv/dr = cos(r) = 0.96017" in backward
    assert "du/dr = -sin(r) = 0.279415" in backward
    assert "dz/dr = 0.279415 (from u) + 0.96017 (from v) = 1.23959" in backward
    assert "dr/dx = y = 3" in backward and "dr/dy = x = 2" in backward
    assert "x receives 1.23959 × 3 = 3.71876" in backward
    gradients = backward.split("Gradients")[1]
    # y (cos xy - sin xy) = 3.718757... and x (cos xy - sin xy) = 2.479172..., shown to 6 digits (the seed
    # multiplies the rounded 1.23959 and gets 3.71877 and 2.47918)
    assert close_to(gradients.split("dz/dy")[0], Y * DZ_DR) and close_to(gradients.split("dz/dy")[1], X * DZ_DR)


def test_backward_steps_run_from_the_output_to_the_inputs():
    z, _, _ = seed_graph()
    backward = cr.explain(z).split("Backward pass")[1]
    order = [line.split(" = ")[0].strip() for line in backward.splitlines() if re.match(r"^  \w+ = ", line)]
    assert order == ["z", "u", "v", "r"]


def test_the_walk_agrees_with_backward_on_a_tensor_graph():
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True, name="w")
    b = cr.tensor(rng.standard_normal(3), requires_grad=True, name="b")
    x = rng.standard_normal((5, 4))
    h = cr.tanh(x @ w + b)
    loss = cr.log_softmax(h, axis=1)[np.arange(5), [0, 1, 2, 0, 1]].mean() + (h * h).sum()
    graph = capture(loss).walk_back()
    text = cr.explain(loss)
    loss.backward()
    for leaf in (w, b):
        np.testing.assert_allclose(graph.node_of(leaf).grad, leaf.grad.numpy(), rtol=1e-12)
    assert "w receives" in text and "b receives" in text and "float64[5, 3]" in text
    assert [n.name for n in graph.inputs] == ["w", "b"]


def test_names_given_by_the_user_are_kept_and_the_rest_are_unique():
    a = cr.tensor(1.5, requires_grad=True, name="a")
    hidden = cr.exp(a)
    hidden.name = "hidden"
    out = hidden * a + a
    graph = capture(out)
    names = [n.name for n in graph.nodes]
    assert "hidden" in names and "a" in names and len(set(names)) == len(names)


def test_a_value_used_twice_adds_both_contributions():
    a = cr.tensor(0.7, requires_grad=True, name="a")
    out = a * a
    text = cr.explain(out)
    graph = capture(out).walk_back()
    assert graph.node_of(a).grad == pytest.approx(2 * 0.7)
    assert "dz/da = 0.7 (from z, via the first factor) + 0.7 (from z, via the second factor) = 1.4" in text


def test_explained_after_backward_as_before():
    z, x, _ = seed_graph()
    before = cr.explain(z)
    z.backward()  # frees the graph: what it keeps is enough to explain it again
    assert cr.explain(z) == before
    with cr.no_grad():
        x -= 0.1  # the values the graph used are gone: said, not shown wrong
    with pytest.raises(cr.GradientError, match="changed in place"):
        cr.explain(z)


def test_long_graphs_are_summarised_in_text():
    t = cr.tensor(0.5, requires_grad=True, name="t")
    out = t
    for _ in range(2000):
        out = cr.sin(out) * 1.001
    text = cr.explain(out, limit=40)
    assert "more lines (pass limit=None to see all)" in text
    assert len(text.splitlines()) < 400
    out.backward()  # the engine's own gradient, against the one the walk-through states
    assert close_to(text.split("Gradients")[1], t.grad.item())


def test_a_value_used_hundreds_of_times_is_summarised():
    x = cr.tensor(1.0001, requires_grad=True, name="x")
    out = x
    for _ in range(499):
        out = out * x
    text = cr.explain(out)
    gradients = text.split("Gradients")[1]
    assert "... (495 more)" in gradients and max(len(line) for line in gradients.splitlines()) < 200
    assert len(text.splitlines()) < 400


def test_expression_graph_matches_the_engine():
    built = build("x * exp(-y) / (1 + x**2)", {"x": 0.3, "y": -1.2})
    graph = capture(built.output).walk_back()
    built.output.backward()
    for name, leaf in built.variables.items():
        assert graph.node_of(leaf).grad == pytest.approx(leaf.grad.item(), rel=1e-14), name


def test_explanation_html_is_a_page():
    z, _, _ = seed_graph()
    page = cr.explain(z).html()
    assert page.startswith("<!DOCTYPE html>") and "Backward pass" in page and "<svg" in page


def test_python_explain_says_where_a_derivative_does_not_exist_and_where_a_convention_is_used():
    x = cr.tensor(-2.0, requires_grad=True, name="x")
    y = cr.tensor(2.0, requires_grad=True, name="y")
    text = cr.explain(x**y)
    gradients = text.split("Gradients")[1]
    assert "dz/dx = -4" in gradients
    assert "dz/dy does not exist: x**y has no derivative in its exponent where x < 0" in gradients
    a = cr.tensor(0.0, requires_grad=True, name="a")
    text = cr.explain(cr.abs(a) + cr.relu(a))
    assert "kink: abs has a kink at 0" in text and "kink: relu has a kink at 0" in text
    assert "Kinks (no derivative exists there; chainrule's convention is used)" in text


def test_explain_names_values_as_the_code_does():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.tensor(3.0, requires_grad=True)
    product = x * y
    out = cr.sin(product) + cr.cos(product)
    rows = forward_rows(cr.explain(out, names=locals()))
    assert rows["product"] == ["x", "*", "y", "6"] and rows["out"][:3] == ["v", "+", "u"]
    rows = forward_rows(cr.explain(out))  # no names: the command line's letters for the same expression
    assert rows["r"][:3] == ["x", "*", "y"] and rows["v"][0] == "sin(r)" and rows["u"][0] == "cos(r)"
    assert rows["z"][:3] == ["v", "+", "u"]


def forward_rows(text):
    forward = text.split("Backward pass")[0]
    return {line.split()[0]: line.split()[1:] for line in forward.splitlines()[3:] if line.strip()}


def test_two_tensors_given_one_name_are_told_apart_and_names_must_be_a_mapping():
    a = cr.tensor(2.0, requires_grad=True, name="p")
    b = cr.tensor(3.0, requires_grad=True, name="p")
    gradients = cr.explain(a * b).split("Gradients")[1]
    assert "dz/dp = 3" in gradients and "dz/dp' = 2" in gradients
    with pytest.raises(TypeError, match="names must map names to tensors"):
        cr.explain(a * b, names=["x"])
    with pytest.raises(TypeError, match="names must map names"):
        cr.explain(a * b, names={1: a})


def test_tensors_say_at_which_elements_a_derivative_does_not_exist():
    x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True, name="x")
    text = cr.explain(cr.sum(cr.abs(x) + cr.sqrt(cr.abs(x))))
    assert "infinite slope at v = 0 (at elements 1 of v)" in text
    assert "abs has a kink at 0" in text and "(at elements 1 of x)" in text
