"""onnxruntime latency of specc's export against onnxruntime latency of the export that
torch.onnx.export (TorchScript exporter) makes of the same lowered module, interleaved in one
process. Last line: ratio=X (specc / torch, the worst of ResNet-18, ResNet-50, GoogLeNet,
LeNet-5 and ViT-B/16; batch 1). Target <= 1.0.

    python bench/ort_latency.py [--runs 30] [--threads 2]
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

import numpy as np
import torch

import specc
from specc.backends.ort import open_session

SPECS = Path(__file__).resolve().parent.parent / "specs"
NETWORKS = [("resnet.net", "resnet18"), ("resnet.net", "resnet50"), ("googlenet.net", "googlenet"),
            ("lenet5.net", "lenet5"), ("vit.net", "vit_b_16")]


def torch_export(module, x, out: Path) -> None:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(out), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}})


def latency(sessions: dict, x: np.ndarray, runs: int) -> dict:
    times = {k: [] for k in sessions}
    feeds = {k: {s.get_inputs()[0].name: x} for k, s in sessions.items()}
    for i in range(runs + 3):
        for k in (list(sessions) if i % 2 else list(sessions)[::-1]):  # interleaved
            t = time.perf_counter()
            sessions[k].run(None, feeds[k])
            if i >= 3:
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="*", help="network names to time (default: all)")
    args = p.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, name in NETWORKS:
            if args.only and name not in args.only:
                continue
            net = specc.load(SPECS / spec, name)
            module = net.to_torch(seed=0).eval()
            shape = [1 if not isinstance(d, int) else d for d in net.inputs()[0]["shape"]]
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            ours, theirs = Path(tmp) / f"{name}.specc.onnx", Path(tmp) / f"{name}.torch.onnx"
            net.to_onnx(ours, weights=module.state_dict(), verify=False)
            torch_export(module, torch.from_numpy(x), theirs)
            sessions = {"specc": open_session(str(ours), "cpu", args.threads)[0],
                        "torch": open_session(str(theirs), "cpu", args.threads)[0]}
            a = sessions["specc"].run(None, {sessions["specc"].get_inputs()[0].name: x})[0]
            b = sessions["torch"].run(None, {sessions["torch"].get_inputs()[0].name: x})[0]
            assert np.allclose(a, b, rtol=1e-3, atol=1e-3 * float(np.abs(b).max())), name
            t = latency(sessions, x, args.runs)
            ratio = t["specc"] / t["torch"]
            ratios.append(ratio)
            print(f"{name:<10} specc export {t['specc'] * 1000:8.3f} ms   torch.onnx.export "
                  f"{t['torch'] * 1000:8.3f} ms   ratio {ratio:.3f}")
    print(f"ratio={max(ratios):.3f}")


if __name__ == "__main__":
    main()
