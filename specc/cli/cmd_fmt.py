"""`specc fmt [FILES...] [--check] [--diff]`: rewrite specs in the one canonical layout."""
from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.files import staging
from ..core.source import SourceFile, printable, split_lines
from ..lang.parse import MAX_SPEC_BYTES, decode_source, read_source

EXAMPLES = """\
examples:
  specc fmt specs/                      reformat every .net file below specs/ in place
  specc fmt --check specs/lenet5.net    exit 1 if the file is not formatted (for CI)
  specc fmt --diff my.net               show what would change, write nothing
  cat my.net | specc fmt -              format standard input to standard output
"""


def add_arguments(p) -> None:
    p.add_argument("files", nargs="*", metavar="FILE", help="a .net file, a folder (its .net "
                   "files, recursively) or - for standard input; default: standard input")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when some file would change")
    p.add_argument("--diff", action="store_true",
                   help="print a unified diff of the changes instead of writing them")


def run(args) -> int:
    from ..tools.fmt import format_source
    if not args.files or args.files == ["-"]:
        return _stdin(args, format_source)
    changed = failed = same = 0
    for path in _expand(args.files):
        try:
            source = read_source(path)
            text = format_source(source)
        except SpeccError as e:
            print(e.render(), file=sys.stderr)
            failed += 1
            continue
        if text == source.text:
            same += 1
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(_diff(source, text, path))
        if args.check or args.diff:
            print(f"would reformat {printable(path)}", file=sys.stderr)
            continue
        try:
            _write_atomically(Path(path), text)
        except SpeccError as e:
            print(e.render(), file=sys.stderr)
            changed, failed = changed - 1, failed + 1
            continue
        print(f"reformatted {printable(path)}", file=sys.stderr)
    print(_summary(changed, same, failed, args.check or args.diff), file=sys.stderr)
    return 1 if failed or (args.check and changed) else 0


def _stdin(args, format_source) -> int:
    from .main import UserError
    if sys.stdin.isatty():
        raise UserError("specc fmt reads standard input when given no files; "
                        "give FILES or pipe a spec in (specc fmt --help)")
    data = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        raise UserError(f"standard input holds more bytes than a spec may ({MAX_SPEC_BYTES:,})")
    source = decode_source(data, "<stdin>")
    text = format_source(source)
    if args.diff:
        sys.stdout.writelines(_diff(source, text, "<stdin>"))
    elif not args.check:
        sys.stdout.buffer.write(text.encode("utf-8"))
    return 1 if args.check and text != source.text else 0


def _expand(paths: list[str]) -> list[str]:
    """Files as given; folders replaced by the .net files below them, sorted."""
    out = []
    for p in paths:
        if Path(p).is_dir():
            out += sorted(str(f) for f in Path(p).rglob("*.net") if f.is_file())
        else:
            out.append(p)
    return out


def _diff(source: SourceFile, text: str, name: str):
    """A unified diff over the grammar's lines (a form feed or U+2028 inside a line does not
    split it)."""
    return difflib.unified_diff(split_lines(source.text, True), split_lines(text, True),
                                f"{name} (original)", f"{name} (formatted)")


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, keeping its mode: the new text is written in a staging
    folder beside it and renamed over it, so a failure or a kill leaves the old file (a
    link is followed: the file it names is replaced, the link stays)."""
    target = Path(os.path.realpath(path))
    if not os.access(target, os.W_OK) or not os.access(target.parent, os.W_OK | os.X_OK):
        where = target if not os.access(target, os.W_OK) else target.parent
        raise SpeccError(f"cannot write {printable(str(path))}: {printable(str(where))} is not "
                         "writable (nothing was changed)")
    mode = target.stat().st_mode & 0o7777
    try:
        with staging(target) as folder:
            tmp = folder / target.name
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
    except OSError as e:
        raise SpeccError(f"cannot write {printable(str(path))}: {e.strerror or e} (nothing was "
                         "changed)") from None


def _summary(changed: int, same: int, failed: int, dry: bool) -> str:
    def files(n):
        return f"{n} file{'s' if n != 1 else ''}"
    verb = "would be reformatted" if dry else "reformatted"
    parts = [f"{files(changed)} {verb}", f"{files(same)} already formatted"]
    if failed:
        parts.append(f"{files(failed)} not formatted (errors above)")
    return ", ".join(parts)
