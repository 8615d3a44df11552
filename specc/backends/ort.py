"""onnxruntime sessions: provider choice and honest reporting of what really ran."""
from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from ..core.diagnostics import SpeccError

PROVIDERS = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider",
             "cpu": "CPUExecutionProvider"}
ort.set_default_logger_severity(4)  # onnxruntime-gpu logs missing CUDA libraries otherwise


def providers_for(choice: str) -> list[str]:
    if choice == "auto":
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    elif choice in PROVIDERS:
        wanted = [PROVIDERS[choice]] + (["CPUExecutionProvider"] if choice != "cpu" else [])
    else:
        raise SpeccError(f"unknown provider '{choice}' (use auto, cuda, tensorrt or cpu)")
    available = ort.get_available_providers()
    return [p for p in wanted if p in available] or ["CPUExecutionProvider"]


def open_session(model: str | Path | bytes, provider: str = "auto", threads: int = 0,
                 optimize: bool = True):
    """A session and a note when the provider asked for is not the one that runs. Without
    `optimize` onnxruntime runs the graph as written (no fusions): what verification wants,
    and a third of the time to start."""
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                    providers=providers_for(provider))
    except ort.capi.onnxruntime_pybind11_state.Fail as e:
        raise SpeccError(f"onnxruntime cannot load the model: {_first_line(e)}") from None
    except ort.capi.onnxruntime_pybind11_state.InvalidGraph as e:
        raise SpeccError(f"onnxruntime rejects the model: {_first_line(e)}") from None
    except ort.capi.onnxruntime_pybind11_state.NoSuchFile as e:
        raise SpeccError(f"no such file: {model}") from None
    ran = sess.get_providers()[0]
    note = ""
    if provider in ("cuda", "tensorrt", "auto") and ran == "CPUExecutionProvider" \
            and provider != "auto":
        note = f"{PROVIDERS[provider]} is not usable here; onnxruntime fell back to the CPU"
    return sess, ran, note


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300]
