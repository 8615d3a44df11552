"""`specc fmt` on the inputs that used to end in an internal error (exit 3): a form feed, a CRLF
file with a triple-quoted string, a deep sum, an unwritable folder, bytes that are not UTF-8.
Each ends in 0, or 1 with a clear, located message; nothing is ever half-written."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_main
from specc.cli.main import main
from specc.core.diagnostics import SpeccError
from specc.lang.parse import MAX_SPEC_BYTES
from specc.tools.fmt import format_text

NET = "network n {\n    input x: f32[N, 4]\n    output y = relu(x)\n}\n"


def test_a_form_feed_is_whitespace(tmp_path):
    path = tmp_path / "f.net"
    path.write_bytes(b"specc 1\n\x0c\n" + NET.replace("    output", "    \x0coutput").encode())
    r = run_main("fmt", "--check", path)
    assert r.returncode == 1 and "would reformat" in r.stderr, r.stderr
    assert run_main("fmt", path).returncode == 0
    assert path.read_text() == "specc 1\n\n" + NET
    assert run_main("fmt", "--check", path).returncode == 0


def test_crlf_files_keep_their_line_ends_and_their_strings(tmp_path):
    text = ('specc 1\r\nnetwork n {\r\n    """The doc,\r\n      on two lines."""\r\n'
            '    input x: f32[N, 4]\r\n    output y = relu(x)\r\n    reference {\r\n'
            '        source = """a\r\nb"""\r\n    }\r\n}\r\n')
    path = tmp_path / "c.net"
    path.write_bytes(text.encode())
    r = run_main("fmt", path)
    assert r.returncode == 0, r.stderr
    once = path.read_bytes().decode()
    assert once.count("\r\n") == once.count("\n") and format_text(once) == once
    from specc import load
    assert load(path).graph.reference["source"] == "a\nb"  # a line end in a string is \n
    assert run_main("fmt", "--check", path).returncode == 0


def test_a_carriage_return_that_an_lf_file_cannot_keep_is_refused_at_its_place(tmp_path):
    path = tmp_path / "r.net"
    path.write_bytes(b'specc 1\nc = """a\r\r\nb"""\n')
    before = path.read_bytes()
    r = run_main("fmt", path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "r.net:2:5: error: cannot format this string: it holds a carriage return" in r.stderr
    assert path.read_bytes() == before


def test_a_sum_that_check_accepts_formats(tmp_path):
    path = tmp_path / "s.net"
    path.write_text("specc 1\n" + NET.replace("relu(x)", "linear(x, " + " + ".join(["1"] * 300)
                                              + ")"))
    assert run_main("check", path).returncode == 0
    r = run_main("fmt", path)
    assert r.returncode == 0, r.stderr
    assert run_main("fmt", "--check", path).returncode == 0


def test_a_folder_it_cannot_write_leaves_the_file_and_says_so(tmp_path, monkeypatch, capsys):
    """Root may write anywhere, so the refusal is made real by the file system calls failing
    as they do for another user (PermissionError from mkdir, and from the rename)."""
    path = tmp_path / "m.net"
    path.write_text("specc 1\nnetwork n{input x:f32[N,4]\noutput y=relu(x)}\n")
    before = path.read_bytes()
    real_mkdir = os.mkdir

    def refuse(p, *args, **kw):
        if ".specc-tmp" in str(p):
            raise PermissionError(13, "Permission denied")
        return real_mkdir(p, *args, **kw)

    monkeypatch.setattr(os, "mkdir", refuse)
    assert main(["fmt", str(path)]) == 1
    err = capsys.readouterr().err
    assert "cannot write to" in err and "Traceback" not in err and "internal error" not in err
    assert "1 file not formatted" in err
    monkeypatch.setattr(os, "mkdir", real_mkdir)
    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(PermissionError(
        13, "Permission denied")))
    assert main(["fmt", str(path)]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.net"]  # no staging left


def test_a_read_only_file_is_not_replaced(tmp_path, monkeypatch, capsys):
    path = tmp_path / "m.net"
    path.write_text("specc 1\nK=1\n")
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != str(path))
    assert main(["fmt", str(path)]) == 1
    assert "is not writable (nothing was changed)" in capsys.readouterr().err
    assert path.read_text() == "specc 1\nK=1\n"


def test_a_link_stays_a_link(tmp_path):
    target = tmp_path / "t.net"
    target.write_text("specc 1\nK=1\n")
    link = tmp_path / "l.net"
    link.symlink_to(target)
    assert run_main("fmt", link).returncode == 0
    assert link.is_symlink() and target.read_text() == "specc 1\nK = 1\n"


@pytest.mark.parametrize("data, message", [
    (b"specc 1\nK = \xff\n", "<stdin>:2:5: error: the file is not UTF-8 text (byte 0xff)"),
    (b"#" * (MAX_SPEC_BYTES + 1), "standard input holds more bytes than a spec may"),
])
def test_standard_input_that_is_not_a_spec(data, message):
    r = subprocess.run([sys.executable, "-m", "specc", "fmt", "-"], input=data, cwd=ROOT,
                       capture_output=True)
    assert r.returncode == 1 and message in r.stderr.decode(), r.stderr
    assert b"Traceback" not in r.stderr


def test_output_larger_than_a_spec_is_refused_at_the_deepest_body():
    depth = 300
    text = ("specc 1\nnetwork n {\n    input x: f32[N, 4]\n" + "if true {\n" * depth +
            "k = " + " + ".join(["1"] * 200) + "\n" + "}\n" * depth + "output y = x\n}\n")
    with pytest.raises(SpeccError) as info:
        format_text(text)
    assert "cannot format: the formatted spec would hold" in info.value.message
    assert info.value.span.line == 4 + depth
