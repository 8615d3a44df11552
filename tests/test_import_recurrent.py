"""ONNX RNN and LSTM read back: specc's own exports of `rnn`, `lstm` and the glimpse network's
unrolled `lstm_cell` loop round-trip with their weights under the spec's keys, an LSTM that
plain torch.onnx.export writes for torch.nn.LSTM imports to the outputs onnxruntime gives on
the original file, and what specc's ops cannot compute is refused with the node and the
attribute named."""
import io
import textwrap
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

import specc
from onnx_models import model, run, value
from specc.core.diagnostics import SpeccError
from specc.importer import import_graph, load_imported
from specc.importer.read import from_proto
from specc.importer.roundtrip import model_of, roundtrip, seeded_weights


def _spec(tmp_path, body: str, name: str = "seq"):
    path = tmp_path / f"{name}.net"
    path.write_text("specc 1\n\nnetwork " + name + " {\n" + textwrap.indent(
        textwrap.dedent(body), "    ") + "}\n")
    return specc.load(path)


def _weights_back(net, imported_net, weights):
    """Every parameter of the original comes back under its own key, value for value."""
    first = seeded_weights(net)
    assert set(first) == set(weights)
    for key, arr in first.items():
        np.testing.assert_array_equal(weights[key], arr, err_msg=key)
    assert set(imported_net.graph.params) == set(net.graph.params)


@pytest.mark.parametrize("body", [
    "input rows: f32[N, T, 3]\nstates = rnn(rows, 5)\noutput y = states * 2.0\n",
    "input rows: f32[N, 6, 3]\nstates = rnn(rows, 5, nonlinearity=\"relu\", bias=false)\n"
    "output y = states * 2.0\n",
    "input rows: f32[N, T, 3]\nstates = lstm(rows, 4)\noutput y = states * 2.0\n",
])
def test_specc_recurrent_export_round_trips_op_for_op(tmp_path, body):
    net = _spec(tmp_path, body)
    r = roundtrip(net)
    assert r.rel == 0.0 and r.nodes[0] == r.nodes[1], (r.nodes, r.rel)
    again, weights = load_imported(import_graph(from_proto(model_of(net, seeded_weights(net))),
                                                net.name))
    _weights_back(net, again, weights)  # states.weight_ih_l0 ... in torch's gate order


def test_glimpse_unrolled_lstm_cells_share_one_set_of_weights():
    net = specc.load("specs/glimpse.net", "glimpse_small")
    r = roundtrip(net)
    assert r.rel == 0.0, r.rel
    assert r.text.count("lstm_cell(") == 1 and r.text.count("|> unit(") == 6  # one block
    assert "matmul(" not in r.text  # a Gemm of a weight the steps share is affine again
    assert "expand(blank, [N, 128])" in r.text  # expand's open batch, by its name
    first = seeded_weights(net)
    again, weights = load_imported(import_graph(from_proto(model_of(net, first)), net.name))
    assert r.text.count("param rnn_l0_") == 4  # six steps read one w_ih, w_hh, b_ih, b_hh
    for role in ("w_ih", "w_hh", "b_ih", "b_hh"):  # declared, so '.' becomes '_'
        np.testing.assert_array_equal(weights[f"rnn_l0_{role}"], first[f"rnn.l0.{role}"])


class _Torch(torch.nn.Module):
    def __init__(self, batch_first: bool, layers: int, bias: bool = True):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 5, num_layers=layers, batch_first=batch_first, bias=bias)

    def forward(self, x):
        return self.lstm(x)[0]


def _torch_onnx(module, x, open_sizes: dict | None) -> onnx.ModelProto:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), f, dynamo=False, input_names=["x"], opset_version=17,
                          dynamic_axes={"x": open_sizes} if open_sizes else None)
    return onnx.load_from_string(f.getvalue())


@pytest.mark.parametrize("batch_first,layers,bias,open_sizes", [
    (True, 1, True, {0: "N", 1: "T"}), (False, 1, True, None), (True, 2, True, None),
    (False, 2, False, {0: "T", 1: "N"})])
