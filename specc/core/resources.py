"""Files that ship inside the package: the grammar and the bundled specs.

In a wheel they sit in specc/_grammar and specc/_specs; in a source checkout (or an editable
install) they are the repository's grammar/ and specs/ folders."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # specc/
_ROOT = _PACKAGE.parent


def _dir(installed: str, source: str) -> Path:
    inside = _PACKAGE / installed
    return inside if inside.is_dir() else _ROOT / source


def grammar_path() -> Path:
    return _dir("_grammar", "grammar") / "specc.lark"


def specs_dir() -> Path:
    """The bundled spec library (`import "resnet.net"` finds files here)."""
    return _dir("_specs", "specs")
