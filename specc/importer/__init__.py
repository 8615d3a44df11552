"""`specc import`: an ONNX model -> a readable spec (`.net`) and its weights (safetensors),
the export read backwards. Each ONNX node is read by the import rule of the registry entry
that owns its op type (specc/ops, `onnx_import`); what no rule reads is refused by name.

    read.py     the gate: the file, its protobuf walked, external data confined, old opsets
    build.py    ONNX graph -> Graph IR, node by node; constants and shapes computed now
    structure.py  repeated subgraphs -> blocks and loops
    emit.py     Graph IR -> spec text (then `specc fmt`)
    write.py    the weights, streamed; staging, checking, moving into place
    backend.py  specc as an onnx.backend Backend (ONNX's own conformance tests)
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.files import staging
from ..ir.graph import Graph
from . import names
from .build import Importer
from .read import Loaded, from_proto, open_model

__all__ = ["ImportResult", "Imported", "import_model", "import_graph", "open_model",
           "from_proto"]


@dataclass
class Imported:
    """A model read into specc: its Graph, the spec text, and the weights by reference."""

    graph: Graph
    text: str
    weights: dict  # param -> TensorRef, or ("input", spec input, fn) for weights fed at run time
    loaded: Loaded
    notes: list[str] = field(default_factory=list)
    input_names: dict = field(default_factory=dict)  # ONNX input -> spec input
    onnx_inputs: list = field(default_factory=list)  # the model's inputs, in order
    net: object = None  # the spec, loaded and checked against the graph


@dataclass
class ImportResult:
    spec: str
    weights: str
    network: str
    nodes: int
    params: int
    tensors: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def import_graph(loaded: Loaded, name: str, weight_inputs: bool = False,
                 structure: bool = True, layout: bool = True) -> Imported:
    """Read a loaded model into specc's IR and write its spec text (nothing on disk), in
    `specc fmt`'s layout unless `layout` is false (text nobody reads: the conformance run)."""
    from .emit import network_text
    imp = Importer(loaded, name, weight_inputs=weight_inputs)
    graph = prune(imp.run())
    reclaim(graph, imp.weights, imp.suffixed)
    weights = {k: v for k, v in imp.weights.items() if k in graph.params}
    doc = describe_source(loaded)
    notes = []
    if structure:
        from .blocks_text import structured_text
        try:
            text = structured_text(graph, doc)
        except (KeyError, ValueError, IndexError) as e:  # a structure it cannot write
            text = None
            notes.append(f"no blocks: the structure found could not be written "
                         f"({type(e).__name__}: {e}); the spec lists its ops one by one")
        if text is not None:
            checked, net, why = checked_text(text, graph, layout)
            if why is None:
                return Imported(graph, checked, weights, loaded, notes, imp.input_names,
                                imp.onnx_inputs, net)
            notes.append(f"the blocks found did not reproduce the network ({why}); the spec "
                         "lists its ops one by one")
    checked, net, why = checked_text(network_text(graph, doc), graph, layout)
    if why is not None:
        raise SpeccError(f"the import wrote a spec that is not the model (a bug in specc "
                         f"import): {why}")
    return Imported(graph, checked, weights, loaded, notes, imp.input_names, imp.onnx_inputs,
                    net)


def checked_text(text: str, graph: Graph, layout: bool = True):
    """(`text` in `specc fmt`'s layout, the Network it loads as, None when that is `graph`
    -- the same operations, attributes, parameters and wiring -- else what is wrong)."""
    import tempfile

    from ..network import load
    from ..tools.fmt import format_text
    from .verify import fingerprint
    try:
        text = format_text(text) if layout else text
    except SpeccError as e:
        return text, None, f"it does not parse: {e.message}"
    with tempfile.TemporaryDirectory(prefix="specc-import-") as tmp:
        path = Path(tmp) / f"{graph.name}.net"
        path.write_text(text, encoding="utf-8")
        try:
            net = load(path)
        except SpeccError as e:
            return text, None, f"it does not check: {str(e).splitlines()[0]}"
    mine, theirs = fingerprint(graph), fingerprint(net.graph)
    if mine[1] != theirs[1]:
        return text, net, "other parameters"
    if mine != theirs:
        return text, net, "other operations or wiring"
    return text, net, None


def load_imported(imported: Imported, folder: str | Path | None = None):
    """The imported spec as a checked Network (the one the import loaded to check it, or
    written into `folder` and loaded from there), and its weights as arrays by parameter
    name (those fed at run time left out)."""
    net = imported.net
    if net is None:
        from ..network import load
        path = Path(folder) / f"{imported.graph.name}.net"
        path.write_text(imported.text, encoding="utf-8")
        net = load(path)
    weights = {k: ref.array() for k, ref in imported.weights.items()
               if not isinstance(ref, tuple)}
    return net, weights


def describe_source(loaded: Loaded) -> str:
    m = loaded.model
    who = " ".join(x for x in (m.producer_name, m.producer_version) if x)
    opset = f"opset {loaded.converted_from} converted to {loaded.opset}" \
        if loaded.converted_from else f"opset {loaded.opset}"
    return f"Imported from {Path(loaded.path).name} ({who + ', ' if who else ''}{opset})."


