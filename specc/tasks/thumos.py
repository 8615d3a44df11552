"""`thumos_synth[:N]`: a procedural stand-in for THUMOS'14 chunks of VGG-16 fc7 features,
with the official glimpse code's detection loss, REINFORCE reward and the detection AP.

A chunk holds 50 frames of d features (d from the network's input), background N(0, I).
Half the chunks hold one instance of the action the agent detects (the official code trains
one agent per class), 30 % one instance of another action (its batches mix other classes'
chunks in), the rest nothing. An instance is 3-5 frames long, anywhere in the chunk; its
frames carry its action's mean and its course (frames since its start and to its end, along
two directions), so a glimpse inside it can place it to the frame and tell which action it
is. Every frame before an instance shows its lead-in, every frame after it its aftermath
(the same for both actions): a glimpse anywhere says which way to look, so an agent can home
in on the action, while a fixed stride only learns that it lies between two of its glimpses,
too wide a gap to name it at tIoU 0.5. Ground truth: (start, end) / 50, or -1 for none.
N = 20,000 training chunks by default and 600 test chunks (a tenth of N at most), fewer for
wide features (at most 50 M generated numbers: 221 and 22 at 4096-d).

Detection loss (backprop), as the official criterion sums it over the glimpses: -log c if
the chunk holds the action else -log(1 - c), plus, with the action, LOC_WEIGHT times the
squared distance of (s, e) to it; the official code's loc_weight option is 1 for THUMOS
actions that span much of a chunk, and 30 here, where an instance is a tenth of one. Reward
(REINFORCE), per chunk: emitted detections matched to the instance at temporal IoU > 0.5:
+1 for the match, -0.1 for every other, -10 when nothing is emitted though it exists.
Metric `detection_ap`: average precision at tIoU 0.5 over the test chunks (deterministic
agent: the mean location, the most likely emission), after a chunk's duplicate detections
are suppressed (the official evaluation joins overlapping ones); `instances_glimpsed`: the
fraction of test instances some glimpse landed inside.
"""
from __future__ import annotations

import torch

from ..core.diagnostics import SpeccError
from ..data.registry import count_arg, register
from .task import Task, TaskData

FRAMES = 50
TRAIN, TEST = 20000, 600  # chunks (fewer with thumos_synth:N)
BUDGET = 50_000_000  # generated numbers at most: 4096-d chunks give 221 train, 22 test
POSITIVE = 0.5  # chunks with an instance of the action the agent detects
OTHER = 0.3  # chunks with an instance of another action (the official batches mix them in)
LENGTH = (3, 5)  # frames: an action instance's length
PHASE = 3.0  # strength of the features that follow an action's course (frames since start, to end)
SIDE = 3.0  # strength of the lead-in and aftermath features
LOC_WEIGHT = 30.0  # the official loc_weight option, for instances a tenth of a chunk long
TP, FP, FN = 1.0, -0.1, -10.0
IOU = 0.5


def chunks(n: int, features: int, look: torch.Tensor, gen: torch.Generator):
    """`look`: [6, features] - the action's mean, two course directions, the lead-in's and the
    aftermath's means, and the other action's mean."""
    x = torch.randn(n, FRAMES, features, generator=gen)
    kind = torch.rand(n, generator=gen)
    length = torch.randint(LENGTH[0], LENGTH[1] + 1, (n,), generator=gen)
    start = (torch.rand(n, generator=gen) * (FRAMES - length + 1)).long()
    end = start + length
    acted = (kind < POSITIVE + OTHER)[:, None]  # background-only chunks have neither
    frame = torch.arange(FRAMES)[None, :]
    inside = acted & (frame >= start[:, None]) & (frame < end[:, None])
    t = (frame - start[:, None]).clamp(min=0).float()  # frames since the start
    mean = torch.where((kind < POSITIVE)[:, None], look[0], look[5])  # which action
    course = t[..., None] * look[1] + (length[:, None, None] - 1 - t[..., None]) * look[2]
    x += inside[..., None] * (mean[:, None, :] + PHASE * course)
    x += (acted & (frame < start[:, None]))[..., None] * (SIDE * look[3])  # lead-in: to come
    x += (acted & (frame >= end[:, None]))[..., None] * (SIDE * look[4])  # aftermath: happened
    y = torch.full((n, 1, 2), -1.0)
    mine = kind < POSITIVE
    y[mine, 0] = torch.stack([start[mine], end[mine]], 1).float() / FRAMES
    return x, y


