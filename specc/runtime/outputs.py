"""Each output of a model as `specc run` shows it: its kind from the spec the model carries
(specc.compile.outputs), its class names from the recipe's labels or its data set's, and
the printer of its kind (specc.runtime.printers)."""
from __future__ import annotations

import numpy as np

from ..compile.outputs import CLASSES, DETECTIONS, OutputRead, by_shape, read_outputs
from ..core.diagnostics import SpeccError
from .boxes import is_detections
from .embedded import load_embedded
from .printers import Output


def outputs_of(model, path: str, meta: dict, arrays: dict, samples: list,
               top_k: int) -> tuple[list[Output], str | None]:
    """(every output, ready for its printer; a note when the spec could not say how they
    read). `arrays`: output name -> array, in the model's order."""
    # rows [N, K] read as classes whatever the spec says: only larger outputs need it read
    # (elaborating a ResNet-50's spec takes ~0.5 s here)
    dense = any(a.ndim > 2 for a in arrays.values())
    reads, recipe, note = _reads(model, path, meta) if dense else ({}, {}, None)
    out = []
    for name, array in arrays.items():
        read = reads.get(name) or _without_spec(name, array, meta, first=not out)
        labels = _labels(read, array, meta, recipe)
        out.append(Output(array, read, labels, samples, top_k))
    return out, note


def _reads(model, path: str, meta: dict) -> tuple[dict, dict, str | None]:
    try:
        net = load_embedded(meta, model, path)
    except SpeccError as e:
        return {}, {}, f"outputs read by their shape: {e.message}"
    if net is None:
        return {}, {}, None
    return {r.name: r for r in read_outputs(net.graph, net.recipe)}, net.recipe, None


def _without_spec(name: str, array: np.ndarray, meta: dict, first: bool) -> OutputRead:
    """By shape; the first output as the model's metadata states it (rows of boxes, or
    numbers that are logits or probabilities)."""
    read = by_shape(name, array.ndim)
    stated = meta.get("specc.output_kind")
    if first and stated == DETECTIONS and is_detections(array):
        return OutputRead(name, DETECTIONS, -1)
    if first and read.kind == CLASSES and stated in ("logits", "probabilities"):
        return OutputRead(name, CLASSES, 1, stated)
    return read


def _labels(read: OutputRead, array: np.ndarray, meta: dict, recipe: dict) -> list:
    """The recipe's labels; else the names its data set gives that many classes."""
    if meta.get("specc.labels"):
        return meta["specc.labels"]
    if not recipe.get("data") or array.ndim < 2:
        return []
    from .. import tasks  # noqa: F401  (the demonstrations' data sets register themselves)
    from ..data.registry import class_names
    return [str(x) for x in class_names(recipe["data"], array.shape[read.axis])]
