"""Weights in files: a checkpoint or run folder read into tensors by name, neither the
trainer's business nor a backend's. The trainer writes checkpoints (specc.train.checkpoint);
export, run and the trainer's resume all read them here.

A checkpoint holds `model/<name>` tensors (the state dict) beside the optimiser's and the
RNG's, and JSON metadata under one key; a plain safetensors state dict (torchvision weights
saved with safetensors) reads as the model's tensors."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .diagnostics import SpeccError
from .files import pinned
from .source import printable

META_KEY = "specc"


def _unpack(meta: dict, p: Path) -> dict:
    """The metadata fields, from the one packed key (or an older file's separate keys)."""
    if META_KEY not in meta:
        return meta
    try:
        fields = json.loads(meta[META_KEY])
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise SpeccError(f"{printable(str(p))} has damaged metadata (not a specc checkpoint?)")
    return fields


def read_checkpoint(path: str | Path) -> tuple[dict, dict]:
    """(tensors by name, metadata fields) of a checkpoint or a run folder's checkpoint,
    opened through the file gate; safetensors checks its header against the file's size
    before anything is allocated."""
    p = Path(path)
    if os.path.isdir(p):
        p = p / "checkpoint.safetensors"
    if not os.path.lexists(p):
        raise SpeccError(f"no checkpoint at {printable(str(path))}")
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file
    with pinned(p, "checkpoint") as (own, _):
        try:
            tensors = load_file(own)
            with safe_open(own, "pt") as f:
                meta = _unpack(f.metadata() or {}, p)
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise SpeccError(f"{printable(str(p))} is not a readable checkpoint (corrupt or not "
                             f"safetensors): {printable(str(e).splitlines()[0][:200])}") from None
    return tensors, meta


MAX_LABELS = 1 << 20  # class names a checkpoint may carry (a vocabulary, ImageNet's 21k)
MAX_LABEL = 256  # characters in one


def trained_labels(meta: dict, source) -> list[str]:
    """The class names (or vocabulary) of the data a checkpoint's run trained on, from its
    info ([] where it holds none): an export of it names its outputs with them. A file
    from someone else is checked, never echoed."""
    try:
        info = json.loads(meta.get("info", "{}"))
    except (TypeError, ValueError):
        raise SpeccError(f"{printable(str(source))} has damaged metadata (its info is not "
                         "JSON)") from None
    labels = info.get("labels", []) if isinstance(info, dict) else []
    problem = labels_problem(labels)
    if problem:
        raise SpeccError(f"{printable(str(source))}: {problem}")
    return labels


def labels_problem(labels) -> str | None:
    """Why `labels` cannot be a checkpoint's class names, or None."""
    if isinstance(labels, list) and len(labels) <= MAX_LABELS and all(
            isinstance(x, str) and len(x) <= MAX_LABEL for x in labels):
        return None
    return (f"info.labels must be a list of at most {MAX_LABELS:,} texts of up to "
            f"{MAX_LABEL} characters")


def model_state(tensors: dict) -> dict:
    if any(k.startswith("model/") for k in tensors):
        return {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    return tensors  # a plain state dict (e.g. torchvision weights saved with safetensors)


def check_fit(own: dict, state: dict, source: str, kinds: dict | None = None) -> None:
    """`state` (name -> tensor or array) holds exactly the tensors `own` (name -> shape)
    wants, each of its shape (and, given `kinds`: name -> the network's dtype, of the same
    kind: floating point, integer, bool or complex); else one error lists every missing,
    unexpected or mis-shaped tensor."""
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {list(state[k].shape)}, network {list(own[k])}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k])]
    types = [f"{k}: checkpoint {state[k].dtype}, network {kinds[k]}" for k in own
             if kinds and k in state and dtype_kind(state[k].dtype) != dtype_kind(kinds[k])]
    if missing or extra or shapes or types:
        notes = []
        if missing:
            notes.append(f"missing ({len(missing)}): {', '.join(missing[:8])}")
        if extra:
            notes.append(f"unexpected ({len(extra)}): {', '.join(extra[:8])}")
        notes += [f"shape {s}" for s in shapes[:8]] + [f"dtype {t}" for t in types[:8]]
        raise SpeccError(f"{printable(str(source))} does not fit this network",
                         notes=tuple(printable(n)[:300] for n in notes))


def dtype_kind(dtype) -> str:
    """'float', 'int', 'bool' or 'complex', for a torch or a numpy dtype."""
    name = str(dtype).rpartition(".")[2]
    if name == "bool":
        return "bool"
    if "complex" in name:
        return "complex"
    return "float" if "float" in name or name == "half" else "int"
