"""ResNet-50 training images/s: specc's lowered module against torchvision's layout written by
hand in plain PyTorch, both with bf16 autocast, channels-last and torch.compile. First on
synthetic tensors already on the device (compute-bound), then fed by specc's imagefolder
pipeline from a generated folder of JPEGs (decode + random-resized crop + flip in K workers,
pinned memory): input-bound versus compute-bound is the difference of the two.
Last line: ratio=X (specc / hand-written, synthetic data).

    python bench/gpu_train.py                 # a CUDA device: fits one 15-minute stay
    python bench/gpu_train.py --tiny          # CPU, tiny sizes, eager: keeps the script working
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import specc  # noqa: E402
from handwritten import BottleneckResNet  # noqa: E402
from jpegs import image_folder  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def make(side: str, device, compile_: bool):
    model = (specc.load(SPECS / "resnet.net", "resnet50").to_torch(seed=0) if side == "specc"
             else BottleneckResNet((3, 4, 6, 3)))
    model = model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    step_model = torch.compile(model) if compile_ else model
    return step_model, opt


def step(model, opt, x, y, device) -> None:
    with torch.autocast(device.type, dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x).float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def timed(model, opt, batches, device, sync) -> float:
    """images/s over the given (x, y) batches, after they reach the device."""
    sync()
    t, n = time.perf_counter(), 0
    for x, y in batches:
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        step(model, opt, x, y.to(device, non_blocking=True), device)
        n += len(y)
    sync()
    return n / (time.perf_counter() - t)


def synthetic(models, args, device, sync) -> dict:
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(0, 1000, (args.batch,), device=device)
    for name, (model, opt) in models.items():  # warm-up: compilation, cuDNN autotuning
        t = time.perf_counter()
        timed(model, opt, [(x, y)] * args.warmup, device, sync)
        what = ", compiling" if not args.no_compile else ""
        print(f"  {name}: warm-up ({args.warmup} steps{what}) {time.perf_counter() - t:.1f} s")
    rates = {k: [] for k in models}
    for r in range(args.rounds):
        for name in (list(models) if r % 2 == 0 else list(models)[::-1]):
            rates[name].append(timed(*models[name], [(x, y)] * args.steps, device, sync))
    return rates


def figure(rates: list) -> str:
    """The median images/s of the rounds, and every round's."""
    def show(r):
        return f"{r:.1f}" if r >= 10 else f"{r:.3f}"
    each = ", ".join(show(r) for r in rates)
    return f"{show(statistics.median(rates)):>9} images/s (median of {len(rates)}: {each})"


def pipeline(models, args, device, sync) -> tuple[dict, list]:
    if args.folder:
        return _pipeline(Path(args.folder), models, args, device, sync)
    with tempfile.TemporaryDirectory(prefix="specc-jpegs-") as tmp:
        return _pipeline(Path(tmp), models, args, device, sync)


def _pipeline(folder: Path, models, args, device, sync) -> tuple[dict, list]:
    from specc.data.registry import InputSpec, load_dataset
    t = time.perf_counter()
    image_folder(folder, args.images, scale=args.scale)
    print(f"  {args.images} JPEGs in {folder} ({time.perf_counter() - t:.1f} s)")
    augment = ({"name": "random_resized_crop", "size": None, "scale": [0.08, 1.0],
                "ratio": [3 / 4, 4 / 3]}, {"name": "hflip", "p": 0.5})
    data = load_dataset(f"imagefolder:{folder}",
                        InputSpec((3, args.size, args.size), mean=MEAN, std=STD, augment=augment))
    feed = data.feed(seed=0, rank=0, world=1, per_rank=args.batch, workers=args.workers,
                     pin=device.type == "cuda")
    steps = min(args.steps, len(feed))

    def batches(epoch):
        for i, b in enumerate(feed.epoch(epoch)):
            if i >= steps:
                break
            yield b

    def alone(epoch) -> float:  # the pipeline by itself: decode, augment, collate
        t, n = time.perf_counter(), 0
        for x, _ in batches(epoch):
            n += len(x)
        return n / (time.perf_counter() - t)
    alone(0)  # the workers' start-up and the page cache, counted for no one
    sides = {"alone": alone, **{name: (lambda e, m=m: timed(*m, batches(e), device, sync))
                                for name, m in models.items()}}
    rates = {k: [] for k in sides}
    for r in range(args.rounds):  # every side on the same epochs' images, in turn
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            rates[name].append(sides[name](r + 1))
    feed.close()
    return {k: rates[k] for k in models}, rates["alone"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=224, help="image side (the network's is 224)")
    p.add_argument("--images", type=int, default=6000)
    p.add_argument("--scale", type=float, default=1.0, help="size factor of the generated JPEGs")
    p.add_argument("--workers", type=int, default=max(1, min(16, len(os.sched_getaffinity(0)) - 1)))
    p.add_argument("--folder", help="reuse (or create) the generated folder here")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--tiny", action="store_true",
                   help="CPU, batch 2, 32-pixel images, eager, a few images")
    args = p.parse_args()
    if args.tiny:
        args.device, args.batch, args.steps, args.warmup, args.rounds = "cpu", 2, 1, 1, 2
        args.size = 32  # bf16 autocast on a CPU takes ~50 s a ResNet-50 step at 224; 32: the
        # smallest side ResNet-50 takes (its last stage at 1x1), a fiftieth of the work
        args.images, args.scale, args.workers, args.no_compile = 12, 0.2, 1, True
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    else:
        print(f"device: cpu ({torch.get_num_threads()} threads), torch {torch.__version__}")
    compile_ = not args.no_compile
    models = {k: make(k, device, compile_) for k in ("specc", "hand")}
    print(f"ResNet-50, batch {args.batch}, {args.size}x{args.size}, bf16 autocast, channels-last, "
          f"{'torch.compile' if compile_ else 'eager'}")
    print("synthetic data (on the device):")
    syn = synthetic(models, args, device, sync)
    for name, rates in syn.items():
        print(f"  {name:<6} {figure(rates)}")
    print(f"real pipeline ({args.workers} workers, imagefolder, random_resized_crop + hflip):")
    real, alone = pipeline(models, args, device, sync)
    print(f"  pipeline alone {figure(alone)}")
    for name, rates in real.items():
        share = statistics.median(rates) / statistics.median(syn[name])
        bound = "input-bound" if share < 0.9 else "compute-bound"
        print(f"  {name:<6} {figure(rates)} {bound}: {share:.2f} of synthetic")
    print(f"pipeline ratio={ratio(real):.3f}")
    print(f"ratio={ratio(syn):.3f}")


def ratio(rates: dict) -> float:
    """specc / hand-written: the median over the rounds of each round's ratio (the two sides
    of a round ran back to back, so they share the machine's state)."""
    return statistics.median(a / b for a, b in zip(rates["specc"], rates["hand"]))

if __name__ == "__main__":
    main()
