"""Ranking and picking along an axis: the indices of the k largest (or smallest) entries, and
entries picked per position by an index tensor (numpy.take_along_axis). With them a
detector's post-processing keeps its best candidates inside the graph (ONNX TopK and
GatherElements)."""
from __future__ import annotations

from ..ir.graph import TensorType
from .indexing import in_range, never_wrapped
from .onnx_read import from_the_end
from .registry import HALF_KEPT, Arg, Example, OpDef, ShapeError, no_macs, no_params, register
from .shapes import BROADCAST_RULE, broadcast, fits, fmt


def _axis(x: TensorType, axis: int, op: str) -> int:
    if not -x.rank <= axis < x.rank:
        raise ShapeError(f"{op} axis {axis} is out of range for {x.rank}-D {fmt(x.shape)}")
    return axis % x.rank


# ---------------------------------------------------------------------------- topk
def _topk_infer(attrs, types):
    x = types[0]
    if x.dtype == "bool":
        raise ShapeError("topk of a bool tensor")
    a = _axis(x, attrs["axis"], "topk")
    k = attrs["k"]
    if isinstance(k, int) and k < 1:
        raise ShapeError(f"topk needs k >= 1, got {k}")
    if not fits(x.shape[a] - k, 0, f"topk k={k} of axis {a}"):
        raise ShapeError(f"topk k={k} is larger than axis {a} of {fmt(x.shape)}",
                         ("take min(k, size) when the size may be smaller: "
                          "topk(s, min(1000, s.shape[1]))",))
    shape = list(x.shape)
    shape[a] = k
    return [TensorType("i64", tuple(shape))]


def top_indices(x, k: int, axis: int, largest: bool):
    """The indices of the k largest (smallest) entries along `axis`, best first; of equal
    entries the lower index first, at the cut too, as ONNX TopK chooses and orders them."""
    import torch
    kth = torch.topk(x, k, axis, largest, sorted=True).values.narrow(axis, k - 1, 1)
    better = x > kth if largest else x < kth
    equal = x == kth  # torch.topk leaves open which of these it takes: the first ones
    need = k - better.sum(axis, keepdim=True)
    chosen = better | (equal & (torch.cumsum(equal, axis) <= need))
    shape = [1] * x.dim()
    shape[axis] = x.shape[axis]
    position = torch.arange(x.shape[axis], device=x.device).reshape(shape)
    key = torch.where(chosen, position, x.shape[axis])  # the chosen k, in index order
    index = torch.topk(key, k, axis, largest=False, sorted=True).values
    order = torch.sort(torch.gather(x, axis, index), stable=True, dim=axis,
                       descending=largest).indices
    return torch.gather(index, axis, order)


def _topk_onnx(b, node, xs, ps):
    a = node.attrs
    axis = _axis(b.types[0], a["axis"], "topk")
    _, index = b.op_outputs("TopK", [xs[0], b.dim(a["k"])], 2, axis=axis,
                            largest=int(a["largest"]), sorted=1)
    return index


def _topk_import(m):
    """TopK's values and indices: topk gives the indices, take_along the values."""
    x = m.type(0)
    axis = m.attr("axis", -1) % x.rank
    index = m.call("topk", m.value(0), k=m.ints(1)[0], axis=axis,
                   largest=bool(m.attr("largest", 1)))
    return m.call("take_along", m.value(0), index, axis=axis), index


# ----------------------------------------------------------------------- take_along
def _along_shapes(attrs, types, op="take_along"):
    x, index = types
    if index.dtype not in ("i64", "i32"):
        raise ShapeError(f"{op} needs an integer index tensor (i64 or i32), got {index}")
    if index.rank != x.rank:
        raise ShapeError(f"{op} needs an index of x's rank {x.rank}, got {fmt(index.shape)} "
                         f"for {fmt(x.shape)}", ("unsqueeze the index where x has more dims",))
    a = _axis(x, attrs["axis"], op)
    rest_x = x.shape[:a] + (1,) + x.shape[a + 1:]
    rest_i = index.shape[:a] + (1,) + index.shape[a + 1:]
    try:
        out = list(broadcast([rest_x, rest_i], op))
    except ShapeError as e:
        raise ShapeError(f"{op}: {e} (every dim but axis {a} broadcasts)",
                         (BROADCAST_RULE,)) from None
    out[a] = index.shape[a]
    return a, tuple(out)


