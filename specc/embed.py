"""The spec inside an exported model: its text and the files it imports, by relative name.

An ONNX file carries the source of its network (metadata `specc.spec_files`), so `specc bench`
and `specc run` can rebuild the network from the model alone, from any folder. Names are the
entry file's own name and the import strings relative to it: no local path is stored, and the
same spec gives the same bytes wherever it is exported from."""
from __future__ import annotations

import hashlib
import posixpath
import tempfile
from pathlib import Path

from . import ast as A
from .elab.modules import resolve_import
from .parse import parse_module, read_source


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


def load_embedded(meta: dict, max_params: int | None = None):
    """The Network an exported model was made from, rebuilt from its metadata; None when the
    model carries no spec (made by another tool, or by an older specc)."""
    from .network import load
    files, entry = meta.get("specc.spec_files"), meta.get("specc.spec")
    if not isinstance(files, dict) or entry not in files:
        return None
    if meta.get("specc.spec_sha256") not in (None, sha256(files[entry])):
        return None  # the text does not match its own hash: do not trust it
    with tempfile.TemporaryDirectory(prefix="specc-spec-") as tmp:
        root = Path(tmp)
        for name, text in files.items():
            target = (root / name).resolve()
            if root.resolve() not in target.parents:
                return None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        kwargs = {"max_params": max_params} if max_params else {}
        return load(root / entry, meta.get("specc.network"),
                    overrides=meta.get("specc.overrides") or None, **kwargs)
