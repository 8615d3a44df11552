"""`associative[:PAIRS]`: pairs of random +-1 patterns for a Hebbian associative memory.

Training shows each stored pair once, cue and target (the teacher clamps the output units);
the test shows every cue with 20 % of its bits flipped, five times each. The metric,
`recall_rate`: the fraction of corrupted cues whose recalled pattern equals the stored target
in every bit. With 8 pairs of 256-bit cues and 64-bit targets the outer-product memory's
crosstalk is small (signal 0.6 * 256 against a spread of sqrt(7 * 256)), so nearly all recall.
"""
from __future__ import annotations

import torch

from ..core.diagnostics import SpeccError
from ..data.registry import count_arg, in_memory, register
from .task import Task, TaskData

PAIRS = 8
FLIP = 0.2
TRIES = 5  # corrupted copies of each cue in the test


def bipolar(n: int, bits: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (n, bits), generator=gen).float() * 2 - 1


def corrupt(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """Flip exactly round(fraction * bits) bits of every row, at random places."""
    k = round(fraction * x.shape[1])
    order = torch.rand(x.shape, generator=gen).argsort(1)[:, :k]
    out = x.clone()
    out.scatter_(1, order, -x.gather(1, order))
    return out


def load(arg: str, want) -> TaskData:
    shape = tuple(want.shape)
    if len(shape) != 1 or not want.classes:
        raise SpeccError(f"data set 'associative' pairs +-1 vectors [N, bits] with +-1 targets; "
                         f"the network's input is {['N', *shape]}")
    pairs = count_arg("associative", arg, PAIRS, "pairs")
    in_memory("associative", pairs * (TRIES + 1), shape[0] + want.classes)
    gen = torch.Generator().manual_seed(1949)
    cues, targets = bipolar(pairs, shape[0], gen), bipolar(pairs, want.classes, gen)
    test_x = corrupt(cues.repeat(TRIES, 1), FLIP, gen)
    test_y = targets.repeat(TRIES, 1)
    task = Task("recall_rate", lambda run: evaluate(run, test_x, test_y, cues, targets))
    return TaskData(f"associative:{pairs}", cues, targets, test_x, test_y, 0, [], None, task)


def evaluate(run, test_x, test_y, cues, targets) -> dict:
    recalled = {}
    for name, x in (("corrupted", test_x), ("clean", cues)):
        named, _ = run.learner.forward(x.to(run.trainer.device))
        recalled[name] = named[run.learner.names[0]].cpu()
    hits = recalled["corrupted"] == test_y
    rate = float(hits.all(1).float().mean())
    return {"score": rate, "loss": 1.0 - float(hits.float().mean()), "recall_rate": rate,
            "bit_accuracy": float(hits.float().mean()),
            "clean_recall_rate": float((recalled["clean"] == targets).all(1).float().mean())}


register("associative", load)
