"""`webdataset:PATH_OR_URL_PATTERN`: WebDataset tar shards (`KEY.jpg` + `KEY.cls` per sample),
local or remote, read through the `webdataset` library.

PATH is a folder (shards `train*.tar`/`val*.tar`, or `train/` and `val/` folders of shards, or
just `*.tar`) or a brace pattern/URL (`https://host/imagenet-train-{0000..1023}.tar`). Without
validation shards, the samples whose key hashes into one fifth are held out for testing.

Order: each epoch the shard list is shuffled by (seed, epoch) and dealt to ranks, then to
workers; each worker shuffles through a seeded buffer and forms batches. Every batch gets its
position in the epoch up front (from the shards' sample counts, read once at start), and the
feed yields positions in order, so the batches do not depend on how the DataLoader
interleaves its workers, and a resumed run skips exactly the batches it applied (their bytes
are read past, never decoded). The order depends on (seed, epoch, rank) and on the number
of workers, which a run records; resuming with another --workers changes it.
"""
from __future__ import annotations

import io
import random
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.diagnostics import SpeccError
from .pipeline import sample_seed
from .registry import register

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "ppm", "bmp")
LABEL_EXT = "cls"
HOLD_OUT = 5  # without validation shards, keys hashing to 0 mod 5 are the test set
SHUFFLE_BUFFER = 1000


@dataclass
class Shard:
    url: str
    train: int  # samples of the training split in this shard
    test: int


def held_out(key: str) -> bool:
    return zlib.crc32(key.encode()) % HOLD_OUT == 0


def shard_urls(arg: str) -> tuple[list[str], list[str]]:
    """(training shards, validation shards or [])."""
    import webdataset as wds
    if not arg:
        raise SpeccError("data set 'webdataset' needs shards: --data webdataset:PATH_OR_PATTERN")
    p = Path(arg)
    if p.is_dir():
        def find(name):
            return sorted(str(f) for f in p.glob(f"{name}*.tar")) or \
                sorted(str(f) for f in (p / name).glob("*.tar"))
        train, val = find("train"), find("val") or find("test")
        if not train and not val:
            train = sorted(str(f) for f in p.glob("*.tar"))
        if not train:
            raise SpeccError(f"webdataset: no .tar shards in {arg}",
                             notes=("expected train*.tar (and val*.tar), train/ and val/ "
                                    "folders of shards, or *.tar",))
        return train, val
    urls = wds.shardlists.expand_urls(arg)
    if len(urls) == 1 and "://" not in urls[0] and not urls[0].startswith("pipe:") \
            and not Path(urls[0]).exists():
        raise SpeccError(f"webdataset: cannot open shard {urls[0]}: no such file")
    return urls, []


def read_samples(url: str):
    """(key, image bytes, label) of every complete sample of one shard, in order: the shard
    opened (local, http(s), pipe:, ...) and grouped into samples by webdataset itself."""
    import webdataset as wds

    def fail(exn):
        what = "open" if isinstance(exn, OSError) else "read"
        reason = exn.strerror if isinstance(exn, OSError) and exn.strerror else \
            str(exn.args[0] if exn.args else exn).splitlines()[0]
        remote = "://" in url or url.startswith("pipe:")
        raise SpeccError(f"webdataset: cannot {what} shard {url}: {reason}", notes=(
            ("webdataset fetches http(s) shards with curl; is the address reachable from "
             "here?",) if remote else ()))
    try:
        for sample in wds.tarfile_samples([{"url": url}], handler=fail):
            parts = {k.lower(): v for k, v in sample.items() if not k.startswith("__")}
            if _complete(parts):
                key = sample["__key__"]
                yield key, parts[_image_ext(parts)], _label(parts, url, key)
    except SpeccError:
        raise
    except Exception as e:  # the opener's own errors (no such file, HTTP, pipe)
        raise SpeccError(f"webdataset: cannot open shard {url}: {e}") from None


def _split(name: str) -> tuple[str, str]:
    folder, _, file = name.rpartition("/")
    stem, _, ext = file.partition(".")
    return (folder + "/" + stem if folder else stem), ext.lower()


def _complete(parts: dict) -> bool:
    return LABEL_EXT in parts and _image_ext(parts) is not None


def _image_ext(parts: dict):
    return next((e for e in IMAGE_EXTS if e in parts), None)


def _label(parts: dict, url: str, key: str) -> int:
    try:
        return int(parts[LABEL_EXT].decode().strip())
    except ValueError:
        raise SpeccError(f"webdataset: {url}: {key}.cls is not a class index") from None


