"""Run folders: checkpoint, metrics.csv, curves.png, config.json and a copy of the spec."""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from ..diagnostics import SpeccError

CHECKPOINT = "checkpoint.safetensors"
FIELDS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds",
          "samples_per_s"]


def plan_run_dir(out: str | None, network: str) -> Path:
    """Where a new run goes: --out, else the first free runs/NETWORK[-k]. Nothing is created."""
    if out:
        return Path(out)
    base, n = Path("runs") / network, 1
    path = base
    while path.exists() and (not path.is_dir() or any(path.iterdir())):
        n += 1
        path = Path(f"{base}-{n}")
    return path


def create_run_dir(path: Path) -> Path:
    """Create the run folder once the run has been checked and is about to start."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SpeccError(f"cannot create run folder {path}: {e.strerror}") from None
    if not os.access(path, os.W_OK):
        raise SpeccError(f"run folder {path} is not writable")
    if (path / CHECKPOINT).exists():
        raise SpeccError(f"{path} already holds a run; continue it with --resume {path} or "
                         "choose another --out")
    return path


def write_config(run: Path, config: dict, spec_path: str) -> None:
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    shutil.copyfile(spec_path, run / Path(spec_path).name)


def read_config(run: Path) -> dict:
    try:
        return json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        raise SpeccError(f"{run} is not a run folder (no readable config.json)") from None


def append_metrics(run: Path, row: dict, plot: bool = True) -> None:
    path = run / "metrics.csv"
    rows = read_metrics(run)
    rows = [r for r in rows if int(r["epoch"]) < row["epoch"]] + [row]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in FIELDS})
    os.replace(tmp, path)
    if plot:
        plot_curves(run, rows)


def read_metrics(run: Path) -> list[dict]:
    path = run / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_curves(run: Path, rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [float(r["train_loss"]) for r in rows], "o-", label="train")
    ax1.plot(epochs, [float(r["test_loss"]) for r in rows], "s-", label="test")
    ax1.set_xlabel("epoch"), ax1.set_ylabel("loss"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.plot(epochs, [float(r["train_accuracy"]) for r in rows], "o-", label="train")
    ax2.plot(epochs, [float(r["test_accuracy"]) for r in rows], "s-", label="test")
    ax2.set_xlabel("epoch"), ax2.set_ylabel("accuracy"), ax2.legend(), ax2.grid(alpha=0.3)
    fig.suptitle(run.name)
    fig.tight_layout()
    tmp = run / ".curves.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, run / "curves.png")
