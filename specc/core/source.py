"""Source files and spans: where every AST node, IR node and diagnostic points."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(eq=False)
class SourceFile:
    """The text of one `.net` file and the name under which it is shown."""

    path: str
    text: str = field(repr=False)
    lines: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines() or [""]

    def line(self, n: int) -> str:
        return self.lines[n - 1] if 1 <= n <= len(self.lines) else ""

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

