"""How an op computes only a part of its output: the per-op knowledge behind the pass that
moves a slice up to where its rows are made (specc/passes/rows.py).

A part is a range of one axis, Part(axis, start, end). An op's `rows` rule answers, for the
part of its output its readers need (None: all of it), what it reads of each input: a Part
of that input, or None for all of it; and the rule answers None when the op cannot compute
that part alone (a softmax along that axis mixes its rows). Most rules say "the same rows of
the input on this axis" (`same_rows`); an elementwise op needs no rule of its own: its trait
and NumPy broadcasting say it (`row_rule`). Only slice answers for a whole output: it reads
a part of its input, and given just that part it is the part itself (`passes`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .registry import OpDef, Trait


class Part(NamedTuple):
    axis: int
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Reads:
    """What a node reads of each input to compute a part of its output: a Part or None
    (the whole input); `attrs`: the node's attributes for the part when they change
    (reshape's target); `passes`: given exactly these parts, the output is its input."""

    inputs: tuple
    attrs: dict | None = None
    passes: bool = False


def same_rows(axes):
    """The rule of an op that computes rows along an output axis from the same rows of its
    inputs. `axes(attrs, types, axis)`: for each input, the axis holding those rows (None:
    the input is read whole), or None when the op mixes the rows along `axis`."""
    def rule(attrs, types, want: Part | None) -> Reads | None:
        if want is None:
            return None
        found = axes(attrs, types, want.axis)
        if found is None:
            return None
        return Reads(tuple(None if a is None else Part(a, want.start, want.end)
                           for a in found))
    return rule


def aligned(types, out_rank: int, axis: int) -> tuple:
    """NumPy broadcasting, read backwards: each operand's axis aligned with output axis
    `axis` (shapes align at their last dims), or None where it has no such axis or size 1
    there (the one row serves every output row)."""
    out = []
    for t in types:
        own = axis - (out_rank - t.rank)
        out.append(None if own < 0 or t.shape[own] == 1 else own)
    return tuple(out)


def every_axis_but(axis_of):
    """Rows along any axis but the op's own (`axis_of(attrs, rank)`): softmax, concat."""
    def axes(attrs, types, axis):
        rank = types[0].rank
        return None if axis == axis_of(attrs, rank) else (axis,) * len(types)
    return same_rows(axes)


def leading(count_of):
    """Rows along the axes before the last `count_of(attrs)` ones, which the op works
    across (linear: 1; layer norm: `dims`)."""
    def axes(attrs, types, axis):
        return (axis,) if axis < types[0].rank - count_of(attrs) else None
    return same_rows(axes)


def _broadcast(attrs, types, axis):
    return aligned(types, max(t.rank for t in types), axis)


BROADCAST = same_rows(_broadcast)


def cut(part: Part) -> tuple[str, dict]:
    """The op and attributes of a node that cuts `part` out of a value."""
    return "slice", {"axis": part.axis, "start": part.start, "end": part.end, "step": 1}


def row_rule(op: OpDef):
    """The op's rows rule: its own, else broadcasting for an elementwise op, else None."""
    if op.rows is not None:
        return op.rows
    return BROADCAST if Trait.ELEMENTWISE in op.traits else None
