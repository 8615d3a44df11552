"""Convolution and transposed convolution, 1-D to 3-D, with stride, padding, dilation and
groups."""
from __future__ import annotations

from ..ir.graph import Init, TensorType
from .registry import HALF_SUMS, Arg, Example, OpDef, ParamSpec, register, ShapeError, Trait
from .onnx_read import pad_list, window_pads
from .shapes import channels, expand, fits, prod, spatial, window_out

DEFAULT = Init("default")  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))


def _geometry(attrs: dict, x: TensorType, op: str = "conv"):
    n = spatial(x, op, ranks=(3, 4, 5))
    k = expand(attrs["kernel"], n, "kernel")
    s = expand(attrs["stride"], n, "stride")
    p = expand(attrs["padding"], n, "padding")
    d = expand(attrs["dilation"], n, "dilation")
    return n, k, s, p, d


def _infer(attrs, types):
    x = types[0]
    n, k, s, p, d = _geometry(attrs, x)
    c_in, c_out, g = channels(x, "conv"), attrs["channels"], attrs["groups"]
    if c_out < 1:
        raise ShapeError(f"conv needs at least 1 output channel, got {c_out}")
    if g < 1 or c_in % g or c_out % g:
        raise ShapeError(f"conv groups={g} must divide input channels {c_in} and output "
                         f"channels {c_out}")
    if min(k + s + d) < 1 or min(p) < 0:
        raise ShapeError("conv kernel, stride and dilation must be positive, padding >= 0")
    out = [window_out(x.shape[2 + i], k[i], s[i], p[i], p[i], d[i], False, "conv")
           for i in range(n)]
    return [TensorType(x.dtype, (x.shape[0], c_out, *out))]


