"""Checking a half-precision export against float32, op by op.

fp16 keeps 11 significant bits, so a whole network's outputs drift from float32's by an
amount that depends on its depth and its weights, not on whether it was translated right.
What each op must meet is stated in its registry entry (`OpDef.half`): every value that the
ONNX graph and the torch module both name is computed by torch in float32 from
onnxruntime's fp16 values of its inputs, and must be within that op's tolerance of
onnxruntime's fp16 value. The outputs' drift and the top-1 agreement with float32 are
reported, not bounded.
"""
from __future__ import annotations

import numpy as np
import onnx

from ..core.diagnostics import SpeccError
from ..ops import registry
from .onnx_numbers import has_signal, max_rel_error


def verify_half_file(path, skeleton, weights: dict, graph, module, reference, io: bool):
    """onnx.checker (full) over the fp16 graph; onnxruntime loads the written file and every
    value is checked op by op; the outputs' drift from torch's float32 is reported."""
    from .onnx_compare import Verified
    from .onnx_verify import weights_as_inputs
    try:
        onnx.checker.check_model(weights_as_inputs(skeleton, weights), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise SpeccError(f"the fp16 model fails onnx.checker: {str(e).splitlines()[0]}") \
            from None
    feeds = {k: v.astype(np.float16) if io and v.dtype == np.float32 else v
             for k, v in reference.feeds.items()}
    with open(path, "rb") as f:
        data = f.read()
    worst, compared = verify_half(data, graph, module, feeds)
    from .ort import open_session
    sess, _, _ = open_session(str(path), "cpu", optimize=False)
    outs = sess.run(list(graph.outputs), feeds)
    expected = reference.result()
    drift = max_rel_error(expected, [o.astype(np.float32) for o in outs])
    agree = ""
    if expected and expected[0].ndim == 2 and expected[0].shape[1] > 1:
        same = (expected[0].argmax(1) == outs[0].argmax(1)).mean()
        agree = f", top-1 {same:.0%} the same"
    return Verified(drift, f"the outputs of the fp16 graph against torch's float32 on "
                           f"{len(expected[0])} seeded samples{agree}; {compared} (the worst "
                           f"at {worst:.2f} of it)")


def verify_half(model_bytes: bytes, graph, module, feeds: dict) -> tuple[float, str]:
    """(worst local error relative to its tolerance, what was compared, in words)."""
    import torch
    import torch.fx as fx

    from .ort import open_session
    names = _shared(graph, module, model_bytes)
    probe = _exposing(model_bytes, names)
    sess, _, _ = open_session(probe, "cpu", optimize=False)
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    actual = {v: got[v].astype(np.float32) for v in names if v in got}
    by_node = {module.specc_values[v]: v for v in actual}
    tolerance = {v: registry.get(graph.node(graph.values[v].producer).op).half.tolerance
                 for v in actual}
    errors: dict = {}

    class Local(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            value = by_node.get(n.name)
            if value is None or not torch.is_tensor(result):
                return result
            errors[value] = max_rel_error([result.detach().float().numpy()], [actual[value]])
            return torch.from_numpy(actual[value]).to(result.dtype)
    with torch.inference_mode():
        Local(module).run(*[torch.from_numpy(feeds[n].astype(np.float32) if
                                             feeds[n].dtype == np.float16 else feeds[n])
                            for n in graph.inputs])
    bad = [(v, e) for v, e in errors.items() if not e <= tolerance[v]]
    if bad:
        v, e = max(bad, key=lambda ve: ve[1] / tolerance[ve[0]])
        op = graph.node(graph.values[v].producer).op
        raise SpeccError(f"the fp16 graph is off at '{v}' ({op}): relative error {e:.2e} "
                         f"exceeds its tolerance {tolerance[v]:.0e} (the op computed in "
                         "float32 from onnxruntime's fp16 inputs)",
                         notes=("--no-verify writes the model anyway",))
    if not any(has_signal(actual[v], 1e-3) for v in errors):
        raise SpeccError("no value of the fp16 network varies with its input, so the check "
                         "proves nothing", notes=("--no-verify writes the model anyway",))
    worst = max((e / tolerance[v] for v, e in errors.items()), default=0.0)
    return worst, f"{len(errors)} values op by op, each within its op's fp16 tolerance"


def _shared(graph, module, model_bytes) -> list[str]:
    model = onnx.load_from_string(model_bytes)
    produced = {o for n in model.graph.node for o in n.output}
    torch_names = getattr(module, "specc_values", {})
    return [v for v in graph.values if v in torch_names and v in produced
            and v not in graph.inputs and graph.values[v].producer
            and graph.values[v].type.dtype.startswith("f")]


def _exposing(model_bytes: bytes, names: list[str]) -> bytes:
    """The model with the named values made outputs too (their types as inferred)."""
    model = onnx.load_from_string(model_bytes)
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    have = {o.name for o in model.graph.output}
    for v in names:
        if v not in have and v in types:
            model.graph.output.append(types[v])
    return model.SerializeToString()
