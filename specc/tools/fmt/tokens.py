"""The token stream of a source, comments included: what the AST forgets and `fmt` must keep.

The AST has no comments, no brackets and no trailing commas; this index answers the few
questions the printer asks about them (where a body's braces are, whether a bracket ends with a
trailing comma, which lines lie inside a multi-line string)."""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from ...lang.parse import _parser
from ...core.source import SourceFile

_TRIVIA = {"WS", "_NL", "COMMENT"}


@dataclass(frozen=True)
class Comment:
    line: int
    col: int
    text: str
    own_line: bool  # nothing but whitespace before it on its line


class Tokens:
    """Tokens with their positions, brace pairs and comments of one source text."""

    def __init__(self, source: SourceFile):
        self.source = source
        raw = list(_parser("start").lex(source.text, dont_ignore=True))
        self.toks = [t for t in raw if t.type not in _TRIVIA]
        self.starts = [(t.line, t.column) for t in self.toks]
        self.comments = [Comment(t.line, t.column, str(t).rstrip(),
                                 not source.line(t.line)[: t.column - 1].strip())
                         for t in raw if t.type == "COMMENT"]
        self.string_lines = set()  # lines that start inside a multi-line string
        for t in self.toks:
            if t.type == "STRING" and t.end_line > t.line:
                self.string_lines.update(range(t.line + 1, t.end_line + 1))
        self.partner = self._pair_braces()

    def _pair_braces(self) -> dict[int, int]:
        stack, out = [], {}
        for i, t in enumerate(self.toks):
            if t.type == "LBRACE":
                stack.append(i)
            elif t.type == "RBRACE" and stack:
                out[stack.pop()] = i
        return out

    def first_after(self, line: int, col: int, kind: str) -> int:
        """Index of the first token of `kind` starting at or after (line, col)."""
        i = bisect_left(self.starts, (line, col))
        while i < len(self.toks) and self.toks[i].type != kind:
            i += 1
        if i == len(self.toks):
            raise LookupError(f"no {kind} after {line}:{col}")
        return i

    def index_at(self, line: int, col: int) -> int:
        """Index of the token that starts exactly at (line, col)."""
        i = bisect_left(self.starts, (line, col))
        return i

    def last_before(self, line: int, col: int):
        """The last token starting before (line, col), or None."""
        i = bisect_right(self.starts, (line, col)) - 1
        while i >= 0 and self.starts[i] >= (line, col):
            i -= 1
        return self.toks[i] if i >= 0 else None

    def body_braces(self, line: int, col: int) -> tuple[int, int]:
        """Token indices of the '{' of the first body after (line, col) and its '}'."""
        open_i = self.first_after(line, col, "LBRACE")
        return open_i, self.partner[open_i]

    def trailing_comma(self, end_line: int, end_col: int) -> bool:
        """Whether the closing bracket that ends at (end_line, end_col) follows a comma."""
        before = self.last_before(end_line, end_col - 1)
        return before is not None and before.type == "COMMA"

    def comma_after(self, line: int, col: int) -> bool:
        """Whether the first token at or after (line, col) is a comma."""
        i = bisect_left(self.starts, (line, col))
        return i < len(self.toks) and self.toks[i].type == "COMMA"
