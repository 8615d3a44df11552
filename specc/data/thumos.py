"""`thumos_synth`: a procedural stand-in for THUMOS'14 chunks of VGG-16 fc7 features, with the
official glimpse code's detection loss, REINFORCE reward and the detection AP.

A chunk holds 50 frames of d features (d from the network's input). Background frames are
N(0, I); 80 % of chunks hold one action instance, 4-8 frames long, whose frames are shifted by
the class's mean vector (one class: the official code trains one agent per class) and carry
the action's course (frames since its start, frames to its end, along two fixed directions),
so one glimpse inside an instance can place it. Instances start between frames 26 and 40:
where to look is something to learn, which a fixed stride cannot (its six glimpses hit 69 %
of them). Ground truth: (start, end) / 50, or -1 for none. 1,500 training and 300 test
chunks, fewer for wide features (at most 50 M generated numbers: 244 and 48 at 4096-d).

Detection loss (backprop): for every glimpse, -log c if the chunk holds an instance else
-log(1 - c), plus, in chunks with an instance, the squared distance of (s, e) to it. Reward
(REINFORCE), per chunk: emitted detections, by confidence, are matched greedily to ground
truth at temporal IoU > 0.5: +1 for each match, -0.1 for each other, -10 when nothing is
emitted though an instance exists. Metric `detection_ap`: average precision at tIoU 0.5 over
the test chunks (deterministic agent: the mean location, the most likely emission).
"""
from __future__ import annotations

import torch

from ..diagnostics import SpeccError
from .tasks import Task, TaskData

FRAMES = 50
TRAIN, TEST = 1500, 300
BUDGET = 50_000_000  # generated numbers at most: 4096-d chunks give 244 train, 48 test
POSITIVE = 0.8
LENGTH = (4, 8)
EARLIEST, LATEST = 26, 40  # where instances may start
PHASE = 1.0  # strength of the features that change along an action (frames since start, to end)
TP, FP, FN = 1.0, -0.1, -10.0
IOU = 0.5


def chunks(n: int, features: int, mean: torch.Tensor, course: torch.Tensor,
           gen: torch.Generator):
    x = torch.randn(n, FRAMES, features, generator=gen)
    y = torch.full((n, 1, 2), -1.0)
    for i in range(n):
        if float(torch.rand(1, generator=gen)) >= POSITIVE:
            continue
        length = int(torch.randint(LENGTH[0], LENGTH[1] + 1, (1,), generator=gen))
        start = int(torch.randint(EARLIEST, min(LATEST, FRAMES - length) + 1, (1,), generator=gen))
        x[i, start:start + length] += mean
        t = torch.arange(length, dtype=torch.float32)[:, None]  # the action's own course
        x[i, start:start + length] += PHASE * (t * course[0] + (length - 1 - t) * course[1])
        y[i, 0] = torch.tensor([start, start + length]) / FRAMES
    return x, y


def load(arg: str, want) -> TaskData:
    shape = tuple(want.shape)
    if len(shape) != 2 or shape[0] != FRAMES:
        raise SpeccError(f"data set 'thumos_synth' gives chunks of {FRAMES} frames [N, {FRAMES}, "
                         f"features]; the network's input is {['N', *shape]}")
    gen = torch.Generator().manual_seed(2016)
    mean = (torch.randint(0, 2, (shape[1],), generator=gen).float() * 2 - 1)
    course = torch.nn.functional.normalize(torch.randn(2, shape[1], generator=gen), dim=1)
    train = min(TRAIN, BUDGET // (FRAMES * shape[1]))
    x, y = chunks(train, shape[1], mean, course, gen)
    tx, ty = chunks(max(1, train * TEST // TRAIN), shape[1], mean, course, gen)
    task = Task("detection_ap", lambda run: evaluate(run, tx, ty), reward=reward, loss=loss)
    return TaskData("thumos_synth", x, y, tx, ty, 0, [], None, task)


# ------------------------------------------------------------------ training signals
def loss(out: dict, y: torch.Tensor) -> torch.Tensor:
    """The official DetLossCriterion: confidence and localisation, weight 1 each."""
    c = out["confidence"].squeeze(-1).clamp(1e-6, 1 - 1e-6)  # [B, G]
    has = (y[:, 0, 0] >= 0).float()[:, None].expand_as(c)
    conf = torch.nn.functional.binary_cross_entropy(c, has)
    diff = ((out["detections"] - y[:, :1, :]) ** 2).sum(-1)  # [B, G]: to the one instance
    where = has > 0
    place = diff[where].mean() if bool(where.any()) else diff.sum() * 0
    return conf + place


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp(0)
    union = (a[..., 1] - a[..., 0]).clamp(0) + (b[..., 1] - b[..., 0]).clamp(0) - inter
    return inter / union.clamp(min=1e-9)


def matches(det: torch.Tensor, conf: torch.Tensor, truth: torch.Tensor) -> list[bool]:
    """Greedy matching of one chunk's detections (by confidence) to its instances."""
    free = [t for t in truth if t[0] >= 0]
    hits = []
    for i in conf.argsort(descending=True).tolist():
        scores = [float(iou(det[i], t)) for t in free]
        best = max(range(len(scores)), key=scores.__getitem__) if scores else None
        hit = best is not None and scores[best] > IOU
        if hit:
            free.pop(best)
        hits.append(hit)
    return hits


def reward(out: dict, y: torch.Tensor) -> torch.Tensor:
    det = out["detections"].detach().clamp(0, 1)
    conf, emit = out["confidence"].detach().squeeze(-1), out["emit"]
    r = torch.zeros(len(y))
    for b in range(len(y)):
        on = emit[b] == 1
        if not bool(on.any()):
            r[b] = FN if float(y[b, 0, 0]) >= 0 else 0.0
            continue
        hits = matches(det[b][on], conf[b][on], y[b])
        r[b] = sum(TP if h else FP for h in hits)
    return r.to(out["detections"].device)


# ------------------------------------------------------------------------ metric
def average_precision(scored: list[tuple[float, bool]], positives: int) -> float:
    """Non-interpolated AP: the mean precision at each true positive, over all instances."""
    if positives == 0:
        return 0.0
    total, tp = 0.0, 0
    for k, (_, hit) in enumerate(sorted(scored, key=lambda s: -s[0]), 1):
        if hit:
            tp += 1
            total += tp / k
    return total / positives


def evaluate(run, x, y) -> dict:
    scored = []
    named, _ = run.learner.forward(x.to(run.trainer.device))
    det = named["detections"].cpu().clamp(0, 1)
    conf, emit = named["confidence"].cpu().squeeze(-1), named["emit"].cpu()
    for b in range(len(y)):
        on = emit[b] == 1
        if bool(on.any()):
            scored += list(zip(conf[b][on].tolist(), matches(det[b][on], conf[b][on], y[b])))
    ap = average_precision(scored, int((y[:, 0, 0] >= 0).sum()))
    return {"score": ap, "loss": float(loss({k: v.cpu() for k, v in named.items()}, y)),
            "detection_ap": ap, "emitted": len(scored),
            "glimpsed_frames": float(named["locations"].shape[1] / FRAMES)}
