"""Reading a detector's output: `nms` rows [N, D, 6] of (x1, y1, x2, y2, score, label) per
image, best first, padded with label -1 (specc/ops/detection.py)."""
from __future__ import annotations

import numpy as np


def is_detections(array: np.ndarray) -> bool:
    return array.ndim == 3 and array.shape[2] == 6


def detections(rows: np.ndarray, labels: list) -> list[list[dict]]:
    """Per image, the kept boxes (label >= 0, in the model's order: best first)."""
    out = []
    for image in rows:
        kept = []
        for x1, y1, x2, y2, score, label in image.astype(np.float64):
            if not label >= 0:  # padding (and a NaN label) is no box
                continue
            i = int(label)
            kept.append({"index": i, "label": labels[i] if i < len(labels) else str(i),
                         "score": float(score), "box": [float(x1), float(y1), float(x2),
                                                        float(y2)]})
        out.append(kept)
    return out


def box_lines(sample: str, boxes: list[dict], limit: int) -> list[str]:
    """`sample  K boxes` and one line per box (at most `limit`): label, score, corners."""
    head = f"{sample}  {len(boxes)} box{'es' if len(boxes) != 1 else ''}"
    if len(boxes) > limit:
        head += f" (the best {limit} shown; --top-k shows more)"
    lines = [head]
    width = max((len(b["label"]) for b in boxes[:limit]), default=0)
    for b in boxes[:limit]:
        x1, y1, x2, y2 = b["box"]
        lines.append(f"  {b['label']:<{width}}  {b['score']:.3f}  "
                     f"({x1:.1f}, {y1:.1f}) - ({x2:.1f}, {y2:.1f})")
    return lines
