"""Ensembles: one Graph that averages the softmax of its members' first outputs (the seed's
Table 5 is all ensembles). Each member is a checked network, trained as usual; its nodes and
parameters move under `members.K.`, its inputs are shared, and its weights load under the
same prefix (`prefixed_state`). Members must agree on their inputs (names, dtypes, shapes and
preprocessing) and on their classes; every disagreement is reported at once, at the member's
own declaration."""
from __future__ import annotations

import copy

from .. import passes
from ..core.diagnostics import SpeccError
from ..elab.builder import GraphBuilder
from ..ir.graph import Graph, Node, Param, Value
from ..lang.values import Tensor

OUTPUT = "probabilities"
PREPROCESSING = ("pixel_range", "mean", "std")


def prefix(k: int) -> str:
    return f"members.{k}."


def combine(members: list[Graph], name: str = "ensemble") -> Graph:
    """The ensemble of `members` (checked Graphs, the first the reference for the others)."""
    if len(members) < 2:
        raise SpeccError(f"an ensemble needs at least two members, got {len(members)}")
    _agree(members)
    first = members[0]
    builder = GraphBuilder(name)
    for input_name in first.inputs:
        builder.add_input(input_name, first.values[input_name].type,
                          first.input_spans.get(input_name))
    probabilities = []
    for k, member in enumerate(members):
        logits = _copy_into(builder.graph, member, prefix(k))
        builder.used.update(builder.graph.values)
        probabilities.append(builder.add_op("softmax", [logits], {"axis": -1},
                                            f"{prefix(k)}softmax", member.span))
    total = probabilities[0]
    for k, p in enumerate(probabilities[1:], 1):
        total = builder.add_op("add", [total, p], {}, f"sum.{k}", first.span)
    share = builder.add_op("constant", [], {"value": 1.0 / len(members), "dtype": "f32"},
                           "share", first.span)
    mean = builder.add_op("mul", [total, share], {}, OUTPUT, first.span)
    graph = builder.graph
    graph.outputs = {OUTPUT: mean.name}
    graph.recipe = dict(first.recipe)
    graph.doc = f"The mean of the softmax of {len(members)} networks: " + \
        ", ".join(m.name for m in members)
    graph.meta = {"output_kind": "probabilities", "members": [m.name for m in members],
                  "spec_files": {}, "entry": ""}
    return passes.run(graph, passes.CHECK)


def prefixed_state(k: int, state: dict) -> dict:
    """Member k's state dict under its place in the ensemble."""
    return {prefix(k) + key: value for key, value in state.items()}


def _copy_into(graph: Graph, member: Graph, pre: str) -> Tensor:
    """Member's nodes, values and parameters renamed under `pre` (its inputs are the
    ensemble's); returns its first output."""
    shared = set(member.inputs)

    def rename(v: str) -> str:
        return v if v in shared else pre + v
    for p in member.params.values():
        moved = copy.copy(p)
        moved.name = pre + p.name
        graph.params[moved.name] = moved
    for node in member.nodes:
        graph.nodes.append(Node(pre + node.name, node.op, [rename(i) for i in node.inputs],
                                [rename(o) for o in node.outputs], dict(node.attrs),
                                {r: pre + p for r, p in node.params.items()}, node.span,
                                node.macs))
        for o in node.outputs:
            graph.values[rename(o)] = Value(rename(o), member.values[o].type, pre + node.name)
    value = next(iter(member.outputs.values()))
    return Tensor(rename(value), member.values[value].type)


LOGITS = ("cross_entropy", "lenet")  # losses that read the first output as logits


def _agree(members: list[Graph]) -> None:
    """Every member's inputs and classes as the first member's, all disagreements at once."""
    first, errors = members[0], []
    for k, m in enumerate(members):
        if m.recipe.get("loss", "cross_entropy") not in LOGITS:
            errors.append(SpeccError(
                f"member {k + 1} ('{m.name}') is trained with loss '{m.recipe['loss']}': its "
                "first output is no logits, so it has no softmax to average", _output_span(m)))
    for k, m in enumerate(members[1:], 1):
        who = f"member {k + 1} ('{m.name}')"
        if [i for i in m.inputs] != list(first.inputs):
            errors.append(SpeccError(
                f"{who} has inputs {', '.join(m.inputs)}; member 1 ('{first.name}') has "
                f"{', '.join(first.inputs)}", m.span))
            continue
        for name in m.inputs:
            mine, theirs = m.values[name].type, first.values[name].type
            if mine != theirs:
                errors.append(SpeccError(
                    f"{who} takes input '{name}' as {mine}; member 1 ('{first.name}') takes "
                    f"{theirs}", m.input_spans.get(name) or m.span,
                    ("an ensemble's members read the same input",)))
        pre = {k2: m.recipe.get(k2) for k2 in PREPROCESSING}
        if pre != {k2: first.recipe.get(k2) for k2 in PREPROCESSING}:
            errors.append(SpeccError(
                f"{who} preprocesses its input differently ({_shown(m)}) from member 1 "
                f"('{first.name}', {_shown(first)})", m.span))
        mine, theirs = _classes(m), _classes(first)
        if mine.type.shape[1:] != theirs.type.shape[1:]:
            errors.append(SpeccError(
                f"{who} has {_count(mine)}; member 1 ('{first.name}') has "
                f"{_count(theirs)}", _output_span(m), ("an ensemble averages one class "
                                                       "distribution per sample",)))
    if errors:
        raise SpeccError.many(errors)


def _classes(graph: Graph) -> Value:
    return graph.values[next(iter(graph.outputs.values()))]


def _count(value: Value) -> str:
    """The classes an output holds per sample (`10 classes`), or an output of another shape
    as the spec writes it (`an output f32[N, 4, H, W] ...`)."""
    dims = value.type.shape[1:]
    if len(dims) == 1:
        return f"{dims[0]} classes"
    return f"an output {value.type} (not one row of classes per sample)"


def _output_span(graph: Graph):
    producer = _classes(graph).producer
    return graph.node(producer).span if producer else graph.span


def _shown(graph: Graph) -> str:
    return ", ".join(f"{k} {graph.recipe[k]}" for k in PREPROCESSING if k in graph.recipe) \
        or "none stated"
