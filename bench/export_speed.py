"""The whole `specc export` against the whole PyTorch path, as a user runs each.

specc:   load the spec, take the weights (a checkpoint, or a fresh seeded initialisation),
         emit ONNX, verify it (onnx.checker, shape inference, onnxruntime against torch);
         timed with and without verification, the verification also on its own.
PyTorch: build the hand-written module (bench/handwritten.py, torchvision's layout), load the
         same checkpoint, torch.onnx.export; and torch.onnx.export alone, of a module already
         built and loaded. torch.onnx.export is called as a user calls it, with the exporter
         torch picks by default (torch >= 2.9: dynamo, which needs onnxscript; its default
         opset) and a dynamic batch dim like specc's; the TorchScript exporter
         (dynamo=False, opset 17) is timed beside it, as a second, faster baseline.

In one process the sides are interleaved, --repeat times, and medians compared; as whole
processes (--processes) each command runs --process-repeat times. Targets, in one process on
ResNet-50 and ResNet-152: whole unverified export >= 5x and whole verified export >= 2x faster
than torch.onnx.export alone. Last line: ratio=X, the worst of (unverified speed-up / 5,
verified speed-up / 2) over the networks against the default exporter (against TorchScript
when onnxscript is missing, said so); >= 1.0 means both targets are met.

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


def specc_whole(name: str, out: Path, weights, verify: bool) -> tuple[float, float, float]:
    """(whole seconds, of which verification, CPU seconds of all threads) of what
    `specc export` does after argparse."""
    c, t = time.process_time(), time.perf_counter()
    result = export(specc.load(SPEC, name), out, weights=weights, verify=verify)
    return time.perf_counter() - t, result.verify_seconds, time.process_time() - c


def default_exporter() -> str:
    """What torch.onnx.export uses when not told: 'dynamo' or 'torchscript'."""
    import inspect
    default = inspect.signature(torch.onnx.export).parameters["dynamo"].default
    return "dynamo" if default else "torchscript"


def can_run_default() -> bool:
    if default_exporter() == "torchscript":
        return True
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
        return True
    except ImportError:
        return False


def torch_export(module, out: Path, exporter: str = "default") -> tuple[float, float]:
    """torch.onnx.export of a built module, (seconds, CPU seconds): `default` as a user calls
    it (no exporter or opset named), or `torchscript` (dynamo=False, opset 17)."""
    x = torch.randn(1, 3, 224, 224)
    kwargs = {"dynamo": False, "opset_version": 17} if exporter == "torchscript" else {}
    c, t = time.process_time(), time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(out), input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "N"}}, **kwargs)
    return time.perf_counter() - t, time.process_time() - c


def torch_whole(name: str, ckpt: Path, out: Path, exporter: str) -> float:
    """Build the module, load the checkpoint, export: the PyTorch user's path."""
    from safetensors.torch import load_file
    t = time.perf_counter()
    module = BottleneckResNet(DEPTHS[name]).eval()
    module.load_state_dict(load_file(str(ckpt)), strict=True)
    torch_export(module, out, exporter)
    return time.perf_counter() - t


def median(xs) -> float:
    return statistics.median(xs)


