"""The modern activations and element-wise math: one entry each, shape-preserving.

ONNX lowerings use the standard op where the chosen opset has it (Gelu from 20, Mish from
18, HardSwish from 14) and the textbook decomposition below that; both paths are tested."""
from __future__ import annotations

import math

from .registry import (HALF_EXACT, HALF_KEPT, Example, Arg, OpDef, ShapeError, no_macs, no_params,
                       register)
from .shapes import float_input

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _same(op):
    def infer(attrs, types):
        float_input(types[0], op)
        return [types[0]]
    return infer


def _signed(op):
    """abs and neg take integer tensors too."""
    def infer(attrs, types):
        if types[0].dtype not in ("i32", "i64"):
            float_input(types[0], op)
        return [types[0]]
    return infer


def _c(b, value) -> str:
    """A scalar constant of the op's dtype."""
    return b.const([value], b.types[0].dtype, ())


def _unary(name, doc, torch_fn, onnx, args=(), infer=None, tolerance=1e-5, call=None,
           half=HALF_EXACT):
    """A shape-preserving op; its example applies it to [N, 3, 4] (as `call`, if given)."""
    if isinstance(onnx, str):
        op_type = onnx
        onnx = lambda b, node, xs, ps: b.op(op_type, xs)  # noqa: E731
    return OpDef(name=name, doc=doc, shape="same as x",
                 example=Example(("f32[N, 3, 4]",), call or f"{name}(x0)"),
                 args=(Arg("x", "tensor"),) + tuple(args),
                 infer=infer or _same(name), torch=torch_fn, onnx=onnx, tolerance=tolerance,
                 params=no_params, macs=no_macs, traits=frozenset({"elementwise"}), half=half)


def _fn(attr: str, module: str = "torch", *keys):
    """A torch lowering calling torch.<attr> or F.<attr> with the node's attributes `keys`."""
    def lower(b, node, xs, ps):
        fn = getattr(b.torch if module == "torch" else b.F, attr)
        return b.call(fn, xs[0], *(node.attrs[k] for k in keys))
    return lower


# ----------------------------------------------------------------- decompositions
def _gelu_onnx(b, node, xs, ps):
    approx = node.attrs["approximate"]
    if b.opset >= 20:
        return b.op("Gelu", xs, approximate=approx)
    x = xs[0]
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Add", [x, b.op("Mul", [cube, _c(b, 0.044715)])])
        t = b.op("Tanh", [b.op("Mul", [inner, _c(b, _SQRT_2_OVER_PI)])])
    else:  # (x (1 + erf(x / sqrt 2))) 0.5: the form onnxruntime fuses into one Gelu
        t = b.op("Erf", [b.op("Div", [x, _c(b, math.sqrt(2.0))])])
    return b.op("Mul", [b.op("Mul", [x, b.op("Add", [t, _c(b, 1.0)])]), _c(b, 0.5)])


def _gelu_infer(attrs, types):
    if attrs["approximate"] not in ("none", "tanh"):
        raise ShapeError(f"gelu approximate must be \"none\" or \"tanh\", got "
                         f"\"{attrs['approximate']}\"")
    return _same("gelu")(attrs, types)


def _silu_onnx(b, node, xs, ps):
    return b.op("Mul", [xs[0], b.op("Sigmoid", xs)])


def _hardswish_onnx(b, node, xs, ps):
    if b.opset >= 14:
        return b.op("HardSwish", xs)
    return b.op("Mul", [xs[0], b.op("HardSigmoid", xs, alpha=1.0 / 6.0, beta=0.5)])


def _clip_onnx(lo, hi):
    """Clip's bounds as inputs; a bound that is none is an omitted input."""
    def lower(b, node, xs, ps):
        a = node.attrs
        bounds = [a.get("min", lo), a.get("max", hi)]
        return b.op("Clip", [xs[0]] + [_c(b, v) if v is not None else "" for v in bounds])
    return lower


def _clip_infer(attrs, types):
    lo, hi = attrs["min"], attrs["max"]
    if lo is None and hi is None:
        raise ShapeError("clip needs a min, a max or both")
    if lo is not None and hi is not None and not lo <= hi:
        raise ShapeError(f"clip needs min <= max, got {lo} and {hi}")
    return _same("clip")(attrs, types)


