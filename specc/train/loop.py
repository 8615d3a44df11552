"""The training loop: deterministic batches, checkpoints that say exactly which steps are done,
interruption only between steps, exact resume, DDP; each evaluation also judged for
best.safetensors and early stopping (watch.py) and logged to TensorBoard (board.py)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from .. import tasks  # noqa: F401  (the demonstrations' data sets register themselves)
from ..data.registry import load_dataset
from ..recipes.sources import FILE, Trust
from ..core.diagnostics import SpeccError
from . import threads, watch
from .checkpoint import remove_stale_temporaries, restore_training, save_checkpoint
from .config import COUNT_LIMIT, TrainConfig
from .learning import attach as attach_learning
from .optim import class_axis, loss_fn, make_optimizer, make_schedule
from .progress import Progress
from .runs import CHECKPOINT, append_metrics, read_metrics
from .setup import Dist, check_fit, input_spec, make_feed, pick_device
from .signals import Consensus, Interrupted, StopSignals

PLOT_EVERY_S = 5.0  # curves.png is redrawn at most this often, and after the last epoch


class Trainer:
    _last_plot = 0.0
    scores: dict = {}  # the last evaluation's scores beside loss and accuracy (test_miou)
    board = None  # the TensorBoard writer while fit runs with --tensorboard
    report_stream = None  # where epoch lines go (None: sys.stdout at the time)

    def __init__(self, net, cfg: TrainConfig, run: Path, show_progress: bool = True,
                 trust: Trust = FILE, init=None):
        """`trust`: where cfg.data came from (specc.recipes.sources): a recipe or a run
        folder (the default) may name local paths only."""
        self.net, self.cfg, self.run = net, cfg, run
        self.dist = Dist.from_env()
        self.device = pick_device(cfg.device, self.dist)
        self.show = show_progress and self.dist.main
        self.data = load_dataset(cfg.data, input_spec(net, cfg, trust))
        # the pairing a spec's own recipe names is meant (the Mark I's 8 R-units on 2 classes)
        meant = cfg.allow_fewer_classes or cfg.data == net.recipe.get("data")
        self.adaptations = list(self.data.adaptations) + check_fit(net, self.data, meant)
        if cfg.batch_size % self.dist.world:
            raise SpeccError(f"batch size {cfg.batch_size} does not split over {self.dist.world} "
                             "processes")
        self.plan = threads.plan(self.dist.local_world, self.device.type != "cpu",
                                 getattr(self.data, "streaming", False), cfg.threads, cfg.workers)
        cfg.threads, cfg.workers = self.plan.threads, self.plan.workers  # recorded for resume
        threads.apply(self.plan)
        torch.manual_seed(cfg.seed)
        self.model = net.to_torch(seed=cfg.seed)
        if init is not None:  # --init: given weights over the seeded initialisation
            from .init import apply
            apply(self.model, init)
        self.model = self.model.to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = loss_fn(cfg.loss, self.data.classes)
        self.axis = class_axis(cfg.loss)
        # learning rules other than gradient descent, tasks with their own metric (specc/rules)
        self.learning = attach_learning(self)
        params = self.learning.parameters() if self.learning else self.model.parameters()
        self.optimizer = make_optimizer(cfg.optimizer, params)
        self.step_model = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.step_model = DDP(self.model, device_ids=ids)
        if cfg.compile:
            self.step_model = torch.compile(self.step_model)
        if cfg.tensorboard and self.dist.main:  # refused before the run folder is written
            from .board import check_folder
            check_folder(run)
        self.feed = make_feed(self.data, cfg, self.dist, self.plan.workers, self.device)
        # a schedule in steps spans the run's steps: --steps, or every epoch's batches
        steps = min(cfg.steps or COUNT_LIMIT, cfg.epochs * len(self.feed))
        self.schedule = make_schedule(cfg.schedule, self.optimizer, cfg.epochs, cfg.warmup,
                                      steps)
        self.consensus = Consensus(self.dist.world)

    # --------------------------------------------------------------------- run
    def fit(self, resume: bool = False, progress: Progress | None = None) -> dict:
        """Train to cfg.epochs (or cfg.steps); raises Interrupted after saving on a signal.
        `progress`: where a resumed run stands, if the caller has already restored it."""
        p = self.progress = progress or (self.restore() if resume else Progress())
        began = time.perf_counter()
        if not self.finished(p):
            try:
                self.board = self._open_board(p)
                with StopSignals() as signals:
                    while not self.finished(p):
                        self._epoch(p, signals)
            finally:
                self.feed.close()
                if self.board is not None:
                    self.board.close()
        result = {"test_accuracy": p.test_accuracy, "epochs": p.epoch, "steps": p.global_step,
                  "seconds": time.perf_counter() - began, "run_dir": str(self.run),
                  "checkpoint": str(self.run / CHECKPOINT),
                  "best": watch.best_record(p, self.cfg, self.run),
                  "stopped_early": (watch.stopped_early(p, self.cfg)
                                    and not watch.reached_limit(p, self.cfg))}
        if "test_miou" in self.scores:
            result["test_miou"] = self.scores["test_miou"]
        if self.learning is not None:
            result.update(self.learning.summary())
        return result

    def restore(self) -> Progress:
        if self.dist.main:
            remove_stale_temporaries(self.run / CHECKPOINT)
            remove_stale_temporaries(self.run / watch.BEST)
        info = restore_training(self.run / CHECKPOINT, self.model, self.optimizer, self.schedule)
        return Progress.from_info(info, len(self.feed))

    def finished(self, p: Progress) -> bool:
        return watch.reached_limit(p, self.cfg) or watch.stopped_early(p, self.cfg)

    def _open_board(self, p: Progress):
        """The TensorBoard writer (main process, --tensorboard), continuing at p's step."""
        if not (self.cfg.tensorboard and self.dist.main):
            return None
        from .board import Board
        board = Board(self.run, purge_step=p.global_step)
        # the row at p's step, unless the resumed run repeats that evaluation; all earlier
        # rows too when the board is new (--tensorboard added on resume)
        last = p.global_step - (p.step >= self.feed.length(p.epoch))
        first = 0 if board.new else p.global_step
        for row in read_metrics(self.run):
            if row.get("step") not in (None, "") and first <= int(row["step"]) <= last:
                board.row(row)
        return board

    def _epoch(self, p: Progress, signals: StopSignals) -> None:
        t0, n = time.perf_counter(), self.feed.length(p.epoch)
        self.step_model.train()
        bar = self._progress(p.epoch, n, p.step)
        try:
            for x, y in self.feed.epoch(p.epoch, p.step):
                self._stop_if_asked(p, signals)
                loss, hits = self._step(x, y, p.epoch, p.step)
                p.add(loss, hits, len(y))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{p.train_loss:.4f}", acc=f"{p.train_accuracy:.3f}")
                if self.finished(p):
                    break
                if self.cfg.eval_every and p.global_step % self.cfg.eval_every == 0 and p.step < n:
                    self._row(p, t0, epoch_done=False)  # saves the checkpoint too
                    if self.finished(p):  # stopped early: this row was the last
                        return
                elif self.cfg.save_every and p.global_step % self.cfg.save_every == 0:
                    self._save(p)
            self._stop_if_asked(p, signals)
        finally:
            if bar is not None:
                bar.close()
        self._row(p, t0, epoch_done=p.step >= n)

    def _stop_if_asked(self, p: Progress, signals: StopSignals) -> None:
        signum = self.consensus.stop(signals.requested)
        if signum:
            self._save(p)
            raise Interrupted(signum)

    def _step(self, x: torch.Tensor, y: torch.Tensor, epoch: int, i: int) -> tuple[float, int]:
        x, y = self._inputs(x), y.to(self.device, non_blocking=True)
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
        return float(loss.detach()), _hits(out, y, self.axis)

    def _row(self, p: Progress, t0: float, epoch_done: bool) -> None:
        """Evaluate, write a metrics row, step an epoch-wise schedule, save the checkpoint."""
        test_loss, test_acc = self.evaluate(self.cfg.eval_steps)
        lr = self.optimizer.param_groups[0]["lr"]
        seconds = time.perf_counter() - t0
        row = {"epoch": p.epoch + 1, "step": p.global_step, "train_loss": p.train_loss,
               "train_accuracy": p.train_accuracy, "test_loss": test_loss,
               "test_accuracy": test_acc, "lr": lr, "seconds": seconds,
               "samples_per_s": p.epoch_samples * self.dist.world / max(seconds, 1e-9),
               **self.scores}
        p.test_accuracy = test_acc
        best = watch.judge(p, self.cfg, row)
        if epoch_done:
            if isinstance(self.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.schedule.step(test_loss)
            else:
                self.schedule.step()
            p.next_epoch()
        if self.dist.main:
            self.run.mkdir(parents=True, exist_ok=True)
            now = time.perf_counter()
            plot = self.finished(p) or now - self._last_plot > PLOT_EVERY_S
            append_metrics(self.run, row, plot=plot)  # before the checkpoint: a kill between
            if plot:                                  # the two redoes the row, never loses it
                self._last_plot = now
            if self.board is not None:
                from .board import demo_figures
                self.board.row(row, demo_figures(self.learning))
            self._report(row, epoch_done)
            if best:
                self._save(p, self.run / watch.BEST, full=False)
        self._save(p)

    # --------------------------------------------------------------- helpers
    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cfg.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self):
        if not self.cfg.amp:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    @torch.no_grad()
    def evaluate(self, limit: int | None = None) -> tuple[float, float]:
        """Test loss and accuracy; each rank takes a share, the sums are reduced."""
        own = self.learning.evaluate() if self.learning is not None else None
        if own is not None:
            return own
        self.model.eval()
        sums = torch.zeros(3, dtype=torch.float64)
        matrix = self._confusion()
        for x, y in self.feed.test(limit=limit):
            x, y = self._inputs(x), y.to(self.device)
            with self._autocast():
                out = _views_mean(self.model, x)
            sums += torch.tensor([float(self.loss(out, y)) * len(y), _hits(out, y, self.axis), len(y)],
                                 dtype=torch.float64)
            if matrix is not None:
                matrix.update(out.argmax(1).cpu(), y.cpu())
        if self.dist.world > 1:
            import torch.distributed as dist
            dist.all_reduce(sums, group=self.consensus.group)
            if matrix is not None:
                dist.all_reduce(matrix.counts, group=self.consensus.group)
        self.model.train()
        total, correct, count = sums.tolist()
        self.scores = {} if matrix is None else {"test_miou": matrix.mean_iou()}
        if matrix is not None:  # counted pixels: the ignore index counts nowhere
            return total / max(count, 1), matrix.pixel_accuracy()
        return total / max(count, 1), correct / max(count, 1)

    def _confusion(self):
        """A confusion matrix for a label per pixel (pixel accuracy and mean IoU), else None."""
        if not getattr(self.data, "dense", False):
            return None
        from ..data.metrics import ConfusionMatrix
        value = next(iter(self.net.graph.outputs.values()))
        channels = self.net.graph.values[value].type.shape[1]
        width = channels if isinstance(channels, int) else self.data.classes
        return ConfusionMatrix(max(width, self.data.classes),
                               getattr(self.data, "ignore_index", None))

    def _save(self, p: Progress, path: Path | None = None, full: bool = True) -> None:
        """The checkpoint (weights, optimiser, schedule, RNG, progress), or with full=False
        the weights and progress alone (best.safetensors: for export, not for resuming)."""
        if self.dist.main:
            info = {**p.to_info(), "network": self.net.name,
                    "spec_sha256": self.net.graph.meta.get("spec_sha256")}
            if getattr(self.data, "labels", None):  # an export names its outputs with them
                info["labels"] = [str(x) for x in self.data.labels]
            if full:
                save_checkpoint(path or self.run / CHECKPOINT, self.model, self.optimizer,
                                self.schedule, info)
            else:
                save_checkpoint(path, self.model, info=info, rng=False)

    def _progress(self, epoch: int, n: int, skip: int):
        if not self.show or not sys.stderr.isatty():
            return None
        from tqdm import tqdm
        return tqdm(total=n, initial=skip, desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
                    leave=False, file=sys.stderr, dynamic_ncols=True)

    def _report(self, row: dict, epoch_done: bool) -> None:
        if self.show:
            where = f"epoch {row['epoch']:>3}/{self.cfg.epochs}" if epoch_done else \
                f"step {row['step']:>6} (epoch {row['epoch']})"
            metric = self.score_name()
            scores = (f"train acc {row['train_accuracy']:.4f}  test loss {row['test_loss']:.4f}  "
                      f"test acc {row['test_accuracy']:.4f}" if metric is None else
                      f"test loss {row['test_loss']:.4f}  {metric} {row['test_accuracy']:.4f}")
            if "test_miou" in row:
                scores += f"  test mIoU {row['test_miou']:.4f}"
            print(f"{where}  loss {row['train_loss']:.4f}  {scores}  "
                  f"{row['samples_per_s']:.0f} samples/s",
                  file=self.report_stream or sys.stdout, flush=True)

    def score_name(self) -> str | None:
        """The demonstration's own metric, where the data set brings a task (its score fills
        the test-accuracy column: detection AP, recall rate, ...); None for classification."""
        task = getattr(self.learning, "task", None)
        return getattr(task, "metric", None)


