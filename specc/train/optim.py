"""The recipe's loss, optimiser and learning-rate schedule, built from their registry entries
(specc/recipes/): the trainer's part is only putting them together."""
from __future__ import annotations

from ..recipes.registry import LOSSES, OPTIMIZERS, SCHEDULES, WARMUPS
from ..recipes.schedule import STEPS, main_length, ramp, schedule_unit, warmup_length


def loss_fn(name: str, classes: int):
    return LOSSES[name].build(classes)


def class_axis(name: str) -> int:
    """The axis of the output that holds the classes under loss `name`."""
    return LOSSES[name].axis


def make_optimizer(cfg: dict, params):
    entry = OPTIMIZERS[cfg["name"]]
    return entry.build(params, entry.resolve(cfg))


def make_schedule(cfg: dict, optimizer, epochs: int, warmup, steps: int | None = None):
    """The recipe's schedule, counted in epochs (the loop steps it at each epoch's end) or in
    optimizer steps (`unit="steps"`: a post-step hook of the optimizer advances it, so a drop
    lands on the paper's iteration, and it is saved and restored with the optimizer in step).
    `warmup`: epochs of a linear ramp, or a warm-up record such as {"name": "hold", "epochs"
    or "steps", "lr"}: that lr for that long, then the schedule as if it had run from the start
    (its milestones stay where the recipe puts them). `steps`: the run's optimizer steps in
    all, which a schedule in steps spans (cosine, poly); `epochs` where it is not known."""
    unit = schedule_unit(cfg, warmup)  # a hand-edited config is checked as a recipe is
    entry = SCHEDULES[cfg["name"]]
    length = main_length(steps or epochs if unit == STEPS else epochs, warmup)
    schedule = entry.build(optimizer, entry.resolve(cfg), length, warmup)
    length = warmup_length(warmup)
    if length and isinstance(warmup, dict):
        hold = WARMUPS[warmup["name"]]
        schedule = hold.build(optimizer, schedule, hold.resolve(warmup), length)
    elif length:
        schedule = ramp(optimizer, schedule, length)
    return PerStep(optimizer, schedule) if unit == STEPS else schedule


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
