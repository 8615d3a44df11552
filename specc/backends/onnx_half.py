"""A half-precision graph (`specc export --fp16-compute`): the ONNX model rewritten to compute
in fp16, op by op as each op's registry entry says (`OpDef.half`): most ops take and give
fp16; those kept in float32 (softmax, log_softmax, norms with their statistics, exp, log)
get their inputs cast up and their outputs cast down. Inputs and outputs stay float32 unless
asked (`io=True`).

Which inputs of a node change type is read from ONNX's own operator schemas: an input whose
type parameter is the one the node computes in (`T` of Conv, Gemm, Add, ...) becomes fp16;
one with a fixed type (Resize's scales, Reshape's shape, Clip's bounds share T and follow)
stays as it is. Cast nodes that cast to float inside fp16 ops are patched to fp16 (the bug
onnxconverter-common's users meet: its issue 320). The result is checked like every export:
onnx.checker (full), and onnxruntime computes it (specc.backends.onnx_half_verify).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..ops import registry
from ..ops.registry import HALF_EXACT

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16


def policy(graph, node_name: str):
    """The registry's Half of the spec op an ONNX node was lowered from (by its name: a spec
    node's ONNX nodes are named `NODE/...`, its last one after the value it computes)."""
    head = node_name.split("/")[0]
    spec = next((n for n in graph.nodes if n.name == head), None)
    if spec is None and head in graph.values and graph.values[head].producer:
        spec = graph.node(graph.values[head].producer)
    op = registry.get(spec.op) if spec is not None else None
    return op.half if op is not None else HALF_EXACT


def to_half(skeleton: onnx.ModelProto, stored: dict, graph, io: bool = False):
    """(the fp16 model skeleton, its stored weights): see the module docstring."""
    model = onnx.ModelProto()
    model.CopyFrom(skeleton)
    types = _elem_types(model, stored)
    inits = {t.name: t for t in model.graph.initializer}
    casts: dict = {}  # (value, to) -> the cast's output
    new_nodes, half_values = [], set()
    half_inputs = set()
    if io:
        for v in model.graph.input:
            if v.type.tensor_type.elem_type == FLOAT:
                v.type.tensor_type.elem_type = HALF
                half_inputs.add(v.name)
    half_values |= half_inputs
    wants_half: dict = {}  # float initializer -> consumers' wishes
    for node in model.graph.node:
        rule = policy(graph, node.name)
        main = _main_param(node, types, model.opset_import[0].version)
        in_half = rule.compute == "fp16" and main is not None
        schema = _schema(node, model.opset_import[0].version)
        for k, name in enumerate(node.input):
            if not name or types.get(name) not in (FLOAT, HALF):
                continue
            follows = in_half and _param_of(schema, k, True) == main
            want = HALF if follows else FLOAT
            if name in stored or name in inits:
                wants_half.setdefault(name, set()).add(want)
                continue
            have = HALF if name in half_values else FLOAT
            if have != want:
                node.input[k] = _cast(name, want, casts, new_nodes)
        if node.op_type == "Cast" and in_half and _attr(node, "to") == FLOAT:
            _set_attr(node, "to", HALF)
        if node.op_type in ("Constant", "ConstantOfShape") and in_half:
            _constant_to_half(node)
        for k, name in enumerate(node.output):
            if in_half and types.get(name) == FLOAT and _param_of(schema, k, False) == main:
                half_values.add(name)
        new_nodes.append(node)
    weights = _weights_to_half(stored, inits, wants_half, casts, new_nodes)
    order = _order(new_nodes, model, weights)
    del model.graph.node[:]
    model.graph.node.extend(order)
    _outputs(model, half_values, io)
    _value_infos(model)
    return model, weights


def _elem_types(model, stored) -> dict:
    """Every value's element type, by ONNX shape inference over the skeleton."""
    from .onnx_write import header_only
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.initializer.extend(header_only(stored))
    inferred = onnx.shape_inference.infer_shapes(probe)
    g = inferred.graph
    out = {v.name: v.type.tensor_type.elem_type
           for v in list(g.value_info) + list(g.input) + list(g.output)}
    out.update({t.name: t.data_type for t in g.initializer})
    return out


