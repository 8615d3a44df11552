"""`specc predict MODEL.onnx --data SOURCE --out PREDICTIONS`: label a whole data source.

Items are decoded in DataLoader worker processes and run by onnxruntime sessions in threads
beside them (onnxruntime leaves the GIL while it computes), batches kept in item order; with
--ray the same items go through Ray Data (specc.deploy.ray_runner). Rows are written in
checkpointed chunks (specc.deploy.writer): memory stays flat in the number of samples, and a
killed job resumes where its last chunk ended.
"""
from __future__ import annotations

import hashlib
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.diagnostics import SpeccError
from .sources import Decoded, collate, open_source
from .writer import PredictionWriter, format_of


@dataclass
class PredictJob:
    model: str
    source: str
    out: str
    fmt: str | None = None
    top_k: int | None = None  # classes per row (5 when None); a detector: boxes (all)
    logits: bool = False
    batch: int = 64
    chunk: int = 4096
    workers: int | None = None
    sessions: int = 1
    threads: int | None = None
    provider: str = "auto"
    resume: bool = False
    force: bool = False
    ray: str | None = None  # None: this machine; "local", "auto" or an address
    ray_workers: int = 2
    gpus_per_worker: float = 0.0


@dataclass
class Summary:
    out: str
    rows: int
    skipped: int
    seconds: float
    resumed_at: int
    engine: str
    already_done: bool = False


def predict(job: PredictJob, show_progress: bool = True) -> Summary:
    from ..runtime.model import input_spec_of, input_specs, metadata, read_model
    start = time.perf_counter()
    model = read_model(job.model)
    name, dims, elem = input_specs(model)[0]
    meta = metadata(model)
    items = open_source(job.source)
    _check_kind(name, elem, items)
    out = Path(job.out)
    fmt = format_of(out, job.fmt)
    writer = PredictionWriter(out, fmt, _job_key(job, items), job.resume, job.force)
    detector = meta.get("specc.output_kind") == "detections"
    rows = BoxRows(items, meta, job.top_k, job.logits) if detector else \
        Rows(items, meta, job.top_k or 5, job.logits)
    writer.kinds = rows.kinds()
    if writer.finished:
        return Summary(str(out), 0, 0, 0.0, len(items), "", already_done=True)
    first = writer.done
    spec = input_spec_of(model)
    open_sizes = [d for d, size in zip(dims[1:], spec.shape) if size is None]
    if open_sizes and items.kind != "array":
        raise SpeccError(f"the model's input {name} has open sizes "
                         f"({', '.join(map(str, open_sizes))}) and states none to predict "
                         "at: a batch holds one size",
                         notes=("export it with --set for each (the size every image is "
                                "resized to), e.g. --set H=512 --set W=512",))
    dims = [dims[0], *spec.shape]  # an open size at the one the model states
    if job.ray is not None:
        from .ray_runner import ray_batches
        batches = ray_batches(job, items, dims, spec, meta, first)
        engine = "Ray Data"
    else:
        batches = local_batches(job, items, dims, spec, meta, first)
        engine = "DataLoader + onnxruntime"
    bar = _bar(len(items), first, show_progress)
    chunk, bad, count = [], [], 0
    try:
        for idx, out_arr, failed in batches:
            chunk.append((idx, out_arr))
            bad += [(items.keys[i].decode(errors="replace"), why) for i, why in failed]
            for key, why in bad[len(bad) - len(failed):]:
                print(f"warning: skipping unreadable {key} ({why})", file=sys.stderr)
            done = max([*idx, *(i for i, _ in failed)], default=first - 1) + 1
            count += len(idx)
            bar.update(len(idx) + len(failed))
            if sum(len(i) for i, _ in chunk) >= job.chunk:
                writer.append(rows.columns(chunk), done, bad)
                chunk, bad = [], []
        if chunk or bad or first == 0:
            writer.append(rows.columns(chunk), len(items), bad)
    finally:
        bar.close()
    writer.finish(rows.header())
    return Summary(str(out), count, writer.skipped, time.perf_counter() - start, first, engine)


def _job_key(job: PredictJob, items) -> dict:
    """What a resumed job must share with the one it continues."""
    h = hashlib.sha256()
    with open(job.model, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"model_sha256": h.hexdigest(), "source": items.name, "items": len(items),
            "top_k": job.top_k, "logits": job.logits}


def _bar(total: int, first: int, show: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=first, unit="img", disable=not show, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)


