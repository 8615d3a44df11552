"""Every export is verified: onnx.checker (full), ONNX shape inference against specc's shapes,
and onnxruntime against the torch module on seeded inputs (specc.backends.onnx_compare)."""
from __future__ import annotations

import onnx

from ..core.diagnostics import SpeccError
from .onnx_compare import Reference, Verified, check_numerics


def verify_file(path, skeleton: onnx.ModelProto, weights: dict, graph, module,
                fp16: bool = False, batch: int = 2,
                reference: Reference | None = None) -> Verified:
    """Check the written file: onnx.checker (full), shape inference, onnxruntime vs torch
    (`reference`: torch's outputs, already being computed, or None to compute them here)."""
    from .onnx_write import header_only
    try:
        onnx.checker.check_model(weights_as_inputs(skeleton, weights), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise SpeccError(f"the exported model fails onnx.checker: {str(e).splitlines()[0]}") from None
    shaped = onnx.ModelProto()
    shaped.CopyFrom(skeleton)
    shaped.graph.initializer.extend(header_only(weights))
    check_inferred_shapes(shaped, graph)
    return check_numerics(str(path), graph, module, fp16, batch, skeleton, weights, reference)


def weights_as_inputs(skeleton: onnx.ModelProto, weights: dict) -> onnx.ModelProto:
    """The exported graph with its weights declared as typed graph inputs instead of stored:
    onnx.checker's full check (nodes, attributes, types, strict shape inference) sees every
    node as written, in milliseconds instead of re-reading the weights. That the written file
    holds these weights is what onnxruntime, which loads the file, checks numerically."""
    from .onnx_write import _onnx_dtype
    model = onnx.ModelProto()
    model.CopyFrom(skeleton)
    model.graph.input.extend(onnx.helper.make_tensor_value_info(n, _onnx_dtype(a), list(a.shape))
                             for n, a in weights.items())
    return model


def check_inferred_shapes(model, graph) -> None:
    """ONNX shape inference (strict, types checked: what onnx.checker's full check adds) over
    the model's graph with header-only weights, against specc's own shapes."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except onnx.shape_inference.InferenceError as e:
        raise SpeccError(f"ONNX shape inference fails on the exported model: "
                         f"{str(e).splitlines()[0][:300]}") from None
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
            if d.HasField("dim_value") and not isinstance(o, int):  # a batch baked in
                bad.append(f"{name}: specc {list(ours)} is symbolic, ONNX fixes "
                           f"{[x.dim_value or x.dim_param for x in dims]}")
                break
    if bad:
        raise SpeccError("ONNX shape inference disagrees with specc:\n  " + "\n  ".join(bad[:10]))

