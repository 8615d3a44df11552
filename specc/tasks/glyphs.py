"""`fukushima`: the Neocognitron's training set (Fukushima 1980, sec. 5, Fig. 6a): the five
patterns "0"-"4", each shown 20 times at a random position on a 16x16 retina, in random order,
without labels. Evaluated on every pattern at every position, and on distorted copies.

The glyphs are ours (the paper's are a figure): 11x11 one-cell-wide strokes, so they can move
by up to 5 cells each way. The metric, `shift_invariance`: the fraction of test presentations
whose strongest UC3 cell is the pattern's own cell (the one it drives most often), counting
only when the five patterns own five different cells.
"""
from __future__ import annotations

import torch

from ..core.diagnostics import SpeccError
from ..data.registry import register
from .task import Task, TaskData

GLYPHS = {
    "0": ["....###....",
          "...#...#...",
          "..#.....#..",
          ".#.......#.",
          ".#.......#.",
          ".#.......#.",
          ".#.......#.",
          ".#.......#.",
          "..#.....#..",
          "...#...#...",
          "....###...."],
    "1": [".....#.....",
          "....##.....",
          "...#.#.....",
          ".....#.....",
          ".....#.....",
          ".....#.....",
          ".....#.....",
          ".....#.....",
          ".....#.....",
          ".....#.....",
          "..#######.."],
    "2": ["..######...",
          ".#......#..",
          "........#..",
          "........#..",
          ".......#...",
          "......#....",
          ".....#.....",
          "....#......",
          "...#.......",
          "..#........",
          ".#########."],
    "3": [".#######...",
          "........#..",
          "........#..",
          "........#..",
          "........#..",
          "..######...",
          "........#..",
          "........#..",
          "........#..",
          "........#..",
          ".#######..."],
    "4": ["......#....",
          ".....##....",
          "....#.#....",
          "...#..#....",
          "..#...#....",
          ".#....#....",
          "##########.",
          "......#....",
          "......#....",
          "......#....",
          "......#...."],
}
RETINA = 16
SHOWN = 20  # presentations of each pattern


def glyph(name: str) -> torch.Tensor:
    return torch.tensor([[1.0 if c == "#" else 0.0 for c in row] for row in GLYPHS[name]])


def place(g: torch.Tensor, top: int, left: int) -> torch.Tensor:
    canvas = torch.zeros(RETINA, RETINA)
    canvas[top:top + g.shape[0], left:left + g.shape[1]] = g
    return canvas


def positions() -> list[tuple[int, int]]:
    room = RETINA - len(GLYPHS["0"])
    return [(t, l) for t in range(room + 1) for l in range(room + 1)]


def distort(g: torch.Tensor, gen: torch.Generator, moves: int = 3) -> torch.Tensor:
    """A small distortion: `moves` stroke cells each step to a free 8-neighbour."""
    g = g.clone()
    for _ in range(moves):
        on = g.nonzero()
        r, c = on[int(torch.randint(len(on), (1,), generator=gen))].tolist()
        dr, dc = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b][
            int(torch.randint(8, (1,), generator=gen))]
        if 0 <= r + dr < g.shape[0] and 0 <= c + dc < g.shape[1] and g[r + dr, c + dc] == 0:
            g[r, c], g[r + dr, c + dc] = 0.0, 1.0
    return g


def load(arg: str, want) -> TaskData:
    if tuple(want.shape) != (1, RETINA, RETINA):
        raise SpeccError(f"data set 'fukushima' is a {RETINA}x{RETINA} retina [N, 1, {RETINA}, "
                         f"{RETINA}]; the network's input is {['N', *want.shape]}")
    gen = torch.Generator().manual_seed(1980)
    names, spots = list(GLYPHS), positions()
    train = [(k, spots[int(torch.randint(len(spots), (1,), generator=gen))])
             for k in range(len(names)) for _ in range(SHOWN)]
    order = torch.randperm(len(train), generator=gen).tolist()
    x = torch.stack([place(glyph(names[train[i][0]]), *train[i][1]) for i in order])
    y = torch.tensor([train[i][0] for i in order])
    test_x = torch.stack([place(glyph(n), *p) for n in names for p in spots])
    test_y = torch.tensor([k for k in range(len(names)) for _ in spots])
    bent = torch.stack([place(distort(glyph(n), gen), *p) for n in names for p in spots])
    task = Task("shift_invariance", lambda run: evaluate(run, test_x, test_y, bent))
    return TaskData("fukushima", x.unsqueeze(1), y, test_x.unsqueeze(1), test_y, len(names),
                    names, None, task)


def owners(cells: torch.Tensor, y: torch.Tensor, k: int) -> list[int]:
    """Each pattern's own cell: the UC3 cell it drives most often (-1: mostly none fires)."""
    return [int(torch.mode(cells[y == p]).values) for p in range(k)]


def distinct(own: list[int]) -> int:
    """How many different UC3 cells the patterns own (a pattern that owns none adds none)."""
    return len({c for c in own if c >= 0})


def invariance(cells: torch.Tensor, y: torch.Tensor, own: list[int]) -> float:
    """The fraction of presentations that drive their pattern's own cell; 0 unless every
    pattern owns a cell of its own."""
    if distinct(own) < len(own):
        return 0.0
    return float((cells == torch.tensor(own)[y]).float().mean())


def evaluate(run, x, y, bent) -> dict:
    out = []
    for images in (x, bent):
        named, _ = run.learner.forward(images.unsqueeze(1).to(run.trainer.device))
        response = named[run.learner.names[0]].flatten(1).cpu()
        fired = response.max(1).values > 0
        out.append(torch.where(fired, response.argmax(1), torch.full_like(y, -1)))
    k = len(GLYPHS)
    own = owners(out[0], y, k)
    score = invariance(out[0], y, own)
    return {"score": score, "loss": 1.0 - score, "shift_invariance": score,
            "distorted_invariance": invariance(out[1], y, own),
            "distinct_cells": distinct(own), "cells": own,
            "shifts_all_distinct": every_shift(out[0], k)}


def every_shift(cells: torch.Tensor, k: int) -> float:
    """The fraction of tested positions at which the k patterns drive k different UC3 cells
    (test presentations are pattern-major: every pattern at every position)."""
    at = cells.reshape(k, -1).t()  # [positions, patterns]
    ok = [(row >= 0).all() and len(set(row.tolist())) == k for row in at]
    return sum(map(bool, ok)) / len(ok)


register("fukushima", load)
