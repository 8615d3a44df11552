"""What `specc predict` reads: a data source as an ordered list of items, each decoded on its
own (so any worker may take any item, and a resumed job starts at an item number).

    imagefolder:PATH       every image under PATH's class folders (train/ and val/ too);
                           the class folder is the row's label
    webdataset:PATH        local .tar shards (a folder or a brace pattern); the images are
                           found by their tar headers and read by offset, never unpacked
    PATH/                  a folder of images, searched recursively
    FILE.npy               the rows of an array (memory-mapped)

Images from a data set (imagefolder, webdataset) go through the model's evaluation transform,
as `specc run --data` reads them; images from a plain folder are fitted to the input as
`specc run IMAGE` fits them. Either way the answer equals `specc run`'s for the same input.
"""
from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.diagnostics import SpeccError
from ..core.files import check_regular

from ..data.folder import IMAGE_SUFFIXES


@dataclass
class Items:
    """The source's items in order: keys (bytes), and how to read each."""

    name: str
    kind: str  # "files", "eval-files", "shards", "array"
    keys: np.ndarray  # dtype S: the row's key (a path relative to root, shard:key, FILE[i])
    labels: np.ndarray | None  # int32 class of each item, or None
    root: Path | None = None
    where: np.ndarray | None = None  # shards: (shard index, data offset, size) per item
    shards: list | None = None
    array: str | None = None  # the .npy file
    inputs: tuple = ()  # files this source reads that an output must not overwrite

    def __len__(self) -> int:
        return len(self.keys)


def open_source(source: str) -> Items:
    kind, sep, arg = source.partition(":")
    if sep and kind == "imagefolder":
        return _imagefolder(arg)
    if sep and kind == "webdataset":
        return _shards(arg)
    path = Path(os.path.expanduser(source))
    if path.is_dir():
        return _folder(path)
    if path.suffix.lower() == ".npy":
        return _array(path)
    if path.exists():
        raise SpeccError(f"--data {source}: predict reads a folder of images, a .npy file, "
                         "imagefolder:PATH or webdataset:PATH")
    raise SpeccError(f"--data {source}: no such file or folder")


def _imagefolder(arg: str) -> Items:
    from ..data.folder import class_folders, scan
    root = Path(os.path.expanduser(arg))
    if not root.is_dir():
        raise SpeccError(f"imagefolder: no such folder {arg}")
    parts = [p for p in ("train", "val", "test") if (root / p).is_dir()] or [""]
    classes = class_folders(root / parts[0])
    keys, labels = [], []
    for part in parts:
        files = scan(root / part, classes)
        prefix = os.fsencode(part + "/") if part else b""
        keys += [prefix + bytes(p) for p in files.paths]
        labels.append(files.labels)
    return Items(f"imagefolder:{arg}", "eval-files", np.array(keys, dtype=bytes),
                 np.concatenate(labels), root=root)


def _folder(root: Path) -> Items:
    keys = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(folder, root)
        keys += [os.fsencode(os.path.normpath(os.path.join(rel, f))) for f in sorted(files)
                 if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES)]
    if not keys:
        raise SpeccError(f"no images in {root}", notes=(f"image files end in "
                                                        f"{', '.join(IMAGE_SUFFIXES)}",))
    return Items(str(root), "files", np.array(keys, dtype=bytes), None, root=root)


def _array(path: Path) -> Items:
    from ..runtime.model import check_npy
    check_regular(path, ".npy file")
    shape = check_npy(path)
    if not shape:
        raise SpeccError(f"{path} holds a scalar; predict reads an array of samples")
    keys = np.array([f"{path.name}[{i}]".encode() for i in range(shape[0])], dtype=bytes)
    return Items(str(path), "array", keys, None, array=str(path), inputs=(str(path),))


