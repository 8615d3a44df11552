"""`specc graph -o net.html`: one self-contained page that lays out and explores the network.

The page carries its data (the box tree of `model.py`) and the layout library (dagre, vendored
under `vendor/`); it fetches nothing when it is opened. Blocks are collapsible groups; opening
or closing one lays the graph out again in the page."""
from __future__ import annotations

import html
import json
import re
from importlib import resources

from .model import Model

_SLOTS = re.compile(r"__(TITLE|DATA|DAGRE)__")


def _asset(name: str) -> str:
    return resources.files("specc.tools.viewer").joinpath(name).read_text(encoding="utf-8")


def render(model: Model, expanded: list[str] | None = None) -> str:
    """The page; `expanded` lists the groups shown open at first."""
    data = model.to_json()
    data["expanded"] = expanded or []
    slots = {"TITLE": html.escape(f"{model.network} - specc graph"), "DATA": inline_json(data),
             "DAGRE": _asset("vendor/dagre.min.js")}
    return _SLOTS.sub(lambda m: slots[m.group(1)], _asset("viewer.html"))


_INLINE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def inline_json(data) -> str:
    """JSON that is safe inside a <script> element whatever its strings hold: '<', '>' and
    '&' are written as \\u escapes (so no `</script>`, `<!--` or `<script` can end or
    re-open the element: the HTML parser sees none of them), and every character outside
    ASCII too (U+2028 and U+2029, line ends to older JavaScript, among them). The same
    value comes back from JSON.parse."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).translate(_INLINE)


def open_to_depth(model: Model, depth: int) -> list[str]:
    """Groups whose nesting depth is below `depth` (0: all closed)."""
    parents = {b.id: b.parent for b in model.boxes}
    out = []
    for b in model.boxes:
        if b.kind != "group":
            continue
        level, p = 0, b.parent
        while p is not None:
            level, p = level + 1, parents[p]
        if level < depth:
            out.append(b.id)
    return out
