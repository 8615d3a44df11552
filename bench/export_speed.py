"""`specc export` (compile the spec + emit ONNX from the graph) against torch.onnx.export of
the same lowered module, TorchScript and dynamo exporters, in one process. Last line:
ratio=X (the faster torch exporter's time / specc's time, the worse of ResNet-50 and
ResNet-152). Target >= 10.

    python bench/export_speed.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

import specc
from specc.backends.onnx_export import emit, weights_from_module

SPECS = Path(__file__).resolve().parent.parent / "specs"


def specc_export(name: str, state: dict, out: Path) -> float:
    """Compile the spec and write the ONNX file from the graph and the module's weights."""
    out.unlink(missing_ok=True)  # both sides write a new file
    t = time.perf_counter()
    emit(specc.load(SPECS / "resnet.net", name), state, out)
    return time.perf_counter() - t


def torch_export(module, out: Path, dynamo: bool) -> float:
    x = torch.randn(1, 3, 224, 224)
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(out), dynamo=dynamo, opset_version=17,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes=None if dynamo else {"image": {0: "N"}})
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-dynamo", action="store_true", help="skip the dynamo exporter")
    args = p.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name in ("resnet50", "resnet152"):
            module = specc.load(SPECS / "resnet.net", name).to_torch(seed=0).eval()
            state = weights_from_module(module)
            ours = statistics.median(specc_export(name, state, out / "s.onnx")
                                     for _ in range(args.repeat))
            ts = statistics.median(torch_export(module, out / "t.onnx", False)
                                   for _ in range(args.repeat))
            line = f"{name:<10} specc {ours:6.2f} s   torchscript {ts:6.2f} s"
            best = ts
            if not args.no_dynamo:
                try:
                    dyn = torch_export(module, out / "d.onnx", True)
                    line += f"   dynamo {dyn:6.2f} s"
                    best = min(best, dyn)
                except Exception as e:  # onnxscript missing, or the exporter fails
                    line += f"   dynamo failed ({type(e).__name__})"
            print(f"{line}   ratio {best / ours:.1f}")
            ratios.append(best / ours)
    print(f"ratio={min(ratios):.2f}")


if __name__ == "__main__":
    main()