def _schema(node, opset: int):
    try:
        return onnx.defs.get_schema(node.op_type, opset, node.domain or "")
    except onnx.defs.SchemaError:
        return None


def _param_of(schema, k: int, is_input: bool):
    """The type parameter (e.g. 'T') of a node's k-th input or output, None when fixed."""
    if schema is None:
        return None
    formal = schema.inputs if is_input else schema.outputs
    if not formal:
        return None
    f = formal[min(k, len(formal) - 1)]  # variadic: the last formal repeats
    allowed = {c.type_param_str: c.allowed_type_strs for c in schema.type_constraints}
    if f.type_str in allowed and "tensor(float16)" in allowed[f.type_str]:
        return f.type_str
    return None


def _main_param(node, types, opset: int):
    """The type parameter the node computes in: that of its first float output."""
    schema = _schema(node, opset)
    for k, name in enumerate(node.output):
        if types.get(name) == FLOAT:
            return _param_of(schema, k, False)
    return None


def _cast(name: str, to: int, casts: dict, nodes: list) -> str:
    key = (name, to)
    if key not in casts:
        out = f"{name}/{'fp16' if to == HALF else 'fp32'}"
        nodes.append(helper.make_node("Cast", [name], [out], name=f"{out}/cast", to=to))
        casts[key] = out
    return casts[key]


def _attr(node, name):
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), None)


def _set_attr(node, name, value) -> None:
    for a in node.attribute:
        if a.name == name:
            a.i = value


def _constant_to_half(node) -> None:
    for a in node.attribute:
        if a.name == "value" and a.t.data_type == FLOAT:
            arr = numpy_helper.to_array(a.t).astype(np.float16)
            a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))


def _weights_to_half(stored, inits, wants, casts, nodes) -> dict:
    """Float weights that every user reads in fp16 are stored in fp16; those some user reads
    in float32 stay, and fp16 users read a cast."""
    out = {}
    for name, arr in stored.items():
        out[name] = _half(arr) if arr.dtype == np.float32 and wants.get(name) == {HALF} else arr
    for name, t in inits.items():
        if t.data_type == FLOAT and wants.get(name) == {HALF}:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), name))
    for name, w in wants.items():
        stays = (name in stored and out[name].dtype != np.float16) or \
            (name in inits and inits[name].data_type == FLOAT)
        if HALF in w and stays:
            fp16 = _cast(name, HALF, casts, nodes)
            for n in nodes:
                n.input[:] = [fp16 if i == name and n.name != f"{fp16}/cast" else i
                              for i in n.input]
    return out


def _half(arr: np.ndarray) -> np.ndarray:
    """fp16 values of an array; one value broadcast over a shape (a placeholder) stays so."""
    if arr.size and not any(arr.strides):
        return np.broadcast_to(arr.reshape(-1)[:1].astype(np.float16).reshape(()), arr.shape)
    return arr.astype(np.float16)


def _order(nodes: list, model, weights: dict) -> list:
    """Topological order (the casts of weights were appended after their users)."""
    ready = {v.name for v in model.graph.input} | {t.name for t in model.graph.initializer}
    ready |= set(weights) | {""}
    out, pending = [], list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                out.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise RuntimeError(f"half-precision rewrite left a cycle at {rest[0].name}")
        pending = rest
    return out


def _outputs(model, half_values: set, io: bool) -> None:
    """Graph outputs computed in fp16: declared fp16 with `io`, else cast back to float."""
    for v in model.graph.output:
        if v.name not in half_values:
            continue
        if io:
            v.type.tensor_type.elem_type = HALF
            continue
        inner = f"{v.name}/fp16"
        for n in model.graph.node:
            n.output[:] = [inner if o == v.name else o for o in n.output]
            n.input[:] = [inner if i == v.name else i for i in n.input]
        model.graph.node.append(helper.make_node("Cast", [inner], [v.name],
                                                 name=f"{v.name}/cast", to=FLOAT))


def _value_infos(model) -> None:
    """Old value_info entries may state float for values now fp16: drop them."""
    del model.graph.value_info[:]
