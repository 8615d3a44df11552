"""The network as a tree of boxes: nodes of the Graph IR grouped by their hierarchical names.

Names come from the structure of the spec (`layer1.0.conv1`), so the name prefixes are the
blocks and chains: `layer1` (a ResNet stage) holds `layer1.0` (a unit) which holds its convs.
A prefix becomes a group when at least two nodes share it; a group whose only child is a group
is merged into it. Each box carries what a person looks for: op, output shape, parameters,
MACs, and the spec line it came from (with the chain of block calls that expanded it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...ir.graph import Graph
from ...ops import registry
from ...ops.registry import Trait
from ...core.source import Span
from ...lang.values import show


@dataclass
class Box:
    id: str
    label: str
    kind: str  # "node", "group", "input", "output"
    parent: str | None = None
    op: str = ""
    family: str = ""  # its colour class: the first coloured trait (weighted, pooling, ...)
    shape: str = ""
    params: int = 0
    macs: int = 0
    count: int = 1  # nodes inside (groups)
    file: str = ""
    line: int = 0
    code: str = ""
    chain: list = field(default_factory=list)  # [[context, "file:line", code], ...]


@dataclass
class Model:
    network: str
    spec: str
    params: int
    macs: int
    boxes: list[Box]
    edges: list[tuple[str, str, str]]  # (from, to, shape)
    doc: str = ""  # the network's docstring
    reference: list = field(default_factory=list)  # [[key, text], ...]: the paper's figures

    def to_json(self) -> dict:
        """MACs over symbolic sizes are their formula's text (`16*H*W`)."""
        boxes = [asdict(b) for b in self.boxes]
        for b in boxes:
            b["macs"] = _count(b["macs"])
        return {"network": self.network, "spec": self.spec, "params": self.params,
                "palette": PALETTE, "doc": self.doc, "reference": self.reference,
                "macs": _count(self.macs), "boxes": boxes,
                "edges": [list(e) for e in self.edges]}

    def top_groups(self) -> list[Box]:
        return [b for b in self.boxes if b.kind == "group" and b.parent is None]


# fill colours by trait (the first that applies), never by op name; the page gets this table
COLOURS = {Trait.WEIGHTED: "#cfe2ff", Trait.NORMALISING: "#fff3cd", Trait.POOLING: "#f8d7da",
           Trait.JOIN: "#e2d9f3", Trait.ELEMENTWISE: "#e7f5ff"}
PALETTE = {**{t.value: c for t, c in COLOURS.items()}, "other": "#ffffff"}  # by class name


def family(op: str) -> str:
    """The colour class of an op: its first trait that has a colour."""
    spec = registry.get(op)
    traits = spec.traits if spec is not None else frozenset()
    return next((t.value for t in COLOURS if t in traits), "other")


def colour(op: str) -> str:
    return PALETTE[family(op)]


def internal(op: str) -> bool:
    """Made by the compiler (a constant operand), not a layer a person wrote."""
    spec = registry.get(op)
    return spec is not None and Trait.INTERNAL in spec.traits


def build(graph: Graph) -> Model:
    nodes = [n for n in graph.nodes if not internal(n.op)]
    groups = _groups([n.name for n in nodes])
    boxes: dict[str, Box] = {}
    for name in graph.inputs:
        boxes["in:" + name] = Box("in:" + name, name, "input",
                                  shape=str(graph.values[name].type))
    for n in nodes:
        _add_groups(boxes, n.name, groups)
        boxes[n.name] = _node_box(graph, n, _parent(n.name, groups))
    for out, value in graph.outputs.items():
        boxes["out:" + out] = Box("out:" + out, out, "output", shape=str(graph.values[value].type))
    _sum_groups(boxes)
    edges = _edges(graph, boxes)
    _group_shapes(boxes, edges)
    spec = _shown_path(graph.span.source) if graph.span is not None else ""
    reference = [[k, v if isinstance(v, str) else show(v, depth=2)]
                 for k, v in (graph.reference or {}).items()]
    return Model(graph.name, spec, graph.trainable_params, graph.macs, list(boxes.values()), edges,
                 graph.doc or "", reference)


