"""Image files read and decoded (through the file gate, within Pillow's decompression-bomb
limit), and images shaped for a network's input: resize, channels, framing, normalisation."""
from __future__ import annotations

import io
import os
import warnings

import torch
import torch.nn.functional as F

from ..core.diagnostics import SpeccError
from ..core.files import read_regular
from ..core.source import printable

MAX_IMAGE_BYTES = 2 ** 28  # one image file (256 MiB): a larger one is not a photograph


class BadImage(Exception):
    """An image file that cannot be used: the reason, in one line (never the file's bytes)."""


def read_image(path, what: str = "image"):
    """Open and fully decode one image file (truncated files fail here, not later): only a
    regular file, at most MAX_IMAGE_BYTES, within Pillow's pixel limit. Raises BadImage."""
    return open_image(path, what=what)[0]


def open_image(source, reduction=None, what: str = "image"):
    """(image, its full (width, height)) from a path (read through the file gate) or a file
    object's bytes. A JPEG is decoded scaled in the DCT domain (libjpeg-turbo) to the smallest
    size at or above `reduction(full size)` -> (width, height), when given. Raises
    BadImage."""
    if isinstance(source, (str, os.PathLike)):
        try:
            source = read_regular(source, what, limit=MAX_IMAGE_BYTES)
        except SpeccError as e:
            raise BadImage(e.message) from None
    elif not isinstance(source, (bytes, bytearray, memoryview)):
        source = source.read(MAX_IMAGE_BYTES + 1)
        if len(source) > MAX_IMAGE_BYTES:
            raise BadImage(f"over {MAX_IMAGE_BYTES:,} bytes")
    return _decode(bytes(source), reduction)


def decode_image(data: bytes):
    """A fully decoded PIL image from a file's bytes; raises BadImage."""
    return _decode(data, None)[0]


def _decode(data: bytes, reduction):
    if data[:3] == b"\xff\xd8\xff":
        done = _decode_jpeg(data, reduction)
        if done is not None:
            return done
    from PIL import Image
    try:
        with warnings.catch_warnings():  # beyond Pillow's pixel limit: refused, not warned
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            full = img.size
            want = reduction(full) if reduction is not None and img.format == "JPEG" else None
            if want is not None and want[0] < full[0] and want[1] < full[1]:
                img.draft(img.mode, tuple(want))  # 1/2, 1/4 or 1/8, at least `want`
            img.load()
        return img, full
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise BadImage(_bomb()) from None
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise many kinds on bad bytes
        text = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise BadImage(printable(text)) from None


def _decode_jpeg(data: bytes, reduction):
    """A YCbCr or grey JPEG through libjpeg-turbo (simplejpeg), straight into the image's
    memory, scaled in the DCT domain to the smallest size libjpeg-turbo offers at or above
    `reduction`'s (decode_size asks only for 1/2, 1/4, 1/8: the scales with SIMD code). At
    full scale and at those the pixels are Pillow's own (the same library, the same default
    IDCT and upsampling: tests pin it), at a quarter less time (no Pillow image to convert).
    None: left to Pillow (CMYK, Adobe RGB, or anything libjpeg-turbo warns about, which
    Pillow may still read or refuses with its own reason)."""
    import simplejpeg
    from PIL import Image
    try:
        h, w, space, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    if space not in ("YCbCr", "Gray"):
        return None
    if Image.MAX_IMAGE_PIXELS is not None and w * h > Image.MAX_IMAGE_PIXELS:
        raise BadImage(_bomb())
    want = reduction((w, h)) if reduction is not None else None
    mw, mh = want if want is not None else (w, h)
    try:
        a = simplejpeg.decode_jpeg(data, "GRAY" if space == "Gray" else "RGBX",
                                   min_width=mw, min_height=mh)
    except ValueError:
        return None
    # RGBX is Pillow's own layout for RGB (4 bytes a pixel): the array becomes the image's
    # memory, no copy; geometry works on it as on RGB, and SampleTransform drops the X
    mode = "L" if space == "Gray" else "RGBX"
    return Image.frombuffer(mode, (a.shape[1], a.shape[0]), a, "raw", mode, 0, 1), (w, h)


def _bomb() -> str:
    from PIL import Image
    return (f"more pixels than Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS:,})")


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
