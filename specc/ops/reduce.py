"""Reductions over axes: mean, sum, max, min, with or without keeping the reduced dims.

ONNX moved `axes` from an attribute to an input (ReduceSum at opset 13, the others at 18);
`reduce_onnx` emits whichever form the chosen opset wants."""
from __future__ import annotations

from ..ir.graph import TensorType
from .registry import (HALF_EXACT, HALF_SUMS, Example, Arg, OpDef, ShapeError, no_macs, no_params,
                       register)
from .shapes import fmt

_ONNX = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin"}


def axes_of(attrs, x: TensorType, op: str) -> list[int]:
    axes = attrs["axes"] if isinstance(attrs["axes"], tuple) else (attrs["axes"],)
    if not axes:
        raise ShapeError(f"{op} needs at least one axis")
    out = []
    for a in axes:
        if not -x.rank <= a < x.rank:
            raise ShapeError(f"{op} axis {a} is out of range for rank {x.rank} {fmt(x.shape)}")
        out.append(a % x.rank)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op} lists an axis twice: {fmt(axes)}")
    return sorted(out)


def _infer(op):
    def infer(attrs, types):
        x = types[0]
        axes = axes_of(attrs, x, op)
        if attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return [TensorType(x.dtype, shape)]
    return infer


def reduce_onnx(b, op_type: str, x: str, axes: list[int], keepdims: bool) -> str:
    if op_type == "ReduceSum" or b.opset >= 18:
        return b.op(op_type, [x, b.const(axes, "i64")], keepdims=int(keepdims))
    return b.op(op_type, [x], axes=axes, keepdims=int(keepdims))


def reduce_values(x, kind: str, axes: tuple, keepdims: bool):
    """torch's max/min over several dims at once are amax/amin."""
    import torch
    fn = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}[kind]
    return fn(x, axes, keepdims)


def _entry(kind: str, doc: str, example: Example) -> OpDef:
    def lower_torch(b, node, xs, ps):
        axes = tuple(axes_of(node.attrs, b.types[0], kind))
        return b.call(reduce_values, xs[0], kind, axes, node.attrs["keepdims"])

    def lower_onnx(b, node, xs, ps):
        axes = axes_of(node.attrs, b.types[0], kind)
        return reduce_onnx(b, _ONNX[kind], xs[0], axes, node.attrs["keepdims"])

    return OpDef(name=kind, doc=doc, example=example,
                 shape="x without the `axes` (kept as 1 with keepdims)",
                 args=(Arg("x", "tensor"), Arg("axes", "int_list"), Arg("keepdims", "bool", False)),
                 infer=_infer(kind), torch=lower_torch, onnx=lower_onnx, tolerance=1e-5,
                 params=no_params, macs=no_macs, traits=frozenset(),
                 half=HALF_SUMS if kind in ("mean", "sum") else HALF_EXACT)


register(
    _entry("mean", "Mean over `axes` (a reduced dim is dropped, or kept as 1 with keepdims).",
           Example(("f32[N, 3, 4, 5]",), "mean(x0, [1, 2])")),
    _entry("sum", "Sum over `axes` (a reduced dim is dropped, or kept as 1 with keepdims).",
           Example(("f32[N, 3, 4]",), "sum(x0, [2], keepdims=true)")),
    _entry("max", "Largest value over `axes`; with numbers, the compile-time max().",
           Example(("f32[N, 3, 4]",), "max(x0, [1])")),
    _entry("min", "Smallest value over `axes`; with numbers, the compile-time min().",
           Example(("f32[N, 3, 4, 2]",), "min(x0, [-1, 1])")),
)
