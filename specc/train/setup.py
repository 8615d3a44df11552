"""What a run is made of before its first step: processes, device, the data's fit to the
network, and the feed of batches."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..data.registry import InputSpec
from ..recipes.sources import FILE, Trust
from ..core.diagnostics import SpeccError
from .config import TrainConfig


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @classmethod
    def from_env(cls) -> "Dist":
        env = os.environ
        if "RANK" in env and "WORLD_SIZE" in env:
            return cls(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)),
                       int(env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])))
        return cls()

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(choice: str, dist: Dist) -> torch.device:
    if choice not in ("auto", "cpu", "cuda"):
        raise SpeccError(f"unknown device '{choice}' (use auto, cpu or cuda)")
    if choice == "cuda" and not torch.cuda.is_available():
        raise SpeccError("--device cuda: no CUDA device is available here")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", dist.local_rank)


def input_spec(net, cfg: TrainConfig, trust: Trust = FILE) -> InputSpec:
    """The input's per-sample shape, its symbolic sizes at the stated sizes (the recipe's
    `size`, --set H=...) and None where none is stated (the data's own size is kept)."""
    from ..compile.sizes import stated_sizes
    from ..ir.sym import Sym
    t = net.graph.values[net.graph.inputs[0]].type
    out = net.graph.values[next(iter(net.graph.outputs.values()))].type
    sizes = stated_sizes(net.graph)
    shape = tuple(d.evaluate(sizes) if isinstance(d, Sym) and d.names() <= set(sizes)
                  else None if isinstance(d, Sym) else d for d in t.shape[1:])
    channels = out.shape[1] if out.rank >= 3 and isinstance(out.shape[1], int) else None
    return InputSpec(shape, cfg.pixel_range, cfg.mean, cfg.std, tuple(cfg.augment),
                     out.shape[-1] if isinstance(out.shape[-1], int) else None, cfg.workers,
                     cfg.eval_transform, trust, out_channels=channels)


def check_fit(net, data, allow_fewer: bool = False) -> list[str]:
    """Refuse the pairings that cannot be meant: more classes than output units, or (unless
    asked for) fewer classes than a classifier's outputs, say the 2-class `tc` set on a
    10-way classifier. Returns the adaptation to name, if any."""
    name, value = next(iter(net.graph.outputs.items()))
    out = net.graph.values[value].type
    _check_dtype(net, data)
    if getattr(data, "dense", False):
        return _check_dense(net.name, name, out, data, allow_fewer)
    labels = getattr(data, "train_y", None)
    per_position = labels is not None and labels.dim() > 1  # a label per position: [N, T]
    if data.classes >= 1 and out.rank > 2 and out.batched and not per_position:
        raise SpeccError(f"network '{net.name}' output '{name}' is {out}: scores for every "
                         f"position, but data set '{data.name}' has one label per sample",
                         notes=("a classifier's output is [N, classes]: pool and flatten "
                                "before it",))
    width = out.shape[-1]
    if not isinstance(width, int) or data.classes < 1 or (width == 1 and data.classes == 2):
        return []  # a task with its own metric (no classes), or one unit for two classes
    return _check_classes(data, net.name, name, width, "units", allow_fewer)


def _check_classes(data, net: str, name: str, width: int, unit: str,
                   allow_fewer: bool) -> list[str]:
    """The data's classes against the output's `width` class scores (`unit`: what each
    score is, a unit or a channel); fewer only with --allow-fewer-classes, said in a note."""
    if data.classes > width:
        raise SpeccError(f"data set '{data.name}' has {data.classes} classes but network "
                         f"'{net}' output '{name}' has only {width} {unit}")
    if data.classes < width and not allow_fewer:
        raise SpeccError(f"data set '{data.name}' has {data.classes} classes but network "
                         f"'{net}' output '{name}' has {width} {unit}",
                         notes=(f"train only {data.classes} of the {width} outputs with "
                                f"--allow-fewer-classes, or give the network {data.classes} "
                                f"outputs (--set classes={data.classes} where it takes such a "
                                "parameter)",))
    scores = "outputs" if unit == "units" else unit
    return [f"classes {data.classes} used of {width} {scores}"] if data.classes < width else []


def _check_dense(net: str, name: str, out, data, allow_fewer: bool) -> list[str]:
    """A label per pixel: the output must be [N, classes, *the labels' sizes]."""
    per_sample = tuple(data.train_y.shape[1:])
    if out.rank != len(per_sample) + 2:
        raise SpeccError(f"data set '{data.name}' has a label per position {list(per_sample)}, "
                         f"but network '{net}' output '{name}' is {out}",
                         notes=("per-pixel classification needs an output [N, classes, H, W]",))
    return _check_classes(data, net, name, out.shape[1], "channels", allow_fewer)


def _check_dtype(net, data) -> None:
    """Integer indices (a language model's characters) feed an integer input, and only it."""
    samples = getattr(data, "train_x", None)
    given = "i64" if samples is not None and not samples.is_floating_point() else "f32"
    want = net.graph.values[net.graph.inputs[0]].type.dtype
    if (want == "i64") != (given == "i64"):
        kind = {"i64": "integer indices", "f32": "floating-point samples"}
        raise SpeccError(f"data set '{data.name}' gives {kind[given]}, but input "
                         f"'{net.graph.inputs[0]}' of network '{net.name}' is {want}")


def make_feed(data, cfg: TrainConfig, dist: Dist, workers: int, device: torch.device):
    from ..data.pipeline import MemoryFeed
    per_rank = cfg.batch_size // dist.world
    if getattr(data, "streaming", False):
        return data.feed(cfg.seed, dist.rank, dist.world, per_rank, workers,
                         pin=device.type == "cuda", device=device)
    return MemoryFeed(data, cfg.seed, dist.rank, dist.world, per_rank)
