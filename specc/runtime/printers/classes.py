"""Class rows ([N, K]): the top classes of each sample, with probabilities where the
numbers are logits (softmax) or already probabilities, else the raw scores."""
from __future__ import annotations

import numpy as np

from ...compile.outputs import CLASSES, LOGITS, PROBABILITIES
from .base import Output, Printer, register


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities from logits over `axis` (computed in float64, stable)."""
    z = x.astype(np.float64) - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


class ClassRows(Printer):
    kind = CLASSES

    def records(self, out: Output) -> list[dict]:
        numbers = out.read.numbers
        scores = softmax(out.array) if numbers == LOGITS else out.array
        key = "probability" if numbers in (LOGITS, PROBABILITIES) else "score"
        flat = scores.reshape(scores.shape[0], -1)
        rows = []
        for name, row in zip(out.samples, flat):
            order = np.argsort(-row, kind="stable")[:out.top_k]
            rows.append({"name": name, "top": [
                {"index": int(i), "label": out.label(i), key: float(row[i])} for i in order]})
        return rows

    def line(self, record: dict, out: Output) -> str:
        return "  ".join(f"{r['label']} {r['probability']:6.1%}" if "probability" in r else
                         f"{r['label']} ({r['score']:.4g})" for r in record["top"])


register(ClassRows())
