"""The one depth rule (specc.core.nesting): every shape of nesting, at the deepest the parser
accepts, goes through every surface that reads a spec (check, fmt, the language server,
`--set`), and one level deeper is refused at the expression, never at 1:1, never with a
RecursionError. Compile-time lists and block calls obey the same limit."""
import sys

import pytest

import specc
from conftest import run_cli
from specc.compile.pipeline import load_graph
from specc.core.diagnostics import SpeccError
from specc.core.nesting import FRAMES_PER_LEVEL, MAX_NESTING, room
from specc.core.source import SourceFile
from specc.lang.parse import MAX_SPEC_BYTES, parse_expr, parse_module
from specc.tools.fmt import format_text, strip_spans
from specc.tools.lsp.analysis import analyse

HEAD = "specc 1\nnetwork n {\n    input x: f32[N, 4]\n"
TAIL = "    output y = x\n}\n"
SHAPES = {  # name -> the spec with n levels of that shape
    "sum": lambda n: HEAD + "    k = " + " + ".join(["1"] * n) + "\n" + TAIL,
    "list": lambda n: HEAD + "    k = " + "[" * n + "1" + "]" * n + "\n" + TAIL,
    "call": lambda n: HEAD + "    k = " + "abs(" * n + "1" + ")" * n + "\n" + TAIL,
    "keyword": lambda n: HEAD + "    k = " + "max(1, b=" * n + "1" + ")" * n + "\n" + TAIL,
    "minus": lambda n: HEAD + "    k = " + "-" * n + "1\n" + TAIL,
    "not": lambda n: HEAD + "    k = " + "not " * n + "true\n" + TAIL,
    "ternary": lambda n: HEAD + "    k = " + "true ? 1 : " * n + "1\n" + TAIL,
    "power": lambda n: HEAD + "    k = " + "1 ** " * n + "1\n" + TAIL,
    "index": lambda n: HEAD + "    k = [1]" + "[0]" * n + "\n" + TAIL,
    "pipe": lambda n: HEAD + "    output y = x" + " |> relu" * n + "\n}\n",
    "if": lambda n: HEAD + "    if true {\n" * n + "    k = 1\n" + "    }\n" * n + TAIL,
    "for": lambda n: HEAD + "    for i in [1] {\n" * n + "    k = 1\n" + "    }\n" * n + TAIL,
}


def _parses(text: str) -> bool:
    try:
        parse_module(SourceFile("t.net", text))
        return True
    except SpeccError as e:
        assert "nests too deeply" in e.message, e.render()
        return False


TWO_LEVELS = {"keyword", "if", "for"}  # a keyword argument, a statement and its body


