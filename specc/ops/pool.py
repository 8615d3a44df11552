"""Pooling: max and average (overlapping, ceil mode), adaptive/global, spatial pyramid."""
from __future__ import annotations

import math

from ..ir.graph import TensorType
from .registry import (HALF_SUMS, Example, Arg, LoweringError, OpDef, ShapeError, no_macs,
                       no_params, register)
from .shapes import channels, expand, spatial, window_out


def _geometry(attrs, x, op):
    n = spatial(x, op)
    k = expand(attrs["kernel"], n, "kernel")
    s = expand(attrs["stride"] if attrs["stride"] is not None else attrs["kernel"], n, "stride")
    p = expand(attrs["padding"], n, "padding")
    if min(k + s) < 1 or min(p) < 0:
        raise ShapeError(f"{op} kernel and stride must be positive, padding >= 0")
    if any(2 * p[i] > k[i] for i in range(n)):
        raise ShapeError(f"{op} padding {list(p)} must be at most half the kernel {list(k)}")
    return n, k, s, p


def _window_infer(op):
    def infer(attrs, types):
        x = types[0]
        n, k, s, p = _geometry(attrs, x, op)
        out = [window_out(x.shape[2 + i], k[i], s[i], p[i], p[i], 1, attrs["ceil"], op)
               for i in range(n)]
        return [TensorType(x.dtype, (*x.shape[:2], *out))]
    return infer


def _max_torch(b, node, xs, ps):
    n, k, s, p = _geometry(node.attrs, b.types[0], "maxpool")
    fn = b.F.max_pool1d if n == 1 else b.F.max_pool2d
    return b.call(fn, xs[0], k, s, p, 1, node.attrs["ceil"])


def _avg_torch(b, node, xs, ps):
    n, k, s, p = _geometry(node.attrs, b.types[0], "avgpool")
    fn = b.F.avg_pool1d if n == 1 else b.F.avg_pool2d
    return b.call(fn, xs[0], k, s, p, node.attrs["ceil"], node.attrs["count_pad"])


def _pool_onnx(kind):
    """ONNX's ceil mode keeps a last window that starts in the padding (torch drops it) and
    averages differently at the edges, so the output size is pinned with explicit end padding:
    max pooling pads with -inf implicitly; average pooling pads zeros explicitly where torch
    counts them, then averages over what is inside."""
    def lower(b, node, xs, ps):
        n, k, s, p = _geometry(node.attrs, b.types[0], kind)
        ins, outs = b.types[0].shape[2:], b.outs[0].shape[2:]
        if not all(isinstance(d, int) for d in list(ins) + list(outs)):
            raise LoweringError(f"{kind} needs known spatial dims for ONNX")
        extra = [max(0, (outs[i] - 1) * s[i] + k[i] - ins[i] - 2 * p[i]) for i in range(n)]
        if kind == "maxpool":
            return b.op("MaxPool", xs, kernel_shape=list(k), strides=list(s),
                        pads=list(p) + [p[i] + extra[i] for i in range(n)])
        x, begin = xs[0], list(p)
        if node.attrs["count_pad"] and any(p):
            x = b.op("Pad", [x, b.const([0, 0] + list(p) + [0, 0] + list(p), "i64")])
            begin = [0] * n
        return b.op("AveragePool", [x], kernel_shape=list(k), strides=list(s),
                    pads=begin + [begin[i] + extra[i] for i in range(n)], count_include_pad=0)
    return lower


_WINDOW_ARGS = (Arg("x", "tensor"), Arg("kernel", "ints"), Arg("stride", "ints", None),
                Arg("padding", "ints", 0), Arg("ceil", "bool", False))


# ---------------------------------------------------------------- adaptive pooling
def _adaptive_infer(op):
    def infer(attrs, types):
        x = types[0]
        n = spatial(x, op)
        size = expand(attrs["size"], n, "size")
        if min(size) < 1:
            raise ShapeError(f"{op} output size must be positive, got {list(size)}")
        return [TensorType(x.dtype, (*x.shape[:2], *size))]
    return infer


def _adaptive_torch(kind):
    def lower(b, node, xs, ps):
        n = b.types[0].rank - 2
        fn = getattr(b.F, f"adaptive_{kind}_pool{n}d")
        return b.call(fn, xs[0], expand(node.attrs["size"], n, "size"))
    return lower