def prune(graph: Graph) -> Graph:
    """Only what the outputs depend on (a spec's dead code would be dropped when it loads)."""
    need = set(graph.outputs.values())
    kept = []
    for node in reversed(graph.nodes):
        if any(o in need for o in node.outputs):
            kept.append(node)
            need.update(node.inputs)
    graph.nodes = kept[::-1]
    owned = {p for n in graph.nodes for p in n.params.values()}
    graph.params = {k: v for k, v in graph.params.items() if k in owned}
    values = need | {o for n in graph.nodes for o in n.outputs} | set(graph.inputs)
    graph.values = {k: v for k, v in graph.values.items() if k in values}
    return graph


def reclaim(graph: Graph, weights: dict, suffixed: dict) -> None:
    """A node the import named `w_1` because a node the pruning dropped took `w` first (a
    rule that read through it, a layer merged into the next) takes its own name back, and
    its parameters theirs (`w.weight_ih_l0`). `suffixed`: the names the import numbered so
    (a model's own `fc_1` stays)."""
    taken = set(graph.values) | set(graph.params) | set(graph.inputs) | set(graph.outputs)
    taken |= {p.split(".", 1)[0] for p in graph.params}
    for node in graph.nodes:
        base = suffixed.get(node.name)
        if base is None or base in taken or node.outputs != [node.name] or \
                any(p != node.name and not p.startswith(node.name + ".")
                    for p in node.params.values()):
            continue
        _rename(graph, weights, node, base)
        taken.add(base)


def _rename(graph: Graph, weights: dict, node, new: str) -> None:
    import dataclasses
    old = node.name
    node.name, node.outputs = new, [new]
    graph.values[new] = dataclasses.replace(graph.values.pop(old), name=new, producer=new)
    for role, pname in list(node.params.items()):
        renamed = new + pname[len(old):]
        node.params[role] = renamed
        graph.params[renamed] = dataclasses.replace(graph.params.pop(pname), name=renamed)
        if pname in weights:
            weights[renamed] = weights.pop(pname)
    for user in graph.nodes:
        user.inputs = [new if i == old else i for i in user.inputs]
    graph.outputs = {k: new if v == old else v for k, v in graph.outputs.items()}


def network_name(path: str | Path, given: str | None) -> str:
    if given:
        if names.identifier(given) != given:
            raise SpeccError(f"--name '{given}' is not a valid network name (letters, digits "
                             "and '_', not starting with a digit)")
        return given
    return names.identifier(Path(path).stem, "net")


def import_model(model_path: str | Path, out: str | Path | None = None,
                 name: str | None = None, progress=None) -> ImportResult:
    """Import the ONNX file at `model_path`; write OUT.net and OUT.safetensors (both or
    neither: staged, checked by loading the spec with its weights' names and shapes, then
    moved into place)."""
    start = time.perf_counter()
    say = progress or (lambda stage: None)
    say("reading the model")
    loaded = open_model(model_path)
    out = Path(out) if out else Path(Path(model_path).stem + ".net")
    net_name = network_name(out if out else model_path, name)
    say("mapping the graph")
    imported = import_graph(loaded, net_name)
    weights_path = out.with_suffix(".safetensors")
    tensors = _write(imported, out, weights_path, say)
    g = imported.graph
    return ImportResult(str(out), str(weights_path), g.name, len(g.nodes),
                        g.trainable_params, tensors, time.perf_counter() - start)


def _write(imported: Imported, out: Path, weights_path: Path, say) -> int:
    from .write import write_safetensors
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise SpeccError(f"output folder {folder} does not exist")
    graph = imported.graph
    saved = [p for p in graph.params.values() if p.saved]
    order = [(p.name, imported.weights[p.name]) for p in saved]
    missing = [n for n, ref in order if isinstance(ref, tuple)]
    if missing:
        raise SpeccError(f"the model feeds the weight '{missing[0]}' from an input; specc "
                         "needs its values (make it an initializer)")
    with staging(out) as tmp:
        spec = tmp / out.name
        spec.write_text(imported.text, encoding="utf-8")
        say(f"writing {sum(r.size for _, r in order):,} weights")
        write_safetensors(tmp / weights_path.name, order,
                          {"format": "pt", "specc.network": graph.name})
        check_written(tmp / weights_path.name, imported.net)
        try:
            os.replace(tmp / weights_path.name, weights_path)
            os.replace(spec, out)
        except OSError as e:
            raise SpeccError(f"cannot move the import into place at {out}: "
                             f"{e.strerror or e}") from None
    return len(order)


def check_written(weights: Path, net) -> None:
    """The weights file holds exactly the tensors the (already checked) spec states."""
    from safetensors import safe_open
    own = {p.name: tuple(p.shape) for p in net.graph.params.values() if p.saved}
    with safe_open(str(weights), "np") as f:
        have = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    if own != have:
        wrong = sorted(set(own) ^ set(have))[:5] or \
            [k for k in own if own[k] != have[k]][:5]
        raise SpeccError(f"the written weights differ from the spec's parameters (a bug in "
                         f"specc import): {', '.join(wrong)}")
