"""IR verifier: the invariants every pass may rely on.

- every node names a registered op; inputs are defined before use (topological order)
- every value has exactly one producer (a node or a graph input); names are unique
- parameters referenced by nodes exist; shapes re-inferred from the registry match
- graph outputs name existing values
A failure here is a compiler bug, not a user error.
"""
from __future__ import annotations

from ..ir.sym import same
from ..ops import registry


def _same_type(a, b) -> bool:
    return a.dtype == b.dtype and a.rank == b.rank and all(
        same(x, y) for x, y in zip(a.shape, b.shape))


class IRError(AssertionError):
    pass


def verify(graph):
    """Messages are built only when a check fails: the pass runs on every compile. Shapes
    are re-inferred under the graph's assumptions, and a shape inferred before an
    assumption was stated matches its simpler form after it (ir/sym.py same)."""
    with graph.assumed():
        return _verify(graph)


def _verify(graph):
    defined = set(graph.inputs)
    for name in graph.inputs:
        if graph.values[name].producer is not None:
            raise IRError(f"input {name} has a producer")
    for node in graph.nodes:
        _verify_node(graph, node, defined)
    for out, value in graph.outputs.items():
        if value not in defined:
            raise IRError(f"output {out} names undefined value {value}")
    return graph


def _verify_node(graph, node, defined: set) -> None:
    op = registry.get(node.op)
    if op is None:
        raise IRError(f"node {node.name}: unknown op {node.op}")
    for i in node.inputs:
        if i not in defined:
            raise IRError(f"node {node.name}: input {i} used before definition")
    for role, pname in node.params.items():
        if pname not in graph.params:
            raise IRError(f"node {node.name}: missing param {pname} ({role})")
    inferred = op.infer(node.attrs, [graph.values[i].type for i in node.inputs])
    for o, t in zip(node.outputs, inferred):
        value = graph.values[o]
        if o in defined:
            raise IRError(f"value {o} defined twice")
        if value.type != t and not _same_type(value.type, t):
            raise IRError(f"node {node.name}: type {value.type} != re-inferred {t}")
        if value.producer != node.name:
            raise IRError(f"value {o}: wrong producer")
        defined.add(o)
