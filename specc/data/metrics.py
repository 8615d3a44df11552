"""Scores of dense predictions: pixel accuracy and mean intersection over union, from one
confusion matrix accumulated over the test set (torchvision's references/segmentation
`ConfusionMatrix`), shared by `specc train`'s evaluation and `specc run --data`.

A target equal to the data set's ignore index (torchvision's VOC marks object borders 255)
counts nowhere; a class absent from both the predictions and the targets has no IoU and
does not count in the mean (torchvision's own mean would be NaN there)."""
from __future__ import annotations

import torch


class ConfusionMatrix:
    """rows: the target class, columns: the predicted class, over every counted pixel."""

    def __init__(self, classes: int, ignore_index: int | None = None):
        self.classes = classes
        self.ignore_index = ignore_index
        self.counts = torch.zeros((classes, classes), dtype=torch.int64)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """`pred` and `target`: class indices of the same shape ([N, H, W]), each below
        `classes` (size the matrix by the output's channels: a prediction of a class the
        data never has is a wrong one, not a lost one)."""
        pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
        keep = (target >= 0) & (target < self.classes)
        if self.ignore_index is not None:
            keep &= target != self.ignore_index
        index = target[keep] * self.classes + pred[keep]
        found = torch.bincount(index, minlength=self.classes ** 2)
        self.counts += found.reshape(self.classes, self.classes).to(self.counts.device)

    def pixel_accuracy(self) -> float:
        total = int(self.counts.sum())
        return float(self.counts.diag().sum()) / total if total else float("nan")

    def iou(self) -> list[float | None]:
        """Per class: intersection over union, or None where the class is in neither."""
        diag = self.counts.diag().double()
        union = self.counts.sum(0).double() + self.counts.sum(1).double() - diag
        return [float(d / u) if u > 0 else None for d, u in zip(diag, union)]

    def mean_iou(self) -> float:
        present = [x for x in self.iou() if x is not None]
        return sum(present) / len(present) if present else float("nan")
