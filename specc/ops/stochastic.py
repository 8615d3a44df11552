"""Stochastic nodes: Bernoulli units, gated transmission, categorical and Gaussian sampling.

While training they draw from torch's generator (seeded per step by the trainer, so runs are
reproducible) and REINFORCE reads their log-probabilities (`log_prob`); the samples carry no
gradient. At evaluation they are deterministic: the more likely value (bernoulli, transmit),
the argmax (categorical), the mean (normal) - and that is what ONNX export writes. An op given
sample="always" stays random at inference too (a machine that is random by nature, such as the
SNARC); such a graph is refused by the ONNX export with the reason.
"""
from __future__ import annotations

import math

from ..ir.graph import TensorType
from .registry import (Arg, Example, LoweringError, OpDef, ShapeError, no_macs, no_params,
                       register, Trait)
from .shapes import float_input, fmt

SAMPLE = Arg("sample", "str", "train", 'when to draw: "train" (mean/argmax at evaluation) or '
             '"always"')
STOCHASTIC = frozenset({Trait.STOCHASTIC})


def _mode(attrs) -> str:
    if attrs["sample"] not in ("train", "always"):
        raise ShapeError(f'sample must be "train" or "always", got "{attrs["sample"]}"')
    return attrs["sample"]


def _refuse_random(node) -> None:
    if node.attrs["sample"] == "always":
        raise LoweringError(
            f"{node.op} samples at inference (sample=\"always\"): ONNX can draw random numbers "
            "but only from onnxruntime's own generator, so the model could not be checked "
            "against torch; export a view that samples only while training")


# ---------------------------------------------------------------- bernoulli units
def _same_infer(op):
    def infer(attrs, types):
        _mode(attrs)
        float_input(types[0], op)
        return [types[0]]
    return infer


def bernoulli_sample(p, training: bool, always: bool):
    """1 with probability p (clipped to [0, 1]); at evaluation 1 where p > 0.5."""
    import torch
    p = p.clamp(0.0, 1.0)
    if training or always:
        return torch.bernoulli(p.detach())
    return (p > 0.5).to(p.dtype)


def _bernoulli_log_prob(p, s):
    import torch
    p = p.clamp(1e-6, 1 - 1e-6)
    return s * torch.log(p) + (1 - s) * torch.log1p(-p)


def _onnx_mode(b, p):
    half = b.const([0.5], b.types[0].dtype, ())
    return b.op("Cast", [b.op("Greater", [p, half])], to=b.onnx_dtype(b.types[0].dtype))


def _bernoulli_onnx(b, node, xs, ps):
    _refuse_random(node)
    clipped = b.op("Clip", [xs[0], b.const([0.0], b.types[0].dtype, ()),
                            b.const([1.0], b.types[0].dtype, ())])
    return _onnx_mode(b, clipped)


# ----------------------------------------------------------- gated transmission
def _transmit_infer(attrs, types):
    _mode(attrs)
    x, p = types
    float_input(x, "transmit")
    if tuple(p.shape) != tuple(x.shape[1:]) or p.dtype != x.dtype:
        raise ShapeError(f"transmit needs one probability per unit: {fmt(x.shape[1:])}, got "
                         f"{p} for input {x}")
    return [x]


def transmit_sample(x, p, race: bool, training: bool, always: bool):
    """A unit with input x in [0, 1] passes it on with probability x * p. In a race only one
    of the units that fire, chosen at random, passes the signal on (it silences the rest)."""
    import torch
    fired = bernoulli_sample(x * p.unsqueeze(0), training, always)
    if not race:
        return fired
    flat = fired.reshape(fired.shape[0], -1)
    if training or always:
        score = flat * (torch.rand(flat.shape, device=flat.device) + 1)
    else:  # evaluation: the most likely unit, if any would fire
        score = flat * (x * p.unsqueeze(0)).reshape(flat.shape)
    won = torch.nn.functional.one_hot(score.argmax(1), flat.shape[1]).to(flat.dtype)
    return (won * (flat.sum(1, keepdim=True) > 0)).reshape(fired.shape)


def _transmit_onnx(b, node, xs, ps):
    _refuse_random(node)
    if node.attrs["race"]:
        raise LoweringError("transmit(race=true) is not lowered to ONNX")
    q = b.op("Mul", [xs[0], b.op("Unsqueeze", [xs[1], b.const([0], "i64")])])
    return _onnx_mode(b, q)


def _transmit_torch(b, node, xs, ps):
    return b.call(transmit_sample, *xs, node.attrs["race"], b.training,
                  node.attrs["sample"] == "always")


def _transmit_log_prob(attrs, xs, s):
    if attrs["race"]:
        raise ValueError("transmit(race=true) has no log-probability for reinforce")
    return _bernoulli_log_prob(xs[0] * xs[1].unsqueeze(0), s)


# --------------------------------------------------------------------- categorical
def _categorical_infer(attrs, types):
    _mode(attrs)
    x = types[0]
    float_input(x, "categorical")
    if x.rank < 2:
        raise ShapeError(f"categorical expects logits [N, ..., classes], got {fmt(x.shape)}")
    return [TensorType("i64", tuple(x.shape[:-1]))]


