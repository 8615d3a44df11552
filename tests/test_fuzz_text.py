"""The text surfaces, fuzzed: the graph page over generated hostile text (in a real headless
Chromium), `fmt` round trips over specs with unusual whitespace and line ends, and the
language server over malformed frames and requests.

Promised: the page renders, once, without an error, and shows each string as the spec has
it; fmt gives text that formats to itself and means the same (the same AST, comments, graph)
or refuses with a SpeccError; the server answers every request (an error response for a bad
one), stays alive and writes no traceback. CI runs SPECC_FUZZ_EXAMPLES (150) cases each;
`pytest --fuzz-long -m fuzz_long` 10,000."""
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from browser import Browser, find_chromium
from conftest import SPECS
from hostile_text import hostile_text, write_hostile
from lsp_wire import Wire, frame
from specc.core.diagnostics import SpeccError
from specc.core.source import SourceFile
from specc.lang.parse import _parser, parse_module
from specc.tools.fmt import FormatterBug, format_text, strip_spans
from specc.tools.fmt.tokens import Tokens
from specc.tools.viewer import html, model
from test_graph import render_in

EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "150"))
CHROMIUM = find_chromium()


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------------ the graph page
@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("needs Chromium (apt-get install -y chromium; .ci/run installs it)")
    b = Browser(CHROMIUM)
    yield b
    b.close()


def _fuzz_page(n):
    @_settings(n)
    @given(texts=st.lists(hostile_text(), min_size=7, max_size=7))
    def run(browser, texts):
        comment, doc, source, reproduced, folder, name, label = texts
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            path = write_hostile(root, comment, doc, source, reproduced, folder, name, label)
            old = os.getcwd()
            os.chdir(root)
            try:
                m = model.build(specc.load(path.relative_to(root)).graph)
            finally:
                os.chdir(old)
            page = html.render(m)
            data = re.search(r'id="graph-data" type="application/json">(.*?)</script>', page,
                             re.S).group(1)
            assert not set(data) & set("<>&\u2028\u2029") and json.loads(data)["doc"] == m.doc
            out = root / "page.html"
            out.write_text(page, encoding="utf-8")
            shown = render_in(browser, out)
            assert (shown.get("doc") or "") == m.doc and shown["totals"].endswith(m.spec)
            assert shown["reference"] == [v for _, v in m.reference]
            shown = browser.eval("[JSON.parse(document.getElementById('graph-data')"
                                 ".textContent).boxes.map(b => [b.id, b.label, b.code]), "
                                 "[...document.querySelectorAll('#scene .node')]"
                                 ".map(e => e.dataset.id)]")
            assert shown[0] == [[b.id, b.label, b.code] for b in m.boxes]
            assert sorted(shown[1]) == sorted(b.id for b in m.boxes if b.kind != "group")
    return run


test_graph_page_fuzz = _fuzz_page(EXAMPLES)
test_graph_page_fuzz_long = pytest.mark.fuzz_long(_fuzz_page(10_000))


# ------------------------------------------------------------------------------ fmt
BASES = [
    'specc 1\nblock unit(x, w: int = 4) {\n    """A unit.\n\n    Two paragraphs."""\n'
    "    y = x |> linear(w) |> relu  # a chain\n    return y + x\n}\n\n"
    "network n(depth: int = 2) {\n    input x: f32[N, 4]\n    for i in range(depth) {\n"
    "        x = unit(x) as \"u\" + str(i)\n    }\n    if depth > 1 {\n        z = x\n"
    "    } else {\n        z = relu(x)\n    }\n    table = [\n        1, 2,\n        3, 4,\n"
    "    ]\n    output y = linear(z, len(table))\n    train {\n        epochs = 1\n    }\n}\n",
    'specc 1\n# top\nK = [1, 2, 3]\nS = """a\nb"""\nnetwork m {\n    input x: f32[N, 3]\n'
    "    h = x * 0.5 + x ** 2\n    assert K[0] == 1, \"k\"\n    output y = h + h\n}\n",
] + [(SPECS / name).read_text() for name in ("lenet5.net",)
     if (SPECS / name).exists()]
SPACE = [" ", "\t", "\x0c", "\r", " \x0c ", "\t \r"]
LINE_ENDS = ["\n", "\r\n", "\n\n", "\r\n\r\n", "\n \x0c\t\n", "\n\r\n"]
COMMENT = hostile_text(0, 6)


@st.composite
def respaced(draw):
    """A base spec with its whitespace, line ends and comments changed, token by token; the
    tokens themselves (and so the meaning) stay, but a triple-quoted string may take CRLF."""
    text = draw(st.sampled_from(BASES))
    out, changes = [], draw(st.integers(1, 12))
    toks = list(_parser("start").lex(text, dont_ignore=True))
    picks = set(draw(st.lists(st.integers(0, len(toks)), max_size=changes)))
    end = 0
    for i, tok in enumerate(toks):
        out.append(text[end:tok.start_pos])  # what the post-lexer dropped (a line end after '{')
        end = tok.end_pos
        t = str(tok)
        if i in picks:
            if tok.type == "WS":
                t = draw(st.sampled_from(SPACE))
            elif tok.type == "_NL":
                if draw(st.booleans()):
                    out.append("  # " + draw(COMMENT).replace("\r", ""))
                t = draw(st.sampled_from(LINE_ENDS))
            elif tok.type == "COMMENT":
                t = t + draw(COMMENT).replace("\r", "")
            elif tok.type == "STRING" and t.startswith('"""'):
                t = t.replace("\n", "\r\n")
            else:
                out.append(draw(st.sampled_from(SPACE)))
        out.append(t)
    return "".join(out) + text[end:]


