"""Files that ship inside the package: the grammar and the bundled specs."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _dir(package: str, fallback: str) -> Path:
    try:
        path = Path(str(resources.files(package)))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return _ROOT / fallback


def grammar_path() -> Path:
    return _dir("specc._grammar", "grammar") / "specc.lark"


def specs_dir() -> Path:
    """The bundled spec library (`import "resnet.net"` finds files here)."""
    return _dir("specc._specs", "specs")
