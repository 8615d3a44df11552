"""Loop arguments as formulas of the loop indices: a constant, a value that differs at the
first step, a geometric or arithmetic series, a list indexed by the step; over two loops
(stage, i), ResNet's `i == 0 and stage > 0 ? 2 : 1`."""
from __future__ import annotations

from .emit import literal


def _eq(a, b) -> bool:
    return type(a) is type(b) and a == b


def _vector_expr(values: list, index: str) -> str:
    """A value per step of a loop over `index`: a constant, one that differs at the first
    step, a geometric or arithmetic series of ints, or a list indexed by the step."""
    if all(_eq(v, values[0]) for v in values):
        return literal(values[0])
    if len(values) > 1 and all(_eq(v, values[1]) for v in values[1:]):
        a, b = values[0], values[1]
        if a is True and b is False:
            return f"{index} == 0"
        if a is False and b is True:
            return f"{index} > 0"
        return f"{index} == 0 ? {literal(a)} : {literal(b)}"
    if all(type(v) is int for v in values) and values[0]:
        ratio = values[1] / values[0]
        if ratio == int(ratio) and ratio > 1 and all(
                v == values[0] * int(ratio) ** k for k, v in enumerate(values)):
            return f"{values[0]} * {int(ratio)} ** {index}"
        step = values[1] - values[0]
        if all(v == values[0] + step * k for k, v in enumerate(values)):
            return f"{values[0]} + {step} * {index}"
    return f"{literal(tuple(values))}[{index}]"


def grid_expr(grid: list[list]) -> str:
    """A value per (stage, i) of two nested loops."""
    flat = [v for row in grid for v in row]
    if all(_eq(v, flat[0]) for v in flat):
        return literal(flat[0])
    if all(all(_eq(v, row[0]) for v in row) for row in grid):
        return _vector_expr([row[0] for row in grid], "stage")
    firsts, rests = [row[0] for row in grid], [row[1:] for row in grid]
    if all(all(_eq(v, r[0]) for v in r) for r in rests if r):
        rest = [r[0] for r in rests if r]
        if len(rest) == len(grid) or all(_eq(v, rest[0]) for v in rest):
            rest = rest if len(rest) == len(grid) else [rest[0]] * len(grid)
            if all(_eq(v, rest[0]) for v in rest) and _eq(firsts[0], rest[0]) and \
                    len(firsts) > 1 and all(_eq(v, firsts[1]) for v in firsts[1:]):
                # the first step of every stage but the first differs: ResNet's stride
                if firsts[1] is True and rest[0] is False:
                    return "i == 0 and stage > 0"
                return f"i == 0 and stage > 0 ? {literal(firsts[1])} : {literal(rest[0])}"
            a = _vector_expr(firsts, "stage")
            b = _vector_expr(rest, "stage")
            if b == "false":
                return "i == 0" if a == "true" else f"i == 0 and {a}"
            if a == "true" and b == "true":
                return "true"
            return f"i == 0 ? {a} : {b}"
    return f"{literal(tuple(tuple(r) for r in grid))}[stage][i]"


def index_expr(values: list, index: str) -> str:
    """A value per loop step as a constant, `i == 0 ? a : b`, or a list indexed by the step."""
    if all(_eq(v, values[0]) for v in values):
        return literal(values[0])
    if len(values) > 1 and all(_eq(v, values[1]) for v in values[1:]):
        if values[0] is True and values[1] is False:
            return f"{index} == 0"
        if values[0] is False and values[1] is True:
            return f"{index} > 0"
        return f"{index} == 0 ? {literal(values[0])} : {literal(values[1])}"
    return f"{literal(tuple(values))}[{index}]"
