"""Shaping images for a network's input: resize, channels, framing, pixel normalisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.diagnostics import SpeccError


def fit_images(x: torch.Tensor, want, source: str, frame: bool = False,
               notes: list | None = None) -> torch.Tensor:
    """x: [N, C, H, W] in [0, 1] -> the network's per-sample shape, normalised.
    `frame`: centre handwriting in a border (LeCun's 28x28 digits in a 32x32 field).
    Every change made to fit is described in `notes` (printed by `specc train`). A dim of
    `want.shape` that is None (a symbolic size no recipe or --set states) is the data's own."""
    notes = [] if notes is None else notes
    shape = tuple(want.shape)
    if len(shape) == 1:
        flat = x.flatten(1)
        if shape[0] is not None and flat.shape[1] != shape[0]:
            raise SpeccError(f"data set '{source}' gives {flat.shape[1]} features per sample "
                             f"but the network's input takes {shape[0]}")
        if x.dim() > 2:
            notes.append(f"images {_dims(x.shape[1:])} flattened to {shape[0]} features")
        return normalise(flat, want)
    if len(shape) == 2:  # a sequence of rows: one-channel images, row by row
        out = fit_images(x, type(want)(**{**want.__dict__, "shape": (1, *shape)}), source,
                         frame, notes).squeeze(1)
        notes.append(f"read as a sequence of {out.shape[1]} rows of {out.shape[2]}")
        return out
    if len(shape) != 3:
        raise SpeccError(f"data set '{source}' gives images; the network's input has per-sample "
                         f"shape {list(shape)}")
    c, h, w = shape
    h, w = x.shape[2] if h is None else h, x.shape[3] if w is None else w
    if c is None:
        raise SpeccError(f"data set '{source}' gives images; the network's channels are "
                         "symbolic")
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = x.expand(-1, c, -1, -1)
            notes.append(f"channels 1->{c} (copied)")
        elif c == 1:
            notes.append(f"channels {x.shape[1]}->1 (grey: mean of the channels)")
            x = x.mean(1, keepdim=True)
        else:
            raise SpeccError(f"data set '{source}' has {x.shape[1]} channels, the network {c}")
    if frame and (h, w) != tuple(x.shape[2:]):
        ih, iw = max(1, round(h * 0.875)), max(1, round(w * 0.875))
        notes.append(f"resized {_dims(x.shape[2:])}->{ih}x{iw} in a {h}x{w} frame")
        x = resize(x, ih, iw)
        top, left = (h - ih) // 2, (w - iw) // 2
        x = F.pad(x, (left, w - iw - left, top, h - ih - top))
    elif x.shape[2:] != (h, w):
        notes.append(f"resized {_dims(x.shape[2:])}->{h}x{w}")
        x = resize(x, h, w)
    return normalise(x.contiguous(), want)


def _dims(shape) -> str:
    return "x".join(str(d) for d in shape)


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


def memory_augment(want):
    """The recipe's augmentations on in-memory samples (None when there are none)."""
    if not want.augment:
        return None
    from .transforms import SampleTransform
    return SampleTransform(list(want.augment), want, files=False)


def memory_eval(want):
    """The recipe's evaluation transform on in-memory test samples (None when unset)."""
    if not want.eval_transform:
        return None
    from .transforms import SampleTransform
    return SampleTransform(list(want.eval_transform), want, files=False)
