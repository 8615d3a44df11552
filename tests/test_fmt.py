"""`specc fmt`: canonical layout, comments kept, idempotent, and the same graphs afterwards."""
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import specc
from conftest import SPECS, run_main
from specc.lang import ast as A
from specc.tools.fmt import format_text, strip_spans
from specc.tools.fmt.tokens import Tokens
from specc.lang.parse import parse_module
from specc.core.source import SourceFile

ERRORS = Path(__file__).parent / "errors"
BUNDLED = sorted(SPECS.glob("*.net"))


def _parses(path: Path) -> bool:
    try:
        parse_module(SourceFile(str(path), path.read_text(encoding="utf-8")))
        return True
    except (specc.SpeccError, UnicodeDecodeError):
        return False


PARSEABLE = BUNDLED + [p for p in sorted(ERRORS.glob("*.net")) if _parses(p)]


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.name)
def test_round_trip_and_idempotent(path):
    text = path.read_text(encoding="utf-8")
    once = format_text(text, str(path))
    assert format_text(once, str(path)) == once
    before = parse_module(SourceFile(str(path), text))
    after = parse_module(SourceFile(str(path), once))
    assert strip_spans(after) == strip_spans(before)
    assert [c.text for c in Tokens(SourceFile("a", once)).comments] == \
        [c.text for c in Tokens(SourceFile("b", text)).comments]
    assert all(len(line) <= 100 or "#" in line or '"' in line for line in once.splitlines())


def test_every_bundled_spec_gives_the_same_graphs_after_formatting(tmp_path):
    """Formatted copies sit together in one folder, so their imports find each other."""
    for path in BUNDLED:
        (tmp_path / path.name).write_text(format_text(path.read_text(), str(path)))
    compared = 0
    for path in BUNDLED:
        before = {n: net and net.dump() for n, net, _ in specc.load_all(path)}
        after = {n: net and net.dump() for n, net, _ in specc.load_all(tmp_path / path.name)}
        assert after == before, path.name
        compared += sum(1 for d in before.values() if d)
    assert compared >= 29  # every complete network of the zoo (29 when this test was written)


CASES = {
    "spacing and brackets": (
        "specc 1\nnetwork n{input x:f32[N,4]\noutput y=linear(x,3,init=he_normal)}\n",
        "specc 1\n\nnetwork n {\n    input x: f32[N, 4]\n    output y = linear(x, 3, "
        "init=he_normal)\n}\n"),
    "parentheses only where needed": (
        "K = (((1 + 2) * 3)) ** (2) - (-(4))\nB = not (1 < 2) and (true or false)\n",
        "K = ((1 + 2) * 3) ** 2 - -4\nB = not 1 < 2 and (true or false)\n"),
    "comments in every place": (
        "# top\nspecc 1  # header\n\n\n# about f\nblock f(x) {  # open\n    # first\n"
        "    y = relu(x)   # eol\n\n\n    # last\n}  # close\n# end\n",
        "# top\nspecc 1  # header\n\n# about f\nblock f(x) {  # open\n    # first\n"
        "    y = relu(x)  # eol\n\n    # last\n}  # close\n\n# end\n"),
    "a comment inside a bracket keeps the statement as written": (
        "block f(x) {\n  y = conv(x, 3,  # three\n         5)\n  return y\n}\n",
        "block f(x) {\n    y = conv(x, 3,  # three\n           5)\n    return y\n}\n"),
    "a trailing comma keeps the author's rows": (
        "T = [\n  [0, 1], [1, 2],\n  [2, 3],\n]\n",
        "T = [\n    [0, 1], [1, 2],\n    [2, 3],\n]\n"),
    "else if and an empty recipe": (
        "network n {\n input x: f32[N, 2]\n if 1 > 2 { y = x } else if 2 > 1 { y = relu(x) }"
        " else { y = x }\n output o = y\n train {\n }\n}\n",
        "network n {\n    input x: f32[N, 2]\n    if 1 > 2 {\n        y = x\n    } else if 2 > 1 {"
        "\n        y = relu(x)\n    } else {\n        y = x\n    }\n    output o = y\n"
        "    train {}\n}\n"),
}


@pytest.mark.parametrize("name", CASES)
def test_layout(name):
    source, expected = CASES[name]
    assert format_text(source) == expected
    assert format_text(expected) == expected


