"""Rows a Slice throws away are not computed (specc/passes/rows.py): the Slice moves up
through row-wise ops, never through an op that mixes the rows (softmax over them, a layer norm
over them, a value read whole elsewhere). Every case still verifies against torch, which
computes everything."""
import onnx
import pytest
import torch

import specc
from specc import passes
from specc.backends.onnx_compare import sample_inputs
from specc.backends.torch_module import build_module, init_weights
from specc.ops.registry import Example, all_ops
from specc.ops.rows import row_rule

from conftest import SPECS


def shapes(path):
    model = onnx.shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
    out = {}
    for vi in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input):
        out[vi.name] = [d.dim_value or d.dim_param for d in vi.type.tensor_type.shape.dim]
    return model, out


def export(load_spec, tmp_path, text):
    net = load_spec(text)
    path = tmp_path / "n.onnx"
    result = net.to_onnx(path)
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    return shapes(path)


def ops_on(model, sizes, op_type):
    """The shapes of the first input of every node of this type, without the batch dim
    (which ONNX shape inference may call by another symbol)."""
    return [sizes[n.input[0]][1:] for n in model.graph.node if n.op_type == op_type]


def test_a_token_slice_moves_up_through_rowwise_ops(load_spec, tmp_path):
    model, sizes = export(load_spec, tmp_path, """network n {
        input x: f32[N, 5, 4]
        h = layernorm(relu(linear(x, 6)) * 2.0 + 1.0)
        output y = slice(h, 1, 0, 1)
    }""")
    assert ops_on(model, sizes, "LayerNormalization") == [[1, 6]]
    assert ops_on(model, sizes, "Relu") == [[1, 6]]
    assert ops_on(model, sizes, "MatMul") == [[1, 4]]  # x's rows, cut where read
    assert sizes["y"][1:] == [1, 6]


def test_a_value_read_whole_elsewhere_is_computed_whole(load_spec, tmp_path):
    model, sizes = export(load_spec, tmp_path, """network n {
        input x: f32[N, 5, 4]
        h = relu(linear(x, 6))
        output y = slice(h, 1, 0, 1) + slice(h, 1, 1, 2)
        output z = h
    }""")
    assert ops_on(model, sizes, "Relu") == [[5, 6]]


def test_ops_that_mix_the_sliced_axis_are_not_crossed(load_spec, tmp_path):
    model, sizes = export(load_spec, tmp_path, """network n {
        input x: f32[N, 5, 4]
        output y = slice(softmax(x * 3.0, axis=1), 1, 0, 2)
        output z = slice(layernorm(x * 2.0), 2, 1, 3)
    }""")
    assert ops_on(model, sizes, "Softmax") == [[5, 4]]
    assert ops_on(model, sizes, "LayerNormalization") == [[5, 4]]


def test_through_transposes_and_reshapes_that_keep_the_axis(load_spec, tmp_path):
    model, sizes = export(load_spec, tmp_path, """network n {
        input x: f32[N, 6, 8]
        h = x * 2.0 |> reshape([6, 2, 4]) |> transpose([0, 2, 1, 3]) |> sigmoid
        output y = slice(h, 2, 3, 5)
    }""")
    assert ops_on(model, sizes, "Sigmoid") == [[2, 2, 4]]
    assert ops_on(model, sizes, "Mul") == [[2, 8]]


def test_vit_computes_its_last_layer_for_the_class_token_only(load_spec, tmp_path):
    """Two layers: the second's output projection and MLP run on 1 of 17 tokens; its keys
    and values (and all of the first layer) on all of them."""
    model, sizes = export(load_spec, tmp_path, 'import "vit.net"\nnetwork t = vit(size=32, '
                          "patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)")
    norms = ops_on(model, sizes, "LayerNormalization")
    # ln_1, ln_2 of layer 0, ln_1 of layer 1 whole; ln_2 of layer 1 and the final ln: 1 row
    assert norms == [[17, 32]] * 3 + [[1, 32]] * 2
    softmax = ops_on(model, sizes, "Softmax")
    assert softmax == [[2, 17, 17], [2, 1, 17]]


