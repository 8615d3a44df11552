"""Class maps ([N, C, H, W], a score per class and pixel: segmentation): per sample the
classes its argmax map holds, each with its share of the pixels, largest first."""
from __future__ import annotations

import numpy as np

from ...compile.outputs import MAP
from .base import Output, Printer, register


class ClassMaps(Printer):
    kind = MAP

    def records(self, out: Output) -> list[dict]:
        rows = []
        for name, sample in zip(out.samples, out.array):
            pred = sample.argmax(axis=0)  # [H, W]: the class of each pixel
            counts = np.bincount(pred.ravel(), minlength=sample.shape[0])
            present = np.argsort(-counts, kind="stable")[:int((counts > 0).sum())]
            shares = [{"index": int(i), "label": out.label(i),
                       "share": float(counts[i] / pred.size)} for i in present]
            rows.append({"name": name, "size": list(pred.shape),
                         "classes": shares[:out.top_k], "more": max(0, len(shares) - out.top_k)})
        return rows

    def line(self, record: dict, out: Output) -> str:
        shown = "  ".join(f"{c['label']} {c['share']:6.1%}" for c in record["classes"])
        more = f"  (+{record['more']} more)" if record["more"] else ""
        size = "x".join(str(d) for d in record["size"])
        return f"{shown}{more}  [{size} {'pixels' if len(record['size']) == 2 else 'positions'}]"


register(ClassMaps())
