"""Every export is verified: onnx.checker (full), ONNX shape inference against specc's shapes,
and onnxruntime against the torch module on seeded inputs."""
from __future__ import annotations

import numpy as np
import onnx

from ..diagnostics import SpeccError
from ..ops import registry

FP16_TOLERANCE = 1e-2


def verify_file(path, skeleton: onnx.ModelProto, weights: dict, graph, module,
                fp16: bool = False, batch: int = 2) -> float:
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
    return check_numerics(str(path), graph, module, fp16, batch)


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
    worst = 0.0
    for e, a in zip(expected, actual):
        scale = max(float(np.max(np.abs(e))) if e.size else 0.0, 1e-6)
        worst = max(worst, float(np.max(np.abs(e - a))) / scale if e.size else 0.0)
    return worst


def check_numerics(model, graph, module, fp16: bool, batch: int) -> float:
    import torch

    from ..runtime import open_session
    feeds = sample_inputs(graph, batch)
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[n]) for n in graph.inputs])
    by_name = dict(zip(module.specc_outputs, out if isinstance(out, tuple) else (out,)))
    expected = [by_name[name].numpy() for name in graph.outputs]
    sess, _, _ = open_session(model if isinstance(model, str) else model.SerializeToString(), "cpu")
    actual = sess.run(list(graph.outputs), feeds)
    err = max_rel_error(expected, actual)
    tol = FP16_TOLERANCE if fp16 else tolerance(graph)
    if not err <= tol:
        raise SpeccError(f"onnxruntime and torch disagree: max relative error {err:.3e} exceeds "
                         f"the tolerance {tol:.0e}", notes=("--no-verify writes the model anyway",))
    return err
