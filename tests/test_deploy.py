"""Deployment: int8 through onnxruntime.quantization, Triton model repositories checked with
Triton's own ModelConfig schema (Triton itself is not run here)."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from google.protobuf import text_format

from conftest import SPECS, run_cli

LENET = SPECS / "lenet5.net"

TINY = """specc 1
network tiny {
    input image: f32[N, 1, 8, 8]
    c = conv(image, 8, 3, padding=1)
    output logits = linear(flatten(relu(c)), 10)
    train {
        data = "digits"
        batch_size = 32
        optimizer = adam(lr=0.01)
        epochs = 3
    }
}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small conv net trained on the bundled digits (a few seconds)."""
    d = tmp_path_factory.mktemp("tiny")
    (d / "tiny.net").write_text(TINY)
    r = run_cli("train", d / "tiny.net", "--out", d / "run", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    return d


def test_int8_is_checked_against_fp32_and_runs(trained, tmp_path, cli):
    out = tmp_path / "tiny8.onnx"
    r = cli("export", trained / "tiny.net", "--weights", trained / "run", "-o", out,
                "--int8", "--calibrate", "digits", "--calibration-samples", "128", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["calibration_samples"] == 128 and summary["held_out"] == 359
    assert summary["top1_agreement"] >= 0.97, summary
    assert summary["accuracy_fp32"] > 0.85
    assert abs(summary["accuracy_fp32"] - summary["accuracy_int8"]) <= 0.03
    assert summary["quantized_ops"].get("Conv") == 1 and summary["quantized_ops"].get("Gemm") == 1
    line = r.stdout.splitlines()[0]
    assert "top-1 agreement with fp32" in line and "held-out samples" in line
    assert ("faster than fp32" in line) != ("SLOWER than fp32 here" in line)
    model = onnx.load(out)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = {i.name: i for i in model.graph.initializer}
    conv_w = next(n for n in model.graph.node if n.op_type == "DequantizeLinear"
                  and weights.get(n.input[0]) is not None and len(weights[n.input[0]].dims) == 4)
    assert weights[conv_w.input[0]].data_type == onnx.TensorProto.INT8
    assert len(weights[conv_w.input[1]].dims) == 1  # one scale per output channel
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["specc.precision"] == "int8" and "specc.spec_files" in meta
    for cmd in (("run", out, "--data", "digits", "--json"),
                ("bench", out, "--batch-sizes", "1", "--iters", "2", "--json")):
        r = cli(*cmd)
        assert r.returncode == 0, r.stderr
    assert json.loads(cli("run", out, "--data", "digits", "--json").stdout)["accuracy"] == \
        pytest.approx(summary["accuracy_int8"])


@pytest.mark.parametrize("target, activations, weight_max", [
    ("avx2", onnx.TensorProto.UINT8, 64), ("vnni", onnx.TensorProto.UINT8, 127),
    ("arm", onnx.TensorProto.INT8, 127)])
def test_int8_target_chooses_the_integer_types(target, activations, weight_max, tmp_path,
                                               write_spec, cli):
    """onnxruntime's guidance per CPU: x86 without VNNI keeps weights to 7 bits (AVX2's
    uint8 x int8 pair sums saturate 16 bits: LeNet-5 lost 2 of 359 digits at 8 bits)."""
    from onnx import numpy_helper
    spec = write_spec("network t {\n input x: f32[N, 1, 8, 8]\n"
                      " output y = linear(flatten(conv(x, 4, 3)), 10)\n}")
    out = tmp_path / "t.onnx"
    r = cli("export", spec, "-o", out, "--int8", "--calibrate", "digits",
            "--calibration-samples", "32", "--int8-target", target, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["target"] == target
    model = onnx.load(out)
    weights = {i.name: i for i in model.graph.initializer}
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    acts = {weights[n.input[2]].data_type for n in dq if n.input[0] not in weights}
    ints = [numpy_helper.to_array(weights[n.input[0]]) for n in dq if n.input[0] in weights
            and weights[n.input[0]].data_type == onnx.TensorProto.INT8
            and len(weights[n.input[0]].dims) > 1]
    assert acts == {activations}
    assert max(int(abs(w.astype(int)).max()) for w in ints) == weight_max
    meta = json.loads({p.key: p.value for p in model.metadata_props}["specc.quantization"])
    assert meta["target"] == target and ("7-bit" in meta["weights"]) == (weight_max == 64)


def test_int8_names_the_ops_left_in_fp32(tmp_path, write_spec, cli):
    spec = write_spec("network t {\n input x: f32[N, 1, 8, 8]\n"
                      " output y = linear(tanh(flatten(x)), 10)\n}")
    r = cli("export", spec, "-o", tmp_path / "t.onnx", "--int8", "--calibrate", "digits",
                "--calibration-samples", "32")
    assert r.returncode == 0, r.stderr
    assert "no int8 form for Tanh x1" in r.stderr and "fp32 fallback" in r.stderr


def test_int8_bad_inputs(tmp_path, write_spec, cli):
    nothing = write_spec("network t {\n input x: f32[N, 64]\n output y = tanh(x)\n}")
    r = cli("export", nothing, "-o", tmp_path / "a.onnx", "--int8", "--calibrate", "digits")
    assert r.returncode == 1 and "finds nothing to quantize" in r.stderr, r.stderr
    assert not (tmp_path / "a.onnx").exists()
    wrong = write_spec("network u {\n input x: f32[N, 5]\n output y = linear(x, 10)\n}")
    r = cli("export", wrong, "-o", tmp_path / "b.onnx", "--int8", "--calibrate", "digits")
    assert r.returncode == 1 and "64 features" in r.stderr and "takes 5" in r.stderr, r.stderr
    rgb = write_spec("network v {\n input x: f32[N, 3, 8, 8]\n"
                     " output y = linear(flatten(conv(x, 4, 3)), 10)\n}")
    r = cli("export", rgb, "-o", tmp_path / "c.onnx", "--int8", "--calibrate", "digits",
                "--calibration-samples", "32")
    assert r.returncode == 0 and "channels 1->3 (copied)" in r.stderr, r.stderr
    for flags, message in ((["--int8"], "--int8 needs --calibrate"),
                           (["--calibrate", "digits"], "--calibrate is for --int8"),
                           (["--int8-target", "arm"], "--int8-target is for --int8"),
                           (["--int8", "--calibrate", "digits", "--fp16"], "takes neither")):
        r = cli("export", rgb, "-o", tmp_path / "d.onnx", *flags)
        assert r.returncode == 2 and message in r.stderr, r.stderr


# ------------------------------------------------------------------------------ Triton
def triton_schema():
    """Triton's ModelConfig, from the tritonclient wheel (the module file itself: importing
    tritonclient.grpc needs the grpc extra)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("tritonclient")
    path = Path(list(spec.submodule_search_locations)[0]) / "grpc" / "model_config_pb2.py"
    loader = importlib.util.spec_from_file_location("test_model_config_pb2", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


TRITON_TYPES = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.FLOAT16: "TYPE_FP16",
                onnx.TensorProto.INT64: "TYPE_INT64"}


