"""`specc export --int8`: post-training static quantization through onnxruntime.quantization.

The verified fp32 export is the starting point. Calibration reads samples of a data set's
training split through the same readers and evaluation transform as training (adaptation
lines included); onnxruntime's pre-processing (shape inference, graph optimisation) and
`quantize_static` write a QDQ model with per-channel weights. The int8 model is then checked
against the fp32 one on held-out (test) samples: top-1 agreement, and both accuracies when the
data has labels. Latency of both is measured here, and an int8 model slower than fp32 is said
so. Everything happens in a staging folder; only the checked int8 model is moved into place.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..core.diagnostics import SpeccError
from ..core.files import staging

METHODS = ("minmax", "entropy", "percentile")
# The CPU the int8 model is for decides the integer types, as onnxruntime.quantization's own
# guidance for CPU inference has it (quantize_static's docstring): x86 without VNNI
# multiplies uint8 by int8 with AVX2's vpmaddubsw, whose 16-bit pair sums saturate, so its
# weights keep 7 bits; x86 with VNNI accumulates in 32 bits; ARM prefers int8 both sides.
# Weights are int8 (per channel) for every kind.


class Target(NamedTuple):
    cpu: str  # what the kind is, as the summary line says it
    activations: str  # "uint8" or "int8"
    seven_bits: bool  # weights kept to 7 bits (onnxruntime's reduce_range)

    def text(self) -> str:
        return (f"{self.cpu}: {'7-bit weights, ' if self.seven_bits else ''}"
                f"{self.activations} activations")


TARGETS = {"avx2": Target("x86 without VNNI", "uint8", True),
           "vnni": Target("x86 with VNNI", "uint8", False),
           "arm": Target("ARM", "int8", False)}
# QDQ nodes, and ops that only move or reshape values (no arithmetic to do in int8)
PLUMBING = {"QuantizeLinear", "DequantizeLinear", "Identity", "Shape", "Constant", "Cast",
            "Concat", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Gather",
            "Slice", "Split", "Expand", "Tile", "ConstantOfShape"}


@dataclass
class Int8Result:
    path: str
    method: str
    data: str
    calibration_samples: int
    held_out: int
    agreement: float
    accuracy_fp32: float | None
    accuracy_int8: float | None
    fp32_ms: float
    int8_ms: float
    quantized: dict = field(default_factory=dict)  # op type -> nodes with int8 inputs
    fallback: dict = field(default_factory=dict)  # op type -> nodes left in fp32
    adaptations: list = field(default_factory=list)
    fp32_error: float | None = None  # the fp32 export's verification
    seconds: float = 0.0
    target: str = "avx2"  # the CPU kind the integer types were chosen for (TARGETS)


def export_int8(net, path, calibrate: str, samples: int = 256, method: str = "minmax",
                held_out: int = 1000, say=lambda stage: None, target: str = "auto",
                **export_args) -> Int8Result:
    """Export `net` in fp32 (verified), quantize it on `calibrate` for the CPU kind `target`
    ("auto": this machine's), check and time it, and move the int8 model to `path`.
    `export_args` go to the fp32 export (weights, opset, seed)."""
    from ..backends.onnx_export import export
    if method not in METHODS:
        raise SpeccError(f"unknown calibration method '{method}' (use {', '.join(METHODS)})")
    target = this_cpu() if target == "auto" else target
    if target not in TARGETS:
        raise SpeccError(f"unknown int8 target '{target}' (use auto, {', '.join(TARGETS)})")
    start = time.perf_counter()
    path = Path(path)
    with staging(path) as tmp:
        fp32 = export(net, tmp / "fp32.onnx", progress=say, **export_args)
        say(f"calibrating on {samples} samples of {calibrate}")
        model_fp32 = _read(tmp / "fp32.onnx")
        data = _calibration_data(model_fp32, calibrate)
        calib = _arrays(data, "train", samples)
        say(f"quantizing ({method}, QDQ, per-channel weights, for {target})")
        quantize(tmp / "fp32.onnx", tmp / "int8.onnx", calib, method, tmp, target)
        model = _with_metadata(tmp / "int8.onnx", model_fp32, method, calibrate, len(calib),
                               target)
        quantized, fallback = _coverage(model)
        if not quantized:
            ops = ", ".join(sorted(fallback)) or "none"
            raise SpeccError(f"onnxruntime.quantization finds nothing to quantize in "
                             f"{net.name} (its ops: {ops}); the fp32 export stands as it is",
                             notes=("specc export without --int8 writes it",))
        say("checking int8 against fp32 on held-out samples")
        check = compare(tmp / "fp32.onnx", tmp / "int8.onnx", data, held_out)
        fp32_ms, int8_ms = latency(tmp / "fp32.onnx", tmp / "int8.onnx",
                                   model_fp32.graph.input[0])
        os.replace(tmp / "int8.onnx", path)
    return Int8Result(str(path), method, calibrate, len(calib), *check, fp32_ms, int8_ms,
                      quantized, fallback, list(data.adaptations), fp32.max_rel_error,
                      time.perf_counter() - start, target)


def _read(path):
    import onnx
    return onnx.load(str(path))


def _calibration_data(model, spec: str):
    """The data set shaped for the model's input, as `specc run --data` reads it; what it
    had to change to fit is reported like training's adaptation line."""
    from .. import tasks  # noqa: F401  (the demonstrations' data sets register themselves)
    from ..data.registry import load_dataset
    from ..recipes.sources import Trust
    from ..runtime.model import input_spec_of
    want = input_spec_of(model, trust=Trust(command_line=True))  # --calibrate is typed
    if len(want.shape) < 1 or not all(isinstance(d, int) and d > 0 for d in want.shape):
        raise SpeccError(f"--int8 calibrates a model with input [N, ...known dims]; this one's "
                         f"per-sample shape is {list(want.shape)}")
    return load_dataset(spec, want)


def _arrays(data, split: str, limit: int) -> np.ndarray:
    from ..data.samples import eval_samples
    parts = [x.numpy().astype(np.float32) for x, _ in eval_samples(data, split, limit)]
    if not parts:
        raise SpeccError(f"data set '{data.name}' gave no {split} samples to calibrate on")
    return np.concatenate(parts)


class _Reader:
    """onnxruntime's CalibrationDataReader over arrays already in memory, in batches."""

    def __init__(self, name: str, x: np.ndarray, batch: int = 32):
        self.name, self.x, self.batch, self.at = name, x, batch, 0

    def get_next(self):
        if self.at >= len(self.x):
            return None
        part = self.x[self.at:self.at + self.batch]
        self.at += self.batch
        return {self.name: part}

    def rewind(self):  # read again by calibrators that run twice (entropy, percentile)
        self.at = 0


def quantize(fp32: Path, out: Path, calib: np.ndarray, method: str, tmp: Path,
             target: str = "avx2") -> None:
    """onnxruntime's pre-processing, then quantize_static: QDQ, per-channel int8 weights,
    8-bit activations calibrated by `method`, the integer types chosen for `target`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = tmp / "pre.onnx"
    try:
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    except Exception:  # noqa: BLE001 - its optimiser refuses some graphs; quantize as written
        pre = fp32
    name = _read(fp32).graph.input[0].name
    reader = type("SpeccReader", (_Reader, CalibrationDataReader), {})(name, calib)
    calibrate = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                 "percentile": CalibrationMethod.Percentile}[method]
    activations, seven_bits = TARGETS[target].activations, TARGETS[target].seven_bits
    try:
        quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=seven_bits,
                        activation_type=(QuantType.QUInt8 if activations == "uint8"
                                         else QuantType.QInt8),
                        weight_type=QuantType.QInt8, calibrate_method=calibrate,
                        extra_options={"CalibTensorRangeSymmetric": False})
    except SpeccError:
        raise
    except Exception as e:  # noqa: BLE001 - its calibrators fail in their own words
        raise SpeccError(f"onnxruntime.quantization failed ({method} calibration): "
                         f"{type(e).__name__}: {str(e).splitlines()[0][:300]}",
                         notes=("another --calibration-method may work (onnxruntime "
                                "issue 11928: entropy and percentile fail on some models)",)
                         if method != "minmax" else ()) from None


def _with_metadata(path: Path, source, method: str, data: str, samples: int, target: str):
    """The int8 model carries the fp32 model's metadata (spec, labels, preprocessing), plus
    how it was quantized; written back in place."""
    import onnx
    model = _read(path)
    del model.metadata_props[:]
    for prop in source.metadata_props:
        model.metadata_props.add(key=prop.key, value=prop.value)
    activations, seven = TARGETS[target].activations, TARGETS[target].seven_bits
    model.metadata_props.add(key="specc.precision", value="int8")
    model.metadata_props.add(key="specc.quantization", value=json.dumps(
        {"format": "QDQ", "weights": "int8 per channel" + (", 7-bit range" if seven else ""),
         "activations": activations, "target": target, "calibration": method,
         "samples": samples, "data": data}))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return model


def _coverage(model) -> tuple[dict, dict]:
    """(op type -> nodes onnxruntime quantized: ops of its QDQ registry that read int8 values
    through DequantizeLinear, op type -> nodes of arithmetic it has no int8 form for, which
    compute in fp32 between a DequantizeLinear and a QuantizeLinear), from the written graph."""
    from onnxruntime.quantization.registry import QDQRegistry
    dq = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    quantized, fallback = Counter(), Counter()
    for n in model.graph.node:
        if n.op_type in PLUMBING:
            continue
        if n.op_type in QDQRegistry and any(i in dq for i in n.input):
            quantized[n.op_type] += 1
        elif n.op_type not in QDQRegistry:
            fallback[n.op_type] += 1
    return dict(quantized), dict(fallback)


def compare(fp32: Path, int8: Path, data, limit: int) -> tuple:
    """(held-out samples, top-1 agreement, fp32 accuracy, int8 accuracy) on the test split;
    accuracies are None when the data set has no classes to compare with."""
    from ..backends.ort import open_session
    from ..data.samples import eval_samples
    a, _, _ = open_session(fp32, "cpu")
    b, _, _ = open_session(int8, "cpu")
    name = a.get_inputs()[0].name
    n = agree = right_a = right_b = 0
    for x, y in eval_samples(data, "test", limit, batch=64):
        x = x.numpy().astype(np.float32)
        pa, pb = (_top1(s.run(None, {name: x})[0]) for s in (a, b))
        y = y.numpy()
        n += len(y)
        agree += int((pa == pb).sum())
        right_a += int((pa == y).sum())
        right_b += int((pb == y).sum())
    if n == 0:
        raise SpeccError(f"data set '{data.name}' has no test samples to check the int8 model on")
    labelled = data.classes > 0
    return n, agree / n, right_a / n if labelled else None, right_b / n if labelled else None


def _top1(out: np.ndarray) -> np.ndarray:
    flat = out.reshape(len(out), -1)
    return (flat[:, 0] > 0.5).astype(np.int64) if flat.shape[1] == 1 else flat.argmax(1)


def latency(fp32: Path, int8: Path, input_info, batch: int = 1, rounds: int = 7) -> tuple:
    """Median milliseconds of one batch-1 run, fp32 and int8, interleaved in this process on
    the threads `specc train` would choose, onnxruntime's optimisations on."""
    from ..backends.ort import open_session
    from ..train.threads import plan
    threads = plan().threads
    sessions = [open_session(p, "cpu", threads=threads)[0] for p in (fp32, int8)]
    dims = [d.dim_value if d.HasField("dim_value") else batch
            for d in input_info.type.tensor_type.shape.dim]
    x = np.random.default_rng(0).standard_normal(dims).astype(np.float32)
    feed = {input_info.name: x}
    times = [[], []]
    for s in sessions:  # warm up
        s.run(None, feed)
    reps = _reps(sessions[0], feed)
    for r in range(rounds):
        for k in (0, 1) if r % 2 == 0 else (1, 0):
            t = time.perf_counter()
            for _ in range(reps):
                sessions[k].run(None, feed)
            times[k].append((time.perf_counter() - t) / reps * 1e3)
    return statistics.median(times[0]), statistics.median(times[1])


def _reps(session, feed) -> int:
    """Runs per timing so that one timing lasts ~20 ms (tiny models time in microseconds)."""
    t = time.perf_counter()
    session.run(None, feed)
    one = max(time.perf_counter() - t, 1e-5)
    return max(1, min(200, int(0.02 / one)))


def this_cpu() -> str:
    """The TARGETS kind of this machine's CPU: arm, vnni (x86 with VNNI-class int8 dot
    products) or avx2 (any other x86, and what cannot be told: 7-bit weights are safe on all)."""
    import platform
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "arm"
    return "vnni" if cpu_int8().startswith("VNNI") else "avx2"


def cpu_int8() -> str:
    """What this CPU offers int8 arithmetic, from /proc/cpuinfo's flags (Linux)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split())
    except (OSError, IndexError):
        return "unknown CPU"
    found = [f for f in ("amx_int8", "avx512_vnni", "avx_vnni") if f in flags]
    if found:
        return "VNNI-class int8 instructions (" + ", ".join(found) + ")"
    return "no VNNI (int8 dot products through " + ("AVX-512" if "avx512bw" in flags else
                                                   "AVX2" if "avx2" in flags else "SSE") + ")"


def describe(r: Int8Result) -> str:
    acc = ""
    if r.accuracy_fp32 is not None:
        acc = (f", accuracy fp32 {r.accuracy_fp32:.2%} int8 {r.accuracy_int8:.2%}")
    ratio = r.fp32_ms / r.int8_ms if r.int8_ms > 0 else float("inf")
    speed = (f"int8 {ratio:.2f}x faster than fp32" if ratio >= 1 else
             f"int8 is SLOWER than fp32 here ({1 / ratio:.2f}x the time; {cpu_int8()})")
    if r.target != this_cpu():  # agreement and timings are this machine's kernels
        speed += f"; checked on this {this_cpu()} machine, not on {r.target}"
    return (f"wrote {r.path} (int8 QDQ, per-channel weights, for {TARGETS[r.target].text()}; "
            f"{r.method} calibration on "
            f"{r.calibration_samples} samples of {r.data}; top-1 agreement with fp32 "
            f"{r.agreement:.2%} on {r.held_out} held-out samples{acc}; batch 1: fp32 "
            f"{r.fp32_ms:.3f} ms, int8 {r.int8_ms:.3f} ms: {speed}; {r.seconds:.2f} s)")


def fallback_note(r: Int8Result) -> str | None:
    if not r.fallback:
        return None
    ops = ", ".join(f"{op} x{n}" for op, n in sorted(r.fallback.items()))
    return (f"note: onnxruntime.quantization has no int8 form for {ops}: these run in fp32 "
            "between DequantizeLinear and QuantizeLinear (the fp32 fallback)")


def as_json(r: Int8Result) -> dict:
    return {"path": r.path, "precision": "int8", "target": r.target,
            "calibration": r.method, "data": r.data,
            "calibration_samples": r.calibration_samples, "held_out": r.held_out,
            "top1_agreement": r.agreement, "accuracy_fp32": r.accuracy_fp32,
            "accuracy_int8": r.accuracy_int8, "fp32_ms": r.fp32_ms, "int8_ms": r.int8_ms,
            "quantized_ops": r.quantized, "fp32_fallback_ops": r.fallback,
            "cpu": cpu_int8(), "seconds": r.seconds}
