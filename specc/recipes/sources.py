"""What a data source (`data = "NAME:ARG"` in a recipe, `--data` on the command line) may
name, by where it comes from. Pure syntax: the elaborator checks a recipe's source at its
line with this, before torch is imported; the data registry checks it again before any
reader opens anything.

A source written in a file (a spec's recipe, a run folder's config.json, the spec inside an
ONNX model) may come from a stranger: its argument is a local path (or a plain word such as
`logic:xor`). Nothing in a file may start a process or open a connection. On the command
line, the user also may give an http(s) URL (specc fetches it itself: no process), and a
`pipe:` command (webdataset runs it with a shell) only together with `--allow-pipe`."""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SOURCE_CHARS = 4096  # a path longer than any file system takes is a mistake
WEB = ("http", "https")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# a scheme anywhere in an argument: webdataset joins patterns with `::` and expands braces,
# so `a.tar::pipe:cmd` and `{pipe:cmd,a}.tar` name commands too
_ANYWHERE = re.compile(r"(?<![A-Za-z0-9+.\-])(pipe):|([A-Za-z][A-Za-z0-9+.\-]*)://",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Trust:
    """Where a data source came from. The default, a file, is the strictest."""

    command_line: bool = False  # typed by the user (`--data`), not read from a file
    allow_pipe: bool = False  # `--allow-pipe`: the user lets a `pipe:` command run


FILE = Trust()


def scheme(arg: str) -> str | None:
    """'pipe' for `pipe:cmd`, 'https' for `https://...`, None for a path or a plain word."""
    m = _SCHEME.match(arg)
    if m is None:
        return None
    name = m.group(1).lower()
    return name if name == "pipe" or arg[m.end():].startswith("//") else None


def source_problem(text: str, trust: Trust = FILE) -> str | None:
    """Why the data source `text` is refused from where it came from, or None."""
    if len(text) > MAX_SOURCE_CHARS:
        return f"a data source is at most {MAX_SOURCE_CHARS:,} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "a data source may not hold control characters (a NUL, a newline, ...)"
    _, _, arg = text.partition(":")
    if arg == "-":
        return "'-' (standard input) is not a data source; name a file or folder"
    for m in _ANYWHERE.finditer(arg):
        problem = _scheme_problem((m.group(1) or m.group(2)).lower(), trust)
        if problem:
            return problem
    return None


def _scheme_problem(kind: str, trust: Trust) -> str | None:
    if kind == "pipe":
        if not trust.command_line:
            return ("`pipe:` runs a shell command, and a data source read from a file may "
                    "name local paths only; to run it, pass it on the command line: "
                    "--data ... --allow-pipe")
        if not trust.allow_pipe:
            return "`pipe:` runs a shell command; add --allow-pipe to let it run"
        return None
    if kind in WEB:
        if not trust.command_line:
            return ("a data source read from a file may name local paths only, not an "
                    "http(s) URL (specc opens no connection a file asks for); pass the URL "
                    "on the command line with --data")
        return None
    return (f"'{kind}://' is not a source specc opens (local paths; http(s) URLs and, with "
            "--allow-pipe, `pipe:` commands from the command line); for other stores, "
            "pass a `pipe:` command on the command line")
