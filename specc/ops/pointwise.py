"""The modern activations and element-wise math: one entry each, shape-preserving.

ONNX lowerings use the standard op where the chosen opset has it (Gelu from 20, Mish from
18, HardSwish from 14) and the textbook decomposition below that; both paths are tested."""
from __future__ import annotations

import math

import numpy as np

from .registry import (HALF_EXACT, HALF_KEPT, Arg, Example, no_macs, no_params, OpDef, register,
                       ShapeError, Trait)
from .onnx_read import F32_MAX, scalar, unary
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
           imports=None, half=HALF_EXACT):
    """A shape-preserving op; its example applies it to [N, 3, 4] (as `call`, if given).
    With an ONNX op type as `onnx`, the import reads that type back (numpy's `imports` ufunc
    computes it on known values)."""
    rules = {}
    if isinstance(onnx, str):
        op_type = onnx
        onnx = lambda b, node, xs, ps: b.op(op_type, xs)  # noqa: E731
        rules = {op_type: unary(name, imports)}
    elif isinstance(imports, dict):
        rules = imports
    return OpDef(name=name, doc=doc, shape="same as x", onnx_import=rules,
                 example=Example(("f32[N, 3, 4]",), call or f"{name}(x0)"),
                 args=(Arg("x", "tensor"),) + tuple(args),
                 infer=infer or _same(name), torch=torch_fn, onnx=onnx, tolerance=tolerance,
                 params=no_params, macs=no_macs, traits=frozenset({Trait.ELEMENTWISE}), half=half)


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


def _gelu_import(m):
    return m.call("gelu", m.value(0), approximate=m.attr("approximate", "none"))


def _hardsigmoid_import(m):
    """HardSigmoid max(0, min(1, alpha x + beta)): MobileNetV3's (1/6, 1/2) is one op, other
    slopes its formula."""
    alpha, beta = m.attr("alpha", 0.2), m.attr("beta", 0.5)
    if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
        return m.call("hardsigmoid", m.value(0))
    dt = m.type(0).dtype
    scaled = m.call("add", m.call("mul", m.value(0), m.constant(alpha, dt)), m.constant(beta, dt))
    return m.call("clip", scaled, min=0.0, max=1.0)


def _clip_import(m):
    """Clip with known bounds (attributes before opset 11, inputs after); a missing bound is
    float32's largest value; (0, 6) is relu6."""
    if m.version < 11:
        lo, hi = m.attr("min", -F32_MAX), m.attr("max", F32_MAX)
    else:
        lo, hi = scalar(m, 1, -F32_MAX), scalar(m, 2, F32_MAX)
    if m.type(0).dtype not in ("f32", "f16", "f64", "bf16"):
        m.refuse(f"Clip of {m.type(0).dtype} tensors (specc's clip is for floats)")
    if m.foldable():
        return m.fold(np.clip(m.known(0), lo, hi))
    if lo > hi:
        lo = hi  # min(max(x, lo), hi) is hi everywhere
    if lo == 0 and hi == 6:
        return m.call("relu6", m.value(0))
    return m.call("clip", m.value(0), min=float(max(lo, -F32_MAX)), max=float(min(hi, F32_MAX)))


def _softplus_import(m):
    return m.call("softplus", m.value(0))


def _gelu_torch(b, node, xs, ps):
    return b.call(b.F.gelu, xs[0], approximate=node.attrs["approximate"])


