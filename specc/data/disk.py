"""On-disk formats read from a path the user gives: MNIST IDX, CIFAR-10 binary, image folders."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from ..core.diagnostics import SpeccError
from .images import fit_images, memory_augment, memory_eval
from .registry import Dataset, register


def _folder(arg: str, name: str) -> Path:
    if not arg:
        raise SpeccError(f"data set '{name}' needs a path: --data {name}:PATH")
    p = Path(arg)
    if not p.is_dir():
        raise SpeccError(f"data set '{name}': no such folder {arg}")
    return p


# ------------------------------------------------------------------------- MNIST
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not): magic 0x0000 <type 0x08> <ndim>, big-endian dims, bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise SpeccError(f"cannot read {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SpeccError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise SpeccError(f"{path} is truncated: expected {int(np.prod(dims))} values, "
                         f"found {body.size}")
    return body.reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise SpeccError(f"mnist: {folder} has no {stem}[.gz]")


def load_mnist(arg: str, want) -> Dataset:
    folder = _folder(arg, "mnist")
    parts, notes = {}, []
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise SpeccError(f"mnist: {split} images and labels do not match")
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        parts[split] = (fit_images(x, want, "mnist", frame=images.shape[1] != want.shape[-1],
                                   notes=notes if split == "train" else None),
                        torch.from_numpy(labels.astype(np.int64)))
    return Dataset("mnist", *parts["train"], *parts["test"], 10, [str(i) for i in range(10)],
                   memory_augment(want), adaptations=notes, eval_transform=memory_eval(want))


# ---------------------------------------------------------------------- CIFAR-10
CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"]


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or data.size % 3073:
        raise SpeccError(f"{path} is not a CIFAR-10 binary batch (records of 1 + 3072 bytes)")
    records = data.reshape(-1, 3073)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)


def load_cifar10(arg: str, want) -> Dataset:
    folder = _folder(arg, "cifar10")
    if (folder / "cifar-10-batches-bin").is_dir():
        folder = folder / "cifar-10-batches-bin"
    train_files = sorted(folder.glob("data_batch_*.bin"))
    test_file = folder / "test_batch.bin"
    if not train_files or not test_file.is_file():
        raise SpeccError(f"cifar10: {folder} needs data_batch_*.bin and test_batch.bin")
    parts, notes = [], []
    for files in (train_files, [test_file]):
        batches = [read_cifar_batch(f) for f in files]
        x = torch.from_numpy(np.concatenate([b[0] for b in batches]).astype(np.float32) / 255.0)
        y = torch.from_numpy(np.concatenate([b[1] for b in batches]))
        if int(y.max()) > 9:
            raise SpeccError(f"cifar10: label {int(y.max())} out of range in {files[0]}")
        parts += [fit_images(x, want, "cifar10", notes=None if parts else notes), y]
    return Dataset("cifar10", *parts, 10, CIFAR_LABELS, memory_augment(want), adaptations=notes,
                   eval_transform=memory_eval(want))


register("mnist", load_mnist)
register("cifar10", load_cifar10)
