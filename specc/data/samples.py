"""Samples of a data set as a trained network sees them at evaluation: the evaluation
transform, never the training augmentation. int8 calibration reads the training split this
way (`eval_samples(data, "train", n)`), its check the test split."""
from __future__ import annotations

import numpy as np
import torch

from ..core.diagnostics import SpeccError
from .pipeline import epoch_order


def eval_samples(data, split: str, limit: int, batch: int = 64):
    """Batches (x, y) of at most `limit` samples of `split` ("train" or "test") through the
    evaluation transform. The training split is sampled at random (seed 0) where it can be
    indexed, so that a calibration sees every class; shards are read in order."""
    if split == "test":
        from .registry import test_batches
        yield from _limited(test_batches(data, batch), limit)
        return
    if not getattr(data, "streaming", False):
        idx = epoch_order(data.train_size, 0, 0, 0, 1)[:limit]
        tf = data.eval_transform
        for s in range(0, len(idx), batch):
            part = idx[s:s + batch]
            x = data.train_x[part]
            yield (tf.batch(x, [0] * len(x)) if tf is not None else x), data.train_y[part]
        return
    if data.train is not None:  # an image folder: its training files, the test transform
        yield from _folder_train(data, limit, batch)
        return
    if data.shards is not None:
        yield from _limited(_shard_train(data.shards, batch), limit)
        return
    raise SpeccError(f"data set '{data.name}' cannot give samples for calibration")


def _limited(batches, limit: int):
    left = limit
    for x, y in batches:
        if left <= 0:
            return
        yield x[:left], y[:left]
        left -= len(y)


def _folder_train(data, limit: int, batch: int):
    from .folder import FolderSet
    from .stream import BadFiles, collate
    files = data.train.files
    idx = np.sort(epoch_order(len(files), 0, 0, 0, 1)[:limit].numpy())
    subset = FolderSet(files.take(idx), data.test.transform)
    keys = [[(i, 0) for i in range(s, min(s + batch, len(subset)))]
            for s in range(0, len(subset), batch)]
    loader = torch.utils.data.DataLoader(subset, batch_sampler=keys, collate_fn=collate)
    bad = BadFiles(show=True)
    for x, y, skipped in loader:
        bad.report(skipped)
        if x is not None:
            yield data.test.transform.finish(*x), y


def _shard_train(source, batch: int):
    from .shards import decode_bytes, held_out, read_samples
    xs, ys = [], []
    for shard in source.train:
        for key, data, label in read_samples(shard.url):
            if source.hashed and held_out(key):
                continue
            try:
                img = decode_bytes(data)
            except Exception:  # noqa: BLE001 - PIL raises many kinds for broken data
                continue
            xs.append(source.test_tf.image(img, 0))
            ys.append(label)
            if len(xs) == batch:
                yield torch.stack(xs), torch.tensor(ys)
                xs, ys = [], []
    if xs:
        yield torch.stack(xs), torch.tensor(ys)
