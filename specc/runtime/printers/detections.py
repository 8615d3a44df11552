"""Rows of boxes ([N, D, 6] from nms: x1, y1, x2, y2, score, label, best first, padded with
label -1): per sample its boxes, the best --top-k of them on lines of their own."""
from __future__ import annotations

from ...compile.outputs import DETECTIONS
from ..boxes import box_lines, detections
from .base import Output, Printer, register


class Boxes(Printer):
    kind = DETECTIONS

    def records(self, out: Output) -> list[dict]:
        found = detections(out.array, out.labels)
        return [{"name": name, "boxes": boxes} for name, boxes in zip(out.samples, found)]

    def line(self, record: dict, out: Output) -> str:
        lines = box_lines("", record["boxes"], out.top_k)
        return "\n".join([lines[0].lstrip(), *lines[1:]])


register(Boxes())
