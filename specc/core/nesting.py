"""How deep a spec may nest, stated once, and the interpreter room every stage needs for it.

One rule for every surface that reads a spec (check, fmt, the language server, the graph page,
`--set` values, the spec inside an exported model): a spec nests at most MAX_NESTING levels.
The parser counts its syntax tree (each statement body, call, bracket, index and operator is
a level: a sum of n terms is n levels deep, as it is to everything that walks it); the
elaborator counts on through block calls; a compile-time list nests at most as deep. Deeper
input is refused where it happens, with the place, so no Python recursion limit is ever
reached from input. `room()` makes sure the interpreter allows the frames those levels take
(measured in tests/test_nesting.py for every shape of nesting and every surface)."""
from __future__ import annotations

import contextlib
import sys

MAX_NESTING = 1_000
# Python frames one level of nesting may take in the deepest-recursing stage (fmt's layout,
# the elaborator's calls); tests/test_nesting.py runs every surface at MAX_NESTING.
FRAMES_PER_LEVEL = 16
_MARGIN = 2_000  # frames for what runs below the deepest level (a pass, a report, a server)


def too_deep(what: str = "this") -> str:
    return (f"{what} nests too deeply: more than {MAX_NESTING:,} levels (each statement body, "
            "call, bracket and operator is one; a sum of n terms is n levels)")


def _depth() -> int:
    n, f = 0, sys._getframe()
    while f is not None:
        n, f = n + 1, f.f_back
    return n


@contextlib.contextmanager
def room():
    """Let the interpreter recurse MAX_NESTING levels deeper than here (never lowers it)."""
    old = sys.getrecursionlimit()
    need = _depth() + MAX_NESTING * FRAMES_PER_LEVEL + _MARGIN
    if need > old:
        sys.setrecursionlimit(need)
    try:
        yield
    finally:
        if need > old:
            sys.setrecursionlimit(old)
