"""Elementwise tensor arithmetic. Joins are strict: shapes must be equal; only a rank-0
constant (a number written in the spec) combines with a tensor of any shape."""
from __future__ import annotations

from ..ir import TensorType
from .registry import Arg, OpDef, ShapeError, no_macs, no_params, register
from .shapes import fmt, same_dtype

_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_TORCH = {"add": "add", "sub": "sub", "mul": "mul", "div": "div"}
_ONNX = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}
_TRAITS = {"add": frozenset({"elementwise", "join", "backward_ignores_output"}),
           "sub": frozenset({"elementwise", "join", "backward_ignores_output"}),
           "mul": frozenset({"elementwise", "join"}), "div": frozenset({"elementwise", "join"})}


def _binary_infer(name):
    def infer(attrs, types):
        a, b = types
        dtype = same_dtype(types, name)
        if a.rank == 0:
            return [b]
        if b.rank == 0 or a.shape == b.shape:
            return [TensorType(dtype, a.shape)]
        raise ShapeError(f"'{_SYMBOL[name]}' needs operands of the same shape, got {fmt(a.shape)} "
                         f"and {fmt(b.shape)} (specc never broadcasts a join)")
    return infer


def _binary(name):
    return OpDef(
        name=name, doc=f"Elementwise a {_SYMBOL[name]} b of equal shapes (or a number).",
        args=(Arg("a", "tensor"), Arg("b", "tensor")), infer=_binary_infer(name),
        torch=lambda b, node, xs, ps: b.call(getattr(b.torch, _TORCH[name]), xs[0], xs[1]),
        onnx=lambda b, node, xs, ps: b.op(_ONNX[name], xs),
        traits=_TRAITS[name], params=no_params, macs=no_macs, tolerance=1e-5)


def _constant_torch(b, node, xs, ps):
    return float(node.attrs["value"])  # a Python number: torch ops take it directly


def _constant_onnx(b, node, xs, ps):
    return b.const([node.attrs["value"]], dtype=b.outs[0].dtype, shape=())


register(
    *(_binary(n) for n in _SYMBOL),
    OpDef(name="constant", doc="A rank-0 constant (numbers in tensor arithmetic become these).",
          args=(Arg("value", "float"), Arg("dtype", "str", "f32")),
          infer=lambda attrs, types: [TensorType(attrs["dtype"], ())],
          torch=_constant_torch, onnx=_constant_onnx,
          traits=frozenset({"internal"}), params=no_params, macs=no_macs, tolerance=1e-5),
)
