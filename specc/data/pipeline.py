"""Feeds: a data set's batches for one rank, in an order that is a function of
(seed, epoch, rank) alone, so that a resumed run sees exactly the batches it has not yet seen.

`MemoryFeed` indexes tensors already in memory (the small sets); `LoaderFeed` and `ShardFeed`
(in `specc.data.stream`) decode files per sample in DataLoader worker processes.
"""
from __future__ import annotations

import torch


def epoch_order(n: int, seed: int, epoch: int, rank: int, world: int) -> torch.Tensor:
    """This rank's sample indices for an epoch: one permutation seeded by (seed, epoch),
    padded by wrapping so that every rank gets the same count, then dealt out by rank
    (DistributedSampler's scheme)."""
    g = torch.Generator().manual_seed((seed + epoch) % 2 ** 64)  # any seed < 2**64
    order = torch.randperm(n, generator=g)
    total = -(-n // world) * world
    order = torch.cat([order, order[: total - n]])
    return order[rank:total:world]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one sample's augmentation in one epoch (independent of batching, workers
    and ranks, so any split of the work draws the same crops)."""
    return ((seed * 1_000_003 + epoch) * 100_003 + index) % (2 ** 63)


class MemoryFeed:
    """Batches of an in-memory data set: index, augment per sample, yield."""

    workers = 0

    def __init__(self, data, seed: int, rank: int, world: int, per_rank: int):
        self.data, self.seed, self.rank, self.world = data, seed, rank, world
        self.per_rank = per_rank
        self.n = len(data.train_y)

    def __len__(self) -> int:
        return -(-(-(-self.n // self.world)) // self.per_rank)

    def length(self, epoch: int) -> int:
        return len(self)

    def epoch(self, epoch: int, skip: int = 0):
        order = epoch_order(self.n, self.seed, epoch, self.rank, self.world)
        for idx in list(order.split(self.per_rank))[skip:]:
            x = self.data.train_x[idx]
            if self.data.augment is not None:
                x = self.data.augment.batch(x, [sample_seed(self.seed, epoch, int(i)) for i in idx])
            yield x, self.data.train_y[idx]

    def test(self, batch: int = 256, limit: int | None = None):
        """This rank's share of the test set (every world-th batch), at most `limit` batches;
        through the recipe's evaluation transform if it has one (ten_crop: [N, 10, C, H, W])."""
        x_all, y_all = self.data.test_x, self.data.test_y
        tf = self.data.eval_transform
        batch = max(1, batch // tf.views) if tf is not None else batch
        starts = list(range(0, len(y_all), batch))[self.rank::self.world]
        for k, s in enumerate(starts):
            if limit is not None and k >= limit:
                break
            x = x_all[s:s + batch]
            yield (tf.batch(x, [0] * len(x)) if tf is not None else x), y_all[s:s + batch]

    def close(self) -> None:
        pass
