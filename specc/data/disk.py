"""On-disk formats read from a path the user gives: MNIST IDX, CIFAR-10 binary, image folders."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from ..core.diagnostics import SpeccError
from ..core.files import (DECODE_ERRORS, claim, decode_failure, folder_named, open_regular,
                          read_exact, unpacked_limit)
from ..core.source import printable
from .images import fit_images, memory_augment, memory_eval
from .registry import Dataset, in_memory, register


def _folder(arg: str, name: str) -> Path:
    if not arg:
        raise SpeccError(f"data set '{name}' needs a path: --data {name}:PATH")
    return folder_named(arg, f"data set '{name}'")


# ------------------------------------------------------------------------- MNIST
IDX_MAX_DIMS = 4  # MNIST's images have 3, its labels 1; EMNIST and others no more than 4
MAX_FILE_BYTES = 2 ** 32  # one IDX file or CIFAR batch (MNIST's largest is 47 MB unpacked)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not): magic 0x0000 <type 0x08> <ndim>, big-endian dims, bytes.
    The dims are checked against what the file can hold before the body is read: a file
    compressed or not, cut short, with 255 dims or dims whose product overflows, is refused."""
    where = printable(str(path))
    with open_regular(path, "MNIST IDX file") as (f, size):
        packed = path.suffix == ".gz"
        try:
            stream = gzip.GzipFile(fileobj=f, mode="rb") if packed else f
            room = unpacked_limit(size) if packed else size
            head = stream.read(4)
            if len(head) < 4 or head[:3] != b"\0\0\x08" or not 1 <= head[3] <= IDX_MAX_DIMS:
                raise SpeccError(f"{where} is not an IDX file of unsigned bytes with 1 to "
                                 f"{IDX_MAX_DIMS} dims")
            dims = struct.unpack(f">{head[3]}I", read_exact(stream, 4 * head[3], where))
            if 0 in dims:
                raise SpeccError(f"{where} holds no values (its dims are {list(dims)})")
            count = 1
            for d in dims:
                count *= d
            claim(where, 4 + 4 * len(dims) + count, room, MAX_FILE_BYTES,
                  packed=size if packed else None)
            body = read_exact(stream, count, where)
        except DECODE_ERRORS as e:
            raise decode_failure(where, e) from None
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).exists():  # read through the gate: a folder or FIFO is refused
            return folder / name
    raise SpeccError(f"mnist: {printable(str(folder))} has no {stem}[.gz]")


def load_mnist(arg: str, want) -> Dataset:
    folder = _folder(arg, "mnist")
    parts, notes = {}, []
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or not len(labels):
            raise SpeccError(f"mnist: {split} images and labels do not match (images "
                             f"{list(images.shape)}, labels {list(labels.shape)})")
        _labels_in_range(labels, 10, f"mnist: {split} labels")
        in_memory("mnist", len(images), _numel(want.shape))
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        parts[split] = (fit_images(x, want, "mnist", frame=images.shape[1] != want.shape[-1],
                                   notes=notes if split == "train" else None),
                        torch.from_numpy(labels.astype(np.int64)))
    return Dataset("mnist", *parts["train"], *parts["test"], 10, [str(i) for i in range(10)],
                   memory_augment(want), adaptations=notes, eval_transform=memory_eval(want))


# ---------------------------------------------------------------------- CIFAR-10
CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"]


CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    where = printable(str(path))
    with open_regular(path, "CIFAR-10 batch", limit=MAX_FILE_BYTES) as (f, size):
        if size == 0 or size % CIFAR_RECORD:
            raise SpeccError(f"{where} is not a CIFAR-10 binary batch (records of 1 + 3072 "
                             "bytes)")
        try:
            data = np.frombuffer(read_exact(f, size, where), dtype=np.uint8)
        except OSError as e:
            raise decode_failure(where, e) from None
    records = data.reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    _labels_in_range(labels, 10, where)
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _labels_in_range(labels: np.ndarray, classes: int, where: str) -> None:
    if labels.size and int(labels.max()) >= classes:
        raise SpeccError(f"{where}: label {int(labels.max())} is out of range (the set has "
                         f"{classes} classes, 0 to {classes - 1})")


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def load_cifar10(arg: str, want) -> Dataset:
    folder = _folder(arg, "cifar10")
    if (folder / "cifar-10-batches-bin").is_dir():
        folder = folder / "cifar-10-batches-bin"
    train_files = sorted(folder.glob("data_batch_*.bin"))
    test_file = folder / "test_batch.bin"
    if not train_files or not test_file.exists():
        raise SpeccError(f"cifar10: {printable(str(folder))} needs data_batch_*.bin and "
                         "test_batch.bin")
    parts, notes = [], []
    for files in (train_files, [test_file]):
        batches = [read_cifar_batch(f) for f in files]
        in_memory("cifar10", sum(len(b[1]) for b in batches), _numel(want.shape))
        x = torch.from_numpy(np.concatenate([b[0] for b in batches]).astype(np.float32) / 255.0)
        y = torch.from_numpy(np.concatenate([b[1] for b in batches]))
        parts += [fit_images(x, want, "cifar10", notes=None if parts else notes), y]
    return Dataset("cifar10", *parts, 10, CIFAR_LABELS, memory_augment(want), adaptations=notes,
                   eval_transform=memory_eval(want))


register("mnist", load_mnist)
register("cifar10", load_cifar10)