def categorical_sample(logits, training: bool, always: bool):
    """A class index drawn from softmax(logits) over the last dim; at evaluation the argmax."""
    import torch
    if training or always:
        flat = torch.softmax(logits.detach().reshape(-1, logits.shape[-1]), -1)
        return torch.multinomial(flat, 1).reshape(logits.shape[:-1])
    return logits.argmax(-1)


def _categorical_log_prob(logits, s):
    import torch
    return torch.log_softmax(logits, -1).gather(-1, s.unsqueeze(-1)).squeeze(-1)


def _categorical_onnx(b, node, xs, ps):
    _refuse_random(node)
    return b.op("ArgMax", xs, axis=b.types[0].rank - 1, keepdims=0)


# -------------------------------------------------------------------------- normal
def _normal_infer(attrs, types):
    if not attrs["std"] > 0:
        raise ShapeError(f"normal needs std > 0, got {attrs['std']}")
    return _same_infer("normal")(attrs, types)


def normal_sample(mean, std: float, training: bool, always: bool):
    """mean + std * eps, eps ~ N(0, 1), with no gradient; at evaluation the mean."""
    import torch
    if training or always:
        return (mean.detach() + std * torch.randn_like(mean)).detach()
    return mean


def _normal_log_prob(attrs):
    def log_prob(mean, s):
        std = attrs["std"]
        return -((s - mean) ** 2) / (2 * std * std) - math.log(std) - 0.5 * math.log(2 * math.pi)
    return log_prob


def _normal_onnx(b, node, xs, ps):
    _refuse_random(node)
    return b.op("Identity", xs)


def _torch_call(fn, with_std=False):
    def lower(b, node, xs, ps):
        always = node.attrs["sample"] == "always"
        extra = (node.attrs["std"],) if with_std else ()
        return b.call(fn, *xs, *extra, b.training, always)
    return lower


register(
    OpDef(name="bernoulli", shape="same as p",
          example=Example(("f32[N, 6]",), "bernoulli(sigmoid(x0))"), params=no_params,
          macs=no_macs, tolerance=1e-5,
          doc="Stochastic binary units: 1 with probability p, else 0 (p clipped to [0, 1]); "
              "at evaluation 1 where p > 0.5. Records log p(s) for reinforce.",
          args=(Arg("p", "tensor"), SAMPLE), infer=_same_infer("bernoulli"),
          torch=_torch_call(bernoulli_sample), onnx=_bernoulli_onnx, traits=STOCHASTIC,
          log_prob=lambda attrs, xs, s: _bernoulli_log_prob(xs[0], s)),
    OpDef(name="transmit", shape="x [N, units], p [units] -> [N, units]",
          example=Example(("f32[N, 6]",), "transmit(sigmoid(x0), p)",
                          ("param p: f32[6] = uniform(0, 1)",)), params=no_params,
          macs=no_macs, tolerance=1e-5,
          doc="Stochastic transmission (the SNARC's units): a unit receiving x in [0, 1] fires "
              "with probability x * p, p its own transmission probability [units]; at "
              "evaluation where x * p > 0.5. p can learn by reward_modulated.",
          args=(Arg("x", "tensor"), Arg("p", "tensor"),
                Arg("race", "bool", False, "only one firing unit (at random) passes on"),
                SAMPLE), infer=_transmit_infer,
          torch=_transmit_torch, onnx=_transmit_onnx, traits=STOCHASTIC, synapses={"p": "gate"},
          log_prob=_transmit_log_prob),
    OpDef(name="categorical", shape="[N, ..., classes] -> i64 [N, ...]",
          example=Example(("f32[N, 3, 5]",), "categorical(x0)"), params=no_params,
          macs=no_macs, tolerance=1e-5,
          doc="A class index drawn from softmax(logits) over the last dim (an i64 tensor "
              "without that dim); the argmax at evaluation. Records log p(s) for reinforce.",
          args=(Arg("logits", "tensor"), SAMPLE), infer=_categorical_infer,
          torch=_torch_call(categorical_sample), onnx=_categorical_onnx, traits=STOCHASTIC,
          log_prob=lambda attrs, xs, s: _categorical_log_prob(xs[0], s)),
    OpDef(name="normal", shape="same as mean",
          example=Example(("f32[N, 4]",), "normal(x0, 0.5)"), params=no_params,
          macs=no_macs, tolerance=1e-5,
          doc="A normal sample mean + std * eps with a fixed std (Yeung et al.'s location "
              "policy: std 0.08); the mean at evaluation. Records log p(s) for reinforce. "
              "Called with a tensor; normal(std) alone is the initialiser.",
          args=(Arg("mean", "tensor"), Arg("std", "float"), SAMPLE), infer=_normal_infer,
          torch=_torch_call(normal_sample, with_std=True), onnx=_normal_onnx, traits=STOCHASTIC,
          log_prob=lambda attrs, xs, s: _normal_log_prob(attrs)(xs[0], s)),
)
