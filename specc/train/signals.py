"""Interruption at step boundaries only.

A Ctrl-C (SIGINT) or a scheduler's SIGTERM (Slurm preemption, torchrun shutting a group down)
that raised KeyboardInterrupt wherever it landed could hit between `optimizer.step()` and the
bookkeeping that records the step as done; the resumed run then applied that batch twice. Here
the first signal only sets a flag; the trainer reads it between steps, saves a checkpoint that
says exactly which steps are done, and stops. A second signal interrupts at once (the last
checkpoint on disk stands, and resuming from it is still exact).
"""
from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """Training stopped at a step boundary after a signal; the checkpoint is saved."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """While active, SIGINT/SIGTERM set `requested` instead of raising; a second one raises."""

    def __init__(self):
        self.requested = 0
        self._old: dict = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = signum


class Consensus:
    """All ranks stop at the same step: one small CPU all-reduce per step (gloo, so a CUDA
    stream is never synchronised). A rank that saw a signal makes every rank stop."""

    def __init__(self, world: int):
        self.group = None
        if world > 1:
            import torch.distributed as dist
            self.group = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
        self.world = world

    def stop(self, local: int) -> int:
        if self.world == 1:
            return local
        import torch
        import torch.distributed as dist
        flag = torch.tensor([local], dtype=torch.int64)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.group)
        return int(flag)
