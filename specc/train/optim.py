"""Losses, optimisers and learning-rate schedules named by recipes."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..diagnostics import SpeccError

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
    """An epoch-wise schedule. `warmup`: epochs of a linear ramp, or {"name": "hold", "epochs",
    "lr"}: that lr for those epochs, then the schedule as if it had run from the start (its
    milestones stay where the recipe puts them)."""
    S = torch.optim.lr_scheduler
    name = cfg["name"]
    if name == "step":
        main = S.StepLR(optimizer, step_size=cfg["every"], gamma=cfg.get("gamma", 0.1))
    elif name == "multistep":
        main = S.MultiStepLR(optimizer, milestones=list(cfg["milestones"]), gamma=cfg.get("gamma", 0.1))
    elif name == "cosine":
        main = S.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warmup), eta_min=cfg.get("min_lr", 0.0))
    elif name == "plateau":
        return S.ReduceLROnPlateau(optimizer, patience=cfg.get("patience", 10),
                                   factor=cfg.get("factor", 0.1))
    else:
        main = S.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if isinstance(warmup, dict):
        base = optimizer.param_groups[0]["lr"]
        if warmup["epochs"] == 0:
            return main
        if not 0 < warmup["lr"] <= base:
            raise SpeccError(f"the warm-up lr {warmup['lr']:g} must be positive and at most the "
                             f"lr {base:g}")
        hold = S.ConstantLR(optimizer, factor=warmup["lr"] / base, total_iters=warmup["epochs"])
        return S.ChainedScheduler([hold, main], optimizer)
    if warmup > 0:
        ramp = S.LinearLR(optimizer, start_factor=1.0 / (warmup + 1), total_iters=warmup)
        return S.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
    return main