def _deepest(shape: str) -> int:
    """The largest n whose spec the parser accepts, searched up from a little below the
    limit (one level a step, two for TWO_LEVELS)."""
    n = (MAX_NESTING // 2 if shape in TWO_LEVELS else MAX_NESTING) - 12
    assert _parses(SHAPES[shape](n))
    while _parses(SHAPES[shape](n + 1)):
        n += 1
    return n


@pytest.mark.parametrize("shape", SHAPES)
def test_every_surface_takes_the_deepest_accepted_spec(shape, tmp_path):
    make = SHAPES[shape]
    n = _deepest(shape)
    assert n <= (MAX_NESTING // 2 if shape in TWO_LEVELS else MAX_NESTING) - 2  # + statements
    text = make(n)
    path = tmp_path / "t.net"
    path.write_text(text)
    old = sys.getrecursionlimit()
    try:
        specc.load(path)
    except SpeccError:
        pass  # a type error is fine (`abs` of a list, `relu` of ...): no RecursionError
    try:
        formatted = format_text(text)
    except SpeccError as e:  # bodies 500 deep would be indented past a spec's size
        assert shape in ("if", "for") and "cannot format" in e.message and e.span.line > 500
    else:
        assert format_text(formatted) == formatted
        with room():  # comparing two deep tuples recurses in C
            assert strip_spans(parse_module(SourceFile("f.net", formatted))) == \
                strip_spans(parse_module(SourceFile("t.net", text)))
    analyse(text, str(path))
    assert sys.getrecursionlimit() == old  # room() gives back what it took

    deeper = make(n + 1)
    with pytest.raises(SpeccError) as info:
        parse_module(SourceFile("t.net", deeper))
    err = info.value
    assert "nests too deeply" in err.message and err.span is not None and err.span.line >= 4
    assert any("nests too deeply" in e.message and e.span.line >= 4
               for e in analyse(deeper, str(path)).errors)


def test_the_command_line_reports_the_place_with_exit_1(tmp_path):
    path = tmp_path / "t.net"
    path.write_text(SHAPES["sum"](20_000))
    for command in ("check", "fmt", "graph"):
        r = run_cli(command, path, cwd=tmp_path)
        assert r.returncode == 1, (command, r.stderr)
        assert r.stderr.startswith("t.net:4:9: error: this expression nests too deeply")
        assert "Traceback" not in r.stderr


def test_set_values_obey_the_rule_at_their_place(tmp_path):
    path = tmp_path / "t.net"
    path.write_text("specc 1\nnetwork n(k: int) {\n    input x: f32[N, 4]\n"
                    "    output y = linear(x, k)\n}\n")
    assert load_graph(path, overrides={"k": "+".join(["1"] * 900)}).outputs
    r = run_cli("check", path, "--set", "k=" + "[" * 500 + "1" + "]" * 500, cwd=tmp_path)
    assert r.returncode == 1 and "must be an int, got list [[[[...]]]]" in r.stderr, r.stderr
    for value in ("[" * 1500 + "1" + "]" * 1500, "+".join(["1"] * 20_000)):
        r = run_cli("check", path, "--set", f"k={value}", cwd=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith("--set k:1:") and "nests too deeply" in r.stderr


def test_block_calls_count_on_and_report_the_chain(tmp_path):
    path = tmp_path / "t.net"
    path.write_text("specc 1\nblock b(x, n: int) {\n"
                    "    return n == 0 ? x : b(x, n - 1)" + " * 1.0" * 40 + "\n}\n"
                    "network net {\n    input x: f32[N, 4]\n    output y = b(x, 60)\n}\n")
    with pytest.raises(SpeccError) as info:
        specc.load(path)
    text = info.value.render()
    assert "evaluation nests too deeply" in text and "t.net:3:25" in text
    assert "while expanding block 'b' at" in text


def test_lists_made_in_loops_obey_the_rule(tmp_path):
    path = tmp_path / "t.net"
    path.write_text("specc 1\nnetwork n {\n    input x: f32[N, 4]\n    k = 1\n"
                    f"    for i in range({MAX_NESTING + 5}) {{\n        k = [k]\n    }}\n"
                    "    output y = x\n}\n")
    with pytest.raises(SpeccError) as info:
        specc.load(path)
    assert f"nested more than {MAX_NESTING:,} lists deep" in info.value.message
    assert info.value.span.line == 6


def test_imports_count_too(tmp_path):
    for i in range(3):
        (tmp_path / f"m{i}.net").write_text(f'specc 1\nimport "m{i + 1}.net"\n')
    (tmp_path / "m3.net").write_text("specc 1\nc = 1\n")
    import specc.elab.modules as modules
    modules_max = modules.MAX_NESTING
    try:
        modules.MAX_NESTING = 2
        with pytest.raises(SpeccError) as info:
            specc.load_all(tmp_path / "m0.net")
        assert "imports nest more than 2 files deep" in info.value.render()
    finally:
        modules.MAX_NESTING = modules_max


def test_a_large_spec_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    import specc.lang.parse as parse
    big = "specc 1\n" + "c = 1\n" * (MAX_SPEC_BYTES // 6)
    path = tmp_path / "big.net"
    path.write_text(big)
    monkeypatch.setattr(parse, "_parser", lambda start: pytest.fail("parsed"))
    for read in (lambda: specc.load(path), lambda: parse.parse_module(SourceFile("b", big)),
                 lambda: format_text(big), lambda: parse_expr("1" * (MAX_SPEC_BYTES + 1))):
        with pytest.raises(SpeccError) as info:
            read()
        assert f"more than a spec" in str(info.value)
    assert "more than a spec" in analyse(big, str(path)).errors[0].message


def test_imports_share_the_size_limit(tmp_path):
    half = "specc 1\n" + ("# " + "x" * 61 + "\n") * (MAX_SPEC_BYTES // 64 // 2 + 10)
    (tmp_path / "a.net").write_text(half)
    (tmp_path / "b.net").write_text(half)
    (tmp_path / "m.net").write_text('specc 1\nimport "a.net"\nimport "b.net"\n')
    with pytest.raises(SpeccError) as info:
        specc.load_all(tmp_path / "m.net")
    assert "specs loaded before it" in str(info.value)


@pytest.mark.parametrize("shape", ["call", "keyword", "list", "sum"])
def test_the_interpreter_room_covers_the_rule(shape, tmp_path):
    """room() grants FRAMES_PER_LEVEL Python frames a level: the stages that recurse deepest
    (fmt laying out calls, the elaborator's lists and keyword arguments) take at most half."""
    n = 150
    text = SHAPES[shape](n)
    path = tmp_path / "t.net"
    path.write_text(text)
    depth = [0, 0]

    def count(frame, event, arg):
        if event == "call":
            depth[0] += 1
            depth[1] = max(depth[1], depth[0])
        elif event == "return":
            depth[0] -= 1
    for run in (lambda: format_text(text), lambda: specc.load(path),
                lambda: analyse(text, str(path))):
        depth[:] = [0, 0]
        sys.setprofile(count)
        try:
            run()
        except SpeccError:
            pass
        finally:
            sys.setprofile(None)
        assert depth[1] / n <= FRAMES_PER_LEVEL / 2, (shape, depth[1] / n)


def test_the_spec_inside_a_model_obeys_the_rule():
    from specc.compile.embed import sha256
    from specc.runtime.embedded import load_embedded

    def meta(text):
        return {"specc.spec_files": {"t.net": text}, "specc.spec": "t.net",
                "specc.network": "n", "specc.spec_sha256": sha256(text)}
    assert load_embedded(meta(SHAPES["sum"](990))).graph.outputs
    with pytest.raises(SpeccError) as info:
        load_embedded(meta(SHAPES["sum"](20_000)))
    cause = " ".join(info.value.notes)  # the carried spec's own error, located in it
    assert "does not check" in info.value.message
    assert "nests too deeply" in cause and "t.net:4:" in cause, cause
