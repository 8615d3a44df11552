"""The trainer's hook for learning rules (specc/rules) and for data sets that bring their own
demonstration (specc/data/tasks.py). Networks that use only gradient descent on an ordinary
data set never reach this module; the others train here step by step:

  forward once, capturing the activity rules read -> one optimiser step: `gradient` parameters
  descend the whole objective (the task's or recipe's loss, REINFORCE's surrogate where it
  reaches them, the baseline head's squared error; as the official glimpse code does),
  `reinforce` parameters the surrogate alone -> every local rule, with no autograd ->
  statistics (perceptron corrections) and, at each epoch's end, the paper's metric.

Each step seeds torch from (seed, epoch, step), so sampling is reproducible and a resumed run
replays an interrupted step exactly.
"""
from __future__ import annotations

import torch

from .. import rules
from ..core.diagnostics import SpeccError
from .rules import Learner


def attach(trainer):
    """A RuleTraining for this trainer, or None when plain gradient descent is all it needs."""
    graph = trainer.net.graph
    named = any(u.rule != "gradient" for u in graph.learning.values())
    task = getattr(trainer.data, "task", None)
    if not named and task is None:
        return None
    if trainer.dist.world > 1:
        raise SpeccError("networks with learning rules or episodic tasks train in one process "
                         "(drop --nproc)")
    return RuleTraining(trainer, task)


class RuleTraining:
    def __init__(self, trainer, task):
        self.trainer, self.task = trainer, task
        self.learner = Learner(trainer.net.graph, trainer.model)
        if self.learner.policy and (task is None or task.reward is None):
            raise SpeccError(f"network '{trainer.net.name}' learns by reinforce but data set "
                             f"'{trainer.data.name}' gives no rewards")
        needs_reward = any(rules.get(u.rule).rewarded for u in self.learner.local)
        if needs_reward and (task is None or task.episodes is None):
            raise SpeccError(f"network '{trainer.net.name}' learns from rewards but data set "
                             f"'{trainer.data.name}' has no episodes to reward")
        self.metrics: dict = {}
        self._epoch = None
        if task is not None and task.before:  # the freshly initialised network, for comparison
            self.learner.module.eval()
            with torch.no_grad():
                first = task.evaluate(self)
            self.metrics[f"untrained_{task.metric}"] = first[task.metric]

    def parameters(self) -> list[dict]:
        return self.learner.gradient_params()

    # --------------------------------------------------------------------- train
    def step(self, x, y, epoch: int, i: int) -> tuple[float, int]:
        t = self.trainer
        if epoch != self._epoch:
            self._epoch = epoch
            self.learner.stats = {"corrections": 0, "samples": 0}
        torch.manual_seed((t.cfg.seed * 1_000_003 + epoch) * 100_003 + i)
        self.learner.module.train()
        self.learner.new_episode()
        if self.task is not None and self.task.episodes is not None:
            out = self.task.episodes(self, x)
            t.optimizer.step()  # nothing to step; keeps the schedule's order check quiet
            return out
        named, seen = self.learner.forward(x)
        loss = self._optimise(named, seen, y)
        self.learner.apply_local(seen, target=y, epoch=epoch)
        first = named[self.learner.names[0]]
        return loss, (_hits(first, y) if self.task is None else 0)

    def _optimise(self, named: dict, seen: dict, y) -> float:
        """One optimiser step on the gradient and reinforce parameters; returns the loss."""
        t = self.trainer
        first = named[self.learner.names[0]]
        if self.task is not None and self.task.loss is not None:
            loss = self.task.loss(named, y)
        else:
            loss = t.loss(first.float(), y)
        shown = float(loss.detach())
        total = loss if loss.requires_grad else None
        policy_grads = None
        if self.learner.policy:
            policy, baseline = self.learner.surrogate(seen, self.task.reward(named, y))
            params = self.learner.policy_params()
            policy_grads = torch.autograd.grad(policy, params, retain_graph=True,
                                               allow_unused=True)
            total = policy + baseline + (total if total is not None else 0.0)
        if total is None or not total.requires_grad:
            t.optimizer.step()  # nothing to step; keeps the schedule's order check quiet
            return shown
        t.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if policy_grads is not None:  # reinforce parameters follow the policy gradient only
            for p, g in zip(self.learner.policy_params(), policy_grads):
                p.grad = g
        t.optimizer.step()
        return shown

    # ------------------------------------------------------------------ evaluate
    @torch.no_grad()
    def evaluate(self) -> tuple[float, float] | None:
        """The task's own evaluation, or None for the trainer's usual one."""
        stats = self.learner.stats
        if stats["samples"]:
            self.metrics["train_errors"] = stats["corrections"]
            if stats["corrections"] == 0 and "converged_epoch" not in self.metrics:
                self.metrics["converged_epoch"] = self._epoch + 1  # first pass without errors
        if self.task is None:
            return None
        self.learner.module.eval()
        out = self.task.evaluate(self)
        self.learner.module.train()
        self.metrics.update({k: v for k, v in out.items() if k not in ("loss", "score")})
        return float(out.get("loss", 0.0)), float(out["score"])

    def summary(self) -> dict:
        """Fields for `specc train --json`: the demonstration's metric named by "metric"."""
        out = dict(self.metrics)
        if self.task is not None:
            out["metric"] = self.task.metric
        elif "train_errors" in out:
            out["metric"] = "train_errors"
        return out


def _hits(out: torch.Tensor, y: torch.Tensor) -> int:
    if y.dtype not in (torch.int64, torch.int32) or out.dim() != 2:
        return 0
    if out.shape[1] == 1:
        return int(((out.squeeze(1) > 0.5).long() == y).sum())
    return int((out.argmax(1) == y).sum())
