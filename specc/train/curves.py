"""curves.png: a run's losses, accuracies and learning rate, redrawn from metrics.csv."""
from __future__ import annotations

from pathlib import Path

from ..core.files import replace_atomically


def plot_curves(run: Path, rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    by_step = all(r.get("step") not in (None, "") for r in rows)
    xs = [int(r["step"] if by_step else r["epoch"]) for r in rows]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.5))
    for ax, what in ((ax1, "loss"), (ax2, "accuracy")):
        ax.plot(xs, [float(r[f"train_{what}"]) for r in rows], "o-", label="train")
        ax.plot(xs, [float(r[f"test_{what}"]) for r in rows], "s-", label="test")
        ax.set_ylabel(what)
        ax.legend()
    _plot_lr(ax3, [(x, float(r["lr"])) for x, r in zip(xs, rows) if r.get("lr") not in
                   (None, "")])
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("step" if by_step else "epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(run.name)
    fig.tight_layout()
    try:
        replace_atomically(run / "curves.png", lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    finally:
        plt.close(fig)


def _plot_lr(ax, points: list[tuple[int, float]]) -> None:
    """The learning rate the steps up to each row ran with (it changes between rows); a
    log scale once it spans a decade, as step decays and warm-ups do."""
    ax.set_ylabel("learning rate")
    if not points:
        return
    xs, lrs = zip(*points)
    ax.step(xs, lrs, where="pre", marker="o", color="tab:green")
    if min(lrs) > 0 and max(lrs) / min(lrs) > 9.99:
        ax.set_yscale("log")

