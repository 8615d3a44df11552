"""Broadcasting by NumPy's rule: the shape rule against numpy itself, the lowerings against
torch and onnxruntime, and the batch-dim rule for parameters (they have none)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import specc
from specc.ops.registry import ShapeError
from specc.ops.shapes import broadcast

from test_onnx_parity import parity

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@settings(max_examples=200, deadline=None)
@given(a=shapes, b=shapes)
def test_broadcast_rule_is_numpys(a, b):
    try:
        expected = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(ShapeError, match="cannot broadcast"):
            broadcast([a, b], "'+'")
    else:
        assert broadcast([a, b], "'+'") == expected


def test_symbols_broadcast_only_against_themselves_or_one():
    assert broadcast([("N", 3, 1), (1, 5)], "'*'") == ("N", 3, 5)
    assert broadcast([("N", 3), ("N", 1)], "'*'") == ("N", 3)
    with pytest.raises(ShapeError, match=r"dim 0 of the result would be both N and 4"):
        broadcast([("N", 3), (4, 3)], "'*'")


CASES = {  # a network body over input x; what it exercises
    "se_scale": ("f32[N, 6, 5, 5]", "x * sigmoid(global_avgpool(x))"),
    "row_param": ("f32[N, 4, 8]", "x + b"),
    "column": ("f32[N, 8, 4]", "x / (reshape(b, [8, 1]) * 0.1 + 2.0)"),
    "matmul_shared": ("f32[N, 3, 4, 8]", "matmul(x, w)"),
    "reshape_param": ("f32[N, 2, 4]", "x - (reshape(w, [4, 4]) |> slice(0, 0, 2))"),
    "pad_param": ("f32[N, 10, 4]", "x + pad(w, [1, 1, 0, 2])"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broadcasting_parity(name, write_spec):
    shape, expr = CASES[name]
    net = specc.load(write_spec(f"""
network n {{
    input x: {shape}
    param b: f32[8] = uniform(-1, 1)
    param w: f32[8, 2] = uniform(-1, 1)
    output y = {expr}
}}"""))
    err, tol = parity(net)
    assert err <= tol


def test_a_parameter_has_no_batch_dim(load_spec):
    net = load_spec("""
network n {
    input x: f32[N, 4]
    param w: f32[2, 6] = uniform(-1, 1)
    r = reshape(w, [3, 4])
    output y = matmul(x, transpose(r, [1, 0]))
}""")
    types = {n.name: n.outputs[0] for n in net.graph.nodes}
    assert net.graph.values[types["r"]].type.shape == (3, 4)
    assert net.outputs()[0]["shape"] == ["N", 3]


@pytest.mark.parametrize("opset", [13, 17])
def test_expand_reads_the_batch_size_at_run_time(opset, write_spec):
    """Shape(start, end) exists from opset 15; before it the size is gathered."""
    net = specc.load(write_spec("""
network n {
    input x: f32[N, 3, 4]
    param token: f32[1, 1, 4] = uniform(-1, 1)
    output y = concat([expand(token, [x.shape[0], -1, -1]), x], axis=1)
}"""))
    for batch in (1, 3):
        err, tol = parity(net, batch=batch, opset=opset)
        assert err <= tol
