"""Structural ops: concat, flatten, reshape, transpose, pad, slice."""
from __future__ import annotations

from ..ir.graph import TensorType
from ..ir.sym import Sym, Undecided, exact_div, same
from .registry import Example, Arg, OpDef, ShapeError, no_macs, no_params, register
from .shapes import differ_note, fits, fmt, prod, same_dtype


def _axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{op} axis {axis} is out of range for rank {rank}")
    return axis % rank


def _concat_infer(attrs, types):
    if not types:
        raise ShapeError("concat needs at least one tensor")
    first = types[0]
    axis = _axis(attrs["axis"], first.rank, "concat")
    dtype = same_dtype(types, "concat")
    total = 0
    for i, t in enumerate(types):
        differ = [(a, b) for j, (a, b) in enumerate(zip(t.shape, first.shape))
                  if j != axis and not same(a, b)]
        if t.rank != first.rank or differ:
            raise ShapeError(f"concat along axis {axis}: operand {i} has shape {fmt(t.shape)}, "
                             f"operand 0 has {fmt(first.shape)}; all other dims must be equal "
                             "(specc never crops or pads a join)", differ_note(differ))
        total = total + t.shape[axis]
    shape = list(first.shape)
    shape[axis] = total
    return [TensorType(dtype, tuple(shape))]


def _flatten_infer(attrs, types):
    x = types[0]
    start = _axis(attrs["start"], x.rank, "flatten")
    return [TensorType(x.dtype, (*x.shape[:start], prod(x.shape[start:])))]


def _flatten_onnx(b, node, xs, ps):
    start = node.attrs["start"] % b.types[0].rank
    return b.op("Reshape", [xs[0], b.const([0] * start + [-1], "i64")])


def _reshape_infer(attrs, types):
    """Symbolic dims (a sequence length T) may stand in the target; the element counts must
    be equal as formulas, and one -1 takes what the others leave."""
    x = types[0]
    shape = list(attrs["shape"])
    if shape.count(-1) > 1 or any(isinstance(d, int) and (d == 0 or d < -1) for d in shape):
        raise ShapeError(f"reshape target {fmt(shape)} may hold positive dims and one -1")
    n = x.per_sample()
    what = "per sample" if x.batched else "in all"
    dims = x.shape[1:] if x.batched else x.shape
    known = prod(d for d in shape if not (isinstance(d, int) and d == -1))
    if -1 in shape:
        rest = exact_div(n, known)
        if rest is None or (isinstance(rest, int) and rest < 1):
            raise ShapeError(f"reshape cannot fit {fmt(dims)} ({n} elements {what}) into "
                             f"{fmt(shape)}")
        shape[shape.index(-1)] = rest
    elif not same(known, n):
        raise ShapeError(f"reshape of {fmt(dims)} ({n} elements {what}) into "
                         f"{fmt(shape)} ({known} elements)")
    return [TensorType(x.dtype, (x.shape[0], *shape) if x.batched else tuple(shape))]


def reshape_per_sample(x, shape):
    """Reshape each sample; the batch dim is kept."""
    return x.reshape((x.shape[0],) + tuple(shape))


def _reshape_target(x: TensorType, out: TensorType, lead: int) -> list:
    """The target dims after the batch: ints, "copy" where the input has the same dim at
    that place (ONNX's 0), "rest" for one symbolic dim (-1), else the Sym to compute."""
    dims, rest_taken = [], False
    for i, d in enumerate(out.shape[lead:], lead):
        if isinstance(d, int):
            dims.append(d)
        elif i < x.rank and same(x.shape[i], d):
            dims.append("copy")
        elif not rest_taken:
            dims.append("rest")
            rest_taken = True
        else:
            dims.append(d)
    return dims


def _reshape_torch(b, node, xs, ps):
    x, out = b.types[0], b.outs[0]
    lead = 1 if x.batched else 0
    target = tuple(-1 if d == "rest" else b.dim(out.shape[i + lead]) if d == "copy"
                   else b.dim(d) for i, d in enumerate(_reshape_target(x, out, lead)))
    if lead:
        return b.call(reshape_per_sample, xs[0], target)
    return b.call(b.torch.reshape, xs[0], target)


def _reshape_onnx(b, node, xs, ps):
    x, out = b.types[0], b.outs[0]
    lead = 1 if x.batched else 0
    target = [0] * lead + [0 if d == "copy" else -1 if d == "rest" else d
                           for d in _reshape_target(x, out, lead)]
    return b.op("Reshape", [xs[0], b.shape_tensor(target)])


