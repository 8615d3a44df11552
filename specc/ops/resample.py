"""Changing resolution: upsample by integer factors, resize to a size, pixel shuffle.

torch's "nearest" picks floor(out_index * in / out): ONNX Resize with the "asymmetric"
transform and "floor" rounding. "bilinear" without align_corners is torch's half-pixel
transform ("pytorch_half_pixel"), with align_corners the "align_corners" transform."""
from __future__ import annotations

import numpy as np

from ..ir.graph import TensorType
from .registry import Example, Arg, OpDef, ShapeError, no_macs, no_params, register
from .shapes import channels, expand, fmt, spatial

MODES = ("nearest", "bilinear")


def _check_mode(attrs, x: TensorType, op: str) -> int:
    n = spatial(x, op, ranks=(3, 4, 5))
    if attrs["mode"] not in MODES:
        raise ShapeError(f"{op} mode must be one of {', '.join(MODES)}, got \"{attrs['mode']}\"")
    if attrs["mode"] == "bilinear" and n != 2:
        raise ShapeError(f"{op} mode \"bilinear\" needs a 2-D input [N, C, H, W], got "
                         f"{fmt(x.shape)}")
    return n


def _upsample_infer(attrs, types):
    x = types[0]
    n = _check_mode(attrs, x, "upsample")
    scale = expand(attrs["scale"], n, "scale")
    if min(scale) < 1:
        raise ShapeError(f"upsample scale must be positive, got {list(scale)}")
    out = [d * s for d, s in zip(x.shape[2:], scale)]
    return [TensorType(x.dtype, (*x.shape[:2], *out))]


def _resize_infer(attrs, types):
    x = types[0]
    n = _check_mode(attrs, x, "resize")
    size = attrs["size"]
    size = size * n if len(size) == 1 else size
    if len(size) != n:
        raise ShapeError(f"'size' needs {n} values for a {n}-D op, got {len(size)}")
    if any(isinstance(d, int) and d < 1 for d in size):
        raise ShapeError(f"resize size must be positive, got {fmt(size)}")
    return [TensorType(x.dtype, (*x.shape[:2], *size))]


def _torch(b, node, xs, ps):
    """With known output sizes, interpolate to them; an upsample of symbolic sizes scales
    (the same source positions: torch divides by the scale either way); a resize to
    symbolic sizes computes them from the inputs."""
    out, a = b.outs[0].shape[2:], node.attrs
    align = a["align_corners"] if a["mode"] == "bilinear" else None
    if all(isinstance(d, int) for d in out) or "size" in a:
        return b.call(b.F.interpolate, xs[0], tuple(b.dim(d) for d in out), None, a["mode"],
                      align)
    scale = tuple(float(s) for s in expand(a["scale"], len(out), "scale"))
    return b.call(b.F.interpolate, xs[0], None, scale, a["mode"], align)


