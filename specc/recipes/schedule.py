"""The learning-rate schedules and warm-ups a recipe names, one entry each, and what a
schedule counts. The papers give schedules in epochs (AlexNet, torchvision) or in iterations
(the CIFAR ResNets: /10 at 32k and 48k, stop at 64k); `unit="steps"` says the latter, so the
recipe holds the paper's numbers rather than a conversion that depends on the data set's size.

The unit checks run at the recipe's lines (`specc check`) and again in the trainer, for a run
configuration edited by hand. No torch at import: the front half imports this; the builders
import it when they run.
"""
from __future__ import annotations

from ..core.diagnostics import SpeccError
from .registry import (COUNT, EPOCHS, FRACTION, NUM, POS, REQUIRED, SCHEDULES, STEPS, UNIT,
                       WARMUPS, Schedule, Warmup, register)


def schedule_unit(schedule: dict | None, warmup) -> str:
    """"epochs" or "steps": what the schedule and its warm-up count. One recipe counts in one
    unit: a drop at step 32000 after a hold of one epoch would depend on the epoch's length."""
    entry = SCHEDULES[schedule["name"]] if schedule else None
    if warmup_length(warmup) and entry is not None and entry.no_warmup:
        raise SpeccError(f"{entry.name} takes no warm-up: {entry.no_warmup}")
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
    if not schedule or not SCHEDULES[schedule["name"]].counts:
        return None  # a constant lr counts nothing
    return schedule.get("unit", default_unit(schedule))  # plateau: epochs (evaluations)


def default_unit(schedule: dict) -> str:
    """What the schedule counts when the recipe does not say: its entry's default `unit`
    (poly: steps, as torchvision's reference), else epochs."""
    field = SCHEDULES[schedule["name"]].fields.get("unit")
    return field[1] if field else EPOCHS


def main_length(length: int, warmup) -> int:
    """The run's length (in the schedule's unit) left to a schedule that starts when its
    warm-up ends (a linear ramp); a schedule beside a `hold` runs from the start."""
    sequential = not isinstance(warmup, dict) or WARMUPS[warmup["name"]].sequential
    return max(1, length - warmup_length(warmup)) if sequential else max(1, length)


def _warmup_counts(warmup) -> str | None:
    if not warmup_length(warmup):
        return None
    return STEPS if isinstance(warmup, dict) and warmup.get("steps") else EPOCHS


def schedule_problem(schedule: dict, recipe: dict) -> str | None:
    """A drop the run never reaches, when the recipe also says where the run ends in the
    schedule's unit (the end may be `epochs` for a schedule in steps: that needs the data)."""
    unit = schedule.get("unit", default_unit(schedule))
    end = recipe.get(unit)
    unreached = SCHEDULES[schedule["name"]].unreached
    if not end or unreached is None:
        return None
    problem = unreached(schedule, end)
    return problem and problem.format(where=f"before the end of the run ({unit} = {end})")


def ramp(optimizer, main, length: int):
    """`warmup = N` or linear(epochs=N or steps=N): the lr rises linearly over N epochs (or
    steps), lr (k + 1) / (N + 1) at the k-th (nanoGPT's get_lr), then `main` from its start."""
    import torch
    S = torch.optim.lr_scheduler
    first = S.LinearLR(optimizer, start_factor=1.0 / (length + 1), total_iters=length)
    return S.SequentialLR(optimizer, [first, main], milestones=[length])


# ------------------------------------------------------------------------------ entries
def _constant(optimizer, f, epochs, warmup):
    import torch
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _step(optimizer, f, epochs, warmup):
    import torch
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=f["every"], gamma=f["gamma"])


def _multistep(optimizer, f, epochs, warmup):
    import torch
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(f["milestones"]),
                                                gamma=f["gamma"])


def _cosine(optimizer, f, length, warmup):
    import torch
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=length,
                                                      eta_min=f["min_lr"])


def _poly(optimizer, f, length, warmup):
    import torch
    return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=length, power=f["power"])


def _plateau(optimizer, f, epochs, warmup):
    import torch
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=f["patience"],
                                                      factor=f["factor"])


