"""Numbers both verifications share: relative error, signal, and the values onnxruntime
computes for named graph values (specc.backends.onnx_compare checks outputs,
specc.backends.onnx_local checks node by node)."""
from __future__ import annotations

import numpy as np
import onnx

from ..core.diagnostics import SpeccError


def max_rel_error(expected: list[np.ndarray], actual: list[np.ndarray]) -> float:
    """The largest |e - a| relative to the scale of e, over every pair; inf when either side
    holds a non-finite value or the shapes differ (NaN never compares as small)."""
    worst = 0.0
    for e, a in zip(expected, actual):
        e, a = np.asarray(e, dtype=np.float64), np.asarray(a, dtype=np.float64)
        if e.shape != a.shape or not (np.isfinite(e).all() and np.isfinite(a).all()):
            return float("inf")
        if not e.size:
            continue
        scale = max(float(np.max(np.abs(e))), 1e-6)
        worst = max(worst, float(np.max(np.abs(e - a))) / scale)
    return worst


def has_signal(v: np.ndarray, tol: float) -> bool:
    """Does the value depend on the input? Its samples must differ by 10x the tolerance
    (relative to its scale): an error of a tenth of that input-dependent part then exceeds the
    tolerance; below it, errors of the size allowed would hide in the signal."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0 or v.shape[0] < 2 or not np.isfinite(v).all():
        return False
    scale = float(np.max(np.abs(v)))
    spread = float(np.max(np.abs(v - v[:1])))
    return scale > 0 and spread > 10 * tol * scale


def within(err: float, tol: float, what: str) -> None:
    if not err <= tol:
        raise SpeccError(f"onnxruntime and torch disagree on {what}: max relative error "
                         f"{err:.3e} exceeds the tolerance {tol:.0e}",
                         notes=("--no-verify writes the model anyway",))


def shared_float_values(graph, module, skeleton) -> list[str]:
    """The float values (not inputs) that both the ONNX graph and the torch module name."""
    torch_names = getattr(module, "specc_values", {})
    produced = {o for n in skeleton.graph.node for o in n.output}
    return [v for v in graph.values if v in torch_names and v in produced
            and v not in graph.inputs and graph.values[v].type.dtype.startswith("f")]


def onnx_values(skeleton, graph, names: list[str], weights, feeds) -> dict[str, np.ndarray]:
    """The named values as onnxruntime computes them: the graph with each one made an
    output, run unoptimised (so that every named value still exists)."""
    from .ort import open_session
    from .onnx_build import value_info
    from .onnx_write import write_to_bytes
    probe = onnx.ModelProto()
    probe.CopyFrom(skeleton)
    outputs = {o.name for o in probe.graph.output}
    probe.graph.output.extend(value_info(v, graph.values[v].type) for v in names
                              if v not in outputs)
    sess, _, _ = open_session(write_to_bytes(probe, weights), "cpu", optimize=False)
    return dict(zip(names, sess.run(names, feeds)))
