"""IR verifier: the invariants every pass may rely on.

- every node names a registered op; inputs are defined before use (topological order)
- every value has exactly one producer (a node or a graph input); names are unique
- parameters referenced by nodes exist; shapes re-inferred from the registry match
- graph outputs name existing values
A failure here is a compiler bug, not a user error.
"""
from __future__ import annotations

from ..ops import registry


class IRError(AssertionError):
    pass


def verify(graph):
    defined = set(graph.inputs)
    for name in graph.inputs:
        _check(graph.values[name].producer is None, f"input {name} has a producer")
    for node in graph.nodes:
        op = registry.get(node.op)
        _check(op is not None, f"node {node.name}: unknown op {node.op}")
        for i in node.inputs:
            _check(i in defined, f"node {node.name}: input {i} used before definition")
        for role, pname in node.params.items():
            _check(pname in graph.params, f"node {node.name}: missing param {pname} ({role})")
        types = [graph.values[i].type for i in node.inputs]
        inferred = op.infer(node.attrs, types)
        for o, t in zip(node.outputs, inferred):
            _check(o not in defined, f"value {o} defined twice")
            _check(graph.values[o].type == t, f"node {node.name}: type {graph.values[o].type} "
                   f"!= re-inferred {t}")
            _check(graph.values[o].producer == node.name, f"value {o}: wrong producer")
            defined.add(o)
    for out, value in graph.outputs.items():
        _check(value in defined, f"output {out} names undefined value {value}")
    return graph


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise IRError(message)
