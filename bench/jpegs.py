"""Generated image folders for the data benches: JPEGs of photo-like sizes written with Pillow
(nothing is downloaded). Smooth gradients plus noise, so the files compress like photographs
rather than like white noise."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SIZES = ((500, 375), (375, 500), (500, 333), (640, 480), (400, 400))  # ImageNet-like shapes


def _write(args) -> None:
    from PIL import Image
    path, seed, size = args
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([(x * rng.uniform(0.1, 0.6) + y * rng.uniform(0.1, 0.6)) % 256
                     for _ in range(3)], -1)
    noise = rng.normal(0, 12, (h, w, 3))
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=85)


def image_folder(root: Path, images: int, classes: int = 10, scale: float = 1.0,
                 processes: int | None = None) -> Path:
    """root/classK/NNNNNN.jpg, `images` in all; `scale` shrinks the sizes (tiny CI mode).
    An existing complete folder is reused."""
    root = Path(root)
    marker = root / f".complete-{images}-{classes}-{scale}"
    if marker.exists():
        return root
    jobs = []
    for i in range(images):
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        w, h = SIZES[i % len(SIZES)]
        jobs.append((folder / f"{i:06d}.jpg", i, (max(8, int(w * scale)), max(8, int(h * scale)))))
    workers = processes or max(1, min(8, len(os.sched_getaffinity(0))))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write, jobs, chunksize=64))
    marker.touch()
    return root
