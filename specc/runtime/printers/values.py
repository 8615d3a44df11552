"""Plain values (a generated image, features): per sample its shape and the range and mean
of its numbers; `--save` writes the arrays themselves."""
from __future__ import annotations

import numpy as np

from ...compile.outputs import VALUES
from .base import Output, Printer, register


class Values(Printer):
    kind = VALUES

    def records(self, out: Output) -> list[dict]:
        rows = []
        for name, sample in zip(out.samples, out.array):
            x = np.asarray(sample, dtype=np.float64)
            finite = x[np.isfinite(x)]
            stats = ({"min": float(finite.min()), "mean": float(finite.mean()),
                      "max": float(finite.max())} if finite.size else
                     {"min": None, "mean": None, "max": None})
            rows.append({"name": name, "shape": list(x.shape), **stats,
                         "non_finite": int(x.size - finite.size)})
        return rows

    def line(self, record: dict, out: Output) -> str:
        shape = "x".join(str(d) for d in record["shape"]) or "scalar"
        if record["min"] is None:
            return f"[{shape}] no finite values"
        bad = f"  ({record['non_finite']} not finite)" if record["non_finite"] else ""
        return (f"[{shape}] min {record['min']:.4g}  mean {record['mean']:.4g}  "
                f"max {record['max']:.4g}{bad}")


register(Values())
