"""`imagefolder:PATH`: class folders of image files, read lazily, one sample at a time.

Only the file list is held (as one numpy byte array, so that forked DataLoader workers never
touch Python objects' reference counts and copy the pages: pytorch#13246); images are decoded
and augmented per sample, per epoch, in the workers. An unreadable or truncated file does not
stop an epoch: the next file stands in for it and the trainer names the file once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.diagnostics import SpeccError
from ..core.files import folder_named
from ..core.images import IMAGE_SUFFIXES, is_image
from ..core.source import printable
from .images import BadImage, open_image
from .registry import register
from .stream import MAX_STAND_INS, StreamData



@dataclass
class FileList:
    """Paths (bytes, relative to root) and labels, in a fixed order."""

    root: Path
    paths: np.ndarray  # dtype S
    labels: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "FileList":
        return FileList(self.root, self.paths[index], self.labels[index])

    def path(self, i: int) -> Path:
        return self.root / os.fsdecode(bytes(self.paths[i]))


def class_folders(root: Path) -> list[str]:
    try:
        names = sorted(e.name for e in os.scandir(root) if e.is_dir() and
                       not e.name.startswith("."))
    except OSError as e:
        raise SpeccError(f"imagefolder: cannot list {printable(str(root))}: "
                         f"{e.strerror}") from None
    if not names:
        raise SpeccError(f"imagefolder: {root} has no class folders",
                         notes=("expected ROOT/CLASS/IMAGE files, or ROOT/train/CLASS/... "
                                "and ROOT/val/CLASS/...",))
    return names


def scan(root: Path, classes: list[str]) -> FileList:
    """Every image file under root/CLASS/ (one level), sorted, labelled by class index."""
    paths, labels = [], []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            continue
        try:
            with os.scandir(folder) as entries:
                files = sorted(e.name for e in entries if not e.name.startswith(".")
                               and is_image(e.name))
        except OSError as e:
            raise SpeccError(f"imagefolder: cannot list {printable(str(folder))}: "
                             f"{e.strerror}") from None
        paths += [os.fsencode(os.path.join(name, f)) for f in files]
        labels += [label] * len(files)
    if not paths:
        raise SpeccError(f"imagefolder: no images under {root}",
                         notes=(f"image files end in {', '.join(IMAGE_SUFFIXES)}",))
    return FileList(root, np.array(paths, dtype=bytes), np.array(labels, dtype=np.int32))


def split(arg: str) -> tuple[FileList, FileList, list[str]]:
    """train/ and val/ (or test/) if present; else a fixed fifth held out for testing."""
    if not arg:
        raise SpeccError("data set 'imagefolder' needs a path: --data imagefolder:PATH")
    folder = folder_named(arg, "data set 'imagefolder'")
    if (folder / "train").is_dir():
        classes = class_folders(folder / "train")
        test_root = next((folder / n for n in ("val", "test") if (folder / n).is_dir()), None)
        train = scan(folder / "train", classes)
        if test_root is not None:
            return train, scan(test_root, classes), classes
    else:
        classes = class_folders(folder)
        train = scan(folder, classes)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).numpy()
    n_test = max(1, len(train) // 5)
    return train.take(np.sort(order[n_test:])), train.take(np.sort(order[:n_test])), classes


class FolderSet(torch.utils.data.Dataset):
    """Map-style: key (index, seed) -> ((uint8 image, pixel shift), label, files that had to
    be skipped). The worker decodes (a JPEG at the reduced size the sample's crop allows) and
    draws the geometry; `transform.finish` normalises the batch where it will be used."""

    def __init__(self, files: FileList, transform):
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key):
        i, seed = key
        skipped = []
        for attempt in range(MAX_STAND_INS):
            j = (i + attempt) % len(self.files)
            path = self.files.path(j)
            try:
                img, full = open_image(path, lambda size: self.transform.reduction(size, seed))
            except BadImage as e:
                skipped.append((str(path), str(e)))
                continue
            return self.transform.raw(img, seed, full), int(self.files.labels[j]), skipped
        return None, -1, skipped


def peek(files: FileList) -> tuple[str, tuple]:
    """Mode and size of the first readable image, for the adaptation line."""
    for i in range(min(len(files), MAX_STAND_INS)):
        try:
            img, _ = open_image(files.path(i))
            return ("RGB" if img.mode == "RGBX" else img.mode), img.size  # RGBX: RGB, padded
        except BadImage:
            continue
    return "", (0, 0)


def load_imagefolder(arg: str, want):
    from .transforms import SampleTransform, default_eval
    train, test, classes = split(arg)
    train_tf = SampleTransform(list(want.augment), want, files=True)
    test_tf = SampleTransform(list(want.eval_transform) or default_eval(), want, files=True)
    return StreamData(f"imagefolder:{arg}", len(classes), classes, FolderSet(train, train_tf),
                      FolderSet(test, test_tf), len(train), len(test),
                      file_notes(peek(train), train_tf, test_tf))


def file_notes(first: tuple, train_tf, test_tf) -> list[str]:
    """How image files become the network's input, for the adaptation line."""
    mode, (w, h) = first
    c = train_tf.channels
    size = "x".join(map(str, train_tf.size))
    notes = [f"images decoded per sample (the first is {w}x{h} {mode or '?'}) to {c}x{size}: "
             f"train {train_tf.describe()}, test {test_tf.describe()}"]
    if mode in ("L", "1", "I", "F") and c == 3:
        notes.append("channels 1->3 (grey copied)")
    elif mode not in ("L", "1", "I", "F", "") and c == 1:
        notes.append(f"channels {len(mode)}->1 (grey)")
    return notes


register("imagefolder", load_imagefolder)
