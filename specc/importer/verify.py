"""Is a spec the network the import read? Both graphs are compared by structure: every
value's op, attributes, parameter name and shape, and the same of what it reads, from the
inputs up -- the names of ops that own no parameters left out (a spec names those itself)."""
from __future__ import annotations

import hashlib

from ..ir.graph import Graph, Init
from ..ir.sym import Sym


def fingerprint(graph: Graph) -> tuple:
    """(outputs' structures, parameters' names and shapes, how many distinct values): each
    value is named by a hash of its op, attributes, parameters, type and its inputs' hashes,
    so the order in which either graph lists its nodes does not matter."""
    memo: dict[str, str] = {}
    table: set[str] = set()
    by_value = {o: n for n in graph.nodes for o in n.outputs}

    def walk(value: str) -> str:
        if value in memo:
            return memo[value]
        node = by_value.get(value)
        if node is None:
            key = ("input", value, str(graph.values[value].type))
        else:
            attrs = tuple(sorted((k, _plain(v)) for k, v in node.attrs.items()
                                 if not isinstance(v, Init)))
            owned = tuple(sorted(node.params.items())) if node.params else ()
            key = (node.op, attrs, owned, tuple(walk(i) for i in node.inputs),
                   str(graph.values[value].type))
        memo[value] = hashlib.sha1(repr(key).encode()).hexdigest()
        table.add(memo[value])
        return memo[value]

    order = []
    for n in graph.nodes:  # iteratively, so deep networks do not recurse deeply
        for o in n.outputs:
            order.append(o)
    for o in order:
        _walk_iter(o, walk, by_value, memo)
    outs = tuple((name, walk(v), str(graph.values[v].type)) for name, v in graph.outputs.items())
    params = tuple(sorted((p.name, tuple(p.shape), p.dtype, p.trainable, p.saved)
                          for p in graph.params.values()))
    return outs, params, len(table)


def _walk_iter(value, walk, by_value, memo) -> None:
    stack = [value]
    while stack:
        v = stack[-1]
        node = by_value.get(v)
        pending = [i for i in (node.inputs if node else ()) if i not in memo]
        if pending:
            stack.extend(pending)
            continue
        walk(v)
        stack.pop()


def _plain(v):
    """Values as the elaborator may equally have them: an `ints` argument the same in every
    dim is one int (types are compared too, so nothing is hidden by this)."""
    if isinstance(v, (list, tuple)):
        if v and len(set(v)) == 1 and all(type(x) is int for x in v):
            return v[0]
        return tuple(_plain(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, Sym):  # a symbolic dim: the import holds its text, a spec the symbol
        return str(v)
    return v