def _late_milestone(f, end):
    late = [m for m in f["milestones"] if m >= end]
    return f"milestone {late[0]} is not {{where}}: the lr would never drop there" if late else None


def _late_step(f, end):
    return f"every={f['every']} is not {{where}}: the lr would never drop" \
        if f["every"] >= end else None


def ramp_after(optimizer, main, f, length):
    return ramp(optimizer, main, length)


def _hold(optimizer, main, f, length):
    import torch
    S = torch.optim.lr_scheduler
    base = optimizer.param_groups[0]["lr"]
    if not 0 < f["lr"] <= base:
        raise SpeccError(f"the warm-up lr {f['lr']:g} must be positive and at most the "
                         f"lr {base:g}")
    first = S.ConstantLR(optimizer, factor=f["lr"] / base, total_iters=length)
    return S.ChainedScheduler([first, main], optimizer)


def _hold_check(p: dict):
    given = [k for k in ("epochs", "steps") if p.get(k) is not None]
    if not given:
        return "needs 'epochs' or 'steps' (how long to hold the lr)"
    if len(given) == 2:
        return "takes 'epochs' or 'steps', not both"
    return None


register(Schedule(name="constant", fields={}, build=_constant, counts=False,
                  cite="torch.optim.lr_scheduler.ConstantLR", doc="the lr never changes"))
register(Schedule(
    name="step", build=_step, unreached=_late_step,
    fields={"every": (COUNT, REQUIRED), "gamma": (POS, 0.1), "unit": (UNIT, EPOCHS)},
    cite="Krizhevsky et al. 2012 §5", doc="the lr times gamma every `every` epochs (or steps)"))
register(Schedule(
    name="multistep", build=_multistep, unreached=_late_milestone,
    fields={"milestones": ("counts", REQUIRED), "gamma": (POS, 0.1), "unit": (UNIT, EPOCHS)},
    cite="He et al. 2016 §3.4, §4.2",
    doc="the lr times gamma at each milestone, in epochs (or steps: the paper's iterations)"))
register(Schedule(
    name="cosine", build=_cosine, fields={"min_lr": (NUM, 0.0), "unit": (UNIT, EPOCHS)},
    cite="Loshchilov & Hutter 2017 (SGDR, without restarts); nanoGPT's get_lr with a warm-up",
    doc="the lr falls along half a cosine to min_lr at the run's last epoch (or step), "
        "after the warm-up's ramp if there is one"))
register(Schedule(
    name="poly", build=_poly, fields={"power": (POS, 0.9), "unit": (UNIT, STEPS)},
    cite="torchvision references/segmentation (PolynomialLR, power 0.9, per iteration)",
    doc="lr (1 - step/total)^power, counted in optimizer steps (or epochs) to the run's end, "
        "after the warm-up's ramp if there is one"))
register(Schedule(
    name="plateau", build=_plateau, fields={"patience": ("int", 10), "factor": (FRACTION, 0.1)},
    no_warmup="it lowers the lr when the test loss stops improving, not on a clock",
    cite="Krizhevsky et al. 2012 §5",
    doc="the lr times factor after `patience` evaluations without a lower test loss"))
# a warm-up that holds a small lr, then the schedule from its start (He et al. 2016, 4.2);
# for `epochs` or for `steps` (one of the two)
register(Warmup(
    name="linear", build=ramp_after, check=_hold_check, sequential=True,
    fields={"epochs": ("int", None), "steps": ("int", None)},
    cite="Goyal et al. 2017 §2.2; nanoGPT train.py (warmup_iters)",
    doc="the lr rises linearly over `epochs` or `steps` to the recipe's lr, (k + 1) / (N + 1) "
        "of it at the k-th, then the schedule over the rest of the run (warmup = N: N epochs)"))
register(Warmup(
    name="hold", build=_hold, check=_hold_check,
    fields={"epochs": ("int", None), "steps": ("int", None), "lr": (POS, REQUIRED)},
    cite="He et al. 2016 §4.2",
    doc="holds a small lr for `epochs` or `steps`, then the schedule from its start "
        "(ResNet-110: 0.01 until training error falls below 80 %)"))
