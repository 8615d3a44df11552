"""The inference view: ops that only matter while training (dropout) are removed and their
users read the input instead; training-only outputs are dropped. Batch norm stays; backends
lower it in eval mode."""
from __future__ import annotations

import copy

from ..ops import registry


def drop_train_only(graph):
    """Also drops the outputs declared `train output` (auxiliary heads); dead-code
    elimination then removes what only they used."""
    graph = copy.copy(graph)
    graph.nodes = [copy.copy(n) for n in graph.nodes]
    graph.values, graph.outputs = dict(graph.values), dict(graph.outputs)
    graph.params = dict(graph.params)
    for name in graph.meta.get("train_outputs", []):
        graph.outputs.pop(name, None)
    alias: dict[str, str] = {}
    kept = []
    for node in graph.nodes:
        node.inputs = [alias.get(i, i) for i in node.inputs]
        if registry.Trait.INFERENCE_IDENTITY in registry.get(node.op).traits:
            alias[node.outputs[0]] = node.inputs[0]
            continue
        kept.append(node)
    graph.nodes = kept
    graph.outputs = {k: alias.get(v, v) for k, v in graph.outputs.items()}
    for v in alias:
        graph.values.pop(v, None)
    return graph
