"""The language: every construct DESIGN.md section 3 asks for, through the real pipeline."""
import pytest

import specc
from specc.lang.parse import parse_expr, parse_type
from specc.lang import ast as A

MLP = """
block dense(x, width: int, act: block = relu_block) {
    return act(linear(x, width))
}
block relu_block(x) {
    return relu(x)
}
network mlp(widths: [int] = [32, 16], classes: int = 3) {
    input x: f32[N, 8]
    h = x
    for i, w in enumerate(widths) {
        h = dense(h, w) as "hidden" + str(i)
    }
    output logits = linear(h, classes)
}
"""


def test_expressions_and_types_parse_alone():
    e = parse_expr("a |> conv(64, 3) |> relu")
    assert isinstance(e, A.ExprPipe) and isinstance(e.source, A.ExprPipe)
    assert isinstance(parse_expr("c ? 1 : 2"), A.ExprTernary)
    t = parse_type("f32[N, 3, 224, 224]")
    assert isinstance(t, A.TypeTensor) and t.dtype == "f32" and len(t.dims) == 4
    assert isinstance(parse_type("[int]"), A.TypeList)


def test_blocks_loops_labels_and_block_arguments(load_spec):
    net = load_spec(MLP)
    assert list(net.graph.params) == ["hidden0.linear.weight", "hidden0.linear.bias",
                                      "hidden1.linear.weight", "hidden1.linear.bias",
                                      "logits.weight", "logits.bias"]
    assert net.params == 8 * 32 + 32 + 32 * 16 + 16 + 16 * 3 + 3
    assert net.outputs() == [{"name": "logits", "shape": ["N", 3], "dtype": "f32"}]


def test_chain_numbering_continues_across_loop_iterations(load_spec):
    net = load_spec("""
network vggish(cfg: [int] = [8, 0, 16, 0]) {
    input image: f32[N, 3, 16, 16]
    features = image
    for v in cfg {
        if v == 0 {
            features = features |> maxpool(2)
        } else {
            features = features |> conv(v, 3, padding=1) |> relu
        }
    }
    output y = features
}""")
    names = [n.name for n in net.graph.nodes]
    assert names == ["features.0", "features.1", "features.2", "features.3", "features.4",
                     "features.5"]
    assert "features.3.weight" in net.graph.params


def test_loop_indices_become_path_segments(load_spec):
    net = load_spec("""
network n {
    input x: f32[N, 4]
    for i in range(3) {
        x = linear(x, 4)
    }
    output y = x
}""")
    assert [n.name for n in net.graph.nodes] == ["x.0", "x.1", "x.2"]


def test_presets_imports_and_constants(write_spec):
    write_spec("width = 6\nblock two(x) {\n return x |> linear(width) |> relu\n}\n", "lib.net")
    path = write_spec("""import "lib.net"
network base(scale: int) {
    input x: f32[N, 5]
    y = two(x)
    output out = linear(y, scale * width)
}
network small = base(scale=2)
network tiny = small
""", "main.net")
    net = specc.load(path, "small")
    assert net.outputs()[0]["shape"] == ["N", 12]
    assert specc.load(path, "tiny").params == net.params
    with pytest.raises(specc.SpeccError, match="needs a value for 'scale'"):
        specc.load(path, "base")


def test_bundled_library_import(write_spec):
    path = write_spec("""import "resnet.net"
network tiny_res {
    input x: f32[N, 16, 8, 8]
    y = basic(x, 16)
    output out = y
}""")
    net = specc.load(path)
    assert "y.conv1.weight" in net.graph.params


def test_weight_tying_and_fixed_parameters(load_spec):
    net = load_spec("""
network tied {
    input x: f32[N, 4]
    param w: f32[4, 4] = uniform(-0.1, 0.1)
    fixed codes: f32[2, 4] = [[1, -1, 1, -1], [-1, 1, -1, 1]]
    h = matmul(tanh(matmul(x, w)), w)
    output y = matmul(h, transpose(codes, [1, 0]) |> identity)
}""")
    assert net.params == 16  # w counts once, codes are fixed
    module = net.to_torch(seed=0)
    assert [n for n, _ in module.named_parameters()] == ["w"]
    assert "codes" in dict(module.named_buffers())