def check_against_graph(cfg, pb, model):
    """Names, dtypes and dims of config.pbtxt against the ONNX graph (batch dim dropped when
    max_batch_size > 0)."""
    skip = 1 if cfg.max_batch_size > 0 else 0
    graph_inputs = [v for v in model.graph.input
                    if v.name not in {i.name for i in model.graph.initializer}]
    for side, declared in ((graph_inputs, cfg.input), (model.graph.output, cfg.output)):
        assert [t.name for t in declared] == [v.name for v in side]
        for t, v in zip(declared, side):
            assert pb.DataType.Name(t.data_type) == TRITON_TYPES[v.type.tensor_type.elem_type]
            dims = v.type.tensor_type.shape.dim
            if skip:
                assert dims[0].dim_param and not dims[0].HasField("dim_value")
            assert list(t.dims) == [d.dim_value if d.HasField("dim_value") else -1
                                    for d in dims[skip:]]


def test_triton_repository_matches_the_graph_and_runs(trained, tmp_path, cli):
    repo = tmp_path / "models"
    r = cli("export", trained / "tiny.net", "--weights", trained / "run", "--triton", repo,
                "--max-batch-size", "16", "--preferred-batch-sizes", "4,8", "--instances", "2",
                "--instance-kind", "cpu")
    assert r.returncode == 0, r.stderr
    assert "Triton itself was not run" in r.stdout
    folder = repo / "tiny"
    # the recipe names no labels: those of the data the run trained on (the digits) travel
    assert sorted(p.name for p in folder.iterdir()) == ["1", "config.pbtxt", "labels.txt"]
    assert (folder / "labels.txt").read_text().splitlines() == [str(i) for i in range(10)]
    pb = triton_schema()
    cfg = text_format.Parse((folder / "config.pbtxt").read_text(), pb.ModelConfig())
    assert cfg.name == "tiny" and cfg.backend == "onnxruntime" and cfg.max_batch_size == 16
    assert list(cfg.dynamic_batching.preferred_batch_size) == [4, 8]
    assert cfg.instance_group[0].count == 2
    assert pb.ModelInstanceGroup.Kind.Name(cfg.instance_group[0].kind) == "KIND_CPU"
    model = onnx.load(folder / "1" / "model.onnx")
    check_against_graph(cfg, pb, model)
    sess = ort.InferenceSession(str(folder / "1" / "model.onnx"))
    for n in (1, 4, 8, 16):  # batch 1, each preferred size, the maximum
        x = np.random.default_rng(n).standard_normal((n, *cfg.input[0].dims)).astype(np.float32)
        (y,) = sess.run([cfg.output[0].name], {cfg.input[0].name: x})
        assert list(y.shape) == [n, *cfg.output[0].dims]