def _local_labels(path: str):
    """(key, None, label) of a local shard, reading headers and labels only: the tar is
    opened for random access, so the images are seeked past, never read."""
    try:
        with tarfile.open(path, "r:") as tar:
            exts: dict = {}
            labels: dict = {}
            for member in tar:
                if not member.isreg():
                    continue
                base, ext = _split(member.name)
                exts.setdefault(base, set()).add(ext)
                if ext == LABEL_EXT:
                    labels[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise SpeccError(f"webdataset: cannot read shard {path}: {e}") from None
    for key, found in exts.items():
        if key in labels and any(e in found for e in IMAGE_EXTS):
            yield key, None, _label({LABEL_EXT: labels[key]}, path, key)


def count(url: str, split_by_hash: bool) -> tuple[Shard, int]:
    """Sample counts of one shard (train, test) and its largest label. A local shard is read
    by headers (seeking past the images); a remote one is streamed."""
    train = test = 0
    top = -1
    local = "://" not in url and not url.startswith("pipe:") and Path(url).is_file()
    for key, _, label in (_local_labels(url) if local else read_samples(url)):
        if split_by_hash and held_out(key):
            test += 1
        else:
            train += 1
        top = max(top, label)
    return Shard(url, train, test), top


def load_webdataset(arg: str, want):
    from .stream import StreamData
    from .folder import file_notes
    from .transforms import SampleTransform, default_eval
    train_urls, val_urls = shard_urls(arg)
    hashed = not val_urls
    train, tops = [], []
    for url in train_urls:
        shard, top = count(url, hashed)
        train.append(shard)
        tops.append(top)
    test = [Shard(s.url, 0, s.test) for s in train] if hashed else []
    for url in val_urls:
        shard, top = count(url, False)
        test.append(Shard(shard.url, 0, shard.train))
        tops.append(top)
    n_train, n_test = sum(s.train for s in train), sum(s.test for s in test)
    if n_train == 0:
        raise SpeccError(f"webdataset: no complete samples in {arg}",
                         notes=(f"a sample is KEY.{'|'.join(IMAGE_EXTS)} with KEY.cls",))
    classes = max(tops) + 1
    train_tf = SampleTransform(list(want.augment), want, files=True)
    test_tf = SampleTransform(list(want.eval_transform) or default_eval(), want, files=True)
    notes = file_notes(("", (0, 0)), train_tf, test_tf)
    notes[0] = notes[0].replace(" (the first is 0x0 ?)", "")
    source = ShardSource(train, test, hashed, train_tf, test_tf)
    return StreamData(f"webdataset:{arg}", classes, [str(i) for i in range(classes)], None, None,
                      n_train, n_test, notes + [f"{len(train)} training shard{'s' * (len(train) != 1)}"
                                                + ("; a fifth held out by key" if hashed else
                                                   f", {len(val_urls)} validation shard"
                                                   f"{'s' * (len(val_urls) != 1)}")],
                      shards=source, feeder=ShardFeed)


@dataclass
class ShardSource:
    train: list
    test: list
    hashed: bool
    train_tf: object
    test_tf: object


def decode_bytes(data: bytes):
    from PIL import Image
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def deal(items: list, k: int, n: int) -> list:
    return items[k::n]


def batch_positions(counts: list[int]) -> list[list[int]]:
    """Positions in the epoch of each worker's batches: round-robin over the workers that
    still have batches (the order a DataLoader would fetch them in, so little waits)."""
    out = [[] for _ in counts]
    left, p = list(counts), 0
    while any(left):
        for w in range(len(counts)):
            if left[w]:
                out[w].append(p)
                left[w] -= 1
                p += 1
    return out


class ShardStream(torch.utils.data.IterableDataset):
    """One epoch of one rank's batches; each DataLoader worker takes its own shards."""

    def __init__(self, source: ShardSource, per_rank: int, training: bool):
        self.source, self.per_rank, self.training = source, per_rank, training
        self.plan: list = []  # per worker: (shard urls, positions of its batches)
        self.seed = self.epoch = self.rank = 0
        self.skip = 0  # positions below this were applied before a resume
        self.quota: int | None = None  # evaluation: at most this many batches per worker

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        w = info.id if info is not None else 0
        if w >= len(self.plan):
            return
        urls, positions = self.plan[w]
        try:
            yield from self._batches(w, urls, positions)
        except SpeccError as e:  # raised again, cleanly, by the feed in the main process
            yield -1, None, None, [("error", e.message)]

    def _batches(self, w: int, urls: list, positions: list):
        rng = random.Random(sample_seed(self.seed, self.epoch, self.rank * 1009 + w))
        samples = self._samples(urls)
        if self.training:
            samples = _shuffled(samples, rng)
        else:  # evaluation: every sample once, the last batch may be short
            positions = range(-(-self.available(urls) // self.per_rank))
        tf = self.source.train_tf if self.training else self.source.test_tf
        last_good = None
        for k, pos in enumerate(positions):
            if self.quota is not None and k >= self.quota:
                return
            group = [s for _, s in zip(range(self.per_rank), samples)]
            if not group:
                return
            if pos < self.skip:
                continue  # applied before a resume: read past, never decoded
            xs, ys, bad = [], [], []
            for key, data, label, url in group:
                seed = sample_seed(self.seed, self.epoch, zlib.crc32(f"{url}/{key}".encode()))
                try:
                    img = decode_bytes(data)
                    last_good = (img, label)
                except Exception as e:  # PIL raises many kinds for broken data
                    bad.append((f"{url}:{key}", str(e).splitlines()[0][:200]))
                    if last_good is None:
                        raise SpeccError(f"webdataset: {url}: the image of {key} cannot be "
                                         f"read and no earlier image can stand in: {e}") from None
                    img, label = last_good  # the previous good image stands in
                xs.append(tf.image(img, seed))
                ys.append(label)
            yield pos, torch.stack(xs), torch.tensor(ys, dtype=torch.long), bad

    def available(self, urls: list) -> int:
        table = {s.url: s for s in (self.source.train if self.training else self.source.test)}
        return sum(table[u].train if self.training else table[u].test for u in urls)

    def _samples(self, urls):
        for url in urls:
            for key, data, label in read_samples(url):
                if self.source.hashed and held_out(key) == self.training:
                    continue
                yield key, data, label, url


def _shuffled(samples, rng: random.Random, size: int = SHUFFLE_BUFFER):
    buf = []
    for s in samples:
        buf.append(s)
        if len(buf) >= size:
            i = rng.randrange(len(buf))
            buf[i], buf[-1] = buf[-1], buf[i]
            yield buf.pop()
    rng.shuffle(buf)
    yield from buf


class ShardFeed:
    """A rank's batches from shards, yielded in position order (see the module docstring)."""

    def __init__(self, data, seed, rank, world, per_rank, workers, pin, device=None):
        from .stream import BadFiles
        src = data.shards
        if len(src.train) < world:
            raise SpeccError(f"webdataset: {len(src.train)} training shards cannot feed "
                             f"{world} processes (each needs at least one shard)")
        self.src, self.seed, self.rank, self.world = src, seed, rank, world
        self.per_rank, self.workers, self.pin = per_rank, workers, pin
        self.bad = BadFiles(show=rank == 0)
        self.test_batch = max(1, per_rank // src.test_tf.views)
        self._length = {}

    def plan(self, epoch: int) -> tuple[list, int]:
        """(per worker: its shard urls and batch positions, the epoch's length in batches)."""
        shards = list(self.src.train)
        random.Random(sample_seed(self.seed, epoch, 0)).shuffle(shards)
        slots = max(1, self.workers)

        def counts(mine):
            return [sum(s.train for s in deal(mine, w, slots)) // self.per_rank
                    for w in range(slots)]
        length = min(sum(counts(deal(shards, r, self.world))) for r in range(self.world))
        mine = deal(shards, self.rank, self.world)
        positions = batch_positions(counts(mine))
        plan = [([s.url for s in deal(mine, w, slots)], [p for p in positions[w] if p < length])
                for w in range(slots)]
        return plan, length

    def length(self, epoch: int) -> int:
        if epoch not in self._length:
            self._length = {epoch: self.plan(epoch)[1]}
        return self._length[epoch]

    def __len__(self) -> int:
        return self.length(0)

    def epoch(self, epoch: int, skip: int = 0):
        stream = ShardStream(self.src, self.per_rank, training=True)
        stream.plan, length = self.plan(epoch)
        stream.seed, stream.epoch, stream.rank, stream.skip = self.seed, epoch, self.rank, skip
        pending, nxt = {}, skip
        for pos, x, y, bad in self._loader(stream):
            pending[pos] = (x, y)
            while nxt in pending:
                yield pending.pop(nxt)
                nxt += 1
        if nxt < length:
            raise SpeccError(f"webdataset: the shards gave {nxt} batches, not the {length} "
                             "counted at the start (did a shard change?)")

    def test(self, batch: int | None = None, limit: int | None = None):
        stream = ShardStream(self.src, batch or self.test_batch, training=False)
        test = [s for s in self.src.test if s.test]
        slots = max(1, self.workers)
        mine = deal(test, self.rank, self.world)
        stream.plan = [([s.url for s in deal(mine, w, slots)], []) for w in range(slots)]
        if limit is not None:  # a fixed share per worker, so the same batches every time
            stream.quota = -(-limit // slots)
        for k, (_, x, y, _) in enumerate(self._loader(stream)):
            if limit is not None and k >= limit:
                break
            yield x, y

    def _loader(self, stream):
        from .stream import quiet_worker
        loader = torch.utils.data.DataLoader(
            stream, batch_size=None, num_workers=self.workers, pin_memory=self.pin,
            worker_init_fn=quiet_worker if self.workers else None,
            generator=torch.Generator().manual_seed(0))
        for pos, x, y, bad in loader:
            if x is None:
                raise SpeccError(bad[0][1])
            self.bad.report(bad)
            yield pos, x, y, bad

    def close(self) -> None:
        pass


register("webdataset", load_webdataset)