def test_torch_nn_lstm_export_imports_to_its_outputs(batch_first, layers, bias, open_sizes):
    torch.manual_seed(0)
    module = _Torch(batch_first, layers, bias).eval()
    x = torch.randn(2, 4, 3) if batch_first else torch.randn(4, 2, 3)
    original = _torch_onnx(module, x, open_sizes)
    if open_sizes:  # another batch size and length than the export saw: the zero state of
        x = torch.randn(3, 6, 3)  # torch's ConstantOfShape over Shape reads as zeros
    imported = import_graph(from_proto(original), "torch_lstm")
    again, weights = load_imported(imported)
    want = run(original, {"x": x.numpy()})[0]
    got = run(model_of(again, weights), {again.graph.inputs[0]: x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, module(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    # one lstm(layers=...) under torch's own keys; ONNX's i, o, f, c gates and its [Wb, Rb]
    # bias come back as torch's i, f, g, o
    assert imported.text.count("lstm(") == 1, imported.text
    if batch_first:
        assert f"lstm = lstm(x, 5{', layers=2' if layers == 2 else ''})" in imported.text
    state = module.state_dict()
    for key, arr in state.items():
        np.testing.assert_array_equal(weights[key], arr.numpy(), err_msg=key)
    assert set(weights) == set(state) | ({f"lstm.bias_{r}_l{k}" for r in ("ih", "hh")
                                          for k in range(layers)} if not bias else set())
    assert bias or not any(np.any(weights[f"lstm.bias_ih_l{k}"]) for k in range(layers))


def _onnx_lstm(**attrs):
    """One ONNX LSTM over X [2, 1, 3] with hidden 4; `inputs` extends its optional inputs."""
    rng = np.random.default_rng(0)
    extra = attrs.pop("inputs", [])
    inits = [("W", rng.standard_normal((1, 16, 3)).astype(np.float32)),
             ("R", rng.standard_normal((1, 16, 4)).astype(np.float32)),
             ("B", rng.standard_normal((1, 32)).astype(np.float32))]
    inits += [(n, a) for n, a in extra if a is not None]
    names = ["x", "W", "R", "B"] + [n for n, _ in extra]
    node = helper.make_node("LSTM", names, ["y"], name="enc", hidden_size=4, **attrs)
    return model([node], [value("x", [2, 1, 3])], [value("y", [2, 1, 1, 4])], inits)


@pytest.mark.parametrize("attrs,says", [
    ({"direction": "bidirectional"}, 'direction="bidirectional"'),
    ({"clip": 3.0}, "clip=3.0"),
    ({"activations": ["Sigmoid", "Relu", "Tanh"]}, "activations=['Sigmoid', 'Relu', 'Tanh']"),
    ({"input_forget": 1}, "input_forget=1"),
    ({"inputs": [("lens", np.array([1], np.int32))]}, "sequence_lens (input 4"),
    ({"inputs": [("", None), ("h0", np.ones((1, 1, 4), np.float32))]}, "initial_h and initial_c"),
])
def test_what_lstm_cannot_compute_is_refused_by_node_and_attribute(attrs, says):
    m = _onnx_lstm(**attrs)
    with pytest.raises(SpeccError) as e:
        import_graph(from_proto(m), "m")
    text = str(e.value)
    assert "LSTM 'enc'" in text and says in text, text


def test_an_onnx_lstm_with_its_own_weights_imports_to_its_outputs():
    m = _onnx_lstm()
    again, weights = load_imported(import_graph(from_proto(m), "m"))
    x = np.random.default_rng(1).standard_normal((2, 1, 3)).astype(np.float32)
    want = run(m, {"x": x})[0]
    got = run(model_of(again, weights), {again.graph.inputs[0]: x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gru_is_refused_by_name():
    rng = np.random.default_rng(0)
    node = helper.make_node("GRU", ["x", "W", "R"], ["y"], name="gru0", hidden_size=4)
    m = model([node], [value("x", [2, 1, 3])], [value("y", [2, 1, 1, 4])],
              [("W", rng.standard_normal((1, 12, 3)).astype(np.float32)),
               ("R", rng.standard_normal((1, 12, 4)).astype(np.float32))])
    with pytest.raises(SpeccError) as e:
        import_graph(from_proto(m), "m")
    assert "GRU: 1 node(s), first 'gru0'" in str(e.value)


@pytest.mark.parametrize("op", ["lstm(rows, 4, layers=3)", "rnn(rows, 4, layers=2)"])
def test_layers_come_back_as_one_op(tmp_path, op):
    net = _spec(tmp_path, f"input rows: f32[N, T, 3]\nstates = {op}\noutput y = states * 2.0\n")
    r = roundtrip(net)
    assert r.rel == 0.0 and r.nodes[0] == r.nodes[1], (r.nodes, r.rel)
    assert op.split("(")[0] + "(" in r.text and "layers=" in r.text, r.text
    again, weights = load_imported(import_graph(from_proto(model_of(net, seeded_weights(net))),
                                                net.name))
    _weights_back(net, again, weights)  # states.weight_ih_l1 ... as the spec keeps them


def _onnx_rnn(opset: int = 17, **attrs):
    """One ONNX RNN over X (time-major [3, 2, 3], or batch first with layout=1), hidden 4."""
    rng = np.random.default_rng(2)
    extra = attrs.pop("inputs", [])
    inits = [("W", rng.standard_normal((1, 4, 3)).astype(np.float32)),
             ("R", rng.standard_normal((1, 4, 4)).astype(np.float32) * 0.5),
             ("B", rng.standard_normal((1, 8)).astype(np.float32))]
    inits += [(n, a) for n, a in extra if a is not None]
    names = ["x", "W", "R", "B"] + [n for n, _ in extra]
    node = helper.make_node("RNN", names, ["y", "y_h"], name="elman", hidden_size=4, **attrs)
    y = [3, 2, 1, 4] if attrs.get("layout") else [3, 1, 2, 4]
    y_h = [3, 1, 4] if attrs.get("layout") else [1, 2, 4]
    return model([node], [value("x", [3, 2, 3])], [value("y", y), value("y_h", y_h)], inits,
                 opset)


@pytest.mark.parametrize("attrs", [{}, {"activations": ["Relu"]}, {"layout": 1},
                                   {"inputs": [("lens", np.array([3, 3], np.int32))]}])
def test_an_onnx_rnn_imports_to_its_outputs_and_last_state(attrs):
    m = _onnx_rnn(**attrs)
    again, weights = load_imported(import_graph(from_proto(m), "m"))
    x = np.random.default_rng(3).standard_normal((3, 2, 3)).astype(np.float32)
    if attrs.get("layout"):  # onnxruntime has no batchwise RNN: ONNX's own evaluator
        from onnx.reference import ReferenceEvaluator
        want = ReferenceEvaluator(m).run(None, {"x": x})
    else:
        want = run(m, {"x": x})
    got = run(model_of(again, weights), {again.graph.inputs[0]: x})
    assert len(got) == 2
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    owner = {k.rsplit(".", 1)[0] for k in weights}
    assert len(owner) == 1, weights.keys()  # one rnn owns W, R and B as torch's four tensors
    (owner,) = owner
    w, r, b = (numpy_helper.to_array(t) for t in m.graph.initializer[:3])
    for role, arr in (("weight_ih", w[0]), ("weight_hh", r[0]), ("bias_ih", b[0, :4]),
                      ("bias_hh", b[0, 4:])):
        np.testing.assert_array_equal(weights[f"{owner}.{role}_l0"], arr)


def test_a_refused_rnn_exits_1_naming_node_and_input(tmp_path):
    from conftest import run_main
    path = tmp_path / "rnn.onnx"
    onnx.save(_onnx_rnn(inputs=[("", None), ("h0", np.ones((1, 2, 4), np.float32))]),
              str(path))
    r = run_main("import", path, "-o", tmp_path / "rnn.net")
    assert r.returncode == 1, r.stderr
    assert "RNN 'elman': initial_h (input 5, 'h0') is given" in r.stderr, r.stderr
    assert not (tmp_path / "rnn.net").exists()


def test_an_lstm_whose_sizes_disagree_is_refused_not_crashed():
    m = _onnx_lstm()
    m.graph.node[0].attribute[0].i = 5  # hidden_size 5 against W [1, 16, 3], R [1, 16, 4]
    with pytest.raises(SpeccError) as e:
        import_graph(from_proto(m), "m")
    assert "LSTM 'enc': hidden_size=5 with R [1, 16, 4]" in str(e.value), str(e.value)


def test_one_step_lstms_sharing_weights_share_one_tensor():
    """Two one-step LSTM nodes from given states over the same W, R, B (an unrolled loop from
    another exporter): one declared tensor each, read by both steps."""
    rng = np.random.default_rng(4)
    w, r, b = (rng.standard_normal(s).astype(np.float32) for s in ((1, 16, 3), (1, 16, 4),
                                                                   (1, 32)))
    nodes = [helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["y", "h", "c"],
                              name="step0", hidden_size=4),
             helper.make_node("LSTM", ["x", "W", "R", "B", "", "h", "c"], ["y2", "h2", "c2"],
                              name="step1", hidden_size=4)]
    m = model(nodes, [value("x", [1, 2, 3]), value("h0", [1, 2, 4]), value("c0", [1, 2, 4])],
              [value("h2", [1, 2, 4])], [("W", w), ("R", r), ("B", b)])
    imported = import_graph(from_proto(m), "m")
    assert imported.text.count("param W") == 1 and imported.text.count("param R") == 1
    again, weights = load_imported(imported)
    feeds = {n: rng.standard_normal(s).astype(np.float32)
             for n, s in (("x", (1, 2, 3)), ("h0", (1, 2, 4)), ("c0", (1, 2, 4)))}
    got = run(model_of(again, weights), {imported.input_names[k]: v for k, v in feeds.items()})
    np.testing.assert_allclose(got[0], run(m, feeds)[0], rtol=1e-5, atol=1e-6)
