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

    def render(self) -> str:
        parts = [render_one(e) for e in self.errors]
        if len(self.errors) > 1:
            parts.append(f"{len(self.errors)} errors")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


def render_one(err: SpeccError) -> str:
    span = err.span
    message = printable(err.message, keep="\n")
    if span is None:
        lines = [f"error: {message}"]
    else:
        lines = [f"{printable(str(span))}: error: {message}"]
        lines += _excerpt(span)
        chain = [(c, str(site)) for c, site in span.chain()]
        i = 0
        while i < len(chain):
            j = i
            while j + 1 < len(chain) and chain[j + 1] == chain[i]:
                j += 1
            times = f" ({j - i + 1} times)" if j > i else ""
            lines.append(printable(f"  while expanding {chain[i][0]} at {chain[i][1]}{times}"))
            i = j + 1
    lines += [f"  note: {printable(n, keep=chr(10))}" for n in err.notes]
    return "\n".join(lines)


def _excerpt(span: Span) -> list[str]:
    text = span.source.line(span.line).rstrip("\n").expandtabs(4)
    if not text.strip():
        return []
    num = str(span.line)
    width = span.end_col - span.col if span.end_line == span.line else len(text) - span.col + 1
    width = max(1, min(width, len(text) - span.col + 1))
    gutter = " " * len(num)
    # control characters are shown escaped (wider): the caret follows the escaped text
    before = printable(text[:span.col - 1]).ljust(span.col - 1)
    marked = max(1, len(printable(text[span.col - 1:][:width])))
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