def test_an_op_without_a_rows_rule_stops_the_move(load_spec, tmp_path):
    """prelu declares no rows rule (nor the elementwise trait): it is computed whole and cut
    after; the linear before it is whole too."""
    model, sizes = export(load_spec, tmp_path, """network n {
        input x: f32[N, 5, 4]
        output y = slice(prelu(linear(x, 6)), 2, 0, 3)
    }""")
    assert ops_on(model, sizes, "PRelu") == [[5, 6]]
    assert ops_on(model, sizes, "MatMul") == [[5, 4]]


# More calls for ops whose own example has no axis a slice can move through (linear's
# [N, 7] has only the batch axis before its features)
MORE = {"linear": [("f32[N, 3, 7]",), "linear(x0, 5)"],
        "flatten": [("f32[N, 3, 2, 2]",), "flatten(x0, 2)"],
        "reshape": [("f32[N, 2, 3, 4]",), "reshape(x0, [2, 12])"],
        "log_softmax": [("f32[N, 3, 5]",), "log_softmax(x0, axis=2)"]}


def _cases(name):
    op = all_ops()[name]
    yield op.example
    if name in MORE:
        inputs, call = MORE[name]
        yield Example(inputs, call)


@pytest.mark.parametrize("name", sorted(n for n, op in all_ops().items() if row_rule(op)))
def test_every_rows_rule_computes_the_rows_it_claims(name, tmp_path):
    """Every op with a rows rule (its own, or broadcasting for an elementwise op), sliced
    along each axis of its example's output: the inference graph computes the op on part
    of its inputs, and torch running that graph gives the rows torch running the whole
    graph gives. Both backends lower the narrowed graph; ONNX's side is the export tests."""
    narrowed = 0
    for example in _cases(name):
        path = tmp_path / "n.net"
        path.write_text(example.spec())
        out = specc.load(path).graph
        out_type = out.values[next(iter(out.outputs.values()))].type
        for axis, size in enumerate(out_type.shape):
            if not isinstance(size, int) or size < 2:
                continue
            call = f"slice({example.call}, {axis}, 1, {size})"
            path.write_text(Example(example.inputs, call, example.decls).spec())
            graph = specc.load(path).graph
            inference = passes.run(graph, passes.INFERENCE)
            if not any(n.outputs[0].endswith("/rows") and n.op == name
                       for n in inference.nodes):
                continue
            narrowed += 1
            weights = init_weights(graph, seed=0)
            feeds = {k: torch.from_numpy(v) for k, v in sample_inputs(graph, 2).items()}
            with torch.no_grad():
                whole = build_module(graph, weights=weights).eval()(*feeds.values())
                part = build_module(inference, weights={k: weights[k] for k in
                                                        inference.params}).eval()(*feeds.values())
            assert part.shape == whole.shape
            torch.testing.assert_close(part, whole, rtol=1e-5, atol=1e-6)
    assert narrowed, f"{name}'s rows rule narrows none of its examples"


def test_the_pass_keeps_the_spec_location_and_its_input():
    """Narrowed nodes keep the span of the node they replace (errors point at the spec) and
    the graph the pass was given stays as it was."""
    net = specc.load(SPECS / "vit.net", "vit_b_16")
    before = [(n.name, list(n.inputs)) for n in net.graph.nodes]
    inference = passes.run(net.graph, passes.INFERENCE)
    assert [(n.name, list(n.inputs)) for n in net.graph.nodes] == before
    parts = [n for n in inference.nodes if n.outputs[0].endswith("/rows")]
    assert parts and all(n.span is not None for n in parts)
    ln = inference.node("encoder.ln/rows")  # the final layer norm, on the class token
    assert inference.values["encoder.ln/rows"].type.shape == ("N", 1, 768)
    assert ln.span == net.graph.node("encoder.ln").span
    # the last layer's MLP and output projection on 1 of 197 tokens: 6 % of the MACs
    assert 0.93 < inference.macs / net.graph.macs < 0.95
