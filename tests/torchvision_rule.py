"""The deterministic filling rule shared by tools/torchvision_reference.py (run with real
torchvision in its own venv) and the parity tests (run with specc's torch): every state_dict
tensor is a pure function of its key and shape, so a fixture needs no weights.

Pure numpy + hashlib on purpose: both environments import this file by path.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np


def uniform(key: str, n: int) -> np.ndarray:
    """n numbers in [0, 1) from a generator seeded by the key's hash (PCG64, float64)."""
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).random(n)


def fill(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The value of state_dict entry `key`: positive running variances and normalisation
    scales, small biases and means (so batch norm in eval mode is non-trivial), and
    He-uniform weights (variance 2/fan_in, so deep networks neither vanish nor explode)."""
    shape = tuple(int(d) for d in shape)
    n = math.prod(shape)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, dtype=np.int64)
    u = uniform(key, n).reshape(shape)
    if leaf == "running_var":
        out = 0.5 + u
    elif leaf == "running_mean" or (len(shape) <= 1 and leaf != "weight"):
        out = 0.2 * (u - 0.5)
    elif len(shape) <= 1:
        out = 0.5 + u  # scales of batch, layer and group norms
    else:
        bound = math.sqrt(6.0 / math.prod(shape[1:]))
        out = (2.0 * u - 1.0) * bound
    return out.astype(np.float32)


STATISTICS = ("running_mean", "running_var", "num_batches_tracked")
FROZEN = ("weight", "bias")  # FrozenBatchNorm2d's scale and shift are buffers


def is_filled(key: str, is_parameter: bool) -> bool:
    """Which state_dict entries the rule fills: every parameter, batch norm's statistics
    and a frozen batch norm's weight and bias (buffers in torchvision's detectors).
    Other buffers (Swin's and MaxViT's relative position index, Swin V2's log-spaced
    coordinate table) keep the values their model computes, so the parity check also
    compares those computations."""
    return is_parameter or key.rsplit(".", 1)[-1] in STATISTICS + FROZEN


def sample_input(shape: tuple[int, ...]) -> np.ndarray:
    """The seeded input of a parity check: uniform in [-1, 1)."""
    return (2.0 * uniform("input", math.prod(shape)) - 1.0).reshape(shape).astype(np.float32)


def projections(n: int, count: int = 4) -> np.ndarray:
    """`count` unit vectors of length n: their dot products with the flattened output
    summarise all of it in a few numbers."""
    rows = [2.0 * uniform(f"projection{i}", n) - 1.0 for i in range(count)]
    m = np.stack(rows)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def summary(output: np.ndarray, head: int = 8) -> dict:
    """What a fixture stores of an output: shape, norms, a few values, projections."""
    flat = output.astype(np.float64).reshape(-1)
    return {"shape": list(output.shape), "l2": float(np.linalg.norm(flat)),
            "max_abs": float(np.max(np.abs(flat))),
            "head": [float(v) for v in output.reshape(output.shape[0], -1)[:, :head].reshape(-1)],
            "projections": [float(v) for v in projections(flat.size) @ flat]}


def relative_error(ours: dict, theirs: dict) -> float:
    """The error of one output summary against another: the largest of the head values'
    error over the largest magnitude, and the projections' and the L2 norm's error over the
    output's L2 norm."""
    if ours["shape"] != theirs["shape"]:
        raise AssertionError(f"output shape {ours['shape']} != torchvision's {theirs['shape']}")
    l2, top = theirs["l2"], theirs["max_abs"]
    assert top > 0 and np.isfinite(l2), "a reference output must be non-trivial"
    head = np.abs(np.subtract(ours["head"], theirs["head"])).max() / top
    proj = np.abs(np.subtract(ours["projections"], theirs["projections"])).max() / l2
    return float(max(head, proj, abs(ours["l2"] - l2) / l2))
