"""Pixel accuracy and mean IoU: the confusion matrix against hand-counted examples, `specc run
--data` on a segmentation model against the same scores computed here from its raw maps,
and `specc train`'s evaluation reporting them."""
import csv
import json

import numpy as np
import pytest
import torch

import specc
from specc.data.metrics import ConfusionMatrix
from specc.data.registry import InputSpec, load_dataset

SEG = """network seg {
    input image: f32[N, 3, H, W]
    output out = conv(relu(conv(image, 6, 3, padding=1)), 4, 1)
    train {
        data = "shapes:16"
        loss = "cross_entropy"
        size = [12, 12]
        batch_size = 8
    }
}
"""


def test_scores_by_hand():
    """target 0 0 1 1 2 255, prediction 0 1 1 1 0 2; 255 ignored, class 3 in neither.
    class 0: 1 right of 2 targets and 2 predictions -> IoU 1/3; class 1: 2 of 2 targets,
    3 predictions -> 2/3; class 2: 0 of 1 -> 0. Accuracy 3/5, mean IoU 1/3."""
    m = ConfusionMatrix(4, ignore_index=255)
    m.update(torch.tensor([[0, 1, 1], [1, 0, 2]]), torch.tensor([[0, 0, 1], [1, 2, 255]]))
    assert m.pixel_accuracy() == pytest.approx(3 / 5)
    assert m.iou()[:3] == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert m.iou()[3] is None  # absent from both: does not count
    assert m.mean_iou() == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    counted = ConfusionMatrix(4)  # without an ignore index, 255 is still no class
    counted.update(torch.tensor([2]), torch.tensor([255]))
    assert counted.counts.sum() == 0


def _scores(pred: np.ndarray, target: np.ndarray, classes: int) -> tuple[float, float]:
    """Written out with sets of pixels, apart from the confusion matrix."""
    ious = []
    for c in range(classes):
        inter = np.logical_and(pred == c, target == c).sum()
        union = np.logical_or(pred == c, target == c).sum()
        if union:
            ious.append(inter / union)
    return float((pred == target).mean()), float(np.mean(ious))


def test_run_data_scores_a_segmentation_model(cli, tmp_path):
    (tmp_path / "seg.net").write_text(SEG)
    specc.load(tmp_path / "seg.net").to_onnx(tmp_path / "seg.onnx")
    r = cli("run", tmp_path / "seg.onnx", "--data", "shapes:16", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    data = load_dataset("shapes:16", InputSpec((3, 12, 12), out_channels=4))
    x = data.test_x.numpy()
    np.save(tmp_path / "x.npy", x)
    assert cli("run", tmp_path / "seg.onnx", tmp_path / "x.npy", "--save",
               tmp_path / "y.npy").returncode == 0
    pred = np.load(tmp_path / "y.npy").argmax(1)
    acc, miou = _scores(pred, data.test_y.numpy(), 4)
    assert got["samples"] == len(x) == 4
    assert got["pixel_accuracy"] == pytest.approx(acc) and got["mean_iou"] == pytest.approx(miou)
    assert [c["label"] for c in got["iou"]][:1] == ["background"]
    text = cli("run", tmp_path / "seg.onnx", "--data", "shapes:16").stdout.splitlines()
    assert text[0].startswith(f"pixel accuracy {acc:.4f}, mean IoU {miou:.4f} on 4 test")
    assert text[1].startswith("IoU  background ")


def test_train_reports_mean_iou_for_a_segmentation_network(cli, tmp_path):
    (tmp_path / "seg.net").write_text(SEG)
    r = cli("train", tmp_path / "seg.net", "--steps", "2", "--eval-every", "1", "--out",
            tmp_path / "run", "--json", "--threads", "1", "--workers", "0")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert len(rows) == 2 and all(0 <= float(row["test_miou"]) <= 1 for row in rows)
    assert result["test_miou"] == pytest.approx(float(rows[-1]["test_miou"]))
    assert "test mIoU" in r.stderr  # the lines a person reads, beside the JSON
