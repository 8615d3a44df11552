"""`specc import`: ONNX -> a spec and its weights, from good models and from bad files."""
import json
import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import specc
from conftest import ROOT, run_main
from onnx_models import conv_net, model, run, save, value


def _import(tmp_path, m, *extra):
    src = save(m, tmp_path / "model.onnx")
    out = tmp_path / "net.net"
    r = run_main("import", src, "-o", out, *extra)
    return r, out


def _export(spec, weights, path):
    net = specc.load(spec)
    net.to_onnx(path, weights=str(weights), verify=False)
    return onnx.load(str(path))


def test_import_check_export_gives_the_models_outputs(tmp_path):
    m = conv_net()
    r, out = _import(tmp_path, m)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and out.exists() and out.with_suffix(".safetensors").exists()
    text = out.read_text()
    assert "input x: f32[N, 3, 8, 8]" in text  # the symbolic batch stays symbolic
    assert run_main("check", out).returncode == 0
    from safetensors import safe_open
    with safe_open(str(out.with_suffix(".safetensors")), "np") as f:
        assert sorted(f.keys()) == ["conv.bias", "conv.weight", "fc.bias", "fc.weight"]
        np.testing.assert_array_equal(f.get_tensor("conv.weight"),
                                      numpy_helper.to_array(m.graph.initializer[0]))
    again = _export(out, out.with_suffix(".safetensors"), tmp_path / "again.onnx")
    x = np.random.default_rng(1).standard_normal((3, 3, 8, 8)).astype(np.float32)
    want, got = run(m, {"x": x})[0], run(again, {"x": x})[0]
    assert np.abs(want - got).max() <= 1e-6 * np.abs(want).max()


def test_several_inputs_and_outputs_keep_their_names(tmp_path):
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             helper.make_node("Mul", ["a", "b"], ["prod"]),
             helper.make_node("Relu", ["sum"], ["positive"])]
    m = model(nodes, [value("a", ["N", 4]), value("b", ["N", 4])],
              [value("positive", ["N", 4]), value("prod", ["N", 4])])
    r, out = _import(tmp_path, m)
    assert r.returncode == 0, r.stderr
    net = specc.load(out)
    assert net.graph.inputs == ["a", "b"] and list(net.graph.outputs) == ["positive", "prod"]


def test_pytorch_export_keeps_module_names_and_folds_the_shape_subgraph(tmp_path):
    """torch.onnx.export writes `view(x.size(0), -1)` as Shape -> Gather -> Unsqueeze ->
    Concat -> Reshape; with do_constant_folding=False it keeps the module's parameter names."""
    import torch

    class Unit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(4)

        def forward(self, x):
            return torch.relu(self.bn1(self.conv1(x)) + x)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = torch.nn.Sequential(Unit(), Unit())
            self.fc = torch.nn.Linear(4 * 5 * 5, 3)

        def forward(self, x):
            y = self.layer1(x)
            return self.fc(y.view(y.size(0), -1))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "model.onnx"
    torch.onnx.export(net, torch.randn(2, 4, 5, 5), str(path), dynamo=False,
                      do_constant_folding=False, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    assert any(n.op_type == "Shape" for n in onnx.load(str(path)).graph.node)
    out = tmp_path / "net.net"
    r = run_main("import", path, "-o", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "input image: f32[batch, 4, 5, 5]" in text
    spec = specc.load(out)
    keys = {p.name for p in spec.graph.params.values()}
    assert {"layer1.0.conv1.weight", "layer1.1.bn1.running_var", "fc.weight"} <= keys
    assert spec.graph.values[spec.graph.outputs["logits"]].type.shape == ("batch", 3)
    module = spec.to_torch()
    from specc.backends.torch_module import load_model_weights
    load_model_weights(module, out.with_suffix(".safetensors"))
    x = torch.randn(3, 4, 5, 5)
    with torch.no_grad():
        assert torch.allclose(module.eval()(x), net(x), rtol=1e-5, atol=1e-6)


def test_every_unmapped_op_is_listed_once_with_its_count_and_first_node(tmp_path):
    nodes = [helper.make_node("Det", ["x"], ["d1"], name="first_det"),
             helper.make_node("Det", ["x"], ["d2"], name="second_det"),
             helper.make_node("Unique", ["x"], ["u"], name="the_unique"),
             helper.make_node("Add", ["d1", "d2"], ["y"])]
    m = model(nodes, [value("x", [3, 3])], [value("y", [])])
    r, out = _import(tmp_path, m)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "2 ONNX op type(s) specc cannot map (3 node(s))" in r.stderr
    assert "Det: 2 node(s), first 'first_det'" in r.stderr
    assert "Unique: 1 node(s), first 'the_unique'" in r.stderr
    assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_control_flow_names_its_nodes(tmp_path):
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "b", [],
                               [value("o", [2])])
    nodes = [helper.make_node("Greater", ["x", "x"], ["c0"]),
             helper.make_node("ReduceMax", ["c0"], ["c"], keepdims=0),
             helper.make_node("If", ["c"], ["y"], name="choose", then_branch=branch,
                              else_branch=branch)]
    m = model(nodes, [value("x", [2])], [value("y", [2])])
    r, _ = _import(tmp_path, m)
    assert r.returncode == 1
    assert "control flow is not supported" in r.stderr and "If 'choose'" in r.stderr


@pytest.mark.parametrize("kind", ["truncated", "spec", "safetensors", "zip", "empty", "garbage"])
def test_files_that_are_not_onnx_models(tmp_path, kind):
    path = tmp_path / "model.onnx"
    good = conv_net().SerializeToString()
    path.write_bytes({
        "truncated": good[:len(good) // 2],
        "spec": b"specc 1\nnetwork n { input x: f32[N, 2]  output y = relu(x) }\n",
        "safetensors": (8).to_bytes(8, "little") + b'{"a":{}}',
        "zip": b"PK\x03\x04" + b"\0" * 64,
        "empty": b"",
        "garbage": bytes(range(256)) * 4}[kind])
    out = tmp_path / "net.net"
    out.write_text("keep me")
    r = run_main("import", path, "-o", out)
    assert r.returncode == 1, r.stdout
    assert "Traceback" not in r.stderr and "error:" in r.stderr
    assert out.read_text() == "keep me" and not out.with_suffix(".safetensors").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".specc-tmp")]


