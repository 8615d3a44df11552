"""The papers' augmentations, named in a recipe: one registry entry per augmentation.

    train {
        augment = [random_resized_crop(scale=[0.08, 1.0]), hflip, lighting(std=0.1)]
        eval = resize_crop(resize=256, crop=224)
    }

An entry holds its parameters (kind, default), the paper it comes from, and its
implementation twice over the same random draws: on a PIL image (image files, decoded per
sample in DataLoader workers) and on a [C, H, W] tensor (data sets held in memory). Every draw
comes from a `random.Random` seeded by (seed, epoch, sample), so a sample gets the same crop
however the work is split. `size`/`crop` default to the network's input size.

This module imports neither torch nor PIL at import time (`specc check` lists recipes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# ImageNet's RGB principal components (pixel values in [0, 1]): eigenvalues and eigenvectors
# (columns) as used by fb.resnet.torch for AlexNet's colour augmentation.
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))


@dataclass(frozen=True)
class Ctx:
    """What an implementation needs beyond its parameters."""

    size: tuple  # the network's input (height, width)
    unit: tuple = (1.0, 1.0, 1.0)  # one step of [0, 1] intensity, per channel, in pixel space
    fill: tuple = (0, 0, 0)  # padding colour for PIL images (the recipe's mean, else black)
    # the image file's own (width, height) when it was decoded at a reduced size (a JPEG
    # scaled by 1/2, 1/4 or 1/8 in the DCT domain): geometry is drawn on the full size and
    # scaled onto the pixels held
    source: tuple | None = None


@dataclass(frozen=True)
class Augmentation:
    name: str
    params: dict  # name -> (kind, default); kinds as recipe fields; "size": an int or input
    cite: str
    doc: str
    image: object = None  # (PIL image, params, rng, ctx) -> PIL image (geometry)
    tensor: object = None  # ([C, H, W] or [V, C, H, W] tensor, params, rng, ctx) -> tensor
    sets_size: bool = False  # its output has a fixed size (a crop), so no fitting is needed
    training: bool = True  # may appear in `augment`
    evaluation: bool = False  # may be the `eval` transform
    views: int = 1  # > 1: several views per sample, whose predictions are averaged
    check: object = None  # (params) -> error text or None
    # works on pixel values (after decoding), not on geometry, by adding one value per channel
    # to every pixel of an image (its effect on an all-zero image is that shift)
    pixels: bool = False
    # (full (w, h), params, rng, ctx) -> the smallest (w, h) the whole image may be decoded at
    # (a JPEG, scaled in the DCT domain: decode_size) so that this entry still makes its output from at
    # least as many pixels across each way as the output has (its draws are those `image`
    # makes, from a copy of the generator); None: full size only
    reduce: object = None


AUGMENTATIONS: dict[str, Augmentation] = {}


def register(entry: Augmentation) -> Augmentation:
    AUGMENTATIONS[entry.name] = entry
    return entry


def size_of(p: dict, key: str, ctx: Ctx) -> tuple:
    return (p[key], p[key]) if p.get(key) else ctx.size


def resize_of(p: dict, crop: tuple) -> int:
    """The shorter side before a centre crop: the recipe's, else 256/224 of the crop."""
    return int(p["resize"]) if p.get("resize") else round(max(crop) * 256 / 224)


# --------------------------------------------------------------------- geometry helpers
def resized_crop_box(w: int, h: int, scale, ratio, rng) -> tuple:
    """(left, top, width, height): a random area fraction in `scale` and aspect ratio in
    `ratio` (log-uniform), ten tries, else the whole image clamped to the ratio range."""
    area = w * h
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, w - cw), rng.randint(0, h - ch), cw, ch
    if w / h < ratio[0]:
        cw, ch = w, round(w / ratio[0])
    elif w / h > ratio[1]:
        cw, ch = round(h * ratio[1]), h
    else:
        cw, ch = w, h
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def shorter_to(w: int, h: int, side: int) -> tuple:
    """New (w, h) with the shorter side `side` (torchvision's Resize(int) rounding)."""
    if w <= h:
        return side, int(side * h / w)
    return int(side * w / h), side


