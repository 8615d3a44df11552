"""What an ONNX model's graph really holds, measured from the file, not taken from its
claims: the weight values it stores (each initializer's dims checked against the bytes that
back it, in the file or in an external data file inside the model's folder), and the values
per sample its graph computes (ONNX shape inference over the graph with its weights left
out). The budgets for rebuilding the network a model carries are measured with these."""
from __future__ import annotations

import os
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.files import check_regular, confined
from ..core.source import printable


def stored_values(model, path) -> int:
    """Weight values the model stores, each initializer's dims checked against its bytes."""
    import onnx
    folder = Path(path).parent
    total = 0
    for init in model.graph.initializer:
        where = f"{printable(str(path))}: initializer {printable(init.name[:80])}"
        count = 1
        for d in init.dims:
            if d < 0:
                raise SpeccError(f"{where} has a negative dim {d}")
            count *= d
        try:
            itemsize = onnx.helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
        except (KeyError, TypeError, ValueError):
            raise SpeccError(f"{where} has an unknown element type {init.data_type}") from None
        if init.data_location == onnx.TensorProto.EXTERNAL:
            held = _external_bytes(init, folder, where) // max(itemsize, 1)
        elif init.raw_data:
            held = len(init.raw_data) // max(itemsize, 1)
        else:
            held = max(len(init.float_data), len(init.int32_data), len(init.int64_data),
                       len(init.double_data), len(init.uint64_data), len(init.string_data))
        if count > held:
            raise SpeccError(f"{where} claims {count:,} values (dims {list(init.dims)[:8]}) but "
                             f"the file holds {held:,}")
        total += count
    return total


def _external_bytes(init, folder: Path, where: str) -> int:
    """The bytes an initializer stored outside the model has: its data file must lie in the
    model's folder (no absolute path, no `..`, no link out), be a regular file, and hold
    the offset and length it claims."""
    info = {e.key: e.value for e in init.external_data}
    location = info.get("location", "")
    if not location or os.path.isabs(location):
        raise SpeccError(f"{where}: its external data location must be a file beside the model")
    real = confined(folder / location, folder, "model's external data")
    size = check_regular(real, "model's external data").stat().st_size
    try:
        offset = int(info.get("offset") or 0)
        length = int(info["length"]) if info.get("length") else size - offset
    except ValueError:
        raise SpeccError(f"{where}: its external data offset and length are not numbers") from None
    if offset < 0 or length < 0 or offset + length > size:
        raise SpeccError(f"{where}: its external data claims bytes {offset:,} to "
                         f"{offset + length:,} of {printable(location)}, which holds {size:,}")
    return length


def graph_activations(model) -> int | None:
    """Values per sample summed over the graph's inputs and every value ONNX shape inference
    finds (symbolic dims counted as 1); None when inference cannot tell."""
    import onnx
    graph = onnx.GraphProto()
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    known = {v.name for v in model.graph.input}
    for init in model.graph.initializer:  # their types, not their data
        if init.name not in known:
            graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type,
                                                                  list(init.dims)))
    bare = onnx.helper.make_model(graph, opset_imports=model.opset_import)
    try:
        inferred = onnx.shape_inference.infer_shapes(bare)
    except Exception:  # noqa: BLE001 - onnx's checker raises its own kinds on odd graphs
        return None
    weights = {i.name for i in model.graph.initializer}
    total = 0
    for v in list(inferred.graph.input) + list(inferred.graph.value_info) + \
            list(inferred.graph.output):
        if v.name in weights or not v.type.tensor_type.HasField("shape"):
            continue
        n = 1
        for d in v.type.tensor_type.shape.dim:
            n *= d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1
        total += n
    return total
