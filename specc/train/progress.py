"""Where a run stands: which steps are done, and the running sums of the epoch in progress.

A checkpoint stores exactly this (as JSON in its metadata) beside the weights, so a resumed
run skips exactly the batches already applied and reports the same epoch averages as a run
that was never interrupted.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class Progress:
    epoch: int = 0          # the epoch in progress (0-based); == epochs when all are done
    step: int = 0           # batches of that epoch already applied
    global_step: int = 0    # optimizer steps since the run began
    loss_sum: float = 0.0   # this epoch's sums, over the batches applied so far
    correct: float = 0  # right samples (per-pixel labels: each sample's fraction right)
    seen: int = 0
    test_accuracy: float | None = None
    epoch_samples: int = 0  # samples of this epoch applied by this process (for samples/s)
    # the monitored test metric (watch.py): its best value and step (best.safetensors), and
    # for early stopping the value to beat and the evaluations since it was last beaten
    best: float | None = None
    best_step: int | None = None
    mark: float | None = None
    stale: int = 0
    # an adversarial run's sums of this epoch (train/adversarial.py; loss_sum holds the
    # generator's): the discriminator's loss, D(x), and D(G(z)) before and after its update
    d_loss_sum: float = 0.0
    d_real_sum: float = 0.0
    d_fake_sum: float = 0.0
    d_fake_after_sum: float = 0.0

    def add(self, loss: float, hits: float, n: int) -> None:
        self.step += 1
        self.global_step += 1
        self.loss_sum += loss * n
        self.correct += hits
        self.seen += n
        self.epoch_samples += n

    def next_epoch(self) -> None:
        self.epoch += 1
        self.step = self.correct = self.seen = self.epoch_samples = 0
        self.loss_sum = self.d_loss_sum = self.d_real_sum = self.d_fake_sum = 0.0
        self.d_fake_after_sum = 0.0

    @property
    def train_loss(self) -> float:
        return self.loss_sum / max(self.seen, 1)

    @property
    def train_accuracy(self) -> float:
        return self.correct / max(self.seen, 1)

    def to_info(self) -> dict:
        info = asdict(self)
        info.pop("epoch_samples")
        return info

    @classmethod
    def from_info(cls, info: dict, batches_per_epoch: int) -> "Progress":
        """From a checkpoint's info (older checkpoints hold only epoch and step)."""
        known = {f.name for f in fields(cls)} - {"epoch_samples"}
        p = cls(**{k: v for k, v in info.items() if k in known})
        if "global_step" not in info:
            p.global_step = p.epoch * batches_per_epoch + p.step
        return p
