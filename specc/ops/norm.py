"""Normalisation and regularisation: batch norm, local response norm, dropout, stochastic
depth."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Init
from .registry import (HALF_KEPT, Arg, Example, OpDef, ParamSpec, ShapeError, Trait, no_macs,
                       no_params, register)
from .shapes import channels, float_input, in_range


def _bn_infer(attrs, types):
    x = types[0]
    in_range(attrs, "eps", "batchnorm", 0.0)
    in_range(attrs, "momentum", "batchnorm", 0.0, 1.0)
    if x.rank not in (2, 3, 4, 5):
        raise ShapeError(f"batchnorm expects [N, C, ...], got rank {x.rank}")
    float_input(x, "batchnorm")
    channels(x, "batchnorm")
    return [x]


def _bn_params(attrs, types):
    c = channels(types[0], "batchnorm")
    learns = not attrs["frozen"]  # frozen: a fixed affine map, saved but never trained
    out = {
        "weight": ParamSpec((c,), attrs["init"], trainable=learns, fan_in=1, fan_out=1),
        "bias": ParamSpec((c,), attrs["bias_init"], trainable=learns, fan_in=1, fan_out=1),
        "running_mean": ParamSpec((c,), Init("zeros"), trainable=False, state=True),
        "running_var": ParamSpec((c,), Init("ones"), trainable=False, state=True),
    }
    if learns:
        out["num_batches_tracked"] = ParamSpec((), Init("zeros"), trainable=False, state=True,
                                               dtype="i64")
    return out


def batch_norm(x, weight, bias, mean, var, count, training: bool, momentum: float, eps: float):
    """torch.nn.BatchNorm semantics, including the `num_batches_tracked` counter."""
    import torch.nn.functional as F
    if training:
        count.add_(1)
    return F.batch_norm(x, mean, var, weight, bias, training, momentum, eps)


def frozen_batch_norm(x, weight, bias, mean, var, eps: float):
    """torchvision.ops.FrozenBatchNorm2d: the statistics and the affine map folded into one
    scale and shift, the same in training and at inference."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    scale = weight * (var + eps).rsqrt()
    shift = bias - mean * scale
    return x * scale.reshape(shape) + shift.reshape(shape)


def _bn_torch(b, node, xs, ps):
    a = node.attrs
    if a["frozen"]:
        return b.call(frozen_batch_norm, xs[0], ps["weight"], ps["bias"], ps["running_mean"],
                      ps["running_var"], a["eps"])
    return b.call(batch_norm, xs[0], ps["weight"], ps["bias"], ps["running_mean"],
                  ps["running_var"], ps["num_batches_tracked"], b.training, a["momentum"], a["eps"])


def _bn_onnx(b, node, xs, ps):
    return b.op("BatchNormalization", [xs[0], ps["weight"], ps["bias"], ps["running_mean"],
                                       ps["running_var"]], epsilon=node.attrs["eps"])


def _bn_import(m):
    """BatchNormalization at inference (ONNX's momentum m is torch's 1 - m)."""
    if m.attr("training_mode", 0):
        m.refuse("BatchNormalization in training mode")
    if m.attr("spatial", 1) != 1:
        m.refuse("BatchNormalization with spatial=0")
    roles = ("weight", "bias", "running_mean", "running_var")
    weights = {role: m.weight(i + 1) for i, role in enumerate(roles)}
    momentum = 1.0 - float(m.attr("momentum", 0.9))
    return m.call("batchnorm", m.value(0), eps=m.attr("epsilon", 1e-5),
                  momentum=round(momentum, 6), weights=weights)


def _lrn_import(m):
    size = m.attr("size")
    return m.call("lrn", m.value(0), size=size, alpha=m.attr("alpha", 1e-4) / size,
                  beta=m.attr("beta", 0.75), k=m.attr("bias", 1.0))


def _dropout_import(m):
    """Dropout is the identity at inference: no node."""
    if m.has(2) and (m.known(2) is None or bool(np.asarray(m.known(2)).reshape(-1)[0])):
        m.refuse("Dropout in training mode")
    return m.same(0)


def _lrn_infer(attrs, types):
    x = types[0]
    if x.rank != 4:
        raise ShapeError(f"lrn expects [N, C, H, W], got rank {x.rank}")
    float_input(x, "lrn")
    if attrs["size"] < 1 or attrs["size"] % 2 == 0:
        raise ShapeError(f"lrn size must be a positive odd number, got {attrs['size']}")
    return [x]


def _lrn_torch(b, node, xs, ps):
    a = node.attrs  # the paper's alpha multiplies the plain sum; torch divides by size
    return b.call(b.F.local_response_norm, xs[0], a["size"], a["alpha"] * a["size"], a["beta"],
                  a["k"])


def _lrn_onnx(b, node, xs, ps):
    a = node.attrs
    return b.op("LRN", xs, size=a["size"], alpha=a["alpha"] * a["size"], beta=a["beta"],
                bias=a["k"])


