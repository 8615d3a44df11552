"""Dead-code elimination: drop nodes whose values never reach an output, and the parameters
only they used. Graph inputs are kept (they are the interface)."""
from __future__ import annotations


def dead_code(graph):
    live = set(graph.outputs.values())
    keep = []
    for node in reversed(graph.nodes):
        if any(o in live for o in node.outputs):
            keep.append(node)
            live.update(node.inputs)
    keep.reverse()
    if len(keep) == len(graph.nodes):
        return graph
    kept = {id(n) for n in keep}
    dropped = {o for n in graph.nodes if id(n) not in kept for o in n.outputs}
    graph.nodes = keep
    for v in dropped:
        graph.values.pop(v, None)
    used = {p for n in keep for p in n.params.values()}
    graph.params = {k: p for k, p in graph.params.items() if k in used}
    return graph