def _onnx(b, node, xs, ps):
    """Resize to `sizes`: the input's N, C and the output's spatial dims, known or computed
    from the input's shape; an upsample of symbolic sizes passes its `scales` instead."""
    a, out = node.attrs, b.outs[0].shape[2:]
    if all(isinstance(d, int) for d in out) or "size" in a:
        head = b.op("Slice", [b.op("Shape", xs), b.const([0], "i64"), b.const([2], "i64")])
        sizes = b.op("Concat", [head, b.shape_tensor(list(out))], axis=0)
        inputs = [xs[0], "", "", sizes]
    else:
        scale = expand(a["scale"], len(out), "scale")
        inputs = [xs[0], "", b.const([1.0, 1.0] + [float(s) for s in scale], "f32")]
    if a["mode"] == "nearest":
        return b.op("Resize", inputs, mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    transform = "align_corners" if a["align_corners"] else "pytorch_half_pixel"
    return b.op("Resize", inputs, mode="linear", coordinate_transformation_mode=transform)


def _shuffle_infer(attrs, types):
    x = types[0]
    spatial(x, "pixel_shuffle", ranks=(4,))
    c, r = channels(x, "pixel_shuffle"), attrs["factor"]
    if r < 1 or c % (r * r):
        raise ShapeError(f"pixel_shuffle factor {r}: the {c} channels must be a multiple of "
                         f"{r * r}")
    out = [d * r for d in x.shape[2:]]
    return [TensorType(x.dtype, (x.shape[0], c // (r * r), *out))]


def _depth_to_space_import(m):
    """CRD order is pixel_shuffle; DCR (the default) is its reshape, transpose, reshape."""
    r = m.attr("blocksize")
    if m.attr("mode", "DCR") == "CRD":
        return m.call("pixel_shuffle", m.value(0), factor=r)
    x = m.type(0)
    if x.rank != 4 or not all(isinstance(d, int) for d in x.shape[1:]):
        m.refuse(f"DepthToSpace of {list(x.shape)} (needs [N, C, H, W] with known C, H, W)")
    n, c, h, w = x.shape
    lead = [] if x.batched else [n]
    y = m.call("reshape", m.value(0), shape=lead + [r, r, c // (r * r), h, w])
    y = m.call("transpose", y, perm=[0, 3, 4, 1, 5, 2])
    return m.call("reshape", y, shape=lead + [c // (r * r), h * r, w * r])


def _resize_import(m):
    """Resize as specc's own resize (to `sizes`, which may come from a Shape subgraph and be
    symbolic: resize(x, [H//16, W//16])) or upsample (integer `scales`): torch's nearest
    (asymmetric, floor) and bilinear: half_pixel is torch's transform (what torch.onnx
    writes), pytorch_half_pixel the same but at an output length of 1 (what specc's own
    export writes), align_corners torch's align_corners=True."""
    x = m.type(0)
    mode = m.attr("mode", "nearest")
    transform = m.attr("coordinate_transformation_mode", "half_pixel")  # opset 13 on
    if m.attr("antialias", 0) or m.attr("axes") is not None:
        m.refuse("Resize with antialias or axes (specc resizes every spatial dim, without "
                 "antialiasing)")
    sizes = m.dims(3) if m.has(3) else None
    if sizes is not None and len(sizes) != x.rank:
        m.refuse(f"Resize sizes {sizes} for a rank-{x.rank} input")
    if sizes is not None and any(str(a) != str(b) for a, b in zip(sizes[:2], x.shape[:2])):
        m.refuse(f"Resize of the batch or channel dims ({sizes[:2]} from {list(x.shape[:2])})")
    out = sizes[2:] if sizes is not None else None
    attrs = _resize_mode(m, mode, transform, out)
    if out is not None:
        return m.call("resize", m.value(0), size=out, **attrs)
    scales = m.known(2)
    if scales is None:
        m.need(2)
    scales = [float(str(np.float32(v))) for v in np.asarray(scales).reshape(-1)]
    if scales[:2] != [1.0, 1.0] or any(s != int(s) or s < 1 for s in scales[2:]):
        m.refuse(f"Resize by scales {scales} (specc upsamples by whole factors, the batch "
                 "and channels kept)")
    return m.call("upsample", m.value(0), scale=[int(s) for s in scales[2:]], **attrs)


def _resize_mode(m, mode: str, transform: str, out) -> dict:
    if mode == "nearest":
        if transform == "asymmetric" and m.attr("nearest_mode", "round_prefer_floor") == "floor":
            return {"mode": "nearest"}
        m.refuse(f"nearest Resize with the '{transform}' transform and "
                 f"'{m.attr('nearest_mode', 'round_prefer_floor')}' rounding (specc's "
                 "nearest is torch's: asymmetric, floor)")
    if mode == "linear":
        if transform in ("half_pixel", "pytorch_half_pixel"):
            if out is not None and any(isinstance(d, int) and d == 1 for d in out):
                m.refuse(f"linear Resize to a length of 1 ({out}): there half_pixel and "
                         "pytorch_half_pixel differ, and specc's bilinear exports as the "
                         "latter while it computes the former (torch's)")
            return {"mode": "bilinear"}
        if transform == "align_corners":
            return {"mode": "bilinear", "align_corners": True}
        m.refuse(f"linear Resize with the '{transform}' transform")
    m.refuse(f"Resize mode '{mode}' (specc has nearest and bilinear)")


_COMMON = (Arg("mode", "str", "nearest"), Arg("align_corners", "bool", False))
register(
    OpDef(name="upsample",
          shape="[N, C, *S] -> [N, C, *(S * scale)]",
          example=Example(("f32[N, 2, 3, 4]",), "upsample(x0, 2)"),
          doc="Upsample the spatial dims by integer factors `scale` "
          "(nearest or bilinear, as torch.nn.Upsample).",
          args=(Arg("x", "tensor"), Arg("scale", "ints", 2)) + _COMMON,
          infer=_upsample_infer, torch=_torch, onnx=_onnx, tolerance=1e-5,
          params=no_params, macs=no_macs, traits=frozenset()),
    OpDef(name="resize",
          shape="[N, C, *S] -> [N, C, *size]",
          example=Example(('f32[N, 2, 5, 6]',), 'resize(x0, [7, 3], mode="bilinear")'),
          doc="Resize the spatial dims to `size` (nearest or bilinear, as "
          "torch.nn.functional.interpolate with a size); sizes may be symbolic, e.g. back "
          "to the input's: resize(y, [image.height, image.width], mode=\"bilinear\").",
          args=(Arg("x", "tensor"), Arg("size", "dims")) + _COMMON,
          infer=_resize_infer, torch=_torch, onnx=_onnx, tolerance=1e-5,
          params=no_params, macs=no_macs, traits=frozenset(),
          onnx_import={"Resize": _resize_import}),
    OpDef(name="pixel_shuffle",
          shape="[N, C r^2, H, W] -> [N, C, H r, W r] (r = factor)",
          example=Example(("f32[N, 8, 3, 3]",), "pixel_shuffle(x0, 2)"),
          doc="[N, C*r*r, H, W] -> [N, C, H*r, W*r] (Shi et al. 2016; "
          "ONNX DepthToSpace in CRD order).", args=(Arg("x", "tensor"), Arg("factor", "int")),
          infer=_shuffle_infer,
          torch=lambda b, node, xs, ps: b.call(b.F.pixel_shuffle, xs[0], node.attrs["factor"]),
          onnx=lambda b, node, xs, ps: b.op("DepthToSpace", xs,
                                            blocksize=node.attrs["factor"], mode="CRD"),
          tolerance=1e-5, params=no_params, macs=no_macs, traits=frozenset(),
          onnx_import={"DepthToSpace": _depth_to_space_import}),
)
