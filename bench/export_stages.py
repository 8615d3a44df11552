"""Where a verified `specc export` spends its CPU: each stage run alone, one after the other,
timed in CPU seconds (robust to the load of a shared machine), medians of --repeat; then
onnxruntime's session + run at each graph optimisation level, which is why verification
loads the written file unoptimised. This profiles, it sets no target.

Last line: ratio=X, the stages' sum over the whole verified export's CPU seconds (how much of
the export the stage list accounts for; the export overlaps the stages in threads, so its
wall time is shorter than its CPU time).

    python bench/export_stages.py [--net resnet152] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnx
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import specc  # noqa: E402
from specc import passes  # noqa: E402
from specc.backends.onnx_build import build_skeleton  # noqa: E402
from specc.backends.onnx_export import export, model_metadata  # noqa: E402
from specc.backends.onnx_verify import check_inferred_shapes, weights_as_inputs  # noqa: E402
from specc.backends.onnx_write import header_only, write_model  # noqa: E402
from specc.backends.torch_module import build_module, init_weights  # noqa: E402

SPEC = ROOT / "specs" / "resnet.net"


def cpu(times: dict, key: str, fn):
    start = time.process_time()
    value = fn()
    times.setdefault(key, []).append(time.process_time() - start)
    return value


def stages(name: str, out: Path, times: dict) -> None:
    net = cpu(times, "load the spec", lambda: specc.load(SPEC, name))
    tensors = cpu(times, "draw the weights", lambda: init_weights(net.graph, 0))
    arrays = {k: v.numpy() for k, v in tensors.items()}
    graph = passes.run(net.graph, passes.INFERENCE)
    skeleton, stored = cpu(times, "build the ONNX graph", lambda: build_skeleton(
        graph, arrays, metadata=model_metadata(net)))
    cpu(times, "write the file", lambda: write_model(out, skeleton, stored))
    module = cpu(times, "build the torch module", lambda: build_module(net.graph,
                                                                     weights=tensors).eval())

    def checks():
        onnx.checker.check_model(weights_as_inputs(skeleton, stored), full_check=True)
        shaped = onnx.ModelProto()
        shaped.CopyFrom(skeleton)
        shaped.graph.initializer.extend(header_only(stored))
        check_inferred_shapes(shaped, graph)
    cpu(times, "onnx.checker + shape inference", checks)
    x = torch.randn(2, 3, 224, 224)

    def forward():
        with torch.inference_mode():
            module(x)
    cpu(times, "torch reference, 2 samples", forward)
    session = cpu(times, "onnxruntime session", lambda: open_session(
        out, ort.GraphOptimizationLevel.ORT_DISABLE_ALL))
    cpu(times, "onnxruntime run, 1 sample", lambda: session.run(None, {"image": x[:1].numpy()}))


def open_session(path: Path, level):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = level
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def levels(out: Path, times: dict) -> None:
    x = torch.randn(1, 3, 224, 224).numpy()
    for level in ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED",
                  "ORT_ENABLE_ALL"):
        cpu(times, level, lambda: open_session(out, getattr(ort.GraphOptimizationLevel, level))
            .run(None, {"image": x}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="resnet152")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    stage_times, level_times, whole = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.onnx"
        for _ in range(args.repeat):
            stages(args.net, out, stage_times)
            levels(out, level_times)
            cpu(whole, "export", lambda: export(specc.load(SPEC, args.net), out))
    m = {k: statistics.median(v) for k, v in stage_times.items()}
    for key, value in m.items():
        print(f"{args.net}: {key:32s} {value:.3f} CPU s")
    total, export_cpu = sum(m.values()), statistics.median(whole["export"])
    print(f"{args.net}: stages together {total:.3f} CPU s; the whole verified export "
          f"{export_cpu:.3f} CPU s")
    print(f"{args.net}: onnxruntime session + 1-sample run by optimisation level: " + ", ".join(
        f"{k} {statistics.median(v):.3f}" for k, v in level_times.items()))
    print(f"ratio={total / export_cpu:.2f}")


if __name__ == "__main__":
    main()
