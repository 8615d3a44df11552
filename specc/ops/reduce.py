"""Reductions over axes: mean, sum, max, min, with or without keeping the reduced dims.

ONNX moved `axes` from an attribute to an input (ReduceSum at opset 13, the others at 18);
`reduce_onnx` emits whichever form the chosen opset wants."""
from __future__ import annotations

import numpy as np

from ..ir.graph import TensorType
from .registry import (HALF_EXACT, HALF_SUMS, Arg, Example, no_macs, no_params, OpDef, register,
                       ShapeError)
from .onnx_read import attr_or_input, axis
from .shapes import fmt

_ONNX = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin",
         "prod": "ReduceProd", "l1_norm": "ReduceL1", "l2_norm": "ReduceL2",
         "log_sum": "ReduceLogSum", "log_sum_exp": "ReduceLogSumExp",
         "sum_square": "ReduceSumSquare"}


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
    """torch's max/min over several dims at once are amax/amin; its prod takes one dim."""
    import torch
    if kind == "prod":
        for a in sorted(axes, reverse=True):
            x = torch.prod(x, a, keepdims)
        return x
    if kind == "l2_norm":
        return torch.linalg.vector_norm(x, 2, axes, keepdims)
    if kind == "l1_norm":
        return torch.sum(torch.abs(x), axes, keepdims)
    if kind == "sum_square":
        return torch.sum(x * x, axes, keepdims)
    if kind == "log_sum":
        return torch.log(torch.sum(x, axes, keepdims))
    if kind == "log_sum_exp":
        return torch.logsumexp(x, axes, keepdims)
    fn = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}[kind]
    return fn(x, axes, keepdims)


_NUMPY = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod,
          "l1_norm": lambda a, **k: np.sum(np.abs(a), **k),
          "l2_norm": lambda a, **k: np.sqrt(np.sum(a * a, **k)),
          "sum_square": lambda a, **k: np.sum(a * a, **k),
          "log_sum": lambda a, **k: np.log(np.sum(a, **k)),
          "log_sum_exp": lambda a, **k: np.log(np.sum(np.exp(a), **k))}


def _import(kind: str):
    """ReduceMean/Sum/Max/Min: axes as an attribute (older opsets) or an input; none given
    reduces every axis (or none, with noop_with_empty_axes)."""
    np_fn = _NUMPY[kind]

    def read(m):
        x = m.type(0)
        axes = attr_or_input(m, "axes", 1, None)
        keep = bool(m.attr("keepdims", 1))
        if not axes:
            if m.attr("noop_with_empty_axes", 0):
                return m.same(0)
            axes = list(range(x.rank))
        axes = [axis(m, a, x.rank) for a in axes]
        if m.foldable() and not m.known(0).dtype == object:
            return m.fold(np_fn(m.known(0), axis=tuple(axes), keepdims=keep))
        if x.rank == 0:
            return m.same(0)
        return m.call(kind, m.value(0), axes=axes, keepdims=keep)
    return read


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
                 half=HALF_SUMS if kind in ("mean", "sum") else HALF_EXACT,
                 onnx_import={_ONNX[kind]: _import(kind)})


register(
    _entry("mean", "Mean over `axes` (a reduced dim is dropped, or kept as 1 with keepdims).",
           Example(("f32[N, 3, 4, 5]",), "mean(x0, [1, 2])")),
    _entry("sum", "Sum over `axes` (a reduced dim is dropped, or kept as 1 with keepdims).",
           Example(("f32[N, 3, 4]",), "sum(x0, [2], keepdims=true)")),
    _entry("max", "Largest value over `axes`; with numbers, the compile-time max().",
           Example(("f32[N, 3, 4]",), "max(x0, [1])")),
    _entry("min", "Smallest value over `axes`; with numbers, the compile-time min().",
           Example(("f32[N, 3, 4, 2]",), "min(x0, [-1, 1])")),
    _entry("prod", "Product over `axes`.", Example(("f32[N, 3, 4]",), "prod(x0, [1, 2])")),
    _entry("l1_norm", "Sum of |x| over `axes`.", Example(("f32[N, 3, 4]",), "l1_norm(x0, [2])")),
    _entry("l2_norm", "Euclidean norm sqrt(sum x^2) over `axes`.",
           Example(("f32[N, 3, 4]",), "l2_norm(x0, [1, 2], keepdims=true)")),
    _entry("log_sum", "log(sum x) over `axes`.",
           Example(("f32[N, 3, 4]",), "log_sum(abs(x0) + 0.1, [2])")),
    _entry("log_sum_exp", "log(sum exp x) over `axes`, computed stably.",
           Example(("f32[N, 3, 4]",), "log_sum_exp(x0, [1])")),
    _entry("sum_square", "Sum of x^2 over `axes`.",
           Example(("f32[N, 3, 4]",), "sum_square(x0, [2])")),
)