register(
    _unary("gelu", "Gaussian error linear unit x * Phi(x) (Hendrycks & Gimpel 2016); "
           "approximate=\"tanh\" uses the tanh formula.", _gelu_torch, _gelu_onnx,
           args=(Arg("approximate", "str", "none"),), infer=_gelu_infer,
           imports={"Gelu": _gelu_import}),
    _unary("silu", "Sigmoid-weighted linear unit x * sigmoid(x) (Swish-1).",
           _fn("silu", "F"), _silu_onnx),
    _unary("hardswish", "x * relu6(x + 3) / 6 (MobileNetV3).", _fn("hardswish", "F"),
           _hardswish_onnx, imports={"HardSwish": unary("hardswish")},
           call="hardswish(x0 * 4.0)"),
    _unary("hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3).", _fn("hardsigmoid", "F"),
           lambda b, node, xs, ps: b.op("HardSigmoid", xs, alpha=1.0 / 6.0, beta=0.5),
           imports={"HardSigmoid": _hardsigmoid_import},
           call="hardsigmoid(x0 * 4.0)"),
    _unary("relu6", "min(max(x, 0), 6) (MobileNetV2).", _fn("relu6", "F"), _clip_onnx(0.0, 6.0),
           call="relu6(x0 * 8.0)"),
    _unary("clip", "min(max(x, min), max); either bound may be left out (none): "
           "clip(s, max=4.6) is torch.clamp(s, max=4.6).", _fn("clamp", "torch", "min", "max"),
           _clip_onnx(None, None), args=(Arg("min", "float", None), Arg("max", "float", None)),
           imports={"Clip": _clip_import},
           infer=_clip_infer,
           call="clip(x0, -0.5, 0.25) + clip(x0, max=0.1)"),
    _unary("leaky_relu", "x where x > 0, else slope * x.", _fn("leaky_relu", "F", "slope"),
           lambda b, node, xs, ps: b.op("LeakyRelu", xs, alpha=node.attrs["slope"]),
           imports={"LeakyRelu": lambda m: m.call("leaky_relu", m.value(0),
                                                 slope=m.attr("alpha", 0.01))},
           args=(Arg("slope", "float", 0.01),),
           call="leaky_relu(x0, 0.2)"),
    _unary("elu", "x where x > 0, else alpha * (exp(x) - 1) (Clevert et al. 2016).",
           _fn("elu", "F", "alpha"),
           lambda b, node, xs, ps: b.op("Elu", xs, alpha=node.attrs["alpha"]),
           imports={"Elu": lambda m: m.call("elu", m.value(0), alpha=m.attr("alpha", 1.0))},
           args=(Arg("alpha", "float", 1.0),),
           call="elu(x0, 0.7)"),
    _unary("softplus", "log(1 + exp(beta * x)) / beta.", _softplus_torch, _softplus_onnx,
           imports={"Softplus": _softplus_import},
           args=(Arg("beta", "float", 1.0),),
           call="softplus(x0, beta=2.0)"),
    _unary("mish", "x * tanh(softplus(x)) (Misra 2019).", _fn("mish", "F"), _mish_onnx,
           imports={"Mish": unary("mish")}),
    _unary("sqrt", "Square root; with a number, the compile-time sqrt().", _fn("sqrt"), "Sqrt",
           imports=np.sqrt, call="sqrt(abs(x0) + 0.1)"),
    _unary("exp", "e to the power x; with a number, the compile-time exp().", _fn("exp"), "Exp",
           imports=np.exp, half=HALF_KEPT),  # e^11 is past fp16's largest value
    _unary("log", "Natural logarithm; with a number, the compile-time log(x[, base]).",
           _fn("log"), "Log", imports=np.log, call="log(abs(x0) + 0.1)", half=HALF_KEPT),
    _unary("abs", "Absolute value |x| of a float or integer tensor; with a number, the "
           "compile-time abs().", _fn("abs"), "Abs", infer=_signed("abs"), imports=np.abs),
    _unary("neg", "Negation, -x (also written -x), of a float or integer tensor.", _fn("neg"),
           "Neg", infer=_signed("neg"), imports=np.negative),
    _unary("reciprocal", "The reciprocal 1 / x.", _fn("reciprocal"), "Reciprocal",
           imports=np.reciprocal,
           call="reciprocal(abs(x0) + 0.5)"),
    _unary("erf", "The error function.", _fn("erf"), "Erf"),
)


# ------------------------------------------------------------- more element-wise math
def _selu_torch(b, node, xs, ps):
    a = node.attrs
    return b.call(selu, xs[0], a["alpha"], a["gamma"])


def selu(x, alpha: float, gamma: float):
    """gamma * (x if x > 0 else alpha * (exp(x) - 1)) (Klambauer et al. 2017)."""
    import torch
    return gamma * torch.where(x > 0, x, alpha * torch.expm1(x))


def _celu_torch(b, node, xs, ps):
    return b.call(b.F.celu, xs[0], node.attrs["alpha"])


def thresholded(x, alpha: float):
    import torch
    return torch.where(x > alpha, x, torch.zeros_like(x))


def shrink(x, lambd: float, bias: float):
    """x + bias below -lambd, x - bias above lambd, 0 between (ONNX Shrink)."""
    import torch
    return torch.where(x < -lambd, x + bias, torch.where(x > lambd, x - bias,
                                                         torch.zeros_like(x)))


def _is_inf_torch(b, node, xs, ps):
    return b.call(is_inf, xs[0], node.attrs["negative"], node.attrs["positive"])


def is_inf(x, negative: bool, positive: bool):
    import torch
    return (torch.isinf(x) & (x > 0) & positive) | (torch.isinf(x) & (x < 0) & negative)


def _bool_of(name):
    def infer(attrs, types):
        float_input(types[0], name)
        return [types[0].__class__("bool", types[0].shape)]
    return infer


def _attr_import(name, **renames):
    """A rule passing ONNX attributes on under specc's names (with ONNX's defaults)."""
    def read(m):
        return m.call(name, m.value(0), **{ours: m.attr(theirs, default)
                                           for ours, (theirs, default) in renames.items()})
    return read


def _math(name, doc, torch_name, onnx_op, np_fn, call=None):
    return _unary(name, doc, _fn(torch_name), onnx_op, imports=np_fn, call=call)


