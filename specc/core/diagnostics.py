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
    text = span.source.line(span.line).rstrip("\n").expandtabs(4)
    if not text.strip():
        return []
    num = str(span.line)
    width = span.end_col - span.col if span.end_line == span.line else len(text) - span.col + 1
    width = max(1, min(width, len(text) - span.col + 1))
    if len(text) > EXCERPT_WIDTH:
        text, span, width = _window(text, span, width)
    gutter = " " * len(num)
    # control characters are shown escaped (wider): the caret follows the escaped text
    before = printable(text[:span.col - 1]).ljust(span.col - 1)
    marked = max(1, len(printable(text[span.col - 1:][:width])))
    if theme is not None:
        paint = theme.paint
        return [paint(f" {num} |", "gutter") + f" {theme.code(printable(text))}",
                paint(f" {gutter} |", "gutter") + f" {' ' * len(before)}"
                + paint("^" * marked, "caret")]
    return [f" {num} | {printable(text)}", f" {gutter} | {' ' * len(before)}{'^' * marked}"]


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


def _window(text: str, span: Span, width: int):
    """At most EXCERPT_WIDTH characters of `text` around the marked columns, with '...'."""
    from dataclasses import replace
    start = max(0, span.col - 1 - 30)
    end = min(len(text), start + EXCERPT_WIDTH)
    head = "..." if start else ""
    shown = head + text[start:end] + ("..." if end < len(text) else "")
    col = span.col - start + len(head)
    width = max(1, min(width, end - (span.col - 1)))
    return shown, replace(span, col=col, end_col=col + width), width