def test_triton_labels_unbatched_and_refusals(tmp_path, cli):
    repo = tmp_path / "r"
    r = cli("export", LENET, "--triton", repo, "--max-batch-size", "0",
                "--no-verify")
    assert r.returncode == 0, r.stderr
    pb = triton_schema()
    cfg = text_format.Parse((repo / "lenet5" / "config.pbtxt").read_text(), pb.ModelConfig())
    assert cfg.max_batch_size == 0 and not cfg.HasField("dynamic_batching")
    check_against_graph(cfg, pb, onnx.load(repo / "lenet5" / "1" / "model.onnx"))
    assert cfg.output[0].label_filename == "labels.txt"
    assert (repo / "lenet5" / "labels.txt").read_text().splitlines() == [str(i) for i in range(10)]
    before = (repo / "lenet5" / "config.pbtxt").read_text()
    r = cli("export", LENET, "--triton", repo, "--no-verify")
    assert r.returncode == 1 and "exists and is not empty" in r.stderr and "--force" in r.stderr
    assert (repo / "lenet5" / "config.pbtxt").read_text() == before
    r = cli("export", LENET, "--triton", repo, "--no-verify", "--force",
                "--preferred-batch-sizes", "8")
    assert r.returncode == 0, r.stderr
    assert "preferred_batch_size: 8" in (repo / "lenet5" / "config.pbtxt").read_text()
    assert [p.name for p in repo.iterdir()] == ["lenet5"]  # no staging folder left
    for name in ("a/b", ".hidden", "-x", "x" * 129):
        r = cli("export", LENET, "--triton", tmp_path / "n", "--no-verify",
                    f"--triton-name={name}")
        assert r.returncode == 1 and "cannot name a Triton model" in r.stderr, (name, r.stderr)
    r = cli("export", LENET, "--triton", tmp_path / "p", "--no-verify",
                "--max-batch-size", "4", "--preferred-batch-sizes", "8")
    assert r.returncode == 1 and "exceed --max-batch-size 4" in r.stderr
    r = cli("export", LENET, "--no-verify")
    assert r.returncode == 2 and "-o OUT.onnx, --triton REPO" in r.stderr
