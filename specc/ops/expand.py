"""Explicit broadcasting: `expand` (to a shape, NumPy's rule) and `tile` (repeat copies)."""
from __future__ import annotations


import numpy as np

from ..ir.graph import TensorType
from .registry import Example, Arg, OpDef, ShapeError, no_macs, no_params, register
from .shapes import broadcast, fmt

def _target(attrs, x: TensorType) -> tuple:
    """`shape` with each -1 replaced by x's aligned dim."""
    shape = list(attrs["shape"]) if isinstance(attrs["shape"], tuple) else [attrs["shape"]]
    if len(shape) < x.rank:
        raise ShapeError(f"expand to {fmt(shape)} has fewer dims than its input {fmt(x.shape)}")
    offset = len(shape) - x.rank
    for i, d in enumerate(shape):
        if d == -1:
            if i < offset:
                raise ShapeError(f"expand: -1 at dim {i} of {fmt(shape)} has no input dim to keep")
            shape[i] = x.shape[i - offset]
        elif isinstance(d, int) and d < 1:
            raise ShapeError(f"expand: dims must be positive, -1 or a symbol, got {fmt(shape)}")
    return tuple(shape)


def _expand_infer(attrs, types):
    x = types[0]
    target = _target(attrs, x)
    out = broadcast([x.shape, target], "expand")
    if out != target:
        raise ShapeError(f"expand cannot shrink {fmt(x.shape)} to {fmt(target)}: only dims of "
                         "size 1 grow")
    return [TensorType(x.dtype, out)]


def expand_to(x, shape):
    return x.expand(*shape)


def _expand_torch(b, node, xs, ps):
    x, target = b.types[0], b.outs[0].shape
    offset = len(target) - x.rank
    sizes = []
    for i, d in enumerate(target):
        kept = i >= offset and x.shape[i - offset] == d
        sizes.append(-1 if kept else b.dim(d))
    return b.call(expand_to, xs[0], tuple(sizes))


def _expand_onnx(b, node, xs, ps):
    """ONNX Expand broadcasts both ways, so 1 keeps an input dim; symbolic sizes are read
    from the input that declares them."""
    x, target = b.types[0], b.outs[0].shape
    offset = len(target) - x.rank
    pieces = []
    for i, d in enumerate(target):
        kept = i >= offset and x.shape[i - offset] == d
        pieces.append(1 if kept else d)
    return b.op("Expand", [xs[0], b.shape_tensor(pieces)])


def _tile_infer(attrs, types):
    x = types[0]
    reps = attrs["repeats"] if isinstance(attrs["repeats"], tuple) else (attrs["repeats"],)
    if len(reps) != x.rank or min(reps, default=1) < 1:
        raise ShapeError(f"tile needs one positive repeat count per dim ({x.rank}), got "
                         f"{fmt(reps)}")
    out = [d * r for d, r in zip(x.shape, reps)]
    return [TensorType(x.dtype, tuple(out))]


def _tile_onnx(b, node, xs, ps):
    reps = node.attrs["repeats"]
    reps = list(reps) if isinstance(reps, tuple) else [reps]
    return b.op("Tile", [xs[0], b.const(reps, "i64")])


def tile(x, repeats):
    return x.repeat(*repeats)


def _expand_import(m):
    """Expand to a known shape (dims may be symbols from a folded Shape subgraph); ONNX
    broadcasts both ways, so a 1 keeps the input's dim."""
    if m.foldable() and m.known(1).dtype != object:
        x, shape = m.known(0), m.ints(1)
        return m.fold(np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(shape))).copy())
    x, shape = m.type(0), m.dims(1)
    offset = len(shape) - x.rank
    target = []
    for i, d in enumerate(shape):
        own = x.shape[i - offset] if i >= offset else 1
        target.append(own if d == 1 else d)
    if offset < 0:
        m.refuse(f"Expand to fewer dims ({list(shape)}) than the input's {list(x.shape)}")
    if tuple(target) == tuple(x.shape):
        return m.same(0)
    return m.call("expand", m.value(0), shape=target)


def _tile_import(m):
    reps = m.ints(1)
    if m.foldable():
        return m.fold(np.tile(m.known(0), reps))
    return m.call("tile", m.value(0), repeats=reps)


register(
    OpDef(name="expand",
          shape="`shape` (-1 keeps x's dim); x's dims align with its last ones",
          example=Example(("f32[N, 3, 4]",),
                          "concat([expand(w, [x0.shape[0], 1, -1]), x0], axis=1)",
                          ("param w: f32[1, 1, 4] = uniform(-1, 1)",)),
          doc="Broadcast x to `shape` by NumPy's rule (x's dims align with the last ones; only "
              "dims of size 1 grow). -1 keeps x's dim; a symbol such as x.shape[0] takes the "
              "batch size at run time: expand(class_token, [x.shape[0], -1, -1]).",
          args=(Arg("x", "tensor"), Arg("shape", "dims")),
          infer=_expand_infer, torch=_expand_torch, onnx=_expand_onnx,
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          onnx_import={"Expand": _expand_import}),
    OpDef(name="tile",
          shape="dim i times repeats[i]",
          example=Example(("f32[N, 3, 2]",), "tile(x0, [1, 2, 3])"),
          doc="Repeat x `repeats[i]` times along each dim i (torch.Tensor.repeat, "
          "ONNX Tile).", args=(Arg("x", "tensor"), Arg("repeats", "int_list")),
          infer=_tile_infer,
          torch=lambda b, node, xs, ps: b.call(tile, xs[0], tuple(
              node.attrs["repeats"] if isinstance(node.attrs["repeats"], tuple)
              else (node.attrs["repeats"],))),
          onnx=_tile_onnx, params=no_params, macs=no_macs, tolerance=1e-5,
          traits=frozenset(), onnx_import={"Tile": _tile_import}),
)
