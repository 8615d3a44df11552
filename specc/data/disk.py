"""On-disk formats read from a path the user gives: MNIST IDX, CIFAR-10 binary, image folders."""
from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
import struct
from pathlib import Path

import numpy as np
import torch

from ..diagnostics import SpeccError
from .images import augmenter, fit_images
from .registry import Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


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
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise SpeccError(f"mnist: {split} images and labels do not match")
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        parts[split] = (fit_images(x, want, "mnist", frame=images.shape[1] != want.shape[-1]),
                        torch.from_numpy(labels.astype(np.int64)))
    return Dataset("mnist", *parts["train"], *parts["test"], 10, [str(i) for i in range(10)],
                   augmenter(want.augment, pad=2))


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
    parts = []
    for files in (train_files, [test_file]):
        batches = [read_cifar_batch(f) for f in files]
        x = torch.from_numpy(np.concatenate([b[0] for b in batches]).astype(np.float32) / 255.0)
        y = torch.from_numpy(np.concatenate([b[1] for b in batches]))
        if int(y.max()) > 9:
            raise SpeccError(f"cifar10: label {int(y.max())} out of range in {files[0]}")
        parts += [fit_images(x, want, "cifar10"), y]
    return Dataset("cifar10", *parts, 10, CIFAR_LABELS, augmenter(want.augment))


# ------------------------------------------------------------------- image folders
def load_imagefolder(arg: str, want) -> Dataset:
    folder = _folder(arg, "imagefolder")
    if (folder / "train").is_dir():
        train_root = folder / "train"
        test_root = next((folder / n for n in ("val", "test") if (folder / n).is_dir()), None)
    else:
        train_root, test_root = folder, None
    classes = sorted(p.name for p in train_root.iterdir() if p.is_dir())
    if not classes:
        raise SpeccError(f"imagefolder: {train_root} has no class folders")
    x, y = _read_images(train_root, classes, want)
    if test_root is not None:
        tx, ty = _read_images(test_root, classes, want)
    else:
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
        n_test = max(1, len(y) // 5)
        tx, ty, x, y = x[order[:n_test]], y[order[:n_test]], x[order[n_test:]], y[order[n_test:]]
    return Dataset(f"imagefolder:{arg}", x, y, tx, ty, len(classes), classes,
                   augmenter(want.augment))


def _read_images(root: Path, classes: list[str], want):
    from PIL import Image, UnidentifiedImageError
    shape = tuple(want.shape)
    if len(shape) != 3:
        raise SpeccError(f"imagefolder gives images; the network's input is {['N', *shape]}")
    _, h, w = shape
    files = [(f, label) for label, name in enumerate(classes) if (root / name).is_dir()
             for f in sorted((root / name).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise SpeccError(f"imagefolder: no images under {root}")

    def read(f: Path) -> torch.Tensor:
        """Resize the shorter side to 256/224 of the input, then take the centre crop."""
        try:
            img = Image.open(f).convert("RGB")
        except (UnidentifiedImageError, OSError) as e:
            raise SpeccError(f"imagefolder: cannot read {f}: {e}") from None
        scale = max(h, w) * 256 / 224 / min(img.size)
        img = img.resize((max(w, round(img.size[0] * scale)), max(h, round(img.size[1] * scale))))
        left, top = (img.size[0] - w) // 2, (img.size[1] - h) // 2
        img = img.crop((left, top, left + w, top + h))
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)

    if want.workers > 1:
        with ThreadPoolExecutor(want.workers) as pool:
            xs = list(pool.map(read, [f for f, _ in files]))
    else:
        xs = [read(f) for f, _ in files]
    return fit_images(torch.stack(xs), want, "imagefolder"), torch.tensor([y for _, y in files])