def _dropout_infer(attrs, types):
    if not 0.0 <= attrs["p"] < 1.0:
        raise ShapeError(f"dropout p must be in [0, 1), got {attrs['p']}")
    return [types[0]]


def _sd_infer(attrs, types):
    if not 0.0 <= attrs["p"] <= 1.0:
        raise ShapeError(f"stochastic_depth p must be in [0, 1], got {attrs['p']}")
    if attrs["mode"] not in ("row", "batch"):
        raise ShapeError(f"stochastic_depth mode must be \"row\" or \"batch\", got "
                         f"\"{attrs['mode']}\"")
    if attrs["mode"] == "row" and not types[0].batched:
        raise ShapeError(f"stochastic_depth mode=\"row\" drops samples of a batch; "
                         f"{types[0]} has no batch dim")
    float_input(types[0], "stochastic_depth")
    return [types[0]]


def stochastic_depth(x, p: float, mode: str, training: bool):
    """torchvision.ops.stochastic_depth: while training, zero each sample ("row") or the whole
    batch ("batch") with probability p and scale what survives by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    noise = x.new_empty(size).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


register(
    OpDef(name="batchnorm", half=HALF_KEPT,
          shape="same as x ([N, C, ...])",
          example=Example(("f32[N, 3, 4, 4]",), "batchnorm(x0)"),
          doc="Batch normalisation (Ioffe & Szegedy 2015) over dim 1. Owns `weight` (init, "
              "ones; DCGAN draws it from normal(mean=1.0, std=0.02)), `bias` (bias_init, "
              "zeros) and the running statistics `running_mean`, `running_var`, "
              "`num_batches_tracked`. `frozen=true` is torchvision's FrozenBatchNorm2d (its "
              "detection backbones): `weight`, `bias`, `running_mean` and `running_var` are "
              "fixed tensors, never trained or updated, applied as in evaluation also while "
              "training; no `num_batches_tracked`.",
          args=(Arg("x", "tensor"), Arg("eps", "float", 1e-5), Arg("momentum", "float", 0.1),
                Arg("init", "init", Init("ones")), Arg("bias_init", "init", Init("zeros")),
                Arg("frozen", "bool", False)),
          infer=_bn_infer, params=_bn_params, torch=_bn_torch, onnx=_bn_onnx,
          tolerance=1e-4, traits=frozenset({Trait.NORMALISING, Trait.BACKWARD_IGNORES_OUTPUT}),
          macs=no_macs,
          onnx_import={"BatchNormalization": _bn_import}),
    OpDef(name="lrn", half=HALF_KEPT,
          shape="same as x ([N, C, H, W])",
          example=Example(("f32[N, 7, 4, 4]",), "lrn(x0, 5, alpha=0.0001, beta=0.75, k=2.0)"),
          doc="Local response normalisation across channels, as in Krizhevsky et al. 2012: "
              "b = a / (k + alpha * sum of a^2 over `size` neighbouring channels)^beta.",
          args=(Arg("x", "tensor"), Arg("size", "int", 5), Arg("alpha", "float", 1e-4),
                Arg("beta", "float", 0.75), Arg("k", "float", 2.0)),
          infer=_lrn_infer, torch=_lrn_torch, onnx=_lrn_onnx,
          tolerance=1e-4, params=no_params, macs=no_macs, traits=frozenset({Trait.NORMALISING}),
          onnx_import={"LRN": _lrn_import}),
    OpDef(name="dropout",
          shape="same as x",
          example=Example(("f32[N, 6]",), "dropout(x0, 0.5) |> relu"),
          doc="Zeroes elements with probability p while training; identity "
          "at inference (removed from exported models).",
          args=(Arg("x", "tensor"), Arg("p", "float", 0.5)), infer=_dropout_infer,
          torch=lambda b, node, xs, ps: b.call(b.F.dropout, xs[0], node.attrs["p"], b.training),
          onnx=lambda b, node, xs, ps: b.op("Identity", xs),
          traits=frozenset({Trait.INFERENCE_IDENTITY}),
          params=no_params, macs=no_macs, tolerance=1e-5,
          onnx_import={"Dropout": _dropout_import}),
    OpDef(name="stochastic_depth",
          shape="same as x",
          example=Example(("f32[N, 4, 3, 3]",), "x0 + stochastic_depth(relu(x0), 0.2)"),
          doc="Stochastic depth (Huang et al. 2016) as torchvision.ops.stochastic_depth: while "
              "training, a residual branch is zeroed with probability p for each sample "
              "(mode=\"row\") or for the whole batch (\"batch\"), and what survives is scaled "
              "by 1 / (1 - p); identity at inference (removed from exported models).",
          args=(Arg("x", "tensor"), Arg("p", "float"), Arg("mode", "str", "row")),
          infer=_sd_infer,
          torch=lambda b, node, xs, ps: b.call(stochastic_depth, xs[0], node.attrs["p"],
                                               node.attrs["mode"], b.training),
          onnx=lambda b, node, xs, ps: b.op("Identity", xs),
          traits=frozenset({Trait.INFERENCE_IDENTITY}),
          params=no_params, macs=no_macs, tolerance=1e-5),
)
