"""Choosing elements by computed indices: take entries of a tensor by an index tensor (Swin's
and MaxViT's relative position bias, `table[index]`), gather one step of a sequence per
sample, and turn a relative position into an index (Yeung et al.'s observation network picks
a frame).

An index out of range is never wrapped: where the indices are declared numbers the compiler
checks them, otherwise the torch module raises before indexing, and the ONNX model maps a
negative index out of range so that onnxruntime's Gather refuses it."""
from __future__ import annotations

from ..core.diagnostics import SpeccError
from ..ir.graph import TensorType
from .registry import Arg, Example, OpDef, ShapeError, no_macs, no_params, register
from .shapes import float_input, fmt


# ------------------------------------------------------------------------------- take
def _take_axis(attrs, x: TensorType) -> int:
    axis = attrs["axis"]
    if not -x.rank <= axis < x.rank:
        raise ShapeError(f"take axis {axis} is out of range for {x.rank}-D {fmt(x.shape)}")
    return axis % x.rank


def _take_infer(attrs, types):
    x, index = types
    if index.dtype not in ("i64", "i32"):
        raise ShapeError(f"take needs an integer index tensor (i64 or i32), got {index}")
    axis = _take_axis(attrs, x)
    if x.batched and (axis == 0 or index.batched):
        raise ShapeError(f"take from {fmt(x.shape)} by {fmt(index.shape)} along axis {axis} "
                         "would mix the samples of the batch",
                         ("take from a table (a tensor without a batch dim) by any indices, or "
                          "from a batched tensor along another axis by fixed indices",))
    return [TensorType(x.dtype, x.shape[:axis] + index.shape + x.shape[axis + 1:])]


_RANGES: dict[int, tuple[tuple, float, float, bool]] = {}  # id -> (values, min, max, ints)


def _range(values: tuple) -> tuple[float, float, bool]:
    """min, max and whether all are whole, of a declared tensor's numbers (the same table
    declared in every block is scanned once)."""
    hit = _RANGES.get(id(values))
    if hit is None or hit[0] is not values:
        whole = all(v == int(v) for v in values)
        hit = (values, min(values), max(values), whole)
        if len(_RANGES) > 1000:
            _RANGES.clear()
        _RANGES[id(values)] = hit
    return hit[1:]


def _take_known(attrs, types, known):
    values = known[1]
    if values is None or not values:
        return
    axis = _take_axis(attrs, types[0])
    size = types[0].shape[axis]
    if not isinstance(size, int):  # an open size: checked when the network runs
        return
    low, high, whole = _range(values)
    if 0 <= low and high < size and whole:
        return
    bad = next((v for v in values if not 0 <= v < size or v != int(v)), None)
    if bad is not None:
        shown = int(bad) if bad == int(bad) else bad
        raise ShapeError(f"take index {shown} is out of range for axis {axis} of size {size} "
                         f"(indices run from 0 to {size - 1})")


def in_range(index, size: int, op: str, where: str, axis: int):
    """`index` for an op that never wraps: an index out of [0, size) is an error. On the CPU
    it is named here; on a GPU negative indices are sent out of range, so that torch's own
    bounds check (a device assertion) refuses them without a synchronisation."""
    import torch
    if index.device.type != "cpu":
        return torch.where(index < 0, size, index)
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= size):
        bad = index[(index < 0) | (index >= size)].reshape(-1)[0]
        raise SpeccError(f"{op} at '{where}': index {int(bad)} is out of range for axis "
                         f"{axis} of size {size}")
    return index


def never_wrapped(b, index: str, size, dtype: str) -> str:
    """The ONNX form of an index that must not wrap: a negative one is made out of range
    (`size`), so that Gather / GatherElements refuse it instead of counting from the end."""
    bound = b.const([size], dtype, ()) if isinstance(size, int) else \
        b.op("Cast", [b.dim(size)], to=b.onnx_dtype(dtype))
    return b.op("Where", [b.op("Less", [index, b.const([0], dtype, ())]), bound, index])


def take_checked(x, index, axis: int, where: str):
    """x's entries along `axis` at `index`: torch.index_select generalised to any index shape,
    never wrapped (in_range)."""
    import torch
    index = in_range(index, x.shape[axis], "take", where, axis)
    flat = torch.index_select(x, axis, index.reshape(-1))
    return flat.reshape(x.shape[:axis] + index.shape + x.shape[axis + 1:])


def _take_onnx(b, node, xs, ps):
    axis = _take_axis(node.attrs, b.types[0])
    index = never_wrapped(b, xs[1], b.types[0].shape[axis], b.types[1].dtype)
    return b.op("Gather", [xs[0], index], axis=axis)


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
    OpDef(name="take", shape="x [..., S, ...] (S at `axis`), index [I...] -> "
                              "x's dims before axis + index's dims + x's dims after axis",
          example=Example(("f32[N, 3]",), "sum(take(table, index), [0, 1]) * x0",
                          ("param table: f32[5, 3] = uniform(-1, 1)",
                           "fixed index: i64[2, 3] = [[0, 4, 2], [1, 1, 3]]")),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          doc="Entries of x along `axis` at integer indices (numpy.take, ONNX Gather; "
              "`x[index]` is take(x, index)): the indexed dim is replaced by the index's dims. "
              "Indices must lie in [0, size): declared ones are checked by the compiler, others "
              "when the network runs (never wrapped).",
          args=(Arg("x", "tensor"), Arg("index", "tensor"), Arg("axis", "int", 0)),
          infer=_take_infer, check_known=_take_known,
          torch=lambda b, node, xs, ps: b.call(take_checked, xs[0], xs[1],
                                               _take_axis(node.attrs, b.types[0]), node.name),
          onnx=_take_onnx),
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