def _views_mean(model, x: torch.Tensor) -> torch.Tensor:
    """Logits of a batch; for multi-view evaluation ([N, V, C, H, W], the ten-crop of the
    papers) the mean of the views' softmax, returned as log-probabilities."""
    if x.dim() != 5:
        out = model(x)
        return (out[0] if isinstance(out, tuple) else out).float()
    n, v = x.shape[:2]
    out = model(x.flatten(0, 1))
    out = (out[0] if isinstance(out, tuple) else out).float()
    return out.softmax(1).view(n, v, -1).mean(1).clamp_min(1e-12).log()


def _hits(out: torch.Tensor, y: torch.Tensor, axis: int = 1) -> float:
    """Samples classified right (the classes on `axis`); with a label per position (scores
    [N, T, V] and labels [N, T]) or per pixel (scores [N, C, H, W] and labels [N, H, W]),
    each sample counts the fraction of its positions right."""
    if y.dim() > 1 and out.dim() == y.dim() + 1:
        right = (out.argmax(axis) == y).float()
        return float(right.mean(tuple(range(1, y.dim()))).sum())
    if out.shape[1] == 1:
        return int(((out.squeeze(1) > 0.5).long() == y).sum())
    right = out.argmax(1) == y
    if right.dim() > 1:
        return float(right.flatten(1).float().mean(1).sum())
    return int(right.sum())
