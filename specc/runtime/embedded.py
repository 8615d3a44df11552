"""The network an exported model carries, rebuilt from its metadata (its spec files, by
relative name, checked against their hash): `specc bench` and `specc run` need no spec file."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..compile.embed import sha256
from ..network import load


def load_embedded(meta: dict, max_params: int | None = None):
    """The Network an exported model was made from, rebuilt from its metadata; None when the
    model carries no spec (made by another tool, or by an older specc)."""
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
