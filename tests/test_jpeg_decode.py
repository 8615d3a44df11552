"""JPEG decoding for image folders and shards: libjpeg-turbo through simplejpeg, bit for bit
Pillow's pixels at full scale and at Pillow's draft scales, scaled (1/2, 1/4, 1/8) only where
the sample's crop still spans at least the output's pixels, and Pillow for what simplejpeg
does not take."""
import io
import random

import numpy as np
import pytest
import torch
from PIL import Image

from specc.data.images import BadImage, decode_image, open_image
from specc.data.registry import InputSpec
from specc.data.transforms import SampleTransform
from specc.recipes.augment import AUGMENTATIONS, decode_size, resized_crop_box


def photo(w=200, h=150, seed=0) -> np.ndarray:
    """Gradients plus noise: compresses like a photograph."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([(x * 0.9 + y * 0.3) % 256, (x * 0.2 + y * 1.1) % 256, (x + y) % 256], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def encode(a, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", **kw)
    return buf.getvalue()


def pillow(data: bytes, mode="RGB") -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert(mode))


def record(name, **kw):
    return {"name": name, **{k: d for k, (_, d) in AUGMENTATIONS[name].params.items()}, **kw}


@pytest.mark.parametrize("kw", [dict(quality=85), dict(quality=95, subsampling=0),
                                dict(quality=75, subsampling=1), dict(progressive=True),
                                dict(optimize=True, quality=90)])
def test_a_decode_is_pillows_bit_for_bit_at_full_size_and_at_its_draft_scales(kw):
    for w, h in ((200, 150), (151, 97)):  # odd sizes: partial blocks on both edges
        data = encode(photo(w, h), **kw)
        img = decode_image(data)
        assert img.mode == "RGBX" and img.size == (w, h)  # simplejpeg's path, not Pillow's
        assert np.array_equal(np.asarray(img.convert("RGB")), pillow(data))
        for k in (2, 4, 8):
            img, full = open_image(io.BytesIO(data), lambda s: decode_size(s, s, (1, 1)) if k == 8
                                   else (w // k, h // k))
            drafted = Image.open(io.BytesIO(data))
            drafted.draft("RGB", (w // k, h // k))
            assert full == (w, h) and img.size == drafted.size == (-(-w // k), -(-h // k))
            assert np.array_equal(np.asarray(img.convert("RGB")),
                                  np.asarray(drafted.convert("RGB")))


def test_grey_and_cmyk_jpegs_give_pillows_pixels():
    grey = encode(photo()[..., 0])
    assert decode_image(grey).mode == "L"
    assert np.array_equal(np.asarray(decode_image(grey)), pillow(grey, "L"))
    cmyk_buf = io.BytesIO()
    Image.fromarray(photo()).convert("CMYK").save(cmyk_buf, "JPEG")
    cmyk = cmyk_buf.getvalue()
    img = decode_image(cmyk)  # left to Pillow (simplejpeg would convert it its own way)
    assert img.mode == "CMYK"
    assert np.array_equal(np.asarray(img.convert("RGB")), pillow(cmyk))


def test_broken_and_oversized_jpegs_are_refused_with_a_reason(monkeypatch):
    data = encode(photo())
    with pytest.raises(BadImage, match="truncated"):  # Pillow's reason, after simplejpeg's no
        decode_image(data[: len(data) // 2])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(BadImage, match="decompression-bomb limit"):
        open_image(io.BytesIO(data), lambda size: (1, 1))


def test_a_scaled_decode_keeps_at_least_the_outputs_pixels_across_the_crop():
    """random_resized_crop at 48x48 on 200x150 JPEGs: the decode is scaled by 1/2 or 1/4 only
    where the crop, at that scale, still spans >= 48 pixels each way, by the smallest such."""
    records = [record("random_resized_crop"), record("hflip")]
    want = InputSpec((3, 48, 48), augment=tuple(records))
    tf = SampleTransform(records, want, files=True)
    data = encode(photo())
    scales = set()
    for seed in range(60):
        img, full = open_image(io.BytesIO(data), lambda s: tf.reduction(s, seed))
        assert full == (200, 150)
        _, _, cw, ch = resized_crop_box(200, 150, [0.08, 1.0], [3 / 4, 4 / 3],
                                        random.Random(seed))
        k = next(k for k in (1, 2, 4, 8) if img.size == (-(-200 // k), -(-150 // k)))
        scales.add(k)
        assert k == 1 or (cw / k >= 48 and ch / k >= 48), (seed, cw, ch, k)
        assert k == 8 or cw / (2 * k) < 48 or ch / (2 * k) < 48  # no smaller one would do
        x, _ = tf.raw(img, seed, full)
        assert x.shape == (3, 48, 48) and x.dtype == torch.uint8
    assert scales == {1, 2}, scales


def test_decode_sizes():
    """Only 1/2, 1/4, 1/8 (libjpeg-turbo's 3/8, 5/8-7/8 decode slower than the full size)."""
    for w, h, side, want in ((600, 400, 256, (600, 400)), (1200, 800, 256, (600, 400)),
                             (1030, 1030, 128, (129, 129)), (300, 200, 256, (300, 200))):
        out = (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
        assert decode_size((w, h), (w, h), out) == want  # resize_crop's shorter side
    assert decode_size((640, 480), (320, 320), (160, 160)) == (320, 240)  # exactly 1/2
    assert decode_size((640, 480), (319, 320), (160, 160)) == (640, 480)  # 1 short of 1/2
    assert decode_size((640, 480), (60, 100), (64, 64)) == (640, 480)  # smaller than the output


def test_the_cpu_normalisation_in_chunks_is_the_float_formula_bit_for_bit():
    """finish on a batch longer than its chunk, some samples with a colour shift and some
    without: (x / 255 + shift) * scale + offset, as one float32 expression would give."""
    records = [record("random_resized_crop"), record("lighting")]
    want = InputSpec((3, 8, 8), mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3],
                     augment=tuple(records))
    tf = SampleTransform(records, want, files=True)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (11, 3, 8, 8), dtype=torch.uint8, generator=g)
    shift = torch.zeros(11, 3)
    shift[5:7] = torch.randn(2, 3, generator=g) * 0.05  # only the second chunk's
    by_hand = (x.float() / 255 + shift.view(11, 3, 1, 1)) * tf.scale + tf.offset
    assert torch.equal(tf.finish(x, shift), by_hand)
    assert torch.equal(tf.finish(x, torch.zeros(11, 3)), x.float() / 255 * tf.scale + tf.offset)
