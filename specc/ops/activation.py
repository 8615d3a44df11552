"""Activations and other shape-preserving unary ops."""
from __future__ import annotations

from ..ir.graph import Init
from .registry import (HALF_KEPT, Example, Arg, OpDef, ParamSpec, ShapeError, no_macs, no_params,
                       register)
from .shapes import channels, float_input


def _same(op):
    def infer(attrs, types):
        float_input(types[0], op)
        return [types[0]]
    return infer


def _unary(name, doc, torch_fn, onnx_op, tolerance=1e-5):
    return OpDef(name=name, doc=doc, shape="same as x",
                 example=Example(("f32[N, 3, 4]",), f"{name}(x0)"),
                 args=(Arg("x", "tensor"),), infer=_same(name),
                 torch=lambda b, node, xs, ps: b.call(getattr(b.torch, torch_fn), xs[0]),
                 onnx=lambda b, node, xs, ps: b.op(onnx_op, xs), tolerance=tolerance,
                 traits=frozenset({"elementwise"}), params=no_params, macs=no_macs)


def _scaled_tanh_torch(b, node, xs, ps):
    a = node.attrs
    return b.call(b.torch.mul, b.call(b.torch.tanh, b.call(b.torch.mul, xs[0], a["s"])), a["a"])


def _scaled_tanh_onnx(b, node, xs, ps):
    dt = b.types[0].dtype
    inner = b.op("Mul", [xs[0], b.const([node.attrs["s"]], dt, ())])
    return b.op("Mul", [b.op("Tanh", [inner]), b.const([node.attrs["a"]], dt, ())])


def heaviside(x, threshold: float):
    """1 where x >= threshold, else 0 (McCulloch-Pitts: a tie fires)."""
    return (x >= threshold).to(x.dtype)


def _step_onnx(b, node, xs, ps):
    dt = b.types[0].dtype
    fire = b.op("GreaterOrEqual", [xs[0], b.const([node.attrs["threshold"]], dt, ())])
    return b.op("Cast", [fire], to=b.onnx_dtype(dt))


def _softmax_infer(name):
    def infer(attrs, types):
        x = types[0]
        float_input(x, name)
        if not -x.rank <= attrs["axis"] < x.rank:
            raise ShapeError(f"{name} axis {attrs['axis']} is out of range for rank {x.rank}")
        return [x]
    return infer


def _prelu_params(attrs, types):
    n = 1 if attrs["shared"] else channels(types[0], "prelu")
    return {"weight": ParamSpec((n,), attrs["init"], fan_in=1, fan_out=1)}


def _prelu_onnx(b, node, xs, ps):
    x = b.types[0]
    slope = ps["weight"]
    if x.rank > 2:
        slope = b.op("Unsqueeze", [slope, b.const(list(range(1, x.rank - 1)), "i64")])
    return b.op("PRelu", [xs[0], slope])


def _prelu_infer(attrs, types):
    x = types[0]
    float_input(x, "prelu")
    if x.rank < 2:
        raise ShapeError("prelu expects an input [N, C, ...]")
    return [x]


def _relu_torch(b, node, xs, ps):
    return b.call(b.torch.relu_ if b.overwritable else b.torch.relu, xs[0])


register(
    OpDef(name="relu",
          shape="same as x",
          example=Example(("f32[N, 3, 4]",), "relu(x0)"),
          doc="Rectified linear unit: max(x, 0).", args=(Arg("x", "tensor"),),
          infer=_same("relu"), torch=_relu_torch, onnx=lambda b, node, xs, ps: b.op("Relu", xs),
          traits=frozenset({"elementwise"}), params=no_params, macs=no_macs, tolerance=1e-5),
    _unary("tanh", "Hyperbolic tangent.", "tanh", "Tanh"),
    _unary("sigmoid", "Logistic function 1 / (1 + exp(-x)).", "sigmoid", "Sigmoid"),
    OpDef(name="identity",
          shape="same as x",
          example=Example(("f32[N, 3, 4]",), "identity(x0) |> relu"),
          doc="Passes its input through.", args=(Arg("x", "tensor"),),
          infer=lambda attrs, types: [types[0]], torch=lambda b, node, xs, ps: xs[0],
          onnx=lambda b, node, xs, ps: b.op("Identity", xs),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="scaled_tanh",
          shape="same as x",
          example=Example(("f32[N, 3, 4]",), "scaled_tanh(x0)"),
          doc="LeCun's squashing function a * tanh(s * x), a = 1.7159, s = 2/3 (so f(1) = 1).",
          args=(Arg("x", "tensor"), Arg("a", "float", 1.7159), Arg("s", "float", 2.0 / 3.0)),
          infer=_same("scaled_tanh"), torch=_scaled_tanh_torch, onnx=_scaled_tanh_onnx,
          traits=frozenset({"elementwise"}), params=no_params, macs=no_macs, tolerance=1e-5),
    OpDef(name="step",
          shape="same as x",
          example=Example(("f32[N, 6]",), "step(x0, threshold=0.25)"),
          doc="Heaviside step: 1 where x >= threshold, else 0 (threshold logic units).",
          args=(Arg("x", "tensor"), Arg("threshold", "float", 0.0)), infer=_same("step"),
          torch=lambda b, node, xs, ps: b.call(heaviside, xs[0], node.attrs["threshold"]),
          onnx=_step_onnx,
          traits=frozenset({"elementwise"}), params=no_params, macs=no_macs, tolerance=1e-5),
    OpDef(name="softmax", half=HALF_KEPT,
          shape="same as x",
          example=Example(("f32[N, 3, 4]",), "softmax(x0, axis=2)"),
          doc="Softmax along `axis`.",
          args=(Arg("x", "tensor"), Arg("axis", "int", 1)), infer=_softmax_infer("softmax"),
          torch=lambda b, node, xs, ps: b.call(b.torch.softmax, xs[0], node.attrs["axis"]),
          onnx=lambda b, node, xs, ps: b.op("Softmax", xs, axis=node.attrs["axis"]),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="log_softmax", half=HALF_KEPT,
          shape="same as x",
          example=Example(("f32[N, 5]",), "log_softmax(x0)"),
          doc="Log of the softmax along `axis`.",
          args=(Arg("x", "tensor"), Arg("axis", "int", 1)), infer=_softmax_infer("log_softmax"),
          torch=lambda b, node, xs, ps: b.call(b.torch.log_softmax, xs[0], node.attrs["axis"]),
          onnx=lambda b, node, xs, ps: b.op("LogSoftmax", xs, axis=node.attrs["axis"]),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="prelu",
          shape="same as x ([N, C, ...])",
          example=Example(("f32[N, 3, 4, 4]",), "prelu(x0)"),
          doc="Parametric ReLU (He et al. 2015): a learned slope per channel (or one shared).",
          args=(Arg("x", "tensor"), Arg("shared", "bool", False),
                Arg("init", "init", Init("constant", (0.25,)))),
          infer=_prelu_infer, params=_prelu_params,
          torch=lambda b, node, xs, ps: b.call(b.F.prelu, xs[0], ps["weight"]),
          onnx=_prelu_onnx, macs=no_macs, tolerance=1e-5, traits=frozenset()),
)
