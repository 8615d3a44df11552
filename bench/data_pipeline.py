"""Images/s of specc's imagefolder pipeline (decode + random-resized crop + flip + normalise in
K DataLoader workers) against a hand-written DataLoader + PIL pipeline doing the same work
with the same K, on a generated folder of full-size JPEGs (500x375 and the like, ImageNet's
shapes). Whole epochs, interleaved, medians. specc decodes a JPEG with libjpeg-turbo
(simplejpeg) straight into Pillow's RGBX memory, at 1/2, 1/4 or 1/8 size when the sample's
crop keeps enough pixels, resizes the crop box in place (PIL, bilinear), sends uint8 batches
and normalises them where they are used (on the CPU: in place, 4 samples at a time, in the
main process: its time is counted). The hand-written side is what a person writes: PIL
open + convert("RGB"), crop then resize (bilinear; specc's box resize reads the filter's
support past the crop's edges, the crop does not: they differ at the borders only), flip,
float normalise per sample in the workers, float batches.
Last line: ratio=X (specc / hand-written). Target >= 1.5.

    python bench/data_pipeline.py [--images 2000] [--workers K] [--folder PATH] [--rounds 3]
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from jpegs import image_folder  # noqa: E402

from specc.data.registry import InputSpec, load_dataset  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
AUGMENT = ({"name": "random_resized_crop", "size": None, "scale": [0.08, 1.0],
            "ratio": [3 / 4, 4 / 3]}, {"name": "hflip", "p": 0.5})


class HandFolder(torch.utils.data.Dataset):
    """What a person writes: a list of files, PIL, torchvision's RandomResizedCrop rule."""

    def __init__(self, files, labels, size):
        self.files, self.labels, self.size = files, labels, size
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from PIL import Image
        img = Image.open(self.files[i]).convert("RGB")
        left, top, w, h = self._box(*img.size)
        img = img.crop((left, top, left + w, top + h)).resize((self.size, self.size),
                                                             Image.BILINEAR)
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255)
        return (x - self.mean) / self.std, self.labels[i]

    @staticmethod
    def _box(width, height):
        area = width * height
        for _ in range(10):
            target = area * random.uniform(0.08, 1.0)
            aspect = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
            w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                return random.randint(0, width - w), random.randint(0, height - h), w, h
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side


def epoch_rate(batches, n_expected: int) -> float:
    t, n = time.perf_counter(), 0
    for x, _ in batches:
        n += len(x)
    assert n == n_expected, (n, n_expected)
    return n / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--folder", help="reuse (or create) the generated folder here")
    args = p.parse_args()
    torch.set_num_threads(1)
    root = Path(args.folder or tempfile.mkdtemp(prefix="specc-jpegs-"))
    t = time.perf_counter()
    image_folder(root, args.images)
    print(f"{args.images} JPEGs in {root} ({time.perf_counter() - t:.1f} s to make or find)")

    want = InputSpec((3, args.size, args.size), mean=MEAN, std=STD, augment=AUGMENT)
    data = load_dataset(f"imagefolder:{root}", want)
    feed = data.feed(seed=0, rank=0, world=1, per_rank=args.batch, workers=args.workers, pin=False)
    files = data.train.files
    hand_set = HandFolder([str(files.path(i)) for i in range(len(files))],
                          files.labels.tolist(), args.size)
    hand = torch.utils.data.DataLoader(hand_set, batch_size=args.batch, shuffle=True,
                                       num_workers=args.workers, persistent_workers=True)
    n = data.train_size
    rates = {"specc": [], "hand": []}
    epoch_rate(feed.epoch(0), n), epoch_rate(hand, n)  # warm-up: workers started, files cached
    for r in range(args.rounds):
        order = ("specc", "hand") if r % 2 else ("hand", "specc")
        for side in order:
            batches = feed.epoch(r + 1) if side == "specc" else hand
            rates[side].append(epoch_rate(batches, n))
    a, b = statistics.median(rates["specc"]), statistics.median(rates["hand"])
    print(f"specc imagefolder pipeline  {a:8.1f} images/s  (epochs: "
          + ", ".join(f"{v:.0f}" for v in rates["specc"]) + ")")
    print(f"hand-written DataLoader+PIL {b:8.1f} images/s  (epochs: "
          + ", ".join(f"{v:.0f}" for v in rates["hand"]) + ")")
    print(f"{n} images per epoch, {args.workers} workers, batch {args.batch}, {args.size}x{args.size}")
    print(f"ratio={a / b:.3f}")


if __name__ == "__main__":
    main()
