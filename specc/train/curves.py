"""curves.png: a run's losses, accuracies and learning rate, redrawn from metrics.csv (an
adversarial run's: both losses, and D(x) and D(G(z)))."""
from __future__ import annotations

from pathlib import Path

from ..core.files import replace_atomically


def plot_curves(run: Path, rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    by_step = all(r.get("step") not in (None, "") for r in rows)
    xs = [int(r["step"] if by_step else r["epoch"]) for r in rows]
    if rows and "loss_d" in rows[0]:
        return _plot_game(run, rows, xs, by_step, plt)
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
    _save(run, fig, plt)


def _save(run: Path, fig, plt) -> None:
    fig.suptitle(run.name)
    fig.tight_layout()
    try:
        replace_atomically(run / "curves.png", lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    finally:
        plt.close(fig)


def _plot_game(run: Path, rows: list[dict], xs: list, by_step: bool, plt) -> None:
    """An adversarial run: the two losses, and what the discriminator says of real and of
    generated samples (0.5 each where the game is balanced)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, keys in ((ax1, (("loss_d", "discriminator"), ("loss_g", "generator"))),
                     (ax2, (("d_x", "D(x)"), ("d_g_z", "D(G(z))")))):
        for key, label in keys:
            ax.plot(xs, [float(r[key]) for r in rows], "o-", label=label)
        ax.set_xlabel("step" if by_step else "epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    ax1.set_ylabel("loss")
    ax2.set_ylabel("probability of real")
    _save(run, fig, plt)


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

