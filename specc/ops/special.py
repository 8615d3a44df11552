"""The historical ops of LeNet-5: a connection-table conv, trainable subsampling, RBF units."""
from __future__ import annotations

from ..ir.graph import Init, TensorType
from .registry import HALF_SUMS, Example, Arg, OpDef, ParamSpec, ShapeError, no_macs, register
from .shapes import channels, expand, fmt, prod, spatial, window_out

FAN_IN = Init("fan_in_uniform", (2.4,))  # LeCun 1998: U(-2.4/F, 2.4/F), F = fan-in


# ------------------------------------------------------------ connection-table conv
def _links(attrs, x):
    table, c_in = attrs["table"], channels(x, "table_conv")
    if not table or any(not row for row in table):
        raise ShapeError("table_conv needs a non-empty list of input maps for every output map")
    for j, row in enumerate(table):
        bad = [i for i in row if not 0 <= i < c_in]
        if bad or len(set(row)) != len(row):
            raise ShapeError(f"table_conv row {j} {fmt(row)} must list distinct input maps "
                             f"in 0..{c_in - 1}")
    return [(j, i) for j, row in enumerate(table) for i in row]


def _tconv_infer(attrs, types):
    x = types[0]
    spatial(x, "table_conv", ranks=(4,))
    _links(attrs, x)
    k = expand(attrs["kernel"], 2, "kernel")
    s = expand(attrs["stride"], 2, "stride")
    out = [window_out(x.shape[2 + i], k[i], s[i], 0, 0, 1, False, "table_conv") for i in (0, 1)]
    return [TensorType(x.dtype, (x.shape[0], len(attrs["table"]), *out))]


def _tconv_params(attrs, types):
    k = expand(attrs["kernel"], 2, "kernel")
    links = _links(attrs, types[0])
    fan_in = prod(k) * max(len(r) for r in attrs["table"])
    out = {"weight": ParamSpec((len(links), *k), attrs["init"], fan_in=fan_in, fan_out=fan_in)}
    if attrs["bias"]:
        out["bias"] = ParamSpec((len(attrs["table"]),), attrs["bias_init"], fan_in=fan_in)
    return out


def _tconv_macs(attrs, types, outs):
    y = outs[0]
    k = expand(attrs["kernel"], 2, "kernel")
    per_pos = y.shape[2] * y.shape[3] if all(isinstance(d, int) for d in y.shape[2:]) else 0
    return per_pos * len(_links(attrs, types[0])) * prod(k)


def table_conv(x, packed, bias, links, maps: int, c_in: int, stride):
    """Scatter the packed kernels [links, kh, kw] into a dense [out, in, kh, kw] kernel whose
    absent links are zero, then convolve; gradients reach only the packed entries."""
    import torch
    dense = packed.new_zeros((maps, c_in, *packed.shape[1:]))
    dense = dense.index_put((links[0], links[1]), packed)
    return torch.conv2d(x, dense, bias, stride)


def _tconv_torch(b, node, xs, ps):
    import torch
    links = torch.tensor(_links(node.attrs, b.types[0]), dtype=torch.long).t().contiguous()
    return b.call(table_conv, xs[0], ps["weight"], ps.get("bias"),
                  b.constant(f"{node.name}.links", links), len(node.attrs["table"]),
                  channels(b.types[0], "table_conv"), expand(node.attrs["stride"], 2, "stride"))


def _tconv_onnx(b, node, xs, ps):
    a, x = node.attrs, b.types[0]
    links = _links(a, x)
    k = expand(a["kernel"], 2, "kernel")
    zeros = b.const([0.0] * (len(a["table"]) * channels(x, "table_conv") * prod(k)), x.dtype,
                    (len(a["table"]), channels(x, "table_conv"), *k))
    index = b.const([v for link in links for v in link], "i64", (len(links), 2))
    dense = b.op("ScatterND", [zeros, index, ps["weight"]])
    inputs = [xs[0], dense] + ([ps["bias"]] if "bias" in ps else [])
    return b.op("Conv", inputs, kernel_shape=list(k), strides=list(expand(a["stride"], 2, "stride")))


# ------------------------------------------------------------- trainable subsampling
def _sub_infer(attrs, types):
    x = types[0]
    spatial(x, "subsample", ranks=(4,))
    k = attrs["kernel"]
    out = [window_out(x.shape[2 + i], k, k, 0, 0, 1, False, "subsample") for i in (0, 1)]
    return [TensorType(x.dtype, (*x.shape[:2], *out))]


def _sub_params(attrs, types):
    c, f = channels(types[0], "subsample"), attrs["kernel"] ** 2
    return {"weight": ParamSpec((c,), attrs["init"], fan_in=f, fan_out=f),
            "bias": ParamSpec((c,), attrs["bias_init"], fan_in=f, fan_out=f)}


