"""What a spec may be, checked before and right after lark parses it: its size (in bytes,
with its imports) and how deep its syntax tree nests (the one depth rule, core.nesting)."""
from __future__ import annotations

from lark import Tree

from ..core.diagnostics import SpeccError
from ..core.nesting import MAX_NESTING, too_deep
from ..core.source import SourceFile, Span, printable

# A spec file, and a spec with all its imports, holds at most this many bytes: the largest
# bundled spec is 9 KB, ResNet-152 2 KB (Caffe's prototxt of it 200 KB). lark parses pure
# Python at ~50-200 KB/s here, so this keeps `specc check` within seconds; larger input is
# refused before it is parsed.
MAX_SPEC_BYTES = 256 * 2 ** 10


def check_size(source: SourceFile, total: int = 0) -> None:
    """Refuse a spec text over MAX_SPEC_BYTES (with `total` bytes already loaded beside it)
    before anything parses it."""
    size = len(source.text) if len(source.text) * 4 <= MAX_SPEC_BYTES else \
        len(source.text.encode("utf-8", "surrogatepass"))
    if size + total > MAX_SPEC_BYTES:
        held = f"{size:,} bytes" + (f" (with {total:,} bytes of specs loaded before it)"
                                    if total else "")
        raise SpeccError(f"{printable(source.display)}: the spec holds {held}, more than a spec "
                         f"and its imports may ({MAX_SPEC_BYTES:,} bytes: specc parses a spec "
                         "in seconds, a larger one would take minutes); write repetition with "
                         "`for` loops and blocks")


# rules that hold the items of their parent (a call's arguments, a list's items) or the whole
# file: not a level of their own (the frames they take are counted in FRAMES_PER_LEVEL)
_UNCOUNTED = {"start", "expr_start", "type_start", "module", "exprs", "args", "params"}


def check_nesting(source: SourceFile, tree: Tree) -> None:
    """The one depth rule (specc.core.nesting), counted over the syntax tree without
    recursion: the first node (in source order) deeper than MAX_NESTING is reported."""
    stack = [(tree, 0, tree.meta)]
    while stack:
        node, depth, where = stack.pop()
        if not getattr(node.meta, "empty", True):
            where = node.meta
        depth += node.data not in _UNCOUNTED
        if depth > MAX_NESTING:
            span = Span(source, where.line, where.column, where.end_line, where.end_column) \
                if not getattr(where, "empty", True) else None
            raise SpeccError(too_deep("this expression" if span else "the spec"), span,
                             ("give parts of it names (`a = ...` on lines of their own)",))
        stack.extend((c, depth, where) for c in reversed(node.children)
                     if isinstance(c, Tree))
