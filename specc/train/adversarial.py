"""Adversarial training: a generator and the discriminator its recipe names
(`adversary = gan(discriminator=NET)`), each with its own optimiser of the recipe's kind,
updated in turn on every batch of real samples, as Radford et al. 2016 and the PyTorch DCGAN
tutorial do:

  1. discriminator: real batch x and generated G(z) (z ~ N(0, 1), detached from G), one step
     on the game's discriminator loss (BCE: x labelled real, G(z) fake);
  2. generator: D(G(z)) again through the updated discriminator, one step on the game's
     generator loss (G(z) labelled real); its optimiser holds only the generator's weights.

A game may ask for several discriminator updates per generator update (`wgan`'s n_critic:
the generator steps on every n_critic-th batch, its loss still measured on the others) and
act on the discriminator after each of its updates (`wgan` clips the critic's weights).

Everything else is the ordinary trainer's (specc/train/loop.py): the data's order, stopping
between steps, --steps/--epochs, exact --resume. The checkpoint holds the generator as any
run's model (`model/...`, what `specc export --weights RUN` reads) and the discriminator with
its optimiser and schedule under `adversary/`. Each evaluation writes a metrics row (both
losses, D(x), D(G(z)) before and after the discriminator's step, as the tutorial prints
them) and, at each epoch's end, RUN/samples/epoch-NNNN.png: the generator on a fixed batch
of noise drawn from the run's seed."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from ..compile.adversary import discriminator_name, pair
from ..core.diagnostics import SpeccError
from ..core.files import replace_atomically
from ..data.registry import InputSpec, load_dataset
from ..network import load
from ..recipes.registry import GAMES
from ..recipes.sources import FILE, Trust
from . import threads
from .checkpoint import remove_stale_temporaries, restore_training, save_checkpoint
from .config import COUNT_LIMIT, TrainConfig
from .loop import Trainer
from .optim import make_optimizer, make_schedule
from .progress import Progress
from .runs import CHECKPOINT, SAMPLES, append_metrics
from .setup import Dist, make_feed, pick_device
from .signals import Consensus

FIELDS = ["epoch", "step", "loss_d", "loss_g", "d_x", "d_g_z", "d_g_z_after", "lr", "seconds",
          "samples_per_s"]
GRID = 8  # the samples' grid: 8 x 8 images, as the tutorial shows 64
PREFIX = "adversary"  # the discriminator's part of the checkpoint
# what an adversarial run refuses, with why (flags and recipe keys of the ordinary trainer)
REFUSED = {"early_stop": "--early-stop watches a test metric; an adversarial run has none",
           "tensorboard": "--tensorboard is not written by adversarial runs yet",
           "compile": "--compile is not applied to adversarial runs yet",
           "output_weights": "output_weights weigh a loss per output; the game sets the losses"}


class AdversarialTrainer(Trainer):
    """The generator is `model` (its optimiser `optimizer`); the discriminator and its own
    optimiser and schedule are `discriminator`, `d_optimizer`, `d_schedule`."""

    def __init__(self, net, cfg: TrainConfig, run: Path, show_progress: bool = True,
                 trust: Trust = FILE, init=None):
        self.net, self.cfg, self.run = net, cfg, run
        self.dist = Dist.from_env()
        self._refuse(cfg)
        self.device = pick_device(cfg.device, self.dist)
        self.show = show_progress
        self.disc_net = load(net.graph.meta["entry"], discriminator_name(net.graph))
        self.pairing = pair(net.graph, self.disc_net.graph)
        self.data = load_dataset(cfg.data, InputSpec(
            self.pairing.sample, cfg.pixel_range, cfg.mean, cfg.std, tuple(cfg.augment), None,
            cfg.workers, (), trust))
        self._check_samples()
        self.adaptations = list(self.data.adaptations)
        self.plan = threads.plan(1, self.device.type != "cpu",
                                 getattr(self.data, "streaming", False), cfg.threads, cfg.workers)
        cfg.threads, cfg.workers = self.plan.threads, self.plan.workers
        threads.apply(self.plan)
        torch.manual_seed(cfg.seed)
        self.model = net.to_torch(seed=cfg.seed)
        if init is not None:
            from .init import apply
            apply(self.model, init)
        self.model = self.step_model = self.model.to(self.device)
        self.discriminator = self.disc_net.to_torch(seed=(cfg.seed + 1) % 2 ** 64).to(self.device)
        if cfg.channels_last:
            self.model = self.step_model = self.model.to(memory_format=torch.channels_last)
            self.discriminator = self.discriminator.to(memory_format=torch.channels_last)
        game = GAMES[cfg.adversary["name"]]
        self.game = game.build(game.resolve(cfg.adversary))
        self.learning, self.loss, self.axis = None, None, 1
        self.optimizer = make_optimizer(cfg.optimizer, self.model.parameters())
        self.d_optimizer = make_optimizer(cfg.optimizer, self.discriminator.parameters())
        self.feed = make_feed(self.data, cfg, self.dist, self.plan.workers, self.device)
        steps = min(cfg.steps or COUNT_LIMIT, cfg.epochs * len(self.feed))  # a poly's length
        self.schedule = make_schedule(cfg.schedule, self.optimizer, cfg.epochs, cfg.warmup,
                                      steps)
        self.d_schedule = make_schedule(cfg.schedule, self.d_optimizer, cfg.epochs, cfg.warmup,
                                        steps)
        if isinstance(self.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            raise SpeccError("a plateau schedule follows a test loss; an adversarial run has "
                             "none (use a schedule that counts epochs or steps)")
        self.consensus = Consensus(1)
        g = torch.Generator().manual_seed(cfg.seed)
        self.fixed_noise = torch.randn((GRID * GRID, *self.pairing.noise), generator=g)

    @staticmethod
    def _refuse(cfg: TrainConfig) -> None:
        if Dist.from_env().world > 1:
            raise SpeccError("an adversarial run trains in one process (drop --nproc)")
        for key, why in REFUSED.items():
            if getattr(cfg, key):
                raise SpeccError(why)

    def _check_samples(self) -> None:
        x = getattr(self.data, "train_x", None)
        if x is not None and tuple(x.shape[1:]) != self.pairing.sample:
            raise SpeccError(f"data set '{self.data.name}' gives samples {list(x.shape[1:])}, "
                             f"but generator '{self.net.name}' makes "
                             f"{list(self.pairing.sample)} for discriminator "
                             f"'{self.disc_net.name}'")

    @property
    def against(self) -> str:
        return self.disc_net.name

    # --------------------------------------------------------------------- step
    def _step(self, x: torch.Tensor, y: torch.Tensor, epoch: int, i: int) -> tuple[float, int]:
        x = self._inputs(x)
        n, G, D, p = len(x), self.model, self.discriminator, self.progress
        G.train()
        D.train()
        z = torch.randn((n, *self.pairing.noise), device=self.device)
        with self._autocast():  # 1: the discriminator on a real and a generated batch
            p_real = _first(D(x)).float()
            fake = _first(G(z))
            p_fake = _first(D(fake.detach())).float()
            d_loss = self.game.discriminator_loss(p_real, p_fake)
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimizer.step()
        self.game.after_discriminator_step(D)  # WGAN: clip the critic's weights
        # 2: the generator through the updated discriminator, on every critic_steps-th step
        # (counted by the run's global step, so a resumed run keeps the same turns)
        generator_turn = (p.global_step + 1) % self.game.critic_steps == 0
        with self._autocast(), torch.set_grad_enabled(generator_turn):
            p_after = _first(D(fake if generator_turn else fake.detach())).float()
            g_loss = self.game.generator_loss(p_after)
        if generator_turn:
            self.optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            self.optimizer.step()
            D.zero_grad(set_to_none=True)  # the generator's pass left gradients on D
        p.d_loss_sum += float(d_loss.detach()) * n
        p.d_real_sum += float(p_real.detach().mean()) * n
        p.d_fake_sum += float(p_fake.detach().mean()) * n
        p.d_fake_after_sum += float(p_after.detach().mean()) * n
        return float(g_loss.detach()), 0

    # -------------------------------------------------------------- rows, saving
    def _row(self, p: Progress, t0: float, epoch_done: bool) -> None:
        seen, seconds = max(p.seen, 1), time.perf_counter() - t0
        row = {"epoch": p.epoch + 1, "step": p.global_step, "loss_d": p.d_loss_sum / seen,
               "loss_g": p.train_loss, "d_x": p.d_real_sum / seen, "d_g_z": p.d_fake_sum / seen,
               "d_g_z_after": p.d_fake_after_sum / seen,
               "lr": self.optimizer.param_groups[0]["lr"], "seconds": seconds,
               "samples_per_s": p.epoch_samples / max(seconds, 1e-9)}
        p.test_accuracy = row["d_g_z"]
        self.run.mkdir(parents=True, exist_ok=True)
        if epoch_done:
            self.schedule.step()
            self.d_schedule.step()
            if len(self.pairing.sample) == 3:  # images [C, H, W]
                self.write_samples(self.run / SAMPLES / f"epoch-{p.epoch + 1:04d}.png")
            p.next_epoch()
        now = time.perf_counter()
        plot = self.finished(p) or now - self._last_plot > 5.0
        append_metrics(self.run, row, plot=plot, fields=FIELDS)  # before the checkpoint
        if plot:
            self._last_plot = now
        self._report(row, epoch_done)
        self._save(p)

    @torch.no_grad()
    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """The generator's samples as the tutorial draws them: in training mode (batchnorm
        over this batch; its running statistics, which early on still hold their initial
        values, would give flat grey images), the running statistics restored after, so
        that drawing samples changes nothing a resumed run would see. On the CPU."""
        kept = {k: v.clone() for k, v in self.model.named_buffers()}
        try:
            return _first(self.model(noise.to(self.device))).float().cpu()
        finally:
            buffers = dict(self.model.named_buffers())
            for k, v in kept.items():
                buffers[k].copy_(v)

    def write_samples(self, path: Path) -> None:
        """The fixed noise's samples as one PNG grid (written atomically)."""
        grid = image_grid(self.generate(self.fixed_noise), self.cfg.pixel_range)
        from PIL import Image
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"))

    def _save(self, p: Progress, path: Path | None = None, full: bool = True) -> None:
        info = {**p.to_info(), "network": self.net.name,
                "spec_sha256": self.net.graph.meta.get("spec_sha256")}
        save_checkpoint(path or self.run / CHECKPOINT, self.model, self.optimizer,
                        self.schedule, info, others={PREFIX: (self.discriminator,
                                                              self.d_optimizer,
                                                              self.d_schedule)})

    def restore(self) -> Progress:
        remove_stale_temporaries(self.run / CHECKPOINT)
        info = restore_training(self.run / CHECKPOINT, self.model, self.optimizer,
                                self.schedule, others={PREFIX: (self.discriminator,
                                                                self.d_optimizer,
                                                                self.d_schedule)})
        return Progress.from_info(info, len(self.feed))

    def evaluate(self, limit: int | None = None) -> tuple[float, float]:
        raise SpeccError("an adversarial run has no test evaluation")

    def score_name(self) -> str:
        return "mean D(G(z))"

    def _report(self, row: dict, epoch_done: bool) -> None:
        if self.show:
            where = f"epoch {row['epoch']:>3}/{self.cfg.epochs}" if epoch_done else \
                f"step {row['step']:>6} (epoch {row['epoch']})"
            print(f"{where}  loss D {row['loss_d']:.4f}  loss G {row['loss_g']:.4f}  "
                  f"D(x) {row['d_x']:.4f}  D(G(z)) {row['d_g_z']:.4f} / "
                  f"{row['d_g_z_after']:.4f}  {row['samples_per_s']:.0f} samples/s",
                  file=self.report_stream or sys.stdout, flush=True)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def image_grid(images: torch.Tensor, pixel_range: list | None):
    """[n, C, H, W] samples as one uint8 image [rows * (H + 2) + 2, ..., 3]: GRID to a row,
    a 2-pixel border, values mapped from the data's pixel range back to 0..255."""
    import numpy as np
    lo, hi = pixel_range or (0.0, 1.0)
    x = ((images - lo) / (hi - lo)).clamp(0, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = x[:, :3]
    n, _, h, w = x.shape
    rows = -(-n // GRID)
    out = np.zeros((rows * (h + 2) + 2, GRID * (w + 2) + 2, 3), dtype=np.uint8)
    pixels = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for k in range(n):
        r, c = divmod(k, GRID)
        out[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = pixels[k]
    return out
