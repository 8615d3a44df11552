"""Hostile text for the text surfaces (the graph page, fmt, the language server): pieces that
end or re-open an HTML script element, break JavaScript strings, end lines in one counting and
not in another, or reorder what a terminal shows; and a spec that carries such text in every
place a spec can carry text."""
from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

PIECES = ["<", ">", "&", "!--", "<!--", "-->", "<script>", "</script>", "</SCRIPT ", "<script",
          "<!--<script>", "</style>", "\u2028", "\u2029", "'", '"', "\\", "`", "${x}", "]]>",
          "&lt;", "&amp;", "\x0c", "\r", "\x0b", "\x85", "\x1c", "\t", " ", "a", "\u00e9",
          "\U0001d11e", "\ufeff", "\u202e", "\x1b[31m", "*/", "/*", "%", "{", "}"]
LINE_BREAKS = ["\n", "\r\n", "\r", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
               "\u2029"]  # every character str.splitlines breaks at; only the first ends a line


def hostile_text(min_size: int = 1, max_size: int = 12):
    """Text (no line feed) built from the hostile pieces and any other characters."""
    piece = st.sampled_from(PIECES) | st.characters(blacklist_categories=("Cs",),
                                                    blacklist_characters="\n\x00")
    return st.lists(piece, min_size=min_size, max_size=max_size).map("".join)


def string_literal(text: str) -> str:
    """`text` as a one-line spec string (the language's escapes for backslash and quote)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_label(text: str) -> str:
    """`text` as a layer's label: printable characters other than '.', '"' and backslash."""
    return "".join(c for c in text if c.isprintable() and c not in '."\\') or "l"


def spec_with(comment: str, doc: str, source: str, reproduced: str, label: str = "h") -> str:
    """A small network whose comments, docstring, reference strings and a layer's label hold
    the given text (the docstring cannot hold three quotes; the reference's source must not
    be blank; the label keeps what a label may hold)."""
    doc = doc.replace('"""', "'''").replace("\n", " ")
    doc = doc + "." if doc.endswith('"') else doc
    return (f"specc 1  # {comment}\n"
            f"# {comment}\n"
            "network n {\n"
            f'    """{doc}"""\n'
            "    input x: f32[N, 4]  # " + comment + "\n"
            f"    h = linear(x, 3) as {string_literal(as_label(label))}  # " + comment + "\n"
            "    output y = relu(h)  # " + comment + "\n"
            f"    reference {{\n        source = {string_literal(source + 'x')}\n"
            f"        reproduced = {string_literal(reproduced + 'y')}\n    }}\n"
            "}\n")


def safe_name(text: str) -> str:
    """`text` as one path segment (no '/', no NUL, not '.' or '..', at most 100 bytes)."""
    name = text.replace("/", "_").replace("\x00", "_") or "_"
    while len(name.encode("utf-8", "surrogatepass")) > 100:
        name = name[:-1]
    return "_" + name if name in (".", "..") else name


def write_hostile(root: Path, comment: str, doc: str, source: str, reproduced: str,
                  folder: str, name: str, label: str = "h") -> Path:
    """The hostile spec written to root/<folder>/<name>.net; returns its path."""
    where = root / safe_name(folder)
    where.mkdir(parents=True, exist_ok=True)
    path = where / (safe_name(name) + ".net")
    path.write_bytes(spec_with(comment, doc, source, reproduced, label).encode("utf-8"))
    return path
