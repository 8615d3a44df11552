"""Train-step time of the lowered module against the same network written by hand in plain
PyTorch, measured interleaved in one process. Last line: ratio=X (lowered / hand-written, the
worse of ResNet-18 at batch 8, 224x224, and LeNet-5 at batch 64). Target <= 1.02.

    python bench/train_overhead.py [--device cuda] [--steps 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import specc  # noqa: E402
from handwritten import LeNet5, ResNet18  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"


def step_time(model, opt, x, y, sync) -> float:
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()
    sync()
    return time.perf_counter() - t


def compare(name, ours, theirs, shape, classes, steps, device, sync) -> float:
    x = torch.randn(*shape, device=device)
    y = torch.randint(0, classes, (shape[0],), device=device)
    models = {"specc": ours.to(device).train(), "hand": theirs.to(device).train()}
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for k, m in models.items()}
    times = {k: [] for k in models}
    for i in range(steps + 3):
        for k in (("specc", "hand") if i % 2 else ("hand", "specc")):  # interleaved
            dt = step_time(models[k], opts[k], x, y, sync)
            if i >= 3:
                times[k].append(dt)
    a, b = statistics.median(times["specc"]), statistics.median(times["hand"])
    print(f"{name:<10} specc {a * 1000:8.2f} ms/step   hand-written {b * 1000:8.2f} ms/step   "
          f"ratio {a / b:.3f}")
    return a / b


def cuda_throughput(net, steps) -> None:
    model = net.to_torch(seed=0).cuda().to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(64, 3, 224, 224, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (64,), device="cuda")
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            t = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    print(f"resnet18 cuda bf16 channels-last batch 64: {64 * steps / (time.perf_counter() - t):.0f} images/s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=15)
    args = p.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    resnet = specc.load(SPECS / "resnet.net", "resnet18")
    lenet = specc.load(SPECS / "lenet5.net")
    ratios = [
        compare("lenet5", lenet.to_torch(seed=0), LeNet5(), (64, 1, 32, 32), 10, args.steps * 15,
                device, sync),
        compare("resnet18", resnet.to_torch(seed=0), ResNet18(), (8, 3, 224, 224), 1000,
                args.steps, device, sync),
    ]
    if device.type == "cuda":
        cuda_throughput(resnet, args.steps)
    print(f"ratio={max(ratios):.3f}")


if __name__ == "__main__":
    main()
