"""int8 through `specc export --int8`, reported honestly.

1. LeNet-5 trained on the bundled digits (`specc train`), quantized on 256 training samples:
   top-1 agreement with fp32 and both accuracies on the 359 held-out digits.
2. ResNet-50 (seeded weights) quantized on generated images: onnxruntime latency of the
   int8 and the fp32 model at batch 1 and 8, interleaved in this process, medians; and
   whether this CPU has VNNI-class int8 instructions (/proc/cpuinfo), without which
   onnxruntime's int8 kernels are often slower than fp32 (onnxruntime issues 20052, 17389).

    python bench/quantize.py [--net specs/resnet.net:resnet50] [--runs 20] [--skip-lenet]
                             [--int8-target auto|avx2|vnni|arm]

Last line: ratio=X (fp32 latency / int8 latency at batch 1; above 1: int8 is faster).
Targets: agreement >= 99 %, accuracy drop <= 0.5 points; ratio >= 1.5 where VNNI exists.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from jpegs import image_folder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def specc(*args) -> str:
    r = subprocess.run([sys.executable, "-m", "specc", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"specc {' '.join(map(str, args))} failed:\n{r.stderr[-3000:]}")
    return r.stdout


def lenet(work: Path, target: str) -> None:
    specc("train", "specs/lenet5.net", "--out", work / "lenet")
    out = specc("export", "specs/lenet5.net", "--weights", work / "lenet", "-o",
                work / "lenet8.onnx", "--int8", "--calibrate", "digits", "--json",
                "--int8-target", target)
    s = json.loads(out.splitlines()[-1])
    drop = (s["accuracy_fp32"] - s["accuracy_int8"]) * 100
    print(f"LeNet-5 on digits: top-1 agreement {s['top1_agreement']:.2%} on {s['held_out']} "
          f"held-out digits; accuracy fp32 {s['accuracy_fp32']:.2%}, int8 "
          f"{s['accuracy_int8']:.2%} (drop {drop:.2f} points)")


def latency(fp32: Path, int8: Path, batch: int, runs: int) -> tuple[float, float]:
    from specc.backends.ort import open_session
    from specc.train.threads import plan
    threads = plan().threads
    sessions = [open_session(p, "cpu", threads=threads)[0] for p in (fp32, int8)]
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    name = sessions[0].get_inputs()[0].name
    times = [[], []]
    for s in sessions:
        s.run(None, {name: x})
    for r in range(runs):
        for k in (0, 1) if r % 2 == 0 else (1, 0):
            t = time.perf_counter()
            sessions[k].run(None, {name: x})
            times[k].append((time.perf_counter() - t) * 1e3)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    from specc.deploy.quantize import cpu_int8
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="specs/resnet.net:resnet50")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--skip-lenet", action="store_true")
    p.add_argument("--int8-target", default="auto", help="as specc export's (default auto)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="specc-quantize-"))
    print(f"CPU: {cpu_int8()}; {len(os.sched_getaffinity(0))} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    if not args.skip_lenet:
        lenet(work, args.int8_target)
    folder = image_folder(work / "jpegs", args.images)
    fp32, int8 = work / "fp32.onnx", work / "int8.onnx"
    specc("export", args.net, "-o", fp32)
    out = specc("export", args.net, "-o", int8, "--int8", "--calibrate",
                f"imagefolder:{folder}", "--calibration-samples", "32", "--json",
                "--int8-target", args.int8_target)
    s = json.loads(out.splitlines()[-1])
    print(f"int8 for {s['target']}")
    print(f"{args.net}: int8 top-1 agreement with fp32 {s['top1_agreement']:.2%} on "
          f"{s['held_out']} generated images (seeded weights: not a measure of accuracy); "
          f"sizes fp32 {fp32.stat().st_size / 1e6:.1f} MB, int8 {int8.stat().st_size / 1e6:.1f} MB")
    ratio = None
    for batch in (1, 8):
        a, b = latency(fp32, int8, batch, args.runs)
        word = "faster" if a > b else "SLOWER"
        print(f"batch {batch}: fp32 {a:.1f} ms, int8 {b:.1f} ms: int8 {a / b:.2f}x ({word})")
        ratio = ratio or a / b
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
