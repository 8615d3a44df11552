"""Dead-code elimination: drop nodes whose values never reach an output, and the parameters
only they used. Graph inputs are kept (they are the interface), and so are the tensors a spec
declares (`param`, `fixed`, `const`): a declared tensor is part of the network's state (its
state dict, its check table) whether or not an op reads it. The inference view drops the
declared tensors nothing reads (`unread_declarations`): an exported model has no use for
them. Neither pass changes its input: the result is a new Graph that shares the kept nodes."""
from __future__ import annotations

import copy

from ..ops import registry


def dead_code(graph):
    return _keep_live(graph, keep_declared=True)


def unread_declarations(graph):
    return _keep_live(graph, keep_declared=False)


def _keep_live(graph, keep_declared: bool):
    live = set(graph.outputs.values())
    keep = []
    for node in reversed(graph.nodes):
        if any(o in live for o in node.outputs) or (
                keep_declared and "declaration" in registry.get(node.op).traits):
            keep.append(node)
            live.update(node.inputs)
    keep.reverse()
    if len(keep) == len(graph.nodes):
        return graph
    kept = {id(n) for n in keep}
    dropped = {o for n in graph.nodes if id(n) not in kept for o in n.outputs}
    out = copy.copy(graph)
    out.nodes = keep
    out.values = {k: v for k, v in graph.values.items() if k not in dropped}
    used = {p for n in keep for p in n.params.values()}
    out.params = {k: p for k, p in graph.params.items() if k in used}
    return out