def test_tensor_arithmetic_broadcasts_and_residual_joins_stay_strict(load_spec, spec_error):
    net = load_spec("""
network arith {
    input a: f32[N, 3]
    input b: f32[N, 3]
    output s = (a + b) * 0.5 - a / 2
    output d = concat([a, b])
}""")
    assert [o["shape"] for o in net.outputs()] == [["N", 3], ["N", 6]]
    err = spec_error("network j {\n input a: f32[N, 3]\n input b: f32[N, 4]\n output s = a + b\n}")
    assert "cannot broadcast [N, 3] and [N, 4]: dim 1 of the result would be both 3 and 4" in err


def test_symbolic_dims_and_tensor_attributes(load_spec):
    net = load_spec("""
network shapes(size: int = 12) {
    input x: f32[B, 2, size, size]
    assert x.channels == 2 and x.height == size, "channels"
    y = conv(x, 4, 3)
    assert y.shape[2] == size - 2, "conv shrinks by kernel - 1"
    output out = y
}""")
    assert net.inputs()[0]["shape"] == ["B", 2, 12, 12]


def test_destructuring_multiple_returns_and_outputs(load_spec):
    net = load_spec("""
block split(x) {
    return slice(x, 1, 0, 2), slice(x, 1, 2, 4)
}
network two {
    input x: f32[N, 4]
    lo, hi = split(x)
    output first = lo
    output second = hi
}""")
    assert [o["name"] for o in net.outputs()] == ["first", "second"]


def test_docstrings_and_recipes(load_spec):
    net = load_spec('''
network documented {
    """Doc. Some Author, "A Paper", 1999."""
    input x: f32[N, 2]
    output y = linear(x, 2)
    train {
        epochs = 3
        optimizer = adam(lr=0.01)
        schedule = cosine
        labels = ["a", "b"]
    }
}''')
    assert net.graph.doc.startswith("Doc.")
    assert net.recipe["optimizer"] == {"name": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999,
                                       "weight_decay": 0.0}
    assert net.recipe["schedule"]["name"] == "cosine"


def test_loading_never_executes_python(load_spec, spec_error):
    err = spec_error('network n {\n input x: f32[N, 2]\n y = __import__("os")\n output o = x\n}')
    assert "unknown name '__import__'" in err


def test_several_networks_need_a_pick(write_spec):
    path = write_spec("network a {\n input x: f32[N, 2]\n output y = x |> relu\n}\n"
                      "network b {\n input x: f32[N, 2]\n output y = x |> tanh\n}\n")
    with pytest.raises(specc.SpeccError, match="pick one as FILE:NET"):
        specc.load(path)
    assert specc.load(path, "b").name == "b"
    assert [n for n, _, _ in specc.load_all(path)] == ["a", "b"]


def test_standard_library_blocks(write_spec):
    path = write_spec("""import "blocks.net"
block body(x) {
    return x |> conv_bn(8, 3) |> conv_bn(8, 3, relu=false)
}
network small {
    input image: f32[N, 3, 16, 16]
    stem = conv_bn(image, 8, 3, stride=2)
    res = residual(stem, body)
    head = classifier(res, 10, dropout=0.1)
    output logits = mlp(head, [16, 4])
}""")
    net = specc.load(path)
    names = list(net.graph.params)
    assert "stem.conv.weight" in names
    assert "res.y.conv_bn.conv.weight" in names and "res.y.conv_bn_1.bn.bias" in names  # unnamed chain
    assert "head.fc.weight" in names and "logits.fc1.weight" in names
    assert net.outputs()[0]["shape"] == ["N", 4]


def test_a_preset_of_a_preset_may_rebind_a_parameter(write_spec):
    path = write_spec("""
network base(scale: int, size: int = 4) {
    input x: f32[N, size]
    output out = linear(x, scale)
}
network small = base(scale=2)
network wide = small(scale=3, size=5)
""")
    assert specc.load(path, "wide").outputs()[0]["shape"] == ["N", 3]
    assert specc.load(path, "wide").inputs()[0]["shape"] == ["N", 5]
    bad = write_spec('import "t.net"\nnetwork bad = small(3, 4)\n', "bad.net")
    with pytest.raises(specc.SpeccError, match="has 1 unbound parameters, got 2 positional"):
        specc.load(bad, "bad")
