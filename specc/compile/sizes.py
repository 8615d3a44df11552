"""Sizes for a network's symbolic dims: the ones a spec states (its recipe's `size`, or
`--set H=224`), and the ones a check picks where it must run the network (export
verification runs two different sizes)."""
from __future__ import annotations

from ..core.diagnostics import SpeccError
from ..ir.graph import Graph
from ..ir.sym import Sym


def free_symbols(graph: Graph) -> list[str]:
    """The symbolic sizes after the batch (H, W, T), in the order the inputs declare them."""
    batch = graph.facts().batch
    return [s for s in graph.symbols() if s not in batch]


def stated_sizes(graph: Graph) -> dict[str, int]:
    """name -> size from the recipe's `size` (one int for all, or one per symbol) and
    `--set NAME=SIZE` (which wins)."""
    names = free_symbols(graph)
    out: dict[str, int] = {}
    size = graph.recipe.get("size")
    if size:
        out.update(zip(names, size * len(names) if len(size) == 1 else size))
    out.update(graph.meta.get("sizes") or {})
    return out


def check_stated(graph: Graph) -> None:
    """The stated sizes (the recipe's `size`, `--set H=...`) must satisfy the network's own
    assumptions: a located error at the `assert` they break, before anything runs."""
    stated = stated_sizes(graph)
    if not stated:
        return
    sizes = {**{s: 1 for s in graph.facts().batch}, **stated}
    for a in graph.assumptions:
        try:
            ok = a.cond.holds(sizes)
        except (KeyError, ValueError, ZeroDivisionError):
            continue  # the assumption reads a size nobody stated
        if not ok:
            given = ", ".join(f"{k}={v}" for k, v in stated.items())
            origin = "--set" if graph.meta.get("sizes") else "the recipe's size"
            raise SpeccError(f"the stated sizes {given} ({origin}) break the network's "
                             f"assumption {a.cond}" + (f": {a.message}" if a.message else ""),
                             a.span, ("state sizes the assertion allows",))


def fits(graph: Graph, sizes: dict[str, int]) -> bool:
    """Do these sizes satisfy every assumption and give every tensor positive dims?"""
    try:
        if not all(a.cond.holds(sizes) for a in graph.assumptions):
            return False
        for v in graph.values.values():
            for d in v.type.shape:
                if isinstance(d, Sym) and d.evaluate(sizes) < 1:
                    return False
    except (KeyError, ValueError):
        return False
    return True


def sample_sizes(graph: Graph, batch: int = 2, count: int = 2) -> list[dict[str, int]]:
    """`count` different assignments of the symbolic sizes the network accepts (batch
    symbols get `batch`), the stated sizes first; where there are two free sizes they
    differ within an assignment (H != W), so a swap of the two would show."""
    names = free_symbols(graph)
    base = {s: batch for s in graph.facts().batch}
    if not names:
        return [base]
    stated = stated_sizes(graph)
    candidates = _common_sizes(graph, base, names)
    out = []
    if stated and fits(graph, {**base, **stated}):
        out.append({**base, **stated})
    for k in range(len(candidates)):
        for shift in (0, 1):
            pick = {n: candidates[min(k + (i + shift) % 2, len(candidates) - 1)]
                    for i, n in enumerate(names)}
            sizes = {**base, **pick}
            if sizes not in out and fits(graph, sizes):
                out.append(sizes)
            if len(out) == count:
                return out
    if not out:
        raise SpeccError(f"no size of {', '.join(names)} up to 512 satisfies the network's "
                         "assumptions: state one with --set or the recipe's size")
    return out


def _common_sizes(graph: Graph, base: dict, names: list[str], want: int = 3) -> list[int]:
    """Sizes s for which every free symbol = s fits, from 8 up (then below 8)."""
    found = []
    for s in list(range(8, 513)) + list(range(7, 0, -1)):
        if fits(graph, {**base, **{n: s for n in names}}):
            found.append(s)
            if len(found) == want:
                break
    return found
