"""Shaping images for a network's input: resize, channels, framing, pixel normalisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..diagnostics import SpeccError


def fit_images(x: torch.Tensor, want, source: str, frame: bool = False) -> torch.Tensor:
    """x: [N, C, H, W] in [0, 1] -> the network's per-sample shape, normalised.
    `frame`: centre handwriting in a border (LeCun's 28x28 digits in a 32x32 field)."""
    shape = tuple(want.shape)
    if len(shape) == 1:
        flat = x.flatten(1)
        if flat.shape[1] != shape[0]:
            raise SpeccError(f"data set '{source}' gives {flat.shape[1]} features per sample "
                             f"but the network's input takes {shape[0]}")
        return normalise(flat, want)
    if len(shape) == 2:  # a sequence of rows: one-channel images, row by row
        return fit_images(x, type(want)(**{**want.__dict__, "shape": (1, *shape)}), source,
                          frame).squeeze(1)
    if len(shape) != 3:
        raise SpeccError(f"data set '{source}' gives images; the network's input has per-sample "
                         f"shape {list(shape)}")
    c, h, w = shape
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = x.expand(-1, c, -1, -1)
        elif c == 1:
            x = x.mean(1, keepdim=True)
        else:
            raise SpeccError(f"data set '{source}' has {x.shape[1]} channels, the network {c}")
    if frame and (h, w) != tuple(x.shape[2:]):
        ih, iw = max(1, round(h * 0.875)), max(1, round(w * 0.875))
        x = resize(x, ih, iw)
        top, left = (h - ih) // 2, (w - iw) // 2
        x = F.pad(x, (left, w - iw - left, top, h - ih - top))
    elif x.shape[2:] != (h, w):
        x = resize(x, h, w)
    return normalise(x.contiguous(), want)


def resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if x.shape[2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def normalise(x: torch.Tensor, want) -> torch.Tensor:
    if want.pixel_range:
        lo, hi = want.pixel_range
        x = x * (hi - lo) + lo
    if want.mean:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(want.mean, dtype=x.dtype).view(shape)
        std = torch.tensor(want.std or [1.0] * len(want.mean), dtype=x.dtype).view(shape)
        if mean.numel() != x.shape[1]:
            raise SpeccError(f"the recipe's mean has {mean.numel()} values for {x.shape[1]} channels")
        x = (x - mean) / std
    return x.float()


def augmenter(kinds, pad: int = 4):
    """Random shifts (pad + crop) and horizontal flips on a batch, from a seeded generator."""
    kinds = set(kinds)
    if not kinds & {"crop", "flip", "shift"}:
        return None

    def apply(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if x.dim() != 4:
            return x
        if kinds & {"crop", "shift"}:
            n, _, h, w = x.shape
            padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
            dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
            dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
            x = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
        if "flip" in kinds:
            flip = torch.rand(x.shape[0], generator=gen) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x
    return apply
