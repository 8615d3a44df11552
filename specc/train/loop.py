"""The training loop: deterministic batches, checkpoints every epoch, exact resume, DDP."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.registry import InputSpec, load_dataset
from ..diagnostics import SpeccError
from .checkpoint import restore_training, save_checkpoint
from .config import TrainConfig
from .learning import attach as attach_learning
from .optim import loss_fn, make_optimizer, make_schedule
from .runs import CHECKPOINT, append_metrics


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Dist":
        if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
            return cls(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                       int(os.environ.get("LOCAL_RANK", 0)))
        return cls()

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(choice: str, dist: Dist) -> torch.device:
    if choice not in ("auto", "cpu", "cuda"):
        raise SpeccError(f"unknown device '{choice}' (use auto, cpu or cuda)")
    if choice == "cuda" and not torch.cuda.is_available():
        raise SpeccError("--device cuda: no CUDA device is available here")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", dist.local_rank)


def input_spec(net, cfg: TrainConfig) -> InputSpec:
    t = net.graph.values[net.graph.inputs[0]].type
    out = net.graph.values[next(iter(net.graph.outputs.values()))].type
    return InputSpec(tuple(t.shape[1:]), cfg.pixel_range, cfg.mean, cfg.std, tuple(cfg.augment),
                     out.shape[-1] if isinstance(out.shape[-1], int) else None, cfg.workers)


def check_fit(net, data) -> None:
    name, value = next(iter(net.graph.outputs.items()))
    width = net.graph.values[value].type.shape[-1]
    if isinstance(width, int) and data.classes > width and not (width == 1 and data.classes == 2):
        raise SpeccError(f"data set '{data.name}' has {data.classes} classes but network "
                         f"'{net.name}' output '{name}' has only {width} units")


PLOT_EVERY_S = 5.0  # curves.png is redrawn at most this often, and after the last epoch


class Trainer:
    _last_plot = 0.0

    def __init__(self, net, cfg: TrainConfig, run: Path, show_progress: bool = True):
        self.net, self.cfg, self.run = net, cfg, run
        self.dist = Dist.from_env()
        self.device = pick_device(cfg.device, self.dist)
        self.show = show_progress and self.dist.main
        self.data = load_dataset(cfg.data, input_spec(net, cfg))
        check_fit(net, self.data)
        if cfg.batch_size % self.dist.world:
            raise SpeccError(f"batch size {cfg.batch_size} does not split over {self.dist.world} "
                             "processes")
        torch.manual_seed(cfg.seed)
        self.model = net.to_torch(seed=cfg.seed).to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = loss_fn(cfg.loss, self.data.classes)
        # learning rules other than gradient descent, tasks with their own metric (specc/rules)
        self.learning = attach_learning(self)
        params = self.learning.parameters() if self.learning else self.model.parameters()
        self.optimizer = make_optimizer(cfg.optimizer, params)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, cfg.epochs, cfg.warmup)
        self.step_model = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.step_model = DDP(self.model, device_ids=ids)
        if cfg.compile:
            self.step_model = torch.compile(self.step_model)

    # ------------------------------------------------------------------ batches
    def batches(self, epoch: int) -> list[torch.Tensor]:
        """This rank's batches: a DistributedSampler-style permutation seeded by (seed, epoch)."""
        n = len(self.data.train_y)
        g = torch.Generator().manual_seed((self.cfg.seed + epoch) % 2 ** 64)  # any seed < 2**64
        order = torch.randperm(n, generator=g)
        world, per_rank = self.dist.world, self.cfg.batch_size // self.dist.world
        total = -(-n // world) * world
        order = torch.cat([order, order[: total - n]])  # pad so every rank has equal work
        mine = order[self.dist.rank:total:world]
        return list(mine.split(per_rank))

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cfg.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self):
        if not self.cfg.amp:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    # --------------------------------------------------------------------- run
    def fit(self, resume: bool = False) -> dict:
        start_epoch, skip = 0, 0
        ckpt = self.run / CHECKPOINT
        if resume:
            info = restore_training(ckpt, self.model, self.optimizer, self.schedule)
            start_epoch, skip = info.get("epoch", 0), info.get("step", 0)
        began = time.perf_counter()
        result = {"test_accuracy": None, "epochs": start_epoch}
        for epoch in range(start_epoch, self.cfg.epochs):
            row = self._epoch(epoch, skip)
            skip = 0
            if row is None:  # interrupted: a mid-epoch checkpoint was saved
                raise KeyboardInterrupt
            result = {"test_accuracy": row["test_accuracy"], "epochs": epoch + 1}
        result.update(seconds=time.perf_counter() - began, run_dir=str(self.run),
                      checkpoint=str(ckpt))
        if self.learning is not None:
            result.update(self.learning.summary())
        return result

    def _epoch(self, epoch: int, skip: int) -> dict | None:
        cfg, t0 = self.cfg, time.perf_counter()
        self.step_model.train()
        batches = self.batches(epoch)
        total_loss, correct, seen = 0.0, 0, 0
        bar = self._progress(epoch, len(batches), skip)
        for i, idx in enumerate(batches):
            if i < skip:
                continue
            try:
                loss, hits = self._step(idx, epoch, i)
            except KeyboardInterrupt:
                self._save(epoch, i)
                if bar is not None:
                    bar.close()
                return None
            total_loss += loss * len(idx)
            correct += hits
            seen += len(idx)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}",
                                samples_s=f"{seen * self.dist.world / (time.perf_counter() - t0):.0f}")
        if bar is not None:
            bar.close()
        test_loss, test_acc = self.evaluate()
        lr = self.optimizer.param_groups[0]["lr"]
        if isinstance(self.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.schedule.step(test_loss)
        else:
            self.schedule.step()
        seconds = time.perf_counter() - t0
        row = {"epoch": epoch + 1, "train_loss": total_loss / max(seen, 1),
               "train_accuracy": correct / max(seen, 1), "test_loss": test_loss,
               "test_accuracy": test_acc, "lr": lr, "seconds": seconds,
               "samples_per_s": seen * self.dist.world / seconds}
        if self.dist.main:
            self._save(epoch + 1, 0)
            now = time.perf_counter()
            plot = epoch + 1 == cfg.epochs or now - self._last_plot > PLOT_EVERY_S
            append_metrics(self.run, row, plot=plot)
            if plot:
                self._last_plot = now
            self._report(row)
        return row

    def _step(self, idx: torch.Tensor, epoch: int, i: int) -> tuple[float, int]:
        x, y = self.data.train_x[idx], self.data.train_y[idx]
        if self.data.augment is not None:
            gen = torch.Generator().manual_seed(
                ((self.cfg.seed * 1_000_003 + epoch) * 100_003 + i) % 2 ** 64)
            x = self.data.augment(x, gen)
        x, y = self._inputs(x), y.to(self.device)
        if self.learning is not None:
            return self.learning.step(x, y, epoch, i)
        with self._autocast():
            outs = self.step_model(x)
            outs = outs if isinstance(outs, tuple) else (outs,)
            weights = self.cfg.output_weights or [1.0] + [0.0] * (len(outs) - 1)
            loss = sum(w * self.loss(o.float(), y) for w, o in zip(weights, outs) if w)
            out = outs[0]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach()), int(_hits(out, y))

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        own = self.learning.evaluate() if self.learning is not None else None
        if own is not None:
            return own
        self.model.eval()
        x_all, y_all = self.data.test_x, self.data.test_y
        total, correct = 0.0, 0
        for s in range(0, len(y_all), 256):
            x, y = self._inputs(x_all[s:s + 256]), y_all[s:s + 256].to(self.device)
            with self._autocast():
                out = self.model(x)
                out = (out[0] if isinstance(out, tuple) else out).float()
            total += float(self.loss(out, y)) * len(y)
            correct += int(_hits(out, y))
        self.model.train()
        return total / len(y_all), correct / len(y_all)

    def _save(self, epoch: int, step: int) -> None:
        if self.dist.main:
            save_checkpoint(self.run / CHECKPOINT, self.model, self.optimizer, self.schedule,
                            {"epoch": epoch, "step": step, "network": self.net.name,
                             "spec_sha256": self.net.graph.meta.get("spec_sha256")})

    def _progress(self, epoch: int, n: int, skip: int):
        if not self.show or not sys.stderr.isatty():
            return None
        from tqdm import tqdm
        return tqdm(total=n, initial=skip, desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
                    leave=False, file=sys.stderr, dynamic_ncols=True)

    def _report(self, row: dict) -> None:
        if self.show:
            print(f"epoch {row['epoch']:>3}/{self.cfg.epochs}  loss {row['train_loss']:.4f}  "
                  f"train acc {row['train_accuracy']:.4f}  test loss {row['test_loss']:.4f}  "
                  f"test acc {row['test_accuracy']:.4f}  {row['samples_per_s']:.0f} samples/s",
                  file=self.report_stream, flush=True)

    report_stream = sys.stdout


def _hits(out: torch.Tensor, y: torch.Tensor) -> int:
    if out.shape[1] == 1:
        return int(((out.squeeze(1) > 0.5).long() == y).sum())
    return int((out.argmax(1) == y).sum())
