"""Data sets: the on-disk readers on small files written in the real formats; procedural sets."""
import gzip
import struct

import numpy as np
import pytest
import torch

from specc.data.procedural import orientations, tc_patterns, C_SHAPE, T_SHAPE
from specc.data.registry import InputSpec, load_dataset
from specc.core.diagnostics import SpeccError

from conftest import run_main


def write_idx(path, array, gz):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 40, True), ("t10k", 12, False)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{'.gz' if gz else ''}", images, gz)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{'.gz' if gz else ''}", labels, gz)
    return tmp_path


def test_mnist_idx_gz_and_raw(mnist_dir):
    d = load_dataset(f"mnist:{mnist_dir}", InputSpec((1, 32, 32), pixel_range=[-0.1, 1.175]))
    assert d.train_x.shape == (40, 1, 32, 32) and d.test_x.shape == (12, 1, 32, 32)
    assert d.train_y.tolist()[:11] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert float(d.train_x[:, :, 0, :].max()) == pytest.approx(-0.1)  # the 2-pixel frame
    assert float(d.train_x.max()) <= 1.175 + 1e-6


def test_mnist_truncated_file_is_reported(mnist_dir):
    path = mnist_dir / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(SpeccError, match="truncated"):
        load_dataset(f"mnist:{mnist_dir}", InputSpec((1, 28, 28)))


def test_cifar10_binary(tmp_path):
    rng = np.random.default_rng(1)
    for name, n in (("data_batch_1.bin", 20), ("data_batch_2.bin", 10), ("test_batch.bin", 8)):
        labels = (np.arange(n) % 10).astype(np.uint8)[:, None]
        pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        np.concatenate([labels, pixels], 1).tofile(tmp_path / name)
    d = load_dataset(f"cifar10:{tmp_path}", InputSpec((3, 32, 32), mean=[0.5] * 3, std=[0.25] * 3))
    assert d.train_x.shape == (30, 3, 32, 32) and d.test_y.tolist() == list(range(8))
    assert d.labels[3] == "cat"
    raw = np.fromfile(tmp_path / "test_batch.bin", dtype=np.uint8).reshape(-1, 3073)
    expected = (raw[0, 1:].reshape(3, 32, 32) / 255.0 - 0.5) / 0.25
    assert np.allclose(d.test_x[0].numpy(), expected, atol=1e-5)


def test_digits_split_is_fixed():
    a = load_dataset("digits", InputSpec((64,)))
    b = load_dataset("digits", InputSpec((64,)))
    assert len(a.train_y) == 1438 and len(a.test_y) == 359
    assert torch.equal(a.test_y, b.test_y) and float(a.train_x.max()) == 1.0


