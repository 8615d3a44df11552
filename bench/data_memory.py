"""Peak memory of `specc train ... --data imagefolder:PATH --steps 20` (the main process and its
DataLoader workers, proportional set size summed, sampled every 20 ms) for a folder of 2,000
and one of 8,000 generated JPEGs: memory must not grow with the number of images.
Last line: ratio=X (growth from 2,000 to 8,000 images / 100 MB). Target < 1.

    python bench/data_memory.py [--small 2000] [--large 8000] [--workers 2]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from jpegs import image_folder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = """specc 1
network small {
    input image: f32[N, 3, 64, 64]
    c = relu(conv(image, 16, 3, stride=2, padding=1))
    output logits = linear(flatten(global_avgpool(c)), 10)
    train {
        batch_size = 32
        optimizer = sgd(lr=0.1, momentum=0.9)
        augment = [random_resized_crop, hflip]
        mean = [0.485, 0.456, 0.406]
        std = [0.229, 0.224, 0.225]
    }
}
"""


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (tid / "children").read_text().split()]
        except OSError:
            pass
    return out


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak(folder: Path, spec: Path, out: Path, workers: int) -> float:
    cmd = [sys.executable, "-m", "specc", "train", str(spec), "--data", f"imagefolder:{folder}",
           "--steps", "20", "--eval-steps", "2", "--workers", str(workers), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    top = 0
    while proc.poll() is None:
        top = max(top, sum(pss_kb(p) for p in tree(proc.pid)))
        time.sleep(0.02)
    if proc.returncode != 0:
        sys.exit(f"specc train failed:\n{proc.stderr.read().decode()[-2000:]}")
    return top / 1024


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--small", type=int, default=2000)
    p.add_argument("--large", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scale", type=float, default=0.5, help="image size factor (speed)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = tmp / "small.net"
        spec.write_text(SPEC)
        mb = {}
        for n in (args.small, args.large):
            image_folder(tmp / f"img{n}", n, scale=args.scale)
            mb[n] = peak(tmp / f"img{n}", spec, tmp / f"run{n}", args.workers)
            print(f"{n:6d} images: peak {mb[n]:7.1f} MB (main process + {args.workers} workers, PSS)")
    growth = mb[args.large] - mb[args.small]
    print(f"growth {growth:+.1f} MB from {args.small} to {args.large} images (target < 100 MB)")
    print(f"ratio={growth / 100:.3f}")


if __name__ == "__main__":
    main()
