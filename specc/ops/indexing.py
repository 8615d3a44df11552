"""Choosing elements by computed indices: gather one step of a sequence per sample, and turn
a relative position into an index (Yeung et al.'s observation network picks a frame)."""
from __future__ import annotations

from ..ir.graph import TensorType
from .registry import Arg, Example, OpDef, ShapeError, no_macs, no_params, register
from .shapes import float_input, fmt


def _gather_infer(attrs, types):
    x, index = types
    if x.rank < 2 or index.dtype not in ("i64", "i32") or index.rank != 1:
        raise ShapeError(f"gather expects x [N, T, ...] and an integer index [N], got "
                         f"{fmt(x.shape)} and {index}")
    return [TensorType(x.dtype, (x.shape[0], *x.shape[2:]))]


def gather_rows(x, index):
    """x[n, index[n]] for every sample n (no gradient reaches the index)."""
    import torch
    return x[torch.arange(x.shape[0], device=x.device), index.long()]


def _gather_onnx(b, node, xs, ps):
    index = xs[1]
    if b.types[1].dtype != "i64":
        index = b.op("Cast", [index], to=b.onnx_dtype("i64"))
    return b.op("GatherND", [xs[0], b.op("Unsqueeze", [index, b.const([1], "i64")])],
                batch_dims=1)


def _index_infer(attrs, types):
    p = types[0]
    float_input(p, "index_of")
    if not (p.rank == 1 or (p.rank == 2 and p.shape[1] == 1)):
        raise ShapeError(f"index_of expects positions [N] or [N, 1], got {fmt(p.shape)}")
    if attrs["size"] < 1:
        raise ShapeError(f"index_of needs size >= 1, got {attrs['size']}")
    return [TensorType("i64", (p.shape[0],))]


def index_at(p, size: int):
    """clamp(round(p * size), 1, size) - 1: position 0 -> 0, 1 -> size - 1."""
    return (p.reshape(-1) * size).round().clamp(1, size).long() - 1


def _index_onnx(b, node, xs, ps):
    dt, size = b.types[0].dtype, node.attrs["size"]
    scaled = b.op("Round", [b.op("Mul", [xs[0], b.const([float(size)], dt, ())])])
    clipped = b.op("Clip", [scaled, b.const([1.0], dt, ()), b.const([float(size)], dt, ())])
    index = b.op("Cast", [b.op("Sub", [clipped, b.const([1.0], dt, ())])],
                 to=b.onnx_dtype("i64"))
    return b.op("Reshape", [index, b.const([-1], "i64")])


register(
    OpDef(name="gather", shape="x [N, T, ...], index i64 [N] -> [N, ...]",
          example=Example(("f32[N, 5, 3]", "f32[N, 1]"), "gather(x0, index_of(sigmoid(x1), 5))"),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          doc="x[n, index[n]]: one step of each sample's sequence, chosen by an integer index "
              "[N] (e.g. a sampled glimpse location).",
          args=(Arg("x", "tensor"), Arg("index", "tensor")), infer=_gather_infer,
          torch=lambda b, node, xs, ps: b.call(gather_rows, *xs), onnx=_gather_onnx),
    OpDef(name="index_of", shape="[N] or [N, 1] -> i64 [N]",
          example=Example(("f32[N, 1]",), "index_of(sigmoid(x0), 7)"),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          doc="The index of the element at relative position p of `size` elements: "
              "clamp(round(p * size), 1, size) - 1 (Yeung et al.: round(l * 50) clamped to "
              "[1, 50], counted from 1). An i64 tensor [N].",
          args=(Arg("position", "tensor"), Arg("size", "int")), infer=_index_infer,
          torch=lambda b, node, xs, ps: b.call(index_at, xs[0], node.attrs["size"]),
          onnx=_index_onnx),
)
