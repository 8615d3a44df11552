"""Data sets that bring their own demonstration: the paper's metric, and for reinforcement
learning the rewards and episodes (used by specc/train/learning.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..data.registry import Dataset


@dataclass
class Task:
    """`metric`: the name `specc train --json` reports the paper's figure under.
    `evaluate(runner) -> dict`: that figure and others on the test split, with "score" (in
    [0, 1], shown as the epoch's test accuracy) and "loss". `reward(outputs, y) -> [B]`: the
    reward of each sample for REINFORCE. `loss(outputs, y)`: the task's own loss for the
    gradient-trained parameters (else the recipe's). `episodes(runner, x)`: runs one batch of
    episodes in an environment and applies the rules step by step (else one forward pass).
    `before`: also measure the untrained network (reported as untrained_<metric>)."""

    metric: str
    evaluate: Callable
    reward: Callable | None = None
    loss: Callable | None = None
    episodes: Callable | None = None
    before: bool = False


@dataclass
class TaskData(Dataset):
    task: Task | None = None
