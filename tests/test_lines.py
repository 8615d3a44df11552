"""One definition of a line, the grammar's (a line ends at '\\n'; '\\r' before it belongs to
the line end), in every surface: excerpts, fmt, the graph page and the language server. Each
character `str.splitlines` also breaks at (form feed, U+2028, a lone CR, ...) is put where
the language allows it, and CRLF files are read, before a place each surface reports."""
import re

import pytest

import specc
from conftest import run_cli
from hostile_text import LINE_BREAKS
from specc.core.diagnostics import SpeccError
from specc.core.source import SourceFile, split_lines
from specc.lang.parse import parse_module
from specc.tools.fmt import format_text
from specc.tools.lsp.analysis import analyse
from specc.tools.lsp.positions import ProtocolText, from_position, to_range
from specc.tools.viewer import model

WHITESPACE = {"\x0c", "\r"}  # also legal between tokens (the grammar's WS)
CASES = [c for c in LINE_BREAKS if c != "\n"]


def _spec(brk: str, last: str) -> str:
    """Line 6 holds `last`; every line before it carries `brk` in a comment, and where the
    grammar allows it, between tokens too. CRLF makes every line end CRLF."""
    gap = brk if brk in WHITESPACE else " "
    end = "\r\n" if brk == "\r\n" else "\n"
    lines = [f"specc 1  # a{brk}b", f"# {brk}{brk} c", "network n {", f"    input{gap} x: f32[N, 4]",
             f"    h = linear(x, 3)  # {brk}", last, "}", ""]
    if brk == "\r\n":
        lines = [line.replace("\r\n", " ") for line in lines]
    return end.join(lines)


def _protocol_position(text: str, offset: int) -> tuple[int, int]:
    """LSP's position of `offset`, counted independently: lines end at \\n, \\r\\n or \\r;
    characters are UTF-16 code units."""
    before = text[:offset]
    ends = list(re.finditer(r"\r\n|\r|\n", before))
    start = ends[-1].end() if ends else 0
    return len(ends), len(before[start:].encode("utf-16-le")) // 2


@pytest.mark.parametrize("brk", CASES, ids=lambda c: f"U+{ord(c[-1]):04X}" if len(c) == 1 else
                         "CRLF")
def test_every_surface_counts_the_grammars_lines(brk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    last = '    output y = ["\U0001d11e", relu(zz)][1]'  # a character of two UTF-16 units
    col = last.index("zz") + 1
    text = _spec(brk, last)
    assert len(split_lines(text)) == 7
    # excerpts: the error's line number and its text
    (tmp_path / "t.net").write_bytes(text.encode())
    with pytest.raises(SpeccError) as info:
        specc.load("t.net")
    rendered = info.value.render()
    assert rendered.split("\n")[:3] == [f"t.net:6:{col}: error: unknown name 'zz'",
                                        f" 6 | {last}", f"   | {' ' * (col - 1)}^^"], rendered
    # the language server: the same error at LSP's own line and UTF-16 column
    an = analyse(text, str(tmp_path / "t.net"))
    span = an.errors[0].span
    wire = ProtocolText(text)
    rng = to_range(span.source, wire, span.line, span.col, span.end_line, span.end_col)
    zz = text.index("zz")
    assert (rng.start.line, rng.start.character) == _protocol_position(text, zz)
    assert (rng.end.line, rng.end.character) == _protocol_position(text, zz + 2)
    assert from_position(span.source, wire, rng.start) == (6, col)
    # fmt: formats, keeps the comments and the file's line ends, and is stable
    valid = _spec(brk, "    output y = relu(h)")
    once = format_text(valid)
    assert format_text(once) == once
    assert ("\r\n" in once) == (brk == "\r\n") and once.count("\n") == 8  # + a blank line
    assert f"# {brk}{brk} c" in once or brk == "\r\n"
    assert run_cli("fmt", "--check", "t.net", cwd=tmp_path).returncode in (0, 1)
    # the graph page: each box's line and the text shown for it
    (tmp_path / "t.net").write_bytes(valid.encode())
    boxes = {b.id: b for b in model.build(specc.load("t.net").graph).boxes}
    assert (boxes["h"].line, boxes["h"].code) == (5, f"h = linear(x, 3)  # {brk}".strip()
                                                  if brk != "\r\n" else "h = linear(x, 3)  #")
    assert (boxes["y"].line, boxes["y"].code) == (6, "output y = relu(h)")


@pytest.mark.parametrize("brk", CASES, ids=lambda c: f"U+{ord(c[-1]):04X}" if len(c) == 1 else
                         "CRLF")
def test_syntax_errors_count_the_grammars_lines(brk):
    text = _spec(brk, "    output y = )")
    with pytest.raises(SpeccError) as info:
        parse_module(SourceFile("t.net", text))
    assert (info.value.span.line, info.value.span.col) == (6, 16)
    assert " 6 |     output y = )\n" in info.value.render()


def test_split_lines_is_the_grammars():
    text = "a\x0cb\u2028c\rd\r\ne\x85f\n\ng"
    assert split_lines(text) == ["a\x0cb\u2028c\rd", "e\x85f", "", "g"]
    assert "".join(split_lines(text, keepends=True)) == text
    assert split_lines("a\n") == ["a"] and split_lines("a\n", True) == ["a\n"]
    source = SourceFile("t", text)
    for offset in range(len(text) + 1):
        line, col = source.position(offset)
        assert source.offset(line, col) == offset


def test_tabs_and_escapes_keep_the_caret_under_the_mark(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.net").write_text("specc 1\nnetwork n {\n\tinput x: f32[N, 4]\n"
                                    "\toutput y = relu(x) + \x1b[31m + zz\n}\n")
    with pytest.raises(SpeccError) as info:
        specc.load("t.net")
    lines = info.value.render().split("\n")
    assert lines[1] == " 4 |     output y = relu(x) + \\x1b[31m + zz"
    assert lines[2].index("^") == lines[1].index("\\x1b")


def test_the_language_server_counts_code_units_of_the_agreed_encoding():
    text = "specc 1\n# \U0001d11e\r x\u2028y\nz = 1"
    x, y = text.index(" x"), text.index("y")
    for encoding, units in (("utf-16", 3), ("utf-8", 5), ("utf-32", 3)):
        wire = ProtocolText(text, encoding)
        assert (wire.position(x).line, wire.position(x).character) == (2, 0)  # after the CR
        assert (wire.position(y).line, wire.position(y).character) == (2, units)
        assert wire.offset(wire.position(y)) == y
    source = SourceFile("t", text)
    assert from_position(source, ProtocolText(text), ProtocolText(text).position(y)) == (2, 8)


def test_a_run_folder_names_the_changed_line_as_the_grammar_counts():
    from specc.train.runs import spec_difference
    stored = {"m.net": "specc 1\n# a\u2028b\x0cc\rd\nK = 1\n"}
    given = {"m.net": "specc 1\n# a\u2028b\x0cc\rd\nK = 2\n"}
    assert spec_difference(stored, given).startswith("line 3: the run has `K = 1`")
