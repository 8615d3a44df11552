"""Small pure queries over a Graph that rule checks and the trainer share."""
from __future__ import annotations

from ..ops.registry import Trait, get


def downstream(graph, node_name: str) -> list:
    """Every node that depends on `node_name`'s output, in graph order."""
    reached = set(graph.node(node_name).outputs)
    out = []
    for node in graph.nodes:
        if any(i in reached for i in node.inputs):
            out.append(node)
            reached.update(node.outputs)
    return out


def threshold_of(graph, node_name: str):
    """The step() node (a threshold op) that thresholds `node_name`'s output, or None."""
    value = graph.node(node_name).outputs[0]
    for node in graph.nodes:
        if Trait.THRESHOLD in get(node.op).traits and node.inputs[:1] == [value]:
            return node
    return None


def output_of(graph, value: str) -> str | None:
    """The network output `value` becomes, directly or through a chain of element-wise ops
    (each with one tensor operand of the chain), or None."""
    seen = {value}
    while True:
        for name, v in graph.outputs.items():
            if v in seen:
                return name
        nxt = [n for n in graph.nodes if any(i in seen for i in n.inputs)
               and Trait.ELEMENTWISE in get(n.op).traits
               and graph.values[n.outputs[0]].type.shape == graph.values[value].type.shape]
        new = {o for n in nxt for o in n.outputs} - seen
        if not new:
            return None
        seen |= new