def test_a_folder_or_missing_file_is_refused(tmp_path):
    assert run_main("import", tmp_path, "-o", tmp_path / "a.net").returncode == 1
    r = run_main("import", tmp_path / "none.onnx", "-o", tmp_path / "a.net")
    assert r.returncode == 1 and "no such file" in r.stderr


def _external_model(tmp_path, location: str):
    m = conv_net()
    t = m.graph.initializer[2]  # fc.weight, 480 floats
    data = numpy_helper.to_array(t).tobytes()
    (tmp_path / "weights.bin").write_bytes(data)
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(data)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return save(m, tmp_path / "model.onnx")


def test_external_data_beside_the_model_is_read(tmp_path):
    src = _external_model(tmp_path, "weights.bin")
    r = run_main("import", src, "-o", tmp_path / "net.net")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("location,message", [
    ("missing.bin", "is missing"), ("/etc/passwd", "relative to the model's folder"),
    ("../weights.bin", "leaves the model's folder"), ("link.bin", "a link out of")])
def test_external_data_outside_the_folder_is_refused(tmp_path, location, message):
    inner = tmp_path / "inner"
    inner.mkdir()
    src = _external_model(inner, location)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 1920)
    os.symlink(tmp_path / "weights.bin", inner / "link.bin")
    r = run_main("import", src, "-o", tmp_path / "net.net")
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert not (tmp_path / "net.net").exists()


def test_old_opsets_are_converted(tmp_path):
    m = conv_net(opset=9)
    r, out = _import(tmp_path, m)
    assert r.returncode == 0, r.stderr
    assert "opset 9 converted to 13" in out.read_text()


def test_an_input_that_feeds_a_weight_is_refused_with_the_reason(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c")]
    m = model(nodes, [value("x", [1, 2, 5, 5]), value("w", [3, 2, 3, 3])],
              [value("y", [1, 3, 3, 3])])
    r, _ = _import(tmp_path, m)
    assert r.returncode == 1 and "specc's op owns its weights" in r.stderr


def test_json_summary_and_name(tmp_path):
    r, out = _import(tmp_path, conv_net(), "--name", "tiny", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["network"] == "tiny" and summary["spec"] == str(out)
    assert "network tiny" in out.read_text()
    assert run_main("import", save(conv_net(), tmp_path / "m.onnx"), "-o", tmp_path / "x.net",
                    "--name", "no good").returncode == 1


def test_each_onnx_op_is_read_by_one_entry():
    """The import and the export share one table per op: the registry refuses a second
    reader of an ONNX op type."""
    import dataclasses

    from specc.ops import registry
    relu = registry.get("relu")
    twin = dataclasses.replace(relu, name="relu_twin", onnx_import={"Relu": lambda m: None})
    with pytest.raises(RuntimeError, match="read by both"):
        registry.register(twin)
    registry.REGISTRY.pop("relu_twin", None)
    assert registry.IMPORTS["Relu"].owner == "relu"
    assert len(registry.IMPORTS) >= 100


def test_run_and_bench_take_a_model_specc_did_not_write(tmp_path):
    src = save(conv_net(), tmp_path / "model.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((2, 3, 8, 8))
            .astype(np.float32))
    r = run_main("run", src, tmp_path / "x.npy", "--top-k", "2")
    assert r.returncode == 0, r.stderr
    assert "was not written by specc" in r.stderr and "x: f32[N, 3, 8, 8]" in r.stderr
    assert r.stdout.count("\n") == 2  # a row per sample, classes by index
    r = run_main("bench", src, "--batch-sizes", "1", "--iters", "2", "--warmup", "0", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "not written by specc" in out["foreign"]
    assert {row["engine"].split()[0] for row in out["rows"]} == {"onnxruntime", "torch"}


def test_bench_of_a_model_specc_cannot_import_times_onnxruntime_and_says_why(tmp_path):
    nodes = [helper.make_node("Det", ["x"], ["d"]),
             helper.make_node("Add", ["x", "x"], ["y"])]
    m = model(nodes, [value("x", ["N", 3, 3]), value("ids", ["N", "seq"], onnx.TensorProto.INT64)],
              [value("y", ["N", 3, 3]), value("d", ["N"])])
    src = save(m, tmp_path / "model.onnx")
    r = run_main("bench", src, "--batch-sizes", "1", "--iters", "2", "--warmup", "0")
    assert r.returncode == 1 and "--dim seq=SIZE" in r.stderr
    r = run_main("bench", src, "--batch-sizes", "2", "--iters", "2", "--warmup", "0",
                 "--dim", "seq=5")
    assert r.returncode == 0, r.stderr
    assert "does not import" in r.stdout and "onnxruntime only" in r.stdout
    assert "torch eager" not in r.stdout