def _along_infer(attrs, types):
    _, out = _along_shapes(attrs, types)
    return [TensorType(types[0].dtype, out)]


def take_along_checked(x, index, axis: int, where: str):
    """numpy.take_along_axis: out[..., i, ...] = x[..., index[..., i, ...], ...], the other
    dims broadcast; never wrapped (in_range)."""
    import torch
    index = in_range(index, x.shape[axis], "take_along", where, axis)
    return torch.take_along_dim(x, index.long(), axis)


def _along_onnx(b, node, xs, ps):
    x, index = b.types
    axis, out = _along_shapes(node.attrs, b.types)
    size = x.shape[axis]
    i = never_wrapped(b, xs[1], size, index.dtype)
    data = xs[0]
    want_x = out[:axis] + (size,) + out[axis + 1:]
    if tuple(x.shape) != want_x:
        data = b.op("Expand", [data, b.shape_tensor(want_x)])
    if tuple(index.shape) != tuple(out):
        i = b.op("Expand", [i, b.shape_tensor(out)])
    return b.op("GatherElements", [data, i], axis=axis)


def _along_import(m):
    """GatherElements: ONNX counts a negative index from the end; take_along never wraps, so
    negative indices are counted from the end here (from_the_end)."""
    x = m.type(0)
    if m.type(1).rank != x.rank:
        m.refuse("GatherElements needs data and indices of one rank")
    a = m.attr("axis", 0) % x.rank
    index = from_the_end(m, 1, x.shape[a])
    return m.call("take_along", m.value(0), index, axis=a)


register(
    OpDef(name="topk", shape="x [..., S, ...] -> i64 [..., k, ...] (k <= S at `axis`)",
          example=Example(("f32[N, 3, 7]",), "take_along(x0, topk(x0, 4), axis=-1)"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          doc="The indices of the k largest entries along `axis` (largest=false: the k "
              "smallest), best first; equal entries in the order of their indices (ONNX "
              "TopK). take_along(x, topk(x, k)) gives the values.",
          args=(Arg("x", "tensor"), Arg("k", "dim"), Arg("axis", "int", -1),
                Arg("largest", "bool", True)),
          infer=_topk_infer,
          torch=lambda b, node, xs, ps: b.call(
              top_indices, xs[0], b.dim(node.attrs["k"]),
              _axis(b.types[0], node.attrs["axis"], "topk"), node.attrs["largest"]),
          onnx=_topk_onnx, onnx_import={"TopK": _topk_import}),
    OpDef(name="take_along", shape="x and index of one rank; dims but `axis` broadcast -> "
                                   "the broadcast shape with index's size at `axis`",
          example=Example(("f32[N, 6, 4]", "f32[N, 3]"),
                          "take_along(x0, unsqueeze(argmax(x1, axis=1, keepdims=true), 2), "
                          "axis=1)"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          doc="Entries picked per position (numpy.take_along_axis, torch.take_along_dim, ONNX "
              "GatherElements): out[..., i, ...] = x[..., index[..., i, ...], ...] along "
              "`axis`; the other dims broadcast. Indices must lie in [0, size) (never "
              "wrapped).",
          args=(Arg("x", "tensor"), Arg("index", "tensor"), Arg("axis", "int")),
          infer=_along_infer,
          torch=lambda b, node, xs, ps: b.call(
              take_along_checked, xs[0], xs[1], _along_shapes(node.attrs, b.types)[0],
              node.name),
          onnx=_along_onnx, onnx_import={"GatherElements": _along_import}),
)