def _transpose_infer(attrs, types):
    x = types[0]
    perm = tuple(attrs["perm"])
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(f"transpose perm {list(perm)} is not a permutation of {x.rank} dims")
    return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


def _pad_lead(x: TensorType) -> int:
    return 1 if x.batched else 0


def _pad_infer(attrs, types):
    x = types[0]
    pads, lead = list(attrs["pads"]), _pad_lead(x)
    if len(pads) != 2 * (x.rank - lead) or min(pads, default=0) < 0:
        dims = "each dim but the batch" if lead else "each dim"
        raise ShapeError(f"pad needs {2 * (x.rank - lead)} non-negative values (before, after "
                         f"for {dims}), got {fmt(pads)}")
    shape = list(x.shape[:lead])
    for i, d in enumerate(x.shape[lead:]):
        shape.append(d + pads[2 * i] + pads[2 * i + 1])
    return [TensorType(x.dtype, tuple(shape))]


def _pad_torch(b, node, xs, ps):
    pads, flat = list(node.attrs["pads"]), []
    for i in reversed(range(len(pads) // 2)):  # F.pad lists the last dim first
        flat += [pads[2 * i], pads[2 * i + 1]]
    return b.call(b.F.pad, xs[0], tuple(flat), "constant", node.attrs["value"])


def _pad_onnx(b, node, xs, ps):
    pads, lead = list(node.attrs["pads"]), [0] * _pad_lead(b.types[0])
    onnx_pads = lead + pads[0::2] + lead + pads[1::2]
    dt = b.types[0].dtype
    return b.op("Pad", [xs[0], b.const(onnx_pads, "i64"), b.const([node.attrs["value"]], dt, ())])


def _slice_bounds(attrs, x):
    axis = _axis(attrs["axis"], x.rank, "slice")
    d = x.shape[axis]
    start, end, step = attrs["start"], attrs["end"], attrs["step"]
    if step < 1:
        raise ShapeError(f"slice step must be positive, got {step}")
    if all(isinstance(v, int) for v in (d, start, 0 if end is None else end)):
        start, end, _ = slice(start, d if end is None else end, step).indices(d)
        return axis, start, end, step, len(range(start, end, step))
    start, end = _place(start, d, axis, "start"), d if end is None else _place(end, d, axis, "end")
    n = (end - start + step - 1) // step
    if not fits(n, 1, "slice"):
        n = 0
    return axis, start, end, step, n


def _place(i, d, axis: int, what: str):
    """A slice bound on an axis of symbolic length d, as an offset from 0 (a negative int
    counts from the end); it must lie within [0, d] for every size."""
    if isinstance(i, int) and i < 0:
        i = d + i
        if not fits(i, 0, f"slice {what}"):
            raise ShapeError(f"slice {what} {i - d} reaches before the start of axis {axis} "
                             f"(length {d})")
    try:
        inside = i <= d
    except Undecided:
        inside = None
    if inside is not True:
        names = sorted((i.names() if isinstance(i, Sym) else set())
                       | (d.names() if isinstance(d, Sym) else set()))
        if inside is False:
            raise ShapeError(f"slice {what} {i} lies past the length {d} of axis {axis}")
        hint = f"assert {i} <= {d}" if isinstance(d, int) else f"assert {i} <= {d}"
        raise ShapeError(f"slice {what} {i} may lie past the length {d} of axis {axis}: "
                         f"nothing bounds {', '.join(names)}",
                         (f"state the longest size the network takes, e.g. `{hint}` "
                          "(a block size)",))
    return i


def _slice_infer(attrs, types):
    x = types[0]
    axis, *_, n = _slice_bounds(attrs, x)
    if n == 0:
        raise ShapeError(f"slice selects nothing from axis {axis} of size {x.shape[axis]}")
    shape = list(x.shape)
    shape[axis] = n
    return [TensorType(x.dtype, tuple(shape))]


def slice_axis(x, axis: int, start: int, end: int, step: int):
    return x[(slice(None),) * axis + (slice(start, end, step),)]


def _slice_torch(b, node, xs, ps):
    axis, start, end, step, _ = _slice_bounds(node.attrs, b.types[0])
    end = None if isinstance(end, Sym) and same(end, b.types[0].shape[axis]) else b.dim(end)
    return b.call(slice_axis, xs[0], axis, b.dim(start), end, step)


def _slice_onnx(b, node, xs, ps):
    axis, start, end, step, _ = _slice_bounds(node.attrs, b.types[0])
    if isinstance(end, Sym) and same(end, b.types[0].shape[axis]):
        end = 2 ** 63 - 1  # to the end, whatever the length
    return b.op("Slice", [xs[0], b.shape_tensor([start]), b.shape_tensor([end]),
                          b.const([axis], "i64"), b.const([step], "i64")])


register(
    OpDef(name="concat",
          shape="the sizes along `axis` add up; every other dim must be equal",
          example=Example(("f32[N, 2, 3]", "f32[N, 4, 3]"), "concat([x0, x1])"),
          doc="Concatenate tensors along `axis` (default: channels); every "
          "other dim must be equal.", args=(Arg("xs", "tensors"), Arg("axis", "int", 1)),
          infer=_concat_infer,
          torch=lambda b, node, xs, ps: b.call(b.torch.cat, tuple(xs), node.attrs["axis"]),
          onnx=lambda b, node, xs, ps: b.op("Concat", xs, axis=node.attrs["axis"] % b.types[0].rank),
          params=no_params, macs=no_macs, tolerance=1e-5,
          traits=frozenset({"join", "backward_ignores_output"})),
    OpDef(name="flatten",
          shape="the dims from `start` on multiply into one",
          example=Example(("f32[N, 2, 3, 4]",), "flatten(x0)"),
          doc="Flatten dims from `start` on into one.",
          args=(Arg("x", "tensor"), Arg("start", "int", 1)), infer=_flatten_infer,
          torch=lambda b, node, xs, ps: b.call(b.torch.flatten, xs[0], node.attrs["start"]),
          onnx=_flatten_onnx, params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="reshape",
          shape="[N, *S] -> [N, *shape] (one -1 is inferred); without a batch dim, S -> shape",
          example=Example(("f32[N, 2, 3, 4]",), "reshape(x0, [6, -1])"),
          doc="Reshape each sample to `shape`: the batch dim is kept and not "
          "listed (a tensor without one, such as a parameter, is reshaped whole); one -1 "
          "may stand for the rest, and symbolic dims may be named (x.shape[1]).",
          args=(Arg("x", "tensor"), Arg("shape", "dims")),
          infer=_reshape_infer, torch=_reshape_torch, onnx=_reshape_onnx,
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="transpose",
          shape="the dims permuted by `perm` (the batch dim included)",
          example=Example(("f32[N, 2, 3, 4]",), "transpose(x0, [0, 3, 1, 2])"),
          doc="Permute all dims (batch included) by `perm`.",
          args=(Arg("x", "tensor"), Arg("perm", "int_list")), infer=_transpose_infer,
          torch=lambda b, node, xs, ps: b.call(b.torch.permute, xs[0], tuple(node.attrs["perm"])),
          onnx=lambda b, node, xs, ps: b.op("Transpose", xs, perm=list(node.attrs["perm"])),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="pad",
          shape="each dim after the batch (every dim without one) grows by its before + after",
          example=Example(("f32[N, 2, 3, 3]",), "pad(x0, [0, 2, 1, 0, 0, 1])"),
          doc="Constant padding: `pads` holds (before, after) for each dim after the "
          "batch (every dim of a tensor without one), e.g. [p, p, 0, 0, 0, 0] zero-pads "
          "channels (ResNet's option-A shortcut).",
          args=(Arg("x", "tensor"), Arg("pads", "int_list"), Arg("value", "float", 0.0)),
          infer=_pad_infer, torch=_pad_torch, onnx=_pad_onnx,
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
    OpDef(name="slice",
          shape="the size along `axis` becomes len(range(start, end, step))",
          example=Example(("f32[N, 8, 3]",), "slice(x0, 1, 1, 7, 2)"),
          doc="x[start:end:step] along `axis`. `start` and `end` may be symbolic "
          "(slice(table, 0, 0, x.shape[1]) takes as many rows as the sequence is long) when "
          "the spec bounds them: assert x.shape[1] <= 64.",
          args=(Arg("x", "tensor"), Arg("axis", "int"), Arg("start", "dim", 0),
                Arg("end", "dim", None), Arg("step", "int", 1)),
          infer=_slice_infer, torch=_slice_torch, onnx=_slice_onnx,
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset()),
)
