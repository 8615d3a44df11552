"""Every export is verified: onnx.checker (full), ONNX shape inference against specc's shapes,
and onnxruntime against the torch module on seeded inputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from ..diagnostics import SpeccError
from ..ops import registry

FP16_TOLERANCE = 1e-2


def verify_file(path, skeleton: onnx.ModelProto, weights: dict, graph, module,
                fp16: bool = False, batch: int = 2) -> "Verified":
    """Check the written file: onnx.checker (full), shape inference, onnxruntime vs torch."""
    from .onnx_write import header_only
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise SpeccError(f"the exported model fails onnx.checker: {str(e).splitlines()[0]}") from None
    shaped = onnx.ModelProto()
    shaped.CopyFrom(skeleton)
    shaped.graph.initializer.extend(header_only(weights))
    check_inferred_shapes(shaped, graph)
    return check_numerics(str(path), graph, module, fp16, batch, skeleton, weights)


def check_inferred_shapes(model, graph) -> None:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    bad = []
    for name, value in graph.values.items():
        info = known.get(name)
        if info is None or not info.type.tensor_type.HasField("shape"):
            continue
        dims = info.type.tensor_type.shape.dim
        ours = value.type.shape
        if len(dims) != len(ours):
            bad.append(f"{name}: specc {list(ours)}, ONNX rank {len(dims)}")
            continue
        for d, o in zip(dims, ours):
            if d.HasField("dim_value") and isinstance(o, int) and d.dim_value != o:
                bad.append(f"{name}: specc {list(ours)}, ONNX {[x.dim_value or x.dim_param for x in dims]}")
                break
    if bad:
        raise SpeccError("ONNX shape inference disagrees with specc:\n  " + "\n  ".join(bad[:10]))


def sample_inputs(graph, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs: normal floats; integers (indices) in 0..1; random booleans."""
    from .onnx_build import NP_DTYPES
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.values[name].type
        shape = [d if isinstance(d, int) else batch for d in t.shape]
        if t.dtype in ("i32", "i64"):
            out[name] = rng.integers(0, 2, shape).astype(NP_DTYPES[t.dtype])
        elif t.dtype == "bool":
            out[name] = rng.random(shape) < 0.5
        else:
            out[name] = rng.standard_normal(shape).astype(NP_DTYPES.get(t.dtype, np.float32))
    return out


def tolerance(graph) -> float:
    return max((registry.get(n.op).tolerance for n in graph.nodes), default=1e-5)


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
    """Does the value depend on the input? Its samples must differ by well over the tolerance
    (relative to its scale), or an error of the size allowed would hide in it."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0 or v.shape[0] < 2 or not np.isfinite(v).all():
        return False
    scale = float(np.max(np.abs(v)))
    spread = float(np.max(np.abs(v - v[:1])))
    return scale > 0 and spread > 100 * tol * scale


@dataclass
class Verified:
    max_rel_error: float
    compared: str  # what was compared, in words


def check_numerics(model, graph, module, fp16: bool, batch: int,
                   skeleton=None, weights=None) -> Verified:
    """onnxruntime against torch on seeded inputs: the outputs, and when the outputs carry no
    signal (a deep network whose logits equal its last bias), every intermediate value."""
    import torch

    from ..runtime import open_session
    feeds = sample_inputs(graph, batch)
    tol = FP16_TOLERANCE if fp16 else tolerance(graph)
    signal_tol = tolerance(graph)  # what counts as signal does not depend on the storage
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[n]) for n in graph.inputs])
    by_name = dict(zip(module.specc_outputs, out if isinstance(out, tuple) else (out,)))
    expected = [by_name[name].numpy() for name in graph.outputs]
    _finite(expected, "the torch module")
    sess, _, _ = open_session(model if isinstance(model, str) else model.SerializeToString(), "cpu")
    actual = sess.run(list(graph.outputs), feeds)
    _finite(actual, "onnxruntime")
    err = max_rel_error(expected, actual)
    _within(err, tol, "the outputs")
    names = ", ".join(graph.outputs)
    if any(has_signal(e, signal_tol) for e in expected):
        return Verified(err, f"{names} on {batch} seeded samples")
    if skeleton is None:
        raise SpeccError(f"the outputs ({names}) barely vary with the input, so comparing them "
                         "proves nothing", notes=("--no-verify writes the model anyway",))
    count, inner = _intermediates(graph, module, feeds, skeleton, weights, tol, signal_tol)
    verb = "varies" if len(graph.outputs) == 1 else "vary"
    return Verified(max(err, inner), f"{count} intermediate values on {batch} seeded samples, "
                    f"as {names} barely {verb} with the input")


def _finite(values, who: str) -> None:
    bad = [i for i, v in enumerate(values) if not np.isfinite(v).all()]
    if bad:
        raise SpeccError(f"{who} gives non-finite values (inf or NaN) on the seeded inputs; "
                         "the export cannot be verified", notes=("--no-verify writes the model "
                                                                "anyway",))


def _within(err: float, tol: float, what: str) -> None:
    if not err <= tol:
        raise SpeccError(f"onnxruntime and torch disagree on {what}: max relative error "
                         f"{err:.3e} exceeds the tolerance {tol:.0e}",
                         notes=("--no-verify writes the model anyway",))


def _intermediates(graph, module, feeds, skeleton, weights, tol,
                   signal_tol) -> tuple[int, float]:
    """Compare every float value both sides name, on a copy of the model that outputs them
    all; at least one must carry signal."""
    import torch
    import torch.fx as fx

    from ..runtime import open_session
    from .onnx_build import value_info
    from .onnx_write import write_to_bytes
    torch_names = getattr(module, "specc_values", {})
    onnx_values = {o for n in skeleton.graph.node for o in n.output}
    names = [v for v in graph.values if v in torch_names and v in onnx_values
             and v not in graph.inputs and graph.values[v].type.dtype.startswith("f")]
    seen: dict[str, np.ndarray] = {}
    wanted = {torch_names[v]: v for v in names}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if n.name in wanted and torch.is_tensor(result):
                seen[wanted[n.name]] = result.detach().numpy().copy()
            return result
    with torch.no_grad():
        Recorder(module).run(*[torch.from_numpy(feeds[n]) for n in graph.inputs])
    names = [v for v in names if v in seen]
    probe = onnx.ModelProto()
    probe.CopyFrom(skeleton)
    outputs = {o.name for o in probe.graph.output}
    probe.graph.output.extend(value_info(v, graph.values[v].type) for v in names
                              if v not in outputs)
    sess, _, _ = open_session(write_to_bytes(probe, weights), "cpu")
    actual = dict(zip(names, sess.run(names, feeds)))
    worst, signal = 0.0, 0
    for v in names:
        err = max_rel_error([seen[v]], [actual[v]])
        _within(err, tol, f"'{v}'")
        worst = max(worst, err)
        signal += has_signal(seen[v], signal_tol)
    if not signal:
        raise SpeccError("no value of the network varies with its input, so comparing "
                         "onnxruntime with torch proves nothing",
                         notes=("--no-verify writes the model anyway",))
    return len(names), worst
