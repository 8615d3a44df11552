"""Small ONNX models made in the tests (onnx.helper), for the import's good and bad cases."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=(), opset: int = 17, name: str = "m"):
    g = helper.make_graph(nodes, name, inputs, outputs,
                          initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def value(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def conv_net(opset: int = 17):
    """x [N, 3, 8, 8] -> conv (bias) -> relu -> flatten -> gemm -> y [N, 4]."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    fw = rng.standard_normal((4, 5 * 6 * 6)).astype(np.float32) * 0.1
    fb = rng.standard_normal(4).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc",
                              transB=1)]
    return model(nodes, [value("x", ["N", 3, 8, 8])], [value("y", ["N", 4])],
                 [("conv.weight", w), ("conv.bias", b), ("fc.weight", fw), ("fc.bias", fb)],
                 opset)


def run(m, feeds: dict) -> list:
    from specc.backends.ort import open_session
    sess, _, _ = open_session(m.SerializeToString() if not isinstance(m, (str, bytes)) else m,
                              "cpu")
    return sess.run(None, feeds)


def save(m, path) -> str:
    onnx.save(m, str(path))
    return str(path)
