"""A transformer costs what its size says: `specc export specs/vit.net:vit_b_16` (compile,
build the weights, emit, verify against onnxruntime) as a whole process against the same for
ResNet-50, interleaved in one run. ViT-B/16 has 3.4x the parameters and 4.3x the MACs, and
the exporter must not add more on top. Last line: ratio=X (ViT-B/16 / ResNet-50 / 2).
Target <= 1.0.

    python bench/transformer_speed.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"resnet50": "specs/resnet.net:resnet50", "vit_b_16": "specs/vit.net:vit_b_16"}


def export(target: str, out: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "specc", "export", target, "-o", str(out)], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    times = {k: [] for k in TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            order = list(TARGETS) if i % 2 == 0 else list(TARGETS)[::-1]
            for name in order:
                times[name].append(export(TARGETS[name], Path(tmp) / f"{name}.onnx"))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"specc export {TARGETS[k]} (verified, process): {v:.2f} s")
    print(f"vit_b_16 / resnet50: {med['vit_b_16'] / med['resnet50']:.2f}x (target <= 2)")
    print(f"ratio={med['vit_b_16'] / med['resnet50'] / 2:.2f}")


if __name__ == "__main__":
    main()
