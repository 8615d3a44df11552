"""The data-set registry: `name` or `name:PATH` -> tensors shaped for a network's input."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from ..core.defaults import MAX_DATA_BYTES, MAX_SAMPLES
from ..core.diagnostics import SpeccError
from ..core.source import printable
from ..recipes.sources import FILE, Trust, source_problem


@dataclass
class Dataset:
    """Train and test splits, already shaped and normalised for the network."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: int
    labels: list[str] = field(default_factory=list)
    augment: object = None  # a SampleTransform for training batches (specc.data.transforms)
    # keyword-only (subclasses such as TaskData keep their positional fields after `augment`)
    adaptations: list[str] = field(default_factory=list, kw_only=True)  # changes made to fit
    eval_transform: object = field(default=None, kw_only=True)  # test batches' SampleTransform
    dense: bool = field(default=False, kw_only=True)  # a label per pixel: y is [n, H, W]
    # a dense label that counts nowhere (torchvision's VOC marks object borders 255), if any
    ignore_index: int | None = field(default=None, kw_only=True)
    streaming = False  # held in memory; see specc.data.stream for sets read from disk per sample

    @property
    def train_size(self) -> int:
        return len(self.train_y)

    @property
    def test_size(self) -> int:
        return len(self.test_y)


@dataclass
class InputSpec:
    """What the network wants: its input's per-sample shape and preprocessing."""

    shape: tuple  # per sample, e.g. (1, 32, 32) or (64,)
    pixel_range: list | None = None
    mean: list | None = None
    std: list | None = None
    augment: tuple = ()
    classes: int | None = None  # the network's output width
    workers: int | None = None  # DataLoader worker processes for image files
    eval_transform: tuple = ()  # the recipe's evaluation transform (one record), if any
    trust: Trust = FILE  # where the source named came from (specc.recipes.sources)
    out_channels: int | None = None  # the output's dim 1 where it is [N, C, ...]: per-pixel classes


SOURCES: dict = {}  # name -> load(arg, want): the readers (this package) and the
# demonstrations' task environments (specc.tasks) register themselves when imported
NAMES: dict = {}  # name -> names(arg, classes): a set's class names (or vocabulary) without
# loading it, where they are known from the package alone


def register(name: str, load, names=None) -> None:
    """`names(arg, classes) -> list[str] | None`: the class names the set gives a network of
    `classes` outputs, read from nothing but the package (a path in `arg` is not opened:
    `specc run` asks this of a stranger's model)."""
    if name in SOURCES:
        raise RuntimeError(f"data set {name!r} registered twice")
    SOURCES[name] = load
    if names is not None:
        NAMES[name] = names


def class_names(spec, classes: int) -> list[str]:
    """The class names (a character set's characters) data set `spec` gives an output of
    `classes` scores, when known without reading anything but the package; else []."""
    if not isinstance(spec, str):
        return []
    name, _, arg = spec.partition(":")
    found = NAMES[name](arg, classes) if name in NAMES else None
    return list(found) if found and len(found) <= classes else []


def dataset_names() -> tuple[str, ...]:
    return tuple(SOURCES)


def load_dataset(spec: str, want: InputSpec) -> Dataset:
    """The data set `spec` names, shaped for `want`. What a source may name depends on where
    it came from (`want.trust`): checked here, before any reader opens anything."""
    problem = source_problem(spec, want.trust)
    if problem:
        raise SpeccError(f"data source {printable(repr(spec[:200]))}: {problem}")
    name, _, arg = spec.partition(":")
    if name not in SOURCES:
        from ..core.suggest import did_you_mean
        names = dataset_names()
        raise SpeccError(f"unknown data set '{spec}'{did_you_mean(name, names)}",
                         notes=(f"data sets: {', '.join(names)} (mnist, cifar10, "
                                "imagefolder and webdataset take a path: mnist:PATH)",))
    if arg.startswith("~"):  # `--data imagefolder:~/x`: a shell leaves a ~ after a colon as is
        arg = os.path.expanduser(arg)
    return SOURCES[name](arg, want)


def test_batches(data, batch: int, workers: int = 0):
    """The whole test split in batches (x, y) as tensors, whichever kind the data set is:
    `specc run --data` and evaluation share it."""
    if getattr(data, "streaming", False):
        feed = data.feed(0, 0, 1, batch, workers, False)
        return feed.test(batch=batch)
    from .pipeline import MemoryFeed
    return MemoryFeed(data, 0, 0, 1, batch).test(batch=batch)


def in_memory(name: str, samples: int, per_sample: int) -> None:
    """Refuse, before allocating, a set larger than specc holds in memory: `samples` of
    `per_sample` float32 values each."""
    if samples * per_sample * 4 > MAX_DATA_BYTES:
        raise SpeccError(f"data set '{name}': {samples:,} samples of {per_sample:,} values "
                         f"would take {samples * per_sample * 4:,} bytes, more than an "
                         f"in-memory set may ({MAX_DATA_BYTES:,})")


def count_arg(name: str, arg: str, default: int, what: str = "samples") -> int:
    """The count in `NAME:COUNT` (ASCII digits, at most MAX_SAMPLES), or `default`."""
    if not arg:
        return default
    if not (arg.isascii() and arg.isdigit()) or len(arg) > 18 or int(arg) < 1:
        raise SpeccError(f"data set '{name}:{printable(arg[:40])}': give the number of {what} "
                         f"as a positive integer, e.g. {name}:{default}")
    if int(arg) > MAX_SAMPLES:
        raise SpeccError(f"data set '{name}:{arg}': {int(arg):,} {what}, more than an "
                         f"in-memory set may hold ({MAX_SAMPLES:,})")
    return int(arg)