def test_long_lines_break_inside_brackets_and_before_pipes():
    args = ", ".join(f"a{i}" for i in range(30))
    text = format_text(f"network n {{\n    x = f({args}) |> g |> h(1)\n}}\n")
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[1].startswith("    x = f(a0, a1,") and lines[2].startswith(" " * 10 + "a16,")
    assert lines[2].endswith("a29) |> g |> h(1)")
    stages = ", ".join(f"s{i}" for i in range(3))
    chain = " |> ".join(f"conv{i}({stages}, kernel=3, padding=1)" for i in range(4))
    text = format_text(f"network n {{\n    x = y |> {chain}\n}}\n")
    assert text.splitlines()[1:4] == [
        "    x = y |> conv0(s0, s1, s2, kernel=3, padding=1) |> conv1(s0, s1, s2, kernel=3, padding=1)",
        "        |> conv2(s0, s1, s2, kernel=3, padding=1) |> conv3(s0, s1, s2, kernel=3, padding=1)",
        "}"]


def test_docstrings_move_with_their_block():
    text = 'block f(x) {\n  """One.\n  Two."""\n  return x\n}\n'
    assert format_text(text) == 'block f(x) {\n    """One.\n    Two."""\n    return x\n}\n'


def test_the_formatter_knows_every_statement_and_expression():
    """A new AST class must get a layout rule here, not fall back to verbatim silently."""
    from specc.tools.fmt import exprs, stmts
    source = Path(exprs.__file__).read_text() + Path(stmts.__file__).read_text()
    for name in dir(A):
        cls = getattr(A, name)
        if isinstance(cls, type) and issubclass(cls, A.Node) and cls not in (A.Node, A.Module):
            assert f"A.{name}" in source, name


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(BUNDLED), width=st.integers(min_value=12, max_value=140))
def test_any_width_keeps_meaning_and_is_stable(path, width):
    text = path.read_text()
    once = format_text(text, str(path), width=width)  # checks the AST and comments itself
    assert format_text(once, str(path), width=width) == once


def test_cli_check_diff_and_rewrite(tmp_path):
    messy = tmp_path / "m.net"
    messy.write_text("specc 1\nnetwork n{input x:f32[N,4]\noutput y=relu(x)}\n")
    clean = tmp_path / "c.net"
    clean.write_text(format_text(messy.read_text()))
    r = run_main("fmt", "--check", tmp_path)
    assert r.returncode == 1 and "would reformat" in r.stderr and "m.net" in r.stderr
    r = run_main("fmt", "--diff", messy)
    assert r.returncode == 0 and "+    input x: f32[N, 4]" in r.stdout
    assert messy.read_text().startswith("specc 1\nnetwork n{")  # --diff writes nothing
    r = run_main("fmt", tmp_path)
    assert r.returncode == 0 and "1 file reformatted, 1 file already formatted" in r.stderr
    assert messy.read_text() == clean.read_text()
    assert run_main("fmt", "--check", tmp_path).returncode == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_cli_refuses_files_that_do_not_parse(tmp_path):
    bad = tmp_path / "bad.net"
    shutil.copy(ERRORS / "syntax_missing_brace.net", bad)
    before = bad.read_bytes()
    r = run_main("fmt", bad)
    assert r.returncode == 1 and "error: expected '}'" in r.stderr
    assert bad.read_bytes() == before


def test_cli_stdin_to_stdout():
    import subprocess
    import sys
    from conftest import ROOT
    r = subprocess.run([sys.executable, "-m", "specc", "fmt", "-"], input="K=1\n", cwd=ROOT,
                       capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "K = 1\n")


INSERTS = ["  # c\n", "\n# own\n", "\n", "  ", "(", ")", ",", "\n\n", "# x", ",\n"]


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_specs_format_or_fail_cleanly(data):
    """Comments, newlines and commas dropped anywhere: fmt refuses (the text does not parse,
    or a comment cannot be placed) with a SpeccError, or it keeps the meaning and is stable."""
    text = data.draw(st.sampled_from(BUNDLED)).read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        text = text[:pos] + data.draw(st.sampled_from(INSERTS)) + text[pos:]
    try:
        once = format_text(text)
    except specc.SpeccError:
        return
    assert format_text(once) == once


def test_the_bundled_specs_are_formatted():
    """`specc fmt specs/` leaves them as they are (run it after editing a bundled spec)."""
    unformatted = [p.name for p in BUNDLED if format_text(p.read_text(), str(p)) != p.read_text()]
    assert unformatted == []