def _groups(names: list[str]) -> set[str]:
    """Prefixes shared by at least two nodes, minus those whose only child is another group."""
    counts: dict[str, int] = {}
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            counts[prefix] = counts.get(prefix, 0) + 1
    groups = {p for p, c in counts.items() if c >= 2}
    for p in sorted(groups, key=len):
        children = {_child_under(x, p, groups) for x in names if x.startswith(p + ".")}
        if len(children) == 1 and next(iter(children)) in groups:
            groups.discard(p)
    return groups


def _child_under(name: str, prefix: str, groups: set[str]) -> str:
    """The group or node directly below `prefix` on the way down to `name`."""
    parts = name.split(".")
    depth = prefix.count(".") + 1
    for i in range(depth + 1, len(parts)):
        candidate = ".".join(parts[:i])
        if candidate in groups:
            return candidate
    return name


def _add_groups(boxes: dict[str, Box], name: str, groups: set[str]) -> None:
    """The groups above `name`, outermost first, in the order their first node appears."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        if prefix in groups and "g:" + prefix not in boxes:
            boxes["g:" + prefix] = Box("g:" + prefix, prefix, "group", _parent(prefix, groups))


def _parent_of(name: str, groups: set[str]) -> str | None:
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in groups:
            return prefix
    return None


def _parent(name: str, groups: set[str]) -> str | None:
    p = _parent_of(name, groups)
    return "g:" + p if p is not None else None


def _node_box(graph: Graph, n, parent: str | None) -> Box:
    t = graph.values[n.outputs[0]].type
    params = sum(graph.params[p].numel for p in n.params.values() if graph.params[p].trainable)
    label = n.name[len(parent[2:]) + 1:] if parent else n.name  # relative to its group
    box = Box(n.name, label, "node", parent, n.op, family(n.op), str(t), params, n.macs)
    if n.span is not None:
        box.file, box.line, box.code = _where(n.span)
        box.chain = [[context, f"{_shown_path(s.source)}:{s.line}", _where(s)[2]]
                     for context, s in n.span.chain()]
    return box


def _where(span: Span) -> tuple[str, int, str]:
    return _shown_path(span.source), span.line, span.source.line(span.line).strip()


def _shown_path(source) -> str:
    """The path as `specc check` shows it when below the working folder, else the file name
    (a page that is shared should not carry where the spec sat on someone's disk)."""
    shown = source.display
    return Path(shown).name if Path(shown).is_absolute() else shown


def _sum_groups(boxes: dict[str, Box]) -> None:
    for box in list(boxes.values()):
        if box.kind != "node":
            continue
        parent = box.parent
        while parent is not None:
            group = boxes[parent]
            group.params += box.params
            group.macs += box.macs
            group.count += 1
            if not group.file:
                group.file, group.line = box.file, box.line
                group.chain = box.chain
            parent = group.parent
    for box in boxes.values():
        if box.kind == "group":
            box.count -= 1  # it started at 1


def _edges(graph: Graph, boxes: dict[str, Box]) -> list[tuple[str, str, str]]:
    edges = []
    for n in graph.nodes:
        if n.name not in boxes:
            continue
        for value in n.inputs:
            producer = graph.values[value].producer
            source = producer if producer is not None else "in:" + value
            if source in boxes:
                edges.append((source, n.name, str(graph.values[value].type)))
    for out, value in graph.outputs.items():
        producer = graph.values[value].producer
        source = producer if producer is not None else "in:" + value
        edges.append((source, "out:" + out, str(graph.values[value].type)))
    return edges


def _group_shapes(boxes: dict[str, Box], edges) -> None:
    """A group's output shape: the one shape leaving it, when there is one."""
    leaving: dict[str, set[str]] = {}
    for src, dst, shape in edges:
        for g in _ancestors(boxes, src):
            if g not in _ancestors(boxes, dst):
                leaving.setdefault(g, set()).add(shape)
    for g, shapes in leaving.items():
        if len(shapes) == 1:
            boxes[g].shape = next(iter(shapes))


def _ancestors(boxes: dict[str, Box], box_id: str) -> list[str]:
    out, parent = [], boxes[box_id].parent
    while parent is not None:
        out.append(parent)
        parent = boxes[parent].parent
    return out


def _count(n):
    return n if isinstance(n, int) else str(n)
