"""Highlighting: the Pygments lexer, the TextMate grammar and VS Code folder, colour in `check`."""
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Operator, String

from conftest import ROOT, SPECS, run_cli
from specc.tools.highlight import SpeccLexer, builtin_names, keywords
from specc.core.dtypes import NAMES as DTYPES

VSCODE = ROOT / "editors" / "vscode"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.net")), ids=lambda p: p.name)
def test_lexer_reads_every_bundled_spec_without_error_tokens(path):
    text = path.read_text()
    tokens = list(SpeccLexer().get_tokens(text))
    assert not [v for t, v in tokens if t in Error]
    assert "".join(v for _, v in tokens) == text if text.endswith("\n") else text + "\n"
    words = set(keywords())
    spelled = [(t, v) for t, v in tokens if v in words]
    assert spelled and all(t in Keyword or t in Operator.Word for t, v in spelled)
    defines = re.search(r"^(network|block) \w+(\([^)]*\))? *\{", text, re.M | re.S)
    assert any(t in String.Doc for t, _ in tokens) or not defines  # presets only: no body


def test_lexer_token_kinds():
    tokens = [(t, v) for t, v in SpeccLexer().get_tokens(
        'block unit(x, w: int) {\n    y = x |> conv(w, 3, stride=2) # c\n    return relu(y)\n}\n')
        if v.strip()]
    assert (Keyword.Declaration, "block") in tokens and (Name.Class, "unit") in tokens
    assert (Keyword.Type, "int") in tokens and (Name.Builtin, "conv") in tokens
    assert (Name.Builtin, "relu") in tokens and (Keyword, "return") in tokens
    assert any(t in String or v == "# c" for t, v in tokens)


def test_the_lexer_is_registered_for_pygments_and_rich():
    """`rich.syntax.Syntax(code, "specc")` asks Pygments the same question."""
    assert isinstance(get_lexer_by_name("specc"), SpeccLexer)
    assert isinstance(get_lexer_for_filename("model.net"), SpeccLexer)
    exe = Path(sys.executable).parent / "pygmentize"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pygments"]
    r = subprocess.run(cmd + ["-l", "specc", "-f", "html", str(SPECS / "lenet5.net")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and '<span class="kd">network</span>' in r.stdout, r.stderr


def test_keywords_and_builtins_come_from_the_grammar_and_registry():
    words = keywords()
    assert {"block", "network", "for", "if", "else", "import", "train", "fixed", "as"} <= set(words)
    assert {"conv", "batchnorm", "range", "he_normal"} <= set(builtin_names())


def _tm_patterns(node):
    if isinstance(node, dict):
        for key in ("match", "begin", "end"):
            if key in node:
                yield node[key]
        for v in node.values():
            yield from _tm_patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _tm_patterns(v)


def test_textmate_grammar_compiles_and_knows_every_keyword():
    grammar = json.loads((VSCODE / "syntaxes" / "specc.tmLanguage.json").read_text())
    assert grammar["scopeName"] == "source.specc"
    patterns = list(_tm_patterns(grammar))
    for p in patterns:
        re.compile(p)  # the patterns use the part of Oniguruma that Python's re shares
    named = set()
    for p in patterns:
        for group in re.findall(r"\\b\(([a-z_|0-9]+)\)\\b", p):
            named |= set(group.split("|"))
    assert set(keywords()) <= named, set(keywords()) - named
    assert set(DTYPES) <= named


def test_vscode_folder_is_complete():
    pkg = json.loads((VSCODE / "package.json").read_text())
    contributes = pkg["contributes"]
    assert contributes["languages"][0]["extensions"] == [".net"]
    for entry in (contributes["grammars"][0]["path"], contributes["languages"][0]["configuration"],
                  pkg["main"]):
        assert (VSCODE / entry).is_file(), entry
    json.loads((VSCODE / "language-configuration.json").read_text())
    assert "vscode-languageclient" in pkg["dependencies"]
    assert '"specc", "lsp"' in json.dumps(contributes["configuration"]) or \
        contributes["configuration"]["properties"]["specc.command"]["default"] == ["specc", "lsp"]
    assert "LanguageClient" in (VSCODE / "extension.js").read_text()


BAD = "tests/errors/block_inner_error.net"


def test_check_colours_its_excerpts_on_request_and_not_otherwise():
    plain = run_cli("check", BAD, env={"NO_COLOR": "", "FORCE_COLOR": ""})
    assert plain.returncode == 1 and not ANSI.search(plain.stderr)
    coloured = run_cli("check", BAD, env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert ANSI.search(coloured.stderr) and "\x1b[1;31merror:" in coloured.stderr
    assert ANSI.sub("", coloured.stderr) == plain.stderr
    assert not ANSI.search(run_cli("check", BAD, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stderr)


def test_check_colours_on_a_terminal():
    main, other = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm"
    r = subprocess.run([sys.executable, "-m", "specc", "check", BAD], cwd=ROOT, stdout=other,
                       stderr=other, env=env, timeout=60)
    os.close(other)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert r.returncode == 1 and b"\x1b[1;31merror:" in out


def test_the_plain_error_path_does_not_import_pygments():
    code = ("import sys; from specc.cli.main import main; main(['check', %r]);"
            "print('pygments' in sys.modules)" % BAD)
    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=env)
    assert r.stdout.strip().splitlines()[-1] == "False"
