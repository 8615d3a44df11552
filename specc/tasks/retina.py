"""`retina:shapes` and `retina:parity`: the perceptron's two lessons on a 20x20 retina.

shapes: eight figures (bars, diagonals, squares, crosses) at many positions, one R-unit per
figure. The training set is small beside the 512 A-units, so its A-unit responses are
linearly independent and every labelling is separable: the convergence theorem promises zero
errors after finitely many passes (tests/test_demonstrations.py checks the rank).

parity: every pattern of a 3x3 patch in the middle of the retina (512 of them), labelled by
the parity of its lit cells, the n-bit XOR. Minsky & Papert (1969): a threshold over
predicates that each see fewer than all 9 cells cannot compute parity; the Mark I's A-units
see about 1 cell of the patch each, so the rule can never reach zero errors.
"""
from __future__ import annotations

import itertools

import torch

from ..core.diagnostics import SpeccError
from ..data.images import normalise
from ..data.registry import Dataset, register

SIZE = 20
PATCH = (9, 9, 3)  # top, left, side of the parity patch


def figure(kind: int, top: int, left: int, side: int) -> torch.Tensor:
    img = torch.zeros(SIZE, SIZE)
    s = slice(top, top + side), slice(left, left + side)
    block = img[s]
    idx = torch.arange(side)
    mid = side // 2
    if kind == 0:
        block[mid, :] = 1  # horizontal bar
    elif kind == 1:
        block[:, mid] = 1  # vertical bar
    elif kind == 2:
        block[idx, idx] = 1  # diagonal \
    elif kind == 3:
        block[idx, side - 1 - idx] = 1  # diagonal /
    elif kind == 4:
        block[0, :] = block[-1, :] = block[:, 0] = block[:, -1] = 1  # square outline
    elif kind == 5:
        block[:] = 1  # filled square
    elif kind == 6:
        block[mid, :] = block[:, mid] = 1  # plus
    else:
        block[idx, idx] = block[idx, side - 1 - idx] = 1  # X
    return img


def shapes() -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for kind in range(8):
        for side in (5, 7):
            for top in range(1, SIZE - side, 4):
                for left in range(1, SIZE - side, 4):
                    xs.append(figure(kind, top, left, side))
                    ys.append(kind)
    return torch.stack(xs), torch.tensor(ys)


def parity() -> tuple[torch.Tensor, torch.Tensor]:
    top, left, side = PATCH
    xs, ys = [], []
    for bits in itertools.product((0.0, 1.0), repeat=side * side):
        img = torch.zeros(SIZE, SIZE)
        img[top:top + side, left:left + side] = torch.tensor(bits).view(side, side)
        xs.append(img)
        ys.append(int(sum(bits)) % 2)
    return torch.stack(xs), torch.tensor(ys)


LESSONS = {"shapes": (shapes, 8), "parity": (parity, 2)}


def load(arg: str, want) -> Dataset:
    lesson = arg or "shapes"
    if lesson not in LESSONS:
        raise SpeccError(f"unknown lesson 'retina:{lesson}'", notes=("lessons: shapes, parity",))
    if tuple(want.shape) != (1, SIZE, SIZE):
        raise SpeccError(f"data set 'retina' is a {SIZE}x{SIZE} retina [N, 1, {SIZE}, {SIZE}]; "
                         f"the network's input is {['N', *want.shape]}")
    make, classes = LESSONS[lesson]
    x, y = make()
    x = normalise(x.unsqueeze(1), want)
    return Dataset(f"retina:{lesson}", x, y, x.clone(), y.clone(), classes)


register("retina", load)
