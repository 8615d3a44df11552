"""The augmentation registry: each entry's geometry and colour rule checked by hand, the PIL
and tensor implementations drawing the same crops, and the recipe syntax with its errors."""
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from PIL import Image

import specc
from specc.recipes.augment import AUGMENTATIONS, PCA_EIGVAL, PCA_EIGVEC, Ctx, resized_crop_box
from specc.data.registry import InputSpec
from specc.data.transforms import SampleTransform

from conftest import run_main


def record(name, **kw):
    entry = AUGMENTATIONS[name]
    return {"name": name, **{k: d for k, (_, d) in entry.params.items()}, **kw}


def ramp(h=20, w=30):
    """An image whose every pixel is distinct: value = position."""
    a = np.arange(h * w * 3, dtype=np.int64).reshape(h, w, 3) % 251
    return a.astype(np.uint8)


def test_every_entry_is_complete_and_parses_in_a_recipe(load_spec):
    for name, entry in AUGMENTATIONS.items():
        assert entry.cite and entry.doc, name
        assert entry.tensor is not None, name  # every entry runs on in-memory sets
        assert entry.image is not None or entry.pixels, name
        assert entry.training or entry.evaluation, name
        key = "augment" if entry.training else "eval"
        value = f"[{name}]" if key == "augment" else name
        net = load_spec(f"network n {{\n input x: f32[N, 3, 8, 8]\n"
                        f" output y = linear(flatten(x), 2)\n train {{ {key} = {value} }}\n}}")
        got = net.recipe[key][0] if key == "augment" else net.recipe[key]
        assert got == record(name), name


@given(st.integers(8, 300), st.integers(8, 300), st.floats(0.05, 1.0), st.floats(0.0, 1.0),
       st.integers(0, 2 ** 31))