def _fuzz_fmt(n):
    @_settings(n)
    @given(text=respaced())
    def run(text):
        try:
            once = format_text(text, "t.net")
        except FormatterBug:
            raise
        except SpeccError:
            return  # e.g. a comment inside a bracket that cannot move
        assert format_text(once, "t.net") == once
        before, after = parse_module(SourceFile("a", text)), parse_module(SourceFile("b", once))
        assert strip_spans(after) == strip_spans(before)
        assert [c.text for c in Tokens(SourceFile("b", once)).comments] == \
            [c.text for c in Tokens(SourceFile("a", text)).comments]
        if "network n(" in text or "network m {" in text:
            with tempfile.TemporaryDirectory() as tmp:
                a, b = Path(tmp, "a.net"), Path(tmp, "b.net")
                a.write_bytes(text.encode())
                b.write_bytes(once.encode())
                assert [(x, g and g.dump()) for x, g, _ in specc.load_all(a)] == \
                    [(x, g and g.dump()) for x, g, _ in specc.load_all(b)]
    return run


test_fmt_fuzz = _fuzz_fmt(EXAMPLES)
test_fmt_fuzz_long = pytest.mark.fuzz_long(_fuzz_fmt(10_000))


# ---------------------------------------------------------------- the language server
@pytest.fixture(scope="module")
def wire():
    w = Wire()
    yield w
    stderr = w.close()
    assert "Traceback" not in stderr and w.proc.returncode == 0, stderr[-2000:]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) |
                           st.floats(allow_nan=False) | hostile_text(0, 4),
                           lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.sampled_from(["line", "character", "uri", "text",
                                                            "x"]), inner, max_size=3),
                           max_leaves=8)
METHODS = ["textDocument/hover", "textDocument/definition", "textDocument/completion",
           "textDocument/formatting", "textDocument/didOpen", "textDocument/didChange",
           "textDocument/didClose", "$/cancelRequest", "specc/nothing", "workspace/symbol"]


@st.composite
def requests(draw, uri):
    """A JSON-RPC message near a real one: fields replaced by any JSON value."""
    position = {"line": draw(st.integers(-3, 12)), "character": draw(st.integers(-3, 200))}
    params = {"textDocument": {"uri": draw(st.sampled_from([uri, "file:///x.net", "nope"])),
                               "version": 2, "languageId": "specc",
                               "text": draw(hostile_text(0, 30))},
              "position": position, "contentChanges": [{"text": draw(hostile_text(0, 30))}],
              "options": {"tabSize": 4, "insertSpaces": True}}
    message = {"jsonrpc": "2.0", "id": draw(st.integers(10 ** 7, 10 ** 8)),  # not the wire's
               "method": draw(st.sampled_from(METHODS)), "params": params}
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from([("jsonrpc",), ("id",), ("method",), ("params",),
                                     ("params", "position"), ("params", "position", "line"),
                                     ("params", "textDocument"), ("params", "textDocument",
                                                                  "uri")]))
        target = message
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            if draw(st.booleans()):
                target[path[-1]] = draw(JSON_VALUES)
            else:
                target.pop(path[-1], None)
    if draw(st.booleans()):
        message.pop("id", None)  # a notification
    return message


@st.composite
def frames(draw, uri):
    """Bytes on the wire: a message, maybe with junk headers, a wrong or missing length (always
    followed by bytes that let the next frame be found), or a cut, flipped or junk body."""
    body = json.dumps(draw(requests(uri))).encode()
    kind = draw(st.sampled_from(["plain", "junk header", "no length", "bad length", "body"]))
    if kind == "body":
        data = bytearray(body)
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, max(0, len(data) - 1)))
            data[pos:pos + 1] = draw(st.binary(max_size=3))
        body = bytes(data)
    junk = b""
    if kind == "junk header":
        junk = draw(st.binary(max_size=40)).replace(b"\n", b"").replace(b"\r", b"")
        junk = re.sub(rb"(?i)content-length", b"", junk) + b"\r\n"
    if kind == "no length":
        return junk + b"Content-Type: x\r\n\r\n" + body
    length = len(body) if kind != "bad length" else draw(st.sampled_from(
        [b"-1", b"x", b"99999999999999999999", b"", b"1.5"]))
    length = length if isinstance(length, bytes) else b"%d" % length
    return junk + b"Content-Length: " + length + b"\r\n\r\n" + body


def _fuzz_lsp(n):
    @_settings(n)
    @given(data=st.data())
    def run(wire, data):
        sent = data.draw(frames(wire.uri))
        wire.send(sent)
        answer, got = wire.hover()
        assert answer is not None, got  # alive and answering (the document may be closed)
        head, _, body = sent.partition(b"\r\n\r\n")
        try:
            message = json.loads(body)
        except ValueError:
            return
        request = isinstance(message, dict) and message.get("jsonrpc") == "2.0" and \
            isinstance(message.get("method"), str) and type(message.get("id")) in (int, str)
        if head == b"Content-Length: %d" % len(body) and request:
            # an intact frame carrying a request: it got its own answer, a result or an error
            assert any(m.get("id") == message["id"] and "method" not in m for m in got), got
    return run


test_lsp_fuzz = _fuzz_lsp(EXAMPLES)
test_lsp_fuzz_long = pytest.mark.fuzz_long(_fuzz_lsp(10_000))
