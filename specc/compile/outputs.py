"""How each output of a network reads: what `specc run` shows for it.

Decided from the graph alone, by asking the registries, never by naming an op:

* rank 2 ([N, K]): a row of class scores per sample (`classes`);
* rank 3 or more, made by a class-scoring op (a weighted layer, a softmax, or a join of
  such), followed only by ops that keep its layout (a resize, a crop: no traits of their
  own): a score per class and position. Where the classes lie is the recipe's loss's fact
  (`Loss.axis`): on axis 1 a `map` ([N, C, H, W], a class per pixel), on the last axis a
  `sequence` ([N, T, V], a token per position);
* made by an op with the DETECTIONS trait (nms: rows of boxes [N, D, 6]): `detections`;
* anything else (a generated image after tanh, features, a sum of a residual) is `values`:
  raw numbers, summarised.

Each output also says whether its numbers are logits (the recipe's loss reads them so),
probabilities (a softmax makes them) or plain scores.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ops import registry
from ..ops.registry import Trait
from ..recipes.registry import DEFAULT_LOSS, LOSSES

CLASSES, MAP, SEQUENCE, VALUES = "classes", "map", "sequence", "values"
DETECTIONS = "detections"
LOGITS, PROBABILITIES, SCORES = "logits", "probabilities", "scores"
SCORING = (Trait.WEIGHTED, Trait.DISTRIBUTION)  # ops whose output scores classes
MAX_WALK = 64  # layout-keeping ops looked through after the scoring op


@dataclass(frozen=True)
class OutputRead:
    """One output: its name, its kind (CLASSES, MAP, SEQUENCE, VALUES, or a kind a later
    reader adds), the axis that holds its classes, and what its numbers are."""

    name: str
    kind: str
    axis: int = 1
    numbers: str = SCORES


def read_outputs(graph, recipe: dict) -> list[OutputRead]:
    """Every output of `graph` (an inference view: the exported outputs), in order."""
    loss = LOSSES.get(recipe.get("loss", DEFAULT_LOSS)) or LOSSES[DEFAULT_LOSS]
    reads = []
    for i, (name, value) in enumerate(graph.outputs.items()):
        rank = graph.values[value].type.rank
        if _made_by(graph, value, Trait.DETECTIONS):
            reads.append(OutputRead(name, DETECTIONS, -1, SCORES))
            continue
        maker = _maker(graph, value)
        numbers = PROBABILITIES if maker == Trait.DISTRIBUTION else \
            graph.meta.get("output_kind", loss.output) if i == 0 else SCORES
        if rank <= 2:
            reads.append(OutputRead(name, CLASSES, 1, numbers))
        elif maker is None:
            reads.append(OutputRead(name, VALUES, 0, SCORES))
        elif loss.axis == -1 and rank == 3:
            reads.append(OutputRead(name, SEQUENCE, -1, numbers))
        elif loss.axis == 1:
            reads.append(OutputRead(name, MAP, 1, numbers))
        else:
            reads.append(OutputRead(name, VALUES, 0, SCORES))
    return reads


def by_shape(name: str, rank: int) -> OutputRead:
    """What can be said of an output without its spec (a model another tool wrote): a row
    per sample is read as class scores, anything larger as plain values."""
    return OutputRead(name, CLASSES, 1, SCORES) if rank <= 2 else OutputRead(name, VALUES, 0)


def _made_by(graph, value: str, trait) -> bool:
    producer = graph.values[value].producer
    return producer is not None and trait in registry.get(graph.node(producer).op).traits


def _maker(graph, value: str, depth: int = 0):
    """The scoring trait of the op that makes `value` (looking through ops that keep its
    layout, and into joins whose every input is scored), or None."""
    producer = graph.values[value].producer
    if producer is None or depth > MAX_WALK:
        return None
    node = graph.node(producer)
    traits = registry.get(node.op).traits
    found = next((t for t in SCORING if t in traits), None)
    if found is not None:
        return found
    if Trait.JOIN in traits:
        makers = {_maker(graph, v, depth + 1) for v in node.inputs}
        return Trait.WEIGHTED if makers and None not in makers else None
    if traits or len(node.inputs) != 1:
        return None  # elementwise (tanh: an image), a threshold, a norm: not class scores
    src, out = graph.values[node.inputs[0]].type, graph.values[value].type
    if src.rank != out.rank or src.shape[1:2] != out.shape[1:2]:
        return None  # the layout changed (a reshape, a transpose): scores of what?
    return _maker(graph, node.inputs[0], depth + 1)
