"""Every op is defined once, completely: a registry entry lacking any field fails here."""
import inspect

import pytest

from specc.ir import TensorType
from specc.ops.registry import ATTR_KINDS, TENSOR_KINDS, all_ops

OPS = sorted(all_ops())
HISTORICAL = {"conv", "table_conv", "linear", "matmul", "add", "sub", "mul", "div", "relu", "tanh",
              "scaled_tanh", "sigmoid", "prelu", "softmax", "step", "maxpool", "avgpool",
              "adaptive_avgpool", "global_avgpool", "spp", "lrn", "batchnorm", "dropout", "concat",
              "flatten", "reshape", "transpose", "pad", "slice", "rbf", "subsample", "identity"}


def test_the_op_set_covers_the_historical_zoo():
    assert HISTORICAL <= set(OPS)


@pytest.mark.parametrize("name", OPS)
def test_entry_is_complete(name):
    op = all_ops()[name]
    assert op.name == name
    assert op.doc and len(op.doc) > 10, "a one-line description"
    for field in ("infer", "params", "macs", "torch", "onnx"):
        fn = getattr(op, field)
        assert callable(fn), f"{name} lacks {field}"
    assert len(inspect.signature(op.torch).parameters) == 4
    assert len(inspect.signature(op.onnx).parameters) == 4
    assert 0 < op.tolerance <= 1e-3
    for arg in op.args:
        assert arg.kind in TENSOR_KINDS + ATTR_KINDS, f"{name}.{arg.name}: kind {arg.kind}"
    assert op.min_opset >= 13


def test_shape_rules_are_pure_functions():
    conv = all_ops()["conv"]
    attrs = {"channels": 8, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 1,
             "bias": True, "init": None, "bias_init": None}
    x = TensorType("f32", ("N", 3, 32, 32))
    assert conv.infer(attrs, [x]) == conv.infer(attrs, [x]) == [TensorType("f32", ("N", 8, 16, 16))]
    assert conv.macs(attrs, [x], conv.infer(attrs, [x])) == 8 * 16 * 16 * 3 * 9
