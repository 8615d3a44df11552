"""Source files and spans: where every AST node, IR node and diagnostic points."""
from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from pathlib import Path


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a spec as the grammar counts them (`_NL` in grammar/specc.lark): a line
    ends at '\n', and a '\r' just before it belongs to the line end. Form feed, a lone
    '\r', U+2028/U+2029 and Unicode's other line breaks are characters within a line
    (`str.splitlines` would break there and every later line number would drift). Every
    surface that counts lines uses this: excerpts, fmt, the graph page, the language server.
    With `keepends`, each line keeps its end and the lines join back to `text`; without it,
    text that ends with a line end has no empty last line (as with `splitlines`)."""
    if keepends:
        parts = text.split("\n")
        out = [x + "\n" for x in parts[:-1]]
        return out + [parts[-1]] if parts[-1] else out
    parts = text.split("\n")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return [x[:-1] if x.endswith("\r") else x for x in parts]


@dataclass(eq=False)
class SourceFile:
    """The text of one `.net` file and the name under which it is shown. `lines` are the
    grammar's (see `split_lines`), without their line ends."""

    path: str
    text: str = field(repr=False)
    lines: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lines = split_lines(self.text) or [""]

    def line(self, n: int) -> str:
        return self.lines[n - 1] if 1 <= n <= len(self.lines) else ""

    def offset(self, line: int, col: int) -> int:
        """The index in `text` of 1-based (line, col) in the grammar's lines, clamped to it."""
        starts = self._starts()
        if line > len(starts):
            return len(self.text)
        start = starts[max(line, 1) - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return min(start + max(col, 1) - 1, end)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, col) in the grammar's lines of an index into `text`."""
        starts = self._starts()
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    def _starts(self) -> list[int]:
        starts = self.__dict__.get("_line_starts")
        if starts is None:
            starts, i = [0], self.text.find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = self.text.find("\n", i + 1)
            self.__dict__["_line_starts"] = starts
        return starts

    @property
    def display(self) -> str:
        return display_path(self.path)


def printable(text: str, keep: str = "") -> str:
    """`text` with control and format characters escaped (\\x1b, \\u202e), so that echoing
    a spec or a file name cannot move the cursor, recolour the terminal or reorder the line.
    Characters in `keep` (e.g. a newline in a multi-line report) stay as they are."""
    if text.isprintable():
        return text
    return "".join(c if c in keep or c.isprintable() or unicodedata.category(c) == "Zs"
                   else _escape(c) for c in text)


def _escape(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def display_path(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return path


@dataclass(frozen=True)
class Span:
    """A region of a source file; `parent` is the call site that expanded it."""

    source: SourceFile
    line: int
    col: int
    end_line: int
    end_col: int
    parent: "Span | None" = None
    context: str = ""  # e.g. "block 'bottleneck'" for the expansion chain

    def __str__(self) -> str:
        return f"{self.source.display}:{self.line}:{self.col}"

    def within(self, parent: "Span | None", context: str) -> "Span":
        """This (static) span, seen while expanding `context` called at `parent`."""
        if parent is None:
            return self
        return Span(self.source, self.line, self.col, self.end_line, self.end_col, parent,
                    context)

    def chain(self) -> list[tuple[str, "Span"]]:
        """(context, call site) pairs from the innermost expansion outwards."""
        out, span = [], self
        while span.parent is not None:
            out.append((span.context, span.parent))
            span = span.parent
        return out

