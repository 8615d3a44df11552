"""Applying learning rules while training: the activity each rule needs, captured in the same
forward pass; local rules updated with no autograd; REINFORCE's surrogate for the optimiser.

The capturing module is the trainer's own module seen through a second fx graph whose outputs
also hold the values rules read (pre- and post-synaptic activity, thresholded responses,
stochastic nodes' inputs and samples): the parameters are the same objects, so a checkpoint of
the trainer's module holds everything, rule state included (state parameters of the graph).
"""
from __future__ import annotations

import copy

import torch
import torch.fx as fx

from ..ops import registry as ops
from ..rules import registry
from ..rules.graphs import downstream, threshold_of
from ..rules.registry import Step
from ..rules.synapse import BOUNDS, form_of


class Learner:
    def __init__(self, graph, model: torch.nn.Module):
        self.graph = graph
        uses = [u for u in graph.learning.values() if u.param in graph.params]
        self.local = [u for u in uses if registry.get(u.rule).local]
        self.policy = [u for u in uses if registry.get(u.rule).kind == "policy"]
        self.stochastic = self._stochastic_nodes()
        self.judges = self._judges()
        self.names = list(graph.outputs)
        self.captured = self._values_to_capture()
        self.module = _capturing(graph, model, self.captured)
        self.model = model
        params = dict(model.named_parameters())
        for u in self.local:
            params[u.param].requires_grad_(False)
        self.episode: dict = {}  # per-episode rule state (eligibility traces)
        self.stats = {"corrections": 0, "samples": 0}

    # ------------------------------------------------------------------ set-up
    def _stochastic_nodes(self) -> list:
        found = {}
        for u in self.policy:
            for node in u.nodes(self.graph):
                for n in downstream(self.graph, node):
                    if ops.Trait.STOCHASTIC in ops.get(n.op).traits:
                        found[n.name] = n
        return list(found.values())

    def _judges(self) -> dict:
        """Each stochastic node's baseline (credit.Judge), from the use that draws it."""
        from ..rules.credit import direct, judge
        out = {}
        for u in self.policy:
            head = u.value.arg("baseline")
            for node in u.nodes(self.graph):
                for n in direct(self.graph, node, lambda m: m in self.stochastic):
                    if head and n.name not in out:
                        out[n.name] = judge(self.graph, head, n)
        return out

    def _values_to_capture(self) -> list[str]:
        want = []
        for u in self.local:
            node = self.graph.node(u.node)
            want += [node.inputs[0], node.outputs[0]]
            if registry.get(u.rule).response:
                want.append(threshold_of(self.graph, u.node).outputs[0])
        for n in self.stochastic:
            want += n.inputs + n.outputs
        for u in self.policy:
            if u.value.arg("baseline"):
                want.append(self.graph.outputs[u.value.arg("baseline")])
        for j in self.judges.values():
            want += list(j.values)
        return list(dict.fromkeys(want))

    def gradient_params(self) -> list[dict]:
        """Parameter groups for the recipe's optimiser: all trainable parameters that no local
        rule updates (gradient and reinforce ones). A list of groups, possibly empty."""
        return [{"params": [p for p in self.model.parameters() if p.requires_grad]}]

    # ----------------------------------------------------------------- forward
    def forward(self, *inputs) -> tuple[dict, dict]:
        """Network outputs by name, and the captured values by IR name."""
        out = self.module(*inputs)
        out = out if isinstance(out, tuple) else (out,)
        k = len(self.names)
        return dict(zip(self.names, out[:k])), dict(zip(self.captured, out[k:]))

    # ------------------------------------------------------------- local rules
    def apply_local(self, seen: dict, target=None, reward=None, epoch: int | None = None) -> None:
        """One update of every local rule from the activity of one forward pass. `target`:
        the data's targets (labels or vectors); `reward`: [B] or None; `epoch` (0-based):
        rules given an `epoch` of their own learn only in that one (1-based)."""
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            self._count_corrections(seen, target)
            for u in self.local:
                if epoch is None or dict(u.value.args).get("epoch", 0) in (0, epoch + 1):
                    self._update(u, params, seen, target, reward)

    def _count_corrections(self, seen: dict, target) -> None:
        """Samples on which some perceptron unit answered wrongly (so the rule corrects)."""
        if target is None:
            return
        for name in dict.fromkeys(u.node for u in self.local if registry.get(u.rule).response):
            out = seen[threshold_of(self.graph, name).outputs[0]]
            wrong = (encode_target(target, out) != out).reshape(out.shape[0], -1).any(1)
            self.stats["corrections"] += int(wrong.sum())
            self.stats["samples"] += len(wrong)

    def _update(self, u, params, seen, target, reward) -> None:
        node = self.graph.node(u.node)
        op = ops.get(node.op)
        form = form_of(op, u.role)
        step = Step(u, form, params[u.param].data, pre=seen[node.inputs[0]].detach(),
                    post=seen[node.outputs[0]].detach(), reward=reward,
                    state=self.episode.setdefault(u.param, {}),
                    extra={"attrs": node.attrs, "node": node,
                           "params": {r: params[p].data for r, p in node.params.items()
                                      if p in params}})
        units = node.outputs[0]
        rule = registry.get(u.rule)
        if rule.response:
            units = threshold_of(self.graph, u.node).outputs[0]
            step.response = seen[units].detach()
        if target is not None and rule.teacher is not None and rule.teacher(u):
            step.target = encode_target(target, seen[units])
        rule.update(step)
        if form in BOUNDS:
            step.param.clamp_(*BOUNDS[form])

    def new_episode(self) -> None:
        self.episode.clear()

    # ---------------------------------------------------------------- REINFORCE
    def surrogate(self, seen: dict, reward: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(policy loss, baseline loss). The policy loss -sum (R - b) log pi(a) over the
        actions has the REINFORCE gradient, each action judged by the baseline values that
        do not depend on it (credit.py); the baseline loss trains the head towards R."""
        reward = reward.detach().to(torch.float32)
        u = self.policy[0]
        head = u.value.arg("baseline")
        if head:
            b = seen[self.graph.outputs[head]]
            baseline_loss = ((b.reshape(b.shape[0], -1) - reward[:, None]) ** 2).mean()
            base = None
        else:
            state = dict(self.model.named_buffers())[self._state_name(u, "baseline")]
            base = state.detach().clone().expand_as(reward)  # before this step's update
            with torch.no_grad():
                state.mul_(u.value.arg("decay")).add_((1 - u.value.arg("decay")) * reward.mean())
            baseline_loss = reward.new_zeros(())
        policy = reward.new_zeros(())
        for n in self.stochastic:
            lp = ops.get(n.op).log_prob(n.attrs, [seen[i] for i in n.inputs], seen[n.outputs[0]])
            lp = lp.reshape(lp.shape[0], -1)
            judged = self._baseline_for(n, seen, lp) if base is None else base[:, None]
            policy = policy - ((reward[:, None] - judged).detach() * lp).sum(1).mean()
        return policy, baseline_loss

    def _baseline_for(self, node, seen: dict, lp: torch.Tensor) -> torch.Tensor:
        """[B, entries] (or [B, 1]): the baseline values that judge `node`'s actions."""
        j = self.judges.get(node.name)
        if j is None:  # reached only through another rule's node: the head, whole
            u = self.policy[0]
            value = seen[self.graph.outputs[u.value.arg("baseline")]]
            return value.reshape(value.shape[0], -1).mean(1, keepdim=True)
        parts = [seen[v].reshape(lp.shape[0], -1) for v in j.values]
        if j.each:
            return torch.cat(parts, 1)
        return parts[0].mean(1, keepdim=True)

    def _state_name(self, u, name: str) -> str:
        return self.graph.node(u.node).params[f"{u.rule}_{name}"]

    def policy_params(self) -> list:
        params = dict(self.model.named_parameters())
        return [params[u.param] for u in self.policy]


def encode_target(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Targets shaped like the units they teach: class labels become one-hot rows (one unit
    per class) or a single 0/1 unit; vectors pass through."""
    if y.dtype in (torch.int64, torch.int32):
        width = like.shape[-1]
        if width == 1:
            return y.to(like.dtype).reshape(like.shape)
        return torch.nn.functional.one_hot(y.long(), width).to(like.dtype).reshape(like.shape)
    return y.to(like.dtype).reshape(like.shape)


def _capturing(graph, model: torch.nn.Module, captured: list[str]) -> fx.GraphModule:
    """A module whose forward also returns `captured`, sharing `model`'s parameters."""
    from ..backends.torch_module import build_module, quiet
    if not captured:
        return model
    g = copy.copy(graph)
    g.outputs = dict(graph.outputs)
    for i, v in enumerate(captured):
        g.outputs[f"__seen{i}"] = v
    built = build_module(g)
    return quiet(fx.GraphModule(model, built.graph, class_name=type(model).__name__))