def _params(attrs, types):
    x = types[0]
    n, k, *_ = _geometry(attrs, x)
    c_in, c_out, g = channels(x, "conv"), attrs["channels"], attrs["groups"]
    fan_in, fan_out = c_in // g * prod(k), c_out * prod(k)  # torch's fans of [out, in/g, *k]
    out = {"weight": ParamSpec((c_out, c_in // g, *k), attrs["init"], fan_in=fan_in,
                               fan_out=fan_out)}
    if attrs["bias"]:
        out["bias"] = ParamSpec((c_out,), attrs["bias_init"], fan_in=fan_in, fan_out=fan_out)
    return out


def _macs(attrs, types, outs):
    x, y = types[0], outs[0]
    k = expand(attrs["kernel"], x.rank - 2, "kernel")
    per_out = channels(x, "conv") // attrs["groups"] * prod(k)
    return y.per_sample() * per_out


def _torch(b, node, xs, ps):
    a, n = node.attrs, b.types[0].rank - 2
    fn = (b.torch.conv1d, b.torch.conv2d, b.torch.conv3d)[n - 1]
    return b.call(fn, xs[0], ps["weight"], ps.get("bias"), expand(a["stride"], n, "stride"),
                  expand(a["padding"], n, "padding"), expand(a["dilation"], n, "dilation"),
                  a["groups"])


def _onnx(b, node, xs, ps):
    a, n = node.attrs, b.types[0].rank - 2
    p = expand(a["padding"], n, "padding")
    inputs = [xs[0], ps["weight"]] + ([ps["bias"]] if "bias" in ps else [])
    return b.op("Conv", inputs, kernel_shape=list(expand(a["kernel"], n, "kernel")),
                strides=list(expand(a["stride"], n, "stride")), pads=list(p) + list(p),
                dilations=list(expand(a["dilation"], n, "dilation")), group=a["groups"])


def _import(m):
    """Conv: the weight gives channels and kernel; uneven padding becomes a `pad` first."""
    x, w = m.type(0), m.weight(1)
    n = len(w.shape) - 2
    if x.rank != n + 2:
        m.refuse(f"weight {list(w.shape)} does not fit input {list(x.shape)}")
    strides = list(m.attr("strides", [1] * n))
    dilations = list(m.attr("dilations", [1] * n))
    begin, end = window_pads(m, x, list(w.shape[2:]), strides, dilations)
    xv = m.value(0)
    if begin != end:
        xv = m.call("pad", xv, pads=pad_list(x, begin, end))
        begin = [0] * n
    weights = {"weight": w}
    if m.has(2):
        weights["bias"] = m.weight(2)
    return m.call("conv", xv, channels=w.shape[0], kernel=list(w.shape[2:]), stride=strides,
                  padding=begin, dilation=dilations, groups=m.attr("group", 1),
                  bias=m.has(2), weights=weights)


register(OpDef(
    name="conv", half=HALF_SUMS,
    shape="[N, C, *S] -> [N, channels, *S'], S' = (S + 2 padding - dilation (kernel - 1) - 1) // "
          "stride + 1, for 1 to 3 spatial dims",
    example=Example(("f32[N, 4, 9, 9]",), "conv(x0, 6, 3, stride=2, padding=1, groups=2)"),
   doc="Convolution over 1-D [N, C, L], 2-D [N, C, H, W] or 3-D [N, C, D, H, W] inputs "
        "(cross-correlation, as in every framework). Owns `weight` [out, in/groups, *kernel] "
        "and `bias` [out], or uses declared parameters as them: conv(x, 256, 3, padding=1, "
        "weight=w, bias_param=b) applies one conv to several inputs (RetinaNet's head, "
        "shared by every pyramid level).",
    args=(Arg("x", "tensor"), Arg("channels", "int"), Arg("kernel", "ints"),
          Arg("stride", "ints", 1), Arg("padding", "ints", 0), Arg("dilation", "ints", 1),
          Arg("groups", "int", 1), Arg("bias", "bool", True), Arg("init", "init", DEFAULT),
          Arg("bias_init", "init", DEFAULT), Arg("weight", "param", None),
          Arg("bias_param", "param", None)),
    ties={"weight": "weight", "bias_param": "bias"},
    infer=_infer, params=_params, macs=_macs, torch=_torch, onnx=_onnx,
    tolerance=1e-4, traits=frozenset({Trait.WEIGHTED, Trait.BACKWARD_IGNORES_OUTPUT}),
    onnx_import={"Conv": _import},
))


# ------------------------------------------------------------- transposed convolution
def _t_geometry(attrs: dict, x: TensorType):
    n, k, s, p, d = _geometry(attrs, x, "conv_transpose")
    op = expand(attrs["output_padding"], n, "output_padding")
    c_in, c_out, g = channels(x, "conv_transpose"), attrs["channels"], attrs["groups"]
    if c_out < 1 or g < 1 or c_in % g or c_out % g:
        raise ShapeError(f"conv_transpose groups={g} must divide input channels {c_in} and "
                         f"output channels {c_out}")
    if min(k + s + d) < 1 or min(p + op) < 0:
        raise ShapeError("conv_transpose kernel, stride and dilation must be positive, "
                         "padding >= 0")
    if any(op[i] >= max(s[i], d[i]) for i in range(n)):
        raise ShapeError(f"conv_transpose output_padding {list(op)} must be smaller than the "
                         f"stride {list(s)} or the dilation {list(d)}")
    return n, k, s, p, d, op


def _t_infer(attrs, types):
    x = types[0]
    n, k, s, p, d, op = _t_geometry(attrs, x)
    out = []
    for i in range(n):
        size = x.shape[2 + i]
        o = (size - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1
        if not fits(o, 1, "conv_transpose"):
            raise ShapeError(f"conv_transpose padding {p[i]} leaves no output from length {size}")
        out.append(o)
    return [TensorType(x.dtype, (x.shape[0], attrs["channels"], *out))]


def _t_params(attrs, types):
    n, k, *_ = _t_geometry(attrs, types[0])
    c_in, c_out, g = channels(types[0], "conv_transpose"), attrs["channels"], attrs["groups"]
    fan_in, fan_out = c_out // g * prod(k), c_in * prod(k)  # torch's fans of [in, out/g, *k]
    out = {"weight": ParamSpec((c_in, c_out // g, *k), attrs["init"], fan_in=fan_in,
                               fan_out=fan_out)}
    if attrs["bias"]:
        out["bias"] = ParamSpec((c_out,), attrs["bias_init"], fan_in=fan_in, fan_out=fan_out)
    return out


def _t_macs(attrs, types, outs):
    n, k, *_ = _t_geometry(attrs, types[0])
    return types[0].per_sample() * (attrs["channels"] // attrs["groups"] * prod(k))


def _t_torch(b, node, xs, ps):
    n, k, s, p, d, op = _t_geometry(node.attrs, b.types[0])
    fn = (b.F.conv_transpose1d, b.F.conv_transpose2d, b.F.conv_transpose3d)[n - 1]
    return b.call(fn, xs[0], ps["weight"], ps.get("bias"), s, p, op, node.attrs["groups"], d)


def _t_onnx(b, node, xs, ps):
    n, k, s, p, d, op = _t_geometry(node.attrs, b.types[0])
    inputs = [xs[0], ps["weight"]] + ([ps["bias"]] if "bias" in ps else [])
    return b.op("ConvTranspose", inputs, kernel_shape=list(k), strides=list(s),
                pads=list(p) + list(p), dilations=list(d), output_padding=list(op),
                group=node.attrs["groups"])


def _t_import(m):
    """ConvTranspose with symmetric padding; output_shape and uneven pads are refused."""
    x, w = m.type(0), m.weight(1)
    n = len(w.shape) - 2
    strides = list(m.attr("strides", [1] * n))
    dilations = list(m.attr("dilations", [1] * n))
    out_pad = list(m.attr("output_padding", [0] * n))
    pads = _t_pads(m, x, list(w.shape[2:]), strides, dilations, out_pad)
    if any(p < 0 for p in pads):  # output_shape beyond the kernels' reach: output padding
        out_pad = [op - b - e for op, b, e in zip(out_pad, pads[:n], pads[n:])]
        pads = [0] * (2 * n)
    if pads[:n] != pads[n:]:
        m.refuse(f"uneven pads {pads} are not supported")
    group = m.attr("group", 1)
    weights = {"weight": w}
    if m.has(2):
        weights["bias"] = m.weight(2)
    return m.call("conv_transpose", m.value(0), channels=w.shape[1] * group,
                  kernel=list(w.shape[2:]), stride=strides, padding=pads[:n],
                  output_padding=out_pad, dilation=dilations, groups=group, bias=m.has(2),
                  weights=weights)


def _t_pads(m, x, kernel, strides, dilations, out_pad) -> list[int]:
    """ConvTranspose's pads, from `output_shape` or auto_pad SAME (out = in * stride) when
    given: the total is split evenly, the odd one at the end (SAME_UPPER's and
    output_shape's rule) or the start (SAME_LOWER)."""
    n = len(kernel)
    shape, auto = m.attr("output_shape"), m.attr("auto_pad", "NOTSET")
    if shape is None and auto in ("NOTSET", "VALID", ""):
        return list(m.attr("pads", [0] * (2 * n))) if auto != "VALID" else [0] * (2 * n)
    sizes = x.shape[2:]
    if not all(isinstance(d, int) for d in sizes):
        m.refuse("output_shape or auto_pad over symbolic spatial dims")
    want = list(shape)[-n:] if shape is not None else [d * s for d, s in zip(sizes, strides)]
    begin, end = [], []
    for d, k, s, dil, op, o in zip(sizes, kernel, strides, dilations, out_pad, want):
        total = s * (d - 1) + op + (k - 1) * dil + 1 - o
        if total < 0:  # ONNX pads the output's end instead (its output_padding)
            begin.append(0)
            end.append(total)
            continue
        low = total - total // 2 if auto == "SAME_LOWER" else total // 2
        begin.append(low)
        end.append(total - low)
    return begin + end


register(OpDef(
    name="conv_transpose", half=HALF_SUMS,
    shape="[N, C, *S] -> [N, channels, *S'], S' = (S - 1) stride - 2 padding + dilation (kernel "
          "- 1) + output_padding + 1",
    example=Example(("f32[N, 4, 5, 5]",),
                    "conv_transpose(x0, 6, 3, stride=2, padding=1, output_padding=1, groups=2)"),
   doc="Transposed convolution (the gradient of conv; learned upsampling), 1-D to 3-D. "
        "Owns `weight` [in, out/groups, *kernel] and `bias` [out].",
    args=(Arg("x", "tensor"), Arg("channels", "int"), Arg("kernel", "ints"),
          Arg("stride", "ints", 1), Arg("padding", "ints", 0), Arg("output_padding", "ints", 0),
          Arg("dilation", "ints", 1), Arg("groups", "int", 1), Arg("bias", "bool", True),
          Arg("init", "init", DEFAULT), Arg("bias_init", "init", DEFAULT)),
    infer=_t_infer, params=_t_params, macs=_t_macs, torch=_t_torch, onnx=_t_onnx,
    tolerance=1e-4, traits=frozenset({Trait.WEIGHTED, Trait.BACKWARD_IGNORES_OUTPUT}),
    onnx_import={"ConvTranspose": _t_import},
))
