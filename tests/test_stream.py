"""Data read from disk per sample: image folders and WebDataset shards through DataLoader
workers; order fixed by (seed, epoch, rank); resume skips exactly; bad files never stop an
epoch; bad input is clear."""
import json

import pytest
import torch

from specc.data.registry import InputSpec, load_dataset
from specc.core.diagnostics import SpeccError

from conftest import run_cli, run_main
from specc.cli.main import main
from imagedata import image_folder, shards, truncate

CROP = [{"name": "random_resized_crop", "size": None, "scale": [0.25, 1.0], "ratio": [0.75, 4 / 3]},
        {"name": "hflip", "p": 0.5}]
WANT = InputSpec((3, 16, 16), mean=[0.5] * 3, std=[0.25] * 3, augment=tuple(CROP))

TINY = """network tiny {
    input x: f32[N, 3, 16, 16]
    c = relu(conv(x, 4, 3, stride=2, padding=1))
    output y = linear(flatten(global_avgpool(c)), 3)
    train {
        epochs = 2
        batch_size = 8
        optimizer = sgd(lr=0.1, momentum=0.9)
        augment = [random_resized_crop(scale=[0.25, 1.0]), hflip, lighting]
    }
}"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return image_folder(tmp_path_factory.mktemp("img"), per_class=10, val=3)


def test_a_data_path_may_start_with_a_tilde(folder, monkeypatch):
    """`--data imagefolder:~/imagenet` (as --help shows it): the shell expands no ~ after a
    colon, so specc does; before, it said `no such folder ~/...`."""
    monkeypatch.setenv("HOME", str(folder.parent))
    data = load_dataset(f"imagefolder:~/{folder.name}", WANT)
    assert (data.train_size, data.test_size) == (30, 9)
    with pytest.raises(SpeccError, match="no such folder"):
        load_dataset(f"imagefolder:~/{folder.name}-missing", WANT)


def batches(feed, epoch, skip=0):
    return [(x.clone(), y.clone()) for x, y in feed.epoch(epoch, skip)]


def test_imagefolder_is_read_lazily_and_in_a_fixed_order(folder):
    data = load_dataset(f"imagefolder:{folder}", WANT)
    assert data.streaming and (data.train_size, data.test_size) == (30, 9)
    assert data.labels == ["class0", "class1", "class2"]
    assert not hasattr(data, "train_x")  # nothing decoded up front
    in_process = data.feed(seed=3, rank=0, world=1, per_rank=8, workers=0, pin=False)
    two_workers = data.feed(seed=3, rank=0, world=1, per_rank=8, workers=2, pin=False)
    assert len(in_process) == 4  # 30 samples in batches of 8
    a, b = batches(in_process, 0), batches(two_workers, 0)
    assert [x.shape for x, _ in a] == [(8, 3, 16, 16)] * 3 + [(6, 3, 16, 16)]
    for (xa, ya), (xb, yb) in zip(a, b):  # the workers only decode: same batches
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    resumed = batches(two_workers, 0, skip=2)  # a resumed epoch: exactly the rest
    assert len(resumed) == 2 and all(torch.equal(r[0], x[0]) for r, x in zip(resumed, a[2:]))
    other_epoch = batches(in_process, 1)
    assert not torch.equal(other_epoch[0][0], a[0][0])  # new order, new crops
    tests = list(in_process.test())
    assert sum(len(y) for _, y in tests) == 9 and tests[0][0].shape[1:] == (3, 16, 16)


def test_ranks_share_an_epoch_without_overlap(folder):
    data = load_dataset(f"imagefolder:{folder}", WANT)
    seen = []
    for rank in (0, 1):
        feed = data.feed(seed=0, rank=rank, world=2, per_rank=4, workers=0, pin=False)
        seen.append(torch.cat([y for _, y in batches(feed, 0)]))
    assert len(seen[0]) == len(seen[1]) == 15  # 30 samples dealt to two ranks


def test_truncated_jpeg_mid_epoch_is_named_once_and_training_goes_on(tmp_path, write_spec):
    root = image_folder(tmp_path / "img", per_class=8, val=2)
    bad = root / "train" / "class1" / "0003.jpg"
    truncate(bad)
    (root / "train" / "class2" / "0005.jpg").write_bytes(b"not an image at all")
    spec = write_spec(TINY)
    run = tmp_path / "run"
    r = run_cli("train", spec, "--data", f"imagefolder:{root}", "--out", run, "--workers", "1",
                "--json", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: skipping")]
    assert len(warnings) == 2, r.stderr  # two epochs, each file named once
    assert str(bad) in warnings[0] + warnings[1] and "(2 unreadable so far)" in warnings[1]
    assert json.loads(r.stdout.splitlines()[-1])["epochs"] == 2


def test_imagefolder_run_resumes_exactly_with_workers(tmp_path, write_spec, folder):
    spec = write_spec(TINY)
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = ("--data", f"imagefolder:{folder}", "--workers", "2", "--threads", "1")
    assert run_main("train", spec, "--out", full, *args).returncode == 0
    r = run_main("train", spec, "--out", cut, "--steps", "6", *args)  # 4 batches per epoch
    assert r.returncode == 0, r.stderr
    assert main(["train", "--resume", str(cut), "--epochs", "2"]) == 0
    from test_resume import assert_identical, weights
    assert_identical(weights(full), weights(cut))


def test_webdataset_shards(tmp_path):
    root = tmp_path / "shards"
    shards(root, "train", count=3, per_shard=10)
    shards(root, "val", count=1, per_shard=6, seed=1)
    data = load_dataset(f"webdataset:{root}", WANT)
    assert (data.train_size, data.test_size, data.classes) == (30, 6, 3)
    feed = data.feed(seed=0, rank=0, world=1, per_rank=4, workers=2, pin=False)
    full = batches(feed, 0)
    assert len(full) == feed.length(0) == 7  # worker 0: 2 shards, 20 // 4; worker 1: 10 // 4
    again = batches(data.feed(seed=0, rank=0, world=1, per_rank=4, workers=2, pin=False), 0)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(full, again))
    rest = batches(feed, 0, skip=4)
    assert len(rest) == 3 and all(torch.equal(r[0], f[0]) for r, f in zip(rest, full[4:]))
    assert sum(len(y) for _, y in feed.test()) == 6
    pattern = load_dataset(f"webdataset:{root}/train-{{000..002}}.tar", WANT)
    assert pattern.train_size + pattern.test_size == 30  # no val shards: a fifth held out
    assert 0 < pattern.test_size < 30


@pytest.mark.parametrize("make,arg,message", [
    (lambda p: p.mkdir(), "imagefolder:{p}", "has no class folders"),
    (lambda p: (p / "cats").mkdir(parents=True), "imagefolder:{p}", "no images under"),
    (lambda p: None, "imagefolder:{p}", "no such folder"),
    (lambda p: None, "webdataset:{p}/train-{{000..003}}.tar", "cannot open shard"),
    (lambda p: p.mkdir(), "webdataset:{p}", "no .tar shards in"),
    (lambda p: (p.mkdir(), (p / "train-000.tar").write_bytes(b"x" * 700)), "webdataset:{p}",
     "cannot read shard"),
])
def test_bad_data_is_a_clear_message(tmp_path, make, arg, message):
    p = tmp_path / "data"
    make(p)
    with pytest.raises(SpeccError, match=message):
        load_dataset(arg.format(p=p), WANT)


def test_a_shard_url_that_cannot_be_opened_writes_nothing(tmp_path, write_spec):
    spec = write_spec(TINY)
    r = run_main("train", spec, "--data", f"webdataset:{tmp_path}/missing-{{000..003}}.tar",
                 "--out", tmp_path / "run")
    assert r.returncode == 1 and "webdataset: cannot open shard" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "run").exists()


def test_run_evaluates_ten_crops(tmp_path, write_spec, folder):
    """An exported network scored on an image folder, single centre crop and ten crops."""
    spec = write_spec(TINY)
    run = tmp_path / "run"
    assert main(["train", str(spec), "--data", f"imagefolder:{folder}", "--epochs", "1",
                 "--workers", "0", "--out", str(run)]) == 0
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", str(spec), "--weights", str(run), "-o", str(onnx_path)]) == 0
    scores = {}
    for extra in ([], ["--ten-crop"]):
        r = run_main("run", onnx_path, "--data", f"imagefolder:{folder}", "--json", *extra)
        assert r.returncode == 0, r.stderr
        scores[bool(extra)] = json.loads(r.stdout)
    assert scores[False]["samples"] == scores[True]["samples"] == 9
    accuracy, views = _ten_crop_by_hand(onnx_path, folder)
    assert scores[True]["accuracy"] == pytest.approx(accuracy)
    from specc.data.registry import test_batches
    data = load_dataset(f"imagefolder:{folder}", InputSpec((3, 16, 16), eval_transform=(
        {"name": "ten_crop", "resize": None, "crop": None},)))
    x = torch.cat([x for x, _ in test_batches(data, 4)])
    assert x.shape == (9, 10, 3, 16, 16)
    # the same ten boxes: an image the evaluation rule decodes at full size gives the papers'
    # pixels exactly; one it decodes at 1/2 (its shorter side still >= 256/224 of the crop,
    # DCT-domain scaling) differs by the filter, not by the geometry
    diff = (x - torch.from_numpy(views)).abs().flatten(1)
    from PIL import Image
    tf = data.test.transform
    files = sorted((folder / "val").rglob("*.jpg"))
    halved = torch.tensor([tf.reduction(Image.open(f).size, 0) != Image.open(f).size
                           for f in files])
    assert halved.any() and not halved.all(), halved
    assert diff[~halved].max() < 1e-6, diff[~halved].max()
    assert diff[halved].mean() < 0.05 and diff[halved].max() < 0.4, diff[halved].mean()


def _ten_crop_by_hand(onnx_path, folder):
    """The papers' protocol written out with PIL and onnxruntime: shorter side to 256/224 of
    the crop, four corners and the centre, their mirrors, softmax averaged."""
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    hits = total = 0
    views = []
    for label, cls in enumerate(sorted(p.name for p in (folder / "val").iterdir())):
        for f in sorted((folder / "val" / cls).iterdir()):
            img = Image.open(f).convert("RGB")
            w, h = img.size
            side = round(16 * 256 / 224)
            size = (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
            img = img.resize(size, Image.BILINEAR)
            W, H = img.size
            boxes = [(0, 0), (W - 16, 0), (0, H - 16), (W - 16, H - 16),
                     ((W - 16) // 2, (H - 16) // 2)]
            crops = [img.crop((x, y, x + 16, y + 16)) for x, y in boxes]
            crops += [c.transpose(Image.FLIP_LEFT_RIGHT) for c in crops]
            x = np.stack([np.asarray(c, dtype=np.float32).transpose(2, 0, 1) / 255 for c in crops])
            views.append(x)
            out = sess.run(None, {name: x})[0].astype(np.float64)
            p = np.exp(out - out.max(1, keepdims=True))
            p = (p / p.sum(1, keepdims=True)).mean(0)
            hits += int(p.argmax() == label)
            total += 1
    return hits / total, np.stack(views)
