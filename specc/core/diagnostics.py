"""The compiler's error type and how it is rendered for people."""
from __future__ import annotations

from .source import Span, printable


class SpeccError(Exception):
    """One or more user-facing problems; `str()` is the full rendered report."""

    def __init__(self, message: str, span: Span | None = None, notes: tuple[str, ...] = ()):
        self.message = message
        self.span = span
        self.notes = tuple(notes)
        self.errors: list[SpeccError] = [self]
        super().__init__(message)

    @classmethod
    def many(cls, errors: list["SpeccError"]) -> "SpeccError":
        if len(errors) == 1:
            return errors[0]
        first = errors[0]
        combined = cls(first.message, first.span, first.notes)
        combined.errors = list(errors)
        return combined

    def render(self, theme=None) -> str:
        """The report as text. `theme` colours it (the caller knows the terminal): an object
        with `paint(text, style)` and `code(line)`, such as specc.tools.highlight.TERMINAL;
        None is plain text (and never imports a highlighter)."""
        parts = [render_one(e, theme) for e in self.errors]
        if len(self.errors) > 1:
            parts.append(f"{len(self.errors)} errors")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


def render_one(err: SpeccError, theme=None) -> str:
    paint = theme.paint if theme is not None else _plain
    span = err.span
    message = printable(err.message, keep="\n")
    if span is None:
        lines = [f"{paint('error:', 'error')} {message}"]
    else:
        lines = [f"{paint(printable(str(span)) + ':', 'place')} {paint('error:', 'error')} {message}"]
        lines += _excerpt(span, theme)
        chain = [(c, str(site)) for c, site in span.chain()]
        i = 0
        while i < len(chain):
            j = i
            while j + 1 < len(chain) and chain[j + 1] == chain[i]:
                j += 1
            times = f" ({j - i + 1} times)" if j > i else ""
            lines.append(paint(printable(f"  while expanding {chain[i][0]} at {chain[i][1]}{times}"),
                               "dim"))
            i = j + 1
    lines += [f"  {paint('note:', 'note')} {printable(n, keep=chr(10))}" for n in err.notes]
    return "\n".join(lines)


def _plain(text: str, style: str) -> str:
    return text


EXCERPT_WIDTH = 120  # a longer source line is shown as a window around the caret


def _excerpt(span: Span, theme=None) -> list[str]:
    """The span's line (the grammar's line: see source.split_lines) with a caret under the
    marked columns. Tabs are expanded and control characters escaped in the shown text, and
    the caret follows what is shown; a long line is shown as a window around the caret."""
    raw = span.source.line(span.line)
    if not raw.strip():
        return []
    start = span.col - 1
    end = span.end_col - 1 if span.end_line == span.line else len(raw)
    end = max(min(end, len(raw)), start + 1)
    head = tail = ""
    if len(raw) > EXCERPT_WIDTH:
        lo = max(0, min(start, len(raw)) - 30)
        hi = min(len(raw), lo + EXCERPT_WIDTH)
        head, tail = ("..." if lo else ""), ("..." if hi < len(raw) else "")
        raw, start, end = raw[lo:hi], start - lo, min(end, hi) - lo
    pad = max(0, start - len(raw))  # the span starts past the line's end (end of file)
    pre = raw[:start].expandtabs(4)
    marked = raw[:end].expandtabs(4)[len(pre):]
    rest = raw.expandtabs(4)[len(pre) + len(marked):]
    before = printable(head + pre) + " " * pad
    caret = "^" * max(1, len(printable(marked)))
    shown = printable(head + pre) + printable(marked) + printable(rest) + tail
    num = str(span.line)
    gutter = " " * len(num)
    if theme is not None:
        paint = theme.paint
        return [paint(f" {num} |", "gutter") + f" {theme.code(shown)}",
                paint(f" {gutter} |", "gutter") + f" {' ' * len(before)}" + paint(caret, "caret")]
    return [f" {num} | {shown}", f" {gutter} | {' ' * len(before)}{caret}"]


class FatalError(SpeccError):
    """A limit was hit (recursion, loop length, parameter budget): stop elaborating at once."""


class Collector:
    """Gathers the errors of one run so that all of them are reported together."""

    def __init__(self, limit: int = 50):
        self.errors: list[SpeccError] = []
        self.limit = limit
        self.count = 0  # every error added, duplicates included

    def add(self, err: SpeccError) -> None:
        self.count += len(err.errors)
        for e in err.errors:
            if len(self.errors) < self.limit and not any(_same(e, o) for o in self.errors):
                self.errors.append(e)

    def raise_if_any(self) -> None:
        if self.errors:
            raise SpeccError.many(self.errors)


def _same(a: SpeccError, b: SpeccError) -> bool:
    return a.message == b.message and a.span == b.span
