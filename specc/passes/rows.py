"""Compute only the rows a slice keeps: the slice moves up to where its rows are made.

A Vision Transformer classifies from its class token: `slice(encoder, 1, 0, 1)` after the last
layer keeps 1 of 197 tokens, yet the final layer norm, the last MLP, the attention's output
projection and 196 of the last attention's query rows are computed for every token and then
thrown away (torch.onnx.export of the module does exactly that). Every op on that path works
token by token, so the slice can move up to where the rows are first made.

Rewrite rules, from each op's rows rule (specc/ops/rows.py; an elementwise op's is its
broadcasting):
  - a backward pass finds, for every value, the part (one axis and [start, end)) that all its
    readers need, or all of it; a slice needs its range of its input;
  - a node whose output is needed in part is replaced by one that computes that part from
    the parts of its inputs its rule names (its attributes as the rule gives them), under a
    new name `<value>/rows`, with the node's span: errors still point at the spec;
  - an input needed whole elsewhere, or made by an op without a rule, is computed whole and
    cut by a new slice where it is read;
  - a slice whose input arrives as exactly its range disappears: its readers read the part;
  - a node nothing reads is dropped (dead code runs before this pass, so there is none).
The numbers are the same (each row is computed by the same arithmetic); the spec's value names
keep meaning whole values. Graph -> Graph: the input graph is not changed.
"""
from __future__ import annotations

import copy

from ..ir.graph import Node, TensorType, Value
from ..ops import registry
from ..ops.registry import ShapeError
from ..ops.rows import Part, cut, row_rule

WHOLE = "whole"  # a value needed entirely


def narrow_rows(graph):
    need, reads = _demands(graph)
    if not any(isinstance(d, Part) for d in need.values()):
        return graph
    return _Rewrite(graph, need, reads).run()


def _demands(graph) -> tuple[dict, dict]:
    """(value -> WHOLE or the Part its readers need; node name -> the Reads it computes by)."""
    need: dict = {v: WHOLE for v in graph.outputs.values()}
    reads: dict = {}
    for node in reversed(graph.nodes):
        want = _wanted(need, node)
        if want is None:
            continue  # nothing reads it
        found = _reads(graph, node, want)
        if found is None and want is not WHOLE:
            need[node.outputs[0]] = want = WHOLE  # computed whole, cut where read
            found = _reads(graph, node, WHOLE)
        if found is not None:
            reads[node.name] = found
        parts = found.inputs if found is not None else (None,) * len(node.inputs)
        for value, part in zip(node.inputs, parts):
            need[value] = _join(need.get(value), WHOLE if part is None else part)
    return need, reads


def _wanted(need: dict, node):
    """What the readers need of a node's output: None (nothing), WHOLE or a Part; all of
    every output of a node with several."""
    if len(node.outputs) > 1:
        return WHOLE if any(o in need for o in node.outputs) else None
    return need.get(node.outputs[0])


def _reads(graph, node, want):
    """The node's Reads for `want` when its rule has one and the shapes confirm it."""
    rule = row_rule(registry.get(node.op))
    if rule is None:
        return None
    types = [graph.values[i].type for i in node.inputs]
    found = rule(node.attrs, types, None if want is WHOLE else want)
    if found is None or len(found.inputs) != len(types) or (want is WHOLE and not found.passes):
        return None
    out = graph.values[node.outputs[0]].type
    parts = [_cut(t, p) for t, p in zip(types, found.inputs)]
    if found.passes:  # the output is the part of its input
        return found if [parts[0]] == [out] else None
    try:
        made = registry.get(node.op).infer(found.attrs or node.attrs, parts)
    except ShapeError:
        return None
    return found if made[:1] == [_cut(out, want if want is not WHOLE else None)] else None


def _cut(t: TensorType, part: Part | None) -> TensorType:
    if part is None:
        return t
    shape = list(t.shape)
    if not isinstance(shape[part.axis], int):
        return TensorType(t.dtype, ())  # never a match: only known sizes are cut
    shape[part.axis] = part.length
    return TensorType(t.dtype, tuple(shape))


def _join(a, b):
    if a is None:
        return b
    return a if a == b else WHOLE


class _Rewrite:
    def __init__(self, graph, need: dict, reads: dict):
        self.graph, self.need, self.reads = graph, need, reads
        self.out = copy.copy(graph)
        self.out.values = dict(graph.values)
        self.out.nodes = []
        self.taken = set(graph.values) | {n.name for n in graph.nodes}
        self.part: dict[str, str] = {}  # value computed in part -> the part's value
        self.cuts: dict[tuple, str] = {}  # (value, part) -> a slice of the whole value
        self.alias: dict[str, str] = {}  # a dropped slice's value -> the part it was

    def run(self):
        for node in self.graph.nodes:
            self._node(node)
        self.out.outputs = {k: self.alias.get(v, v) for k, v in self.graph.outputs.items()}
        for gone in set(self.part) | set(self.alias):
            self.out.values.pop(gone, None)
        return self.out

    def _node(self, node) -> None:
        want, found = _wanted(self.need, node), self.reads.get(node.name)
        inputs = [self.alias.get(i, i) for i in node.inputs]
        if want is None:  # nothing reads it (dead code runs first: a guard)
            for o in node.outputs:
                self.out.values.pop(o, None)
        elif found is None or (want is WHOLE and not found.passes):
            self._keep(node, inputs)
        elif want is WHOLE:  # a slice: the rows arrive made, or it cuts a whole value
            src, part = inputs[0], found.inputs[0]
            if src in self.part and self.need.get(src) == part:
                self.alias[node.outputs[0]] = self.part[src]
            else:
                self._keep(node, inputs)
        else:
            self._narrow(node, want, found, inputs)

    def _keep(self, node, inputs) -> None:
        if inputs != node.inputs:
            node = copy.copy(node)
            node.inputs = inputs
        self.out.nodes.append(node)

    def _narrow(self, node, want: Part, found, inputs) -> None:
        value = node.outputs[0]
        name = self._fresh(f"{value}/rows")
        views = [self._view(i, p) for i, p in zip(inputs, found.inputs)]
        attrs = found.attrs or node.attrs
        types = [self.out.values[v].type for v in views]
        op = registry.get(node.op)
        out_type = op.infer(attrs, types)[0]
        self.out.nodes.append(Node(name, node.op, views, [name], attrs, dict(node.params),
                                   node.span, op.macs(attrs, types, [out_type])))
        self.out.values[name] = Value(name, out_type, name)
        self.part[value] = name

    def _view(self, value: str, part: Part | None) -> str:
        """`value`, or the rows `part` of it: computed in part, or a slice of the whole."""
        if part is None:
            return value
        if value in self.part and self.need.get(value) == part:
            return self.part[value]
        if (value, part) not in self.cuts:
            name = self._fresh(f"{value}/rows")
            op, attrs = cut(part)
            t = _cut(self.out.values[value].type, part)
            producer = self.graph.values[value].producer
            span = self.graph.node(producer).span if producer else self.graph.span
            self.out.nodes.append(Node(name, op, [value], [name], attrs, {}, span))
            self.out.values[name] = Value(name, t, name)
            self.cuts[value, part] = name
        return self.cuts[value, part]

    def _fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name
