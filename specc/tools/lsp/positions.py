"""Positions at the LSP boundary, where two definitions of a line meet.

specc counts lines as its grammar does (core.source.split_lines: a line ends at '\\n'), in
1-based code points. The protocol counts lines its own way (LSP 3.17: a line ends at '\\n',
'\\r\\n' or '\\r'; a form feed or U+2028 is not a line end) in 0-based code units of the
encoding the client and server agreed on (UTF-16 unless negotiated). Both are mapped through
the offset into the text, so a lone carriage return or a U+2028 in a spec moves no range."""
from __future__ import annotations

import re
from bisect import bisect_right

from lsprotocol import types as T

from ...core.source import SourceFile

_PROTOCOL_EOL = re.compile(r"\r\n|\r|\n")


class ProtocolText:
    """One document's text with the protocol's lines, in the client's code units."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.encoding = str(getattr(encoding, "value", encoding) or "utf-16").lower()
        self.starts = [0] + [m.end() for m in _PROTOCOL_EOL.finditer(text)]

    def _line_end(self, line: int) -> int:
        """The index where `line`'s own text ends (before its line end)."""
        if line + 1 >= len(self.starts):
            return len(self.text)
        end = self.starts[line + 1]
        return end - 2 if self.text[end - 2:end] == "\r\n" else end - 1

    def _units(self, s: str) -> int:
        if self.encoding == "utf-8":
            return len(s.encode("utf-8", "surrogatepass"))
        if self.encoding == "utf-32":
            return len(s)
        return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)

    def offset(self, pos: T.Position) -> int:
        """The index in the text of a protocol position; a line past the end means the end of
        the text, a character past its line's end the end of that line (as LSP says)."""
        if pos.line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[pos.line], self._line_end(pos.line)
        if self.encoding == "utf-32":
            return min(start + pos.character, end)
        units, i = 0, start
        while i < end:
            units += self._units(self.text[i])
            if units > pos.character:
                break
            i += 1
        return i

    def position(self, offset: int) -> T.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        end = min(offset, self._line_end(line))  # inside a '\r\n': the end of the line
        return T.Position(line, self._units(self.text[start:end]))


def to_range(source: SourceFile, text: ProtocolText, line: int, col: int, end_line: int,
             end_col: int) -> T.Range:
    """specc's 1-based grammar (line, col) pair -> the client's range."""
    return T.Range(text.position(source.offset(line, col)),
                   text.position(source.offset(end_line, end_col)))


def from_position(source: SourceFile, text: ProtocolText, pos: T.Position) -> tuple[int, int]:
    """The client's position -> specc's 1-based grammar (line, col)."""
    return source.position(text.offset(pos))
