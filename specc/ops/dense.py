"""Fully connected layers and matrix products."""
from __future__ import annotations

from ..ir.graph import Init, TensorType
from .registry import (HALF_SUMS, Example, Arg, OpDef, ParamSpec, ShapeError, no_macs, no_params,
                       register)
from .shapes import broadcast, float_input, fmt, same_dtype

DEFAULT = Init("default")


def _features(x: TensorType) -> int:
    if x.rank < 2:
        raise ShapeError(f"linear expects an input [N, ..., features], got {fmt(x.shape)}")
    float_input(x, "linear")
    f = x.shape[-1]
    if not isinstance(f, int):
        raise ShapeError(f"linear needs a known feature count, got symbolic '{f}'")
    return f


def _linear_infer(attrs, types):
    x = types[0]
    _features(x)
    if attrs["features"] < 1:
        raise ShapeError(f"linear needs at least 1 output feature, got {attrs['features']}")
    return [TensorType(x.dtype, (*x.shape[:-1], attrs["features"]))]


def _linear_params(attrs, types):
    f_in, f_out = _features(types[0]), attrs["features"]
    out = {"weight": ParamSpec((f_out, f_in), attrs["init"], fan_in=f_in, fan_out=f_out)}
    if attrs["bias"]:
        out["bias"] = ParamSpec((f_out,), attrs["bias_init"], fan_in=f_in, fan_out=f_out)
    return out


def _linear_macs(attrs, types, outs):
    return (outs[0].per_sample() or 0) * _features(types[0])


def _linear_torch(b, node, xs, ps):
    return b.call(b.F.linear, xs[0], ps["weight"], ps.get("bias"))


def _linear_onnx(b, node, xs, ps):
    if b.types[0].rank == 2:
        inputs = [xs[0], ps["weight"]] + ([ps["bias"]] if "bias" in ps else [])
        return b.op("Gemm", inputs, transB=1)
    y = b.op("MatMul", [xs[0], b.op("Transpose", [ps["weight"]], perm=[1, 0])])
    return b.op("Add", [y, ps["bias"]]) if "bias" in ps else y


def _matmul_infer(attrs, types):
    a, b = types
    if a.rank < 2 or b.rank < 2:
        raise ShapeError(f"matmul needs operands of rank >= 2, got {fmt(a.shape)} and {fmt(b.shape)}")
    dtype = same_dtype(types, "matmul")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"matmul inner dimensions differ: {fmt(a.shape)} @ {fmt(b.shape)} "
                         f"({a.shape[-1]} != {b.shape[-2]})")
    lead = broadcast([a.shape[:-2], b.shape[:-2]], "matmul")
    return [TensorType(dtype, (*lead, a.shape[-2], b.shape[-1]))]


def _matmul_macs(attrs, types, outs):
    k = types[0].shape[-1]
    return (outs[0].per_sample() or 0) * (k if isinstance(k, int) else 0)


def _embedding_infer(attrs, types):
    x = types[0]
    if x.dtype not in ("i32", "i64"):
        raise ShapeError(f"embedding takes integer indices (i64 or i32), got {x.dtype}")
    if attrs["num"] < 1 or attrs["dim"] < 1:
        raise ShapeError("embedding needs a positive table size and width")
    return [TensorType("f32", (*x.shape, attrs["dim"]))]


def _embedding_params(attrs, types):
    return {"weight": ParamSpec((attrs["num"], attrs["dim"]), attrs["init"], fan_in=attrs["num"],
                                fan_out=attrs["dim"])}


register(
    OpDef(name="embedding",
          shape="integer indices [...] -> [..., dim]",
          example=Example(("i64[N, 5]",), "embedding(x0, 7, 4)"),
          doc="Look up rows of a table: integer indices [...] -> [..., dim]. Owns `weight` "
              "[num, dim] (torch.nn.Embedding; initialised N(0, 1) like it).",
          args=(Arg("x", "tensor"), Arg("num", "int"), Arg("dim", "int"),
                Arg("init", "init", Init("normal", (1.0, 0.0)))),
          infer=_embedding_infer, params=_embedding_params,
          torch=lambda b, node, xs, ps: b.call(b.F.embedding, xs[0], ps["weight"]),
          onnx=lambda b, node, xs, ps: b.op("Gather", [ps["weight"], xs[0]], axis=0),
          macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="linear", half=HALF_SUMS,
          shape="[..., F] -> [..., features]",
          example=Example(("f32[N, 7]",), "linear(x0, 5)"),
          doc="Fully connected layer y = x W^T + b over the last dim. Owns `weight` [out, in] "
              "and `bias` [out].",
          args=(Arg("x", "tensor"), Arg("features", "int"), Arg("bias", "bool", True),
                Arg("init", "init", DEFAULT), Arg("bias_init", "init", DEFAULT)),
          infer=_linear_infer, params=_linear_params, macs=_linear_macs,
          torch=_linear_torch, onnx=_linear_onnx, tolerance=1e-4,
          traits=frozenset({"weighted", "backward_ignores_output"}),
          synapses={"weight": "dense", "bias": "bias"}),
    OpDef(name="matmul", half=HALF_SUMS,
          shape="[..., n, k] and [..., k, m] -> [..., n, m]; the leading dims broadcast",
          example=Example(("f32[N, 3, 4]", "f32[N, 4, 5]"), "matmul(x0, x1)"),
          doc="Matrix product a @ b over the last two dims; the dims before them broadcast "
              "by NumPy's rule (a 2-D `b` is shared by every sample).",
          args=(Arg("a", "tensor"), Arg("b", "tensor")),
          infer=_matmul_infer, macs=_matmul_macs,
          torch=lambda b, node, xs, ps: b.call(b.torch.matmul, xs[0], xs[1]),
          onnx=lambda b, node, xs, ps: b.op("MatMul", xs),
          tolerance=1e-4, params=no_params, traits=frozenset({"backward_ignores_output"}),
          synapses={"b": "dense_in"}),
)
