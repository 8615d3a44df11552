"""A recipe's augmentations as per-sample transforms: image file -> network input.

For image files: decode (in a DataLoader worker), convert channels, geometry on the PIL image,
to a float tensor, pixel-value augmentations, normalise. For sets held in memory (already
fitted and normalised): the same entries on tensors, with `lighting` scaled into the
normalised space.
"""
from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import torch

from ..core.diagnostics import SpeccError
from ..recipes.augment import AUGMENTATIONS, Ctx, describe


def default_eval() -> list[dict]:
    """Resize the shorter side to 256/224 of the input, then the centre crop."""
    return [{"name": "resize_crop", "resize": None, "crop": None}]


class SampleTransform:
    """One sample through a chain of augmentation records, seeded per (epoch, sample)."""

    def __init__(self, records: list[dict], want, files: bool):
        shape = tuple(want.shape)
        if len(shape) != 3:
            raise SpeccError(f"image data needs an input [N, C, H, W]; the network's is "
                             f"{['N', *shape]}")
        self.channels, self.size = shape[0], shape[1:]
        self.records = list(records)
        if self.channels != 3 and any(r["name"] == "lighting" for r in self.records):
            raise SpeccError(f"'lighting' needs RGB input; the network's has {self.channels} "
                             "channel(s)")
        if files and not any(AUGMENTATIONS[r["name"]].sets_size for r in self.records):
            self.records = default_eval() + self.records  # image files come in any size
        self.entries = [AUGMENTATIONS[r["name"]] for r in self.records]
        self.scale, self.offset = _affine(want, self.channels)
        mean = want.mean or [0.0] * self.channels
        fill = tuple(int(round(255 * m)) for m in mean) if want.mean else (0,) * 3
        self.file_ctx = Ctx(self.size, (1.0,) * self.channels, (fill * 3)[:3])
        self.memory_ctx = Ctx(self.size, tuple(self.scale.view(-1).tolist()))

    @property
    def views(self) -> int:
        return max([e.views for e in self.entries] + [1])

    def describe(self) -> str:
        return ", ".join(describe(r) for r in self.records) or "none"

    # ------------------------------------------------------------------ files
    def image(self, img, seed: int, source: tuple | None = None) -> torch.Tensor:
        """A decoded PIL image -> [C, H, W] (or [V, C, H, W]) float tensor, normalised.
        `source`: the file's own (width, height) when it was decoded smaller (draft)."""
        x, shift = self.raw(img, seed, source)
        return self.finish(x[None], shift[None])[0]

    def reduction(self, size: tuple, seed: int) -> tuple | None:
        """The smallest (width, height) an image file of this (width, height) may be decoded
        at for this sample (a JPEG, scaled in the DCT domain): its first entry's draws, made
        on a copy of the generator, say how many pixels its output is made from. None (full
        size) when the first entry cannot say."""
        entry = self.entries[0] if self.entries else None
        if entry is None or entry.pixels or entry.reduce is None:
            return None
        return entry.reduce(tuple(size), self.records[0], random.Random(seed), self.file_ctx)

    def raw(self, img, seed: int, source: tuple | None = None):
        """The geometry, on the worker: (uint8 [C, H, W] or [V, C, H, W] at the output size,
        float [C] shift that the pixel entries add, in [0, 1] units). `finish` makes the
        network's input from a batch of them (on the device that runs the network)."""
        rng = random.Random(seed)
        mode = "RGB" if self.channels == 3 else "L"
        if img.mode != mode and (mode, img.mode) != ("RGB", "RGBX"):  # RGBX: RGB, padded
            img = img.convert(mode)
        shift = torch.zeros(self.channels, 1, 1)
        first = True
        for entry, record in zip(self.entries, self.records):
            if entry.pixels:  # additive per channel: its effect on a zero image is the shift
                shift = shift + entry.tensor(torch.zeros(self.channels, 1, 1), record, rng,
                                             self.file_ctx)
                continue
            ctx = self.file_ctx
            if first and source is not None and tuple(source) != tuple(img.size):
                ctx = replace(ctx, source=tuple(source))
            img = entry.image(img, record, rng, ctx)
            first = False
        return self._to_uint8(img), shift.view(-1)

    def finish(self, x: torch.Tensor, shift: torch.Tensor, device=None) -> torch.Tensor:
        """uint8 [N, (V,) C, H, W] and [N, C] shifts -> the network's input, normalised, on
        `device` (the uint8 batch is what crosses to it: a quarter of the bytes). On the CPU,
        a few samples at a time, in place: the passes stay in cache (the same float32
        operations in the same order as x / 255 + shift, then * scale + offset)."""
        if device is not None:
            x = x.to(device, non_blocking=True)
            shift = shift.to(device, non_blocking=True)
        if tuple(x.shape[-2:]) != tuple(self.size):  # not a fixed-size crop: fit the batch
            return self._fit(self._unit(x.float(), shift)) * self.scale.to(x.device) \
                + self.offset.to(x.device)
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        scale, offset = self.scale.to(x.device), self.offset.to(x.device)
        step = FINISH_CHUNK if x.device.type == "cpu" else max(1, len(x))
        for s in range(0, len(x), step):
            part = out[s:s + step]
            part.copy_(x[s:s + step])
            self._unit(part, shift[s:s + step]).mul_(scale).add_(offset)
        return out

    def _unit(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """float pixel values (in place) -> [0, 1] units, plus the pixel entries' shifts."""
        x.div_(255.0)
        if shift.any():
            x.add_(shift.view((len(shift),) + (1,) * (x.dim() - 4) + (self.channels, 1, 1)))
        return x

    def _to_uint8(self, img) -> torch.Tensor:
        if isinstance(img, list):  # several views
            return torch.stack([self._to_uint8(i) for i in img])
        a = torch.from_numpy(np.array(img))  # a writable copy, as torchvision takes
        if a.dim() == 2:
            return a.unsqueeze(0)
        return a[..., :3].permute(2, 0, 1).contiguous()  # RGB (or RGBX: its X dropped)

    def _fit(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(self.size):
            return x
        import torch.nn.functional as F
        flat = x.reshape(-1, *x.shape[-3:])
        out = F.interpolate(flat, size=tuple(self.size), mode="bilinear", align_corners=False,
                            antialias=True)
        return out.reshape(*x.shape[:-2], *self.size)

    # ----------------------------------------------------------------- memory
    def tensor(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        """An in-memory sample (fitted and normalised) -> the same, augmented."""
        rng = random.Random(seed)
        for entry, record in zip(self.entries, self.records):
            x = entry.tensor(x, record, rng, self.memory_ctx)
        return self._fit(x)

    def batch(self, x: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        return torch.stack([self.tensor(xi, s) for xi, s in zip(x, seeds)])


FINISH_CHUNK = 4  # samples normalised at a time on the CPU (4 x 3 x 224 x 224 floats: 2.4 MB)


def _affine(want, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x in [0, 1] -> x * scale + offset: the recipe's pixel_range, then (x - mean) / std."""
    lo, hi = want.pixel_range or (0.0, 1.0)
    mean = torch.tensor(want.mean or [0.0] * channels, dtype=torch.float32)
    std = torch.tensor(want.std or [1.0] * len(mean), dtype=torch.float32)
    if len(mean) != channels:
        raise SpeccError(f"the recipe's mean has {len(mean)} values for {channels} channels")
    return ((hi - lo) / std).view(-1, 1, 1), ((lo - mean) / std).view(-1, 1, 1)
