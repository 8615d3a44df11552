"""Rows a Slice throws away are not computed (specc.backends.onnx_rows): the Slice moves up
through row-wise ops, never through an op that mixes the rows (softmax over them, a layer norm
over them, a value read whole elsewhere). Every case still verifies against torch, which
computes everything."""
import onnx



def shapes(path):
    model = onnx.shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
    out = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
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
