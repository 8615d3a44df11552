"""Procedural data: the T-C problem, truth tables, random tensors."""
from __future__ import annotations

import itertools

import torch

from ..core.diagnostics import SpeccError
from .images import normalise
from .registry import Dataset, count_arg, in_memory, register

# Rumelhart, Hinton & Williams 1986 (PDP ch. 8): five-square T and C, four orientations each.
T_SHAPE = {(0, 0), (0, 1), (0, 2), (1, 1), (2, 1)}
C_SHAPE = {(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)}


def rotate(cells: set) -> set:
    turned = {(c, -r) for r, c in cells}
    r0, c0 = min(r for r, _ in turned), min(c for _, c in turned)
    return {(r - r0, c - c0) for r, c in turned}


def orientations(shape: set) -> list[set]:
    out, cur = [], shape
    for _ in range(4):
        if cur not in out:
            out.append(cur)
        cur = rotate(cur)
    return out


def tc_patterns(size: int, margin: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every orientation of T (label 0) and C (label 1) at every position on a size x size
    retina without wrap-around, keeping `margin` empty cells from the border."""
    xs, ys = [], []
    for label, shape in ((0, T_SHAPE), (1, C_SHAPE)):
        for cells in orientations(shape):
            h = max(r for r, _ in cells) + 1
            w = max(c for _, c in cells) + 1
            for top in range(margin, size - h + 1 - margin):
                for left in range(margin, size - w + 1 - margin):
                    img = torch.zeros(size, size)
                    for r, c in cells:
                        img[top + r, left + c] = 1.0
                    xs.append(img)
                    ys.append(label)
    return torch.stack(xs).unsqueeze(1), torch.tensor(ys)


def load_tc(arg: str, want) -> Dataset:
    shape = tuple(want.shape)
    if len(shape) != 3 or shape[0] != 1 or shape[1] != shape[2] or shape[1] < 3:
        raise SpeccError(f"data set 'tc' needs a square one-channel retina [N, 1, R, R], the "
                         f"network's input is {['N', *shape]}")
    # one empty cell around the figure: every 3x3 window touching it then lies on the
    # retina, so a detector's count does not depend on where the letter is (see the notes of
    # the T-C reference: the compactness count 21 vs 20 needs every such window)
    x, y = tc_patterns(shape[1], margin=1)
    x = normalise(x, want)
    return Dataset("tc", x, y, x.clone(), y.clone(), 2, ["T", "C"])


MAX_LOGIC_INPUTS = 20  # a truth table of 2**20 rows

FUNCTIONS = {"and": all, "or": any, "xor": lambda bits: sum(bits) % 2 == 1,
             "parity": lambda bits: sum(bits) % 2 == 1, "nand": lambda bits: not all(bits)}


def load_logic(arg: str, want) -> Dataset:
    fn_name = arg or "xor"
    if fn_name not in FUNCTIONS:
        raise SpeccError(f"unknown truth table 'logic:{fn_name}'",
                         notes=(f"tables: {', '.join(FUNCTIONS)}",))
    shape = tuple(want.shape)
    if len(shape) != 1:
        raise SpeccError(f"data set 'logic' needs an input [N, k], the network's is {['N', *shape]}")
    if shape[0] > MAX_LOGIC_INPUTS:  # every row of the table: 2**k of them
        raise SpeccError(f"data set 'logic' enumerates all 2**k rows of a truth table; the "
                         f"network's input has k = {shape[0]} (at most {MAX_LOGIC_INPUTS})")
    rows = list(itertools.product((0.0, 1.0), repeat=shape[0]))
    x = torch.tensor(rows)
    y = torch.tensor([int(FUNCTIONS[fn_name]([b > 0 for b in r])) for r in rows])
    return Dataset(f"logic:{fn_name}", x, y, x.clone(), y.clone(), 2, ["0", "1"])


def load_synthetic(arg: str, want) -> Dataset:
    n = count_arg("synthetic", arg, 512)
    per_sample = 1
    for d in want.shape:
        per_sample *= d
    in_memory("synthetic", n + n // 4, per_sample)  # before anything is allocated
    g = torch.Generator().manual_seed(0)
    classes = want.classes or 10
    x = torch.randn((n + n // 4, *want.shape), generator=g)
    y = torch.randint(0, classes, (n + n // 4,), generator=g)
    return Dataset("synthetic", x[:n], y[:n], x[n:], y[n:], classes)


register("tc", load_tc)
register("logic", load_logic)
register("synthetic", load_synthetic)
