"""The learning-rule registry: one RuleDef per rule carries everything every stage needs.

A rule is named in a spec with `learn=RULE(...)` on the op call whose parameters it updates
(`linear(a, 8, learn=perceptron(rate=1.0))`); parameters without one learn by `gradient`.
Each entry holds its equation (the docstring), its arguments, the synapse forms it can update
(declared by the ops: `OpDef.synapses`), the state it keeps between steps, an elaboration check
(errors at the `learn=` argument), its update, and whether it reads the data's targets.
Updates import torch lazily, so the front half (parse, elaborate, check) never loads it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

REQUIRED = object()

# kinds of rule arguments: numbers, strings, booleans and tensors of the network
ARG_KINDS = ("float", "int", "str", "bool", "tensor")


@dataclass(frozen=True)
class RuleArg:
    name: str
    kind: str
    default: object = REQUIRED
    doc: str = ""
    choices: tuple = ()  # allowed values of a "str" argument


@dataclass(frozen=True)
class RuleDef:
    """`kind`: "local" (applied after the forward pass with no autograd), "gradient" (the
    recipe's loss, by the optimiser) or "policy" (REINFORCE's score-function gradient, by the
    optimiser). `forms`: the synapse forms it can update; None means any parameter.
    `check(use, graph)` returns problems (strings) with this use; `state(use, graph)` the
    tensors it keeps between steps, {name: shape}; `update(step)` applies one step;
    `teacher(use)` says whether that step needs targets; `response`, whether it reads the
    units' step() output; `rewarded`, whether it needs a task that gives rewards."""

    name: str
    doc: str
    args: tuple[RuleArg, ...]
    kind: str
    forms: frozenset | None = None
    check: Callable | None = None
    state: Callable | None = None
    update: Callable | None = None
    teacher: Callable | None = None  # teacher(use) -> True when the update reads targets
    response: bool = False  # reads the units' thresholded output (the step() after them)
    rewarded: bool = False  # needs rewards from episodes

    @property
    def local(self) -> bool:
        return self.kind == "local"


@dataclass(frozen=True)
class RuleValue:
    """A rule constructor applied in a spec, e.g. hebb(rate=0.1): a compile-time value.
    Tensor arguments hold the IR value's name."""

    rule: str
    args: tuple  # ((name, value), ...), defaults filled in
    span: object = field(default=None, compare=False)

    def arg(self, name: str):
        return dict(self.args)[name]

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.args)
        return f"{self.rule}({shown})"


@dataclass
class LearnUse:
    """One parameter assigned a rule: which node's activity the rule sees, through which role
    (an owned parameter's role, or the name of the op argument it is passed as)."""

    param: str
    value: RuleValue
    node: str
    role: str
    span: object = None
    also: list = field(default_factory=list)  # other nodes using it by the same (non-local) rule

    def nodes(self, graph) -> list[str]:
        """The nodes through which the rule reaches the parameter (dead code dropped)."""
        alive = {n.name for n in graph.nodes}
        return [n for n in [self.node, *self.also] if n in alive]

    @property
    def rule(self) -> str:
        return self.value.rule


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if v is None:
        return "none"
    return repr(v)


RULES: dict[str, RuleDef] = {}


def register(*rules: RuleDef) -> None:
    for r in rules:
        if r.name in RULES:
            raise RuntimeError(f"rule {r.name!r} registered twice")
        RULES[r.name] = r


def get(name: str) -> RuleDef | None:
    return RULES.get(name)


def all_rules() -> dict[str, RuleDef]:
    """Every rule: the package's __init__ imports each rule module (which registers it)."""
    return RULES


@dataclass
class Step:
    """What one update sees: the parameter (its data, updated in place), its synapse form,
    the activity around its node, the teaching signals the task gives, and the rule's state
    (persistent tensors saved in checkpoints, and per-episode ones such as eligibility traces)."""

    use: LearnUse
    form: str | None
    param: object
    pre: object = None
    post: object = None
    target: object = None  # what the post-synaptic units should do, [B, units]
    response: object = None  # the thresholded output of the units (perceptron)
    reward: object = None  # [B], one per sample or episode, None between rewards
    state: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def arg(self, name: str):
        return self.use.value.arg(name)