@settings(max_examples=200, deadline=None)
def test_random_resized_crop_boxes(w, h, lo, span, seed):
    scale, ratio = (lo, min(1.0, lo + span)), (3 / 4, 4 / 3)
    left, top, cw, ch = resized_crop_box(w, h, scale, ratio, random.Random(seed))
    assert 0 <= left and 0 <= top and left + cw <= w and top + ch <= h and cw > 0 and ch > 0
    fallback = (left, top) == ((w - cw) // 2, (h - ch) // 2) and (cw == w or ch == h)
    if not fallback:  # a drawn box: its area and shape are within the asked ranges (rounding)
        assert scale[0] * w * h - (cw + ch + 1) <= cw * ch <= scale[1] * w * h + (cw + ch + 1)
        assert ratio[0] - 0.5 / min(cw, ch) * 2 <= cw / ch <= ratio[1] + 1.0 / min(cw, ch) * 2


def test_pad_crop_shifts_by_at_most_pad_and_pads_black():
    entry = AUGMENTATIONS["random_crop"]
    src = np.full((32, 32, 3), 7, dtype=np.uint8)
    src[10, 10] = (255, 0, 128)  # one marked pixel
    img = Image.fromarray(src)
    ctx = Ctx((32, 32))
    shifts = set()
    for seed in range(60):
        out = np.asarray(entry.image(img, record("random_crop", pad=4), random.Random(seed), ctx))
        assert out.shape == (32, 32, 3)
        hits = np.argwhere((out == src[10, 10]).all(-1))  # where the marked pixel went
        dy, dx = 10 - hits[0][0], 10 - hits[0][1]
        assert len(hits) == 1 and abs(dy) <= 4 and abs(dx) <= 4
        shifts.add((dy, dx))
        if dy < 0:  # rows taken from above the image are padding: black
            assert (out[:-dy] == 0).all() and (out[-dy:] != 0).any()
    assert len(shifts) > 20  # 81 possible shifts, drawn at random


def test_pil_and_tensor_draw_the_same_geometry():
    """Same seed, same crop and flip, whether the sample is an image file or a tensor."""
    a = ramp(40, 50)
    img, x = Image.fromarray(a), torch.from_numpy(a).permute(2, 0, 1).float() / 255
    ctx = Ctx((24, 24))
    for name, kw in (("random_crop", {"pad": 3}), ("hflip", {}), ("random_crop", {"size": 30})):
        r = record(name, **kw)
        for seed in range(5):
            pil = np.asarray(AUGMENTATIONS[name].image(img, r, random.Random(seed), ctx))
            ten = AUGMENTATIONS[name].tensor(x, r, random.Random(seed), ctx)
            assert np.array_equal(pil, (ten * 255).round().byte().permute(1, 2, 0).numpy())
    r = record("random_resized_crop")
    pil = np.asarray(AUGMENTATIONS["random_resized_crop"].image(img, r, random.Random(7), ctx))
    ten = AUGMENTATIONS["random_resized_crop"].tensor(x, r, random.Random(7), ctx)
    assert pil.shape == (24, 24, 3) and ten.shape == (3, 24, 24)
    # bilinear resampling differs a little between PIL and torch; the box is the same
    assert np.abs(pil / 255 - ten.permute(1, 2, 0).numpy()).mean() < 0.03


def test_ten_crop_corners_centre_and_mirrors():
    x = torch.arange(3 * 10 * 12, dtype=torch.float32).view(3, 10, 12)
    views = AUGMENTATIONS["ten_crop"].tensor(x, record("ten_crop", resize=10, crop=6), None,
                                             Ctx((6, 6)))
    assert views.shape == (10, 3, 6, 6)
    assert torch.equal(views[0], x[:, :6, :6]) and torch.equal(views[3], x[:, 4:, 6:])
    assert torch.equal(views[4], x[:, 2:8, 3:9])  # the centre
    assert torch.equal(views[5], views[0].flip(-1))


def test_lighting_adds_the_pca_colour_shift():
    x = torch.zeros(3, 4, 4)
    out = AUGMENTATIONS["lighting"].tensor(x, {"name": "lighting", "std": 0.1},
                                           random.Random(5), Ctx((4, 4), unit=(2.0, 2.0, 2.0)))
    draw = random.Random(5)
    alpha = [draw.gauss(0.0, 0.1) for _ in range(3)]
    for c in range(3):  # Krizhevsky et al. 2012 eq. in §4.1, scaled to a std of 0.5
        want = 2.0 * sum(PCA_EIGVEC[c][i] * alpha[i] * PCA_EIGVAL[i] for i in range(3))
        assert torch.allclose(out[c], torch.full((4, 4), want))


def test_scale_jitter_sets_the_shorter_side():
    entry = AUGMENTATIONS["scale_jitter"]
    img = Image.fromarray(ramp(30, 45))
    sides = {min(entry.image(img, record("scale_jitter", min=40, max=50), random.Random(s),
                             Ctx((8, 8))).size) for s in range(40)}
    assert sides <= set(range(40, 51)) and len(sides) > 5


def test_files_get_the_eval_crop_when_no_entry_sets_the_size():
    want = InputSpec((3, 16, 16), augment=(record("hflip"),))
    tf = SampleTransform([record("hflip")], want, files=True)
    assert tf.describe() == "resize_crop, hflip(p=0.5)"  # sizes left to the input unshown
    out = tf.image(Image.fromarray(ramp(40, 70)), seed=1)
    assert out.shape == (3, 16, 16)
    grey = tf.image(Image.fromarray(ramp(40, 70)[..., 0]), seed=1)  # L images become RGB
    assert grey.shape == (3, 16, 16) and torch.equal(grey[0], grey[1])


@pytest.mark.parametrize("item,message", [
    ('augment = ["crop", "flip"]', "augmentations are records, not strings"),
    ("augment = [ten_crop]", "'ten_crop' belongs in the recipe's eval"),
    ("eval = hflip", "'hflip' belongs in augment"),
    ("augment = [hflip(q=1)]", "'hflip' has no argument 'q'"),
    ("augment = [random_resized_crop(scale=[0.9, 0.1])]", "scale must be [low, high]"),
    ("augment = [random_crop(size=0)]", "must be a positive int (pixels)"),
    ("augment = hflip", "must be a list of augmentations"),
])
def test_recipe_errors(spec_error, item, message):
    err = spec_error(f"network n {{\n input x: f32[N, 3, 8, 8]\n output y = linear(flatten(x), 2)\n"
                     f" train {{\n  {item}\n }}\n}}")
    assert message in err and "t.net:6:" in err, err


def test_lighting_needs_rgb(tmp_path, write_spec):
    spec = write_spec("network n {\n input x: f32[N, 1, 8, 8]\n output y = linear(flatten(x), 10)\n"
                      " train { augment = [lighting] }\n}")
    r = run_main("train", spec, "--out", tmp_path / "r", "--epochs", "1")
    assert r.returncode == 1 and "'lighting' needs RGB input" in r.stderr, r.stderr


def test_check_shows_the_recipe_with_its_sources():
    r = run_main("check", "specs/resnet.net:resnet50")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("recipe  "))
    assert lines[i] == ("recipe  data imagefolder, batch 256, 120 epochs or 600000 steps "
                        "(whichever ends first), loss cross_entropy")
    assert ("augment scale_jitter(min=256, max=480), random_crop(size=224, pad=0), "
            "hflip(p=0.5), lighting(std=0.1)") in lines[i + 2]  # every value, defaults too
    assert "eval resize_crop(resize=256, crop=224)" in lines[i + 3]
    assert "after Simonyan & Zisserman 2015 §3.1; Krizhevsky et al. 2012 §4.1" in lines[-1]
    # (each bundled recipe's augmentation is pinned against its paper in test_recipes.py)