def subsample(x, coef, bias, kernel: int):
    """LeNet-5's S-layers: the sum over each k x k window times a coefficient, plus a bias."""
    import torch.nn.functional as F
    pooled = F.avg_pool2d(x, kernel) * float(kernel * kernel)
    return pooled * coef.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


def _sub_onnx(b, node, xs, ps):
    k, dt = node.attrs["kernel"], b.types[0].dtype
    axes = b.const([1, 2], "i64")
    pooled = b.op("AveragePool", xs, kernel_shape=[k, k], strides=[k, k])
    summed = b.op("Mul", [pooled, b.const([float(k * k)], dt, ())])
    scaled = b.op("Mul", [summed, b.op("Unsqueeze", [ps["weight"], axes])])
    return b.op("Add", [scaled, b.op("Unsqueeze", [ps["bias"], axes])])


# ----------------------------------------------------------------- Euclidean RBF units
def _rbf_infer(attrs, types):
    x = types[0]
    if x.rank != 2 or not isinstance(x.shape[1], int):
        raise ShapeError(f"rbf expects [N, features], got {fmt(x.shape)}")
    return [TensorType(x.dtype, (x.shape[0], attrs["units"]))]


def _rbf_params(attrs, types):
    f = types[0].shape[1]
    return {"centers": ParamSpec((attrs["units"], f), attrs["init"],
                                 trainable=attrs["trainable"], fan_in=f, fan_out=attrs["units"])}


def rbf(x, centers):
    """y_i = sum_j (x_j - c_ij)^2: the squared Euclidean distance to each unit's centre."""
    return (x.unsqueeze(1) - centers).pow(2).sum(-1)


def _rbf_onnx(b, node, xs, ps):
    diff = b.op("Sub", [b.op("Unsqueeze", [xs[0], b.const([1], "i64")]), ps["centers"]])
    if b.opset >= 18:
        return b.op("ReduceSumSquare", [diff, b.const([2], "i64")], keepdims=0)
    return b.op("ReduceSumSquare", [diff], axes=[2], keepdims=0)


register(
    OpDef(name="table_conv", half=HALF_SUMS,
          shape="[N, C, H, W] -> [N, len(table), H', W'] (an unpadded conv of `kernel` and "
                "`stride`)",
          example=Example(("f32[N, 3, 8, 8]",),
                          "table_conv(x0, [[0, 1], [1, 2], [0, 2], [0, 1, 2]], 3)"),
          doc="2-D convolution where output map j sees only the input maps listed in table[j] "
              "(LeNet-5's C3). Owns the packed `weight` [links, kh, kw] and `bias` [out].",
          args=(Arg("x", "tensor"), Arg("table", "table"), Arg("kernel", "ints"),
                Arg("stride", "ints", 1), Arg("bias", "bool", True), Arg("init", "init", FAN_IN),
                Arg("bias_init", "init", FAN_IN)),
          infer=_tconv_infer, params=_tconv_params, macs=_tconv_macs, torch=_tconv_torch,
          onnx=_tconv_onnx, tolerance=1e-4,
          traits=frozenset({"weighted", "backward_ignores_output"})),
    OpDef(name="subsample", half=HALF_SUMS,
          shape="[N, C, H, W] -> [N, C, H // kernel, W // kernel]",
          example=Example(("f32[N, 3, 8, 8]",), "subsample(x0, 2)"),
          doc="LeNet-5's trainable subsampling: (sum of each k x k window) * coef + bias, one "
              "coefficient and one bias per map.",
          args=(Arg("x", "tensor"), Arg("kernel", "int", 2), Arg("init", "init", FAN_IN),
                Arg("bias_init", "init", FAN_IN)),
          infer=_sub_infer, params=_sub_params,
          torch=lambda b, node, xs, ps: b.call(subsample, xs[0], ps["weight"], ps["bias"],
                                               node.attrs["kernel"]),
          onnx=_sub_onnx, tolerance=1e-4, macs=no_macs,
          traits=frozenset({"pooling", "backward_ignores_output"})),
    OpDef(name="rbf", half=HALF_SUMS,
          shape="[N, F] -> [N, units]",
          example=Example(("f32[N, 6]",), "rbf(x0, 4)"),
          doc="Euclidean radial basis units: y_i = sum_j (x_j - c_ij)^2. The centres are fixed "
              "by default (LeNet-5's output codes).",
          args=(Arg("x", "tensor"), Arg("units", "int"), Arg("init", "init", Init("bipolar", (0,))),
                Arg("trainable", "bool", False)),
          infer=_rbf_infer, params=_rbf_params,
          torch=lambda b, node, xs, ps: b.call(rbf, xs[0], ps["centers"]),
          onnx=_rbf_onnx, tolerance=1e-4, macs=no_macs, traits=frozenset()),
)
