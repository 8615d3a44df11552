"""Normalisation over features rather than the batch: layer, group and instance norm, and
unit length (F.normalize).

ONNX has LayerNormalization from opset 17 and GroupNormalization (per-channel scale) from 21;
below those the lowerings decompose into ReduceMean / InstanceNormalization, and both paths
are tested."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Init, TensorType
from .reduce import reduce_onnx
from .registry import (HALF_KEPT, Arg, Example, no_macs, no_params, OpDef, ParamSpec, register,
                       ShapeError, Trait)
from .rows import leading
from .shapes import channels, float_input, fmt, in_range, prod


def _affine(shape, attrs) -> dict:
    if not attrs["affine"]:
        return {}
    return {"weight": ParamSpec(tuple(shape), attrs["init"], fan_in=1, fan_out=1),
            "bias": ParamSpec(tuple(shape), attrs["bias_init"], fan_in=1, fan_out=1)}


# the affine parameters' initialisers: PyTorch's ones and zeros
_INITS = (Arg("init", "init", Init("ones")), Arg("bias_init", "init", Init("zeros")))


def _scale_bias(b, ps, shape, dtype):
    """The affine inputs ONNX requires: the parameters, or ones and zeros."""
    if "weight" in ps:
        return ps["weight"], ps["bias"]
    n = prod(shape)
    return b.const([1.0] * n, dtype, tuple(shape)), b.const([0.0] * n, dtype, tuple(shape))


# ------------------------------------------------------------------------ layer norm
def _ln_dims(attrs, x: TensorType) -> tuple[int, int]:
    """(first, last) of the normalised dims: `dims` dims that end at `axis`."""
    float_input(x, "layernorm")
    in_range(attrs, "eps", "layernorm", 0.0)
    k, axis = attrs["dims"], attrs["axis"]
    if not -x.rank <= axis < x.rank:
        raise ShapeError(f"layernorm axis {axis} is out of range for {x.rank}-D {fmt(x.shape)}")
    last = axis % x.rank
    if not 1 <= k <= last + 1:
        raise ShapeError(f"layernorm dims={k} must be between 1 and {last + 1} (the dims up to "
                         f"axis {axis})")
    return last - k + 1, last


def _ln_shape(attrs, x: TensorType) -> tuple[int, ...]:
    first, last = _ln_dims(attrs, x)
    shape = x.shape[first:last + 1]
    if not all(isinstance(d, int) for d in shape):
        raise ShapeError(f"layernorm needs known sizes for the dims it normalises, got "
                         f"{fmt(shape)}")
    return tuple(shape)


def _ln_perm(attrs, x: TensorType) -> list[int] | None:
    """The permutation that moves the normalised dims to the end (None: they are there)."""
    first, last = _ln_dims(attrs, x)
    if last == x.rank - 1:
        return None
    moved = list(range(first, last + 1))
    return [d for d in range(x.rank) if d not in moved] + moved


def _inverse(perm: list[int]) -> list[int]:
    return [perm.index(d) for d in range(len(perm))]


def _ln_infer(attrs, types):
    _ln_shape(attrs, types[0])
    return [types[0]]


def layer_norm_at(x, shape, weight, bias, eps: float, perm):
    """F.layer_norm over dims that need not be the last: moved there and back."""
    import torch.nn.functional as F
    if perm is None:
        return F.layer_norm(x, shape, weight, bias, eps)
    y = F.layer_norm(x.permute(perm), shape, weight, bias, eps)
    return y.permute(_inverse(perm))


def _ln_torch(b, node, xs, ps):
    shape = _ln_shape(node.attrs, b.types[0])
    perm = _ln_perm(node.attrs, b.types[0])
    if perm is None:
        return b.call(b.F.layer_norm, xs[0], shape, ps.get("weight"), ps.get("bias"),
                      node.attrs["eps"])
    return b.call(layer_norm_at, xs[0], shape, ps.get("weight"), ps.get("bias"),
                  node.attrs["eps"], tuple(perm))


def _ln_onnx(b, node, xs, ps):
    x, a = b.types[0], node.attrs
    shape = _ln_shape(a, x)
    perm = _ln_perm(a, x)
    value = xs[0] if perm is None else b.op("Transpose", xs, perm=perm)
    scale, bias = _scale_bias(b, ps, shape, x.dtype)
    k = len(shape)
    if b.opset >= 17:
        out = b.op("LayerNormalization", [value, scale, bias], axis=-k, epsilon=a["eps"])
    else:
        axes = list(range(x.rank - k, x.rank))
        centred = b.op("Sub", [value, reduce_onnx(b, "ReduceMean", value, axes, True)])
        var = reduce_onnx(b, "ReduceMean", b.op("Mul", [centred, centred]), axes, True)
        eps = b.const([a["eps"]], x.dtype, ())
        normed = b.op("Div", [centred, b.op("Sqrt", [b.op("Add", [var, eps])])])
        out = b.op("Add", [b.op("Mul", [normed, scale]), bias])
    return out if perm is None else b.op("Transpose", [out], perm=_inverse(perm))


# ------------------------------------------------------------------------ group norm
def _channel_shape(x: TensorType, op: str) -> tuple[int, ...]:
    if x.rank < 2:
        raise ShapeError(f"{op} expects [N, C, ...], got {fmt(x.shape)}")
    float_input(x, op)
    return (channels(x, op),)


def _gn_infer(attrs, types):
    x = types[0]
    in_range(attrs, "eps", "groupnorm", 0.0)
    c, g = _channel_shape(x, "groupnorm")[0], attrs["groups"]
    if g < 1 or c % g:
        raise ShapeError(f"groupnorm groups={g} must divide the {c} channels")
    return [x]


def _per_channel(b, value: str, rank: int) -> str:
    """[C] -> [C, 1, ...] so that it broadcasts over [N, C, ...]."""
    if rank <= 2:
        return value
    return b.op("Unsqueeze", [value, b.const(list(range(1, rank - 1)), "i64")])


def _gn_onnx(b, node, xs, ps):
    x, a = b.types[0], node.attrs
    c, g = x.shape[1], a["groups"]
    scale, bias = _scale_bias(b, ps, (c,), x.dtype)
    if b.opset >= 21:
        return b.op("GroupNormalization", [xs[0], scale, bias], num_groups=g, epsilon=a["eps"])
    grouped = b.op("Reshape", [xs[0], b.const([0, g, -1], "i64")])
    ones, zeros = b.const([1.0] * g, x.dtype), b.const([0.0] * g, x.dtype)
    normed = b.op("InstanceNormalization", [grouped, ones, zeros], epsilon=a["eps"])
    back = b.op("Reshape", [normed, b.op("Shape", xs)])
    return b.op("Add", [b.op("Mul", [back, _per_channel(b, scale, x.rank)]),
                        _per_channel(b, bias, x.rank)])


# --------------------------------------------------------------------- instance norm
def _in_infer(attrs, types):
    in_range(attrs, "eps", "instancenorm", 0.0)
    return [types[0]] if _channel_shape(types[0], "instancenorm") else []


def _in_onnx(b, node, xs, ps):
    x = b.types[0]
    scale, bias = _scale_bias(b, ps, (x.shape[1],), x.dtype)
    return b.op("InstanceNormalization", [xs[0], scale, bias], epsilon=node.attrs["eps"])


def instance_norm(x, weight, bias, eps: float):
    import torch.nn.functional as F
    return F.instance_norm(x, None, None, weight, bias, True, 0.0, eps)


# ------------------------------------------------------------------------ import
def _ln_import(m):
    """LayerNormalization over the dims from `axis` on (scale and bias are the weights)."""
    x = m.type(0)
    a = m.attr("axis", -1) % x.rank
    weights = {"weight": m.weight(1)}
    if m.has(2):
        weights["bias"] = m.weight(2)
    eps = m.attr("epsilon", 1e-5)
    y = m.call("layernorm", m.value(0), dims=x.rank - a, eps=eps, weights=weights)
    if not (m.used(1) or m.used(2)):
        return y
    # the statistics as outputs: mean and 1 / sqrt(variance + eps) over the same dims
    axes = list(range(a, x.rank))
    v = m.value(0)
    mean = m.call("mean", v, axes=axes, keepdims=True)
    centred = m.call("sub", v, mean)
    var = m.call("mean", m.call("mul", centred, centred), axes=axes, keepdims=True)
    inv = m.call("reciprocal", m.call("sqrt", m.call("add", var, m.constant(eps, x.dtype))))
    return y, mean, inv


def _gn_import(m):
    """GroupNormalization: a scale and bias per channel (opset 21), or per group (18), which
    is the same scale for each channel of the group."""
    x, g = m.type(0), m.attr("num_groups")
    c = x.shape[1] if x.rank > 1 else None
    per_group = m.type(1).shape == (g,) and g != c
    fn = (lambda a: np.repeat(a, c // g)) if per_group and isinstance(c, int) else None
    weights = {"weight": m.weight(1, fn), "bias": m.weight(2, fn)}
    return m.call("groupnorm", m.value(0), groups=g, eps=m.attr("epsilon", 1e-5),
                  weights=weights)


def _in_import(m):
    return m.call("instancenorm", m.value(0), eps=m.attr("epsilon", 1e-5), affine=True,
                  weights={"weight": m.weight(1), "bias": m.weight(2)})


# ------------------------------------------------------------------- unit length
def _unit_axis(attrs, x: TensorType) -> int:
    float_input(x, "normalize")
    in_range(attrs, "eps", "normalize", 0.0)
    axis = attrs["axis"]
    if not -x.rank <= axis < x.rank:
        raise ShapeError(f"normalize axis {axis} is out of range for {x.rank}-D {fmt(x.shape)}")
    return axis % x.rank


def _unit_infer(attrs, types):
    _unit_axis(attrs, types[0])
    return [types[0]]


def _unit_onnx(b, node, xs, ps):
    x = b.types[0]
    norm = reduce_onnx(b, "ReduceL2", xs[0], [_unit_axis(node.attrs, x)], True)
    floor = b.op("Max", [norm, b.const([node.attrs["eps"]], x.dtype, ())])
    return b.op("Div", [xs[0], floor])


register(
    OpDef(name="normalize", half=HALF_KEPT,
          shape="same as x",
          example=Example(("f32[N, 5, 8]",), "normalize(x0)"),
          doc="x divided by its Euclidean norm along `axis`, no less than eps "
              "(torch.nn.functional.normalize; Swin V2's cosine attention).",
          args=(Arg("x", "tensor"), Arg("axis", "int", -1), Arg("eps", "float", 1e-12)),
          infer=_unit_infer,
          torch=lambda b, node, xs, ps: b.call(b.F.normalize, xs[0], 2.0,
                                               _unit_axis(node.attrs, b.types[0]),
                                               node.attrs["eps"]),
          onnx=_unit_onnx, params=no_params, tolerance=1e-5, macs=no_macs,
          traits=frozenset()),
    OpDef(name="layernorm", half=HALF_KEPT,
          shape="same as x; statistics over `dims` dims ending at `axis` (the last ones)",
          example=Example(("f32[N, 5, 8]",), "layernorm(x0)"),
          doc="Layer normalisation (Ba et al. 2016) over the last `dims` dims, or the `dims` "
              "dims that end at `axis` (axis=1 normalises the channels of [N, C, H, W]: "
              "torchvision's LayerNorm2d). Owns `weight` and `bias` of their shape unless "
              "affine=false.",
          args=(Arg("x", "tensor"), Arg("dims", "int", 1), Arg("eps", "float", 1e-5),
                Arg("affine", "bool", True), Arg("axis", "int", -1)) + _INITS,
          infer=_ln_infer, params=lambda a, t: _affine(_ln_shape(a, t[0]), a),
          torch=_ln_torch, onnx=_ln_onnx, tolerance=1e-4, macs=no_macs,
          rows=leading(lambda attrs: attrs["dims"]),
          traits=frozenset({Trait.NORMALISING}),
          onnx_import={"LayerNormalization": _ln_import}),
    OpDef(name="groupnorm", half=HALF_KEPT,
          shape="same as x ([N, C, ...]); `groups` divides C",
          example=Example(("f32[N, 6, 4, 4]",), "groupnorm(x0, 3)"),
          doc="Group normalisation (Wu & He 2018): statistics over each group of channels "
              "and all positions. Owns `weight` and `bias` [C] unless affine=false.",
          args=(Arg("x", "tensor"), Arg("groups", "int"), Arg("eps", "float", 1e-5),
                Arg("affine", "bool", True)) + _INITS,
          infer=_gn_infer, params=lambda a, t: _affine(_channel_shape(t[0], "groupnorm"), a),
          torch=lambda b, node, xs, ps: b.call(b.F.group_norm, xs[0], node.attrs["groups"],
                                               ps.get("weight"), ps.get("bias"),
                                               node.attrs["eps"]),
          onnx=_gn_onnx, tolerance=1e-4, macs=no_macs,
          traits=frozenset({Trait.NORMALISING}),
          onnx_import={"GroupNormalization": _gn_import}),
    OpDef(name="instancenorm", half=HALF_KEPT,
          shape="same as x ([N, C, ...])",
          example=Example(("f32[N, 3, 4, 4]",), "instancenorm(x0, affine=true)"),
          doc="Instance normalisation (Ulyanov et al. 2016): statistics per sample and "
              "channel over all positions. Owns `weight` and `bias` [C] when affine=true.",
          args=(Arg("x", "tensor"), Arg("eps", "float", 1e-5), Arg("affine", "bool", False))
          + _INITS,
          infer=_in_infer,
          params=lambda a, t: _affine(_channel_shape(t[0], "instancenorm"), a),
          torch=lambda b, node, xs, ps: b.call(instance_norm, xs[0], ps.get("weight"),
                                               ps.get("bias"), node.attrs["eps"]),
          onnx=_in_onnx, tolerance=1e-4, macs=no_macs,
          traits=frozenset({Trait.NORMALISING}),
          onnx_import={"InstanceNormalization": _in_import}),
)