def jpeg_file(tmp_path, w=240, h=180):
    """A smooth JPEG (gradients), where a DCT-domain downscale is close to a full decode."""
    import io
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 255], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=95)
    path = tmp_path / "smooth.jpg"
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("records", [
    [record("random_resized_crop"), record("hflip"), record("lighting")],
    [record("scale_jitter", min=40, max=60), record("random_crop"), record("hflip")],
    [record("resize_crop")],
])
def test_reduced_jpeg_decoding_keeps_the_draws_and_the_geometry(tmp_path, records):
    """A JPEG decoded at 1/2, 1/4 or 1/8 size (DCT-domain scaling) where the sample's
    first entry keeps enough pixels: the same random draws (flip, colour, later crops), the
    same boxes on the full-size image, pixels within the filter's difference of a full
    decode."""
    from specc.data.images import open_image as decode
    want = InputSpec((3, 32, 32), mean=[0.5] * 3, std=[0.25] * 3, augment=tuple(records))
    tf = SampleTransform(records, want, files=True)
    path = jpeg_file(tmp_path)
    reduced = []
    for seed in range(12):
        full_img, full = decode(path)
        small_img, size = decode(path, lambda s: tf.reduction(s, seed))
        assert size == full == (240, 180)
        reduced.append(small_img.size != full)
        a, sa = tf.raw(full_img, seed, full)
        b, sb = tf.raw(small_img, seed, size)
        assert a.dtype == torch.uint8 and a.shape == b.shape == (3, 32, 32)
        assert torch.equal(sa, sb)  # lighting drew the same colour shift
        diff = (a.float() - b.float()).abs()
        def mirrored(t):  # red rises from left to right in the file
            return bool(t[0, :, 0].float().mean() > t[0, :, -1].float().mean())
        assert diff.mean() < 4 and mirrored(a) == mirrored(b)
    assert any(reduced)  # the crops of this 240x180 image allowed a smaller decode


def test_uint8_batches_normalise_to_the_float_path():
    """finish(raw) is the float pipeline: PIL geometry, /255, the lighting shift, normalise,
    computed bit for bit as the per-sample transform did before batches left the workers in
    uint8."""
    records = [record("random_resized_crop"), record("hflip"), record("lighting")]
    want = InputSpec((3, 16, 16), mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3],
                     augment=tuple(records))
    tf = SampleTransform(records, want, files=True)
    img = Image.fromarray(ramp(40, 50))
    for seed in range(5):
        rng, ctx = random.Random(seed), tf.file_ctx
        geo = AUGMENTATIONS["hflip"].image(
            AUGMENTATIONS["random_resized_crop"].image(img, records[0], rng, ctx),
            records[1], rng, ctx)
        x = torch.from_numpy(np.array(geo)).permute(2, 0, 1).float().div_(255.0)
        x = AUGMENTATIONS["lighting"].tensor(x, records[2], rng, ctx)
        by_hand = x * tf.scale + tf.offset
        raw, shift = tf.raw(img, seed)
        assert torch.equal(tf.finish(raw[None], shift[None])[0], by_hand)
        assert torch.equal(tf.image(img, seed), by_hand)


def test_pixel_entries_add_a_shift_per_channel():
    """What lets the workers send uint8: a pixel entry's effect is its effect on zeros."""
    x = torch.rand(3, 5, 6)
    for name, entry in AUGMENTATIONS.items():
        if entry.pixels:
            out = entry.tensor(x, record(name), random.Random(3), Ctx((5, 6)))
            zero = entry.tensor(torch.zeros(3, 1, 1), record(name), random.Random(3), Ctx((5, 6)))
            assert torch.allclose(out, x + zero), name