def _shards(arg: str) -> Items:
    from ..data.shards import IMAGE_EXTS, LABEL_EXT, shard_urls
    train, val = shard_urls(arg)
    urls = sorted(set(train) | set(val))
    remote = [u for u in urls if "://" in u or u.startswith("pipe:")]
    if remote:
        raise SpeccError(f"predict reads local shards; {remote[0]} is remote",
                         notes=("copy the shards here first (or run `specc predict --ray` "
                                "where they are local)",))
    keys, labels, where = [], [], []
    for s, url in enumerate(urls):
        for key, offset, size, label in _shard_index(url, IMAGE_EXTS, LABEL_EXT):
            keys.append(f"{Path(url).name}:{key}".encode())
            labels.append(label)
            where.append((s, offset, size))
    if not keys:
        raise SpeccError(f"webdataset: no images in {arg}")
    has_labels = all(x >= 0 for x in labels)
    return Items(f"webdataset:{arg}", "shards", np.array(keys, dtype=bytes),
                 np.array(labels, dtype=np.int32) if has_labels else None,
                 where=np.array(where, dtype=np.int64), shards=urls)


def _shard_index(path: str, image_exts, label_ext):
    """(key, image offset, image size, label or -1) per sample, from the tar headers."""
    found: dict = {}
    try:
        with tarfile.open(path, "r:") as tar:
            for m in tar:
                if not m.isreg():
                    continue
                folder, _, file = m.name.rpartition("/")
                stem, _, ext = file.partition(".")
                key = f"{folder}/{stem}" if folder else stem
                entry = found.setdefault(key, {})
                if ext.lower() == label_ext:
                    entry["label"] = tar.extractfile(m).read()
                elif ext.lower() in image_exts and "image" not in entry:
                    entry["image"] = (m.offset_data, m.size)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise SpeccError(f"webdataset: cannot read shard {path}: {e}") from None
    for key, entry in found.items():
        if "image" in entry:
            try:
                label = int(entry["label"].decode().strip()) if "label" in entry else -1
            except ValueError:
                label = -1
            yield key, *entry["image"], label


class Decoded:
    """item number -> (item number, float32 array shaped for the model or None, why not):
    a map-style data set for torch's DataLoader (run in its workers) and for Ray's actors.
    An unreadable item is reported, never stood in for."""

    def __init__(self, items: Items, model_dims: list, spec, meta: dict):
        self.items, self.dims, self.meta = items, model_dims, meta
        self.transform = None
        if items.kind in ("eval-files", "shards"):
            from ..data.transforms import SampleTransform, default_eval
            self.transform = SampleTransform(list(spec.eval_transform) or default_eval(),
                                             spec, files=True)
        self._array = None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        try:
            return i, self._read(i), ""
        except SpeccError as e:
            return i, None, e.message
        except Exception as e:  # noqa: BLE001 - PIL and numpy fail in many ways on bad files
            return i, None, str(e).splitlines()[0][:200] if str(e) else type(e).__name__

    def _read(self, i: int) -> np.ndarray:
        it = self.items
        if it.kind == "array":
            if self._array is None:
                self._array = np.load(it.array, mmap_mode="r", allow_pickle=False)
            return np.asarray(self._array[i], dtype=np.float32)
        if it.kind == "files":
            from ..runtime.model import image_array
            path = it.root / os.fsdecode(bytes(it.keys[i]))
            return image_array(str(path), self.dims, self.meta)[0]
        img, full = self._decode(i)
        return self.transform.image(img, 0, full).numpy()

    def _decode(self, i: int):
        """(image, its full size): a JPEG decoded as small as the evaluation crop allows."""
        from ..data.folder import BadImage, decode
        it = self.items
        plan = lambda size: self.transform.reduction(size, 0)  # noqa: E731
        if it.kind == "eval-files":
            try:
                return decode(it.root / os.fsdecode(bytes(it.keys[i])), plan)
            except BadImage as e:
                raise SpeccError(str(e)) from None
        import io
        shard, offset, size = (int(v) for v in it.where[i])
        with open(it.shards[shard], "rb") as f:
            f.seek(offset)
            data = f.read(size)
        try:
            return decode(io.BytesIO(data), plan)
        except BadImage as e:
            raise SpeccError(str(e)) from None


def collate(samples):
    """(item numbers, stacked arrays of the readable ones, [(item, why)] of the others)."""
    good = [(i, x) for i, x, _ in samples if x is not None]
    bad = [(i, why) for i, x, why in samples if x is None]
    x = np.stack([x for _, x in good]) if good else None
    return [i for i, _ in good], x, bad
