"""Generated shapes for segmentation: images of random squares, discs and triangles on a noisy
background, each pixel labelled with the kind of shape that covers it (0: background)."""
from __future__ import annotations

import torch

from ..core.diagnostics import SpeccError
from .images import normalise
from .registry import Dataset, count_arg, in_memory, register

KINDS = ("square", "disc", "triangle")
DEFAULT_SIDE = 64  # where the network leaves its size open and no size is stated
MAX_SHAPES = 3  # per image


def _masks(kind: int, rows: torch.Tensor, cols: torch.Tensor, centre, radius) -> torch.Tensor:
    """Where a shape of `kind` covers a grid: a square of half-side `radius`, a disc of that
    radius, or an upward triangle inside that square."""
    dy, dx = rows - centre[0], cols - centre[1]
    if kind == 0:
        return (dy.abs() <= radius) & (dx.abs() <= radius)
    if kind == 1:
        return dy * dy + dx * dx <= radius * radius
    # apex at the top, base at the bottom: |dx| grows with the depth below the apex
    return (dy.abs() <= radius) & (2 * dx.abs() <= dy + radius)


def draw(n: int, channels: int, height: int, width: int, classes: int,
         seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images [n, channels, height, width] in [0, 1] and their masks [n, height, width]:
    1-3 shapes each, a random colour per shape, labels 1 + kind (with 2 classes, every shape
    is 1; with 3, squares and discs only)."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.arange(height, dtype=torch.float32).view(-1, 1)
    cols = torch.arange(width, dtype=torch.float32).view(1, -1)
    x = 0.1 * torch.rand((n, channels, height, width), generator=g)
    y = torch.zeros((n, height, width), dtype=torch.long)
    kinds = len(KINDS) if classes > len(KINDS) else max(1, classes - 1)
    side = min(height, width)
    for i in range(n):
        count = int(torch.randint(1, MAX_SHAPES + 1, (1,), generator=g))
        for _ in range(count):
            kind = int(torch.randint(0, kinds, (1,), generator=g))
            radius = float(side * (0.1 + 0.15 * torch.rand(1, generator=g)))
            centre = (float(torch.rand(1, generator=g)) * height,
                      float(torch.rand(1, generator=g)) * width)
            mask = _masks(kind, rows, cols, centre, radius)
            colour = 0.4 + 0.6 * torch.rand((channels, 1, 1), generator=g)
            x[i] = torch.where(mask, colour, x[i])
            y[i][mask] = 1 + kind if classes > 2 else 1
    return x, y


def load_shapes(arg: str, want) -> Dataset:
    """`shapes` (512 training images, 128 test) or `shapes:COUNT`, at the network's input
    size (or its stated size; 64x64 where it has neither), with as many classes as the
    network's output has channels, up to background and the three kinds."""
    n = count_arg("shapes", arg, 512)
    shape = tuple(want.shape)
    if len(shape) != 3:
        raise SpeccError(f"data set 'shapes' needs an image input [N, C, H, W], the network's "
                         f"is {['N', *(d if d is not None else '?' for d in shape)]}")
    channels, height, width = (d if d is not None else DEFAULT_SIDE for d in shape)
    classes = min(len(KINDS) + 1, want.out_channels or len(KINDS) + 1)
    if classes < 2:
        raise SpeccError("data set 'shapes' needs an output of 2 or more channels per pixel "
                         "(background and shapes)")
    test = max(1, n // 4)
    in_memory("shapes", n + test, channels * height * width)
    x, y = draw(n + test, channels, height, width, classes, seed=0)
    x = normalise(x, want)
    return Dataset(f"shapes:{n}" if arg else "shapes", x[:n], y[:n], x[n:], y[n:], classes,
                   shape_names(classes), dense=True)


def shape_names(classes: int) -> list[str]:
    """Each label's name for `classes` labels (2: background and any shape)."""
    classes = min(classes, len(KINDS) + 1)
    return ["background", *KINDS][:classes] if classes > 2 else ["background", "shape"]


register("shapes", load_shapes, names=lambda arg, classes: shape_names(classes))
