"""Images/s of `specc predict` over a folder of generated full-size JPEGs (~500x375) against a
hand-written single-process loop (read, decode, resize, centre crop, normalise, onnxruntime)
on the same cores, both as whole processes (start-up and imports included), interleaved,
medians; then the Ray path (`--ray auto`, onto a local Ray instance this bench starts once,
as a cluster user's would already run), same model, same images.

    python bench/predict.py [--images 2000] [--rounds 2] [--folder PATH] [--no-ray]

Last line: ratio=X (specc predict / hand-written loop). Targets: >= 0.9; Ray >= 0.8.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from jpegs import image_folder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HAND = r'''
import sys, numpy as np, onnxruntime as ort
from pathlib import Path
from PIL import Image
model, folder, batch, threads = sys.argv[1], Path(sys.argv[2]), 64, int(sys.argv[4])
mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
std = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
files = sorted(folder.rglob("*.jpg"))
rows = 0
def load(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.BILINEAR)
    left, top = (img.width - 224) // 2, (img.height - 224) // 2
    img = img.crop((left, top, left + 224, top + 224))
    x = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0
    return (x - mean) / std
with open(sys.argv[3], "w") as out:
    for s in range(0, len(files), batch):
        x = np.stack([load(f) for f in files[s:s + batch]])
        y = sess.run(None, {name: x})[0]
        for f, row in zip(files[s:s + batch], y):
            out.write(f"{f.name},{int(row.argmax())}\n")
            rows += 1
print(rows)
'''


def timed(cmd, env) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--folder", help="reuse (or create) the generated folder here")
    p.add_argument("--net", default="specs/mobilenet.net:mobilenet_v3_small")
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per side first (0: the "
                   "files are already in the page cache)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads, both sides "
                   "(default 1: this 2-core machine is shared; specc's DataLoader workers "
                   "decode beside them, the hand-written loop decodes in its one process)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="specc-predict-"))
    root = Path(args.folder or work / "jpegs")
    image_folder(root, args.images)
    model = work / "model.onnx"
    env = {**os.environ}
    subprocess.run([sys.executable, "-m", "specc", "export", args.net, "-o", model, "--no-verify"],
                   cwd=ROOT, check=True, capture_output=True)
    threads = str(args.threads)  # the same onnxruntime threads on both sides
    specc = [sys.executable, "-m", "specc", "predict", str(model), "--data", f"imagefolder:{root}",
             "--out", str(work / "p.csv"), "--force", "--top-k", "1", "--batch-size", "64",
             "--threads", threads]
    hand = [sys.executable, "-c", HAND, str(model), str(root), str(work / "h.csv"), threads]
    sides = {"specc": specc, "hand": hand}
    cluster = None
    if not args.no_ray:
        import ray
        cluster = ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False,
                           log_to_driver=False)
        sides["ray"] = specc + ["--ray", "auto", "--ray-workers", "2"]
    times = {k: [] for k in sides}
    for _ in range(args.warmup):  # the files in the page cache, Ray's workers started
        for cmd in sides.values():
            timed(cmd, env)
    for r in range(args.rounds):
        for k in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            times[k].append(timed(sides[k], env))
    if cluster is not None:
        import ray
        ray.shutdown()
    rate = {k: args.images / statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:6s} {rate[k]:7.1f} images/s  (runs: " + ", ".join(f"{t:.1f} s" for t in v)
              + ")")
    print(f"{args.images} JPEGs, {args.net}, {args.threads} onnxruntime thread(s) each, "
          f"{len(os.sched_getaffinity(0))} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    if "ray" in rate:
        print(f"ray_ratio={rate['ray'] / rate['hand']:.3f}")
    print(f"ratio={rate['specc'] / rate['hand']:.3f}")


if __name__ == "__main__":
    main()
