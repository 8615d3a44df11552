"""The whole `specc export` against the whole PyTorch path, as a user runs each.

specc:   load the spec, take the weights (a checkpoint, or a fresh seeded initialisation),
         emit ONNX, verify it (onnx.checker, shape inference, onnxruntime against torch);
         timed with and without verification, the verification also on its own.
PyTorch: build the hand-written module (bench/handwritten.py, torchvision's layout), load the
         same checkpoint, torch.onnx.export (TorchScript exporter; dynamo with --dynamo);
         and torch.onnx.export alone, of a module already built and loaded.

In one process the sides are interleaved, --repeat times, and medians compared; as whole
processes (--processes) each command runs --process-repeat times. Targets, in one process on
ResNet-50 and ResNet-152: whole unverified export >= 5x and whole verified export >= 2x faster
than torch.onnx.export alone. Last line: ratio=X, the worst of (unverified speed-up / 5,
verified speed-up / 2) over the networks; >= 1.0 means both targets are met.

    python bench/export_speed.py [--repeat 3] [--nets resnet50,resnet152] [--processes]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from handwritten import DEPTHS, BottleneckResNet  # noqa: E402

import specc  # noqa: E402
from specc.backends.onnx_export import export  # noqa: E402

SPEC = ROOT / "specs" / "resnet.net"


def specc_whole(name: str, out: Path, weights, verify: bool) -> tuple[float, float]:
    """(whole seconds, of which verification) of what `specc export` does after argparse."""
    t = time.perf_counter()
    result = export(specc.load(SPEC, name), out, weights=weights, verify=verify)
    return time.perf_counter() - t, result.verify_seconds


def torch_export(module, out: Path, dynamo: bool = False) -> float:
    x = torch.randn(1, 3, 224, 224)
    t = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(out), dynamo=dynamo, opset_version=17,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes=None if dynamo else {"image": {0: "N"}})
    return time.perf_counter() - t


def torch_whole(name: str, ckpt: Path, out: Path) -> float:
    """Build the module, load the checkpoint, export: the PyTorch user's path."""
    from safetensors.torch import load_file
    t = time.perf_counter()
    module = BottleneckResNet(DEPTHS[name]).eval()
    module.load_state_dict(load_file(str(ckpt)), strict=True)
    torch_export(module, out)
    return time.perf_counter() - t


def median(xs) -> float:
    return statistics.median(xs)


def in_process(name: str, tmp: Path, repeat: int, dynamo: bool) -> tuple[float, float]:
    from safetensors.torch import load_file, save_file
    ckpt = tmp / f"{name}.safetensors"
    save_file(specc.load(SPEC, name).to_torch(seed=0).state_dict(), str(ckpt))
    alone_module = BottleneckResNet(DEPTHS[name]).eval()
    alone_module.load_state_dict(load_file(str(ckpt)), strict=True)
    t = {k: [] for k in ("fresh", "ckpt", "fresh_v", "ckpt_v", "verify", "alone", "whole")}
    for _ in range(repeat):  # interleaved: load on the machine hits every side alike
        t["fresh"].append(specc_whole(name, tmp / "s.onnx", None, False)[0])
        t["ckpt"].append(specc_whole(name, tmp / "s.onnx", ckpt, False)[0])
        whole, verify = specc_whole(name, tmp / "s.onnx", None, True)
        t["fresh_v"].append(whole)
        t["verify"].append(verify)
        whole, verify = specc_whole(name, tmp / "s.onnx", ckpt, True)
        t["ckpt_v"].append(whole)
        t["verify"].append(verify)
        t["alone"].append(torch_export(alone_module, tmp / "t.onnx"))
        t["whole"].append(torch_whole(name, ckpt, tmp / "t.onnx"))
    m = {k: median(v) for k, v in t.items()}
    unverified, verified = max(m["fresh"], m["ckpt"]), max(m["fresh_v"], m["ckpt_v"])
    print(f"{name}: specc export --no-verify {m['fresh']:.2f} s (fresh weights) / "
          f"{m['ckpt']:.2f} s (--weights)   specc export {m['fresh_v']:.2f} / "
          f"{m['ckpt_v']:.2f} s, of which verification {m['verify']:.2f} s")
    print(f"{name}: torch.onnx.export alone {m['alone']:.2f} s   PyTorch path (build, load, "
          f"export) {m['whole']:.2f} s")
    if dynamo:
        try:
            print(f"{name}: torch.onnx.export dynamo alone "
                  f"{torch_export(alone_module, tmp / 'd.onnx', True):.2f} s")
        except Exception as e:  # onnxscript missing, or the exporter fails
            print(f"{name}: dynamo exporter failed ({type(e).__name__})")
    up_u, up_v = m["alone"] / unverified, m["alone"] / verified
    print(f"{name}: speed-up over torch.onnx.export alone: unverified {up_u:.1f}x (target 5), "
          f"verified {up_v:.1f}x (target 2); over the whole PyTorch path "
          f"{m['whole'] / unverified:.1f}x / {m['whole'] / verified:.1f}x")
    return up_u, up_v


def processes(name: str, tmp: Path, repeat: int) -> None:
    """Whole commands, start-up and imports included."""
    ckpt = tmp / f"{name}.safetensors"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench")}
    script = (f"import torch, contextlib, io, warnings\nfrom safetensors.torch import load_file\n"
              f"from handwritten import DEPTHS, BottleneckResNet\n"
              f"m = BottleneckResNet(DEPTHS[{name!r}]).eval()\n"
              f"m.load_state_dict(load_file({str(ckpt)!r}), strict=True)\n"
              f"with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):\n"
              f"    warnings.simplefilter('ignore')\n"
              f"    torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), {str(tmp / 'p.onnx')!r},"
              f" dynamo=False, opset_version=17, input_names=['image'], output_names=['logits'],"
              f" dynamic_axes={{'image': {{0: 'N'}}}})\n")
    cmds = {"specc export --no-verify": [sys.executable, "-m", "specc", "export",
                                         f"{SPEC}:{name}", "--weights", str(ckpt), "-o",
                                         str(tmp / "p.onnx"), "--no-verify"],
            "specc export": [sys.executable, "-m", "specc", "export", f"{SPEC}:{name}",
                             "--weights", str(ckpt), "-o", str(tmp / "p.onnx")],
            "python: build, load, torch.onnx.export": [sys.executable, "-c", script]}
    times = {k: [] for k in cmds}
    for _ in range(repeat):
        for label, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times[label].append(time.perf_counter() - t)
    line = "   ".join(f"{k} {median(v):.2f} s" for k, v in times.items())
    print(f"{name} (whole processes): {line}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--nets", default="resnet50,resnet152")
    p.add_argument("--processes", action="store_true", help="also time whole processes")
    p.add_argument("--process-repeat", type=int, default=2)
    p.add_argument("--dynamo", action="store_true", help="also time the dynamo exporter")
    args = p.parse_args()
    worst = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets.split(","):
            up_u, up_v = in_process(name, Path(tmp), args.repeat, args.dynamo)
            worst.append(min(up_u / 5, up_v / 2))
            if args.processes:
                processes(name, Path(tmp), args.process_repeat)
    print(f"ratio={min(worst):.2f}")


if __name__ == "__main__":
    main()
