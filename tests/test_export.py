"""`specc export`: every bundled network exports and verifies; determinism; metadata; errors."""
import json

import numpy as np
import onnx
import pytest
import torch

import specc
from specc import passes
from specc.backends.onnx_export import export

from conftest import SPECS, run_main

FAST = [("lenet5.net", "lenet5"), ("resnet.net", "resnet18"), ("googlenet.net", "googlenet"),
        ("googlenet.net", "googlenet_paper"), ("cifar_resnet.net", "resnet20"),
        ("mcculloch_pitts.net", "mp_xor"), ("rumelhart_tc.net", "tc"),
        ("alexnet.net", "alexnet_paper"), ("elman.net", "elman"),
        ("perceptron.net", "perceptron")]
SLOW = [("resnet.net", "resnet34"), ("resnet.net", "resnet50"), ("resnet.net", "resnet101"),
        ("resnet.net", "resnet152"), ("alexnet.net", "alexnet"), ("vgg.net", "vgg11"),
        ("vgg.net", "vgg13"), ("vgg.net", "vgg16"), ("vgg.net", "vgg19"),
        ("cifar_resnet.net", "resnet32"), ("cifar_resnet.net", "resnet44"),
        ("cifar_resnet.net", "resnet56"), ("cifar_resnet.net", "resnet110"),
        ("mcculloch_pitts.net", "mp_and"), ("mcculloch_pitts.net", "mp_or"),
        ("mcculloch_pitts.net", "mp_not"), ("mcculloch_pitts.net", "mp_nand")]


def check_export(tmp_path, spec, name):
    net = specc.load(SPECS / spec, name)
    result = net.to_onnx(tmp_path / f"{name}.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    onnx.checker.check_model(str(tmp_path / f"{name}.onnx"), full_check=True)
    model = onnx.load(tmp_path / f"{name}.onnx")
    assert model.opset_import[0].version == 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    inits = {i.name for i in model.graph.initializer}
    kept = passes.run(net.graph, passes.INFERENCE).params
    assert {p for p in kept if not p.endswith("num_batches_tracked")} <= inits
    return model


@pytest.mark.parametrize("spec,name", FAST, ids=[f[1] for f in FAST])
def test_bundled_network_exports_and_verifies(tmp_path, spec, name):
    check_export(tmp_path, spec, name)


@pytest.mark.slow
@pytest.mark.parametrize("spec,name", SLOW, ids=[s[1] for s in SLOW])
def test_large_bundled_network_exports_and_verifies(tmp_path, spec, name):
    check_export(tmp_path, spec, name)
    (tmp_path / f"{name}.onnx").unlink()  # up to 0.5 GB: the suite's temporary files stay small


def test_names_and_metadata(tmp_path):
    model = check_export(tmp_path, "lenet5.net", "lenet5")
    names = {n.name for n in model.graph.node}
    assert {"c1", "s2", "c3", "f6", "rbf_units", "scores"} <= names
    assert [o.name for o in model.graph.output] == ["scores"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["specc.network"] == "lenet5"
    assert json.loads(meta["specc.labels"])[:3] == ["0", "1", "2"]
    assert json.loads(meta["specc.preprocessing"]) == {"pixel_range": [-0.1, 1.175]}
    assert len(meta["specc.spec_sha256"]) == 64
    assert "LeCun" in model.doc_string


def test_inference_view_drops_dropout(tmp_path):
    model = check_export(tmp_path, "googlenet.net", "googlenet")
    assert not any(n.op_type == "Dropout" for n in model.graph.node)
    assert sum(n.op_type == "BatchNormalization" for n in model.graph.node) == 57


def test_auxiliary_heads_train_but_do_not_export(tmp_path):
    net = specc.load(SPECS / "googlenet.net", "googlenet_aux")
    assert [o["name"] for o in net.outputs()] == ["logits", "aux1_logits", "aux2_logits"]
    assert net.recipe["output_weights"] == [1.0, 0.3, 0.3]
    model = check_export(tmp_path, "googlenet.net", "googlenet_aux")
    assert [o.name for o in model.graph.output] == ["logits"]
    assert not any(i.name.startswith("aux") for i in model.graph.initializer)


def test_exports_are_byte_identical(tmp_path):
    net = specc.load(SPECS / "googlenet.net", "googlenet")
    a = net.to_onnx(tmp_path / "a.onnx")
    b = specc.load(SPECS / "googlenet.net", "googlenet").to_onnx(tmp_path / "b.onnx", verify=False)
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert a.sha256 == b.sha256


def test_external_data_and_fp16(tmp_path):
    net = specc.load(SPECS / "lenet5.net")
    ext = export(net, tmp_path / "ext.onnx", external_data=True)
    assert ext.external_data and (tmp_path / "ext.onnx.data").stat().st_size > 200_000
    half = export(net, tmp_path / "half.onnx", fp16=True)
    assert half.max_rel_error < 1e-2
    assert (tmp_path / "half.onnx").stat().st_size < 0.6 * (tmp_path / "ext.onnx.data").stat().st_size


def test_export_with_trained_weights(tmp_path):
    net = specc.load(SPECS / "lenet5.net")
    module = net.to_torch(seed=7)
    state = module.state_dict()
    result = net.to_onnx(tmp_path / "w.onnx", weights=state)
    model = onnx.load(tmp_path / "w.onnx")
    c1 = next(i for i in model.graph.initializer if i.name == "c1.weight")
    assert np.array_equal(onnx.numpy_helper.to_array(c1), state["c1.weight"].numpy())
    assert result.max_rel_error <= 1e-4


def test_mismatched_weights_list_names_and_shapes(tmp_path):
    net = specc.load(SPECS / "lenet5.net")
    state = net.to_torch().state_dict()
    state["c1.weight"] = torch.zeros(6, 1, 3, 3)
    del state["f6.bias"]
    state["extra"] = torch.zeros(1)
    with pytest.raises(specc.SpeccError) as info:
        net.to_onnx(tmp_path / "bad.onnx", weights=state)
    text = info.value.render()
    assert "f6.bias" in text and "extra" in text and "c1.weight: checkpoint [6, 1, 3, 3]" in text
    assert not (tmp_path / "bad.onnx").exists()


def test_opset_errors(tmp_path):
    r = run_main("export", "specs/lenet5.net", "-o", tmp_path / "x.onnx", "--opset", "9")
    assert r.returncode == 1 and "opset 9 is not supported" in r.stderr


def test_unexpressible_op_lists_every_node(tmp_path, write_spec):
    path = write_spec("network u {\n input x: f32[N, 2, 7, 7]\n a = adaptive_avgpool(x, 3)\n"
                      " b = adaptive_maxpool(x, 2)\n output y = concat([flatten(a), flatten(b)])\n}")
    r = run_main("export", path, "-o", tmp_path / "u.onnx")
    assert r.returncode == 1
    assert "t.net:4:6: error: cannot express adaptive_avgpool 'a' in ONNX opset 17: adaptive " \
        "pooling from [7, 7] to [3, 3]" in r.stderr  # each at its line, all at once
    assert "t.net:5:6: error: cannot express adaptive_maxpool 'b'" in r.stderr
    assert r.stderr.endswith("2 errors\n")
    assert not (tmp_path / "u.onnx").exists()


def test_cli_export_json(tmp_path):
    r = run_main("export", "specs/lenet5.net", "-o", tmp_path / "l.onnx", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(obj) == {"path", "sha256", "max_rel_error", "compared", "seconds"}
    assert obj["max_rel_error"] < 1e-4 and obj["compared"] == "15 intermediate values on 2 seeded samples, as scores barely varies with the input"
