"""Data sets read from disk per sample, through `torch.utils.data.DataLoader`: worker processes,
pinned memory on CUDA, prefetching, persistent workers.

The batch sampler yields (index, seed) keys in an order fixed by (seed, epoch, rank), so the
workers only decode and augment; a resumed run's sampler starts after the batches already
applied, so they are never read again.
"""
from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field

import torch

from ..core.diagnostics import SpeccError
from .pipeline import epoch_order, sample_seed

MAX_STAND_INS = 16  # consecutive unreadable files before the data set is called damaged


@dataclass
class StreamData:
    """A data set that stays on disk; `feed` makes a rank's batches."""

    name: str
    classes: int
    labels: list
    train: object  # torch Dataset: (index, seed) -> (x, y, skipped)
    test: object
    train_size: int
    test_size: int
    adaptations: list = field(default_factory=list)
    streaming = True
    shards: object = None  # a ShardSource for webdataset (specc.data.shards), else None
    feeder: object = None  # the feed's class when not LoaderFeed (shards: ShardFeed)

    def feed(self, seed, rank, world, per_rank, workers, pin, device=None):
        """A rank's batches; image batches are normalised on `device` (default the CPU)."""
        return (self.feeder or LoaderFeed)(self, seed, rank, world, per_rank, workers, pin,
                                           device)


def quiet_worker(_worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C and SIGTERM to the trainer, which stops between steps
    and shuts them down; a worker dying first would fail the batch being fetched."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def collate(samples):
    """Stack a batch (in a worker, straight into shared memory: torch's default_collate),
    and gather the names of the files that had to be skipped."""
    bad = [s for _, _, group in samples for s in group]
    if any(x is None for x, _, _ in samples):
        return None, None, bad
    x, y = torch.utils.data.default_collate([(x, y) for x, y, _ in samples])
    return x, y, bad


class EpochBatches:
    """Batch sampler: this rank's batches of one epoch, after the first `skip`."""

    def __init__(self, n: int, seed: int, rank: int, world: int, per_rank: int):
        self.n, self.seed, self.rank, self.world, self.per_rank = n, seed, rank, world, per_rank
        self.epoch, self.skip = 0, 0

    def __len__(self) -> int:
        return -(-(-(-self.n // self.world)) // self.per_rank)

    def __iter__(self):
        order = epoch_order(self.n, self.seed, self.epoch, self.rank, self.world)
        for idx in list(order.split(self.per_rank))[self.skip:]:
            yield [(int(i), sample_seed(self.seed, self.epoch, int(i))) for i in idx]


class BadFiles:
    """Names each unreadable file once, with a running count, on the main process."""

    def __init__(self, show: bool):
        self.seen: set = set()
        self.show = show

    def report(self, bad: list) -> None:
        for path, reason in bad:
            if path not in self.seen:
                self.seen.add(path)
                if self.show:
                    print(f"warning: skipping unreadable image {path} ({reason}); the next image "
                          f"stands in for it ({len(self.seen)} unreadable so far)",
                          file=sys.stderr, flush=True)


def loader(dataset, batch_sampler, workers: int, pin: bool, persistent: bool):
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batch_sampler, num_workers=workers, collate_fn=collate,
        pin_memory=pin, worker_init_fn=quiet_worker if workers else None,
        persistent_workers=persistent and workers > 0,
        prefetch_factor=2 if workers else None,
        generator=torch.Generator().manual_seed(0))  # never draws from the global RNG


class LoaderFeed:
    """Batches of a map-style on-disk data set (imagefolder)."""

    def __init__(self, data: StreamData, seed, rank, world, per_rank, workers, pin,
                 device=None):
        self.data, self.rank, self.world, self.workers, self.pin = data, rank, world, workers, pin
        self.device = device
        self.sampler = EpochBatches(data.train_size, seed, rank, world, per_rank)
        self.train_loader = loader(data.train, self.sampler, workers, pin, persistent=True)
        self.bad = BadFiles(show=rank == 0)
        self.test_batch = max(1, per_rank // data.test.transform.views)

    def __len__(self) -> int:
        return len(self.sampler)

    def length(self, epoch: int) -> int:
        return len(self.sampler)

    def epoch(self, epoch: int, skip: int = 0):
        self.sampler.epoch, self.sampler.skip = epoch, skip
        for x, y, bad in self.train_loader:
            yield self._checked(x, y, bad, self.data.train.transform)

    def test(self, batch: int | None = None, limit: int | None = None):
        """This rank's share of the test set: every world-th sample, in batches."""
        batch = batch or self.test_batch
        mine = list(range(self.rank, self.data.test_size, self.world))
        batches = [[(i, 0) for i in mine[s:s + batch]] for s in range(0, len(mine), batch)]
        batches = batches[:limit] if limit is not None else batches
        for x, y, bad in loader(self.data.test, batches, self.workers, self.pin, False):
            yield self._checked(x, y, bad, self.data.test.transform)

    def _checked(self, x, y, bad, transform):
        """The batch normalised (uint8 from the workers: see SampleTransform.finish), after
        naming the files that had to be skipped."""
        self.bad.report(bad)
        if x is None:
            raise SpeccError(f"{self.data.name}: {MAX_STAND_INS} images in a row could not be "
                             f"read, the last {bad[-1][0]} ({bad[-1][1]}); is the folder damaged?")
        return transform.finish(*x, self.device), y

    def close(self) -> None:
        self.train_loader = None  # its iterator shuts the persistent workers down
