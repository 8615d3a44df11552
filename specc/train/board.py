"""TensorBoard event files in RUN/tensorboard/ (`specc train --tensorboard`).

Each evaluation row of metrics.csv becomes one scalar per tag at its global step, so the
curves in TensorBoard and in curves.png are the same numbers. A resumed run continues the
same folder: its writer starts with a purge step (a SessionLog.START event) at the step of
the checkpoint it resumes from, which makes TensorBoard drop whatever the interrupted process
logged past that point; the row at that step, when the resumed run will not redo it, is
logged again from metrics.csv after the purge (and all earlier rows, when --tensorboard is
first given on resume).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ..core.diagnostics import SpeccError

TB_DIR = "tensorboard"
TAGS = {"train_loss": "train/loss", "train_accuracy": "train/accuracy",
        "test_loss": "test/loss", "test_accuracy": "test/accuracy", "lr": "train/lr",
        "samples_per_s": "speed/samples_per_s", "test_miou": "test/miou"}
_STAMP = re.compile(r"tfevents\.(\d+)\.")


class Board:
    def __init__(self, run: Path, purge_step: int):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise SpeccError("--tensorboard needs the tensorboard package "
                             "(pip install tensorboard)") from None
        path = check_folder(run)
        self.new = not _after_older_files(path)
        try:
            self.writer = SummaryWriter(str(path), purge_step=purge_step)
        except OSError as e:
            raise SpeccError(f"cannot write TensorBoard logs to {path}: "
                             f"{e.strerror or e}") from None

    def row(self, row: dict, extra: dict | None = None) -> None:
        """One metrics row (and a demonstration's own figures, under demo/) at its step."""
        step = int(row["step"])
        for key, tag in TAGS.items():
            if row.get(key) not in (None, ""):
                self.writer.add_scalar(tag, float(row[key]), step)
        for key, value in (extra or {}).items():
            self.writer.add_scalar(f"demo/{key}", float(value), step)
        self.writer.flush()  # visible in TensorBoard now, and on disk if the process is killed

    def close(self) -> None:
        self.writer.close()


def check_folder(run: Path) -> Path:
    """RUN/tensorboard, if it can be written (a file of that name, or a folder this user
    may not write, is refused up front rather than found at the first evaluation)."""
    path = run / TB_DIR
    if path.exists() and not path.is_dir():
        raise SpeccError(f"cannot write TensorBoard logs: {path} exists and is not a folder")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise SpeccError(f"cannot write TensorBoard logs: {path} is not writable")
    return path


def demo_figures(learning) -> dict:
    """The numeric figures a learning rule or task reports (recall rate, invariance, ...)."""
    if learning is None:
        return {}
    return {k: v for k, v in learning.metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _after_older_files(path: Path) -> bool:
    """TensorBoard reads a folder's event files in name order, and names start with the
    second they were made: a resumed writer must not share its second with an older file, or
    its purge could be read before the events it is meant to drop. True if there are any."""
    stamps = [int(m.group(1)) for f in path.glob("events.out.tfevents.*")
              if (m := _STAMP.search(f.name))] if path.is_dir() else []
    while stamps and time.time() < max(stamps) + 1:
        time.sleep(0.05)
    return bool(stamps)