def load(arg: str, want) -> TaskData:
    shape = tuple(want.shape)
    if len(shape) != 2 or shape[0] != FRAMES:
        raise SpeccError(f"data set 'thumos_synth' gives chunks of {FRAMES} frames [N, {FRAMES}, "
                         f"features]; the network's input is {['N', *shape]}")
    gen = torch.Generator().manual_seed(2016)
    look = torch.nn.functional.normalize(torch.randn(6, shape[1], generator=gen), dim=1)
    for k in (0, 5):  # the two actions' means: +-1 in every feature
        look[k] = torch.randint(0, 2, (shape[1],), generator=gen).float() * 2 - 1
    cap = BUDGET // (FRAMES * shape[1])
    train = max(1, min(count_arg("thumos_synth", arg, TRAIN, "training chunks"), cap * 10 // 11))
    test = max(1, min(TEST, train // 10))
    x, y = chunks(train, shape[1], look, gen)
    tx, ty = chunks(test, shape[1], look, gen)
    task = Task("detection_ap", lambda run: evaluate(run, tx, ty), reward=reward, loss=loss)
    return TaskData(f"thumos_synth:{train}", x, y, tx, ty, 0, [], None, task)


# ------------------------------------------------------------------ training signals
def loss(out: dict, y: torch.Tensor) -> torch.Tensor:
    """The official DetLossCriterion: confidence and localisation (weight LOC_WEIGHT), summed
    over the glimpses of a chunk and averaged over chunks, as the policy's surrogate is."""
    c = out["confidence"].squeeze(-1).clamp(1e-6, 1 - 1e-6)  # [B, G]
    has = (y[:, 0, 0] >= 0).float()[:, None].expand_as(c)
    conf = torch.nn.functional.binary_cross_entropy(c, has, reduction="none").sum(1)
    diff = ((out["detections"] - y[:, :1, :]) ** 2).sum(-1).sum(1)  # [B]: to the one instance
    return (conf + LOC_WEIGHT * diff * has[:, 0]).mean()


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
    """The official DetRewardCriterion for chunks with at most one instance: +1 if an emitted
    detection overlaps it at tIoU > 0.5, -0.1 for every other emitted detection, -10 when
    nothing is emitted though it exists."""
    det = out["detections"].detach().clamp(0, 1)
    on = out["emit"] == 1  # [B, G]
    truth = y[:, :1, :].to(det.device)
    has = truth[:, 0, 0] >= 0
    hit = (on & (iou(det, truth.expand_as(det)) > IOU)).any(1) & has
    emitted = on.sum(1).to(det.dtype)
    r = TP * hit + FP * (emitted - hit.to(det.dtype))
    return torch.where((emitted == 0) & has, torch.full_like(r, FN), r)


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


def suppressed(det: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """Indices of one chunk's emitted detections that survive non-maximum suppression: by
    confidence, each drops the later ones it overlaps at tIoU > 0.5 - an agent that names one
    action at several glimpses makes one detection of it, not one hit and many misses."""
    keep = []
    for i in conf.argsort(descending=True).tolist():
        if all(float(iou(det[i], det[k])) <= IOU for k in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.long)


def evaluate(run, x, y) -> dict:
    scored = []
    named, _ = run.learner.forward(x.to(run.trainer.device))
    det = named["detections"].cpu().clamp(0, 1)
    conf, emit = named["confidence"].cpu().squeeze(-1), named["emit"].cpu()
    for b in range(len(y)):
        on = emit[b] == 1
        if bool(on.any()):
            keep = suppressed(det[b][on], conf[b][on])
            d, c = det[b][on][keep], conf[b][on][keep]
            scored += list(zip(c.tolist(), matches(d, c, y[b])))
    ap = average_precision(scored, int((y[:, 0, 0] >= 0).sum()))
    return {"score": ap, "loss": float(loss({k: v.cpu() for k, v in named.items()}, y)),
            "detection_ap": ap, "emitted": len(scored),
            "instances_glimpsed": glimpsed(named["locations"].cpu(), y),
            "glimpsed_frames": float(named["locations"].shape[1] / FRAMES)}


def glimpsed(locations: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of the instances that some glimpse landed inside (the frame a location
    picks, as index_of does: clamp(round(l * 50), 1, 50) - 1)."""
    frames = (locations * FRAMES).round().clamp(1, FRAMES) - 1
    has = y[:, 0, 0] >= 0
    bounds = (y[:, 0] * FRAMES).round()
    inside = (frames >= bounds[:, :1]) & (frames < bounds[:, 1:])
    return float(inside.any(1)[has].float().mean()) if bool(has.any()) else 0.0


register("thumos_synth", load)