register(
    _math("sin", "Sine, element-wise.", "sin", "Sin", np.sin),
    _math("cos", "Cosine, element-wise.", "cos", "Cos", np.cos),
    _math("tan", "Tangent, element-wise.", "tan", "Tan", np.tan, call="tan(tanh(x0))"),
    _math("asin", "Arcsine (x in [-1, 1]).", "asin", "Asin", np.arcsin, call="asin(tanh(x0))"),
    _math("acos", "Arccosine (x in [-1, 1]).", "acos", "Acos", np.arccos, call="acos(tanh(x0))"),
    _math("atan", "Arctangent, element-wise.", "atan", "Atan", np.arctan),
    _math("sinh", "Hyperbolic sine, element-wise.", "sinh", "Sinh", np.sinh),
    _math("cosh", "Hyperbolic cosine, element-wise.", "cosh", "Cosh", np.cosh),
    _math("asinh", "Inverse hyperbolic sine, element-wise.", "asinh", "Asinh", np.arcsinh),
    _math("acosh", "Inverse hyperbolic cosine (x >= 1).", "acosh", "Acosh", np.arccosh,
          call="acosh(abs(x0) + 1.0)"),
    _math("atanh", "Inverse hyperbolic tangent (x in (-1, 1)).", "atanh", "Atanh", np.arctanh,
          call="atanh(tanh(x0) * 0.9)"),
    _math("floor", "The largest integer not above x.", "floor", "Floor", np.floor,
          call="floor(x0 * 4.0)"),
    _math("ceil", "The smallest integer not below x.", "ceil", "Ceil", np.ceil,
          call="ceil(x0 * 4.0)"),
    _math("round", "The nearest integer, halves to even.", "round", "Round", np.round,
          call="round(x0 * 4.0)"),
    _math("sign", "-1, 0 or 1 by the sign of x.", "sign", "Sign", np.sign),
    _unary("softsign", "Softsign: x / (1 + |x|).", _fn("softsign", "F"), "Softsign"),
    _unary("selu", "Scaled ELU: gamma * (x if x > 0 else alpha * (exp(x) - 1)).", _selu_torch,
           lambda b, node, xs, ps: b.op("Selu", xs, alpha=node.attrs["alpha"],
                                        gamma=node.attrs["gamma"]),
           args=(Arg("alpha", "float", 1.67326319217681884765625),
                 Arg("gamma", "float", 1.05070102214813232421875)),
           imports={"Selu": _attr_import("selu", alpha=("alpha", 1.67326319217681884765625),
                                         gamma=("gamma", 1.05070102214813232421875))}),
    _unary("celu", "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).", _celu_torch,
           lambda b, node, xs, ps: b.op("Celu", xs, alpha=node.attrs["alpha"]),
           args=(Arg("alpha", "float", 1.0),), call="celu(x0, 0.5)",
           imports={"Celu": _attr_import("celu", alpha=("alpha", 1.0))}),
    _unary("thresholded_relu", "x where x > alpha, else 0.",
           lambda b, node, xs, ps: b.call(thresholded, xs[0], node.attrs["alpha"]),
           lambda b, node, xs, ps: b.op("ThresholdedRelu", xs, alpha=node.attrs["alpha"]),
           args=(Arg("alpha", "float", 1.0),), call="thresholded_relu(x0, 0.5)",
           imports={"ThresholdedRelu": _attr_import("thresholded_relu", alpha=("alpha", 1.0))}),
    _unary("shrink", "x + bias below -lambd, x - bias above lambd, else 0 (soft and hard "
           "shrinkage).",
           lambda b, node, xs, ps: b.call(shrink, xs[0], node.attrs["lambd"], node.attrs["bias"]),
           lambda b, node, xs, ps: b.op("Shrink", xs, lambd=node.attrs["lambd"],
                                        bias=node.attrs["bias"]),
           args=(Arg("lambd", "float", 0.5), Arg("bias", "float", 0.0)),
           call="shrink(x0, 0.5, bias=0.25)",
           imports={"Shrink": _attr_import("shrink", lambd=("lambd", 0.5), bias=("bias", 0.0))}),
    _unary("is_nan", "True where x is NaN (a bool tensor).", _fn("isnan"), "IsNaN", infer=_bool_of("is_nan"),
           call="where(is_nan(log(x0)), x0, 0.0)"),
    _unary("is_inf", "True where x is infinite (of the signs asked for).", _is_inf_torch,
           lambda b, node, xs, ps: b.op("IsInf", xs, detect_negative=int(node.attrs["negative"]),
                                        detect_positive=int(node.attrs["positive"])),
           args=(Arg("negative", "bool", True), Arg("positive", "bool", True)),
           infer=_bool_of("is_inf"), call="where(is_inf(x0 * 1e38 * 10.0), x0, 0.0)",
           imports={"IsInf": _attr_import("is_inf", negative=("detect_negative", 1),
                                          positive=("detect_positive", 1))}),
)
