"""Scaled dot-product attention (Vaswani et al. 2017): softmax(q k^T * scale + mask) v.

ONNX has no attention op before opset 23, so the lowering is MatMul, Mul, the mask
(Where for a boolean mask, Add for an additive one or the causal triangle), Softmax, MatMul."""
from __future__ import annotations

import math

from ..ir.graph import TensorType
from .registry import HALF_KEPT, Example, Arg, OpDef, ShapeError, no_params, register
from .shapes import broadcast, float_input, fmt, prod, same_dtype


def _scale(attrs, q: TensorType) -> float:
    s = attrs["scale"]
    return 1.0 / math.sqrt(q.shape[-1]) if s is None else float(s)


def _infer(attrs, types):
    q, k, v = types[:3]
    for t, role in ((q, "q"), (k, "k"), (v, "v")):
        float_input(t, "scaled_dot_product_attention")
        if t.rank < 2:
            raise ShapeError(f"scaled_dot_product_attention {role} needs [..., length, width], "
                             f"got {fmt(t.shape)}")
    dtype = same_dtype([q, k, v], "scaled_dot_product_attention")
    if q.shape[-1] != k.shape[-1] or not isinstance(q.shape[-1], int):
        raise ShapeError(f"q {fmt(q.shape)} and k {fmt(k.shape)} need the same known width")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"k {fmt(k.shape)} and v {fmt(v.shape)} need the same length")
    lead = broadcast([q.shape[:-2], k.shape[:-2], v.shape[:-2]], "scaled_dot_product_attention")
    scores = (*lead, q.shape[-2], k.shape[-2])
    if len(types) > 3:
        if attrs["causal"]:
            raise ShapeError("scaled_dot_product_attention takes a mask or causal=true, not both")
        m = types[3]
        if m.dtype != "bool" and m.dtype != dtype:
            raise ShapeError(f"an attention mask is bool (true = attend) or {dtype} (added), "
                             f"got {m.dtype}")
        if broadcast([scores, m.shape], "an attention mask") != scores:
            raise ShapeError(f"the mask {fmt(m.shape)} must broadcast to the scores "
                             f"{fmt(scores)}")
    elif attrs["causal"] and not all(isinstance(d, int) for d in scores[-2:]):
        raise ShapeError("causal attention needs known lengths")
    _scale(attrs, q)
    return [TensorType(dtype, (*lead, q.shape[-2], v.shape[-1]))]


def _macs(attrs, types, outs):
    q, k, v = types[:3]
    dims = list(outs[0].shape[1:-1] if outs[0].batched else outs[0].shape[:-1])
    dims += [k.shape[-2], q.shape[-1] + v.shape[-1]]
    return prod(dims) if all(isinstance(d, int) for d in dims) else 0


def _torch(b, node, xs, ps):
    mask = xs[3] if len(xs) > 3 else None
    scale = _scale(node.attrs, b.types[0])
    return b.call(b.F.scaled_dot_product_attention, xs[0], xs[1], xs[2], attn_mask=mask,
                  is_causal=node.attrs["causal"], scale=scale)


def _onnx(b, node, xs, ps):
    q, k = b.types[0], b.types[1]
    dt = q.dtype
    perm = list(range(k.rank - 2)) + [k.rank - 1, k.rank - 2]
    scores = b.op("MatMul", [xs[0], b.op("Transpose", [xs[1]], perm=perm)])
    scores = b.op("Mul", [scores, b.const([_scale(node.attrs, q)], dt, ())])
    if len(xs) > 3 and b.types[3].dtype == "bool":
        scores = b.op("Where", [xs[3], scores, b.const([-math.inf], dt, ())])
    elif len(xs) > 3:
        scores = b.op("Add", [scores, xs[3]])
    elif node.attrs["causal"]:
        n, s = q.shape[-2], k.shape[-2]
        tri = [0.0 if j <= i else -math.inf for i in range(n) for j in range(s)]
        scores = b.op("Add", [scores, b.const(tri, dt, (n, s))])
    return b.op("MatMul", [b.op("Softmax", [scores], axis=-1), xs[2]])


register(OpDef(
    name="scaled_dot_product_attention", half=HALF_KEPT,
    shape="q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev]; leading dims broadcast",
    example=Example(("f32[N, 2, 5, 4]", "f32[N, 2, 6, 4]", "f32[N, 2, 6, 3]"),
                    "scaled_dot_product_attention(x0, x1, x2)"),
   doc="softmax(q k^T * scale + mask) v over [..., length, width] tensors; scale defaults "
        "to 1/sqrt(width). `mask`: bool (true = may attend) or added to the scores; "
        "causal=true lets position i see positions <= i.",
    args=(Arg("q", "tensor"), Arg("k", "tensor"), Arg("v", "tensor"),
          Arg("mask", "tensor", None), Arg("causal", "bool", False),
          Arg("scale", "float", None)),
    infer=_infer, macs=_macs, torch=_torch, onnx=_onnx, tolerance=1e-4, params=no_params,
    traits=frozenset(),
))
