"""The `shapes` data set (generated images with a class per pixel) and segmentation training
on it: a U-Net learns it, and the trainer checks that outputs and labels fit."""
import csv

import torch

from conftest import SPECS
from specc.data.registry import InputSpec, load_dataset
from specc.data.shapes import draw


def test_each_label_is_where_its_shape_was_drawn():
    x, y = draw(64, 3, 24, 20, classes=4, seed=1)
    assert x.shape == (64, 3, 24, 20) and y.shape == (64, 24, 20) and y.dtype == torch.long
    assert set(y.unique().tolist()) == {0, 1, 2, 3}
    shape = y > 0
    # background is noise below 0.1, every shape's colour is at least 0.4 in each channel
    assert bool((x.amin(1)[shape] >= 0.4).all()) and bool((x.amax(1)[~shape] < 0.1).all())
    assert 0.05 < float(shape.float().mean()) < 0.5
    _, two = draw(64, 1, 24, 20, classes=2, seed=1)
    assert set(two.unique().tolist()) == {0, 1}
    assert torch.equal(draw(4, 1, 8, 8, 4, seed=3)[1], draw(4, 1, 8, 8, 4, seed=3)[1])


def test_the_set_takes_the_networks_size_and_channels():
    data = load_dataset("shapes:40", InputSpec((3, 16, None), out_channels=3))
    assert data.dense and data.classes == 3 and data.labels == ["background", "square", "disc"]
    assert data.train_x.shape == (40, 3, 16, 64) and data.test_y.shape == (10, 16, 64)


def test_unet_learns_the_shapes(cli, tmp_path):
    """A few steps of `specc train specs/unet.net:unet_small --data shapes:...`: the loss
    falls and the per-pixel accuracy is a fraction, not a count of pixels."""
    r = cli("train", SPECS / "unet.net:unet_small", "--data", "shapes:64", "--epochs", "4",
            "--batch-size", "16", "--lr", "0.05", "--seed", "0", "--threads", "1",
            "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert len(rows) == 4 and float(rows[-1]["train_loss"]) < 0.7 * float(rows[0]["train_loss"])
    assert all(0.0 <= float(row["test_accuracy"]) <= 1.0 for row in rows)


def test_a_per_pixel_set_needs_a_per_pixel_output(cli, tmp_path):
    r = cli("train", SPECS / "lenet5.net", "--data", "shapes:8", "--steps", "1",
            "--out", tmp_path / "run")
    assert r.returncode == 1 and "label per position" in r.stderr
    r = cli("train", SPECS / "segmentation.net:lraspp_mobilenet_v3_large", "--data",
            "shapes:8", "--steps", "1", "--set", "H=32", "--set", "W=32",
            "--out", tmp_path / "run2")
    assert r.returncode == 1 and "4 classes but network" in r.stderr
    assert "--allow-fewer-classes" in r.stderr
