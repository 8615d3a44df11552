"""The test models that ship inside onnx (onnx/backend/test/data/light: opset 9, written by
Caffe2's exporter, every weight a ConstantOfShape of 0.02): import, export and run give the
stored outputs within the stored tolerances. Those outputs are all 0.001 (a softmax over equal
scores), so the same models are also run with random weights in place of the constant ones
and compared with onnxruntime on the original. All nine run in the conformance suite
(docs/conformance.md); here the small ones."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import specc
from conftest import run_cli
from onnx_models import run

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _dummy_input(m):
    """What onnx's runner feeds these models: arange / n in the input's shape."""
    inits = {t.name for t in m.graph.initializer}
    x = next(i for i in m.graph.input if i.name not in inits)
    shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
    n = int(np.prod(shape))
    return x.name, (np.arange(n).reshape(shape) / n).astype(np.float32)


def _reexport(tmp_path, src):
    out = tmp_path / "net.net"
    r = run_cli("import", src, "-o", out)
    assert r.returncode == 0, r.stderr
    net = specc.load(out)
    path = tmp_path / "again.onnx"
    net.to_onnx(path, weights=str(out.with_suffix(".safetensors")), verify=False)
    return onnx.load(str(path))


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet"])
def test_light_model_gives_its_stored_output(tmp_path, name):
    src = LIGHT / f"light_{name}.onnx"
    m = onnx.load(str(src))
    again = _reexport(tmp_path, src)
    _, x = _dummy_input(m)
    expected = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"light_{name}_output_0.pb")))
    got = run(again, {again.graph.input[0].name: x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-7)


def _random_weights(m, seed: int = 0):
    """The model with each ConstantOfShape weight made a random initializer."""
    rng = np.random.default_rng(seed)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out = onnx.ModelProto()
    out.CopyFrom(m)
    keep = []
    for n in out.graph.node:
        if n.op_type == "ConstantOfShape":
            shape = [int(d) for d in inits[n.input[0]]]
            scale = 1.0 / np.sqrt(max(int(np.prod(shape[1:])), 1))
            value = (rng.standard_normal(shape) * scale).astype(np.float32)
            if n.output[0].endswith(("_riv_0", "_rm_0", "_s_0", "_b_0")) and len(shape) == 1:
                value = (np.abs(value) + 0.5).astype(np.float32)  # positive variances
            out.graph.initializer.append(numpy_helper.from_array(value, n.output[0]))
            # IR version 3 lists every initializer among the inputs too
            out.graph.input.append(onnx.helper.make_tensor_value_info(
                n.output[0], onnx.TensorProto.FLOAT, shape))
        else:
            keep.append(n)
    del out.graph.node[:]
    out.graph.node.extend(keep)
    return out


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet"])
def test_light_model_with_random_weights_matches_onnxruntime(tmp_path, name):
    m = _random_weights(onnx.load(str(LIGHT / f"light_{name}.onnx")))
    src = tmp_path / "model.onnx"
    onnx.save(m, str(src))
    again = _reexport(tmp_path, src)
    input_name, x = _dummy_input(m)
    x = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    want = run(m, {input_name: x})[0]
    got = run(again, {again.graph.input[0].name: x})[0]
    assert want.std() > 1e-4  # the outputs vary: the comparison can fail
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