def in_process(name: str, tmp: Path, repeat: int, default: bool) -> dict[str, tuple]:
    """{baseline: (unverified speed-up, verified speed-up)} over torch.onnx.export alone."""
    from safetensors.torch import load_file, save_file
    ckpt = tmp / f"{name}.safetensors"
    save_file(specc.load(SPEC, name).to_torch(seed=0).state_dict(), str(ckpt))
    alone_module = BottleneckResNet(DEPTHS[name]).eval()
    alone_module.load_state_dict(load_file(str(ckpt)), strict=True)
    baselines = ["default", "torchscript"] if default else ["torchscript"]
    keys = ["fresh", "ckpt", "fresh_v", "ckpt_v", "verify"] + \
        [f"{k}_{b}" for b in baselines for k in ("alone", "whole")]
    t = {k: [] for k in keys}
    cpu = {k: [] for k in keys}  # CPU seconds, all threads: what the machine's load moves least
    for _ in range(repeat):  # interleaved: load on the machine hits every side alike
        for key, weights, verify in (("fresh", None, False), ("ckpt", ckpt, False),
                                     ("fresh_v", None, True), ("ckpt_v", ckpt, True)):
            whole, verify_s, used = specc_whole(name, tmp / "s.onnx", weights, verify)
            t[key].append(whole)
            cpu[key].append(used)
            if verify:
                t["verify"].append(verify_s)
        for b in baselines:
            whole, used = torch_export(alone_module, tmp / f"{b}.onnx", b)
            t[f"alone_{b}"].append(whole)
            cpu[f"alone_{b}"].append(used)
            t[f"whole_{b}"].append(torch_whole(name, ckpt, tmp / f"{b}.onnx", b))
    m = {k: median(v) for k, v in t.items()}
    mc = {k: median(v) for k, v in cpu.items() if v}
    unverified, verified = max(m["fresh"], m["ckpt"]), max(m["fresh_v"], m["ckpt_v"])
    print(f"{name}: specc export --no-verify {m['fresh']:.2f} s (fresh weights) / "
          f"{m['ckpt']:.2f} s (--weights)   specc export {m['fresh_v']:.2f} / "
          f"{m['ckpt_v']:.2f} s, of which verification after the write {m['verify']:.2f} s")
    ups = {}
    for b in baselines:
        label = f"default ({default_exporter()})" if b == "default" else "TorchScript"
        alone, whole = m[f"alone_{b}"], m[f"whole_{b}"]
        ups[b] = (alone / unverified, alone / verified)
        print(f"{name}: torch.onnx.export, {label} exporter: alone {alone:.2f} s   PyTorch "
              f"path (build, load, export) {whole:.2f} s   specc's speed-up over it alone: "
              f"unverified {ups[b][0]:.1f}x (target 5), verified {ups[b][1]:.1f}x (target 2); "
              f"over the whole path {whole / unverified:.1f}x / {whole / verified:.1f}x")
    cpu_u, cpu_v = max(mc["fresh"], mc["ckpt"]), max(mc["fresh_v"], mc["ckpt_v"])
    print(f"{name}: CPU seconds (all threads): specc export --no-verify {cpu_u:.2f}, specc "
          f"export {cpu_v:.2f}; torch.onnx.export alone " + ", ".join(
              f"{b} {mc[f'alone_{b}']:.2f} ({mc[f'alone_{b}'] / cpu_u:.1f}x / "
              f"{mc[f'alone_{b}'] / cpu_v:.1f}x)" for b in baselines))
    return ups


def processes(name: str, tmp: Path, repeat: int, default: bool) -> None:
    """Whole commands, start-up and imports included."""
    ckpt = tmp / f"{name}.safetensors"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench")}

    def script(kwargs: str) -> str:
        return (f"import torch, contextlib, io, warnings\nfrom safetensors.torch import load_file\n"
                f"from handwritten import DEPTHS, BottleneckResNet\n"
                f"m = BottleneckResNet(DEPTHS[{name!r}]).eval()\n"
                f"m.load_state_dict(load_file({str(ckpt)!r}), strict=True)\n"
                f"with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):\n"
                f"    warnings.simplefilter('ignore')\n"
                f"    torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), "
                f"{str(tmp / 'p.onnx')!r},{kwargs} input_names=['image'], "
                f"output_names=['logits'], dynamic_axes={{'image': {{0: 'N'}}}})\n")
    specc_cmd = [sys.executable, "-m", "specc", "export", f"{SPEC}:{name}", "--weights",
                 str(ckpt), "-o", str(tmp / "s.onnx")]
    cmds = {"specc export --no-verify": specc_cmd + ["--no-verify"], "specc export": specc_cmd,
            "python: build, load, torch.onnx.export (TorchScript)":
                [sys.executable, "-c", script(" dynamo=False, opset_version=17,")]}
    if default:
        cmds[f"(default: {default_exporter()})"] = [sys.executable, "-c", script("")]
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
    args = p.parse_args()
    default = can_run_default()
    base = "default" if default else "torchscript"
    print(f"torch {torch.__version__}: torch.onnx.export's default exporter is "
          f"{default_exporter()}" + ("" if default else
                                     " (needs onnxscript, not installed: TorchScript only)"))
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets.split(","):
            for b, (up_u, up_v) in in_process(name, Path(tmp), args.repeat, default).items():
                worst[b] = min(worst.get(b, float("inf")), up_u / 5, up_v / 2)
            if args.processes:
                processes(name, Path(tmp), args.process_repeat, default)
    if default and "torchscript" in worst:
        print(f"against the TorchScript exporter: ratio {worst['torchscript']:.2f}")
    print(f"ratio={worst[base]:.2f}")


if __name__ == "__main__":
    main()