def test_digits_read_without_importing_sklearn_equal_load_digits():
    """The CSV read directly is what scikit-learn's own loader gives, and reading it leaves
    scikit-learn unimported (in a fresh process)."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from specc.data.sklearn_digits import digits_arrays
    images, labels = digits_arrays()
    d = load_digits()
    assert images.shape == (1797, 8, 8) and np.array_equal(images, d.images)
    assert labels.dtype.kind == "i" and np.array_equal(labels, d.target)
    code = ("import sys; from specc.data.sklearn_digits import digits_arrays; digits_arrays(); "
            "print('sklearn' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_tc_patterns_follow_the_paper():
    assert len(orientations(T_SHAPE)) == 4 and len(orientations(C_SHAPE)) == 4
    x, y = tc_patterns(6)
    assert len(y) == 144  # the reference count of placements on a 6x6 retina, no wrap-around
    assert int(y.sum()) == 4 * 4 * 5  # C (label 1): two 3x2 and two 2x3 orientations
    assert torch.all(x.sum((1, 2, 3)) == 5)


def test_logic_tables():
    d = load_dataset("logic:xor", InputSpec((2,)))
    assert d.train_x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and d.train_y.tolist() == [0, 1, 1, 0]
    with pytest.raises(SpeccError, match="unknown truth table"):
        load_dataset("logic:maybe", InputSpec((2,)))


def test_train_on_mnist_files(tmp_path):
    """MNIST's files (gzipped training set, raw test set) as `specc train` reads them. Each
    class is a bar at its own place in noise, so a linear layer learns the training set in an
    epoch or two; one test image is drawn as a 5 but labelled 3. The test accuracy is then
    11/12 exactly: the 12 images of the test files, read with their own labels, by a network
    that learnt from the training files. Labels out of step with their images, the training
    images read as the test set (they have no such image), a count off by a batch, or data that
    nothing can learn from: each gives another number."""
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 40, True), ("t10k", 12, False)):
        labels = np.arange(n) % 10
        drawn = labels.copy()
        if prefix == "t10k":
            drawn[3] = 5
        images = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(drawn):
            images[i, 2 + 12 * (c // 5):12 + 12 * (c // 5), 1 + 5 * (c % 5):5 + 5 * (c % 5)] = 255
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{'.gz' if gz else ''}", images, gz)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{'.gz' if gz else ''}", labels, gz)
    spec = tmp_path / "m.net"
    spec.write_text("specc 1\nnetwork m {\n    input x: f32[N, 1, 28, 28]\n"
                    "    output y = linear(flatten(x), 10)\n}\n")
    r = run_main("train", spec, "--data", f"mnist:{tmp_path}", "--epochs", "2", "--batch-size",
                 "8", "--lr", "0.1", "--out", tmp_path / "m", "--json")
    assert r.returncode == 0, r.stderr
    acc = __import__("json").loads(r.stdout.splitlines()[-1])["test_accuracy"]
    assert acc == pytest.approx(11 / 12)
    import csv
    rows = list(csv.DictReader((tmp_path / "m" / "metrics.csv").open()))
    assert float(rows[-1]["test_accuracy"]) == acc  # what the run folder records


def test_every_adaptation_is_named_on_one_line(tmp_path, write_spec, capsys):
    """CIFAR's 3x32x32 images on a 1x8x8 network: greyed and resized, said once."""
    from specc.cli.main import main
    rng = np.random.default_rng(1)
    for name, n in (("data_batch_1.bin", 20), ("test_batch.bin", 8)):
        rows = np.concatenate([(np.arange(n) % 10).astype(np.uint8)[:, None],
                               rng.integers(0, 256, (n, 3072)).astype(np.uint8)], 1)
        rows.tofile(tmp_path / name)
    small = write_spec("network small {\n input x: f32[N, 1, 8, 8]\n"
                       " output y = linear(flatten(x), 10)\n}")
    assert main(["train", str(small), "--data", f"cifar10:{tmp_path}", "--epochs", "1",
                 "--out", str(tmp_path / "a")]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("adapted")]
    assert lines == ["adapted cifar10 to small: channels 3->1 (grey: mean of the channels); "
                     "resized 32x32->8x8"]
    rgb = write_spec("network rgb {\n input x: f32[N, 3, 8, 8]\n"
                     " output y = linear(flatten(x), 10)\n}", "rgb.net")
    assert main(["train", str(rgb), "--epochs", "1", "--out", str(tmp_path / "b")]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("adapted")]
    assert lines == ["adapted digits to rgb: channels 1->3 (copied)"]


def test_two_classes_on_a_ten_way_classifier_needs_asking(tmp_path, write_spec, capsys):
    from specc.cli.main import main
    ten = write_spec("network ten {\n input x: f32[N, 1, 6, 6]\n"
                     " output y = linear(flatten(x), 10)\n}")
    code = main(["train", str(ten), "--data", "tc", "--epochs", "1", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 1 and "data set 'tc' has 2 classes but network 'ten' output 'y' has 10" in err
    assert "--allow-fewer-classes" in err and not (tmp_path / "a").exists()
    assert main(["train", str(ten), "--data", "tc", "--epochs", "1", "--out", str(tmp_path / "b"),
                 "--allow-fewer-classes"]) == 0
    assert "adapted tc to ten: classes 2 used of 10 outputs" in capsys.readouterr().out
