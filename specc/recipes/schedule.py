"""What a recipe's learning-rate schedule counts, and the checks that need several recipe keys
at once. The papers give schedules in epochs (AlexNet, torchvision) or in iterations (the CIFAR
ResNets: /10 at 32k and 48k, stop at 64k); `unit="steps"` says the latter, so the recipe holds
the paper's numbers rather than a conversion that depends on the data set's size.

Used at the recipe's lines (`specc check`) and again by the trainer, for a run configuration
edited by hand. No torch here: the front half imports this.
"""
from __future__ import annotations

from ..core.diagnostics import SpeccError

EPOCHS, STEPS = "epochs", "steps"


def schedule_unit(schedule: dict | None, warmup) -> str:
    """"epochs" or "steps": what the schedule and its warm-up count. One recipe counts in one
    unit: a drop at step 32000 after a hold of one epoch would depend on the epoch's length."""
    if warmup_length(warmup) and schedule and schedule.get("name") == "plateau":
        raise SpeccError("plateau takes no warm-up: it lowers the lr when the test loss stops "
                         "improving, not on a clock")
    mine, theirs = _schedule_counts(schedule), _warmup_counts(warmup)
    if mine and theirs and mine != theirs:
        raise SpeccError(f"the warm-up counts {theirs} but the schedule counts {mine}",
                         notes=("give both in one unit: hold(steps=N, lr=X) with unit=\"steps\", "
                                "or hold(epochs=N, lr=X) with the schedule in epochs",))
    return mine or theirs or EPOCHS


def warmup_length(warmup) -> int:
    """Epochs or steps of the warm-up (0: none): an int is epochs of a linear ramp."""
    if isinstance(warmup, dict):
        return warmup.get("epochs") or warmup.get("steps") or 0
    return warmup or 0


def _schedule_counts(schedule: dict | None) -> str | None:
    if not schedule or schedule.get("name") == "constant":
        return None  # a constant lr counts nothing
    return schedule.get("unit", EPOCHS)  # cosine and plateau: epochs (evaluations)


def _warmup_counts(warmup) -> str | None:
    if not warmup_length(warmup):
        return None
    return STEPS if isinstance(warmup, dict) and warmup.get("steps") else EPOCHS


def schedule_problem(schedule: dict, recipe: dict) -> str | None:
    """A drop the run never reaches, when the recipe also says where the run ends in the
    schedule's unit (the end may be `epochs` for a schedule in steps: that needs the data)."""
    unit = schedule.get("unit", EPOCHS)
    end = recipe.get(unit)
    if not end:
        return None
    where = f"before the end of the run ({unit} = {end})"
    if schedule["name"] == "multistep":
        late = [m for m in schedule["milestones"] if m >= end]
        if late:
            return f"milestone {late[0]} is not {where}: the lr would never drop there"
    if schedule["name"] == "step" and schedule["every"] >= end:
        return f"every={schedule['every']} is not {where}: the lr would never drop"
    return None
