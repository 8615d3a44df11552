"""One printer per kind of output (`specc run`): class rows, class maps, token sequences,
rows of boxes, plain values. Each module registers its printer; `show` and `as_json` pick by kind."""
from __future__ import annotations

from . import classes, detections, maps, sequences, values  # noqa: F401  (each registers its printer)
from .base import PRINTERS, Output


def printer(out: Output):
    return PRINTERS.get(out.read.kind) or PRINTERS["values"]


def as_json(outputs: list[Output]) -> list[dict]:
    """[{"name", "kind", "samples": [record per sample]}] for every output."""
    return [{"name": o.read.name, "kind": o.read.kind, "samples": printer(o).records(o)}
            for o in outputs]


def lines(outputs: list[Output]) -> list[str]:
    """Text: one line per sample; with several outputs, each under a heading."""
    out = []
    for o in outputs:
        shown = printer(o)
        records = shown.records(o)
        width = max((len(r["name"]) for r in records), default=0)
        if len(outputs) > 1:
            out.append(f"{o.read.name} ({o.read.kind}):")
        indent = "  " if len(outputs) > 1 else ""
        for r in records:  # a sample's further lines (a detector's boxes) under its first
            first, *more = shown.line(r, o).split("\n")
            out += [f"{indent}{r['name']:<{width}}  {first}", *(indent + m for m in more)]
    return out