def full_size(img, ctx: Ctx) -> tuple:
    """The image's size as drawn on: the file's own, even when it was decoded smaller."""
    return ctx.source or img.size


def on_pixels(img, ctx: Ctx, box: tuple) -> tuple:
    """A (left, top, right, bottom) box in full-size coordinates, in the pixels held."""
    if not ctx.source or tuple(ctx.source) == tuple(img.size):
        return box
    sx, sy = img.width / ctx.source[0], img.height / ctx.source[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


# DCT-domain scales (in eighths) a JPEG is decoded at: libjpeg-turbo also offers 3/8, 5/8, 6/8
# and 7/8, but their IDCTs have no SIMD code and decode slower than the full size (measured:
# 1.1-1.6 ms against 0.88 ms for a 500x375 JPEG; 1/2: 0.73 ms), so only halvings pay
SCALES = (1, 2, 4, 8)


def decode_size(full: tuple, box: tuple, out: tuple) -> tuple:
    """The (w, h) to decode an image of `full` (w, h) at: the smallest scale M/8 (M in
    SCALES) at which a region of `box` (w, h, in full-size pixels) still spans at least
    `out` (w, h) pixels each way, i.e. M/8 >= out/box; the full size when none is below 8/8
    (a region smaller than the output is read at full size). Sizes round up, as
    libjpeg-turbo's and Pillow's do."""
    need = max(-(-8 * o // max(1, b)) for b, o in zip(box, out))
    m = next((s for s in SCALES if s >= need), 8)
    return tuple(-(-f * m // 8) for f in full)


def _pil_resize(img, wh):
    from PIL import Image
    return img if img.size == tuple(wh) else img.resize(tuple(wh), Image.BILINEAR)


def _t_resize(x, hw):
    import torch.nn.functional as F
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    flat = x.reshape(-1, *x.shape[-3:])
    out = F.interpolate(flat, size=tuple(hw), mode="bilinear", align_corners=False,
                        antialias=True)
    return out.reshape(*x.shape[:-2], *hw)


def _pil_crop(img, left, top, w, h, fill):
    """A crop that may reach outside the image (filled with `fill`)."""
    if left >= 0 and top >= 0 and left + w <= img.width and top + h <= img.height:
        return img.crop((left, top, left + w, top + h))
    from PIL import Image
    out = Image.new(img.mode, (w, h), fill if img.mode in ("RGB", "RGBX") else fill[0])
    out.paste(img, (-left, -top))
    return out


def _t_crop(x, left, top, w, h):
    import torch.nn.functional as F
    H, W = x.shape[-2:]
    pads = (max(0, -left), max(0, left + w - W), max(0, -top), max(0, top + h - H))
    if any(pads):
        x = F.pad(x, pads)  # zero: black, or the mean colour once normalised
        left, top = left + pads[0], top + pads[2]
    return x[..., top:top + h, left:left + w]


# ------------------------------------------------------------------------------ entries
def _rrc_box(shape_wh, p, rng):
    return resized_crop_box(shape_wh[0], shape_wh[1], p["scale"], p["ratio"], rng)


def _rrc_check(p):
    lo, hi = p["scale"], p["ratio"]
    if len(lo) != 2 or not 0 < lo[0] <= lo[1] <= 1:
        return "scale must be [low, high] with 0 < low <= high <= 1"
    if len(hi) != 2 or not 0 < hi[0] <= hi[1]:
        return "ratio must be [low, high] with 0 < low <= high"
    return None


def _rrc_image(img, p, rng, ctx):
    from PIL import Image
    left, top, cw, ch = _rrc_box(full_size(img, ctx), p, rng)
    h, w = size_of(p, "size", ctx)
    return img.resize((w, h), Image.BILINEAR,
                      box=on_pixels(img, ctx, (left, top, left + cw, top + ch)))


def _rrc_reduce(wh, p, rng, ctx):
    _, _, cw, ch = _rrc_box(wh, p, rng)
    h, w = size_of(p, "size", ctx)
    return decode_size(wh, (cw, ch), (w, h))


def _rrc_tensor(x, p, rng, ctx):
    left, top, cw, ch = _rrc_box((x.shape[-1], x.shape[-2]), p, rng)
    return _t_resize(x[..., top:top + ch, left:left + cw], size_of(p, "size", ctx))


register(Augmentation(
    "random_resized_crop", {"size": ("size", None), "scale": ("numbers", [0.08, 1.0]),
                            "ratio": ("numbers", [3 / 4, 4 / 3])},
    "Szegedy et al. 2015 §6", "a patch of 8-100 % of the area, aspect ratio 3/4-4/3, resized "
    "to size x size (GoogLeNet)", _rrc_image, _rrc_tensor, sets_size=True, check=_rrc_check,
    reduce=_rrc_reduce))


def _jitter_image(img, p, rng, ctx):
    side = rng.randint(p["min"], p["max"])
    return _pil_resize(img, shorter_to(*full_size(img, ctx), side))


def _jitter_reduce(wh, p, rng, ctx):
    return decode_size(wh, wh, shorter_to(*wh, rng.randint(p["min"], p["max"])))


def _jitter_tensor(x, p, rng, ctx):
    side = rng.randint(p["min"], p["max"])
    w, h = shorter_to(x.shape[-1], x.shape[-2], side)
    return _t_resize(x, (h, w))


register(Augmentation(
    "scale_jitter", {"min": ("int", 256), "max": ("int", 512)},
    "Simonyan & Zisserman 2015 §3.1", "shorter side resized to a random S in [min, max], then "
    "random_crop (VGG: [256, 512]; ResNet, He et al. 2016 §3.4: [256, 480])",
    _jitter_image, _jitter_tensor, reduce=_jitter_reduce,
    check=lambda p: None if 1 <= p["min"] <= p["max"] else "needs 1 <= min <= max"))


def _crop_box(W, H, p, rng, ctx):
    """(left, top, w, h) in image coordinates; negative or past the edge means padding."""
    h, w = size_of(p, "size", ctx)
    pad = p["pad"]
    left = rng.randint(-pad, W + pad - w) if W + 2 * pad >= w else (W - w) // 2
    top = rng.randint(-pad, H + pad - h) if H + 2 * pad >= h else (H - h) // 2
    return left, top, w, h


def _crop_image(img, p, rng, ctx):
    return _pil_crop(img, *_crop_box(img.width, img.height, p, rng, ctx), ctx.fill)


def _crop_tensor(x, p, rng, ctx):
    return _t_crop(x, *_crop_box(x.shape[-1], x.shape[-2], p, rng, ctx))


register(Augmentation(
    "random_crop", {"size": ("size", None), "pad": ("int", 0)},
    "Krizhevsky et al. 2012 §4.1", "a random size x size window after padding `pad` pixels on "
    "every side (AlexNet: 224 of 256; CIFAR ResNets, He et al. 2016 §4.2: pad 4, crop 32)",
    _crop_image, _crop_tensor, sets_size=True))


def _flip_image(img, p, rng, ctx):
    from PIL import Image
    return img.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < p["p"] else img


def _flip_tensor(x, p, rng, ctx):
    return x.flip(-1) if rng.random() < p["p"] else x


register(Augmentation(
    "hflip", {"p": ("number", 0.5)}, "Krizhevsky et al. 2012 §4.1",
    "a horizontal mirror image with probability p", _flip_image, _flip_tensor,
    check=lambda p: None if p["p"] <= 1 else "p must be at most 1"))


def _lighting_tensor(x, p, rng, ctx):
    import torch
    if x.shape[-3] != 3:
        return x
    alpha = [rng.gauss(0.0, p["std"]) * ev for ev in PCA_EIGVAL]
    shift = [sum(PCA_EIGVEC[c][i] * alpha[i] for i in range(3)) * ctx.unit[c] for c in range(3)]
    return x + torch.tensor(shift, dtype=x.dtype).view(3, 1, 1)


register(Augmentation(
    "lighting", {"std": ("number", 0.1)}, "Krizhevsky et al. 2012 §4.1",
    "adds sum_i a_i l_i p_i to every RGB pixel, a_i ~ N(0, std) per image; ImageNet's "
    "principal components", None, _lighting_tensor, pixels=True))


def _resize_crop_image(img, p, rng, ctx):
    h, w = size_of(p, "crop", ctx)
    img = _pil_resize(img, shorter_to(*full_size(img, ctx), resize_of(p, (h, w))))
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return _pil_crop(img, left, top, w, h, ctx.fill)


def _resize_crop_reduce(wh, p, rng, ctx):
    side = resize_of(p, size_of(p, "crop", ctx))
    return decode_size(wh, wh, shorter_to(*wh, side))


def _resize_crop_tensor(x, p, rng, ctx):
    h, w = size_of(p, "crop", ctx)
    nw, nh = shorter_to(x.shape[-1], x.shape[-2], resize_of(p, (h, w)))
    x = _t_resize(x, (nh, nw))
    return _t_crop(x, (nw - w) // 2, (nh - h) // 2, w, h)


register(Augmentation(
    "resize_crop", {"resize": ("size", None), "crop": ("size", None)},
    "Krizhevsky et al. 2012 §2", "shorter side resized to `resize` (default 256/224 of crop), "
    "then the centre crop x crop (torchvision's evaluation: 256, 224)",
    _resize_crop_image, _resize_crop_tensor, sets_size=True, evaluation=True,
    reduce=_resize_crop_reduce))


def _ten_boxes(W, H, w, h):
    return [(0, 0), (W - w, 0), (0, H - h), (W - w, H - h), ((W - w) // 2, (H - h) // 2)]


def _ten_image(img, p, rng, ctx):
    """Ten PIL images: four corners and the centre, then their mirror images."""
    from PIL import Image
    h, w = size_of(p, "crop", ctx)
    img = _pil_resize(img, shorter_to(*full_size(img, ctx), resize_of(p, (h, w))))
    crops = [_pil_crop(img, left, top, w, h, ctx.fill)
             for left, top in _ten_boxes(img.width, img.height, w, h)]
    return crops + [c.transpose(Image.FLIP_LEFT_RIGHT) for c in crops]


def _ten_tensor(x, p, rng, ctx):
    import torch
    h, w = size_of(p, "crop", ctx)
    nw, nh = shorter_to(x.shape[-1], x.shape[-2], resize_of(p, (h, w)))
    x = _t_resize(x, (nh, nw))
    crops = [_t_crop(x, left, top, w, h) for left, top in _ten_boxes(nw, nh, w, h)]
    return torch.stack(crops + [c.flip(-1) for c in crops])


register(Augmentation(
    "ten_crop", {"resize": ("size", None), "crop": ("size", None)},
    "Krizhevsky et al. 2012 §4.1", "four corner crops and the centre crop, and their mirror "
    "images; softmax averaged (also He et al. 2016's 10-crop testing)",
    _ten_image, _ten_tensor, sets_size=True, training=False, evaluation=True, views=10,
    reduce=_resize_crop_reduce))


# --------------------------------------------------------------------------- describing
def describe(record: dict) -> str:
    """`name(k=v, ...)` of a resolved record with every value it holds, defaults too, so that
    `specc check` states the paper's numbers (sizes left to the network's input are not shown;
    an entry with nothing else is just its name)."""
    fields = {k: v for k, v in record.items() if k != "name" and v is not None}
    if not fields:
        return record["name"]
    return record["name"] + "(" + ", ".join(f"{k}={_show(v)}" for k, v in fields.items()) + ")"


def _show(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v).lower() if isinstance(v, bool) else str(v)
