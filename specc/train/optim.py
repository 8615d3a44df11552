"""Losses, optimisers and learning-rate schedules named by recipes."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.diagnostics import SpeccError
from ..recipes.schedule import STEPS, schedule_unit, warmup_length

LENET_J = 1.0  # the positive constant j of LeCun et al.'s eq. 9


def loss_fn(name: str, classes: int):
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "mse":
        def mse(out, y):
            if y.is_floating_point() and y.shape == out.shape:  # vector targets
                return F.mse_loss(out, y)
            target = F.one_hot(y, out.shape[1]).to(out.dtype) if out.shape[1] > 1 else \
                y.to(out.dtype).view(-1, 1)
            return F.mse_loss(out, target)
        return mse
    if name == "perceptron":
        def perceptron(scores, y):
            """Rosenblatt's error-correction rule as a loss: per R-unit j with target t_j
            (one-vs-rest) and response y_j = [s_j >= 0], sum_j (y_j - t_j) s_j; its gradient
            step is exactly w_j <- w_j + lr (t_j - y_j) a."""
            target = F.one_hot(y, scores.shape[1]).to(scores.dtype)
            fired = (scores >= 0).to(scores.dtype)
            return ((fired - target) * scores).sum(1).mean()
        return perceptron
    if name == "lenet":
        def lenet(scores, y):
            """LeCun 1998 eq. 9 on scores = -distances: E = y_D + log(e^-j + sum e^-y_i)."""
            padded = torch.cat([scores, scores.new_full((scores.shape[0], 1), -LENET_J)], 1)
            return (-scores.gather(1, y.view(-1, 1)).squeeze(1) + padded.logsumexp(1)).mean()
        return lenet
    raise ValueError(name)


def make_optimizer(cfg: dict, params):
    name, lr, wd = cfg["name"], cfg["lr"], cfg.get("weight_decay", 0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.get("momentum", 0.0),
                               nesterov=cfg.get("nesterov", False), weight_decay=wd)
    betas = (cfg.get("beta1", 0.9), cfg.get("beta2", 0.999))
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=cfg.get("weight_decay", 0.01))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=cfg.get("alpha", 0.99),
                                   momentum=cfg.get("momentum", 0.0), weight_decay=wd)
    raise ValueError(name)


def make_schedule(cfg: dict, optimizer, epochs: int, warmup):
    """The recipe's schedule, counted in epochs (the loop steps it at each epoch's end) or in
    optimizer steps (`unit="steps"`: a post-step hook of the optimizer advances it, so a drop
    lands on the paper's iteration, and it is saved and restored with the optimizer in step).
    `warmup`: epochs of a linear ramp, or {"name": "hold", "epochs" or "steps", "lr"}: that lr
    for that long, then the schedule as if it had run from the start (its milestones stay
    where the recipe puts them)."""
    unit = schedule_unit(cfg, warmup)  # a hand-edited config is checked as a recipe is
    if cfg["name"] == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, patience=cfg.get("patience", 10), factor=cfg.get("factor", 0.1))
    schedule = _with_warmup(_main_schedule(cfg, optimizer, epochs, warmup), optimizer, warmup)
    return PerStep(optimizer, schedule) if unit == STEPS else schedule


def _main_schedule(cfg: dict, optimizer, epochs: int, warmup):
    S = torch.optim.lr_scheduler
    name = cfg["name"]
    if name == "step":
        return S.StepLR(optimizer, step_size=cfg["every"], gamma=cfg.get("gamma", 0.1))
    if name == "multistep":
        return S.MultiStepLR(optimizer, milestones=list(cfg["milestones"]),
                             gamma=cfg.get("gamma", 0.1))
    if name == "cosine":
        ramp = 0 if isinstance(warmup, dict) else warmup
        return S.CosineAnnealingLR(optimizer, T_max=max(1, epochs - ramp),
                                   eta_min=cfg.get("min_lr", 0.0))
    return S.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _with_warmup(main, optimizer, warmup):
    S = torch.optim.lr_scheduler
    length = warmup_length(warmup)
    if not length:
        return main
    if isinstance(warmup, dict):
        base = optimizer.param_groups[0]["lr"]
        if not 0 < warmup["lr"] <= base:
            raise SpeccError(f"the warm-up lr {warmup['lr']:g} must be positive and at most the "
                             f"lr {base:g}")
        hold = S.ConstantLR(optimizer, factor=warmup["lr"] / base, total_iters=length)
        return S.ChainedScheduler([hold, main], optimizer)
    ramp = S.LinearLR(optimizer, start_factor=1.0 / (length + 1), total_iters=length)
    return S.SequentialLR(optimizer, [ramp, main], milestones=[length])


class PerStep:
    """A schedule counted in optimizer steps. The optimizer's post-step hook advances it right
    after each update, so every checkpoint (always taken between steps) holds the two in step;
    the loop's end-of-epoch `step()` is not a step and does nothing."""

    def __init__(self, optimizer, schedule):
        self.schedule = schedule
        self._hook = optimizer.register_step_post_hook(lambda *_: schedule.step())

    def step(self, *_) -> None:
        """An epoch ended: nothing to count."""

    def state_dict(self) -> dict:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict(state)

    def get_last_lr(self) -> list:
        return self.schedule.get_last_lr()
