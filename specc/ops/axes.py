"""Dims of size 1: unsqueeze inserts them, squeeze removes them (ONNX Unsqueeze, Squeeze)."""
from __future__ import annotations

import numpy as np

from ..ir.graph import TensorType
from .onnx_read import attr_or_input
from .registry import Example, Arg, OpDef, ShapeError, no_macs, no_params, register
from .shapes import fmt


def _axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{op} axis {axis} is out of range for rank {rank}")
    return axis % rank


def _unsqueeze_axes(attrs, x: TensorType) -> list[int]:
    rank = x.rank + len(attrs["axes"])
    axes = sorted(_axis(a, rank, "unsqueeze") for a in attrs["axes"])
    if len(set(axes)) != len(axes):
        raise ShapeError(f"unsqueeze lists an axis twice: {fmt(attrs['axes'])}")
    return axes


def _unsqueeze_infer(attrs, types):
    x = types[0]
    shape = list(x.shape)
    for a in _unsqueeze_axes(attrs, x):
        shape.insert(a, 1)
    return [TensorType(x.dtype, tuple(shape))]


def _squeeze_axes(attrs, x: TensorType) -> list[int]:
    axes = sorted({_axis(a, x.rank, "squeeze") for a in attrs["axes"]})
    bad = [a for a in axes if x.shape[a] != 1]
    if bad:
        raise ShapeError(f"squeeze needs size-1 dims, but dim {bad[0]} of {fmt(x.shape)} is "
                         f"{x.shape[bad[0]]}")
    return axes


def _squeeze_infer(attrs, types):
    x = types[0]
    axes = _squeeze_axes(attrs, x)
    return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


def unsqueeze_dims(x, axes: tuple):
    for a in axes:
        x = x.unsqueeze(a)
    return x


def _unsqueeze_torch(b, node, xs, ps):
    return b.call(unsqueeze_dims, xs[0], tuple(_unsqueeze_axes(node.attrs, b.types[0])))


def _squeeze_torch(b, node, xs, ps):
    return b.call(b.torch.squeeze, xs[0], tuple(_squeeze_axes(node.attrs, b.types[0])))


def _unsqueeze_onnx(b, node, xs, ps):
    return b.op("Unsqueeze", [xs[0], b.const(_unsqueeze_axes(node.attrs, b.types[0]), "i64")])


def _squeeze_onnx(b, node, xs, ps):
    return b.op("Squeeze", [xs[0], b.const(_squeeze_axes(node.attrs, b.types[0]), "i64")])


def _unsqueeze_import(m):
    """Unsqueeze; an index [N] made [N, 1] for a GatherND over the batch is specc's gather
    read back (its export writes that pair)."""
    axes = attr_or_input(m, "axes", 1)
    user = m.sole_user()
    if user is not None and user.op_type == "GatherND" and user.attr("batch_dims", 0) == 1 \
            and user.node.input[1] == m.node.output[0] and list(axes) == [1] \
            and m.type(0).rank == 1 and not m.is_known(0):
        m.absorb(user)
        return m.call("gather", user.value(0), m.value(0))
    if m.all_known():
        x = m.type(0)
        rank = x.rank + len(axes)
        at = sorted(a % rank for a in axes)
        return m.derive(0, lambda a: np.expand_dims(a, tuple(at)), "unsqueeze", axes=axes)
    return m.call("unsqueeze", m.value(0), axes=axes)


def _squeeze_import(m):
    x = m.type(0)
    axes = attr_or_input(m, "axes", 1)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
        if any(not isinstance(d, int) for d in x.shape):
            m.refuse(f"Squeeze without axes over symbolic dims {list(x.shape)}")
    if m.all_known():
        at = tuple(a % x.rank for a in axes)
        return m.derive(0, lambda a: np.squeeze(a, at), "squeeze", axes=list(at))
    if not axes:
        return m.same(0)
    return m.call("squeeze", m.value(0), axes=axes)


register(
    OpDef(name="unsqueeze",
          shape="a dim of size 1 inserted at each of `axes` (numbered in the result)",
          example=Example(("f32[N, 3, 4]",), "unsqueeze(x0, [1, -1])"),
          doc="Insert dims of size 1 at `axes` (positions in the result).",
          args=(Arg("x", "tensor"), Arg("axes", "int_list")), infer=_unsqueeze_infer,
          torch=_unsqueeze_torch, onnx=_unsqueeze_onnx, params=no_params, macs=no_macs,
          tolerance=1e-5, traits=frozenset(), onnx_import={"Unsqueeze": _unsqueeze_import}),
    OpDef(name="squeeze",
          shape="the dims at `axes` (each of size 1) removed",
          example=Example(("f32[N, 3, 1, 4]",), "squeeze(x0, [2])"),
          doc="Remove dims of size 1 at `axes`.",
          args=(Arg("x", "tensor"), Arg("axes", "int_list")), infer=_squeeze_infer,
          torch=_squeeze_torch, onnx=_squeeze_onnx, params=no_params, macs=no_macs,
          tolerance=1e-5, traits=frozenset(), onnx_import={"Squeeze": _squeeze_import}),
)
