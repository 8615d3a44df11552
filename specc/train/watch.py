"""Watching the test metric: the best-so-far checkpoint and early stopping.

Every evaluation row is judged on the run's `monitor` (test accuracy, higher is better, or
test loss, lower is better). A strictly better value than any before makes the row the new
best, and its weights are written to RUN/best.safetensors. Early stopping (Keras' and
Lightning's rule) counts the evaluations since the value to beat was last beaten by more than
`min_delta`; `early_stop` such evaluations end the run. The counts live in the checkpoint's
progress, so a resumed run judges exactly as the uninterrupted one would have.
"""
from __future__ import annotations

import math

from .progress import Progress

BEST = "best.safetensors"
MONITORS = {"test_accuracy": "higher", "test_loss": "lower"}  # what counts as better


def better(monitor: str, value: float, than: float | None, delta: float = 0.0) -> bool:
    """Is `value` better than `than` by more than `delta`? NaN is never better."""
    if math.isnan(value):
        return False
    if than is None:
        return True
    if MONITORS[monitor] == "higher":
        return value > than + delta
    return value < than - delta


def judge(p: Progress, cfg, row: dict) -> bool:
    """Record this evaluation in `p`; True when it is the best so far."""
    value = float(row[cfg.monitor])
    improved = better(cfg.monitor, value, p.best)
    if improved:
        p.best, p.best_step = value, row["step"]
    if better(cfg.monitor, value, p.mark, cfg.min_delta):
        p.mark, p.stale = value, 0
    else:
        p.stale += 1
    return improved


def stopped_early(p: Progress, cfg) -> bool:
    """Is the patience used up? (Then a longer run stops where it stands.)"""
    return bool(cfg.early_stop) and p.stale >= cfg.early_stop


def reached_limit(p: Progress, cfg) -> bool:
    """Has the run trained all its epochs, or all its steps?"""
    return p.epoch >= cfg.epochs or bool(cfg.steps and p.global_step >= cfg.steps)


def patience_text(p: Progress, cfg) -> str:
    name = cfg.monitor.replace("_", " ")
    delta = f" by more than {cfg.min_delta:g}" if cfg.min_delta else ""
    best = (f"best {p.best:.4f} at step {p.best_step}" if p.best is not None else
            "no evaluation gave a number (diverged?)")
    evaluations = f"{p.stale} evaluation{'s' * (p.stale != 1)}"
    return (f"{name} did not improve{delta} in {evaluations} (--early-stop "
            f"{cfg.early_stop}); {best}")


def why_stopped(p: Progress, cfg) -> str:
    """The line that says why a run stopped early."""
    return "stopped early: " + patience_text(p, cfg)


def best_record(p: Progress, cfg, run) -> dict | None:
    """The best evaluation for a run's summary (None before the first one)."""
    if p.best is None:
        return None
    return {"metric": cfg.monitor, "value": p.best, "step": p.best_step,
            "checkpoint": str(run / BEST)}
