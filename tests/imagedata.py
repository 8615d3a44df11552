"""Small image data sets written in the real formats with Pillow (nothing is downloaded):
folders of JPEGs, WebDataset tar shards."""
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def picture(rng, label: int, size=(40, 48)) -> np.ndarray:
    """Noise with one colour channel saturated by the class: learnable, every image distinct."""
    h, w = size
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    a[..., label % 3] = 255
    return a


def jpeg_bytes(a: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def image_folder(root: Path, per_class: int, classes: int = 3, val: int = 0, seed: int = 0,
                 sizes=((30, 60), (30, 60))) -> Path:
    """root/[train|.]/classK/NNNN.jpg of random sizes; val/ too when val > 0."""
    rng = np.random.default_rng(seed)
    splits = (("train", per_class), ("val", val)) if val else ((".", per_class),)
    for split, n in splits:
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                size = (int(rng.integers(*sizes[0])), int(rng.integers(*sizes[1])))
                (folder / f"{i:04d}.jpg").write_bytes(jpeg_bytes(picture(rng, c, size)))
    return root


def shards(root: Path, name: str, count: int, per_shard: int, classes: int = 3, seed: int = 0):
    """root/NAME-000.tar ...: KEY.jpg + KEY.cls per sample."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for s in range(count):
        with tarfile.open(root / f"{name}-{s:03d}.tar", "w") as tar:
            for i in range(per_shard):
                label = int(rng.integers(0, classes))
                for ext, data in (("jpg", jpeg_bytes(picture(rng, label))),
                                  ("cls", str(label).encode())):
                    info = tarfile.TarInfo(f"{name}{s}_{i:05d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return root


def truncate(path: Path, keep: float = 0.4) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
