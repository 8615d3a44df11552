"""Which baseline value may judge which action (REINFORCE's variance reduction, checked).

A baseline lowers the variance of the score-function gradient (R - b) grad log pi(a) without
biasing it only if b does not depend on the action a: a baseline computed after a was drawn
(from a state that has already seen a's outcome) predicts R from that outcome and cancels the
credit the action deserves. So a baseline head is read per action, from the state the action
was drawn from (Mnih et al.'s recurrent attention model does the same):

  - a baseline output joined from per-step values (`concat([...], axis=1)`, one value per
    step) gives each action the latest of those values that does not depend on it, and an
    action node with one log-probability per step (e.g. an emission drawn at every glimpse)
    its own step's value, entry by entry;
  - any other baseline output judges the actions it does not depend on.

Pure graph queries: the front half uses them for its check, the trainer for the pairing.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ops.registry import Trait, get
from .graphs import downstream


@dataclass(frozen=True)
class Judge:
    """How one stochastic node is judged: `each` pairs its per-step log-probabilities with
    `values` entry by entry; otherwise `values` holds the one baseline value it reads."""

    values: tuple[str, ...]
    each: bool = False


def parts(graph, head: str) -> list[str]:
    """The per-step values the baseline output `head` is joined from, else [head]."""
    producer = graph.values[graph.outputs[head]].producer
    node = graph.node(producer) if producer is not None else None
    if node is not None and Trait.CONCATENATION in get(node.op).traits \
            and node.attrs.get("axis") == 1 \
            and len(node.inputs) > 1:
        return list(node.inputs)
    return [graph.outputs[head]]


def judge(graph, head: str, action) -> Judge | None:
    """The baseline values that may judge the stochastic node `action`, or None if every one
    of them depends on it."""
    after = {o for n in downstream(graph, action.name) for o in n.outputs} | set(action.outputs)
    values = parts(graph, head)
    fair = [v for v in values if v not in after]
    steps = _entries(graph, action)
    if len(values) > 1 and len(fair) == len(values) and steps == len(values):
        return Judge(tuple(values), each=True)
    return Judge((fair[-1],)) if fair else None


def _entries(graph, action) -> int:
    """Log-probabilities per sample: the product of the sample's non-batch dims."""
    n = 1
    for d in graph.values[action.outputs[0]].type.shape[1:]:
        n *= d if isinstance(d, int) else 1
    return n


def direct(graph, node_name: str, stochastic) -> list:
    """The stochastic nodes `node_name` feeds without passing through another one."""
    reached, found = set(graph.node(node_name).outputs), []
    for node in graph.nodes:
        if any(i in reached for i in node.inputs):
            if stochastic(node):
                found.append(node)
            else:
                reached.update(node.outputs)
    return found
