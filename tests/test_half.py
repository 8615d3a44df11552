"""fp16 graphs (`specc export --fp16-compute`): ops compute in half precision as their
registry entries say, checked op by op against float32 within each op family's tolerance;
checker-clean and loadable by onnxruntime for every bundled spec."""
import dataclasses

import numpy as np
import onnx
import pytest

import specc
from specc import passes
from specc.backends.onnx_build import build_skeleton
from specc.backends.onnx_half import policy, to_half
from specc.backends.onnx_verify import weights_as_inputs
from specc.backends.ort import open_session
from specc.ops import registry

from conftest import SPECS
from test_zoo import PINNED

FLOAT, HALF = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16


def smallest_per_spec():
    """One network per bundled spec file: its fewest parameters (every op family the file
    uses, at the least cost)."""
    best = {}
    for f, name, params, _ in PINNED:
        if f not in best or params < best[f][1]:
            best[f] = (name, params)
    return [(f, name) for f, (name, _) in sorted(best.items()) if name != "snarc"]


def half_model(graph, io=False):
    weights = {k: np.broadcast_to(np.zeros((), np.float32 if p.dtype == "f32" else np.int64),
                                  p.shape) for k, p in graph.params.items()}  # no memory
    skeleton, stored = build_skeleton(graph, weights)
    return to_half(skeleton, stored, graph, io=io)


@pytest.mark.parametrize("spec,name", smallest_per_spec())
def test_every_bundled_spec_has_a_checked_half_graph(spec, name):
    graph = passes.run(specc.load(SPECS / spec, name).graph, passes.INFERENCE)
    model, weights = half_model(graph)
    checked = weights_as_inputs(model, weights)
    onnx.checker.check_model(checked, full_check=True)
    open_session(checked.SerializeToString(), "cpu", optimize=False)  # kernels for every node
    assert all(v.type.tensor_type.elem_type != HALF for v in model.graph.input)
    assert all(v.type.tensor_type.elem_type != HALF for v in model.graph.output)
    inferred = onnx.shape_inference.infer_shapes(checked)
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(inferred.graph.value_info) + list(inferred.graph.input)}
    computes = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")
                and policy(graph, n.name).compute == "fp16"]
    assert all(types[n.input[0]] == HALF for n in computes), name
    kept = [n for n in model.graph.node if n.op_type in ("Softmax", "LogSoftmax",
                                                           "BatchNormalization", "LRN")]
    assert all(types[n.input[0]] == FLOAT for n in kept), name  # statistics in float32
    assert any(w.dtype == np.float16 for w in weights.values()) or not weights


def test_families_are_stated_in_the_registry():
    ops = registry.all_ops()
    kept = {n for n, op in ops.items() if op.half.compute == "fp32"}
    assert {"softmax", "log_softmax", "batchnorm", "layernorm", "groupnorm",
            "instancenorm"} <= kept
    assert ops["conv"].half.tolerance > ops["relu"].half.tolerance  # sums over a fan-in
    assert all(op.half.compute in ("fp16", "fp32") and 0 < op.half.tolerance < 0.1
               for op in ops.values())


@pytest.mark.parametrize("target", ["lenet5.net", "cifar_resnet.net:resnet20"])
def test_half_export_is_verified_op_by_op(target, tmp_path, cli):
    out = tmp_path / "h.onnx"
    r = cli("export", f"{SPECS}/{target}", "-o", out, "--fp16-compute")
    assert r.returncode == 0, r.stderr
    assert "values op by op, each within its op's fp16 tolerance" in r.stdout
    assert "top-1 100% the same" in r.stdout
    model = onnx.load(out)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["specc.precision"] == "fp16 (compute)"
    assert {i.data_type for i in model.graph.initializer} >= {HALF}
    r = cli("run", out, "--data", "digits") if target == "lenet5.net" else None
    assert r is None or r.returncode == 0, r and r.stderr


def test_fp16_io_and_a_tolerance_that_cannot_be_met(tmp_path, cli, monkeypatch):
    out = tmp_path / "io.onnx"
    r = cli("export", SPECS / "lenet5.net", "-o", out, "--fp16-compute", "--fp16-io")
    assert r.returncode == 0, r.stderr
    sess, _, _ = open_session(str(out), "cpu")
    assert sess.get_inputs()[0].type == "tensor(float16)"
    y = sess.run(None, {"image": np.ones((3, 1, 32, 32), np.float16)})[0]
    assert y.dtype == np.float16 and y.shape == (3, 10)
    tight = dataclasses.replace(registry.get("conv"),
                                half=registry.Half("fp16", 1e-9))
    monkeypatch.setitem(registry.REGISTRY, "conv", tight)
    r = cli("export", SPECS / "lenet5.net", "-o", tmp_path / "no.onnx", "--fp16-compute")
    assert r.returncode == 1 and "the fp16 graph is off at 'c" in r.stderr and "(conv)" in r.stderr, r.stderr
    assert not (tmp_path / "no.onnx").exists()
    r = cli("export", SPECS / "lenet5.net", "-o", tmp_path / "x.onnx", "--fp16-io")
    assert r.returncode == 2 and "--fp16-io is for --fp16-compute" in r.stderr
