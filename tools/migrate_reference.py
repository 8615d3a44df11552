"""Move rows of the old `REFERENCE` table (specc/zoo.py before the `reference` sections) into
the specs, where the figures now live:

    "name": (params, macs, "source")   ->   reference { source = "..." params = ... macs = ... }

inside the network's body, or after its preset (`network name = base(...) reference {...}`).
Networks that already have a section are left alone; the changed files are then put in the
canonical layout (specc fmt). Usage:

    .venv/bin/python tools/migrate_reference.py OLD_ZOO_PY [SPECS_DIR]

OLD_ZOO_PY is a file holding the old `REFERENCE = {...}` dict (e.g. from `git show
REV:specc/zoo.py`). The rows' values are kept as they were: an int is an exact count.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from specc.lang import ast as A
from specc.tools.fmt import format_text
from specc.lang.parse import parse_module
from specc.core.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent


def old_rows(path: Path) -> dict:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "REFERENCE":
            return ast.literal_eval(node.value)
    raise SystemExit(f"{path}: no REFERENCE = {{...}}")


def section(row, indent: str) -> str:
    params, macs, source = row
    quoted = '"' + source.replace("\\", "\\\\").replace('"', '\\"') + '"'
    items = [f"source = {quoted}"]
    items += [f"params = {params:_}"] if params is not None else []
    items += [f"macs = {macs:_}"] if macs is not None else []
    body = "".join(f"\n{indent}    {i}" for i in items)
    return f"reference {{{body}\n{indent}}}"


def has_section(item) -> bool:
    if isinstance(item, A.NetworkPreset):
        return item.reference is not None
    return any(isinstance(s, A.StmtReference) for s in item.body)


def migrate_file(path: Path, rows: dict) -> list[str]:
    text = path.read_text()
    module = parse_module(SourceFile(str(path), text))
    lines = text.split("\n")
    edits = []  # (line, col, insertion), applied from the end
    done = []
    for item in module.items:
        if not isinstance(item, (A.NetworkDef, A.NetworkPreset)) or item.name not in rows \
                or has_section(item):
            continue
        s = item.span
        if isinstance(item, A.NetworkPreset):
            edits.append((s.end_line, s.end_col, " " + section(rows[item.name], "")))
        else:  # before the body's closing brace
            edits.append((s.end_line, s.end_col - 1, "\n    " + section(rows[item.name], "    ")
                          + "\n"))
        done.append(item.name)
    for line, col, insertion in sorted(edits, reverse=True):
        row = lines[line - 1]
        lines[line - 1] = row[:col - 1] + insertion + row[col - 1:]
    if done:
        new = "\n".join(lines)
        path.write_text(format_text(new, str(path)))
    return done


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    rows = old_rows(Path(argv[0]))
    specs = Path(argv[1]) if len(argv) > 1 else ROOT / "specs"
    moved = []
    for path in sorted(specs.glob("*.net")):
        names = migrate_file(path, rows)
        if names:
            print(f"{path.name}: {', '.join(names)}")
        moved += names
    print(f"{len(moved)} of {len(rows)} rows moved; the others already had a section or no "
          "network of that name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