class Rows:
    """Model outputs -> columns: key, label (when the source has one), top-k classes with
    their names and scores (softmax probabilities when the model's outputs are logits), and
    optionally the raw outputs."""

    def __init__(self, items, meta: dict, k: int, logits: bool):
        self.items, self.k, self.logits = items, k, logits
        self.names = meta["specc.labels"]
        self.softmax = meta.get("specc.output_kind") == "logits"

    def header(self) -> list[str]:
        cols = ["key"] + (["label"] if self.items.labels is not None else [])
        for r in range(1, self.k + 1):
            cols += [f"top{r}", f"top{r}_label", f"top{r}_score"]
        return cols + (["logits"] if self.logits else [])

    def kinds(self) -> dict:
        """Each column's kind (str, int, float, floats), for typed formats."""
        out = {"key": "str", "label": "int", "logits": "floats"}
        for r in range(1, self.k + 1):
            out.update({f"top{r}": "int", f"top{r}_label": "str", f"top{r}_score": "float"})
        return {h: out[h] for h in self.header()}

    def columns(self, chunk: list) -> dict:
        idx = [i for part, _ in chunk for i in part]
        cols = {h: [] for h in self.header()}
        if not idx:
            return cols
        raw = np.concatenate([o for _, o in chunk]).reshape(len(idx), -1)
        scores = _softmax(raw) if self.softmax else raw.astype(np.float64)
        k = min(self.k, raw.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        cols.update(self._keys(idx))
        for r in range(self.k):
            top = order[:, r] if r < k else None
            cols[f"top{r + 1}"] = [int(c) for c in top] if top is not None else [None] * len(idx)
            cols[f"top{r + 1}_label"] = [self._name(c) for c in top] if top is not None \
                else [None] * len(idx)
            cols[f"top{r + 1}_score"] = [float(s) for s in scores[np.arange(len(idx)), top]] \
                if top is not None else [None] * len(idx)
        if self.logits:
            cols["logits"] = [row.astype(np.float32).tolist() for row in raw]
        return cols

    def _keys(self, idx: list) -> dict:
        """The key column, and the label column where the source has labels."""
        cols = {"key": [self.items.keys[i].decode(errors="replace") for i in idx]}
        if self.items.labels is not None:
            cols["label"] = [int(self.items.labels[i]) for i in idx]
        return cols

    def _name(self, c) -> str:
        c = int(c)
        return self.names[c] if c < len(self.names) else str(c)


class BoxRows(Rows):
    """A detector's outputs -> columns: key, label (when the source has one), the number of
    boxes kept, and the boxes, best first, flattened: x1, y1, x2, y2, score, class for each
    (the model's rows without their padding; the best `top_k` with --top-k, else all)."""

    def header(self) -> list[str]:
        return ["key"] + (["label"] if self.items.labels is not None else []) + \
            ["boxes", "detections"]

    def kinds(self) -> dict:
        out = {"key": "str", "label": "int", "boxes": "int", "detections": "floats"}
        return {h: out[h] for h in self.header()}

    def columns(self, chunk: list) -> dict:
        from ..runtime.boxes import detections
        idx = [i for part, _ in chunk for i in part]
        cols = {h: [] for h in self.header()}
        if not idx:
            return cols
        found = detections(np.concatenate([o for _, o in chunk]), self.names)
        cols.update(self._keys(idx))
        cols["boxes"] = [len(boxes) for boxes in found]
        cols["detections"] = [[v for b in boxes[:self.k] for v in b["box"] + [b["score"],
                                                                            b["index"]]]
                              for boxes in found]
        return cols


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check_kind(name: str, elem: int, items) -> None:
    """predict feeds float32 (decoded images, or an array's rows): a model whose input is
    not floating point, or an array of another kind of number, is refused before any work."""
    from ..core.dtypes import from_onnx
    from ..runtime.model import dtype_problem
    if items.kind == "array":
        got = np.load(items.array, mmap_mode="r", allow_pickle=False).dtype  # header checked
        problem = dtype_problem(name, elem, got, items.array)
        if problem:
            raise problem
    problem = dtype_problem(name, elem, np.float32)
    if problem:
        raise SpeccError(f"input '{name}' is {from_onnx(elem) or elem} in the spec; specc "
                         "predict feeds floating-point samples (images or float arrays)",
                         notes=("run such a model on arrays with specc run MODEL x.npy",))


def local_batches(job: PredictJob, items, dims, spec, meta, first: int):
    """(item numbers, outputs, [(item, why)]) in item order: DataLoader workers decode,
    `job.sessions` onnxruntime sessions run batches in threads."""
    import torch

    from ..backends.ort import open_session
    from ..train.threads import plan
    p = plan(streaming=items.kind != "array", threads=job.threads, workers=job.workers)
    sessions = [open_session(job.model, job.provider,
                             threads=max(1, p.threads // job.sessions))[0]
                for _ in range(job.sessions)]
    name = sessions[0].get_inputs()[0].name
    keys = [list(range(s, min(s + job.batch, len(items))))
            for s in range(first, len(items), job.batch)]
    loader = torch.utils.data.DataLoader(
        Decoded(items, dims, spec, meta), batch_sampler=keys, num_workers=p.workers,
        collate_fn=collate, prefetch_factor=4 if p.workers else None,
        worker_init_fn=_quiet if p.workers else None)
    free = deque(sessions)
    pending = deque()
    with ThreadPoolExecutor(len(sessions)) as pool:
        for idx, x, bad in loader:
            if len(pending) >= len(sessions):
                yield _collect(pending.popleft(), free)
            sess = free.popleft() if free else None
            pending.append((pool.submit(_run, sess, name, x), idx, bad, sess))
        while pending:
            yield _collect(pending.popleft(), free)


def _quiet(worker: int) -> None:
    from ..data.stream import quiet_worker
    quiet_worker(worker)


def _run(sess, name: str, x):
    if x is None:
        return np.zeros((0, 1), np.float32)
    try:
        return sess.run(None, {name: x.astype(np.float32, copy=False)})[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types for bad feeds
        raise SpeccError(f"onnxruntime failed: {str(e).splitlines()[0][:300]}") from None


def _collect(entry, free):
    future, idx, bad, sess = entry
    out = future.result()
    free.append(sess)
    return idx, out, bad