def _adaptive_onnx(kind):
    def lower(b, node, xs, ps):
        x = b.types[0]
        n = x.rank - 2
        size = expand(node.attrs["size"], n, "size")
        if all(o == 1 for o in size):
            return b.op("GlobalAveragePool" if kind == "avg" else "GlobalMaxPool", xs)
        ins = x.shape[2:]
        if not all(isinstance(i, int) and i % o == 0 for i, o in zip(ins, size)):
            raise LoweringError(f"adaptive pooling from {list(ins)} to {list(size)} has uneven "
                                "windows, which ONNX cannot express")
        k = [i // o for i, o in zip(ins, size)]
        return b.op("AveragePool" if kind == "avg" else "MaxPool", xs, kernel_shape=k, strides=k)
    return lower


def _global_avg(b, node, xs, ps):
    return b.call(b.torch.mean, xs[0], tuple(range(2, b.types[0].rank)), True)


# ----------------------------------------------------------- spatial pyramid pooling
def _spp_levels(attrs, x):
    spatial(x, "spp", ranks=(4,))
    h, w = x.shape[2:]
    if not (isinstance(h, int) and isinstance(w, int)):
        raise ShapeError("spp needs known spatial dims")
    out = []
    if not attrs["levels"] or min(attrs["levels"]) < 1:
        raise ShapeError(f"spp levels must be positive, got {list(attrs['levels'])}")
    for n in attrs["levels"]:
        kh, kw = math.ceil(h / n), math.ceil(w / n)
        sh, sw = h // n, w // n
        if n > min(h, w) or window_out(h, kh, sh, 0, 0, 1, False, "spp") != n \
                or window_out(w, kw, sw, 0, 0, 1, False, "spp") != n:
            raise ShapeError(f"spp level {n} does not tile a {h}x{w} map with "
                             "window ceil(a/n) and stride floor(a/n)")
        out.append(((kh, kw), (sh, sw)))
    return out


def _spp_infer(attrs, types):
    x = types[0]
    levels = _spp_levels(attrs, x)
    c = channels(x, "spp")
    total = sum(n * n for n in attrs["levels"])
    assert len(levels) == len(attrs["levels"])
    return [TensorType(x.dtype, (x.shape[0], c * total))]


def spp_torch(x, windows):
    """He et al. 2014: max-pool each level with window ceil(a/n), stride floor(a/n); concat."""
    import torch
    import torch.nn.functional as F
    return torch.cat([F.max_pool2d(x, k, s).flatten(1) for k, s in windows], 1)


def _spp_onnx(b, node, xs, ps):
    parts = [b.op("Flatten", [b.op("MaxPool", xs, kernel_shape=list(k), strides=list(s))], axis=1)
             for k, s in _spp_levels(node.attrs, b.types[0])]
    return b.op("Concat", parts, axis=1)


register(
    OpDef(name="maxpool",
          shape="[N, C, *S] -> [N, C, *S'], S' = (S + 2 padding - kernel) // stride + 1 (rounded "
                "up with ceil)",
          example=Example(("f32[N, 2, 13, 13]",), "maxpool(x0, 3, stride=2, ceil=true)"),
          doc="Max pooling (1-D/2-D); stride defaults to the kernel; `ceil` "
          "rounds the output size up as Caffe did.", args=_WINDOW_ARGS,
          infer=_window_infer("maxpool"), torch=_max_torch, onnx=_pool_onnx("maxpool"),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset({"pooling"})),
    OpDef(name="avgpool", half=HALF_SUMS,
          shape="[N, C, *S] -> [N, C, *S'], S' = (S + 2 padding - kernel) // stride + 1 (rounded "
                "up with ceil)",
          example=Example(("f32[N, 2, 9, 9]",), "avgpool(x0, 3, stride=2, padding=1)"),
          doc="Average pooling (1-D/2-D); `count_pad` counts padded zeros.",
          args=_WINDOW_ARGS + (Arg("count_pad", "bool", True),),
          infer=_window_infer("avgpool"), torch=_avg_torch, onnx=_pool_onnx("avgpool"),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset({"pooling"})),
    OpDef(name="adaptive_avgpool", half=HALF_SUMS,
          shape="[N, C, *S] -> [N, C, *size]",
          example=Example(("f32[N, 2, 12, 12]",), "adaptive_avgpool(x0, 4)"),
          doc="Average pooling to a fixed output size.",
          args=(Arg("x", "tensor"), Arg("size", "ints")), infer=_adaptive_infer("adaptive_avgpool"),
          torch=_adaptive_torch("avg"), onnx=_adaptive_onnx("avg"),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset({"pooling"})),
    OpDef(name="adaptive_maxpool",
          shape="[N, C, *S] -> [N, C, *size]",
          example=Example(("f32[N, 2, 12, 12]",), "adaptive_maxpool(x0, [3, 2])"),
          doc="Max pooling to a fixed output size.",
          args=(Arg("x", "tensor"), Arg("size", "ints")), infer=_adaptive_infer("adaptive_maxpool"),
          torch=_adaptive_torch("max"), onnx=_adaptive_onnx("max"),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset({"pooling"})),
    OpDef(name="global_avgpool", half=HALF_SUMS,
          shape="[N, C, *S] -> [N, C, 1, ...]",
          example=Example(("f32[N, 3, 5, 5]",), "global_avgpool(x0)"),
          doc="Mean over all spatial positions; keeps [N, C, 1, 1].",
          args=(Arg("x", "tensor"),),
          infer=lambda attrs, types: _adaptive_infer("global_avgpool")({"size": 1}, types),
          torch=_global_avg, onnx=lambda b, node, xs, ps: b.op("GlobalAveragePool", xs),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset({"pooling"})),
    OpDef(name="spp", half=HALF_SUMS,
          shape="[N, C, H, W] -> [N, C * sum(n * n for n in levels)]",
          example=Example(("f32[N, 2, 13, 13]",), "spp(x0, [3, 2, 1])"),
          doc="Spatial pyramid pooling (He et al. 2014): max-pool to n x n bins "
          "for each level, flatten and concatenate -> [N, C * sum(n^2)].",
          args=(Arg("x", "tensor"), Arg("levels", "int_list", (4, 2, 1))), infer=_spp_infer,
          torch=lambda b, node, xs, ps: b.call(spp_torch, xs[0],
                                               tuple(_spp_levels(node.attrs, b.types[0]))),
          onnx=_spp_onnx, params=no_params, macs=no_macs, tolerance=1e-5,
          traits=frozenset({"pooling"})),
)
