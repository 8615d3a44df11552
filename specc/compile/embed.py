"""The spec inside an exported model: its text and the files it imports, by relative name.

An ONNX file carries the source of its network (metadata `specc.spec_files`), so `specc bench`
and `specc run` can rebuild the network from the model alone, from any folder. Names are the
entry file's own name and the import strings relative to it: no local path is stored, and the
same spec gives the same bytes wherever it is exported from."""
from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

from ..lang import ast as A
from ..elab.modules import resolve_import
from ..lang.parse import parse_module, read_source


def spec_files(entry: str | Path) -> dict[str, str]:
    """{name: text} for the entry file and every file it imports, recursively."""
    out: dict[str, str] = {}

    def visit(path: Path, name: str) -> None:
        if name in out:
            return
        source = read_source(path)
        out[name] = source.text
        for item in parse_module(source).items:
            if isinstance(item, A.Import):
                target = resolve_import(item.path, path.parent)
                stored = posixpath.normpath(posixpath.join(posixpath.dirname(name), item.path))
                if target is not None and not stored.startswith(("..", "/")):
                    visit(target, stored)

    visit(Path(entry), Path(entry).name)
    return out


def module_files(module) -> dict[str, str]:
    """spec_files of a loaded ModuleScope, from its sources and import strings: the same
    names and texts, without reading or parsing the files again."""
    out: dict[str, str] = {}

    def visit(scope, name: str) -> None:
        if name in out:
            return
        out[name] = scope.source.text
        for written, imported in zip(scope.import_names, scope.imports):
            stored = posixpath.normpath(posixpath.join(posixpath.dirname(name), written))
            if not stored.startswith(("..", "/")):
                visit(imported, stored)

    visit(module, Path(module.source.path).name)
    return out


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