def _softplus_onnx(b, node, xs, ps):
    beta = node.attrs["beta"]
    if beta == 1.0:
        return b.op("Softplus", xs)
    scaled = b.op("Softplus", [b.op("Mul", [xs[0], _c(b, beta)])])
    return b.op("Div", [scaled, _c(b, beta)])


def _softplus_torch(b, node, xs, ps):
    return b.call(b.F.softplus, xs[0], node.attrs["beta"])


def _mish_onnx(b, node, xs, ps):
    if b.opset >= 18:
        return b.op("Mish", xs)
    return b.op("Mul", [xs[0], b.op("Tanh", [b.op("Softplus", xs)])])


def _gelu_torch(b, node, xs, ps):
    return b.call(b.F.gelu, xs[0], approximate=node.attrs["approximate"])


register(
    _unary("gelu", "Gaussian error linear unit x * Phi(x) (Hendrycks & Gimpel 2016); "
           "approximate=\"tanh\" uses the tanh formula.", _gelu_torch, _gelu_onnx,
           args=(Arg("approximate", "str", "none"),), infer=_gelu_infer),
    _unary("silu", "Sigmoid-weighted linear unit x * sigmoid(x) (Swish-1).",
           _fn("silu", "F"), _silu_onnx),
    _unary("hardswish", "x * relu6(x + 3) / 6 (MobileNetV3).", _fn("hardswish", "F"),
           _hardswish_onnx,
           call="hardswish(x0 * 4.0)"),
    _unary("hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3).", _fn("hardsigmoid", "F"),
           lambda b, node, xs, ps: b.op("HardSigmoid", xs, alpha=1.0 / 6.0, beta=0.5),
           call="hardsigmoid(x0 * 4.0)"),
    _unary("relu6", "min(max(x, 0), 6) (MobileNetV2).", _fn("relu6", "F"), _clip_onnx(0.0, 6.0),
           call="relu6(x0 * 8.0)"),
    _unary("clip", "min(max(x, min), max); either bound may be left out (none): "
           "clip(s, max=4.6) is torch.clamp(s, max=4.6).", _fn("clamp", "torch", "min", "max"),
           _clip_onnx(None, None), args=(Arg("min", "float", None), Arg("max", "float", None)),
           infer=_clip_infer,
           call="clip(x0, -0.5, 0.25) + clip(x0, max=0.1)"),
    _unary("leaky_relu", "x where x > 0, else slope * x.", _fn("leaky_relu", "F", "slope"),
           lambda b, node, xs, ps: b.op("LeakyRelu", xs, alpha=node.attrs["slope"]),
           args=(Arg("slope", "float", 0.01),),
           call="leaky_relu(x0, 0.2)"),
    _unary("elu", "x where x > 0, else alpha * (exp(x) - 1) (Clevert et al. 2016).",
           _fn("elu", "F", "alpha"),
           lambda b, node, xs, ps: b.op("Elu", xs, alpha=node.attrs["alpha"]),
           args=(Arg("alpha", "float", 1.0),),
           call="elu(x0, 0.7)"),
    _unary("softplus", "log(1 + exp(beta * x)) / beta.", _softplus_torch, _softplus_onnx,
           args=(Arg("beta", "float", 1.0),),
           call="softplus(x0, beta=2.0)"),
    _unary("mish", "x * tanh(softplus(x)) (Misra 2019).", _fn("mish", "F"), _mish_onnx),
    _unary("sqrt", "Square root; with a number, the compile-time sqrt().", _fn("sqrt"), "Sqrt",
           call="sqrt(abs(x0) + 0.1)"),
    _unary("exp", "e to the power x; with a number, the compile-time exp().", _fn("exp"), "Exp",
           half=HALF_KEPT),  # e^11 is past fp16's largest value
    _unary("log", "Natural logarithm; with a number, the compile-time log(x[, base]).", _fn("log"), "Log",
           call="log(abs(x0) + 0.1)", half=HALF_KEPT),
    _unary("abs", "Absolute value |x| of a float or integer tensor; with a number, the "
           "compile-time abs().", _fn("abs"), "Abs", infer=_signed("abs")),
    _unary("neg", "Negation, -x (also written -x), of a float or integer tensor.", _fn("neg"),
           "Neg", infer=_signed("neg")),
    _unary("reciprocal", "The reciprocal 1 / x.", _fn("reciprocal"), "Reciprocal",
           call="reciprocal(abs(x0) + 0.5)"),
    _unary("erf", "The error function.", _fn("erf"), "Erf"),
)
