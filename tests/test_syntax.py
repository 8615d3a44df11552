"""Syntax that does not trip people: keywords never swallow the start of a name; `as` stands
after a return and on a continuation line; conditionals and chains span lines."""
import re

import pytest

import specc
from specc.core.resources import grammar_path

KEYWORDS = sorted({w for w in re.findall(r'"([a-z]+)"', grammar_path().read_text())})


def test_the_keyword_list_is_read_from_the_grammar():
    assert {"param", "fixed", "train", "true", "false", "none", "as", "return"} <= set(KEYWORDS)


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_a_name_may_start_with_a_keyword(keyword, load_spec):
    name = keyword + "s"
    net = load_spec(f"""
block unit(x, {name}: int = 2) {{
    {keyword}_cost = linear(x, {name})
    return {keyword}_cost
}}
network n({keyword}y: int = 3) {{
    input x: f32[N, 4]
    {name} = unit(x, {name}={keyword}y)
    output out = {name}
}}""")
    assert list(net.graph.params) == [f"{name}.{keyword}_cost.weight",
                                      f"{name}.{keyword}_cost.bias"]
    assert net.outputs()[0]["shape"] == ["N", 3]


def test_the_names_the_issue_reported(load_spec):
    net = load_spec("""
network n(trainable: bool = true, fixed_cost: int = 2) {
    input x: f32[N, 4]
    params = relu(x)
    truest = trainable
    nonempty = linear(params, fixed_cost)
    falsey = truest ? nonempty : nonempty
    output out = falsey
}""")
    assert [n.name for n in net.graph.nodes] == ["params", "nonempty"]


def test_as_after_a_return_and_on_a_continuation_line(load_spec):
    net = load_spec("""
block head(x) {
    return x |> linear(4) |> relu
        as "classifier"
}
network n {
    input x: f32[N, 8]
    y = x |> linear(8)
        |> relu
        as "features"
    output out = head(y)
}""")
    assert [n.name for n in net.graph.nodes] == ["features.0", "features.1", "out.classifier.0",
                                                 "out.classifier.1"]


def test_as_names_one_returned_value(spec_error):
    text = spec_error("""
block two(x) {
    return relu(x), relu(x) as "pair"
}
network n {
    input x: f32[N, 8]
    a, b = two(x)
    output out = a
}""")
    assert text.startswith("t.net:4:32: error: 'as' names one returned value")


def test_a_conditional_spans_lines(load_spec):
    net = load_spec("""
network n(wide: bool = false) {
    input x: f32[N, 8]
    y = wide
        ? linear(x, 16)
        : linear(x, 4)
    z = wide ?
        y :
        relu(y)
    output out = z
}""")
    assert net.outputs()[0]["shape"] == ["N", 4]


def test_a_chain_continues_after_a_trailing_pipe(load_spec):
    net = load_spec("""
network n {
    input x: f32[N, 8]
    y = x |>
        linear(4) |>
        relu
    output out = y
}""")
    assert [n.name for n in net.graph.nodes] == ["y.0", "y.1"]


def test_an_empty_label_numbers_a_chain_in_its_scope(load_spec, tmp_path):
    """`as ""` on a chain makes the enclosing scope the sequence, as torchvision's
    Conv2dNormActivation is an nn.Sequential: conv `0`, norm `1`, activation `2`."""
    net = load_spec("""
block conv_norm(x, width: int) {
    return x |> conv(width, 3, padding=1, bias=false) |> batchnorm |> relu as ""
}
network n {
    input x: f32[N, 3, 8, 8]
    features = x |> conv_norm(4) |> conv_norm(8)
    top = features |> linear(2) |> relu as ""
    output out = top
}""")
    assert [n.name for n in net.graph.nodes][:4] == ["features.0.0", "features.0.1",
                                                     "features.0.2", "features.1.0"]
    assert "0.weight" in net.graph.params and "1" in [n.name for n in net.graph.nodes]
    module = net.to_torch()
    assert "features.1.1.running_var" in module.state_dict()
    assert net.to_onnx(tmp_path / "n.onnx").max_rel_error < 1e-5
