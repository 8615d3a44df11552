"""Compute only the rows a Slice keeps: a rewrite of the emitted ONNX nodes.

A Vision Transformer classifies from its class token: `slice(encoder, 1, 0, 1)` after the last
layer keeps 1 of 197 tokens, yet the final layer norm, the last MLP, the attention's output
projection and 196 of the last attention's query rows are computed for every token and then
thrown away (torch.onnx.export of the module does exactly that). Every op on that path works
token by token, so the Slice can move up to where the rows are first made: each value is
computed only over the range of one axis that all its readers need.

A backward pass finds, for every value, the range its readers need (one axis and [start, end),
or all of it); a forward pass re-emits each node whose output is needed only in part over the
parts of its inputs its op needs, slicing an input that is computed whole (read whole by
another node) where it is read. The rules are ONNX's own semantics per ONNX op type: an op
not listed is computed whole and sliced after. The values are the same numbers (each row is
computed by the same arithmetic); rewritten nodes get new names, so the spec's names keep
meaning whole values.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

FULL = "full"
UNARY = {"Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal",
         "Identity", "Cast", "Softplus", "Elu", "LeakyRelu", "HardSigmoid", "HardSwish",
         "Gelu", "Mish", "Floor", "Ceil", "Sign", "Not", "Clip"}
BROADCAST = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Where", "Equal", "Less",
             "Greater", "And", "Or"}


def narrow_rows(nodes: list, consts: dict, inputs: list, outputs: set[str],
                opset: int) -> tuple[list, list]:
    """(the nodes rewritten so that Slices move up through row-wise ops, the constants the
    rewrite adds). `consts` maps the names of constants and weights to TensorProtos (values,
    or headers for weights); `inputs` are the graph inputs' ValueInfoProtos; `outputs` the
    values the graph returns."""
    if not any(n.op_type == "Slice" for n in nodes):
        return nodes, []
    values = {n: numpy_helper.to_array(t) for n, t in consts.items() if t.raw_data or
              t.int64_data or t.float_data or t.int32_data}
    ctx = _Ctx(_shapes(nodes, consts, inputs, opset), values)
    need = _demands(nodes, outputs, ctx)
    if not any(d not in (None, FULL) for d in need.values()):
        return nodes, []
    return _rewrite(nodes, need, ctx)


class _Ctx:
    def __init__(self, shapes, values):
        self.shapes, self.values = shapes, values

    def rank(self, v):
        s = self.shapes.get(v)
        return None if s is None else len(s)

    def dim(self, v, axis):
        s = self.shapes.get(v)
        return None if s is None or axis >= len(s) else s[axis]


def _shapes(nodes, consts, inputs, opset) -> dict[str, tuple]:
    g = helper.make_graph(nodes, "rows", list(inputs), [], initializer=list(consts.values()))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - no shapes, no rewrite
        return {}
    out = {}
    for vi in list(inferred.graph.value_info) + list(inputs):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else
                                 (d.dim_param or None) for d in t.shape.dim)
    for name, t in consts.items():
        out[name] = tuple(t.dims)
    return out


def _slice_range(node, ctx):
    """(axis, start, end) of a one-axis, step-1 Slice with constant bounds, else None."""
    ins = list(node.input) + [""] * (5 - len(node.input))
    if any(i and i not in ctx.values for i in ins[1:]):
        return None
    rank = ctx.rank(ins[0])
    starts, ends = ctx.values.get(ins[1]), ctx.values.get(ins[2])
    axes = ctx.values[ins[3]] if ins[3] else list(range(rank or 0))
    steps = ctx.values[ins[4]] if ins[4] else [1]
    if rank is None or starts is None or ends is None or len(starts) != 1 or len(axes) != 1 \
            or list(steps) != [1]:
        return None
    axis = int(axes[0]) % rank
    size = ctx.dim(ins[0], axis)
    if not isinstance(size, int):
        return None
    start, end = (int(v) + size if int(v) < 0 else int(v) for v in (starts[0], ends[0]))
    start, end = max(0, min(start, size)), max(0, min(end, size))
    return (axis, start, end) if end > start and (start, end) != (0, size) else None


def _needs(node, d, ctx):
    """What `node` needs of each input when `d` of its output is read: a list of FULL or
    (axis, start, end) per input; None when the op cannot compute a part of its output."""
    op, ins, out = node.op_type, list(node.input), node.output[0]
    if d == FULL:
        if op == "Slice" and len(node.output) == 1:
            r = _slice_range(node, ctx)
            if r is not None:
                return [r] + [FULL] * (len(ins) - 1)
        return [FULL] * len(ins)
    axis, start, end = d
    ro = ctx.rank(out)
    if ro is None or len(node.output) != 1:
        return None
    if op in UNARY:
        return [d] + [FULL] * (len(ins) - 1)
    if op in BROADCAST:
        return [_aligned(i, d, ro, ctx) for i in ins]
    if op == "LayerNormalization":
        first = _attr(node, "axis", -1) % ro
        return [d if axis < first else None] + [FULL] * (len(ins) - 1)
    if op == "Softmax":
        return [d if axis != _attr(node, "axis", -1) % ro else None]
    if op == "Transpose":
        perm = _attr(node, "perm", list(range(ro))[::-1])
        return [(perm[axis], start, end)]
    if op == "MatMul":
        return _matmul(ins, d, ro, ctx)
    if op == "Reshape":
        return _reshape(node, d, ctx)
    if op == "Slice":  # a Slice of other axes passes the part through
        if any(i not in ctx.values for i in ins[1:] if i):
            return None
        axes = ctx.values[ins[3]] if len(ins) > 3 and ins[3] else range(len(ctx.values[ins[1]]))
        if axis in [int(a) % ro for a in axes]:
            return None
        return [d] + [FULL] * (len(ins) - 1)
    return None


def _aligned(v, d, ro, ctx):
    """The part of a broadcast operand `v` that part `d` of the output reads: all of it where
    `v` has size 1 (or no dim) there, the same rows where its size is the output's, else
    None (unknown sizes are never guessed)."""
    axis, start, end = d
    r = ctx.rank(v)
    if r is None:
        return None
    own = axis - (ro - r)
    if own < 0 or ctx.dim(v, own) == 1:
        return FULL
    size = ctx.dim(v, own)
    return (own, start, end) if isinstance(size, int) and size >= end else None


def _matmul(ins, d, ro, ctx):
    axis, start, end = d
    ra, rb = ctx.rank(ins[0]), ctx.rank(ins[1])
    if ra is None or rb is None or ra < 2 or rb < 2:
        return None
    if axis == ro - 2:
        return [(ra - 2, start, end), FULL]
    if axis == ro - 1:
        return [FULL, (rb - 1, start, end)]
    return [_aligned(ins[0], d, ro, ctx), _aligned(ins[1], d, ro, ctx)]  # a batch axis


def _reshape(node, d, ctx):
    """A Reshape that keeps the dims up to and including the axis (it only regroups those
    after it), with a constant target shape."""
    axis, start, end = d
    src, dst = ctx.shapes.get(node.input[0]), ctx.shapes.get(node.output[0])
    target = ctx.values.get(node.input[1])
    if src is None or dst is None or target is None or _attr(node, "allowzero", 0) \
            or axis >= len(src) or src[:axis + 1] != dst[:axis + 1] \
            or not all(isinstance(x, int) for x in dst[axis + 1:]) or None in src[:axis + 1]:
        return None
    return [d, FULL]


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _join(a, b):
    if a is None:
        return b
    return a if a == b else FULL


def _demands(nodes, outputs, ctx) -> dict:
    """value -> FULL, (axis, start, end), or absent (nothing reads it)."""
    need = {v: FULL for v in outputs}
    for node in reversed(nodes):
        d = need.get(node.output[0])
        for extra in node.output[1:]:
            if need.get(extra) is not None:
                d = FULL
        if d is None:
            continue
        parts = _needs(node, d, ctx)
        if parts is None or any(p is None for p in parts):
            need[node.output[0]] = d = FULL  # computed whole, sliced after
            parts = _needs(node, FULL, ctx)
        for i, p in zip(node.input, parts):
            if i:
                need[i] = _join(need.get(i), p)
    return need


def _rewrite(nodes, need, ctx) -> list:
    made = {o for n in nodes for o in n.output}
    taken = set(made) | set(ctx.shapes)
    part: dict[str, str] = {}  # value computed in part -> the name of that part
    cut: dict[tuple, str] = {}  # (value, range) -> a Slice of the whole value
    out: list = []

    def fresh(base):
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        return name

    def const(values):
        name = fresh("rows/const")
        extra.append(numpy_helper.from_array(values, name))
        ctx.values[name] = values
        return name

    def view(v, p):
        if p == FULL or not v:
            return v
        if v in part and need.get(v) == p:
            return part[v]
        key = (v, p)
        if key not in cut:
            axis, start, end = p
            name = fresh(f"{v}/rows")
            out.append(helper.make_node("Slice", [v, const(np.array([start], np.int64)),
                                                  const(np.array([end], np.int64)),
                                                  const(np.array([axis], np.int64))],
                                        [name], name=name))
            cut[key] = name
        return cut[key]

    extra: list = []
    for node in nodes:
        d = need.get(node.output[0])
        parts = _needs(node, d, ctx) if d is not None else None
        if d is None or parts is None or any(p is None for p in parts):
            out.append(node)
            continue
        if d == FULL and node.op_type == "Slice" and parts[0] != FULL:  # where rows are cut
            src = node.input[0]
            if src in part and need.get(src) == parts[0]:  # the rows come made: pass them on
                out.append(helper.make_node("Identity", [part[src]], [node.output[0]],
                                            name=node.name))
            else:
                out.append(node)
            continue
        if d == FULL:
            out.append(node)
            continue
        inputs = [view(i, p) for i, p in zip(node.input, parts)]
        if node.op_type == "Reshape":
            target = np.array(ctx.values[node.input[1]], np.int64).copy()
            axis, start, end = d
            if target[axis] not in (0, -1):
                target[axis] = end - start
            inputs[1] = const(target)
        name = fresh(f"{node.output[0]}/rows")
        clone = onnx.NodeProto()
        clone.CopyFrom(node)
        clone.input[:] = inputs
        clone.output[:] = [name] + [""] * (len(node.output) - 1)
        clone.name = name
        out.append(clone)
        part[node.output[0]] = name
    return out, extra
