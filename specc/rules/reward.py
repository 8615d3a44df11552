"""Learning from reward: three-factor rules (SNARC) and REINFORCE; and gradient descent."""
from __future__ import annotations

from .graphs import downstream
from ..ops.registry import Trait, get
from .registry import RuleArg, RuleDef, register
from .synapse import BOUNDS, per_sample, rows


def _reward_modulated(step):
    """Replacing traces: a coincidence recharges the trace to (at least) its value, as the
    SNARC's capacitor charged on firing; between coincidences it decays by `trace`."""
    import torch
    now = per_sample(step.form, step.pre, step.post)
    e = step.state.get("eligibility")
    e = now if e is None else torch.maximum(step.arg("trace") * e, now)
    step.state["eligibility"] = e
    if step.reward is None:
        return
    r = step.reward.to(e.dtype).reshape(-1, *([1] * (e.dim() - 1)))
    target = rows(step.param, step.form)
    target.add_(step.arg("rate") * (r * e).sum(0))
    if step.form in BOUNDS:
        target.clamp_(*BOUNDS[step.form])


def _check_reinforce(use, graph):
    from .credit import direct, judge
    nodes = [n for node in use.nodes(graph) for n in downstream(graph, node)
             if Trait.STOCHASTIC in get(n.op).traits]
    raced = [n.name for n in nodes if n.attrs.get("race")]
    if raced:
        return (f"reinforce cannot follow '{raced[0]}': a race of transmit units has no "
                "log-probability")
    head = use.value.arg("baseline")
    if head and head not in graph.outputs:
        return (f"reinforce's baseline '{head}' is not an output of the network (declare it, "
                f"e.g. train output {head} = linear(h, 1))")
    if not nodes:
        return ("reinforce needs a stochastic node (bernoulli, transmit, categorical, "
                f"normal) that depends on '{use.node}'; there is none, so there is no "
                "policy to learn")
    if head:
        for node in use.nodes(graph):
            for action in direct(graph, node, lambda n: Trait.STOCHASTIC in get(n.op).traits):
                if judge(graph, head, action) is None:
                    return (f"reinforce's baseline '{head}' depends on the action '"
                            f"{action.name}' it would judge: it predicts the reward from the "
                            "action's own outcome and cancels its credit (a biased "
                            "gradient); compute it from the state the action is drawn from, "
                            "one value per step joined by concat([...], axis=1)")
    return None


def _reinforce_state(use, graph):
    return {} if use.value.arg("baseline") else {"baseline": ()}


register(
    RuleDef(
        name="reward_modulated",
        doc="Three-factor rule (Minsky & Edmonds' SNARC, 1951): an eligibility trace e marks "
            "recent coincidences of pre- and post-synaptic activity, e <- max(trace * e, pre x "
            "post), and a reward R turns it into learning, dw = eta * R * e, per episode, "
            "summed over the episodes of a batch. Gates (transmission probabilities) stay in "
            "[0, 1]. Traces start at zero with every episode.",
        args=(RuleArg("rate", "float", doc="eta"),
              RuleArg("trace", "float", 0.8, "decay of the eligibility trace per time step")),
        kind="local", forms=frozenset({"dense", "dense_in", "bias", "gate"}),
        update=_reward_modulated, rewarded=True),
    RuleDef(
        name="reinforce",
        doc="REINFORCE (Williams 1992): the parameters upstream of stochastic nodes follow the "
            "score-function gradient of the expected reward, grad = (R - b) * grad log pi(a), "
            "summed over the stochastic nodes they feed, taken by the recipe's optimiser. The "
            "baseline b is an output of the network named by `baseline` (a learned head, "
            "trained towards R by squared error; usually a `train output`) or, without one, a "
            "running mean of R with decay `decay`. A head judges an action only with values "
            "that do not depend on it: joined from one value per step (concat(..., axis=1)), "
            "each action reads the latest value computed before it was drawn, and an action "
            "drawn at every step its own step's value (specc/rules/credit.py).",
        args=(RuleArg("baseline", "str", "", "the output that predicts the reward"),
              RuleArg("decay", "float", 0.9, "running-mean decay when there is no head")),
        kind="policy", check=_check_reinforce, state=_reinforce_state),
    RuleDef(
        name="gradient",
        doc="Gradient descent on the recipe's loss, by the recipe's optimiser: "
            "w <- w - lr * dL/dw (or Adam's, RMSprop's update). The rule of every trainable "
            "parameter that names no other.",
        args=(), kind="gradient"),
)
